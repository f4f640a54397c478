/* SPDX-License-Identifier: ISC */
/*
 * The proxy's byte pump (proxy_pump.h).  Trusts neither peer: it copies
 * bytes, holds at most one chunk per direction, and closes on EOF of the
 * upstream, an error, or a timeout.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "proxy_pump.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: the proxy ignores SIGPIPE */
#endif

#define PUMP_ROUNDS 4 /* chunks per readable event before the loop runs others */

struct pump_dir {
	struct proxy_pump *p;
	int src, dst;
	struct event *rd, *wr; /* src readable, dst writable */
	int pipe[2];           /* -1 until the first byte; splice path */
	bool no_pipe;          /* splice unavailable: buffer path */
	size_t in_pipe;        /* bytes in the pipe, not yet written */
	char *buf;             /* buffer path, and bytes due before the pump started */
	size_t off, len, cap;
	bool discard;   /* read and drop (the client's bytes after a plain-HTTP request) */
	bool eof;       /* src has ended */
	bool waiting;   /* dst is full: src reads paused */
	time_t blocked; /* when waiting began */
	unsigned long long moved;
};

struct proxy_pump {
	struct event_base *base;
	int fd[2];            /* client, up */
	struct pump_dir d[2]; /* [0] client to up, [1] up to client */
	struct event *timer, *finish;
	struct pump_limits lim;
	time_t last_move, armed; /* armed: when the timer fires */
	bool finished;
	void (*done)(void *arg);
	void *arg;
};

static time_t pump_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static size_t pump_pending(const struct pump_dir *d)
{
	return (d->len - d->off) + d->in_pipe;
}

static void pump_finish(struct proxy_pump *p)
{
	if (p->finished)
		return;
	p->finished = true;
	for (int i = 0; i < 2; i++) {
		event_del(p->d[i].rd);
		event_del(p->d[i].wr);
	}
	event_del(p->timer);
	event_active(p->finish, EV_TIMEOUT, 0); /* done() runs from the loop, not from here */
}

/* The next deadline: idle for everyone, write for a direction that waits. */
static time_t pump_deadline(const struct proxy_pump *p)
{
	time_t t = p->last_move + p->lim.idle_s;

	for (int i = 0; i < 2; i++)
		if (p->d[i].waiting && p->d[i].blocked + p->lim.write_s < t)
			t = p->d[i].blocked + p->lim.write_s;
	return t;
}

static void pump_arm(struct proxy_pump *p, time_t now)
{
	time_t t = pump_deadline(p);
	struct timeval tv = {t > now ? t - now : 0, 0};

	p->armed = t;
	if (event_add(p->timer, &tv) < 0)
		pump_finish(p);
}

static void pump_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_pump *p = arg;
	time_t now = pump_now();

	if (pump_deadline(p) <= now)
		pump_finish(p); /* idle, or a peer that stopped reading */
	else
		pump_arm(p, now);
}

static void pump_finish_cb(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_pump *p = arg;

	p->done(p->arg);
}

/* The direction has nothing more to say: half-close its destination. */
static void pump_dir_ended(struct pump_dir *d)
{
	struct proxy_pump *p = d->p;

	if (d == &p->d[1]) {
		pump_finish(p); /* the upstream has answered and closed */
		return;
	}
	if (!d->discard)
		(void)shutdown(d->dst, SHUT_WR); /* a tunnel client that stopped sending */
}

/* Writes what is pending; on a full destination, pauses src until it drains. */
static void pump_flush(struct pump_dir *d)
{
	struct proxy_pump *p = d->p;
	ssize_t n;

	while (d->off < d->len) {
		n = send(d->dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto blocked;
		d->off += (size_t)n;
		d->moved += (unsigned long long)n;
	}
	d->off = d->len = 0;
	while (d->in_pipe > 0) {
		n = rp_splice(d->pipe[0], d->dst, d->in_pipe);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto blocked;
		d->in_pipe -= (size_t)n;
		d->moved += (unsigned long long)n;
	}
	if (d->waiting) {
		d->waiting = false;
		event_del(d->wr);
		if (!d->eof && event_add(d->rd, NULL) < 0)
			pump_finish(p);
	}
	if (d->eof)
		pump_dir_ended(d);
	return;
blocked:
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		pump_finish(p); /* the peer is gone or the socket failed */
		return;
	}
	if (!d->waiting) {
		time_t now = pump_now();
		d->waiting = true;
		d->blocked = now;
		event_del(d->rd);
		if (event_add(d->wr, NULL) < 0) {
			pump_finish(p);
			return;
		}
		if (now + p->lim.write_s < p->armed)
			pump_arm(p, now);
	}
}

/* Reads one chunk from src into the pipe or the buffer: >0, 0 at EOF, -1 with errno. */
static ssize_t pump_fill(struct pump_dir *d)
{
	ssize_t n;

	if (!d->no_pipe && !d->p->lim.no_splice) {
		if (d->pipe[0] < 0) {
			if (rp_pipe_cloexec(d->pipe, true) < 0) {
				d->pipe[0] = d->pipe[1] = -1;
				d->no_pipe = true; /* out of fds: copy instead */
			} else {
				rp_pipe_grow(d->pipe[1], PUMP_CHUNK);
			}
		}
		if (!d->no_pipe) {
			n = rp_splice(d->src, d->pipe[1], PUMP_CHUNK);
			if (n >= 0) {
				d->in_pipe = (size_t)n;
				return n;
			}
			if (errno != ENOSYS && errno != EINVAL)
				return -1;
			close(d->pipe[0]); /* no splice here (or for this socket): copy */
			close(d->pipe[1]);
			d->pipe[0] = d->pipe[1] = -1;
			d->no_pipe = true;
		}
	}
	if (d->buf == NULL || d->cap < PUMP_CHUNK) {
		char *nb = realloc(d->buf, PUMP_CHUNK);
		if (nb == NULL) {
			errno = ENOMEM;
			return -1;
		}
		d->buf = nb;
		d->cap = PUMP_CHUNK;
	}
	n = recv(d->src, d->buf, d->cap, 0);
	if (n > 0) {
		d->off = 0;
		d->len = (size_t)n;
	}
	return n;
}

static void pump_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pump_dir *d = arg;
	struct proxy_pump *p = d->p;
	char sink[16384];
	ssize_t n;

	for (int round = 0; round < PUMP_ROUNDS && !p->finished && !d->waiting; round++) {
		if (d->discard)
			n = recv(d->src, sink, sizeof(sink), 0);
		else
			n = pump_fill(d);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			pump_finish(p);
			return;
		}
		if (n == 0) {
			d->eof = true;
			event_del(d->rd);
			pump_flush(d);
			return;
		}
		if (!d->discard) { /* dropped bytes do not keep a connection alive */
			p->last_move = pump_now();
			pump_flush(d);
		}
	}
}

static void pump_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pump_dir *d = arg;

	d->p->last_move = pump_now();
	pump_flush(d);
}

static int pump_preload(struct pump_dir *d, const void *bytes, size_t len)
{
	if (len == 0)
		return 0;
	d->buf = malloc(len);
	if (d->buf == NULL)
		return -1;
	memcpy(d->buf, bytes, len);
	d->cap = d->len = len;
	return 0;
}

void pump_free(struct proxy_pump *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		struct pump_dir *d = &p->d[i];
		if (d->rd != NULL)
			event_free(d->rd);
		if (d->wr != NULL)
			event_free(d->wr);
		if (d->pipe[0] >= 0) {
			close(d->pipe[0]);
			close(d->pipe[1]);
		}
		free(d->buf);
	}
	if (p->timer != NULL)
		event_free(p->timer);
	if (p->finish != NULL)
		event_free(p->finish);
	for (int i = 0; i < 2; i++)
		if (p->fd[i] >= 0)
			close(p->fd[i]);
	free(p);
}

struct proxy_pump *pump_start(struct event_base *base, int client, int up, enum pump_mode mode,
                              const struct pump_limits *lim, const void *to_client,
                              size_t to_client_len, const void *to_up, size_t to_up_len,
                              void (*done)(void *arg), void *arg)
{
	struct proxy_pump *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->base = base;
	p->fd[0] = p->fd[1] = -1; /* the caller's until we cannot fail */
	p->lim = *lim;
	p->done = done;
	p->arg = arg;
	for (int i = 0; i < 2; i++) {
		struct pump_dir *d = &p->d[i];
		d->p = p;
		d->src = i == 0 ? client : up;
		d->dst = i == 0 ? up : client;
		d->pipe[0] = d->pipe[1] = -1;
		d->rd = event_new(base, d->src, EV_READ | EV_PERSIST, pump_read_cb, d);
		d->wr = event_new(base, d->dst, EV_WRITE | EV_PERSIST, pump_write_cb, d);
		if (d->rd == NULL || d->wr == NULL)
			goto fail;
	}
	p->d[0].discard = mode == PUMP_REPLY;
	p->timer = evtimer_new(base, pump_timer_cb, p);
	p->finish = event_new(base, -1, 0, pump_finish_cb, p);
	if (p->timer == NULL || p->finish == NULL)
		goto fail;
	if (pump_preload(&p->d[0], to_up, to_up_len) < 0 ||
	    pump_preload(&p->d[1], to_client, to_client_len) < 0)
		goto fail;
	p->fd[0] = client;
	p->fd[1] = up;
	p->last_move = pump_now();
	pump_arm(p, p->last_move);
	for (int i = 0; i < 2 && !p->finished; i++) {
		if (event_add(p->d[i].rd, NULL) < 0)
			pump_finish(p);
		else if (pump_pending(&p->d[i]) > 0)
			pump_flush(&p->d[i]);
	}
	return p;
fail:
	pump_free(p);
	return NULL;
}

unsigned long long pump_bytes_to_client(const struct proxy_pump *p)
{
	return p->d[1].moved;
}
