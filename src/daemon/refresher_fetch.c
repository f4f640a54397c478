/* SPDX-License-Identifier: ISC */
/*
 * The refresher's fetch child: starts rampart-fetch (forked, root dropped,
 * exec'd; src/core/fetch.c), watches its answer pipe, and hands the bytes to
 * the verify/store worker.  Everything the child sends is untrusted: the
 * answer is parsed by fetch_on_readable()/fetch_finish() with exact checks,
 * and the body stays unverified until refresh_apply() in the worker.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "refresher.h"

/* The fetch child has finished: verify and store, as root, in a worker. */
static void refresher_fetch_done(struct daemon *d)
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
		pst(d)->record(d, &out, false, &e);
	} else if (fr.status == FETCH_NOT_MODIFIED) {
		out.outcome = REFRESH_UNCHANGED;
		snprintf(out.message, sizeof(out.message), "%s",
			 fr.http_code == 304 ? "unchanged (HTTP 304 Not Modified)"
					     : "unchanged (same manifest digest)");
		pst(d)->record(d, &out, true, NULL);
	} else {
		struct refresh_in in = {.envelope = fr.body, .len = fr.body_len,
					.max_bytes = (size_t)d->cfg.policy.max_bytes,
					.trust = &s->trust, .org = d->cfg.policy.org,
					.now = s->job_now, .db_path = d->cfg.db_path,
					.source = d->cfg.policy.url, .etag = fr.etag};
		if (refresher_worker_start(d, &in, &e) < 0) {
			/* no worker: do it here rather than not at all */
			ok = refresh_apply(&in, &out, &e) == 0;
			pst(d)->record(d, &out, ok, &e);
		}
	}
	fetch_result_free(&fr);
}

static void refresher_fetch_on_readable(struct daemon *d, int fd, short revents, void *arg)
{
	struct policy_state *s = pst(d);
	(void)fd;
	(void)arg;
	(void)revents;
	if (fetch_on_readable(&s->job) != 0)
		refresher_fetch_done(d);
}

static char *refresher_fetch_stored_etag(struct daemon *d)
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

int refresher_fetch_start(struct daemon *d, struct rp_err *err)
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
	etag = refresher_fetch_stored_etag(d);
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
	if (daemon_watch_add(d, s->job.fd, POLLIN, refresher_fetch_on_readable, NULL) < 0) {
		fetch_abort(&s->job);
		return rp_seterr(err, "E_INTERNAL", "no room to watch the fetch");
	}
	s->job_active = true;
	return 0;
}

void refresher_fetch_timeout(struct daemon *d)
{
	struct policy_state *s = pst(d);
	struct refresh_out out = {.outcome = REFRESH_FAILED};
	struct rp_err e;

	daemon_watch_del(d, s->job.fd);
	fetch_abort(&s->job);
	s->job_active = false;
	rp_seterr(&e, "E_FETCH_TIMEOUT", "the fetch did not finish within policy.total_timeout_s");
	snprintf(out.message, sizeof(out.message), "failed: %s; last good policy kept", e.msg);
	pst(d)->record(d, &out, false, &e);
}
