/* SPDX-License-Identifier: ISC */
/*
 * The event loop: one poll() over the signal pipe, the listening socket, the
 * fds modules registered (fetch and worker pipes, trace timers) and every
 * connection; module timers through the module table.  Each pass, in order:
 * signals, accept, watch callbacks (completions only queue replies), then
 * connection I/O (write the queued reply, or read and dispatch the next
 * frame), expiry, reaping.  Trusts nothing it polls: connections are
 * server.c's, watches their module's.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "daemon.h"
#include "log.h"
#include "module.h"
#include "server.h"

/* --- the signal pipe ---------------------------------------------------------- */

static int loop_sig_wfd = -1;

static void loop_sig_handler(int sig)
{
	int e = errno;
	unsigned char b = (unsigned char)sig;
	if (write(loop_sig_wfd, &b, 1) < 0) {
		/* pipe full: a signal of each kind is already queued */
	}
	errno = e;
}

void loop_signals_setup(struct daemon *d)
{
	struct sigaction sa;

	if (rp_pipe_cloexec(d->sigpipe, true) < 0)
		fatal("pipe");
	loop_sig_wfd = d->sigpipe[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = loop_sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
}

static int loop_signals(struct daemon *d)
{
	unsigned char b[16];
	ssize_t n;

	while ((n = read(d->sigpipe[0], b, sizeof(b))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] == SIGTERM || b[i] == SIGINT) {
				if (!d->stopping)
					log_info("signal %d: finishing replies and exiting", b[i]);
				d->stopping = true;
			} else if (b[i] == SIGHUP) {
				struct rp_err e;
				if (daemon_reload(d, NULL, 0, &e) < 0)
					log_warnx("SIGHUP: reload refused, keeping the running "
					          "config: %s",
					          e.msg);
			}
		}
	}
	return 0;
}

/* --- registered fd watches ------------------------------------------------- */

int daemon_watch_add(struct daemon *d, int fd, short events, watch_cb cb, void *arg)
{
	for (int i = 0; i < DAEMON_MAX_WATCH; i++) {
		if (d->watches[i].cb == NULL) {
			d->watches[i] = (struct watch){fd, events, cb, arg};
			return 0;
		}
	}
	return -1;
}

void daemon_watch_del(struct daemon *d, int fd)
{
	for (int i = 0; i < DAEMON_MAX_WATCH; i++)
		if (d->watches[i].cb != NULL && d->watches[i].fd == fd)
			memset(&d->watches[i], 0, sizeof(d->watches[i]));
}

int loop_run(struct daemon *d)
{
	struct pollfd *pfd = NULL;
	size_t cap = 0;

	while (!d->stopping || d->nconns > 0) {
		long long now = daemon_now_ms(), next = now + 1000;
		size_t n = 0, need = d->nconns + 2 + DAEMON_MAX_WATCH;
		int w_idx[DAEMON_MAX_WATCH];

		/* timers first: what they start or complete is polled in this pass */
		modules_tick(d, now, &next);
		if (need > cap) {
			struct pollfd *np = realloc(pfd, need * sizeof(*pfd));
			if (np == NULL)
				fatal("realloc");
			pfd = np;
			cap = need;
		}
		pfd[n++] = (struct pollfd){.fd = d->sigpipe[0], .events = POLLIN};
		pfd[n++] = (struct pollfd){
		    .fd = d->stopping || now < d->accept_paused_until_ms ? -1 : d->listen_fd,
		    .events = POLLIN};
		for (int i = 0; i < DAEMON_MAX_WATCH; i++) {
			w_idx[i] = -1;
			if (d->watches[i].cb != NULL) {
				w_idx[i] = (int)n;
				pfd[n++] = (struct pollfd){.fd = d->watches[i].fd,
				                           .events = d->watches[i].events};
			}
		}
		size_t cbase = n;
		for (size_t i = 0; i < d->nconns; i++)
			pfd[n++] = (struct pollfd){.fd = d->conns[i]->fd,
			                           .events = server_conn_events(d, d->conns[i])};
		int timeout = (int)(next - now);
		if (timeout < 0)
			timeout = 0;
		if (timeout > 250 && d->nconns > 0)
			timeout = 250;
		int r = poll(pfd, (nfds_t)n, timeout); /* nfds_t is 32 bits on macOS */
		if (r < 0 && errno != EINTR)
			fatal("poll");
		if (r > 0 && (pfd[0].revents & POLLIN) && loop_signals(d) < 0)
			break;
		if (r > 0 && (pfd[1].revents & POLLIN))
			server_accept(d);
		for (int i = 0; r > 0 && i < DAEMON_MAX_WATCH; i++) {
			if (w_idx[i] >= 0 && pfd[w_idx[i]].revents && d->watches[i].cb != NULL)
				d->watches[i].cb(d, d->watches[i].fd, pfd[w_idx[i]].revents,
				                 d->watches[i].arg);
		}
		for (size_t i = 0; r > 0 && i + cbase < n && i < d->nconns; i++) {
			if (pfd[cbase + i].fd == d->conns[i]->fd && pfd[cbase + i].revents)
				server_conn_io(d, d->conns[i], pfd[cbase + i].revents);
		}
		server_expire(d, daemon_now_ms());
		if (d->stopping) {
			/* finish replies already owed, drop everyone else */
			for (size_t i = 0; i < d->nconns; i++)
				if (d->conns[i]->wlen == 0 && !d->conns[i]->pending)
					d->conns[i]->dead = true;
		}
		server_reap(d);
		if (d->exit_after_flush && d->nconns == 0)
			break;
	}
	free(pfd);
	return 0;
}
