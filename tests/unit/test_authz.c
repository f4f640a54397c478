/* SPDX-License-Identifier: ISC */
/*
 * rampart-authz's pure parts: the RequestUri splitter and query reader (as
 * Go's net/http and gorilla/mux read them), the answer encoder, audit
 * coalescing, and the daemon.json editor (every other byte kept, the result
 * checked to differ only in "authorization-plugins").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authz.h"

static void test_uri_split(void **state)
{
	static const struct {
		const char *uri, *path, *query;
	} ok[] = {
	    {"/v1.41/images/create?fromImage=x", "/images/create", "fromImage=x"},
	    {"/images/create", "/images/create", ""},
	    {"//v1.41//images/./create/", "/images/create", ""},
	    {"/v1.41/a/../images/%63reate?x", "/images/create", "x"},
	    {"/images%2Fcreate", "/images/create", ""},
	    {"http://h:1/v1.24/containers/create?name=a", "/containers/create", "name=a"},
	    {"/v1.41", "/", ""},
	    {"/version", "/version", ""},
	    {"/v1.x/images/create", "/v1.x/images/create", ""},
	    {"/../../images/create", "/images/create", ""},
	    {"?a=b", "/", "a=b"},
	};
	char path[256];
	const char *q;
	struct rp_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(authz_uri_split(ok[i].uri, path, sizeof(path), &q, &err), 0);
		assert_string_equal(path, ok[i].path);
		assert_string_equal(q, ok[i].query);
	}
	assert_int_equal(authz_uri_split("images/create", path, sizeof(path), &q, &err), -1);
	assert_int_equal(authz_uri_split("/a%2", path, sizeof(path), &q, &err), -1);
	assert_int_equal(authz_uri_split("/a%00b", path, sizeof(path), &q, &err), -1);
	assert_int_equal(authz_uri_split("/aaaaaaaaaa", path, 4, &q, &err), -1);
	assert_string_equal(err.code, "E_AUTHZ_URI");
}

static void test_query_get(void **state)
{
	char v[64];
	struct rp_err err;

	(void)state;
	assert_int_equal(
	    authz_query_get("a=1&fromImage=x%2Fy+z&b", "fromImage", v, sizeof(v), &err), 1);
	assert_string_equal(v, "x/y z");
	assert_int_equal(authz_query_get("a=1", "fromImage", v, sizeof(v), &err), 0);
	assert_int_equal(authz_query_get("fromImage", "fromImage", v, sizeof(v), &err), 1);
	assert_string_equal(v, "");
	assert_int_equal(authz_query_get("from%49mage=q", "fromImage", v, sizeof(v), &err), 1);
	assert_string_equal(v, "q");
	assert_int_equal(
	    authz_query_get("fromImage=a&fromImage=b", "fromImage", v, sizeof(v), &err), -1);
	assert_int_equal(authz_query_get("fromImage=a;b", "fromImage", v, sizeof(v), &err), -1);
	assert_int_equal(authz_query_get("fromImage=%zz", "fromImage", v, sizeof(v), &err), -1);
	assert_int_equal(authz_query_get("fromImage=%00", "fromImage", v, sizeof(v), &err), -1);
	assert_int_equal(authz_query_get("x=%zz&fromImage=a", "fromImage", v, sizeof(v), &err), 1);
	assert_int_equal(authz_query_get("fromImage=0123456789", "fromImage", v, 5, &err), -1);
	assert_string_equal(err.code, "E_AUTHZ_QUERY");
}

static void test_answer_json(void **state)
{
	struct authz_verdict v;
	char buf[8192];

	(void)state;
	memset(&v, 0, sizeof(v));
	v.allow = true;
	authz_answer_json(&v, buf, sizeof(buf));
	assert_string_equal(buf, "{\"Allow\":true}");
	v.allow = false;
	strcpy(v.msg, "a\"b\\c\n\x01\xff");
	authz_answer_json(&v, buf, sizeof(buf));
	assert_string_equal(buf, "{\"Allow\":false,\"Msg\":\"a\\\"b\\\\c\\u000a\\u0001\\u00ff\"}");
	v.is_err = true;
	strcpy(v.msg, "bad");
	authz_answer_json(&v, buf, sizeof(buf));
	assert_string_equal(buf, "{\"Allow\":false,\"Msg\":\"bad\",\"Err\":\"bad\"}");
	assert_true(authz_answer_json(&v, buf, 10) == 9 && strlen(buf) == 9);
}

/* With no policy cached every decided request is refused; other requests pass. */
static void test_decide_no_policy(void **state)
{
	struct rampart_policy *pol;
	struct authz_opts o = {.mode = AUTHZ_MODE_ENFORCE};
	struct authz_verdict v;
	static const char pull[] = "{\"RequestMethod\":\"POST\",\"RequestUri\":"
	                           "\"/v1.41/images/create?fromImage=a/b&tag=1\"}";
	static const char other[] = "{\"RequestMethod\":\"GET\",\"RequestUri\":\"/v1.41/info\"}";
	char err[256];

	(void)state;
	assert_int_equal(rampart_policy_open("/nonexistent/policy.db", 0, &pol, err, sizeof(err)),
	                 0);
	authz_decide_raw(pol, &o, pull, sizeof(pull) - 1, &v);
	assert_false(v.allow);
	assert_int_equal(v.kind, AUTHZ_PULL);
	assert_string_equal(v.msg,
	                    "rampart: docker.io/a/b:1 denied: no policy cached; denied by default");
	authz_decide_raw(pol, &o, other, sizeof(other) - 1, &v);
	assert_true(v.allow);
	assert_false(v.would_deny);
	o.mode = AUTHZ_MODE_WARN;
	authz_decide_raw(pol, &o, pull, sizeof(pull) - 1, &v);
	assert_true(v.allow && v.would_deny);
	o.mode = AUTHZ_MODE_OFF;
	authz_decide_raw(pol, &o, pull, sizeof(pull) - 1, &v);
	assert_true(v.allow && !v.would_deny);
	o.mode = AUTHZ_MODE_ENFORCE;
	authz_decide_raw(pol, &o, "{", 1, &v);
	assert_false(v.allow);
	assert_true(v.is_err);
	rampart_policy_close(pol);
}

static size_t count_lines(const char *path, const char *needle)
{
	char line[8192];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void test_audit_coalesce(void **state)
{
	char path[] = "/tmp/rampart-authz-audit-XXXXXX";
	struct authz_verdict v;
	struct authz_audit *a;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	a = authz_audit_open(path);
	memset(&v, 0, sizeof(v));
	v.kind = AUTHZ_PULL;
	v.would_deny = true;
	strcpy(v.ref, "x\n time=forged");
	strcpy(v.msg, "rampart: denied");
	for (int i = 0; i < 10; i++)
		authz_audit_record(a, &v, AUTHZ_MODE_ENFORCE, 1000 + i);
	assert_int_equal(count_lines(path, "op=pull result=denied"), 1);
	assert_int_equal(count_lines(path, "\n time=forged"), 0);
	authz_audit_tick(a, 1030, false);
	assert_int_equal(count_lines(path, "repeated="), 0);
	authz_audit_tick(a, 1060, false);
	assert_int_equal(count_lines(path, "repeated=9"), 1);
	authz_audit_record(a, &v, AUTHZ_MODE_ENFORCE, 1061); /* window over: written again */
	assert_int_equal(count_lines(path, "op=pull result=denied"), 3);
	/* more distinct lines than slots: every one is written, evictions flush counts */
	for (int i = 0; i < 100; i++) {
		snprintf(v.ref, sizeof(v.ref), "r%d", i);
		authz_audit_record(a, &v, AUTHZ_MODE_ENFORCE, 1062);
		authz_audit_record(a, &v, AUTHZ_MODE_ENFORCE, 1062);
	}
	authz_audit_tick(a, 1062, true);
	assert_int_equal(count_lines(path, "repeated=1"), 100);
	v.would_deny = false;
	authz_audit_record(a, &v, AUTHZ_MODE_ENFORCE, 1063);
	assert_int_equal(authz_audit_stats(a)->allowed[AUTHZ_PULL], 1);
	assert_int_equal(authz_audit_stats(a)->denied[AUTHZ_PULL], 211);
	assert_int_equal(authz_audit_stats(a)->audit_suppressed, 109);
	authz_audit_close(a);
	unlink(path);
}

static void dj(const char *in, bool add, const char *want)
{
	struct rp_err err;
	char *out = NULL;

	assert_int_equal(authz_daemonjson_edit(in, strlen(in), add, &out, &err), 0);
	if (want == NULL) {
		assert_null(out);
	} else {
		assert_non_null(out);
		assert_string_equal(out, want);
	}
	free(out);
}

static void test_daemonjson(void **state)
{
	struct rp_err err;
	char *out;

	(void)state;
	dj("{}", true, "{\"authorization-plugins\": [\"rampart\"]}");
	dj("{\n}\n", true, "{\"authorization-plugins\": [\"rampart\"]\n}\n");
	dj("{\n  \"a\": 1e3,\n  \"b\": {\"c\": [1, 2.50]}\n}\n", true,
	   "{\n  \"a\": 1e3,\n  \"b\": {\"c\": [1, 2.50]}, \"authorization-plugins\": "
	   "[\"rampart\"]\n}\n");
	dj("{\"authorization-plugins\": [\"other\"], \"x\": \"}\"}", true,
	   "{\"authorization-plugins\": [\"other\", \"rampart\"], \"x\": \"}\"}");
	dj("{\"authorization-plugins\": [\"rampart\"]}", true, NULL);
	/* remove: the key goes with one comma; other plugins stay */
	dj("{\"a\": 1, \"authorization-plugins\": [\"rampart\"]}", false, "{\"a\": 1}");
	dj("{\"authorization-plugins\": [\"rampart\"], \"a\": 1}", false, "{\"a\": 1}");
	dj("{\n  \"a\": 1,\n  \"authorization-plugins\": [\"rampart\"],\n  \"b\": 2\n}", false,
	   "{\n  \"a\": 1,\n  \"b\": 2\n}");
	dj("{ \"authorization-plugins\" : [ \"rampart\" ] }", false, "{ }");
	dj("{\"authorization-plugins\": [\"x\", \"rampart\"]}", false,
	   "{\"authorization-plugins\": [\"x\"]}");
	dj("{\"a\": \"authorization-plugins\"}", false, NULL);
	/* round trip: add then remove gives the input back byte for byte */
	{
		const char *orig =
		    "{\n    \"debug\": true,\n    \"hosts\": [\"unix://\\u002frun\"],\n"
		    "    \"n\": -0.0e-0\n}\n";
		char *a1 = NULL, *b1 = NULL;
		assert_int_equal(authz_daemonjson_edit(orig, strlen(orig), true, &a1, &err), 0);
		assert_int_equal(authz_daemonjson_edit(a1, strlen(a1), false, &b1, &err), 0);
		assert_string_equal(b1, orig);
		free(a1);
		free(b1);
	}
	/* ... also when the admin already had plugins: the array is edited in place */
	{
		const char *orig = "{\"authorization-plugins\": [ \"opa\",\n\t\"x\" ], \"a\": 1}";
		char *a1 = NULL, *b1 = NULL;
		assert_int_equal(authz_daemonjson_edit(orig, strlen(orig), true, &a1, &err), 0);
		assert_string_equal(
		    a1, "{\"authorization-plugins\": [ \"opa\",\n\t\"x\", \"rampart\" ], "
		        "\"a\": 1}");
		assert_int_equal(authz_daemonjson_edit(a1, strlen(a1), false, &b1, &err), 0);
		assert_string_equal(b1, orig);
		free(a1);
		free(b1);
	}
	dj("{\"authorization-plugins\": [\"rampart\", \"b\"]}", false,
	   "{\"authorization-plugins\": [\"b\"]}");
	/* two entries: re-rendered, both go */
	dj("{\"authorization-plugins\": [\"rampart\", \"b\", \"rampart\"]}", false,
	   "{\"authorization-plugins\": [\"b\"]}");
	/* refused, nothing produced */
	assert_int_equal(authz_daemonjson_edit("[1]", 3, true, &out, &err), -1);
	assert_null(out);
	assert_int_equal(authz_daemonjson_edit("{\"a\":1,}", 8, true, &out, &err), -1);
	assert_int_equal(authz_daemonjson_edit("{\"a\":1,\"a\":2}", 13, true, &out, &err), -1);
	assert_int_equal(
	    authz_daemonjson_edit("{\"authorization-plugins\":\"rampart\"}", 35, true, &out, &err),
	    -1);
	assert_int_equal(
	    authz_daemonjson_edit("{\"authorization\\u002dplugins\":[]}", 33, true, &out, &err),
	    -1);
	assert_string_equal(err.code, "E_DAEMONJSON");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uri_split),      cmocka_unit_test(test_query_get),
	    cmocka_unit_test(test_answer_json),    cmocka_unit_test(test_decide_no_policy),
	    cmocka_unit_test(test_audit_coalesce), cmocka_unit_test(test_daemonjson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
