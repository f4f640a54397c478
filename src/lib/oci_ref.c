/* SPDX-License-Identifier: ISC */
/*
 * oci:// policy URLs and the artifact manifest (see oci_ref.h).  The URL comes
 * from the root-owned config; the manifest comes from the registry and is
 * untrusted: every field is type- and length-checked, unknown layers are
 * ignored, and nothing here allocates more than jansson does for 64 KiB.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oci_ref.h"

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGIT "0123456789"

bool oci_is_url(const char *url)
{
	return url != NULL && strncasecmp(url, OCI_SCHEME, strlen(OCI_SCHEME)) == 0;
}

void oci_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

bool oci_digest_valid(const char *s)
{
	return s != NULL && strncmp(s, "sha256:", 7) == 0 && strlen(s) == OCI_DIGEST_LEN &&
	       strspn(s + 7, DIGIT "abcdef") == 64;
}

static int oci_bad(struct rp_err *err, const char *url, const char *why)
{
	return rp_seterr(
	    err, "E_OCI_URL",
	    "the policy URL %.200s is not a valid OCI reference: %s; use "
	    "oci://HOST[:PORT]/REPOSITORY:TAG or oci://HOST[:PORT]/REPOSITORY@sha256:HEX",
	    url, why);
}

/* strspn bounded to n bytes. */
static size_t oci_span(const char *s, size_t n, const char *set)
{
	size_t i = 0;

	while (i < n && s[i] != '\0' && strchr(set, s[i]) != NULL)
		i++;
	return i;
}

/* One path component: [a-z0-9]+ joined by '.', '_', '__' or runs of '-'. */
static bool oci_component_ok(const char *s, size_t n)
{
	size_t i = 0, sep;

	if (n == 0)
		return false;
	for (;;) {
		size_t alnum = oci_span(s + i, n - i, LOWER DIGIT);
		if (alnum == 0)
			return false;
		i += alnum;
		if (i == n)
			return true;
		sep = oci_span(s + i, n - i, "._-");
		if (!(sep == 1 || (sep == 2 && s[i] == '_' && s[i + 1] == '_') ||
		      oci_span(s + i, sep, "-") == sep))
			return false;
		i += sep;
	}
}

static bool oci_repo_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || n > OCI_MAX_REPO)
		return false;
	while (i <= n) {
		const char *slash = memchr(s + i, '/', n - i);
		size_t c = slash != NULL ? (size_t)(slash - (s + i)) : n - i;
		if (!oci_component_ok(s + i, c))
			return false;
		i += c + 1;
	}
	return true;
}

static bool oci_tag_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= OCI_MAX_TAG &&
	       strchr(LOWER DIGIT "_ABCDEFGHIJKLMNOPQRSTUVWXYZ", s[0]) &&
	       strspn(s, LOWER DIGIT "._-ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n;
}

/* HOST[:PORT] in a[0..n): a name, an IPv4 address or a bracketed IPv6 literal. */
static int oci_authority(const char *url, const char *a, size_t n, struct oci_ref *r,
                         struct rp_err *err)
{
	size_t h;

	if (memchr(a, '@', n) != NULL)
		return rp_seterr(err, "E_OCI_URL",
		                 "the policy URL carries a user name or password; credentials "
		                 "go in policy.registry_credentials, never in the URL");
	if (n > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', n);
		h = close != NULL ? (size_t)(close - a) + 1 : 0;
		if (h < 4 || strspn(a + 1, DIGIT "abcdefABCDEF:.") != h - 2)
			return oci_bad(err, url,
			               "the IPv6 host must be [hex:digits] without a zone");
	} else {
		h = strspn(a, LOWER DIGIT "-._ABCDEFGHIJKLMNOPQRSTUVWXYZ");
		if (h > n)
			h = n;
		if (h == 0 || a[0] == '-' || a[0] == '.')
			return oci_bad(err, url, "the registry host is missing or malformed");
	}
	if (h > OCI_MAX_HOST)
		return oci_bad(err, url, "the registry host is too long");
	if (h < n) {
		size_t d = strspn(a + h + 1, DIGIT);
		long v = d >= 1 && d <= 5 ? strtol(a + h + 1, NULL, 10) : 0;
		if (a[h] != ':' || h + 1 + d != n || v < 1 || v > 65535)
			return oci_bad(err, url, "the port must be a number from 1 to 65535");
		r->port = (int)v;
	}
	memcpy(r->host, a, h);
	r->host[h] = '\0';
	for (char *p = r->host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

int oci_ref_parse(const char *url, struct oci_ref *r, struct rp_err *err)
{
	const char *a, *path, *at, *colon;
	size_t alen, plen, len;

	memset(r, 0, sizeof(*r));
	if (!oci_is_url(url))
		return rp_seterr(err, "E_OCI_URL", "the policy URL does not start with oci://");
	len = strlen(url);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
			return rp_seterr(err, "E_OCI_URL",
			                 "the policy URL has spaces or control characters");
	if (strpbrk(url, "?#\\%") != NULL)
		return oci_bad(err, url, "queries, fragments, escapes and '\\' are not allowed");
	a = url + strlen(OCI_SCHEME);
	path = strchr(a, '/');
	if (path == NULL)
		return oci_bad(err, url, "there is no repository after the host");
	alen = (size_t)(path - a);
	if (oci_authority(url, a, alen, r, err) < 0)
		return -1;
	path++;
	at = strchr(path, '@');
	if (at != NULL) {
		plen = (size_t)(at - path);
		if (!oci_digest_valid(at + 1))
			return oci_bad(err, url,
			               "a pinned digest must be sha256: followed by 64 lower-case "
			               "hex digits");
		memcpy(r->digest, at + 1, OCI_DIGEST_LEN + 1);
	} else {
		colon = strrchr(path, ':');
		if (colon == NULL || strchr(colon, '/') != NULL)
			return oci_bad(err, url,
			               "the tag or digest is missing (no implicit :latest for a "
			               "policy)");
		plen = (size_t)(colon - path);
		if (!oci_tag_ok(colon + 1))
			return oci_bad(err, url,
			               "the tag must be 1-128 of [A-Za-z0-9_.-], not starting with "
			               "'.' or '-'");
		memcpy(r->tag, colon + 1, strlen(colon + 1) + 1);
	}
	if (!oci_repo_ok(path, plen))
		return oci_bad(err, url,
		               "the repository must be lower-case components of [a-z0-9] "
		               "separated by '/' (joined inside by '.', '_', '__' or '-')");
	memcpy(r->repo, path, plen);
	r->repo[plen] = '\0';
	return 0;
}

/* ---- the artifact manifest ---------------------------------------------- */

static const char *oci_jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool oci_streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The manifest's own type: the JSON mediaType, else the Content-Type header. */
static int oci_manifest_kind(json_t *m, const char *content_type, struct rp_err *err)
{
	const char *mt = oci_jstr(m, "mediaType");
	char ct[128] = "";

	if (content_type != NULL) {
		size_t n = strcspn(content_type, "; \t");
		if (n < sizeof(ct)) {
			memcpy(ct, content_type, n);
			ct[n] = '\0';
		}
	}
	if (mt == NULL)
		mt = ct;
	if (oci_streq(mt, OCI_MT_INDEX) || oci_streq(mt, OCI_MT_DOCKER_LIST) ||
	    oci_streq(ct, OCI_MT_INDEX) || oci_streq(ct, OCI_MT_DOCKER_LIST) ||
	    json_object_get(m, "manifests") != NULL)
		return rp_seterr(err, "E_OCI_INDEX",
		                 "the registry answered with a manifest list / image index, not a "
		                 "policy artifact; publish the envelope with 'rampart-sign "
		                 "publish' (one OCI manifest, no index)");
	if (!oci_streq(mt, OCI_MT_MANIFEST) ||
	    !json_is_integer(json_object_get(m, "schemaVersion")) ||
	    json_integer_value(json_object_get(m, "schemaVersion")) != 2)
		return rp_seterr(err, "E_OCI_MANIFEST",
		                 "the manifest is not an OCI image manifest (schemaVersion 2, "
		                 "mediaType " OCI_MT_MANIFEST ")");
	return 0;
}

static int oci_manifest_type(json_t *m, struct rp_err *err)
{
	json_t *cfg = json_object_get(m, "config");
	const char *at = oci_jstr(m, "artifactType");
	const char *cmt = json_is_object(cfg) ? oci_jstr(cfg, "mediaType") : NULL;

	if (!json_is_object(cfg))
		return rp_seterr(err, "E_OCI_MANIFEST", "the manifest has no config descriptor");
	if (oci_streq(at, OCI_ARTIFACT_TYPE) || (at == NULL && oci_streq(cmt, OCI_ARTIFACT_TYPE)))
		return 0;
	return rp_seterr(
	    err, "E_OCI_MEDIA_TYPE",
	    "the manifest is not a rampart policy (artifactType must be " OCI_ARTIFACT_TYPE
	    "); check that the tag points at the policy");
}

static int oci_manifest_repo(json_t *m, const char *repo, struct rp_err *err)
{
	json_t *ann = json_object_get(m, "annotations");
	const char *named = json_is_object(ann) ? oci_jstr(ann, OCI_ANN_REPOSITORY) : NULL;

	if (named == NULL)
		return rp_seterr(err, "E_OCI_REPOSITORY",
		                 "the manifest does not say which repository it was published "
		                 "to (annotation " OCI_ANN_REPOSITORY "); republish with "
		                 "'rampart-sign publish'");
	if (strcmp(named, repo) != 0)
		return rp_seterr(err, "E_OCI_REPOSITORY",
		                 "the registry answered with the manifest of another repository "
		                 "(published to \"%.100s\", asked for \"%.100s\")",
		                 oci_repo_ok(named, strlen(named)) ? named : "(invalid name)",
		                 repo);
	return 0;
}

static int oci_manifest_layer(json_t *m, unsigned long long max_size, struct oci_layer *out,
                              struct rp_err *err)
{
	json_t *layers = json_object_get(m, "layers"), *l, *sz, *found = NULL;
	size_t i;

	if (!json_is_array(layers))
		return rp_seterr(err, "E_OCI_MANIFEST", "the manifest has no layers array");
	json_array_foreach (layers, i, l) {
		if (!json_is_object(l))
			return rp_seterr(err, "E_OCI_MANIFEST", "layer %zu is not an object", i);
		if (!oci_streq(oci_jstr(l, "mediaType"), OCI_MT_POLICY))
			continue; /* other layers (a root chain, later) are not ours to read here */
		if (found != NULL)
			return rp_seterr(err, "E_OCI_MANIFEST",
			                 "the manifest has more than one " OCI_MT_POLICY
			                 " layer; refusing to choose");
		found = l;
	}
	if (found == NULL)
		return rp_seterr(err, "E_OCI_MEDIA_TYPE",
		                 "no layer of media type " OCI_MT_POLICY " in the manifest");
	sz = json_object_get(found, "size");
	if (!oci_digest_valid(oci_jstr(found, "digest")) || !json_is_integer(sz) ||
	    json_integer_value(sz) < 1)
		return rp_seterr(err, "E_OCI_MANIFEST",
		                 "the policy layer needs a sha256 digest and a positive size");
	if ((unsigned long long)json_integer_value(sz) > max_size)
		return rp_seterr(err, "E_FETCH_TOO_LARGE",
		                 "the policy layer is %lld bytes, above the %llu-byte limit "
		                 "(policy.max_bytes); nothing was downloaded",
		                 (long long)json_integer_value(sz), max_size);
	memcpy(out->digest, oci_jstr(found, "digest"), OCI_DIGEST_LEN + 1);
	out->size = (unsigned long long)json_integer_value(sz);
	return 0;
}

int oci_manifest_parse(const unsigned char *buf, size_t len, const char *content_type,
                       const char *repo, unsigned long long max_size, struct oci_layer *out,
                       struct rp_err *err)
{
	json_error_t je;
	json_t *m = NULL;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (len > OCI_MAX_MANIFEST)
		return rp_seterr(err, "E_OCI_MANIFEST", "the manifest is larger than %u bytes",
		                 OCI_MAX_MANIFEST);
	m = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(m)) {
		rp_seterr(err, "E_OCI_MANIFEST", "the manifest is not a JSON object");
		goto out;
	}
	if (oci_manifest_kind(m, content_type, err) < 0 || oci_manifest_type(m, err) < 0 ||
	    oci_manifest_layer(m, max_size, out, err) < 0 || oci_manifest_repo(m, repo, err) < 0)
		goto out;
	ret = 0;
out:
	json_decref(m);
	return ret;
}
