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

#include "log.h"
#include "refresher.h"
#include "root.h"

/*
 * N.root.json for the chain walk, from the worker: the same unprivileged
 * fetch helper and limits as the policy, capped at ROOT_MAX_BYTES.  404 and
 * 410 end the chain; any other failure fails the refresh (fail closed).
 */
static int refresher_root_fetch(void *arg, int64_t version, unsigned char **buf, size_t *len,
                                struct rp_err *err)
{
	const struct config *c = arg;
	struct fetch_result fr;
	struct fetch_opts o;
	char url[2200], base[2100];
	const char *slash;
	int rc;

	if (c->policy.root_url[0] != '\0') {
		rp_strlcpy(base, c->policy.root_url, sizeof(base));
	} else {
		slash = strrchr(c->policy.url, '/');
		snprintf(base, sizeof(base), "%.*s/",
		         (int)(slash != NULL ? slash - c->policy.url : 0), c->policy.url);
	}
	snprintf(url, sizeof(url), "%s%s%lld.root.json", base,
	         base[0] && base[strlen(base) - 1] == '/' ? "" : "/", (long long)version);
	memset(&o, 0, sizeof(o));
	memset(&fr, 0, sizeof(fr));
	o.url = url;
	o.ca_file = c->policy.ca_file[0] ? c->policy.ca_file : NULL;
	o.pinned_pubkey = c->policy.pinned_pubkey[0] ? c->policy.pinned_pubkey : NULL;
	o.proxy = c->policy.proxy[0] ? c->policy.proxy : NULL;
	o.user = c->policy.fetch_user;
	o.fetch_helper = c->policy.fetch_helper[0] ? c->policy.fetch_helper : NULL;
	o.max_bytes = ROOT_MAX_BYTES;
	o.connect_timeout_ms = c->policy.connect_timeout_s * 1000L;
	o.total_timeout_ms = c->policy.total_timeout_s * 1000L;
	o.low_speed_bytes = c->policy.low_speed_bytes > 0 ? c->policy.low_speed_bytes : -1;
	o.low_speed_time_s = c->policy.low_speed_time_s;
	o.allow_insecure_loopback = c->policy.allow_insecure_loopback;
	rc = fetch_run(&o, &fr, err);
	if (rc < 0 && strcmp(err->code, "E_FETCH_HTTP") == 0 &&
	    (fr.http_code == 404 || fr.http_code == 410)) {
		fetch_result_free(&fr);
		return 1;
	}
	if (rc == 0 && fr.status != FETCH_OK)
		rc = rp_seterr(err, "E_FETCH_HTTP", "%s: no body", url);
	if (rc < 0 && strcmp(err->code, "E_FETCH_TOO_LARGE") == 0)
		rp_seterr(err, "E_ROOT_TOO_BIG", "root %lld at %s is larger than %u bytes",
		          (long long)version, url, ROOT_MAX_BYTES);
	if (rc == 0) {
		*buf = fr.body;
		*len = fr.body_len;
		fr.body = NULL;
	}
	fetch_result_free(&fr);
	return rc < 0 ? -1 : 0;
}

/* url without a user:password@ part (messages go to status and the audit log). */
static void refresher_url_shown(const char *url, char *buf, size_t len)
{
	const char *host = strstr(url, "://"), *at, *end;

	host = host != NULL ? host + 3 : url;
	end = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(end - host));
	if (at == NULL) {
		rp_strlcpy(buf, url, len);
		return;
	}
	snprintf(buf, len, "%.*s%s", (int)(host - url), url, at + 1);
}

/* "failed: MSG (policy.url URL); last good policy kept; to fix: HINT" for a failed fetch. */
static void refresher_fetch_failed(const struct daemon *d, struct refresh_out *out,
                                   const struct rp_err *e)
{
	const char *hint = refresh_hint(e->code);
	char url[512];

	refresher_url_shown(d->cfg.policy.url, url, sizeof(url));
	out->outcome = REFRESH_FAILED;
	if (snprintf(out->message, sizeof(out->message),
	             "failed: %s (policy.url %s); last good policy kept%s%s", e->msg, url,
	             hint ? "; to fix: " : "", hint ? hint : "") >= (int)sizeof(out->message))
		log_warnx("policy refresh: message truncated");
}

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
		refresher_fetch_failed(d, &out, &e);
		pst(d)->record(d, &out, false, &e);
	} else if (fr.status == FETCH_NOT_MODIFIED && !config_has_root(&d->cfg)) {
		out.outcome = REFRESH_UNCHANGED;
		snprintf(out.message, sizeof(out.message), "%s",
		         fr.http_code == 304 ? "unchanged (HTTP 304 Not Modified)"
		                             : "unchanged (same manifest digest)");
		pst(d)->record(d, &out, true, NULL);
	} else {
		/* with a root, a 304 still walks the root chain (envelope NULL) */
		struct refresh_root root = {.pinned = s->root_pin,
		                            .pinned_len = s->root_pin_len,
		                            .pinned_sha256 = d->cfg.policy.root_sha256,
		                            .fetch = refresher_root_fetch,
		                            .fetch_arg = &d->cfg,
		                            .max_new = (size_t)d->cfg.policy.max_root_rotations};
		struct refresh_in in = {.envelope = fr.body,
		                        .len = fr.body_len,
		                        .max_bytes = (size_t)d->cfg.policy.max_bytes,
		                        .trust = &s->trust,
		                        .org = d->cfg.policy.org,
		                        .now = s->job_now,
		                        .db_path = d->cfg.db_path,
		                        .source = d->cfg.policy.url,
		                        .etag = fr.etag,
		                        .root = config_has_root(&d->cfg) ? &root : NULL};
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
		return rp_seterr(
		    err, "E_NO_SOURCE",
		    "no policy.url is configured, so there is nothing to refresh from; "
		    "set policy.url in rampartd.json and run 'rampart reload'");
	if (!s->trust_ok)
		return rp_seterr(
		    err, "E_KEYS",
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
	o.redirect_hosts = c->policy.redirect_hosts;
	o.registry_credentials =
	    c->policy.registry_credentials[0] ? c->policy.registry_credentials : NULL;
	o.blob_redirect_hosts =
	    c->policy.blob_redirect_hosts[0] ? c->policy.blob_redirect_hosts : NULL;
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
	refresher_fetch_failed(d, &out, &e);
	pst(d)->record(d, &out, false, &e);
}
