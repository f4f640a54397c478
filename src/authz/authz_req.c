/* SPDX-License-Identifier: ISC */
/*
 * Parses what dockerd posts to /AuthZPlugin.AuthZReq and .AuthZRes (moby
 * pkg/authorization: RequestMethod, RequestUri, RequestHeaders, RequestBody
 * as base64) and splits the URI the way dockerd's own Go router reads it.
 * Everything here is untrusted: every length is bounded, every escape
 * checked, and anything ambiguous is an error so the caller can refuse it.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authz.h"

static int req_b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Go's base64.StdEncoding (what encoding/json writes for []byte): padded, strict. */
static int req_b64_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char *buf;
	size_t i, o = 0, pad = 0;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && in[n - 1] == '=')
		pad = (n > 1 && in[n - 2] == '=') ? 2 : 1;
	if ((buf = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4];
		size_t k, real = (i + 4 == n) ? 4 - pad : 4;
		for (k = 0; k < 4; k++) {
			v[k] = k < real ? req_b64_val((unsigned char)in[i + k]) : 0;
			if (v[k] < 0)
				goto bad;
		}
		buf[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (real > 2)
			buf[o++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (real > 3)
			buf[o++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
bad:
	free(buf);
	return -1;
}

/* One header, matched case-insensitively; two spellings of it are refused. */
static int req_header(json_t *hdrs, const char *name, char *dst, size_t size, bool *has,
                      struct rp_err *err)
{
	const char *k;
	json_t *v;

	json_object_foreach (hdrs, k, v) {
		if (strcasecmp(k, name) != 0)
			continue;
		if (*has || !json_is_string(v) || json_string_length(v) >= size)
			return rp_seterr(err, "E_AUTHZ_FIELD",
			                 "RequestHeaders %s is repeated, not a string or too long",
			                 name);
		memcpy(dst, json_string_value(v), json_string_length(v) + 1);
		*has = true;
	}
	return 0;
}

static int req_headers(json_t *hdrs, struct authz_req *out, struct rp_err *err)
{
	if (hdrs == NULL || json_is_null(hdrs))
		return 0;
	if (!json_is_object(hdrs))
		return rp_seterr(err, "E_AUTHZ_FIELD", "RequestHeaders must be an object");
	if (req_header(hdrs, "Content-Type", out->content_type, sizeof(out->content_type),
	               &out->has_content_type, err) < 0 ||
	    req_header(hdrs, "Content-Length", out->content_length, sizeof(out->content_length),
	               &out->has_content_length, err) < 0)
		return -1;
	return 0;
}

static int req_string(json_t *root, const char *key, bool required, char *dst, size_t size,
                      struct rp_err *err)
{
	json_t *v = json_object_get(root, key);

	if (v == NULL || json_is_null(v)) {
		if (required)
			return rp_seterr(err, "E_AUTHZ_FIELD", "%s is missing", key);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return rp_seterr(err, "E_AUTHZ_FIELD",
		                 "%s must be a string of at most %zu bytes without NUL", key,
		                 size - 1);
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int req_fields(json_t *root, struct authz_req *out, struct rp_err *err)
{
	char uri[AUTHZ_MAX_URI + 1];
	json_t *body;

	if (!json_is_object(root))
		return rp_seterr(err, "E_AUTHZ_JSON", "the request must be a JSON object");
	if (req_string(root, "RequestMethod", true, out->method, sizeof(out->method), err) ||
	    req_string(root, "RequestUri", true, uri, sizeof(uri), err) ||
	    req_string(root, "User", false, out->user, sizeof(out->user), err) ||
	    req_headers(json_object_get(root, "RequestHeaders"), out, err))
		return -1;
	if ((out->uri = strdup(uri)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	body = json_object_get(root, "RequestBody");
	if (body == NULL || json_is_null(body))
		return 0;
	if (!json_is_string(body) ||
	    req_b64_decode(json_string_value(body), json_string_length(body), &out->body,
	                   &out->body_len) < 0)
		return rp_seterr(err, "E_AUTHZ_FIELD", "RequestBody must be base64 (or null)");
	return 0;
}

int authz_req_parse(const char *json, size_t len, struct authz_req *out, struct rp_err *err)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > AUTHZ_MAX_REQUEST)
		return rp_seterr(err, "E_AUTHZ_SIZE", "request is larger than %u bytes",
		                 AUTHZ_MAX_REQUEST);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return rp_seterr(err, "E_AUTHZ_JSON", "request is not valid JSON: %.200s",
		                 jerr.text);
	rc = req_fields(root, out, err);
	json_decref(root);
	if (rc < 0)
		authz_req_free(out);
	return rc;
}

void authz_req_free(struct authz_req *r)
{
	free(r->uri);
	free(r->body);
	r->uri = NULL;
	r->body = NULL;
	r->body_len = 0;
}

/* --- URI ------------------------------------------------------------------ */

static int uri_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into dst (plus_space: '+' is ' ', as in a query). */
static int uri_unescape(const char *s, size_t n, bool plus_space, char *dst, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -1;
			hi = uri_hex((unsigned char)s[i + 1]);
			lo = uri_hex((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (c == '\0' || o + 1 >= size)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

/* path.Clean in place for an absolute path: "//" -> "/", "." and ".." resolved. */
static void uri_clean(char *p)
{
	char *r = p, *w = p;

	while (*r) {
		if (r[0] == '/' && (r[1] == '/' || r[1] == '\0')) {
			r++;
		} else if (r[0] == '/' && r[1] == '.' && (r[2] == '/' || r[2] == '\0')) {
			r += 2;
		} else if (r[0] == '/' && r[1] == '.' && r[2] == '.' &&
		           (r[3] == '/' || r[3] == '\0')) {
			r += 3;
			while (w > p && *--w != '/')
				;
		} else {
			do
				*w++ = *r++;
			while (*r && *r != '/');
		}
	}
	if (w == p)
		*w++ = '/';
	*w = '\0';
}

/* Drops a leading "/v1.41" (dockerd's router: /v{version:[0-9.]+}). */
static void uri_strip_version(char *p)
{
	size_t n = 2;

	if (p[0] != '/' || (p[1] != 'v' && p[1] != 'V'))
		return;
	while (p[n] == '.' || (p[n] >= '0' && p[n] <= '9'))
		n++;
	if (n == 2 || (p[n] != '/' && p[n] != '\0'))
		return;
	memmove(p, p + n, strlen(p + n) + 1);
	if (*p == '\0')
		strcpy(p, "/");
}

int authz_uri_split(const char *uri, char *path, size_t pathlen, const char **query,
                    struct rp_err *err)
{
	const char *p = uri, *q;

	/* net/http accepts the absolute form "http://host/path" too. */
	if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
		p = strstr(p, "://") + 3;
		p += strcspn(p, "/?");
	}
	if (*p != '/' && *p != '?' && *p != '\0')
		return rp_seterr(err, "E_AUTHZ_URI", "RequestURI is not an absolute path");
	q = strchr(p, '?');
	*query = q ? q + 1 : "";
	if (pathlen < 2)
		return rp_seterr(err, "E_AUTHZ_URI", "RequestURI path buffer too small");
	path[0] = '/';
	if (uri_unescape(p, q ? (size_t)(q - p) : strlen(p), false, path + (*p == '/' ? 0 : 1),
	                 pathlen - 1) < 0)
		return rp_seterr(err, "E_AUTHZ_URI",
		                 "RequestURI path has a bad %%-escape, a NUL or is too long");
	uri_clean(path);
	uri_strip_version(path);
	return 0;
}

int authz_query_get(const char *query, const char *key, char *val, size_t vallen,
                    struct rp_err *err)
{
	char k[256];
	const char *p = query;
	int found = 0;

	if (strchr(query, ';') != NULL)
		return rp_seterr(err, "E_AUTHZ_QUERY", "query contains ';' (ambiguous separator)");
	while (*p) {
		size_t n = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		size_t kn = eq ? (size_t)(eq - p) : n;
		if (n > 0) {
			if (uri_unescape(p, kn, true, k, sizeof(k)) < 0)
				return rp_seterr(err, "E_AUTHZ_QUERY",
				                 "query has a bad %%-escape or an over-long name");
			if (strcmp(k, key) == 0) {
				if (found++)
					return rp_seterr(err, "E_AUTHZ_QUERY",
					                 "query parameter %s is given twice", key);
				if (uri_unescape(eq ? eq + 1 : p + n, eq ? n - kn - 1 : 0, true,
				                 val, vallen) < 0)
					return rp_seterr(err, "E_AUTHZ_QUERY",
					                 "query parameter %s has a bad %%-escape "
					                 "or is too long",
					                 key);
			}
		}
		p += n;
		if (*p == '&')
			p++;
	}
	return found;
}
