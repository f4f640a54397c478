/* SPDX-License-Identifier: ISC */
/*
 * Validates the signed policy payload and builds struct policy from it.  The
 * bytes have been verified by dsse_verify(), but a signer can still make
 * mistakes, so every field is checked strictly (unknown fields, duplicate
 * keys and duplicate hosts are refused) and every error names field and index.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "policy_match.h"
#include "policy_payload.h"
#include "reference.h"

/* The fields of each schema_version (schema/policy.schema.json; test_docs checks both). */
static const char *const payload_top_keys_v1[] = {
    "schema_version",   "org",        "version", "issued_at", "expires_at",
    "allow_docker_hub", "registries", NULL,
};
static const char *const payload_top_keys_v2[] = {
    "schema_version",   "org",        "version", "issued_at", "expires_at",
    "allow_docker_hub", "registries", "deny",    NULL,
};
static const char *const payload_reg_keys_v1[] = {"host", "nickname", NULL};
static const char *const payload_reg_keys_v2[] = {"host", "nickname", "mode", "companions", NULL};

static const char *payload_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction or exponent";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static int payload_known(json_t *obj, const char *const *keys, const char *where,
                         struct rp_err *err)
{
	const char *k;
	json_t *v;
	char esc[100];
	size_t i;

	json_object_foreach (obj, k, v) {
		for (i = 0; keys[i] != NULL && strcmp(keys[i], k) != 0; i++)
			;
		if (keys[i] == NULL) {
			log_escape(esc, sizeof(esc), k, strlen(k));
			return rp_seterr(err, "E_PAYLOAD",
			                 "%s%s: unknown field; the policy format has no such field "
			                 "(a typo?), so the policy was refused",
			                 where, esc);
		}
	}
	return 0;
}

/* Length in bytes of the UTF-8 sequence starting with c (input is valid UTF-8). */
static size_t payload_u8len(unsigned char c)
{
	return c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* NULL if s is acceptable display text, else a reason. */
static const char *payload_text_bad(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	unsigned int c;

	while (i < len) {
		n = payload_u8len(p[i]);
		if (n > len - i)
			return "is not valid UTF-8";
		c = n == 1 ? p[i] : p[i] & (0x7fu >> n);
		for (size_t k = 1; k < n; k++)
			c = c << 6 | (p[i + k] & 0x3fu);
		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
			return "contains a control character";
		if (c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
		    (c >= 0x2066 && c <= 0x2069))
			return "contains a line separator or a bidirectional control character";
		i += n;
	}
	return NULL;
}

static int payload_string(json_t *obj, const char *key, const char *field, bool required,
                          const char **s, size_t *len, struct rp_err *err)
{
	json_t *v = json_object_get(obj, key);

	*s = NULL;
	*len = 0;
	if (v == NULL)
		return required ? rp_seterr(err, "E_PAYLOAD", "%s: missing (required)", field) : 0;
	if (!json_is_string(v))
		return rp_seterr(err, "E_PAYLOAD", "%s: must be a string, not %s", field,
		                 payload_kind(v));
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

static int payload_org(json_t *root, struct policy *p, struct rp_err *err)
{
	const char *s, *why;
	size_t len;

	if (payload_string(root, "org", "org", true, &s, &len, err) < 0)
		return -1;
	if (len < 1 || len > POLICY_MAX_ORG)
		return rp_seterr(err, "E_PAYLOAD", "org: %zu bytes; it must have 1 to %d", len,
		                 POLICY_MAX_ORG);
	if ((why = payload_text_bad(s, len)) != NULL)
		return rp_seterr(err, "E_PAYLOAD", "org: %s", why);
	if (s[0] == ' ' || s[len - 1] == ' ')
		return rp_seterr(err, "E_PAYLOAD", "org: must not start or end with a space");
	if ((p->org = strdup(s)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	return 0;
}

static int payload_version(json_t *root, struct policy *p, struct rp_err *err)
{
	json_t *v = json_object_get(root, "version");

	if (v == NULL)
		return rp_seterr(err, "E_PAYLOAD", "version: missing (required)");
	if (!json_is_integer(v))
		return rp_seterr(err, "E_PAYLOAD",
		                 "version: must be a JSON integer like 42, not %s",
		                 payload_kind(v));
	if (json_integer_value(v) < 1)
		return rp_seterr(err, "E_PAYLOAD", "version: %lld; it must be at least 1",
		                 (long long)json_integer_value(v));
	p->version = (int64_t)json_integer_value(v);
	return 0;
}

static int payload_digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int payload_mdays(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int policy_payload_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	time_t t;
	int y, mo, d, h, mi, se;

	if (strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != 'Z')
		return -1;
	y = payload_digits(s, 4);
	mo = payload_digits(s + 5, 2);
	d = payload_digits(s + 8, 2);
	h = payload_digits(s + 11, 2);
	mi = payload_digits(s + 14, 2);
	se = payload_digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    se < 0 || se > 59 || d > payload_mdays(y, mo))
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

void policy_payload_format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)t);
}

static int payload_time(json_t *root, const char *key, int64_t *out, struct rp_err *err)
{
	const char *s;
	size_t len;
	char esc[64];

	if (payload_string(root, key, key, true, &s, &len, err) < 0)
		return -1;
	if (policy_payload_parse_time(s, out) < 0) {
		log_escape(esc, sizeof(esc), s, len);
		return rp_seterr(err, "E_PAYLOAD",
		                 "%s: \"%s\" is not a UTC time in the form 2025-01-31T12:00:00Z "
		                 "(RFC 3339, 'Z' only, no fractions, year 1970 or later)",
		                 key, esc);
	}
	return 0;
}

static int payload_times(json_t *root, struct policy *p, struct rp_err *err)
{
	char a[32], b[32];

	if (payload_time(root, "issued_at", &p->issued_at, err) < 0 ||
	    payload_time(root, "expires_at", &p->expires_at, err) < 0)
		return -1;
	if (p->expires_at <= p->issued_at) {
		policy_payload_format_time(p->expires_at, a, sizeof(a));
		policy_payload_format_time(p->issued_at, b, sizeof(b));
		return rp_seterr(err, "E_PAYLOAD", "expires_at: %s is not after issued_at %s", a,
		                 b);
	}
	return 0;
}

static int payload_bool(json_t *root, struct policy *p, struct rp_err *err)
{
	json_t *v = json_object_get(root, "allow_docker_hub");

	if (v == NULL)
		return rp_seterr(err, "E_PAYLOAD",
		                 "allow_docker_hub: missing (required: say true "
		                 "or false explicitly)");
	if (!json_is_boolean(v))
		return rp_seterr(err, "E_PAYLOAD",
		                 "allow_docker_hub: must be true or false, not %s",
		                 payload_kind(v));
	p->allow_docker_hub = json_is_true(v);
	return 0;
}

/* Checks a dot-separated hostname; counts its labels. */
static const char *payload_hostname(const char *s, size_t len, size_t *labels)
{
	size_t i = 0, start, n = 0;

	for (;;) {
		start = i;
		while (i < len && s[i] != '.') {
			char c = s[i++];
			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return "it contains a character other than a-z, 0-9, '-' and '.'";
		}
		if (i == start)
			return "it has an empty label (a leading, trailing or double dot)";
		if (i - start > 63)
			return "it has a label longer than 63 characters";
		if (s[start] == '-' || s[i - 1] == '-')
			return "it has a label that starts or ends with '-'";
		n++;
		if (i == len)
			break;
		i++;
	}
	*labels = n;
	return NULL;
}

static const char *payload_port(const char *s)
{
	size_t len = strlen(s);
	int v;

	if (len == 0 || len > 5 || (v = payload_digits(s, (int)len)) < 0)
		return "the port must be a decimal number";
	if (s[0] == '0')
		return "the port must be 1-65535 without leading zeros";
	if (v > 65535)
		return "the port must be at most 65535";
	return NULL;
}

static const char *payload_host_why(const char *host, size_t len, enum policy_kind *kind)
{
	const char *colon, *why, *star = strchr(host, '*');
	size_t labels = 0;

	if (strstr(host, "://") != NULL)
		return "it is a URL; write a host, not a URL (\"ghcr.io\", not "
		       "\"https://ghcr.io\")";
	if (strchr(host, '/') != NULL)
		return "it has a path; write a host, not a repository (\"quay.io\", not "
		       "\"quay.io/myorg\"): rules cover a whole registry";
	if (star != NULL && (star != host || host[1] != '.' || strchr(host + 1, '*') != NULL))
		return "'*' is allowed only as a whole first label, as in \"*.example.com\"";
	if (star != NULL) {
		if (strchr(host, ':') != NULL)
			return "a wildcard entry cannot have a port";
		if ((why = payload_hostname(host + 2, len - 2, &labels)) != NULL)
			return why;
		if (labels < 2)
			return "a wildcard needs a domain of at least two labels "
			       "(\"*.example.com\", "
			       "not \"*.com\")";
		if (strspn(strrchr(host, '.') + 1, "0123456789") == strlen(strrchr(host, '.') + 1))
			return "a wildcard cannot cover IP addresses (the last label is a number)";
		*kind = POLICY_WILDCARD;
		return NULL;
	}
	if ((colon = strchr(host, ':')) != NULL) {
		if ((why = payload_port(colon + 1)) != NULL)
			return why;
		*kind = POLICY_PORT;
		return payload_hostname(host, (size_t)(colon - host), &labels);
	}
	*kind = POLICY_EXACT;
	return payload_hostname(host, len, &labels);
}

int policy_payload_check_host(const char *host, enum policy_kind *kind, const char **why)
{
	size_t len = strlen(host);

	*why = NULL;
	if (len == 0)
		*why = "it is empty";
	else if (len > POLICY_MAX_HOST)
		*why = "it is longer than 253 characters";
	for (size_t i = 0; *why == NULL && i < len; i++)
		if (host[i] >= 'A' && host[i] <= 'Z')
			*why = "it must be lower-case";
	if (*why == NULL)
		*why = payload_host_why(host, len, kind);
	return *why == NULL ? 0 : -1;
}

/* Docker Hub itself, on any port: allow_docker_hub decides it, never a companion. */
static bool payload_is_hub_name(const char *s, size_t len)
{
	static const char *const hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};

	for (size_t i = 0; i < sizeof(hub) / sizeof(hub[0]); i++)
		if (strlen(hub[i]) == len && memcmp(hub[i], s, len) == 0)
			return true;
	return false;
}

int policy_payload_check_companion(const char *s, const char **why)
{
	const char *colon = strchr(s, ':');
	size_t len = strlen(s), hlen = colon != NULL ? (size_t)(colon - s) : len, labels = 0;
	size_t last = hlen; /* start of the last label */

	while (last > 0 && s[last - 1] != '.')
		last--;

	*why = NULL;
	if (len == 0)
		*why = "it is empty";
	else if (len > POLICY_MAX_COMPANION || hlen > POLICY_MAX_HOST)
		*why = "it is longer than a hostname (253 characters) and a port";
	else if (strstr(s, "://") != NULL || strchr(s, '/') != NULL)
		*why = "write a host, not a URL or a path (\"auth.example.com\", not "
		       "\"https://auth.example.com/token\")";
	else if (strchr(s, '*') != NULL)
		*why = "companions cannot be wildcards: name each host (a wildcard over a "
		       "CDN or storage domain would let every tenant's bucket through)";
	else if (s[0] == '[')
		*why = "companions cannot be IP literals: name the host the registry redirects to";
	else if (colon != NULL && (*why = payload_port(colon + 1)) != NULL)
		;
	else if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.:") != len)
		*why = "it must be a lower-case hostname (a-z, 0-9, '-', '.') with an optional "
		       ":port";
	else if ((*why = payload_hostname(s, hlen, &labels)) != NULL)
		;
	else if (labels < 2)
		*why = "it has no dot: a single-label name depends on the resolver's search list";
	else if (strspn(s + last, "0123456789") >= hlen - last)
		*why = "companions cannot be IP addresses (the last label is a number): name the "
		       "host the registry redirects to";
	else if (payload_is_hub_name(s, hlen))
		*why = "it is Docker Hub itself, which only allow_docker_hub allows";
	return *why == NULL ? 0 : -1;
}

/* Parse state shared by the entry parsers. */
struct payload_ctx {
	int schema;                /* 1 or 2 */
	const char *list;          /* "registries" or "deny" */
	enum policy_action action; /* what the list's rules do */
	size_t *companions;        /* companions so far in the whole policy */
};

/* "host[:port]/path/" (schema 2): the host part as above, whole path components. */
static const char *payload_prefix_why(const char *s, size_t len, const char *slash)
{
	char host[POLICY_MAX_HOST + 1];
	enum policy_kind k;
	const char *why;
	size_t hlen = (size_t)(slash - s), plen = len - hlen - 1, comps = 1;

	if (hlen == 0 || hlen > POLICY_MAX_HOST)
		return "the host part before the first '/' is empty or longer than 253 characters";
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (policy_payload_check_host(host, &k, &why) < 0)
		return why;
	if (k == POLICY_WILDCARD)
		return "a wildcard entry cannot have a path";
	if (k == POLICY_EXACT && strchr(host, '.') == NULL && strcmp(host, "localhost") != 0)
		return "the host part has no dot and no port, and an image reference that starts "
		       "that way names Docker Hub (\"acme/app\" is \"docker.io/acme/app\"), so the "
		       "rule could never match: write \"docker.io/acme/\" for a Docker Hub "
		       "organisation, or the registry's full name (\"registry.example.com/acme/\", "
		       "\"localhost:5000/acme/\")";
	if (plen < 2 || s[len - 1] != '/')
		return "a repository rule ends with '/' after at least one path component, as in "
		       "\"quay.io/acme/\"";
	for (size_t i = hlen + 1; i < len - 1; i++)
		comps += s[i] == '/';
	if (comps > POLICY_MAX_COMPONENTS)
		return "a repository rule has at most 64 path components";
	if (ref_check_path(slash + 1, plen - 1, NULL) != 0)
		return "a path component is not lower-case letters and digits joined by '.', '_', "
		       "'__' or '-' (no empty components, no upper case)";
	return NULL;
}

static const char *payload_rule_why(const struct payload_ctx *c, const char *s, size_t len,
                                    enum policy_kind *kind)
{
	const char *slash = memchr(s, '/', len), *why = NULL;

	if (len >= 3 && memmem(s, len, "://", 3) != NULL)
		return "it is a URL: give a host, not a URL (for example ghcr.io or "
		       "registry.example.com:5000)";
	if (slash == NULL)
		return policy_payload_check_host(s, kind, &why) < 0 ? why : NULL;
	if (c->schema < 2)
		return "repository prefixes (host/path/) need \"schema_version\": 2";
	if (len > POLICY_MAX_RULE)
		return "it is longer than 512 characters";
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return "it must be lower-case";
	*kind = POLICY_PREFIX;
	return payload_prefix_why(s, len, slash);
}

static int payload_host(const struct payload_ctx *c, json_t *v, const char *field,
                        struct policy_registry *r, struct rp_err *err)
{
	const char *s, *why = NULL;
	size_t len;
	char esc[160];

	if (payload_string(v, "host", field, true, &s, &len, err) < 0)
		return -1;
	if (strlen(s) != len || (why = payload_rule_why(c, s, len, &r->kind)) != NULL) {
		log_escape(esc, sizeof(esc), s, len);
		return rp_seterr(err, "E_PAYLOAD", "%s: \"%s\" is not a %s: %s", field, esc,
		                 c->schema < 2 ? "hostname, host:port or *.domain"
		                               : "hostname, host:port, *.domain or host/path/",
		                 why != NULL ? why : "it contains a NUL byte");
	}
	if ((r->host = strdup(s)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	return 0;
}

static int payload_mode(json_t *v, const char *field, struct policy_registry *r, struct rp_err *err)
{
	const char *s;
	size_t len;

	r->mode = POLICY_ENFORCE;
	if (payload_string(v, "mode", field, false, &s, &len, err) < 0)
		return -1;
	if (s == NULL || strcmp(s, "enforce") == 0)
		return 0;
	if (strcmp(s, "warn") == 0) {
		r->mode = POLICY_WARN;
		return 0;
	}
	return rp_seterr(err, "E_PAYLOAD", "%s: must be \"enforce\" or \"warn\"", field);
}

static int payload_nickname(json_t *v, const char *field, struct policy_registry *r,
                            struct rp_err *err)
{
	const char *s, *why;
	size_t len;

	if (payload_string(v, "nickname", field, false, &s, &len, err) < 0)
		return -1;
	if (s == NULL)
		s = "";
	if (len > POLICY_MAX_NICKNAME)
		return rp_seterr(err, "E_PAYLOAD", "%s: %zu bytes; at most %d are allowed", field,
		                 len, POLICY_MAX_NICKNAME);
	if ((why = payload_text_bad(s, len)) != NULL)
		return rp_seterr(err, "E_PAYLOAD", "%s: %s", field, why);
	if ((r->nickname = strdup(s)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	return 0;
}

static int payload_companion_at(json_t *a, size_t k, const char *field, struct policy_registry *r,
                                struct rp_err *err)
{
	json_t *v = json_array_get(a, k);
	const char *s, *why = NULL;
	char esc[160];

	if (!json_is_string(v))
		return rp_seterr(err, "E_PAYLOAD", "%s[%zu]: must be a string, not %s", field, k,
		                 payload_kind(v));
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v) || policy_payload_check_companion(s, &why) < 0) {
		log_escape(esc, sizeof(esc), s, json_string_length(v));
		return rp_seterr(err, "E_PAYLOAD", "%s[%zu]: \"%s\" is not a companion host: %s",
		                 field, k, esc, why != NULL ? why : "it contains a NUL byte");
	}
	for (size_t j = 0; j < r->n_companions; j++)
		if (strcmp(r->companions[j], s) == 0)
			return rp_seterr(err, "E_PAYLOAD",
			                 "%s[%zu]: \"%s\" is listed twice (also %s[%zu]); "
			                 "remove one",
			                 field, k, s, field, j);
	if ((r->companions[r->n_companions] = strdup(s)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	r->n_companions++;
	return 0;
}

/* "companions" (schema 2, allow rules): host[:port] names, no wildcards, no addresses. */
static int payload_companions(const struct payload_ctx *c, json_t *v, const char *field,
                              struct policy_registry *r, struct rp_err *err)
{
	json_t *a = json_object_get(v, "companions");
	size_t n;

	if (a == NULL)
		return 0;
	if (c->schema < 2)
		return rp_seterr(err, "E_PAYLOAD", "%s: \"companions\" needs \"schema_version\": 2",
		                 field);
	if (c->action == POLICY_DENY)
		return rp_seterr(err, "E_PAYLOAD",
		                 "%s: a deny rule allows nothing, so it cannot have companions; "
		                 "put them on the allow rule whose registry needs them",
		                 field);
	if (!json_is_array(a))
		return rp_seterr(err, "E_PAYLOAD", "%s: must be an array of host names, not %s",
		                 field, payload_kind(a));
	if ((n = json_array_size(a)) > POLICY_MAX_COMPANIONS)
		return rp_seterr(err, "E_PAYLOAD",
		                 "%s: %zu hosts; a rule has at most %d companions", field, n,
		                 POLICY_MAX_COMPANIONS);
	if ((*c->companions += n) > POLICY_MAX_COMPANIONS_TOTAL)
		return rp_seterr(err, "E_PAYLOAD",
		                 "%s: more than %d companion hosts in the whole policy", field,
		                 POLICY_MAX_COMPANIONS_TOTAL);
	if (n > 0 && (r->companions = calloc(n, sizeof(*r->companions))) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	for (size_t k = 0; k < n; k++)
		if (payload_companion_at(a, k, field, r, err) < 0)
			return -1;
	return 0;
}

/* "<list>[<i>]<suffix>" without snprintf: this runs 10,000 times per policy. */
static const char *payload_field(char *buf, size_t len, const char *list, size_t i,
                                 const char *suffix)
{
	char num[24];
	size_t n = sizeof(num), o = strlen(list), sl = strlen(suffix);

	do {
		num[--n] = (char)('0' + i % 10);
		i /= 10;
	} while (i != 0);
	if (o + 1 + (sizeof(num) - n) + 1 + sl + 1 > len)
		return "registries[?]";
	memcpy(buf, list, o);
	buf[o++] = '[';
	memcpy(buf + o, num + n, sizeof(num) - n);
	o += sizeof(num) - n;
	buf[o++] = ']';
	memcpy(buf + o, suffix, sl + 1);
	return buf;
}

static int payload_registry(const struct payload_ctx *c, json_t *v, size_t i,
                            struct policy_registry *r, struct rp_err *err)
{
	char field[64];
	const char *f;

	if (!json_is_object(v))
		return rp_seterr(err, "E_PAYLOAD",
		                 "%s: must be an object {\"host\", \"nickname\"}, "
		                 "not %s",
		                 payload_field(field, sizeof(field), c->list, i, ""),
		                 payload_kind(v));
	r->action = c->action;
	if (c->schema < 2 && json_object_get(v, "mode") != NULL)
		return rp_seterr(err, "E_PAYLOAD", "%s: \"mode\" needs \"schema_version\": 2",
		                 payload_field(field, sizeof(field), c->list, i, ".mode"));
	f = payload_field(field, sizeof(field), c->list, i, ".");
	if (c->schema < 2 && json_object_get(v, "companions") != NULL)
		return rp_seterr(err, "E_PAYLOAD",
		                 "%s: unknown field; \"companions\" needs \"schema_version\": 2",
		                 payload_field(field, sizeof(field), c->list, i, ".companions"));
	if (payload_known(v, c->schema < 2 ? payload_reg_keys_v1 : payload_reg_keys_v2, f, err) < 0)
		return -1;
	if (payload_companions(c, v, payload_field(field, sizeof(field), c->list, i, ".companions"),
	                       r, err) < 0)
		return -1;
	if (payload_host(c, v, payload_field(field, sizeof(field), c->list, i, ".host"), r, err) <
	    0)
		return -1;
	if (payload_mode(v, payload_field(field, sizeof(field), c->list, i, ".mode"), r, err) < 0)
		return -1;
	return payload_nickname(v, payload_field(field, sizeof(field), c->list, i, ".nickname"), r,
	                        err);
}

/* "registries[3]" or "deny[0]" for rule i of p (allow rules come first). */
void policy_payload_rule_name(const struct policy *p, size_t i, char *buf, size_t len)
{
	size_t n_allow = 0;

	while (n_allow < p->n_registries && p->registries[n_allow].action == POLICY_ALLOW)
		n_allow++;
	if (i < n_allow)
		payload_field(buf, len, "registries", i, "");
	else
		payload_field(buf, len, "deny", i - n_allow, "");
}

struct payload_hidx {
	char *key;
	size_t i;
	int action;
};

static int payload_hidx_cmp(const void *a, const void *b)
{
	const struct payload_hidx *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c == 0)
		c = (x->action > y->action) - (x->action < y->action);
	return c != 0 ? c : (x->i > y->i) - (x->i < y->i);
}

/*
 * Canonical keys of every rule, sorted; NULL on no memory.  A rule the
 * matcher could not index is refused here, so every stored rule is live.
 */
static struct payload_hidx *payload_keys(const struct policy *p, struct rp_err *err)
{
	struct payload_hidx *v = calloc(p->n_registries + 1, sizeof(*v));
	char key[POLICY_MAX_RULE + 8], name[48];

	if (v == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < p->n_registries; i++) {
		v[i].i = i;
		v[i].action = (int)p->registries[i].action;
		if (policy_rule_key(p->registries[i].host, key, sizeof(key)) == 0)
			v[i].key = strdup(key);
		if (v[i].key == NULL) {
			policy_payload_rule_name(p, i, name, sizeof(name));
			rp_seterr(err, "E_PAYLOAD",
			          "%s.host: cannot be matched against image "
			          "references (or out of memory); fix the rule",
			          name);
			goto fail;
		}
	}
	qsort(v, p->n_registries, sizeof(*v), payload_hidx_cmp);
	return v;
fail:
	for (size_t i = 0; i < p->n_registries; i++)
		free(v[i].key);
	free(v);
	return NULL;
}

/*
 * Refuses the same rule twice in one list (also when spelt differently but
 * matching the same references, as "index.docker.io" and "docker.io"), and
 * an enforced allow and deny of the same rule (the allow could never
 * decide).  Reports the pair with the lowest index.
 */
static int payload_dups(const struct policy *p, struct rp_err *err)
{
	struct payload_hidx *v;
	size_t n = p->n_registries, dup = SIZE_MAX, first = 0;
	bool conflict = false;
	char esc[160], a[48], b[48];

	if (n < 2)
		return 0;
	if ((v = payload_keys(p, err)) == NULL)
		return -1;
	for (size_t k = 1; k < n; k++) {
		const struct policy_registry *x = &p->registries[v[k - 1].i],
		                             *y = &p->registries[v[k].i];
		bool same = strcmp(v[k - 1].key, v[k].key) == 0;
		bool clash = same && x->action != y->action && x->mode == POLICY_ENFORCE &&
		             y->mode == POLICY_ENFORCE;
		if (same && (x->action == y->action || clash) && v[k].i < dup) {
			dup = v[k].i;
			first = v[k - 1].i;
			conflict = x->action != y->action;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
	if (dup == SIZE_MAX)
		return 0;
	log_escape(esc, sizeof(esc), p->registries[dup].host, strlen(p->registries[dup].host));
	policy_payload_rule_name(p, dup, a, sizeof(a));
	policy_payload_rule_name(p, first, b, sizeof(b));
	if (conflict)
		return rp_seterr(
		    err, "E_PAYLOAD",
		    "%s.host: \"%s\" is both allowed and denied (also %s); deny wins "
		    "at equal specificity, so the allow could never decide; remove one "
		    "(or give one \"mode\": \"warn\" while rolling out)",
		    a, esc, b);
	return rp_seterr(err, "E_PAYLOAD", "%s.host: \"%s\" is listed twice (also %s); remove one",
	                 a, esc, b);
}

/*
 * Docker Hub is decided by allow_docker_hub alone: a Hub entry in the list is
 * matched as any other rule, so with allow_docker_hub false machines would
 * still allow Hub images through it while every summary says "denied".
 */
static int payload_hub_contradiction(const struct policy *p, struct rp_err *err)
{
	if (p->allow_docker_hub)
		return 0;
	for (size_t i = 0; i < p->n_registries; i++)
		if (p->registries[i].action == POLICY_ALLOW &&
		    p->registries[i].kind == POLICY_EXACT && ref_is_hub_host(p->registries[i].host))
			return rp_seterr(
			    err, "E_PAYLOAD",
			    "registries[%zu].host: \"%s\" is Docker Hub, but "
			    "allow_docker_hub is false: machines would allow Docker Hub "
			    "through this entry; set allow_docker_hub to true, or remove "
			    "the entry to deny Docker Hub",
			    i, p->registries[i].host);
	return 0;
}

/* An enforced deny of all of Docker Hub contradicts allow_docker_hub: true. */
static int payload_hub_conflict(const struct policy *p, struct rp_err *err)
{
	char key[POLICY_MAX_RULE + 8], name[48];

	if (!p->allow_docker_hub)
		return 0;
	for (size_t i = 0; i < p->n_registries; i++) {
		const struct policy_registry *r = &p->registries[i];
		if (r->action != POLICY_DENY || r->mode != POLICY_ENFORCE ||
		    policy_rule_key(r->host, key, sizeof(key)) != 0 ||
		    strcmp(key, "e docker.io") != 0)
			continue;
		policy_payload_rule_name(p, i, name, sizeof(name));
		return rp_seterr(
		    err, "E_PAYLOAD",
		    "%s.host: \"%s\" denies all of Docker Hub while allow_docker_hub is "
		    "true; set allow_docker_hub to false instead",
		    name, r->host);
	}
	return 0;
}

static int payload_list(const struct payload_ctx *c, json_t *a, struct policy *p,
                        struct rp_err *err)
{
	size_t n = json_array_size(a), base = p->n_registries;

	for (size_t i = 0; i < n; i++) {
		/* count first so policy_free() releases a half-filled entry */
		p->n_registries++;
		if (payload_registry(c, json_array_get(a, i), i, &p->registries[base + i], err) < 0)
			return -1;
	}
	return 0;
}

static int payload_array(json_t *root, const char *key, bool required, json_t **out,
                         struct rp_err *err)
{
	json_t *a = json_object_get(root, key);

	*out = a;
	if (a == NULL)
		return required ? rp_seterr(err, "E_PAYLOAD",
		                            "%s: missing (required; [] is allowed)", key)
		                : 0;
	if (!json_is_array(a))
		return rp_seterr(err, "E_PAYLOAD", "%s: must be an array, not %s", key,
		                 payload_kind(a));
	return 0;
}

static int payload_registries(json_t *root, int schema, struct policy *p, struct rp_err *err)
{
	size_t companions = 0;
	struct payload_ctx allow = {schema, "registries", POLICY_ALLOW, &companions};
	struct payload_ctx deny = {schema, "deny", POLICY_DENY, &companions};
	json_t *a, *d;
	size_t n;

	if (payload_array(root, "registries", true, &a, err) < 0 ||
	    payload_array(root, "deny", false, &d, err) < 0)
		return -1;
	n = json_array_size(a) + (d != NULL ? json_array_size(d) : 0);
	if (n > POLICY_MAX_REGISTRIES)
		return rp_seterr(err, "E_PAYLOAD", "%s: %zu entries; at most %d are allowed",
		                 d != NULL ? "registries and deny" : "registries", n,
		                 POLICY_MAX_REGISTRIES);
	if ((p->registries = calloc(n > 0 ? n : 1, sizeof(*p->registries))) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	if (payload_list(&allow, a, p, err) < 0 ||
	    (d != NULL && payload_list(&deny, d, p, err) < 0))
		return -1;
	if (payload_dups(p, err) < 0 || payload_hub_conflict(p, err) < 0)
		return -1;
	return payload_hub_contradiction(p, err);
}

/* schema_version: absent means 1; anything but 1 or 2 is refused, never guessed at. */
static int payload_schema(json_t *root, struct policy *p, struct rp_err *err)
{
	json_t *v = json_object_get(root, "schema_version");

	p->schema_version = 1;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return rp_seterr(err, "E_PAYLOAD",
		                 "schema_version: must be the JSON integer 1 or 2, "
		                 "not %s",
		                 payload_kind(v));
	if (json_integer_value(v) < POLICY_SCHEMA_MIN || json_integer_value(v) > POLICY_SCHEMA_MAX)
		return rp_seterr(err, "E_SCHEMA_VERSION",
		                 "schema_version: %lld is not a policy format this rampart reads "
		                 "(it reads 1 and 2); the policy was not read as an older format",
		                 (long long)json_integer_value(v));
	p->schema_version = (int)json_integer_value(v);
	return 0;
}

static int payload_fields(json_t *root, struct policy *p, struct rp_err *err)
{
	if (!json_is_object(root))
		return rp_seterr(err, "E_PAYLOAD", "payload: must be a JSON object, not %s",
		                 payload_kind(root));
	if (payload_schema(root, p, err) < 0)
		return -1;
	if (p->schema_version < 2 && json_object_get(root, "deny") != NULL)
		return rp_seterr(err, "E_PAYLOAD", "deny: deny rules need \"schema_version\": 2");
	if (payload_known(root, p->schema_version < 2 ? payload_top_keys_v1 : payload_top_keys_v2,
	                  "", err) < 0 ||
	    payload_org(root, p, err) < 0 || payload_version(root, p, err) < 0 ||
	    payload_times(root, p, err) < 0 || payload_bool(root, p, err) < 0)
		return -1;
	return payload_registries(root, p->schema_version, p, err);
}

int policy_payload_parse(const void *buf, size_t len, struct policy *p, struct rp_err *err)
{
	json_error_t je;
	json_t *root = NULL;
	char esc[200];
	int ret = -1;

	memset(p, 0, sizeof(*p));
	if (len > POLICY_PAYLOAD_MAX) {
		rp_seterr(err, "E_PAYLOAD", "payload: %zu bytes, more than the %u-byte limit", len,
		          POLICY_PAYLOAD_MAX);
		goto out;
	}
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		log_escape(esc, sizeof(esc), je.text, strlen(je.text));
		rp_seterr(err, "E_PAYLOAD", "payload: not valid JSON: %s (line %d, column %d)", esc,
		          je.line, je.column);
		goto out;
	}
	ret = payload_fields(root, p, err);
out:
	json_decref(root);
	if (ret < 0)
		policy_free(p);
	return ret;
}
