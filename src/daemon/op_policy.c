/* SPDX-License-Identifier: ISC */
/*
 * The policy side of rampartd: scheduled and on-demand refreshes (fetch in an
 * unprivileged child, verify and store here as root), and the read ops
 * policy.check and policy.show.  The fetched bytes are untrusted until
 * refresh_apply() has verified them; a failure of any kind keeps the last
 * good policy and is recorded for status.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "daemon.h"
#include "fetch.h"
#include "log.h"
#include "op_handlers.h"
#include "policy_payload.h"
#include "rampart/policy.h"
#include "refresh.h"
#include "store.h"

#define POLICY_MAX_WAITERS 32
#define POLICY_MAX_BATCH 256
#define POLICY_SHOW_MAX 100
#define POLICY_BACKOFF_BASE_MS 10000LL
#define POLICY_APPLY_MAX_MS 120000LL /* verify + store of the largest policy: ~0.2 s */

struct policy_waiter {
	uint64_t conn_id;
	json_t *req_id;
};

struct policy_state {
	struct trust_set trust;
	char trust_err[512];
	bool trust_ok;
	struct rampart_policy *h;
	struct fetch_job job;
	bool job_active;
	/* the verify + store worker: a forked child (still root: it writes the DB)
	 * so a 10,000-entry policy never stalls the event loop, and a crash while
	 * parsing untrusted bytes takes down the worker, not the daemon */
	bool apply_active;
	long long apply_deadline_ms;
	long long reopen_after_ms;
	long long recheck_after_ms;
	pid_t apply_pid;
	int apply_fd;
	size_t apply_got;
	struct apply_wire {
		int ok;
		struct refresh_out out;
		struct rp_err err;
	} apply_msg;
	long long job_started_ms;
	int64_t job_now; /* wall clock read once at the start of the update */
	struct policy_waiter waiters[POLICY_MAX_WAITERS];
	int nwaiters;
	long long next_ms; /* 0: no scheduled refresh */
	int failures;
	char last_outcome[700];
	char last_error[700];
	int64_t last_error_at, last_attempt_at, last_success_at;
	uint64_t refreshes;
	long long last_duration_ms, max_duration_ms;
	unsigned last_fetch_requests;       /* of the last fetch that got an answer */
	unsigned long long last_fetch_bytes; /* header + body bytes it received */
	/* policy.show cache: the whole store, reloaded only when the file changes,
	 * so any user asking for it cannot make the daemon re-read 10,000 rows
	 * per request */
	bool show_valid;
	struct store_stat show_st;
	struct policy show_p;
	struct store_meta show_m;
};

static struct policy_state *pst(struct daemon *d)
{
	return d->policy;
}

static void policy_load_trust(struct daemon *d)
{
	struct policy_state *s = pst(d);
	struct rp_err e;

	keys_trust_free(&s->trust);
	keys_trust_init(&s->trust);
	s->trust_ok = false;
	s->trust_err[0] = '\0';
	for (int i = 0; i < d->cfg.policy.n_keys; i++) {
		if (keys_trust_add_file(&s->trust, d->cfg.policy.keys[i], KEYS_CHECK_OWNER, &e) < 0) {
			snprintf(s->trust_err, sizeof(s->trust_err), "%s", e.msg);
			log_warnx("trusted keys: %s", e.msg);
			return;
		}
	}
	if (d->cfg.policy.n_keys == 0)
		return;
	if (keys_trust_set_threshold(&s->trust, d->cfg.policy.threshold, &e) < 0) {
		snprintf(s->trust_err, sizeof(s->trust_err), "%s", e.msg);
		log_warnx("trusted keys: %s", e.msg);
		return;
	}
	s->trust_ok = true;
}

static void policy_open_reader(struct daemon *d)
{
	struct policy_state *s = pst(d);
	char eb[512];

	rampart_policy_close(s->h);
	s->h = NULL;
	if (rampart_policy_open(d->cfg.db_path,
				RAMPART_POLICY_MANUAL_RELOAD |
				    (d->cfg.policy.allow_when_no_policy
					 ? RAMPART_POLICY_ALLOW_WHEN_NO_POLICY
					 : 0),
				&s->h, eb, sizeof(eb)) < 0)
		log_warnx("policy reader: %s", eb);
}

static long long policy_jitter_ms(const struct config *c)
{
	static bool seeded;

	if (!seeded) { /* jitter must differ between machines, or they all poll at once */
		unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
		FILE *f = fopen("/dev/urandom", "re");
		if (f != NULL) {
			if (fread(&seed, sizeof(seed), 1, f) != 1)
				seed ^= (unsigned)daemon_now_ms();
			fclose(f);
		}
		srandom(seed);
		seeded = true;
	}
	return c->policy.jitter_s > 0 ? (long long)(random() % (c->policy.jitter_s * 1000L)) : 0;
}

static void policy_schedule(struct daemon *d, bool failed)
{
	struct policy_state *s = pst(d);
	long long interval = (long long)d->cfg.policy.refresh_interval_s * 1000, delay;

	if (d->cfg.policy.url[0] == '\0' || interval == 0) {
		s->next_ms = 0;
		return;
	}
	if (failed) {
		int k = s->failures < 16 ? s->failures : 16;
		delay = POLICY_BACKOFF_BASE_MS << (k > 0 ? k - 1 : 0);
		if (delay > interval)
			delay = interval;
	} else {
		delay = interval;
	}
	s->next_ms = daemon_now_ms() + delay + policy_jitter_ms(&d->cfg);
}

void policy_module_reload(struct daemon *d)
{
	policy_load_trust(d);
	policy_open_reader(d);
	policy_schedule(d, false);
}

void policy_module_init(struct daemon *d)
{
	struct policy_state *s = calloc(1, sizeof(*s));
	struct rp_err e;
	int n;

	if (s == NULL)
		fatal("calloc");
	d->policy = s;
	fetch_job_init(&s->job);
	keys_trust_init(&s->trust);
	if ((n = store_clean_temps(d->cfg.db_path, &e)) > 0)
		log_warnx("removed %d leftover temp file(s) next to %s", n, d->cfg.db_path);
	policy_module_reload(d);
	if (d->cfg.policy.url[0] && d->cfg.policy.refresh_on_start)
		s->next_ms = daemon_now_ms();
}

static void policy_reply_waiters(struct daemon *d, json_t *result, const struct rp_err *err)
{
	struct policy_state *s = pst(d);

	for (int i = 0; i < s->nwaiters; i++) {
		server_complete(d, s->waiters[i].conn_id, s->waiters[i].req_id, result, err);
		json_decref(s->waiters[i].req_id);
	}
	s->nwaiters = 0;
}

static void policy_record(struct daemon *d, const struct refresh_out *out, bool ok,
			  const struct rp_err *err)
{
	struct policy_state *s = pst(d);
	json_t *res;

	s->last_duration_ms = daemon_now_ms() - s->job_started_ms;
	if (s->last_duration_ms > s->max_duration_ms)
		s->max_duration_ms = s->last_duration_ms;
	s->refreshes++;
	rp_strlcpy(s->last_outcome, out->message, sizeof(s->last_outcome));
	if (ok) {
		s->failures = 0;
		s->last_success_at = s->job_now;
	} else {
		s->failures++;
		s->last_error_at = s->job_now;
		rp_strlcpy(s->last_error, out->message, sizeof(s->last_error));
	}
	/* the daemon is the writer: it moves its reader to the new file here, so a
	 * batch of checks is always answered from one policy */
	rampart_policy_reload(s->h);
	log_info("policy refresh: %s", out->message);
	audit_log(d, "policy.refresh", &(struct peer){0, 0, (pid_t)0},
		  refresh_outcome_name(out->outcome), ok ? "" : err->code, out->message);
	policy_schedule(d, !ok);
	res = json_pack("{s:s, s:s, s:I, s:I, s:I}", "outcome", refresh_outcome_name(out->outcome),
			"message", out->message, "old_version", (json_int_t)out->old_version,
			"new_version", (json_int_t)out->new_version, "duration_ms",
			(json_int_t)s->last_duration_ms);
	if (ok) {
		policy_reply_waiters(d, res, NULL);
	} else {
		struct rp_err e2;
		rp_seterr(&e2, err->code, "%s", out->message);
		policy_reply_waiters(d, NULL, &e2);
	}
	json_decref(res);
}

static void policy_on_apply(struct daemon *d, int fd, short revents, void *arg);

/* Runs refresh_apply() in a forked worker; its outcome comes back on a pipe. */
static int policy_apply_start(struct daemon *d, const struct refresh_in *in, struct rp_err *err)
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
		size_t off = 0;
		pid_t parent = getppid();
		/* dies with the daemon, as an inline write would (the store stays
		 * whole either way: temp file + rename; macOS: see compat.h) */
		if (rp_die_with_parent(parent) < 0)
			_exit(1);
		memset(&w, 0, sizeof(w));
		close(p[0]);
		w.ok = refresh_apply(in, &w.out, &w.err) == 0;
		while (off < sizeof(w)) {
			ssize_t n = write(p[1], (char *)&w + off, sizeof(w) - off);
			if (n <= 0 && errno != EINTR)
				_exit(1);
			off += n > 0 ? (size_t)n : 0;
		}
		_exit(0);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	if (daemon_watch_add(d, p[0], POLLIN, policy_on_apply, NULL) < 0) {
		/* cannot watch it: wait for it, bounded by the work itself */
		s->apply_fd = p[0];
		s->apply_pid = pid;
		s->apply_active = true;
		fcntl(p[0], F_SETFL, 0);
		policy_on_apply(d, p[0], POLLIN, NULL);
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
static void policy_on_apply(struct daemon *d, int fd, short revents, void *arg)
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
	if (s->apply_got == sizeof(s->apply_msg) && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) {
		struct apply_wire *w = &s->apply_msg;
		w->out.message[sizeof(w->out.message) - 1] = '\0';
		w->err.code[sizeof(w->err.code) - 1] = '\0';
		w->err.msg[sizeof(w->err.msg) - 1] = '\0';
		policy_record(d, &w->out, w->ok != 0, &w->err);
	} else {
		struct refresh_out out = {.outcome = REFRESH_FAILED};
		struct rp_err e;
		rp_seterr(&e, "E_INTERNAL", "the verify/store worker died (%s %d)",
			  WIFSIGNALED(status) ? "signal" : "status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		snprintf(out.message, sizeof(out.message), "failed: %s; last good policy kept",
			 e.msg);
		policy_record(d, &out, false, &e);
	}
}

/* The fetch child has finished: verify and store, as root, in a worker. */
static void policy_fetch_done(struct daemon *d)
{
	struct policy_state *s = pst(d);
	struct fetch_result fr;
	struct refresh_out out;
	struct rp_err e;
	int ok;

	memset(&fr, 0, sizeof(fr));
	memset(&out, 0, sizeof(out));
	daemon_watch_del(d, s->job.fd);
	ok = fetch_finish(&s->job, &fr, &e) == 0;
	s->job_active = false;
	if (ok) {
		s->last_fetch_requests = fr.requests;
		s->last_fetch_bytes = fr.bytes_in;
	}
	if (!ok) {
		out.outcome = REFRESH_FAILED;
		snprintf(out.message, sizeof(out.message), "failed: %s; last good policy kept",
			 e.msg);
		policy_record(d, &out, false, &e);
	} else if (fr.status == FETCH_NOT_MODIFIED) {
		out.outcome = REFRESH_UNCHANGED;
		snprintf(out.message, sizeof(out.message), "%s",
			 fr.http_code == 304 ? "unchanged (HTTP 304 Not Modified)"
					     : "unchanged (same manifest digest)");
		policy_record(d, &out, true, NULL);
	} else {
		struct refresh_in in = {.envelope = fr.body, .len = fr.body_len,
					.max_bytes = (size_t)d->cfg.policy.max_bytes,
					.trust = &s->trust, .org = d->cfg.policy.org,
					.now = s->job_now, .db_path = d->cfg.db_path,
					.source = d->cfg.policy.url, .etag = fr.etag};
		if (policy_apply_start(d, &in, &e) < 0) {
			/* no worker: do it here rather than not at all */
			ok = refresh_apply(&in, &out, &e) == 0;
			policy_record(d, &out, ok, &e);
		}
	}
	fetch_result_free(&fr);
}

static void policy_on_fetch(struct daemon *d, int fd, short revents, void *arg)
{
	struct policy_state *s = pst(d);
	(void)fd;
	(void)arg;
	(void)revents;
	if (fetch_on_readable(&s->job) != 0)
		policy_fetch_done(d);
}

static char *policy_stored_etag(struct daemon *d)
{
	struct policy p;
	struct store_meta m;
	struct rp_err e;
	char *etag = NULL;

	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	if (store_load_meta(d->cfg.db_path, &p, &m, &e) == 0 && m.etag && *m.etag)
		etag = strdup(m.etag);
	policy_free(&p);
	store_meta_free(&m);
	return etag;
}

static int policy_start_fetch(struct daemon *d, struct rp_err *err)
{
	struct policy_state *s = pst(d);
	const struct config *c = &d->cfg;
	char *etag;
	struct fetch_opts o;
	int rc;

	if (c->policy.url[0] == '\0')
		return rp_seterr(err, "E_NO_SOURCE",
				 "no policy.url is configured, so there is nothing to refresh from; "
				 "set policy.url in rampartd.json and run 'rampart reload'");
	if (!s->trust_ok)
		return rp_seterr(err, "E_KEYS",
				 "trusted keys unusable: %s; nothing was fetched (fix policy.keys in "
				 "rampartd.json and run 'rampart reload')",
				 s->trust_err[0] ? s->trust_err : "policy.keys is empty");
	etag = policy_stored_etag(d);
	memset(&o, 0, sizeof(o));
	o.url = c->policy.url;
	o.etag = etag;
	o.ca_file = c->policy.ca_file[0] ? c->policy.ca_file : NULL;
	o.pinned_pubkey = c->policy.pinned_pubkey[0] ? c->policy.pinned_pubkey : NULL;
	o.proxy = c->policy.proxy[0] ? c->policy.proxy : NULL;
	o.user = c->policy.fetch_user;
	o.fetch_helper = c->policy.fetch_helper[0] ? c->policy.fetch_helper : NULL;
	o.max_bytes = (size_t)c->policy.max_bytes;
	o.connect_timeout_ms = c->policy.connect_timeout_s * 1000L;
	o.total_timeout_ms = c->policy.total_timeout_s * 1000L;
	o.low_speed_bytes = c->policy.low_speed_bytes > 0 ? c->policy.low_speed_bytes : -1;
	o.low_speed_time_s = c->policy.low_speed_time_s;
	o.allow_insecure_loopback = c->policy.allow_insecure_loopback;
	o.registry_credentials = c->policy.registry_credentials[0] ? c->policy.registry_credentials : NULL;
	o.blob_redirect_hosts = c->policy.blob_redirect_hosts[0] ? c->policy.blob_redirect_hosts : NULL;
	s->job_now = (int64_t)time(NULL);
	s->last_attempt_at = s->job_now;
	s->job_started_ms = daemon_now_ms();
	rc = fetch_start(&o, &s->job, err);
	free(etag);
	if (rc < 0)
		return -1;
	if (daemon_watch_add(d, s->job.fd, POLLIN, policy_on_fetch, NULL) < 0) {
		fetch_abort(&s->job);
		return rp_seterr(err, "E_INTERNAL", "no room to watch the fetch");
	}
	s->job_active = true;
	return 0;
}

void policy_module_tick(struct daemon *d, long long now_ms, long long *next_ms)
{
	struct policy_state *s = pst(d);
	struct rp_err e;

	if (s == NULL)
		return;
	if (s->apply_active) { /* the worker is verifying and storing */
		if (now_ms >= s->apply_deadline_ms) {
			/* wedged (stuck I/O?): kill it; the store stays whole (temp+rename) */
			kill(s->apply_pid, SIGKILL);
			s->apply_got = 0; /* recorded as a dead worker */
			policy_on_apply(d, s->apply_fd, POLLIN, NULL);
		} else if (s->apply_deadline_ms < *next_ms) {
			*next_ms = s->apply_deadline_ms;
		}
		return;
	}
	if (s->job_active) {
		if (fetch_timeout_ms(&s->job) == 0) {
			struct refresh_out out = {.outcome = REFRESH_FAILED};
			daemon_watch_del(d, s->job.fd);
			fetch_abort(&s->job);
			s->job_active = false;
			rp_seterr(&e, "E_FETCH_TIMEOUT",
				  "the fetch did not finish within policy.total_timeout_s");
			snprintf(out.message, sizeof(out.message), "failed: %s; last good policy kept",
				 e.msg);
			policy_record(d, &out, false, &e);
		} else if (now_ms + fetch_timeout_ms(&s->job) < *next_ms) {
			*next_ms = now_ms + fetch_timeout_ms(&s->job);
		}
		return;
	}
	if (s->next_ms == 0)
		return;
	if (now_ms >= s->next_ms) {
		if (policy_start_fetch(d, &e) < 0) {
			struct refresh_out out = {.outcome = REFRESH_FAILED};
			s->job_started_ms = now_ms;
			snprintf(out.message, sizeof(out.message), "failed: %s; last good policy kept",
				 e.msg);
			policy_record(d, &out, false, &e);
		}
		return;
	}
	if (s->next_ms < *next_ms)
		*next_ms = s->next_ms;
}

void policy_module_fini(struct daemon *d)
{
	struct policy_state *s = pst(d);

	if (s == NULL)
		return;
	if (s->job_active)
		fetch_abort(&s->job);
	if (s->apply_active) { /* let the worker finish its write: the store stays whole */
		int st;
		close(s->apply_fd);
		while (waitpid(s->apply_pid, &st, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < s->nwaiters; i++)
		json_decref(s->waiters[i].req_id);
	keys_trust_free(&s->trust);
	rampart_policy_close(s->h);
	policy_free(&s->show_p);
	store_meta_free(&s->show_m);
	free(s);
	d->policy = NULL;
}

static void policy_time(json_t *o, const char *key, int64_t t)
{
	char buf[32];
	if (t <= 0) {
		json_object_set_new(o, key, json_null());
		return;
	}
	policy_payload_format_time(t, buf, sizeof(buf));
	json_object_set_new(o, key, json_string(buf));
}

void policy_module_status(struct daemon *d, json_t *status)
{
	struct policy_state *s = pst(d);
	struct rampart_policy_info info;
	json_t *p = json_object();
	int64_t now = (int64_t)time(NULL);

	memset(&info, 0, sizeof(info));
	if (s->h != NULL && rampart_policy_info(s->h, &info) == 0 && info.cached) {
		json_object_set_new(p, "org", json_string(info.org));
		json_object_set_new(p, "version", json_integer(info.version));
		policy_time(p, "issued_at", info.issued_at);
		policy_time(p, "expires_at", info.expires_at);
		json_object_set_new(p, "expired", json_boolean(info.expired));
		json_object_set_new(p, "registries", json_integer((json_int_t)info.n_registries));
		json_object_set_new(p, "allow_docker_hub", json_boolean(info.allow_docker_hub));
	} else {
		json_object_set_new(p, "version", json_null());
	}
	json_object_set_new(p, "source", json_string(d->cfg.policy.url));
	json_object_set_new(p, "refreshing", json_boolean(s->job_active || s->apply_active));
	json_object_set_new(p, "last_outcome", json_string(s->last_outcome));
	json_object_set_new(p, "last_error", json_string(s->last_error));
	policy_time(p, "last_error_at", s->last_error_at);
	policy_time(p, "last_attempt_at", s->last_attempt_at);
	policy_time(p, "last_success_at", s->last_success_at);
	json_object_set_new(p, "age_s", s->last_success_at ? json_integer(now - s->last_success_at)
							   : json_null());
	json_object_set_new(p, "next_refresh_in_s",
			    s->next_ms ? json_integer((s->next_ms - daemon_now_ms()) / 1000)
				       : json_null());
	json_object_set_new(p, "refreshes", json_integer((json_int_t)s->refreshes));
	json_object_set_new(p, "last_refresh_ms", json_integer(s->last_duration_ms));
	json_object_set_new(p, "max_refresh_ms", json_integer(s->max_duration_ms));
	json_object_set_new(p, "last_fetch_requests", json_integer(s->last_fetch_requests));
	json_object_set_new(p, "last_fetch_bytes", json_integer((json_int_t)s->last_fetch_bytes));
	if (!s->trust_ok && d->cfg.policy.n_keys > 0)
		json_object_set_new(p, "keys_error", json_string(s->trust_err));
	json_object_set_new(status, "policy", p);
}

/* --- ops ------------------------------------------------------------------- */

int op_policy_refresh(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};
	struct policy_state *s = pst(ctx->d);

	if (args_only(ctx->args, known, &ctx->err) < 0)
		return OP_ERR;
	if (s->nwaiters >= POLICY_MAX_WAITERS)
		return rp_seterr(&ctx->err, "E_BUSY",
				 "too many refresh requests are already waiting; try again in a "
				 "moment");
	if (!s->job_active && !s->apply_active && policy_start_fetch(ctx->d, &ctx->err) < 0)
		return OP_ERR;
	s->waiters[s->nwaiters].conn_id = ctx->conn_id;
	s->waiters[s->nwaiters].req_id = json_incref(ctx->req_id);
	s->nwaiters++;
	return OP_PENDING;
}

#define JLIT(b, lit) jbuf_put((b), (lit), sizeof(lit) - 1)

/*
 * One decision, written as JSON text straight into the reply (the bytes
 * json_pack + jbuf_value wrote before, same field order).
 * Measured: building, encoding and freeing the json_t tree was 45% of the
 * daemon's instructions per policy.check (docs/performance.md).
 */
static void policy_write_decision(struct jbuf *b, const struct rampart_decision *dc, int rc)
{
	if (rc < 0) {
		JLIT(b, "{\"allowed\":false,\"rule\":null,\"normalized\":");
		jbuf_string(b, dc->normalized, strlen(dc->normalized));
		JLIT(b, ",\"error\":");
		jbuf_string(b, dc->code[0] ? dc->code : "E_REF", strlen(dc->code[0] ? dc->code : "E_REF"));
		JLIT(b, ",\"reason\":");
		jbuf_string(b, dc->reason, strlen(dc->reason));
		JLIT(b, "}");
		return;
	}
	JLIT(b, "{\"allowed\":");
	jbuf_bool(b, dc->allowed);
	JLIT(b, ",\"rule\":");
	if (dc->rule[0])
		jbuf_string(b, dc->rule, strlen(dc->rule));
	else
		JLIT(b, "null");
	JLIT(b, ",\"normalized\":");
	jbuf_string(b, dc->normalized, strlen(dc->normalized));
	JLIT(b, ",\"policy_version\":");
	jbuf_int(b, (long long)dc->policy_version);
	JLIT(b, ",\"reason\":");
	jbuf_string(b, dc->reason, strlen(dc->reason));
	JLIT(b, ",\"expired\":");
	jbuf_bool(b, dc->expired);
	JLIT(b, ",\"policy_cached\":");
	jbuf_bool(b, dc->policy_cached);
	JLIT(b, "}");
}

static void policy_check_one(struct policy_state *s, const char *ref, struct jbuf *b)
{
	struct rampart_decision dc;

	memset(&dc, 0, sizeof(dc));
	policy_write_decision(b, &dc, rampart_policy_check(s->h, ref, &dc));
}

int op_policy_check(struct op_ctx *ctx)
{
	static const char *const known[] = {"ref", "refs", NULL};
	struct policy_state *s = pst(ctx->d);
	json_t *refs = json_object_get(ctx->args, "refs"), *v;
	const char *ref = NULL;
	size_t i;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_string(ctx->args, "ref", 0, &ref, &ctx->err) < 0)
		return OP_ERR;
	if (s->h == NULL && daemon_now_ms() >= s->reopen_after_ms) {
		/* rate-limited: a damaged store must not cost a full load per request */
		s->reopen_after_ms = daemon_now_ms() + 1000;
		policy_open_reader(ctx->d);
	}
	if (s->h != NULL && daemon_now_ms() >= s->recheck_after_ms) {
		/* sees an offline import or a deleted DB within 1 ms, with no stat() on
		 * every request; a batch is always answered from one policy */
		s->recheck_after_ms = daemon_now_ms() + 1;
		rampart_policy_reload(s->h);
	}
	if (s->h == NULL)
		return rp_seterr(&ctx->err, "E_STORE",
				 "the policy store %s cannot be read (see the daemon's log); every "
				 "check is refused until it can",
				 ctx->d->cfg.db_path);
	if ((ref == NULL) == (refs == NULL))
		return rp_seterr(&ctx->err, "E_ARGS", "give exactly one of \"ref\" or \"refs\"");
	if (ref != NULL) {
		policy_check_one(s, ref, &ctx->raw);
		return OP_OK;
	}
	if (!json_is_array(refs) || json_array_size(refs) == 0 ||
	    json_array_size(refs) > POLICY_MAX_BATCH)
		return rp_seterr(&ctx->err, "E_ARGS", "\"refs\" must be an array of 1 to %d strings",
				 POLICY_MAX_BATCH);
	json_array_foreach(refs, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return rp_seterr(&ctx->err, "E_ARGS", "refs[%zu] must be a string", i);
	}
	/* all refs checked first: never a result list out of step with refs */
	JLIT(&ctx->raw, "{\"results\":[");
	json_array_foreach(refs, i, v) {
		if (i > 0)
			JLIT(&ctx->raw, ",");
		policy_check_one(s, json_string_value(v), &ctx->raw);
	}
	JLIT(&ctx->raw, "]}");
	if (ctx->raw.err)
		return rp_seterr(&ctx->err, "E_INTERNAL", "cannot encode the reply");
	return OP_OK;
}

/* Returns 1 and the cached store (reloaded if the file changed), 0 when none, -1 error. */
static int policy_show_load(struct daemon *d, struct rp_err *err)
{
	struct policy_state *s = pst(d);
	struct store_stat st;
	int r = store_stat(d->cfg.db_path, &st, err);

	if (r != 0) {
		if (r == 1 && s->show_valid) {
			policy_free(&s->show_p);
			store_meta_free(&s->show_m);
			s->show_valid = false;
		}
		return r == 1 ? 0 : -1;
	}
	if (s->show_valid && st.dev == s->show_st.dev && st.ino == s->show_st.ino &&
	    st.size == s->show_st.size && st.mtime == s->show_st.mtime)
		return 1;
	policy_free(&s->show_p);
	store_meta_free(&s->show_m);
	memset(&s->show_p, 0, sizeof(s->show_p));
	memset(&s->show_m, 0, sizeof(s->show_m));
	s->show_valid = false;
	r = store_load(d->cfg.db_path, &s->show_p, &s->show_m, NULL, NULL, err);
	if (r != 0)
		return r == 1 ? 0 : -1;
	s->show_st = s->show_m.file.ino ? s->show_m.file : st;
	s->show_valid = true;
	return 1;
}

int op_policy_show(struct op_ctx *ctx)
{
	static const char *const known[] = {"offset", "limit", NULL};
	struct policy_state *s = pst(ctx->d);
	const struct policy *p = &s->show_p;
	const struct store_meta *m = &s->show_m;
	long long off = 0, lim = POLICY_SHOW_MAX;
	json_t *r, *ents;
	int rc;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_int(ctx->args, "offset", 0, 0, POLICY_MAX_REGISTRIES, &off, &ctx->err) < 0 ||
	    args_int(ctx->args, "limit", 0, 1, POLICY_SHOW_MAX, &lim, &ctx->err) < 0)
		return OP_ERR;
	rc = policy_show_load(ctx->d, &ctx->err);
	if (rc < 0)
		return OP_ERR;
	if (rc == 0) {
		ctx->result = json_pack("{s:b, s:s}", "cached", 0, "reason", "no policy cached");
		return OP_OK;
	}
	ents = json_array();
	for (size_t i = (size_t)off; i < p->n_registries && i < (size_t)(off + lim); i++)
		json_array_append_new(ents, json_pack("{s:s, s:s, s:s}", "host",
						      p->registries[i].host, "nickname",
						      p->registries[i].nickname, "kind",
						      p->registries[i].kind == POLICY_WILDCARD ? "wildcard"
						      : p->registries[i].kind == POLICY_PORT   ? "port"
											       : "exact"));
	r = json_pack("{s:b, s:s, s:I, s:b, s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "cached", 1,
		      "org", p->org, "version", (json_int_t)p->version, "allow_docker_hub",
		      p->allow_docker_hub, "expired", (int64_t)time(NULL) >= p->expires_at, "source",
		      m->source ? m->source : "", "signers", m->signers ? m->signers : "",
		      "payload_sha256", m->payload_sha256, "total", (json_int_t)p->n_registries,
		      "offset", (json_int_t)off, "limit", (json_int_t)lim, "registries", ents);
	policy_time(r, "issued_at", p->issued_at);
	policy_time(r, "expires_at", p->expires_at);
	policy_time(r, "fetched_at", m->fetched_at);
	ctx->result = r;
	return OP_OK;
}
