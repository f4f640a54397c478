/* SPDX-License-Identifier: ISC */
/*
 * The connection side of rampartd: one listening UNIX socket, non-blocking
 * connections, read and write (the poll loop that drives them is loop.c).  Everything a client
 * sends is untrusted: frames are length-checked before buffering, peer credentials are fixed at
 * accept (no credentials, no connection), and a misbehaving client only ever costs its own
 * connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "compat.h"
#include "daemon.h"
#include "dispatch.h"
#include "fdpass.h"
#include "frame.h"
#include "jsonout.h"
#include "log.h"
#include "slots.h"
#include "reply.h"
#include "server.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* --- listening socket ------------------------------------------------------ */

/* systemd socket activation: LISTEN_PID == us, LISTEN_FDS == 1, fd 3. */
static int server_from_systemd(struct daemon *d, struct rp_err *err)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int type = 0, listening = 0;
	socklen_t sl = sizeof(type);
	struct sockaddr_un sa;
	socklen_t al = sizeof(sa);

	if (pid == NULL || fds == NULL || atol(pid) != (long)getpid())
		return 0;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "1") != 0)
		return rp_seterr(err, "E_SOCKET", "LISTEN_FDS=%s: expected exactly one socket",
		                 fds);
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &sl) < 0 || type != SOCK_STREAM ||
	    getsockname(3, (struct sockaddr *)&sa, &al) < 0 || sa.sun_family != AF_UNIX)
		return rp_seterr(err, "E_SOCKET",
		                 "fd 3 from socket activation is not a UNIX "
		                 "stream socket");
	sl = sizeof(listening);
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &sl) < 0 || !listening)
		return rp_seterr(err, "E_SOCKET", "fd 3 from socket activation is not listening");
	fcntl(3, F_SETFD, FD_CLOEXEC);
	d->listen_fd = 3;
	d->own_socket = false;
	log_info("using socket from systemd socket activation");
	return 1;
}

/* launchd: the plist's Sockets key "Listeners" (compat.c; macOS only). */
static int server_from_launchd(struct daemon *d, struct rp_err *err)
{
	size_t n = 0;
	int fd = -1;
	int r = rp_launchd_socket("Listeners", &fd, &n);

	if (r < 0)
		return rp_seterr(err, "E_SOCKET", "launchd passed %zu sockets, expected 1", n);
	if (r == 0)
		return 0;
	d->listen_fd = fd;
	d->own_socket = false;
	log_info("using socket from launchd");
	return 1;
}

/* Refuses a socket directory others could write to (they could swap the path). */
static int server_check_dir(const char *path, struct rp_err *err)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *slash;

	rp_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		return rp_seterr(err, "E_SOCKET", "socket path %s must be absolute", path);
	*(slash == dir ? slash + 1 : slash) = '\0';
	if (stat(dir, &st) < 0)
		return rp_seterr(err, "E_SOCKET", "socket directory %s: %s", dir, strerror(errno));
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return rp_seterr(err, "E_SOCKET",
		                 "socket directory %s is writable by others without the sticky "
		                 "bit; refusing",
		                 dir);
	return 0;
}

/* Existing path: only a dead socket may be replaced. */
static int server_check_stale(const char *path, struct rp_err *err)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT
		           ? 0
		           : rp_seterr(err, "E_SOCKET", "%s: %s", path, strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return rp_seterr(err, "E_SOCKET",
		                 "%s exists and is not a socket; refusing to replace it", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	rp_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = rp_socket_cloexec(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return rp_seterr(err, "E_SOCKET", "socket: %s", strerror(errno));
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0)
		return rp_seterr(err, "E_SOCKET", "another rampartd is already serving %s", path);
	return 0;
}

/* Binds under a temp name, sets the mode, then renames: no window with a wrong mode. */
static int server_create(struct daemon *d, struct rp_err *err)
{
	const char *path = d->cfg.socket_path;
	struct sockaddr_un sun;
	char tmp[sizeof(sun.sun_path)];
	int fd = -1;

	if (server_check_dir(path, err) < 0 || server_check_stale(path, err) < 0)
		return -1;
	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp))
		return rp_seterr(err, "E_SOCKET", "socket path %s is too long", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	rp_strlcpy(sun.sun_path, tmp, sizeof(sun.sun_path));
	unlink(tmp);
	if ((fd = rp_socket_cloexec(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(tmp, 0666) < 0 ||
	    listen(fd, SOMAXCONN) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return rp_seterr(err, "E_SOCKET", "cannot create socket %s: %s", path, strerror(e));
	}
	d->listen_fd = fd;
	d->own_socket = true;
	return 0;
}

int server_listen(struct daemon *d, struct rp_err *err)
{
	int r = server_from_systemd(d, err);

	if (r == 0)
		r = server_from_launchd(d, err);
	if (r < 0)
		return -1;
	if (r == 0 && server_create(d, err) < 0)
		return -1;
	if (set_nonblock(d->listen_fd) < 0)
		return rp_seterr(err, "E_SOCKET", "fcntl: %s", strerror(errno));
	return 0;
}

/* --- connections ---------------------------------------------------------- */

/* Peer credentials, fixed now.  Returns -1 if they cannot be read: fail closed. */
static int conn_peercred(struct conn *c)
{
	struct rp_peer_creds pc;

	if (rp_peer_creds(c->fd, &pc) < 0)
		return -1;
	c->peer.uid = pc.uid;
	c->peer.gid = pc.gid;
	c->peer.pid = pc.pid;
	c->ngroups = pc.ngroups;
	if (pc.ngroups > 0)
		memcpy(c->groups, pc.groups, (size_t)pc.ngroups * sizeof(gid_t));
	return 0;
}

static void conn_free(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->in_fd >= 0)
		close(c->in_fd);
	if (c->out_fd >= 0)
		close(c->out_fd);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

void server_accept(struct daemon *d)
{
	for (int k = 0; k < 256; k++) {
		struct conn *c;
		int fd = rp_accept_cloexec_nonblock(d->listen_fd);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* out of fds: the listen socket stays readable, so pause it
				 * instead of spinning; idle connections expire meanwhile */
				if (d->accept_paused_until_ms == 0)
					log_warn("accept (pausing for 100 ms)");
				d->accept_paused_until_ms = daemon_now_ms() + 100;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				log_warn("accept");
			}
			return;
		}
		d->accept_paused_until_ms = 0;
		c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->in_fd = c->out_fd = -1;
		c->ngroups = -1;
		c->id = ++d->next_conn_id;
		c->last_ms = daemon_now_ms();
		if (conn_peercred(c) < 0) {
			log_warnx("closing connection: peer credentials unavailable");
			conn_free(c);
			continue;
		}
#ifdef SO_NOSIGPIPE
		{
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
		}
#endif
		if (!slots_admit(d, c)) {
			/* Best effort: tell the client why, then drop it. */
			d->refused_busy++;
			reply_error(c, NULL, "E_BUSY", "too many connections; try again later");
			if (c->wbuf)
				(void)send(fd, c->wbuf, c->wlen, MSG_NOSIGNAL | MSG_DONTWAIT);
			conn_free(c);
			continue;
		}
		if (d->nconns == d->capconns) {
			size_t nc = d->capconns ? d->capconns * 2 : 64;
			struct conn **n = realloc(d->conns, nc * sizeof(*n));
			if (n == NULL) {
				conn_free(c);
				return;
			}
			d->conns = n;
			d->capconns = nc;
		}
		d->conns[d->nconns++] = c;
		d->accepted++;
	}
}

static void conn_write(struct daemon *d, struct conn *c);

/* Handles every whole frame already buffered (one at a time: replies are in order). */
static void conn_process(struct daemon *d, struct conn *c)
{
	while (!c->dead && !c->pending && c->wlen == 0 && !c->close_after_write) {
		size_t off, plen, total;
		struct rp_err e;
		int r = frame_decode(c->rbuf, c->rlen, (size_t)d->cfg.limits.max_frame, &off, &plen,
		                     &total, &e);
		if (r == 0)
			return;
		if (r < 0) {
			reply_error(c, NULL, e.code, e.msg);
			c->close_after_write = true;
			return;
		}
		server_dispatch(d, c, c->rbuf + off, plen);
		memmove(c->rbuf, c->rbuf + total, c->rlen - total);
		c->rlen -= total;
		c->frame_start_ms = c->rlen ? daemon_now_ms() : 0;
	}
}

static void conn_read(struct daemon *d, struct conn *c)
{
	size_t cap = FRAME_HDR + (size_t)d->cfg.limits.max_frame;
	int fd = -1;
	ssize_t n;

	if (c->rbuf == NULL) {
		c->rbuf = malloc(cap);
		c->rcap = cap;
		if (c->rbuf == NULL) {
			c->dead = true;
			return;
		}
	}
	if (c->rlen >= c->rcap) {
		c->dead = true;
		return;
	}
	n = fdpass_recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, &fd);
	if (n < 0) {
		if (errno == EBADMSG) {
			reply_error(c, NULL, "E_PROTO", "bad control message (one fd at most)");
			c->close_after_write = true;
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			c->dead = true;
		}
		return;
	}
	if (n == 0) {
		c->dead = true;
		return;
	}
	if (fd >= 0) {
		if (c->in_fd >= 0) {
			close(fd);
			reply_error(c, NULL, "E_PROTO", "more than one fd for one request");
			c->close_after_write = true;
			return;
		}
		c->in_fd = fd;
	}
	if (c->rlen == 0)
		c->frame_start_ms = daemon_now_ms();
	c->rlen += (size_t)n;
	c->last_ms = daemon_now_ms();
	conn_process(d, c);
	if (c->wlen > c->woff && !c->dead)
		conn_write(d, c); /* usually completes now: saves a poll() round trip */
}

static void conn_write(struct daemon *d, struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = fdpass_send(c->fd, c->wbuf + c->woff, c->wlen - c->woff,
		                        c->woff == 0 ? c->out_fd : -1);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			return;
		}
		if (c->out_fd >= 0) {
			close(c->out_fd);
			c->out_fd = -1;
		}
		c->woff += (size_t)n;
		c->last_ms = daemon_now_ms();
	}
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = c->woff = 0;
	if (c->close_after_write) {
		c->dead = true;
		return;
	}
	conn_process(d, c);
}

static struct conn *conn_find(struct daemon *d, uint64_t id)
{
	for (size_t i = 0; i < d->nconns; i++)
		if (d->conns[i]->id == id && !d->conns[i]->dead)
			return d->conns[i];
	return NULL;
}

/*
 * Queues the reply an OP_PENDING handler owes, and nothing else: the loop
 * writes it on its next pass and only then reads the connection's next frame
 * (s6-fdholderd's order).  Never writes or dispatches from here, so a
 * completion cannot run a pipelined request inside its caller's loop.
 */
void server_complete(struct daemon *d, uint64_t conn_id, json_t *req_id, json_t *result,
                     const struct rp_err *err)
{
	struct conn *c = conn_find(d, conn_id);

	if (c == NULL || !c->pending) /* the client went away meanwhile */
		return;
	c->pending = false;
	if (result != NULL)
		reply_ok(c, req_id, result);
	else
		reply_error(c, req_id, err->code, err->msg);
}

/* What the loop polls this connection for: the queued reply, else the next frame. */
short server_conn_events(const struct daemon *d, const struct conn *c)
{
	if (c->wlen > c->woff)
		return POLLOUT;
	if (!c->pending && !c->close_after_write && !d->stopping)
		return POLLIN;
	return 0;
}

void server_conn_io(struct daemon *d, struct conn *c, short revents)
{
	if (c->dead)
		return;
	if (revents & POLLOUT)
		conn_write(d, c);
	else if (revents & POLLIN)
		conn_read(d, c);
	else if (revents & (POLLHUP | POLLERR | POLLNVAL))
		c->dead = true;
}

/* Drops connections idle too long, or too slow to finish a frame (slowloris). */
void server_expire(struct daemon *d, long long now)
{
	long long idle = d->cfg.limits.idle_timeout_ms;
	for (size_t i = 0; i < d->nconns; i++) {
		struct conn *c = d->conns[i];
		if (c->pending || c->dead)
			continue;
		if (now - c->last_ms > idle ||
		    (c->frame_start_ms && now - c->frame_start_ms > idle)) {
			c->dead = true;
			d->dropped_idle++;
		}
	}
}

void server_reap(struct daemon *d)
{
	size_t j = 0;
	for (size_t i = 0; i < d->nconns; i++) {
		if (d->conns[i]->dead)
			conn_free(d->conns[i]);
		else
			d->conns[j++] = d->conns[i];
	}
	d->nconns = j;
}

void server_shutdown(struct daemon *d)
{
	for (size_t i = 0; i < d->nconns; i++)
		conn_free(d->conns[i]);
	free(d->conns);
	d->conns = NULL;
	d->nconns = d->capconns = 0;
	slots_fini(d);
	audit_flush(d);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	d->listen_fd = -1;
	if (d->own_socket) {
		struct stat st;
		/* remove it only if it is still a socket (ours) */
		if (lstat(d->cfg.socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(d->cfg.socket_path);
	}
}
