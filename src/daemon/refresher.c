/* SPDX-License-Identifier: ISC */
/*
 * The refresher: when to refresh (schedule, jitter, backoff), who waits for
 * the outcome, what status reports, and the policy module's row.  The bytes
 * are fetched by an unprivileged child (refresher_fetch.c) and verified and
 * stored by a root worker (refresher_worker.c); they are untrusted until
 * refresh_apply() has verified them, and a failure of any kind keeps the last
 * good policy and is recorded here for status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "module.h"
#include "policy_payload.h"
#include "rampart/policy.h"
#include "refresher.h"
#include "root.h"

#define REFRESHER_IMPORT_CHECK_MS 1000 /* an offline import is noticed this late at most */

/* The pinned first root: a root-owned file, checked as a first root now. */
static int refresher_load_root(struct daemon *d, struct rp_err *e)
{
	struct policy_state *s = pst(d);
	const char *path = d->cfg.policy.root;
	struct root r;
	struct stat st;
	FILE *f;
	size_t n;

	free(s->root_pin);
	s->root_pin = NULL;
	s->root_pin_len = 0;
	if (path[0] == '\0')
		return 0; /* pinned by sha256: 1.root.json is fetched and checked */
	if ((f = fopen(path, "rb")) == NULL)
		return rp_seterr(e, "E_ROOT_PIN", "policy.root %s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022) != 0) {
		fclose(f);
		return rp_seterr(e, "E_KEY_PERM",
		                 "policy.root %s must be a regular file owned by "
		                 "root and not writable by group or others",
		                 path);
	}
	s->root_pin = malloc(ROOT_MAX_BYTES + 1);
	n = s->root_pin ? fread(s->root_pin, 1, ROOT_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (n == 0 || n > ROOT_MAX_BYTES) {
		free(s->root_pin);
		s->root_pin = NULL;
		return rp_seterr(e, "E_ROOT_PIN",
		                 "policy.root %s is empty, unreadable or larger "
		                 "than %u bytes",
		                 path, ROOT_MAX_BYTES);
	}
	s->root_pin_len = n;
	if (root_trust_first(s->root_pin, n, d->cfg.policy.root_sha256, d->cfg.policy.org, &r, e) <
	    0)
		return -1;
	root_free(&r);
	return 0;
}

static void refresher_load_trust(struct daemon *d)
{
	struct policy_state *s = pst(d);
	struct rp_err e;

	if (config_has_root(&d->cfg)) {
		s->trust_ok = refresher_load_root(d, &e) == 0;
		s->trust_err[0] = '\0';
		if (!s->trust_ok) {
			snprintf(s->trust_err, sizeof(s->trust_err), "%s: %.400s", e.code, e.msg);
			log_warnx("signed root: %s", e.msg);
		}
		return;
	}
	keys_trust_free(&s->trust);
	keys_trust_init(&s->trust);
	s->trust_ok = false;
	s->trust_err[0] = '\0';
	for (int i = 0; i < d->cfg.policy.n_keys; i++) {
		if (keys_trust_add_file(&s->trust, d->cfg.policy.keys[i], KEYS_CHECK_OWNER, &e) <
		    0) {
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

void refresher_open_reader(struct daemon *d)
{
	struct policy_state *s = pst(d);
	char eb[512];

	rampart_policy_close(s->h);
	s->h = NULL;
	if (rampart_policy_open(
	        d->cfg.db_path,
	        RAMPART_POLICY_MANUAL_RELOAD |
	            (d->cfg.policy.allow_when_no_policy ? RAMPART_POLICY_ALLOW_WHEN_NO_POLICY : 0),
	        &s->h, eb, sizeof(eb)) < 0)
		log_warnx("policy reader: %s", eb);
	rampart_policy_set_max_age(s->h, d->cfg.policy.max_age_s);
	d->reader = s->h;
}

static long long refresher_jitter_ms(const struct config *c)
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

static void refresher_schedule(struct daemon *d, bool failed)
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
	s->next_ms = daemon_now_ms() + delay + refresher_jitter_ms(&d->cfg);
}

/* Remembers the store file now in force, so a replacement by someone else shows. */
static void refresher_note_store(struct daemon *d)
{
	struct policy_state *s = pst(d);
	struct rp_err e;

	s->commit_st_valid = store_stat(d->cfg.db_path, &s->commit_st, &e) == 0;
}

/* An offline import (or a restore, or a removal) replaced the store: a commit. */
static void refresher_check_import(struct daemon *d, long long now_ms)
{
	struct policy_state *s = pst(d);
	struct store_stat st;
	struct rp_err e;
	bool valid;

	if (now_ms < s->import_check_ms || s->apply_active) /* our own worker's commit */
		return;
	s->import_check_ms = now_ms + REFRESHER_IMPORT_CHECK_MS;
	valid = store_stat(d->cfg.db_path, &st, &e) == 0;
	if (valid == s->commit_st_valid &&
	    (!valid || (st.dev == s->commit_st.dev && st.ino == s->commit_st.ino &&
	                st.size == s->commit_st.size && st.mtime == s->commit_st.mtime)))
		return;
	s->commit_st = st;
	s->commit_st_valid = valid;
	if (s->h != NULL)
		rampart_policy_reload(s->h);
	modules_commit(d, DAEMON_COMMIT_IMPORT);
}

static void refresher_reload(struct daemon *d)
{
	refresher_load_trust(d);
	refresher_open_reader(d);
	refresher_schedule(d, false);
	refresher_note_store(d);
}

static void refresher_record(struct daemon *d, const struct refresh_out *out, bool ok,
                             const struct rp_err *err);

static void refresher_init(struct daemon *d)
{
	struct policy_state *s = calloc(1, sizeof(*s));
	struct rp_err e;
	int n;

	if (s == NULL)
		fatal("calloc");
	d->policy = s;
	s->record = refresher_record;
	fetch_job_init(&s->job);
	keys_trust_init(&s->trust);
	if ((n = store_clean_temps(d->cfg.db_path, &e)) > 0)
		log_warnx("removed %d leftover temp file(s) next to %s", n, d->cfg.db_path);
	refresher_reload(d);
	if (d->cfg.policy.url[0] && d->cfg.policy.refresh_on_start)
		s->next_ms = daemon_now_ms();
}

static void refresher_reply_waiters(struct daemon *d, json_t *result, const struct rp_err *err)
{
	struct policy_state *s = pst(d);
	int n = s->nwaiters;

	s->nwaiters = 0; /* a request that arrives from here on waits for the next refresh */
	for (int i = 0; i < n; i++) {
		if (err != NULL) /* counted as a call at dispatch, as an error only now */
			dispatch_count_error(d, "policy.refresh");
		server_complete(d, s->waiters[i].conn_id, s->waiters[i].req_id, result, err);
		json_decref(s->waiters[i].req_id);
	}
}

/*
 * The status side of an outcome: a success clears the last error (an old TLS
 * error must not outlive a later success); a failure is time-stamped and
 * counted.  Every refresh attempt passes here, also one refused before any
 * fetch (E_KEYS, E_NO_SOURCE).
 */
static void refresher_note_outcome(struct policy_state *s, const char *message, bool ok,
                                   int64_t when)
{
	s->refreshes++;
	rp_strlcpy(s->last_outcome, message, sizeof(s->last_outcome));
	if (ok) {
		s->failures = 0;
		s->last_success_at = when;
		s->last_error[0] = '\0';
		s->last_error_at = 0;
	} else {
		s->failures++;
		s->failures_total++;
		s->last_error_at = when;
		rp_strlcpy(s->last_error, message, sizeof(s->last_error));
	}
}

static void refresher_record(struct daemon *d, const struct refresh_out *out, bool ok,
                             const struct rp_err *err)
{
	struct policy_state *s = pst(d);
	json_t *res;

	s->last_duration_ms = daemon_now_ms() - s->job_started_ms;
	if (s->last_duration_ms > s->max_duration_ms)
		s->max_duration_ms = s->last_duration_ms;
	refresher_note_outcome(s, out->message, ok, s->job_now);
	if (out->root_version > 0) {
		s->root_version = out->root_version;
		s->stored_untrusted = out->stored_untrusted;
	}
	/* the daemon is the writer: it moves its reader to the new file here, so a
	 * batch of checks is always answered from one policy */
	rampart_policy_reload(s->h);
	refresher_note_store(d);
	log_info("policy refresh: %s", out->message);
	audit_log(d, "policy.refresh", &(struct peer){0, 0, (pid_t)0},
	          refresh_outcome_name(out->outcome), ok ? "" : err->code, out->message);
	refresher_schedule(d, !ok);
	res = json_pack("{s:s, s:s, s:I, s:I, s:I}", "outcome", refresh_outcome_name(out->outcome),
	                "message", out->message, "old_version", (json_int_t)out->old_version,
	                "new_version", (json_int_t)out->new_version, "duration_ms",
	                (json_int_t)s->last_duration_ms);
	if (ok && out->outcome == REFRESH_UPDATED)
		modules_commit(d, DAEMON_COMMIT_REFRESH);
	if (ok) {
		refresher_reply_waiters(d, res, NULL);
	} else {
		struct rp_err e2;
		rp_seterr(&e2, err->code, "%s", out->message);
		refresher_reply_waiters(d, NULL, &e2);
	}
	json_decref(res);
}

int refresher_request(struct daemon *d, uint64_t conn_id, json_t *req_id, struct rp_err *err)
{
	struct policy_state *s = pst(d);

	if (s->nwaiters >= POLICY_MAX_WAITERS)
		return rp_seterr(err, "E_BUSY",
		                 "too many refresh requests are already waiting; try again in a "
		                 "moment");
	if (!s->job_active && !s->apply_active && refresher_fetch_start(d, err) < 0) {
		char msg[700];
		snprintf(msg, sizeof(msg), "failed: %s", err->msg);
		s->last_attempt_at = (int64_t)time(NULL);
		refresher_note_outcome(s, msg, false, s->last_attempt_at);
		return -1;
	}
	s->waiters[s->nwaiters].conn_id = conn_id;
	s->waiters[s->nwaiters].req_id = json_incref(req_id);
	s->nwaiters++;
	return 0;
}

static void refresher_tick(struct daemon *d, long long now_ms, long long *next_ms)
{
	struct policy_state *s = pst(d);
	struct rp_err e;

	if (s == NULL)
		return;
	refresher_check_import(d, now_ms);
	if (s->import_check_ms < *next_ms)
		*next_ms = s->import_check_ms;
	if (s->apply_active) { /* the worker is verifying and storing */
		if (now_ms >= s->apply_deadline_ms) {
			/* wedged (stuck I/O?): kill it; the store stays whole (temp+rename) */
			refresher_worker_kill(d);
		} else if (s->apply_deadline_ms < *next_ms) {
			*next_ms = s->apply_deadline_ms;
		}
		return;
	}
	if (s->job_active) {
		if (fetch_timeout_ms(&s->job) == 0)
			refresher_fetch_timeout(d);
		else if (now_ms + fetch_timeout_ms(&s->job) < *next_ms) {
			*next_ms = now_ms + fetch_timeout_ms(&s->job);
		}
		return;
	}
	if (s->next_ms == 0)
		return;
	if (now_ms >= s->next_ms) {
		if (refresher_fetch_start(d, &e) < 0) {
			struct refresh_out out = {.outcome = REFRESH_FAILED};
			s->job_started_ms = now_ms;
			s->job_now = s->last_attempt_at =
			    (int64_t)time(NULL); /* not the last job's */
			snprintf(out.message, sizeof(out.message),
			         "failed: %s; last good policy kept", e.msg);
			refresher_record(d, &out, false, &e);
		}
		return;
	}
	if (s->next_ms < *next_ms)
		*next_ms = s->next_ms;
}

static void refresher_fini(struct daemon *d)
{
	struct policy_state *s = pst(d);

	if (s == NULL)
		return;
	if (s->job_active)
		fetch_abort(&s->job);
	refresher_worker_wait(d);
	for (int i = 0; i < s->nwaiters; i++)
		json_decref(s->waiters[i].req_id);
	keys_trust_free(&s->trust);
	free(s->root_pin);
	rampart_policy_close(s->h);
	d->reader = NULL;
	policy_free(&s->show_p);
	store_meta_free(&s->show_m);
	free(s);
	d->policy = NULL;
}

void refresher_time(json_t *o, const char *key, int64_t t)
{
	char buf[32];
	if (t <= 0) {
		json_object_set_new(o, key, json_null());
		return;
	}
	policy_payload_format_time(t, buf, sizeof(buf));
	json_object_set_new(o, key, json_string(buf));
}

/*
 * The trust this machine verifies with, so an admin can see a key rotation
 * reach it: every loaded key (keyid, algorithm, file) and the threshold.
 * Public keys and paths only.
 */
static json_t *refresher_trust_json(const struct policy_state *s)
{
	json_t *keys = json_array();

	for (size_t i = 0; i < s->trust.n_keys; i++)
		json_array_append_new(keys,
		                      json_pack("{s:s, s:s, s:s}", "keyid", s->trust.keys[i].keyid,
		                                "algorithm", keys_alg_name(s->trust.keys[i].alg),
		                                "source", s->trust.keys[i].source));
	return json_pack("{s:o, s:i, s:b}", "keys", keys, "threshold",
	                 s->trust_ok ? s->trust.threshold : 0, "usable", s->trust_ok);
}

static void refresher_status(struct daemon *d, json_t *status)
{
	struct policy_state *s = pst(d);
	struct rampart_policy_info info;
	json_t *p = json_object();
	int64_t now = (int64_t)time(NULL);

	memset(&info, 0, sizeof(info));
	if (s->h != NULL && rampart_policy_info(s->h, &info) == 0 && info.cached) {
		json_object_set_new(p, "org", json_string(info.org));
		json_object_set_new(p, "version", json_integer(info.version));
		refresher_time(p, "issued_at", info.issued_at);
		refresher_time(p, "expires_at", info.expires_at);
		json_object_set_new(p, "expired", json_boolean(info.expired));
		json_object_set_new(p, "stale", json_boolean(info.stale));
		json_object_set_new(p, "issued_age_s", json_integer(now - info.issued_at));
		json_object_set_new(p, "registries", json_integer((json_int_t)info.n_registries));
		json_object_set_new(p, "allow_docker_hub", json_boolean(info.allow_docker_hub));
	} else {
		json_object_set_new(p, "version", json_null());
	}
	json_object_set_new(p, "max_age_s",
	                    d->cfg.policy.max_age_s ? json_integer(d->cfg.policy.max_age_s)
	                                            : json_null());
	json_object_set_new(p, "source", json_string(d->cfg.policy.url));
	json_object_set_new(p, "refreshing", json_boolean(s->job_active || s->apply_active));
	json_object_set_new(p, "last_outcome", json_string(s->last_outcome));
	json_object_set_new(p, "last_error", json_string(s->last_error));
	refresher_time(p, "last_error_at", s->last_error_at);
	refresher_time(p, "last_attempt_at", s->last_attempt_at);
	refresher_time(p, "last_success_at", s->last_success_at);
	json_object_set_new(
	    p, "age_s", s->last_success_at ? json_integer(now - s->last_success_at) : json_null());
	json_object_set_new(p, "next_refresh_in_s",
	                    s->next_ms ? json_integer((s->next_ms - daemon_now_ms()) / 1000)
	                               : json_null());
	json_object_set_new(p, "refreshes", json_integer((json_int_t)s->refreshes));
	json_object_set_new(p, "failures", json_integer((json_int_t)s->failures_total));
	json_object_set_new(p, "failures_in_a_row", json_integer(s->failures));
	json_object_set_new(p, "last_refresh_ms", json_integer(s->last_duration_ms));
	json_object_set_new(p, "max_refresh_ms", json_integer(s->max_duration_ms));
	json_object_set_new(p, "last_fetch_requests", json_integer(s->last_fetch_requests));
	json_object_set_new(p, "last_fetch_bytes", json_integer((json_int_t)s->last_fetch_bytes));
	if (!s->trust_ok && (d->cfg.policy.n_keys > 0 || config_has_root(&d->cfg)))
		json_object_set_new(p, "keys_error", json_string(s->trust_err));
	if (config_has_root(&d->cfg)) {
		json_object_set_new(p, "root_version",
		                    s->root_version ? json_integer(s->root_version) : json_null());
		/* after a rotation the stored policy may be signed by a retired key: it
		 * stays enforced (fail closed) until a valid one arrives; null until the
		 * first refresh since start has walked the chain */
		json_object_set_new(p, "policy_signed_by_root",
		                    s->root_version ? json_boolean(!s->stored_untrusted)
		                                    : json_null());
	}
	json_object_set_new(p, "trust", refresher_trust_json(s));
	json_object_set_new(status, "policy", p);
}

const struct module_def policy_module = {
    .name = "policy",
    .init = refresher_init,
    .reload = refresher_reload,
    .status = refresher_status,
    .tick = refresher_tick,
    .fini = refresher_fini,
};
