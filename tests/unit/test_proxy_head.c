/* SPDX-License-Identifier: ISC */
/* rampart-proxy's request-head parser: what it accepts, and each refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxy_decide.h"
#include "proxy_head.h"

static int parse(const char *s, struct proxy_head *h)
{
	return proxy_head_parse(s, strlen(s), h);
}

static void test_connect(void **st)
{
	struct proxy_head h;
	const char *s = "CONNECT Reg-A.test:443 HTTP/1.1\r\nHost: reg-a.test:443\r\n\r\nTLS";

	assert_int_equal(parse(s, &h), PROXY_HEAD_OK);
	assert_true(h.connect);
	assert_string_equal(h.host, "Reg-A.test");
	assert_int_equal(h.port, 443);
	assert_int_equal(h.head_len, strlen(s) - 3);
	assert_int_equal(h.nfields, 1);
	assert_true(proxy_field_is(&h.fields[0], "HOST"));
	assert_int_equal(parse("CONNECT [::1]:5000 HTTP/1.0\r\n\r\n", &h), PROXY_HEAD_OK);
	assert_string_equal(h.host, "[::1]");
	assert_int_equal(h.minor, 0);
}

static void test_absolute_form(void **st)
{
	struct proxy_head h;

	assert_int_equal(parse("GET http://reg.test:5000/v2/acme/app/manifests/1?x=1 HTTP/1.1\r\n"
	                       "Accept:  a/b  \r\n\r\n",
	                       &h),
	                 PROXY_HEAD_OK);
	assert_false(h.connect);
	assert_string_equal(h.host, "reg.test");
	assert_int_equal(h.port, 5000);
	assert_true(h.port_given);
	assert_string_equal(h.path, "/v2/acme/app/manifests/1?x=1");
	assert_int_equal(h.fields[0].value_len, 3); /* OWS trimmed */
	assert_int_equal(parse("HEAD HTTP://reg.test HTTP/1.1\r\n\r\n", &h), PROXY_HEAD_OK);
	assert_string_equal(h.path, "/");
	assert_int_equal(h.port, 80);
	assert_false(h.port_given);
}

static void test_partial_and_limits(void **st)
{
	struct proxy_head h;
	char big[PROXY_HEAD_MAX + 16], many[PROXY_HEAD_MAX];
	size_t n = 0;

	assert_int_equal(parse("GET http://r.test/ HTTP/1.1\r\nHost: r", &h), PROXY_HEAD_PARTIAL);
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET http://r.test/ HTTP/1.1\r\nX: ", 32);
	assert_int_equal(proxy_head_parse(big, sizeof(big), &h), PROXY_HEAD_TOO_BIG);
	n += (size_t)snprintf(many, sizeof(many), "GET http://r.test/ HTTP/1.1\r\n");
	for (int i = 0; i <= PROXY_HEAD_MAX_FIELDS; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "X-%d: 1\r\n", i);
	n += (size_t)snprintf(many + n, sizeof(many) - n, "\r\n");
	assert_int_equal(proxy_head_parse(many, n, &h), PROXY_HEAD_TOO_BIG);
}

static void test_refusals(void **st)
{
	static const struct {
		const char *in;
		int rc;
	} bad[] = {
	    {"GET http://r.test/ HTTP/1.1\n\n", PROXY_HEAD_BAD},                /* bare LF */
	    {"GET http://r.test/ HTTP/1.1\r\nX: a\rb\r\n\r\n", PROXY_HEAD_BAD}, /* bare CR */
	    {"GET / HTTP/1.1\r\n\r\n", PROXY_HEAD_METHOD},
	    {"GET https://r.test/ HTTP/1.1\r\n\r\n", PROXY_HEAD_METHOD},
	    {"GET http://u@r.test/ HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"GET http://r.test/ HTTP/2.0\r\n\r\n", PROXY_HEAD_BAD},
	    {"get http://r.test/ HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"CONNECT r.test HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"CONNECT r.test:0 HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"CONNECT r.test:65536 HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"CONNECT r test:1 HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"CONNECT [::1:5 HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"GET http://r.test/a b HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"GET http://r.test/\x01 HTTP/1.1\r\n\r\n", PROXY_HEAD_BAD},
	    {"GET http://r.test/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n", PROXY_HEAD_BAD}, /* folded */
	    {"GET http://r.test/ HTTP/1.1\r\nBad Name: a\r\n\r\n", PROXY_HEAD_BAD},
	    {"GET http://r.test/ HTTP/1.1\r\nX: a\x01\r\n\r\n", PROXY_HEAD_BAD},
	    {"GET http://r.test/ HTTP/1.1\r\n: a\r\n\r\n", PROXY_HEAD_BAD},
	    {"\r\n\r\n", PROXY_HEAD_BAD},
	};
	struct proxy_head h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i].in, &h);
		if (rc != bad[i].rc)
			fail_msg("case %zu (%s): %d, want %d", i, bad[i].in, rc, bad[i].rc);
		assert_non_null(h.why);
	}
}

/* With no policy, nothing passes, and the message says rampart refused it. */
static void test_no_policy_denies(void **st)
{
	struct proxy_head h;
	struct proxy_verdict v;

	assert_int_equal(parse("CONNECT auth.docker.io:443 HTTP/1.1\r\n\r\n", &h), PROXY_HEAD_OK);
	proxy_decide(NULL, &h, &v);
	assert_false(v.allowed);
	assert_false(v.companion);
	assert_string_equal(v.subject, "auth.docker.io");
	assert_non_null(strstr(v.message, "no policy"));
	assert_int_equal(
	    parse("GET http://R.test:5000/v2/acme/app/blobs/sha256:1 HTTP/1.1\r\n\r\n", &h),
	    PROXY_HEAD_OK);
	proxy_decide(NULL, &h, &v);
	assert_false(v.allowed);
	assert_false(v.host_level);
	assert_string_equal(v.subject, "r.test:5000/acme/app");
	assert_true(strncmp(v.message, "rampart: r.test:5000/acme/app denied", 36) == 0);
	assert_int_equal(parse("CONNECT myreg:443 HTTP/1.1\r\n\r\n", &h), PROXY_HEAD_OK);
	proxy_decide(NULL, &h, &v);
	assert_false(v.allowed);
	assert_non_null(strstr(v.message, "without a dot or a port"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect),
	    cmocka_unit_test(test_absolute_form),
	    cmocka_unit_test(test_partial_and_limits),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_no_policy_denies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
