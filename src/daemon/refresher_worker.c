/* SPDX-License-Identifier: ISC */
/*
 * The refresher's verify/store worker: a forked child, still root (it writes
 * the DB), that runs refresh_apply() on the fetched bytes and sends its
 * outcome back on a pipe, so a 10,000-entry policy never stalls the event
 * loop and a crash while parsing untrusted bytes kills the worker, not the
 * daemon.  The worker's record is checked for its exact size and exit status
 * before anything in it is believed; strings are re-terminated.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"
#include "refresher.h"
#include "safefs.h"

static void refresher_worker_on_readable(struct daemon *d, int fd, short revents, void *arg);

/* Runs refresh_apply() in a forked worker; its outcome comes back on a pipe. */
int refresher_worker_start(struct daemon *d, const struct refresh_in *in, struct rp_err *err)
{
	struct policy_state *s = pst(d);
	int p[2];
	pid_t pid;

	if (rp_pipe_cloexec(p, false) < 0)
		return rp_seterr(err, "E_INTERNAL", "pipe: %s", strerror(errno));
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return rp_seterr(err, "E_INTERNAL", "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		struct apply_wire w;
		pid_t parent = getppid();
		/* dies with the daemon, as an inline write would (the store stays
		 * whole either way: temp file + rename; macOS: see compat.h) */
		if (rp_die_with_parent(parent) < 0)
			_exit(1);
		memset(&w, 0, sizeof(w));
		close(p[0]);
		w.ok = refresh_apply(in, &w.out, &w.err) == 0;
		_exit(safefs_write_all(p[1], &w, sizeof(w)) == 0 ? 0 : 1);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	if (daemon_watch_add(d, p[0], POLLIN, refresher_worker_on_readable, NULL) < 0) {
		/* cannot watch it: wait for it, bounded by the work itself */
		s->apply_fd = p[0];
		s->apply_pid = pid;
		s->apply_active = true;
		fcntl(p[0], F_SETFL, 0);
		refresher_worker_on_readable(d, p[0], POLLIN, NULL);
		return 0;
	}
	s->apply_fd = p[0];
	s->apply_pid = pid;
	s->apply_got = 0;
	s->apply_active = true;
	s->apply_deadline_ms = daemon_now_ms() + POLICY_APPLY_MAX_MS;
	return 0;
}

/* The worker answered (or died): record the outcome it reported. */
static void refresher_worker_on_readable(struct daemon *d, int fd, short revents, void *arg)
{
	struct policy_state *s = pst(d);
	int status = 0;
	ssize_t n;
	(void)arg;
	(void)revents;

	while (s->apply_got < sizeof(s->apply_msg)) {
		n = read(fd, (char *)&s->apply_msg + s->apply_got,
		         sizeof(s->apply_msg) - s->apply_got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* more to come */
		if (n <= 0)
			break;
		s->apply_got += (size_t)n;
	}
	daemon_watch_del(d, fd);
	close(fd);
	while (waitpid(s->apply_pid, &status, 0) < 0 && errno == EINTR)
		;
	s->apply_active = false;
	if (s->apply_got == sizeof(s->apply_msg) && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		struct apply_wire *w = &s->apply_msg;
		w->out.message[sizeof(w->out.message) - 1] = '\0';
		w->err.code[sizeof(w->err.code) - 1] = '\0';
		w->err.msg[sizeof(w->err.msg) - 1] = '\0';
		pst(d)->record(d, &w->out, w->ok != 0, &w->err);
	} else {
		struct refresh_out out = {.outcome = REFRESH_FAILED};
		struct rp_err e;
		rp_seterr(&e, "E_INTERNAL", "the verify/store worker died (%s %d)",
		          WIFSIGNALED(status) ? "signal" : "status",
		          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		snprintf(out.message, sizeof(out.message), "failed: %s; last good policy kept",
		         e.msg);
		pst(d)->record(d, &out, false, &e);
	}
}

void refresher_worker_kill(struct daemon *d)
{
	struct policy_state *s = pst(d);

	/* wedged (stuck I/O?): kill it; the store stays whole (temp+rename) */
	kill(s->apply_pid, SIGKILL);
	s->apply_got = 0; /* recorded as a dead worker */
	refresher_worker_on_readable(d, s->apply_fd, POLLIN, NULL);
}

void refresher_worker_wait(struct daemon *d)
{
	struct policy_state *s = pst(d);
	int st;

	if (!s->apply_active)
		return;
	close(s->apply_fd);
	while (waitpid(s->apply_pid, &st, 0) < 0 && errno == EINTR)
		;
}
