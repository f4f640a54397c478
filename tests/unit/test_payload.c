/* SPDX-License-Identifier: ISC */
/*
 * Policy payload validation: the samples parse, every field's bad values are
 * refused with a message naming the field (and index), hosts are classified,
 * 10,000 registries are accepted and 10,001 refused, and a payload only ever
 * reaches the parser after dsse_verify() accepted it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "dsse.h"
#include "policy_payload.h"

static const char *BASE =
    "{\"org\":\"Example Corp\",\"version\":5,\"issued_at\":\"2025-01-01T00:00:00Z\","
    "\"expires_at\":\"2026-01-01T00:00:00Z\",\"allow_docker_hub\":false,"
    "\"registries\":[{\"host\":\"ghcr.io\",\"nickname\":\"GitHub\"},{\"host\":\"quay.io\"}]}";

static char *read_src(const char *rel, size_t *len)
{
	char path[4096];
	FILE *f;
	char *b;
	long n;

	assert_non_null(getenv("RAMPART_SRC"));
	snprintf(path, sizeof(path), "%s/%s", getenv("RAMPART_SRC"), rel);
	assert_non_null(f = fopen(path, "rb"));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(b = malloc((size_t)n + 1));
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	b[n] = '\0';
	*len = (size_t)n;
	return b;
}

static int parse_str(const char *s, struct policy *p, struct rp_err *e)
{
	rp_clearerr(e);
	return policy_payload_parse(s, strlen(s), p, e);
}

/*
 * BASE with one change: path is "key" or "registries[i].key" or
 * "registries[i]"; value is JSON text, or NULL to delete.
 */
static char *mutate(const char *path, const char *value)
{
	json_t *root = json_loads(BASE, 0, NULL), *obj = root, *v = NULL;
	const char *key = path;
	char *out;
	size_t idx;
	int off = 0;

	assert_non_null(root);
	if (value != NULL)
		assert_non_null(v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL));
	if (sscanf(path, "registries[%zu]%n", &idx, &off) == 1 && off > 0) {
		json_t *a = json_object_get(root, "registries");
		if (path[off] == '\0') {
			if (v != NULL)
				json_array_set_new(a, idx, v);
			else
				json_array_remove(a, idx);
			v = NULL;
			goto dump;
		}
		obj = json_array_get(a, idx);
		key = path + off + 1;
	}
	if (v != NULL)
		json_object_set_new(obj, key, v);
	else
		json_object_del(obj, key);
dump:
	out = json_dumps(root, JSON_ENCODE_ANY);
	json_decref(root);
	return out;
}

static void expect_bad(const char *path, const char *value, const char *needle)
{
	char *doc = mutate(path, value);
	struct policy p;
	struct rp_err e;
	int r = parse_str(doc, &p, &e);

	if (r != -1 || strcmp(e.code, "E_PAYLOAD") != 0 || strstr(e.msg, needle) == NULL)
		fail_msg("%s = %s: expected \"%s\", got %d %s: %s", path,
		         value ? value : "(deleted)", needle, r, e.code, e.msg);
	assert_null(p.org);
	assert_null(p.registries);
	assert_int_equal(p.n_registries, 0);
	free(doc);
}

static void expect_good(const char *path, const char *value, struct policy *p)
{
	char *doc = mutate(path, value);
	struct rp_err e;

	if (parse_str(doc, p, &e) != 0)
		fail_msg("%s = %s: refused: %s", path, value ? value : "(deleted)", e.msg);
	free(doc);
}

static void test_base_and_samples(void **st)
{
	struct policy p;
	struct rp_err e;
	size_t len;
	char *s;

	assert_int_equal(parse_str(BASE, &p, &e), 0);
	assert_string_equal(p.org, "Example Corp");
	assert_int_equal(p.version, 5);
	assert_int_equal(p.issued_at, 1735689600);
	assert_int_equal(p.expires_at, 1767225600);
	assert_false(p.allow_docker_hub);
	assert_int_equal(p.n_registries, 2);
	assert_string_equal(p.registries[0].host, "ghcr.io");
	assert_string_equal(p.registries[0].nickname, "GitHub");
	assert_string_equal(p.registries[1].nickname, ""); /* optional */
	assert_int_equal(p.registries[1].kind, POLICY_EXACT);
	policy_free(&p);

	s = read_src("policy-samples/small.json", &len);
	assert_int_equal(policy_payload_parse(s, len, &p, &e), 0);
	assert_int_equal(p.n_registries, 3);
	assert_true(p.allow_docker_hub);
	policy_free(&p);
	free(s);

	s = read_src("policy-samples/wildcards-ports.json", &len);
	assert_int_equal(policy_payload_parse(s, len, &p, &e), 0);
	assert_int_equal(p.n_registries, 7);
	assert_string_equal(p.registries[0].host, "*.corp.example.com");
	assert_int_equal(p.registries[0].kind, POLICY_WILDCARD);
	assert_int_equal(p.registries[2].kind, POLICY_PORT);
	assert_int_equal(p.registries[4].kind, POLICY_PORT);
	assert_int_equal(p.registries[5].kind, POLICY_EXACT);
	policy_free(&p);
	free(s);
}

static void test_raw_errors(void **st)
{
	static const struct {
		const char *json, *needle;
	} cases[] = {
	    {"", "payload: not valid JSON"},
	    {"[]", "payload: must be a JSON object"},
	    {"{\"org\":\"a\"} x", "payload: not valid JSON"},
	    {"{\"org\":\"a\",\"org\":\"b\"}", "duplicate"},
	    {"{\"org\":\"\xc3\"}", "payload: not valid JSON"},
	    {"{\"org\":\"a\",\"version\":99999999999999999999}", "payload: not valid JSON"},
	    {"{\"registries\":[{\"host\":\"a.io\",\"host\":\"b.io\"}]}", "duplicate"},
	};
	struct policy p;
	struct rp_err e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (parse_str(cases[i].json, &p, &e) != -1 || strcmp(e.code, "E_PAYLOAD") != 0 ||
		    strstr(e.msg, cases[i].needle) == NULL)
			fail_msg("case %zu: got %s: %s", i, e.code, e.msg);
}

static void test_top_level_fields(void **st)
{
	static const struct {
		const char *path, *value, *needle;
	} cases[] = {
	    {"orgg", "\"x\"", "orgg: unknown field"},
	    {"$schema", "\"x\"", "$schema: unknown field"},
	    {"org", NULL, "org: missing"},
	    {"org", "42", "org: must be a string"},
	    {"org", "null", "org: must be a string"},
	    {"org", "\"\"", "org: 0 bytes"},
	    {"org", "\"a\\nb\"", "org: contains a control character"},
	    {"org", "\"a\\u0085b\"", "org: contains a control character"},
	    {"org", "\"a\\u007fb\"", "org: contains a control character"},
	    {"org", "\"a\\u202eb\"", "org: contains a line separator or a bidirectional"},
	    {"org", "\"a\\u2028b\"", "org: contains a line separator"},
	    {"org", "\" Example\"", "org: must not start or end with a space"},
	    {"org", "\"Example \"", "org: must not start or end with a space"},
	    {"org", "\"a\\u0000b\"", "payload: not valid JSON"},
	    {"version", NULL, "version: missing"},
	    {"version", "\"5\"", "version: must be a JSON integer like 42, not a string"},
	    {"version", "5.0", "version: must be a JSON integer like 42, not a number with a"},
	    {"version", "5e0", "version: must be a JSON integer"},
	    {"version", "true", "version: must be a JSON integer"},
	    {"version", "null", "version: must be a JSON integer"},
	    {"version", "0", "version: 0; it must be at least 1"},
	    {"version", "-3", "version: -3; it must be at least 1"},
	    {"issued_at", NULL, "issued_at: missing"},
	    {"issued_at", "1735689600", "issued_at: must be a string"},
	    {"expires_at", NULL, "expires_at: missing"},
	    {"expires_at", "\"2026-01-01T00:00:00\"",
	     "expires_at: \"2026-01-01T00:00:00\" is not a UTC time"},
	    {"expires_at", "\"2025-01-01T00:00:00Z\"",
	     "expires_at: 2025-01-01T00:00:00Z is not after issued_at 2025-01-01T00:00:00Z"},
	    {"expires_at", "\"2024-12-31T23:59:59Z\"",
	     "expires_at: 2024-12-31T23:59:59Z is not after issued_at"},
	    {"allow_docker_hub", NULL, "allow_docker_hub: missing"},
	    {"allow_docker_hub", "\"true\"",
	     "allow_docker_hub: must be true or false, not a string"},
	    {"allow_docker_hub", "1", "allow_docker_hub: must be true or false, not an integer"},
	    {"allow_docker_hub", "null", "allow_docker_hub: must be true or false"},
	    {"registries", NULL, "registries: missing"},
	    {"registries", "{}", "registries: must be an array, not an object"},
	    {"registries", "\"ghcr.io\"", "registries: must be an array"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].path, cases[i].value, cases[i].needle);
}

static void test_org_limits(void **st)
{
	char org[200], val[220];
	struct policy p;

	memset(org, 'a', 128);
	org[128] = '\0';
	snprintf(val, sizeof(val), "\"%s\"", org);
	expect_good("org", val, &p);
	assert_int_equal(strlen(p.org), 128);
	policy_free(&p);
	snprintf(val, sizeof(val), "\"%sa\"", org);
	expect_bad("org", val, "org: 129 bytes; it must have 1 to 128");
	expect_good("org", "\"Soci\\u00e9t\\u00e9 G\\u00e9n\\u00e9rale \\u65e5\\u672c\"", &p);
	assert_string_equal(
	    p.org, "Soci\xc3\xa9t\xc3\xa9 G\xc3\xa9n\xc3\xa9rale \xe6\x97\xa5\xe6\x9c\xac");
	policy_free(&p);
	expect_good("version", "9007199254740993", &p);
	assert_true(p.version == 9007199254740993LL);
	policy_free(&p);
}

static void test_times(void **st)
{
	static const char *bad[] = {
	    "2025-01-01T00:00:00+00:00", "2025-01-01 00:00:00Z",  "2025-01-01t00:00:00z",
	    "2025-01-01T00:00:00.000Z",  "2025-1-01T00:00:00Z",   "2025-02-29T00:00:00Z",
	    "2100-02-29T00:00:00Z",      "2025-04-31T00:00:00Z",  "2025-13-01T00:00:00Z",
	    "2025-00-10T00:00:00Z",      "2025-01-00T00:00:00Z",  "2025-01-01T24:00:00Z",
	    "2025-01-01T00:60:00Z",      "2025-01-01T00:00:60Z",  "1969-12-31T23:59:59Z",
	    " 2025-01-01T00:00:00Z",     "2025-01-01T00:00:00Z ", "",
	    "+025-01-01T00:00:00Z",      "2025-01-01T00:00:0xZ",  "2025-01-01T-1:00:00Z",
	};
	static const struct {
		const char *s;
		int64_t t;
	} good[] = {
	    {"1970-01-01T00:00:00Z", 0},
	    {"2025-01-01T00:00:00Z", 1735689600},
	    {"2000-02-29T12:34:56Z", 951827696},
	    {"2024-02-29T00:00:00Z", 1709164800},
	    {"9999-12-31T23:59:59Z", 253402300799LL},
	};
	char val[64], buf[32];
	int64_t t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (policy_payload_parse_time(bad[i], &t) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		snprintf(val, sizeof(val), "\"%s\"", bad[i]);
		expect_bad("issued_at", val, "issued_at: \"");
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(policy_payload_parse_time(good[i].s, &t), 0);
		assert_true(t == good[i].t);
		policy_payload_format_time(t, buf, sizeof(buf));
		assert_string_equal(buf, good[i].s);
	}
}

static void test_registry_entries(void **st)
{
	static const struct {
		const char *path, *value, *needle;
	} cases[] = {
	    {"registries[1]", "\"quay.io\"", "registries[1]: must be an object"},
	    {"registries[1]", "[]", "registries[1]: must be an object"},
	    {"registries[1]", "null", "registries[1]: must be an object"},
	    {"registries[1].extra", "1", "registries[1].extra: unknown field"},
	    {"registries[1].Host", "\"x.io\"", "registries[1].Host: unknown field"},
	    {"registries[0].host", NULL, "registries[0].host: missing"},
	    {"registries[1].host", "5", "registries[1].host: must be a string, not an integer"},
	    {"registries[1].host", "null", "registries[1].host: must be a string"},
	    {"registries[1].nickname", "5", "registries[1].nickname: must be a string"},
	    {"registries[1].nickname", "null", "registries[1].nickname: must be a string"},
	    {"registries[1].nickname", "\"tab\\there\"",
	     "registries[1].nickname: contains a control"},
	    {"registries[1].nickname", "\"a\\u202eb\"", "registries[1].nickname: contains a line"},
	    {"registries[1].nickname", "\"a\\u0000b\"", "payload: not valid JSON"},
	    {"registries[1].host", "\"ghcr.io\"",
	     "registries[1].host: \"ghcr.io\" is listed twice (also registries[0])"},
	};
	char nick[200], val[220];
	struct policy p;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(cases[i].path, cases[i].value, cases[i].needle);
	memset(nick, 'n', 128);
	nick[128] = '\0';
	snprintf(val, sizeof(val), "\"%s\"", nick);
	expect_good("registries[1].nickname", val, &p);
	policy_free(&p);
	snprintf(val, sizeof(val), "\"%sn\"", nick);
	expect_bad("registries[1].nickname", val, "registries[1].nickname: 129 bytes");
	expect_good("registries", "[]", &p);
	assert_int_equal(p.n_registries, 0);
	policy_free(&p);
}

static void test_hosts(void **st)
{
	static const struct {
		const char *host, *why;
	} bad[] = {
	    {"", "empty"},
	    {"Quay.io", "must be lower-case"},
	    {"QUAY.IO:5000", "must be lower-case"},
	    {"quay..io", "empty label"},
	    {".quay.io", "empty label"},
	    {"quay.io.", "empty label"},
	    {"-quay.io", "starts or ends with '-'"},
	    {"quay-.io", "starts or ends with '-'"},
	    {"qu_ay.io", "a character other than"},
	    {"qu ay.io", "a character other than"},
	    {"quay.io/path", "a host, not a repository"},
	    {"https://quay.io", "a host, not a URL"},
	    {"quay.io:443/x", "a host, not a repository"},
	    {"quay.io\t", "a character other than"},
	    {"\xc3\xa9.example.com", "a character other than"},
	    {"*", "whole first label"},
	    {"*.", "empty label"},
	    {"*.com", "at least two labels"},
	    {"*.*.example.com", "whole first label"},
	    {"a.*.example.com", "whole first label"},
	    {"*example.com", "whole first label"},
	    {"**.example.com", "whole first label"},
	    {"*.example.com:5000", "cannot have a port"},
	    {"*.0.0.10", "cannot cover IP addresses"},
	    {"*.example.123", "cannot cover IP addresses"},
	    {"quay.io:", "port must be a decimal"},
	    {"quay.io:0", "leading zeros"},
	    {"quay.io:65536", "at most 65535"},
	    {"quay.io:99999", "at most 65535"},
	    {"quay.io:123456", "port must be a decimal"},
	    {"quay.io:05000", "leading zeros"},
	    {"quay.io:http", "port must be a decimal"},
	    {"quay.io:5000:1", "port must be a decimal"},
	    {"quay.io:+500", "port must be a decimal"},
	    {":5000", "empty label"},
	    {"[::1]:5000", "port must be a decimal"},
	    {"::1", "port must be a decimal"},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.io",
	     "longer than 63"},
	};
	static const struct {
		const char *host;
		enum policy_kind kind;
	} good[] = {
	    {"gcr.io", POLICY_EXACT},
	    {"localhost", POLICY_EXACT},
	    {"registry", POLICY_EXACT},
	    {"xn--bcher-kva.example", POLICY_EXACT},
	    {"1password.example", POLICY_EXACT},
	    {"10.0.0.5", POLICY_EXACT},
	    {"a-b.c-d.io", POLICY_EXACT},
	    {"localhost:5000", POLICY_PORT},
	    {"10.0.0.5:443", POLICY_PORT},
	    {"reg.example.com:1", POLICY_PORT},
	    {"reg.example.com:65535", POLICY_PORT},
	    {"*.a.b", POLICY_WILDCARD},
	    {"*.123.example", POLICY_WILDCARD},
	    {"*.corp.example.com", POLICY_WILDCARD},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.io", POLICY_EXACT},
	};
	char val[600], host[300];
	enum policy_kind kind;
	const char *why;
	struct policy p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (policy_payload_check_host(bad[i].host, &kind, &why) != -1 ||
		    strstr(why, bad[i].why) == NULL)
			fail_msg("\"%s\": got %s", bad[i].host, why ? why : "accepted");
		json_t *s = json_string(bad[i].host);
		char *enc = json_dumps(s, JSON_ENCODE_ANY);
		expect_bad("registries[1].host", enc, "registries[1].host: \"");
		expect_bad("registries[1].host", enc, "is not a hostname, host:port or *.domain");
		free(enc);
		json_decref(s);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (policy_payload_check_host(good[i].host, &kind, &why) != 0)
			fail_msg("\"%s\": %s", good[i].host, why);
		assert_int_equal(kind, good[i].kind);
		snprintf(val, sizeof(val), "\"%s\"", good[i].host);
		expect_good("registries[1].host", val, &p);
		assert_string_equal(p.registries[1].host, good[i].host);
		assert_int_equal(p.registries[1].kind, good[i].kind);
		policy_free(&p);
	}
	/* 253 characters is the limit (63+1+63+1+63+1+61) */
	memset(host, 'a', 253);
	host[63] = host[127] = host[191] = '.';
	host[253] = '\0';
	assert_int_equal(policy_payload_check_host(host, &kind, &why), 0);
	host[253] = 'a';
	host[254] = '\0';
	assert_int_equal(policy_payload_check_host(host, &kind, &why), -1);
	assert_non_null(strstr(why, "253"));
	snprintf(val, sizeof(val), "\"%s\"", host);
	expect_bad("registries[1].host", val, "registries[1].host:");
}

/* A payload with n registries "rNNNNN.example.com". */
static char *many(size_t n, size_t dup_at)
{
	size_t cap = 256 + n * 64, o;
	char *s = malloc(cap);

	assert_non_null(s);
	o = (size_t)snprintf(
	    s, cap,
	    "{\"org\":\"Big\",\"version\":1,\"issued_at\":\"2025-01-01T00:00:00Z\","
	    "\"expires_at\":\"2026-01-01T00:00:00Z\",\"allow_docker_hub\":true,"
	    "\"registries\":[");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s{\"host\":\"r%05zu.example.com\"}",
		                      i ? "," : "", i == dup_at ? 3 : i);
	snprintf(s + o, cap - o, "]}");
	return s;
}

static void test_ten_thousand(void **st)
{
	struct policy p;
	struct rp_err e;
	char *s;

	s = many(POLICY_MAX_REGISTRIES, SIZE_MAX);
	assert_int_equal(parse_str(s, &p, &e), 0);
	assert_int_equal(p.n_registries, 10000);
	assert_string_equal(p.registries[9999].host, "r09999.example.com");
	policy_free(&p);
	free(s);

	s = many(POLICY_MAX_REGISTRIES + 1, SIZE_MAX);
	assert_int_equal(parse_str(s, &p, &e), -1);
	assert_string_equal(e.code, "E_PAYLOAD");
	assert_non_null(strstr(e.msg, "registries: 10001 entries; at most 10000"));
	free(s);

	/* a duplicate deep in a large list is found and named by index */
	s = many(5000, 4321);
	assert_int_equal(parse_str(s, &p, &e), -1);
	assert_non_null(strstr(e.msg, "registries[4321].host: \"r00003.example.com\" is listed "
	                              "twice (also registries[3])"));
	free(s);
}

static void test_error_index_17(void **st)
{
	struct policy p;
	struct rp_err e;
	char *s = many(30, SIZE_MAX), *at = strstr(s, "r00017.example.com");

	memcpy(at, "r00017..xample.com", 18);
	assert_int_equal(parse_str(s, &p, &e), -1);
	assert_non_null(strstr(e.msg, "registries[17].host: \"r00017..xample.com\" is not a "
	                              "hostname, host:port or *.domain"));
	free(s);
}

/* A schema-2 payload around the given "registries" and "deny" JSON arrays. */
static char *v2(const char *regs, const char *deny, bool hub)
{
	char *b = malloc(strlen(regs) + strlen(deny) + 400);

	assert_non_null(b);
	sprintf(b,
	        "{\"schema_version\":2,\"org\":\"Example Corp\",\"version\":5,"
	        "\"issued_at\":\"2025-01-01T00:00:00Z\",\"expires_at\":\"2026-01-01T00:00:00Z\","
	        "\"allow_docker_hub\":%s,\"registries\":%s%s%s}",
	        hub ? "true" : "false", regs, deny[0] ? ",\"deny\":" : "", deny);
	return b;
}

static void expect_v2(const char *regs, const char *deny, bool hub, const char *code,
                      const char *msg)
{
	struct policy p;
	struct rp_err e;
	char *b = v2(regs, deny, hub);
	int rc = parse_str(b, &p, &e);

	if (code == NULL) {
		if (rc != 0)
			fail_msg("%s / %s refused: %s", regs, deny, e.msg);
	} else {
		if (rc == 0)
			fail_msg("%s / %s accepted, expected %s", regs, deny, msg);
		assert_string_equal(e.code, code);
		if (strstr(e.msg, msg) == NULL)
			fail_msg("'%s' lacks '%s'", e.msg, msg);
	}
	policy_free(&p);
	free(b);
}

static void test_schema_versions(void **st)
{
	struct policy p;
	struct rp_err e;
	char *b;

	(void)st;
	/* absent and 1 are today's form; 2 adds fields; anything else is refused */
	b = mutate("schema_version", "1");
	assert_int_equal(parse_str(b, &p, &e), 0);
	assert_int_equal(p.schema_version, 1);
	policy_free(&p);
	free(b);
	assert_int_equal(parse_str(BASE, &p, &e), 0);
	assert_int_equal(p.schema_version, 1);
	policy_free(&p);
	for (const char *const *v = (const char *const[]){"3", "0", "-1", "99", NULL}; *v; v++) {
		b = mutate("schema_version", *v);
		assert_int_equal(parse_str(b, &p, &e), -1);
		assert_string_equal(e.code, "E_SCHEMA_VERSION");
		assert_non_null(strstr(e.msg, "not a policy format this rampart reads"));
		free(b);
	}
	for (const char *const *v = (const char *const[]){"2.0", "\"2\"", "true", "null", NULL}; *v;
	     v++) {
		b = mutate("schema_version", *v);
		assert_int_equal(parse_str(b, &p, &e), -1);
		assert_string_equal(e.code, "E_PAYLOAD");
		free(b);
	}
	/* schema 1 never carries the new forms */
	b = mutate("deny", "[]");
	assert_int_equal(parse_str(b, &p, &e), -1);
	assert_non_null(strstr(e.msg, "deny: deny rules need \"schema_version\": 2"));
	free(b);
	b = mutate("registries[1].host", "\"quay.io/acme/\"");
	assert_int_equal(parse_str(b, &p, &e), -1);
	assert_non_null(strstr(e.msg, "registries[1].host: \"quay.io/acme/\""));
	assert_non_null(strstr(e.msg, "need \"schema_version\": 2"));
	free(b);
	b = mutate("registries[1].mode", "\"warn\"");
	assert_int_equal(parse_str(b, &p, &e), -1);
	assert_non_null(strstr(e.msg, "registries[1].mode: \"mode\" needs \"schema_version\": 2"));
	free(b);
}

static void test_v2_rules(void **st)
{
	struct policy p;
	struct rp_err e;
	char *b;

	(void)st;
	b = v2("[{\"host\":\"quay.io/acme/\"},{\"host\":\"ghcr.io\",\"mode\":\"enforce\"}]",
	       "[{\"host\":\"quay.io/acme/legacy/\",\"mode\":\"warn\",\"nickname\":\"old\"},"
	       "{\"host\":\"*.evil.example\"}]",
	       false);
	assert_int_equal(parse_str(b, &p, &e), 0);
	assert_int_equal(p.schema_version, 2);
	assert_int_equal(p.n_registries, 4);
	assert_int_equal(p.registries[0].kind, POLICY_PREFIX);
	assert_int_equal(p.registries[0].action, POLICY_ALLOW);
	assert_int_equal(p.registries[2].action, POLICY_DENY);
	assert_int_equal(p.registries[2].mode, POLICY_WARN);
	assert_string_equal(p.registries[2].nickname, "old");
	assert_int_equal(p.registries[3].kind, POLICY_WILDCARD);
	policy_free(&p);
	free(b);
	expect_v2("[{\"host\":\"docker.io/library/\"}]", "", false, NULL, NULL);
	expect_v2("[{\"host\":\"reg.example.com:5000/team/app/\"}]", "", false, NULL, NULL);
	expect_v2("[]", "[]", true, NULL, NULL);
	/* bad forms name the list and index */
	expect_v2("[{\"host\":\"quay.io/acme\"}]", "", false, "E_PAYLOAD",
	          "registries[0].host: \"quay.io/acme\" is not a hostname, host:port, *.domain or "
	          "host/path/: a repository rule ends with '/'");
	expect_v2("[]", "[{\"host\":\"quay.io//x/\"}]", false, "E_PAYLOAD", "deny[0].host:");
	expect_v2("[]", "[{\"host\":\"quay.io/Acme/\"}]", false, "E_PAYLOAD", "lower-case");
	expect_v2("[]", "[{\"host\":\"*.corp.example/x/\"}]", false, "E_PAYLOAD",
	          "a wildcard entry cannot have a path");
	expect_v2("[]", "[{\"host\":\"/x/\"}]", false, "E_PAYLOAD", "the host part");
	expect_v2("[]", "[{\"host\":\"quay.io/\"}]", false, "E_PAYLOAD", "at least one path");
	expect_v2("[]", "[{\"host\":\"quay.io/a/\",\"mode\":\"dry\"}]", false, "E_PAYLOAD",
	          "deny[0].mode: must be \"enforce\" or \"warn\"");
	expect_v2("[]", "[{\"host\":\"quay.io/a/\",\"action\":\"deny\"}]", false, "E_PAYLOAD",
	          "deny[0].action: unknown field");
	expect_v2("[]", "{}", false, "E_PAYLOAD", "deny: must be an array");
	/* duplicates, also when spelt differently; allow and deny of one rule */
	expect_v2("[{\"host\":\"quay.io/a/\"},{\"host\":\"quay.io/a/\",\"mode\":\"warn\"}]", "",
	          false, "E_PAYLOAD",
	          "registries[1].host: \"quay.io/a/\" is listed twice (also registries[0])");
	expect_v2("[{\"host\":\"index.docker.io/x/\"},{\"host\":\"docker.io/x/\"}]", "", false,
	          "E_PAYLOAD", "is listed twice");
	expect_v2("[{\"host\":\"ghcr.io\"}]", "[{\"host\":\"ghcr.io\"}]", false, "E_PAYLOAD",
	          "deny[0].host: \"ghcr.io\" is both allowed and denied (also registries[0])");
	expect_v2("[{\"host\":\"ghcr.io\"}]", "[{\"host\":\"ghcr.io\",\"mode\":\"warn\"}]", false,
	          NULL, NULL);
	expect_v2("[]", "[{\"host\":\"docker.io\"}]", true, "E_PAYLOAD",
	          "denies all of Docker Hub while allow_docker_hub is true");
	expect_v2("[]", "[{\"host\":\"docker.io\"}]", false, NULL, NULL);
}

/* The 64-component limit, and 10,000 rules counted across both lists. */
static void test_v2_limits(void **st)
{
	char rule[POLICY_MAX_RULE + 64], *regs, *denies, *b;
	struct policy p;
	struct rp_err e;
	size_t n = 0;

	(void)st;
	n = (size_t)sprintf(rule, "[{\"host\":\"q.io/");
	for (int i = 0; i < 64; i++)
		n += (size_t)sprintf(rule + n, "a/");
	sprintf(rule + n, "\"}]");
	expect_v2(rule, "", false, NULL, NULL);
	sprintf(rule + n, "a/\"}]");
	expect_v2(rule, "", false, "E_PAYLOAD", "at most 64 path components");
	assert_non_null(regs = malloc(10000 * 40));
	assert_non_null(denies = malloc(10000 * 40));
	n = (size_t)sprintf(regs, "[");
	for (int i = 0; i < 6000; i++)
		n += (size_t)sprintf(regs + n, "%s{\"host\":\"r%d.example/team/\"}", i ? "," : "",
		                     i);
	sprintf(regs + n, "]");
	n = (size_t)sprintf(denies, "[");
	for (int i = 0; i < 4000; i++)
		n += (size_t)sprintf(denies + n, "%s{\"host\":\"r%d.example/team/old/\"}",
		                     i ? "," : "", i);
	sprintf(denies + n, "]");
	b = v2(regs, denies, false);
	assert_int_equal(parse_str(b, &p, &e), 0);
	assert_int_equal(p.n_registries, 10000);
	policy_free(&p);
	free(b);
	sprintf(denies + n, ",{\"host\":\"x.example\"}]");
	b = v2(regs, denies, false);
	assert_int_equal(parse_str(b, &p, &e), -1);
	assert_non_null(strstr(e.msg, "registries and deny: 10001 entries; at most 10000"));
	free(b);
	free(regs);
	free(denies);
}

static void test_verified_pipeline(void **st)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct dsse_verified v;
	struct trust_set t;
	struct rp_key k;
	struct policy p;
	struct rp_err e;
	char *env = NULL, *body;
	size_t len;

	assert_int_equal(keys_from_pkey(&k, pk, true, "test", &e), 0);
	keys_trust_init(&t);
	assert_int_equal(keys_trust_add_key(&t, &k, &e), 0);
	assert_int_equal(keys_trust_set_threshold(&t, 1, &e), 0);
	body = read_src("policy-samples/wildcards-ports.json", &len);
	assert_int_equal(dsse_sign(body, len, DSSE_POLICY_TYPE, &k, 1, &env, &e), 0);
	assert_int_equal(dsse_verify(env, strlen(env), DSSE_POLICY_TYPE, &t, &v, &e), 0);
	assert_int_equal(v.payload_len, len);
	assert_int_equal(policy_payload_parse(v.payload, v.payload_len, &p, &e), 0);
	assert_int_equal(p.version, 2);
	assert_int_equal(p.n_registries, 7);
	policy_free(&p);
	dsse_verified_free(&v);
	free(env);
	free(body);
	keys_trust_free(&t);
	keys_free(&k);
	EVP_PKEY_free(pk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_and_samples),
	    cmocka_unit_test(test_raw_errors),
	    cmocka_unit_test(test_top_level_fields),
	    cmocka_unit_test(test_org_limits),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_registry_entries),
	    cmocka_unit_test(test_hosts),
	    cmocka_unit_test(test_ten_thousand),
	    cmocka_unit_test(test_error_index_17),
	    cmocka_unit_test(test_verified_pipeline),
	    cmocka_unit_test(test_schema_versions),
	    cmocka_unit_test(test_v2_rules),
	    cmocka_unit_test(test_v2_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
