/* SPDX-License-Identifier: ISC */
/*
 * rampart-fetch's OCI source: one manifest (conditional on the digest we hold),
 * then the one policy layer, whose sha256 and size must match the manifest
 * before a byte of it leaves this process.  Runs unprivileged; trusts the
 * options record (root wrote it) and nothing the registry sends.  The parent
 * verifies the envelope's signatures as before: the registry is transport.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch_child.h"
#include "oci_client.h"

#define OCI_ACCEPT                                                                                 \
	"Accept: " OCI_MT_MANIFEST ", " OCI_MT_INDEX ", " OCI_MT_DOCKER_MANIFEST                   \
	", " OCI_MT_DOCKER_LIST

struct oci_job {
	struct oci_session s;
	struct oci_resp man, blob;
	struct oci_layer layer;
	char man_digest[OCI_DIGEST_LEN + 1];
	const char *etag;
	unsigned long long max;
	bool unchanged;
};

static const struct {
	const char *code;
	int fwo;
} oci_codes[] = {
    {"E_OCI_INDEX", FWO_INDEX},           {"E_OCI_MANIFEST", FWO_MANIFEST},
    {"E_OCI_MEDIA_TYPE", FWO_MEDIA_TYPE}, {"E_OCI_REPOSITORY", FWO_REPOSITORY},
    {"E_FETCH_TOO_LARGE", FWO_TOO_LARGE},
};

/* The manifest parser's verdict, as a FWO_* row. */
static int oci_fwo_of(const char *code)
{
	for (size_t i = 0; i < sizeof(oci_codes) / sizeof(oci_codes[0]); i++)
		if (strcmp(code, oci_codes[i].code) == 0)
			return oci_codes[i].fwo;
	return FWO_MANIFEST;
}

/* The URL again: ours must parse, and libcurl must read the host rampartd checked. */
static int oci_job_ref(const struct fx_opts *o, struct oci_ref *ref, struct oci_session *s)
{
	struct rp_err e;
	char *host = NULL, url[OCI_MAX_HOST + 64];
	CURLU *u = curl_url();
	int ret = -1;

	if (oci_ref_parse(o->s[FOS_URL], ref, &e) < 0) {
		rp_strlcpy(s->text, e.msg, sizeof(s->text));
		goto out;
	}
	snprintf(url, sizeof(url), "https://%s/", ref->host);
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    strcasecmp(host, o->s[FOS_HOST]) != 0) {
		snprintf(s->text, sizeof(s->text),
		         "libcurl reads the registry host differently from rampartd");
		goto out;
	}
	ret = 0;
out:
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

/* GET the manifest, conditional on the digest of the one we hold. */
static int oci_job_manifest(struct oci_job *j)
{
	struct oci_session *s = &j->s;
	const struct oci_ref *ref = &s->ref;
	char path[OCI_MAX_REPO + OCI_MAX_TAG + 32], inm[FETCH_MAX_ETAG + 32];
	struct curl_slist *hdrs = curl_slist_append(NULL, OCI_ACCEPT), *tmp;
	int rc;

	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", ref->repo,
	         ref->digest[0] ? ref->digest : ref->tag);
	if (hdrs != NULL && j->etag != NULL) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", j->etag);
		if ((tmp = curl_slist_append(hdrs, inm)) != NULL)
			hdrs = tmp;
	}
	if (hdrs == NULL)
		return oci_fail(s, FWO_MANIFEST, "out of memory");
	rc = oci_call(s, "GET", path, hdrs, NULL, 0, OCI_MAX_MANIFEST, &j->man);
	curl_slist_free_all(hdrs);
	if (rc < 0)
		return -1;
	if (j->man.status == 304 && j->etag != NULL) {
		j->unchanged = true;
		return 0;
	}
	if (j->man.status >= 300 && j->man.status < 400)
		return oci_fail(s, FWO_REDIRECT,
		                "the registry redirected the manifest request (HTTP %ld); "
		                "manifest redirects are not followed",
		                j->man.status);
	if (j->man.status != 200)
		return oci_fail(s, FWO_HTTP, "the registry answered HTTP %ld for the manifest %s%s",
		                j->man.status, ref->digest[0] ? "@" : ":",
		                ref->digest[0] ? ref->digest : ref->tag);
	return 0;
}

/* The manifest's own digest: computed, matched to the header, the pin and our ETag. */
static int oci_job_digest(struct oci_job *j)
{
	struct oci_session *s = &j->s;
	char quoted[OCI_DIGEST_LEN + 3];

	oci_sha256(j->man.body, j->man.len, j->man_digest);
	if (j->man.digest[0] != '\0' && strcmp(j->man.digest, j->man_digest) != 0)
		return oci_fail(s, FWO_DIGEST,
		                "the manifest's bytes hash to %s but the registry calls it %s",
		                j->man_digest, j->man.digest);
	if (s->ref.digest[0] != '\0' && strcmp(s->ref.digest, j->man_digest) != 0)
		return oci_fail(s, FWO_PIN,
		                "the registry answered with manifest %s, not the pinned %s",
		                j->man_digest, s->ref.digest);
	snprintf(quoted, sizeof(quoted), "\"%s\"", j->man_digest);
	if (j->etag != NULL && strcmp(j->etag, quoted) == 0)
		j->unchanged = true; /* the registry ignored If-None-Match: same bytes */
	return 0;
}

static int oci_job_blob(struct oci_job *j)
{
	struct oci_session *s = &j->s;
	char got[OCI_DIGEST_LEN + 1];

	if (oci_get_blob(s, j->layer.digest, (size_t)j->layer.size, &j->blob) < 0) {
		if (s->too_large)
			return oci_fail(s, FWO_DIGEST,
			                "the registry sent more than the %llu bytes the manifest "
			                "declares for the policy layer",
			                j->layer.size);
		return -1;
	}
	if (j->blob.status != 200)
		return oci_fail(s, FWO_HTTP, "the registry answered HTTP %ld for the policy layer",
		                j->blob.status);
	oci_sha256(j->blob.body, j->blob.len, got);
	if (j->blob.len != j->layer.size || strcmp(got, j->layer.digest) != 0)
		return oci_fail(s, FWO_DIGEST,
		                "the policy layer does not match the manifest (%zu bytes hashing "
		                "to %s; the manifest says %llu bytes, %s); nothing was parsed",
		                j->blob.len, got, j->layer.size, j->layer.digest);
	return 0;
}

static int oci_job_run(struct oci_job *j)
{
	struct rp_err e;

	if (oci_job_manifest(j) < 0)
		return -1;
	if (j->unchanged)
		return 0;
	if (oci_job_digest(j) < 0)
		return -1;
	if (j->unchanged)
		return 0;
	if (oci_manifest_parse(j->man.body, j->man.len, j->man.content_type, j->s.ref.repo, j->max,
	                       &j->layer, &e) < 0)
		return oci_fail(&j->s, oci_fwo_of(e.code), "%s", e.msg);
	return oci_job_blob(j);
}

static void oci_net_from(const struct fx_opts *o, struct oci_net *n)
{
	memset(n, 0, sizeof(*n));
	n->insecure = (o->h.flags & FETCH_OPT_INSECURE) != 0;
	n->ca = o->s[FOS_CA];
	n->ca_len = o->len[FOS_CA];
	n->pin = o->s[FOS_PIN];
	n->proxy = o->s[FOS_PROXY];
	n->cred = o->s[FOS_CRED];
	n->blob_hosts = o->s[FOS_BLOB_HOSTS];
	n->connect_ms = (long)o->h.connect_ms;
	n->total_ms = (long)o->h.total_ms;
	n->low_bytes = (long)o->h.low_bytes;
	n->low_s = (long)o->h.low_s;
	n->user_agent = "rampartd/" RAMPART_VERSION;
}

static void oci_job_reply(struct oci_job *j, int rc, struct fx_body *b, struct fetch_wire *w)
{
	struct oci_session *s = &j->s;

	w->requests = s->requests;
	w->bytes_in = s->bytes_in;
	w->http_code = (int32_t)(j->blob.status ? j->blob.status : j->man.status);
	rp_strlcpy(w->text, s->text, sizeof(w->text));
	if (rc == 0 && j->unchanged) {
		w->kind = FW_NOT_MODIFIED;
		return;
	}
	if (rc == 0) {
		w->kind = FW_OK;
		snprintf(w->etag, sizeof(w->etag), "\"%s\"", j->man_digest);
		b->buf = j->blob.body;
		b->len = j->blob.len;
		w->body_len = b->len;
		j->blob.body = NULL;
	} else if (s->fwo >= 0) {
		w->kind = FW_OCI;
		w->err_class = (uint32_t)s->fwo;
	} else if (s->too_large) {
		w->kind = FW_OCI;
		w->err_class = FWO_MANIFEST;
	} else {
		w->kind = FW_CURL;
		w->curl_code = (int32_t)s->curl_rc;
	}
}

void oci_fetch(const struct fx_opts *o, struct fx_body *b, struct fetch_wire *w)
{
	struct oci_job j;
	struct oci_ref ref;
	struct oci_net net;
	int rc = -1;

	memset(&j, 0, sizeof(j));
	j.s.fwo = -1;
	oci_net_from(o, &net);
	if (oci_job_ref(o, &ref, &j.s) < 0) {
		w->kind = FW_URL;
		rp_strlcpy(w->text, j.s.text, sizeof(w->text));
		return;
	}
	j.etag = o->s[FOS_ETAG];
	j.max = o->h.max_bytes;
	if (oci_session_init(&j.s, &ref, &net, "pull") == 0)
		rc = oci_job_run(&j);
	oci_job_reply(&j, rc, b, w);
	oci_session_free(&j.s);
	oci_resp_free(&j.man);
	oci_resp_free(&j.blob);
}
