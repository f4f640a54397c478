/* SPDX-License-Identifier: ISC */
/*
 * A small client for the OCI distribution API over libcurl, shared by the
 * rampart-fetch helper (pull, unprivileged) and rampart-sign publish (push,
 * the admin's own tool).  It handles registry auth as registries do it
 * (anonymous, Bearer from WWW-Authenticate, basic), counts requests and
 * bytes, and keeps credentials out of every message it produces.
 */
#ifndef RAMPART_OCI_CLIENT_H
#define RAMPART_OCI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "oci_ref.h"

#define OCI_MAX_TOKEN 8192
#define OCI_MAX_LOCATION 8192
#define OCI_MAX_AUTH_HEADER 2048

/* How to reach the registry: the same TLS and time limits as a plain fetch. */
struct oci_net {
	bool insecure;  /* http:// to a literal loopback address (tests only) */
	const char *ca; /* PEM bundle bytes replacing the system CAs, or NULL */
	size_t ca_len;
	const char *pin;        /* "sha256//..." or NULL */
	const char *proxy;      /* explicit proxy or NULL (the environment is never read) */
	const char *cred;       /* "user:password" or NULL: never printed */
	const char *blob_hosts; /* hosts a blob may be redirected to, ',' joined, or NULL */
	long connect_ms, total_ms, low_bytes, low_s;
	const char *user_agent;
};

struct oci_resp {
	long status;
	unsigned char *body;
	size_t len, cap, max;
	bool too_large;
	char content_type[128];
	char digest[OCI_DIGEST_LEN + 1]; /* Docker-Content-Digest, "" if absent or invalid */
	char location[OCI_MAX_LOCATION + 1];
	char www_auth[OCI_MAX_AUTH_HEADER + 1];
	bool header_overflow;
};

enum oci_auth { OCI_AUTH_NONE = 0, OCI_AUTH_BASIC, OCI_AUTH_BEARER };

struct oci_session {
	CURL *h;
	struct oci_net net;
	struct oci_ref ref;
	char base[OCI_MAX_HOST + 32]; /* "https://host:port" */
	const char *actions;          /* "pull" or "pull,push" */
	enum oci_auth auth;
	bool challenged; /* one auth round per session: no loops */
	char token[OCI_MAX_TOKEN + 1];
	long long deadline_ms;
	/* measured */
	unsigned requests;
	unsigned long long bytes_in;
	/* the failure, for the caller: a FWO_* row or a curl code, and a sentence */
	int fwo;          /* -1 = none */
	CURLcode curl_rc; /* != CURLE_OK when libcurl failed */
	bool too_large;
	char text[256];
};

/* Sets the session up for ref; actions "pull" or "pull,push".  0 or -1 (text set). */
int oci_session_init(struct oci_session *s, const struct oci_ref *ref, const struct oci_net *net,
                     const char *actions);
void oci_session_free(struct oci_session *s);

/*
 * One request to the registry at path (below base, e.g. "/v2/acme/p/manifests/x")
 * with the session's auth; on a 401 with a challenge it authenticates once
 * (Bearer token or basic) and retries.  headers may be NULL.  Body capped at
 * max bytes (too_large set).  Redirects are not followed here; see
 * oci_get_blob().  Returns 0 when an HTTP answer arrived (check r->status),
 * -1 when libcurl failed or auth could not proceed (s->text says why).
 */
int oci_call(struct oci_session *s, const char *method, const char *path,
             struct curl_slist *headers, const void *upload, size_t upload_len, size_t max,
             struct oci_resp *r);

/*
 * GET a blob, following up to FETCH_MAX_REDIRECTS redirects: to the registry
 * host itself (auth kept), or to a host in net.blob_hosts over https (auth
 * dropped); any other redirect is refused (FWO_REDIRECT).
 */
int oci_get_blob(struct oci_session *s, const char *digest, size_t max, struct oci_resp *r);

void oci_resp_free(struct oci_resp *r);

/* Sets s->fwo and s->text; returns -1. */
int oci_fail(struct oci_session *s, int fwo, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lower-case hex SHA-256 of buf as "sha256:...". */
void oci_sha256(const void *buf, size_t len, char out[OCI_DIGEST_LEN + 1]);

#endif
