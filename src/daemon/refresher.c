/* SPDX-License-Identifier: ISC */
/*
 * The refresher: when to refresh (schedule, jitter, backoff), who waits for
 * the outcome, what status reports, and the policy module's row.  The bytes
 * are fetched by an unprivileged child (refresher_fetch.c) and verified and
 * stored by a root worker (refresher_worker.c); they are untrusted until
 * refresh_apply() has verified them, and a failure of any kind keeps the last
 * good policy and is recorded here for status.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "module.h"
#include "policy_payload.h"
#include "rampart/policy.h"
#include "refresher.h"

#define REFRESHER_IMPORT_CHECK_MS 1000 /* an offline import is noticed this late at most */

static void refresher_load_trust(struct daemon *d)
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

void refresher_open_reader(struct daemon *d)
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
		server_complete(d, s->waiters[i].conn_id, s->waiters[i].req_id, result, err);
		json_decref(s->waiters[i].req_id);
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
	if (!s->job_active && !s->apply_active && refresher_fetch_start(d, err) < 0)
		return -1;
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
			snprintf(out.message, sizeof(out.message), "failed: %s; last good policy kept",
				 e.msg);
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
		json_object_set_new(p, "registries", json_integer((json_int_t)info.n_registries));
		json_object_set_new(p, "allow_docker_hub", json_boolean(info.allow_docker_hub));
	} else {
		json_object_set_new(p, "version", json_null());
	}
	json_object_set_new(p, "source", json_string(d->cfg.policy.url));
	json_object_set_new(p, "refreshing", json_boolean(s->job_active || s->apply_active));
	json_object_set_new(p, "last_outcome", json_string(s->last_outcome));
	json_object_set_new(p, "last_error", json_string(s->last_error));
	refresher_time(p, "last_error_at", s->last_error_at);
	refresher_time(p, "last_attempt_at", s->last_attempt_at);
	refresher_time(p, "last_success_at", s->last_success_at);
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

const struct module_def policy_module = {
    .name = "policy",
    .init = refresher_init,
    .reload = refresher_reload,
    .status = refresher_status,
    .tick = refresher_tick,
    .fini = refresher_fini,
};
