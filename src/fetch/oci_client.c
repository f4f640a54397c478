/* SPDX-License-Identifier: ISC */
/*
 * The distribution API client (see oci_client.h).  Everything the registry
 * and its token server send is untrusted: headers are length-capped and only
 * the few we use are kept, bodies are capped, a challenge is answered once
 * per session, a token realm and a redirect must be https (http only to a
 * loopback literal in test mode), and credentials travel only in libcurl's
 * auth options (never in a URL, a header list or a message).
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/sha.h>

#include "fetch_wire.h"
#include "oci_client.h"

static long long oci_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int oci_fail(struct oci_session *s, int fwo, const char *fmt, ...)
{
	va_list ap;

	s->fwo = fwo;
	va_start(ap, fmt);
	vsnprintf(s->text, sizeof(s->text), fmt, ap);
	va_end(ap);
	return -1;
}

void oci_sha256(const void *buf, size_t len, char out[OCI_DIGEST_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(buf, len, md);
	memcpy(out, "sha256:", 7);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[OCI_DIGEST_LEN] = '\0';
}

int oci_session_init(struct oci_session *s, const struct oci_ref *ref, const struct oci_net *net,
                     const char *actions)
{
	memset(s, 0, sizeof(*s));
	s->fwo = -1;
	s->net = *net;
	s->ref = *ref;
	s->actions = actions;
	s->deadline_ms = oci_now_ms() + (net->total_ms > 0 ? net->total_ms : 60000);
	if (ref->port > 0)
		snprintf(s->base, sizeof(s->base), "%s://%s:%d", net->insecure ? "http" : "https",
		         ref->host, ref->port);
	else
		snprintf(s->base, sizeof(s->base), "%s://%s", net->insecure ? "http" : "https",
		         ref->host);
	if ((s->h = curl_easy_init()) == NULL)
		return oci_fail(s, FWO_MANIFEST, "libcurl could not be initialised");
	return 0;
}

void oci_session_free(struct oci_session *s)
{
	if (s->h != NULL)
		curl_easy_cleanup(s->h);
	oci_wipe(s->token, sizeof(s->token));
	s->h = NULL;
}

void oci_resp_free(struct oci_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* ---- callbacks ---------------------------------------------------------- */

static size_t oci_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct oci_resp *r = ud;
	size_t n = size * nmemb;

	if (n > r->max - r->len) {
		r->too_large = true;
		return 0;
	}
	if (r->len + n > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		unsigned char *nb;
		while (cap < r->len + n)
			cap *= 2;
		if (cap > r->max)
			cap = r->max;
		if ((nb = realloc(r->body, cap)) == NULL)
			return 0;
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	return n;
}

/* Copies the value of "Name: value" into dst if the header is name; 1 if it was. */
static int oci_header_value(const char *p, size_t n, const char *name, char *dst, size_t size,
                            bool *overflow)
{
	size_t nl = strlen(name);
	const char *v, *end = p + n;

	if (n <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
		return 0;
	v = p + nl + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if ((size_t)(end - v) >= size || !fetch_wire_printable(v, (size_t)(end - v), size - 1)) {
		*overflow = true;
		return 1;
	}
	memcpy(dst, v, (size_t)(end - v));
	dst[end - v] = '\0';
	return 1;
}

static size_t oci_header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct oci_resp *r = ud;
	size_t n = size * nmemb;
	char tmp[OCI_MAX_AUTH_HEADER + 1];
	bool junk = false;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) { /* a new response starts */
		r->content_type[0] = r->digest[0] = r->location[0] = r->www_auth[0] = '\0';
		return n;
	}
	oci_header_value(ptr, n, "content-type", r->content_type, sizeof(r->content_type), &junk);
	oci_header_value(ptr, n, "location", r->location, sizeof(r->location), &r->header_overflow);
	if (oci_header_value(ptr, n, "docker-content-digest", tmp, sizeof(tmp), &junk) &&
	    oci_digest_valid(tmp))
		memcpy(r->digest, tmp, OCI_DIGEST_LEN + 1);
	/* several challenges may come: keep the first Bearer, else the first one */
	if (oci_header_value(ptr, n, "www-authenticate", tmp, sizeof(tmp), &junk) &&
	    (r->www_auth[0] == '\0' ||
	     (strncasecmp(r->www_auth, "bearer ", 7) != 0 && strncasecmp(tmp, "bearer ", 7) == 0)))
		memcpy(r->www_auth, tmp, strlen(tmp) + 1);
	return n;
}

/* ---- one HTTP exchange ---------------------------------------------------- */

static int oci_setopts(struct oci_session *s, const char *method, const char *url,
                       struct curl_slist *headers, const void *upload, size_t upload_len,
                       enum oci_auth auth, struct oci_resp *r, char *errbuf)
{
	const struct oci_net *n = &s->net;
	long left = (long)(s->deadline_ms - oci_now_ms());
	CURL *h = s->h;
	int bad = 0;

	if (left <= 0)
		return -2;
#define SET(opt, val) bad |= curl_easy_setopt(h, opt, val) != CURLE_OK
	curl_easy_reset(h); /* options only: the connection stays open for the next call */
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_URL, url);
	/* test mode reaches loopback over http; realms and redirects are checked before */
	SET(CURLOPT_PROTOCOLS_STR, n->insecure ? "http,https" : "https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_DISALLOW_USERNAME_IN_URL, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, n->connect_ms > 0 ? n->connect_ms : 10000L);
	SET(CURLOPT_TIMEOUT_MS, left);
	if (n->low_bytes > 0 && n->low_s > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, n->low_bytes);
		SET(CURLOPT_LOW_SPEED_TIME, n->low_s);
	}
	SET(CURLOPT_WRITEFUNCTION, oci_write_cb);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_HEADERFUNCTION, oci_header_cb);
	SET(CURLOPT_HEADERDATA, r);
	SET(CURLOPT_PROXY, n->proxy != NULL && !n->insecure ? n->proxy : "");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_USERAGENT, n->user_agent != NULL ? n->user_agent : "rampart");
	if (n->ca != NULL) {
		struct curl_blob blob = {(void *)n->ca, n->ca_len, CURL_BLOB_COPY};
		SET(CURLOPT_CAINFO_BLOB, &blob);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	if (n->pin != NULL)
		SET(CURLOPT_PINNEDPUBLICKEY, n->pin);
	if (headers != NULL)
		SET(CURLOPT_HTTPHEADER, headers);
	if (auth == OCI_AUTH_BEARER) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		SET(CURLOPT_XOAUTH2_BEARER, s->token);
	} else if (auth == OCI_AUTH_BASIC && n->cred != NULL) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERPWD, n->cred);
	}
	if (strcmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		SET(CURLOPT_CUSTOMREQUEST, method);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)upload_len);
		SET(CURLOPT_POSTFIELDS, upload != NULL ? upload : "");
	}
#undef SET
	return bad ? -1 : 0;
}

/* Runs one request to an absolute URL; 0 when an HTTP answer came. */
static int oci_perform(struct oci_session *s, const char *method, const char *url,
                       struct curl_slist *headers, const void *upload, size_t upload_len,
                       size_t max, enum oci_auth auth, struct oci_resp *r)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_off_t dl = 0;
	long hsize = 0;
	int rc;

	oci_resp_free(r);
	r->max = max;
	rc = oci_setopts(s, method, url, headers, upload, upload_len, auth, r, errbuf);
	if (rc == -2) {
		s->curl_rc = CURLE_OPERATION_TIMEDOUT;
		snprintf(s->text, sizeof(s->text), "the registry did not answer in time");
		return -1;
	}
	if (rc < 0)
		return oci_fail(s, FWO_MANIFEST, "libcurl refused an option (too old a libcurl?)");
	s->curl_rc = curl_easy_perform(s->h);
	s->requests++;
	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(s->h, CURLINFO_HEADER_SIZE, &hsize);
	curl_easy_getinfo(s->h, CURLINFO_SIZE_DOWNLOAD_T, &dl);
	s->bytes_in += (unsigned long long)hsize + (unsigned long long)dl;
	if (s->curl_rc == CURLE_WRITE_ERROR && r->too_large) {
		s->too_large = true;
		snprintf(s->text, sizeof(s->text), "the answer is larger than the %zu-byte limit",
		         max);
		return -1;
	}
	if (s->curl_rc != CURLE_OK) {
		/* libcurl's own sentence: it names hosts and TLS errors, never credentials */
		snprintf(s->text, sizeof(s->text), "%s",
		         errbuf[0] ? errbuf : curl_easy_strerror(s->curl_rc));
		return -1;
	}
	s->curl_rc = CURLE_OK;
	return 0;
}

/* ---- the auth challenge --------------------------------------------------- */

/* Next auth-param of a challenge: key=value or key="value"; 0 at the end. */
static int oci_param(const char **pp, char *key, size_t ksize, char *val, size_t vsize)
{
	const char *p = *pp;
	size_t k = 0, v = 0;

	while (*p == ' ' || *p == ',')
		p++;
	if (*p == '\0')
		return 0;
	while (*p != '\0' && *p != '=' && *p != ',' && *p != ' ' && k + 1 < ksize)
		key[k++] = *p++;
	key[k] = '\0';
	if (*p != '=')
		return -1;
	p++;
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (v + 1 >= vsize)
				return -1;
			val[v++] = *p;
		}
		if (*p != '"')
			return -1;
		p++;
	} else {
		while (*p != '\0' && *p != ',' && *p != ' ' && v + 1 < vsize)
			val[v++] = *p++;
	}
	val[v] = '\0';
	*pp = p;
	return 1;
}

static bool oci_loopback_literal(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
	       strcmp(host, "::1") == 0;
}

/* The realm must be https (http only to a loopback literal in test mode), no user info. */
static int oci_realm_ok(struct oci_session *s, const char *realm)
{
	char *scheme = NULL, *host = NULL, *user = NULL;
	CURLU *u = curl_url();
	int ok = 0;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, realm, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_NO_USER)
		ok = strcmp(scheme, "https") == 0 ||
		     (s->net.insecure && strcmp(scheme, "http") == 0 && oci_loopback_literal(host));
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return ok ? 0 : -1;
}

static int oci_token_parse(struct oci_session *s, const struct oci_resp *r)
{
	json_t *j = json_loadb((const char *)r->body, r->len, 0, NULL), *t;
	const char *tok;
	int ret = -1;

	t = json_is_object(j) ? json_object_get(j, "token") : NULL;
	if (!json_is_string(t))
		t = json_is_object(j) ? json_object_get(j, "access_token") : NULL;
	tok = json_is_string(t) ? json_string_value(t) : NULL;
	if (tok == NULL || tok[0] == '\0' || strlen(tok) > OCI_MAX_TOKEN ||
	    !fetch_wire_printable(tok, strlen(tok), OCI_MAX_TOKEN) || strchr(tok, ' ') != NULL)
		oci_fail(s, FWO_AUTH, "the token server's answer has no usable token");
	else {
		memcpy(s->token, tok, strlen(tok) + 1);
		ret = 0;
	}
	json_decref(j);
	return ret;
}

/* Bearer: ask the realm for a token with our scope (and basic creds, if any). */
static int oci_bearer(struct oci_session *s, const char *params)
{
	char key[32], val[1024], realm[1024] = "", service[1024] = "", scope[600], url[4096];
	char *esc_service = NULL, *esc_scope = NULL;
	struct oci_resp r = {0};
	int rc, ret = -1;

	while ((rc = oci_param(&params, key, sizeof(key), val, sizeof(val))) > 0) {
		if (strcasecmp(key, "realm") == 0)
			snprintf(realm, sizeof(realm), "%s", val);
		else if (strcasecmp(key, "service") == 0)
			snprintf(service, sizeof(service), "%s", val);
	}
	if (rc < 0 || realm[0] == '\0')
		return oci_fail(s, FWO_AUTH, "the registry's Bearer challenge cannot be parsed");
	if (oci_realm_ok(s, realm) < 0)
		return oci_fail(s, FWO_AUTH,
		                "the registry's token realm is not an https URL; no credentials "
		                "were sent");
	snprintf(scope, sizeof(scope), "repository:%s:%s", s->ref.repo, s->actions);
	esc_service = curl_easy_escape(s->h, service, 0);
	esc_scope = curl_easy_escape(s->h, scope, 0);
	if (esc_service == NULL || esc_scope == NULL ||
	    snprintf(url, sizeof(url), "%s%cservice=%s&scope=%s", realm,
	             strchr(realm, '?') ? '&' : '?', esc_service, esc_scope) >= (int)sizeof(url)) {
		oci_fail(s, FWO_AUTH, "the token request URL is too long");
		goto out;
	}
	if (oci_perform(s, "GET", url, NULL, NULL, 0, 64 * 1024,
	                s->net.cred != NULL ? OCI_AUTH_BASIC : OCI_AUTH_NONE, &r) < 0) {
		if (s->too_large)
			oci_fail(s, FWO_AUTH, "the token server's answer is larger than 64 KiB");
		goto out;
	}
	if (r.status != 200) {
		oci_fail(s, FWO_AUTH, "the token server answered HTTP %ld%s", r.status,
		         r.status == 401 || r.status == 403
		             ? (s->net.cred != NULL ? " (credentials refused)"
		                                    : " (set policy.registry_credentials)")
		             : "");
		goto out;
	}
	if (oci_token_parse(s, &r) < 0)
		goto out;
	s->auth = OCI_AUTH_BEARER;
	ret = 0;
out:
	curl_free(esc_service);
	curl_free(esc_scope);
	oci_resp_free(&r);
	return ret;
}

/* A 401: answer its challenge once.  0 = retry the request, -1 = give up. */
static int oci_challenge(struct oci_session *s, const struct oci_resp *r)
{
	if (s->challenged)
		return oci_fail(s, FWO_AUTH,
		                "the registry still answers 401 after authentication; refusing "
		                "to loop (check policy.registry_credentials and the repository's "
		                "pull permission)");
	s->challenged = true;
	if (strncasecmp(r->www_auth, "bearer ", 7) == 0)
		return oci_bearer(s, r->www_auth + 7);
	if (strncasecmp(r->www_auth, "basic", 5) == 0) {
		if (s->net.cred == NULL)
			return oci_fail(s, FWO_AUTH,
			                "the registry requires credentials; name a root-only file "
			                "in policy.registry_credentials");
		s->auth = OCI_AUTH_BASIC;
		return 0;
	}
	return oci_fail(s, FWO_AUTH,
	                "the registry answered 401 without a Bearer or Basic challenge");
}

int oci_call(struct oci_session *s, const char *method, const char *path,
             struct curl_slist *headers, const void *upload, size_t upload_len, size_t max,
             struct oci_resp *r)
{
	char url[sizeof(s->base) + OCI_MAX_LOCATION];

	if (snprintf(url, sizeof(url), "%s%s", s->base, path) >= (int)sizeof(url))
		return oci_fail(s, FWO_MANIFEST, "the request URL is too long");
	for (;;) {
		if (oci_perform(s, method, url, headers, upload, upload_len, max, s->auth, r) < 0)
			return -1;
		if (r->status != 401)
			return 0;
		if (oci_challenge(s, r) < 0)
			return -1;
	}
}

/* ---- blobs and their redirects -------------------------------------------- */

static bool oci_host_listed(const char *list, const char *host)
{
	size_t hl = strlen(host);

	while (list != NULL && *list != '\0') {
		size_t n = strcspn(list, ",");
		if (n == hl && strncasecmp(list, host, n) == 0)
			return true;
		list += n + (list[n] == ',');
	}
	return false;
}

/*
 * Resolves a Location against the current URL and decides: 1 = same origin
 * (keep auth), 2 = an allowed blob host (drop auth), -1 = refused.
 */
static int oci_redirect_target(struct oci_session *s, const char *cur, const char *loc, char *out,
                               size_t size)
{
	char *scheme = NULL, *host = NULL, *port = NULL, *full = NULL, *user = NULL;
	CURLU *u = curl_url();
	char want_port[16];
	int ret = -1;

	snprintf(want_port, sizeof(want_port), "%d",
	         s->ref.port > 0 ? s->ref.port : (s->net.insecure ? 80 : 443));
	if (u == NULL || curl_url_set(u, CURLUPART_URL, cur, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_NO_USER ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK || strlen(full) >= size)
		goto out;
	if (strcmp(scheme, s->net.insecure ? "http" : "https") == 0 &&
	    strcasecmp(host, s->ref.host) == 0 && strcmp(port, want_port) == 0)
		ret = 1;
	else if (strcmp(scheme, "https") == 0 && oci_host_listed(s->net.blob_hosts, host))
		ret = 2;
	if (ret > 0)
		memcpy(out, full, strlen(full) + 1);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_free(full);
	curl_url_cleanup(u);
	return ret;
}

int oci_get_blob(struct oci_session *s, const char *digest, size_t max, struct oci_resp *r)
{
	char path[OCI_MAX_REPO + OCI_DIGEST_LEN + 32], url[OCI_MAX_LOCATION + 1];
	enum oci_auth auth;
	int hop;

	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", s->ref.repo, digest);
	if (oci_call(s, "GET", path, NULL, NULL, 0, max, r) < 0)
		return -1;
	snprintf(url, sizeof(url), "%s%s", s->base, path);
	auth = s->auth;
	for (hop = 0; r->status >= 300 && r->status < 400 && r->status != 304; hop++) {
		int kind;
		if (hop >= FETCH_MAX_REDIRECTS)
			return oci_fail(s, FWO_REDIRECT,
			                "the blob was redirected more than %d times",
			                FETCH_MAX_REDIRECTS);
		if (r->location[0] == '\0' || r->header_overflow)
			return oci_fail(
			    s, FWO_REDIRECT,
			    "the registry redirected the blob without a usable Location");
		kind = oci_redirect_target(s, url, r->location, url, sizeof(url));
		if (kind < 0)
			return oci_fail(
			    s, FWO_REDIRECT,
			    "the registry redirected the blob to another host or scheme; "
			    "list the storage host in policy.blob_redirect_hosts to allow it "
			    "(https only)");
		if (kind == 2)
			auth =
			    OCI_AUTH_NONE; /* storage URLs are pre-signed; our token stays home */
		if (oci_perform(s, "GET", url, NULL, NULL, 0, max, auth, r) < 0)
			return -1;
	}
	return 0;
}
