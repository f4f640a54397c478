/* SPDX-License-Identifier: ISC */
/*
 * The policy module's state, shared by its files: the refresher (refresher.c:
 * schedule, backoff, waiters, status), its two child roles (refresher_fetch.c:
 * the unprivileged fetch child; refresher_worker.c: the root verify/store
 * worker) and the read ops (op_policy.c).
 */
#ifndef RAMPART_REFRESHER_H
#define RAMPART_REFRESHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"
#include "fetch.h"
#include "keys.h"
#include "refresh.h"
#include "store.h"

#define POLICY_MAX_WAITERS 32
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
	/* the signed root, when configured: the pinned first root's bytes, and what
	 * the last refresh learnt (the newest root, whether the stored policy is
	 * still signed by its policy keys) */
	unsigned char *root_pin;
	size_t root_pin_len;
	int64_t root_version;
	int stored_untrusted;
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
	/* refresher_record(), set at init: records an outcome (status fields, audit,
	 * schedule, every waiter answered).  The child-role files report through
	 * it, so calls go one way: refresher -> fetch -> worker. */
	void (*record)(struct daemon *d, const struct refresh_out *out, bool ok,
	               const struct rp_err *err);
	/* the store file last committed or seen, to notice an offline import */
	struct store_stat commit_st;
	bool commit_st_valid;
	long long import_check_ms;
	long long next_ms;       /* 0: no scheduled refresh */
	int failures;            /* in a row, since the last success */
	uint64_t failures_total; /* every failed or refused refresh since start */
	char last_outcome[700];
	char last_error[700];
	int64_t last_error_at, last_attempt_at, last_success_at;
	uint64_t refreshes;
	long long last_duration_ms, max_duration_ms;
	unsigned last_fetch_requests;        /* of the last fetch that got an answer */
	unsigned long long last_fetch_bytes; /* header + body bytes it received */
	/* policy.show cache: the whole store, reloaded only when the file changes,
	 * so any user asking for it cannot make the daemon re-read 10,000 rows
	 * per request */
	bool show_valid;
	struct store_stat show_st;
	struct policy show_p;
	struct store_meta show_m;
};

static inline struct policy_state *pst(struct daemon *d)
{
	return d->policy;
}

/* refresher.c */
/* (Re)opens the daemon's own reader, d->reader (NULL when the store cannot be read). */
void refresher_open_reader(struct daemon *d);
/* policy.refresh: starts a refresh unless one runs, and queues the caller for
 * its outcome; 0 (the caller is answered later) or -1 + err. */
int refresher_request(struct daemon *d, uint64_t conn_id, json_t *req_id, struct rp_err *err);
/* Sets o[key] to an RFC 3339 time, or null for t <= 0. */
void refresher_time(json_t *o, const char *key, int64_t t);

/* refresher_fetch.c: the fetch child (unprivileged, exec'd rampart-fetch) */
int refresher_fetch_start(struct daemon *d, struct rp_err *err);
/* the fetch ran past policy.total_timeout_s: abort it and record the failure */
void refresher_fetch_timeout(struct daemon *d);

/* refresher_worker.c: the verify/store worker (forked, root) */
int refresher_worker_start(struct daemon *d, const struct refresh_in *in, struct rp_err *err);
/* the worker passed its deadline: kill it and record a dead worker */
void refresher_worker_kill(struct daemon *d);
/* at exit: let a running worker finish its write (the store stays whole) */
void refresher_worker_wait(struct daemon *d);

#endif
