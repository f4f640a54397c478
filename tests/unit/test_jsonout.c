/* SPDX-License-Identifier: ISC */
/* The reply writer produces exactly what json_dumps(JSON_COMPACT) produces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonout.h"

static void same_as_jansson(json_t *v)
{
	struct jbuf b = {NULL, 0, 0, 0};
	char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	jbuf_value(&b, v);
	jbuf_put(&b, "", 1);
	assert_int_equal(b.err, 0);
	assert_non_null(want);
	assert_string_equal(b.p, want);
	free(want);
	free(b.p);
}

static void test_scalars_and_escapes(void **st)
{
	const char *strs[] = {"",
	                      "plain",
	                      "quote\" back\\slash",
	                      "nl\ncr\rtab\tbs\bff\f",
	                      "ctl\x01\x1f\x7f",
	                      "utf8 \xc3\xa9\xe2\x82\xac \xf0\x9f\x90\xb3"};
	json_int_t ints[] = {0, 1, -1, 42, 9223372036854775807LL, -9223372036854775807LL - 1};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		json_t *s = json_string(strs[i]);
		same_as_jansson(s);
		json_decref(s);
	}
	json_t *nul = json_stringn("a\0b", 3);
	same_as_jansson(nul);
	json_decref(nul);
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		json_t *n = json_integer(ints[i]);
		same_as_jansson(n);
		json_decref(n);
	}
	same_as_jansson(json_true());
	same_as_jansson(json_false());
	same_as_jansson(json_null());
}

static void test_nested(void **st)
{
	json_t *v = json_pack("{s:[i, s, {s:b, s:n}, []], s:{}, s:s, s:{s:{s:[]}}}", "a", 1, "x",
	                      "k", 1, "n", "empty", "str", "v\"", "deep", "d", "e");
	same_as_jansson(v);
	json_decref(v);
}

static void test_depth_limit(void **st)
{
	json_t *root = json_array(), *cur = root;
	struct jbuf b = {NULL, 0, 0, 0};
	for (int i = 0; i < 100; i++) {
		json_t *n = json_array();
		json_array_append_new(cur, n);
		cur = n;
	}
	jbuf_value(&b, root);
	assert_int_equal(b.err, 1); /* refused, not a stack overflow */
	free(b.p);
	json_decref(root);
}

/* jbuf_utf8_valid accepts exactly what jansson's json_stringn accepts. */
static void test_utf8_like_jansson(void **st)
{
	static const char *const cases[] = {
	    "",
	    "ascii",
	    "\xc3\xa9",
	    "\xe2\x82\xac",
	    "\xf0\x9f\x90\xb3",
	    "\xf4\x8f\xbf\xbf",
	    "\xc0\x80",         /* overlong NUL */
	    "\xc1\xbf",         /* overlong */
	    "\xe0\x80\xaf",     /* overlong '/' */
	    "\xed\xa0\x80",     /* surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xf5\x80\x80\x80",
	    "\xff",
	    "\x80",
	    "\xc3",
	    "\xe2\x82",
	    "a\xc3(",
	    "\xf0\x9f\x90",
	};
	unsigned long long x = 0x9e3779b97f4a7c15ULL;
	char buf[8];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = json_stringn(cases[i], strlen(cases[i]));
		assert_int_equal(jbuf_utf8_valid(cases[i], strlen(cases[i])), j != NULL);
		json_decref(j);
	}
	/* 200,000 random short strings, biased to bytes >= 0x80 */
	for (int i = 0; i < 200000; i++) {
		size_t n = 1 + (size_t)(i % 7);
		for (size_t k = 0; k < n; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			buf[k] = (char)((x & 3) ? (0x80 | (x >> 8)) : (x >> 8) & 0x7f);
		}
		json_t *j = json_stringn(buf, n);
		if (jbuf_utf8_valid(buf, n) != (j != NULL))
			fail_msg("utf8 disagreement at case %d", i);
		json_decref(j);
	}
}

/* The text writers give jansson's bytes; invalid UTF-8 is an error, not output. */
static void test_text_writers(void **st)
{
	const char *strs[] = {"", "plain", "q\"b\\s\n\x01", "utf8 \xc3\xa9\xf0\x9f\x90\xb3"};
	long long ints[] = {0, -1, 42, 9223372036854775807LL, -9223372036854775807LL - 1};
	struct jbuf b = {NULL, 0, 0, 0};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		json_t *j = json_string(strs[i]);
		char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		b.len = 0;
		jbuf_string(&b, strs[i], strlen(strs[i]));
		assert_int_equal(b.err, 0);
		assert_int_equal(b.len, strlen(want));
		assert_memory_equal(b.p, want, b.len);
		free(want);
		json_decref(j);
	}
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		json_t *j = json_integer(ints[i]);
		char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		b.len = 0;
		jbuf_int(&b, ints[i]);
		assert_int_equal(b.len, strlen(want));
		assert_memory_equal(b.p, want, b.len);
		free(want);
		json_decref(j);
	}
	b.len = 0;
	jbuf_bool(&b, 1);
	jbuf_bool(&b, 0);
	assert_int_equal(b.len, 9);
	assert_memory_equal(b.p, "truefalse", 9);
	jbuf_string(&b, "bad \xc3(", 6);
	assert_int_equal(b.err, 1);
	free(b.p);
	b = (struct jbuf){NULL, 0, 0, 0};
	jbuf_string(&b, NULL, 0);
	assert_int_equal(b.err, 1);
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars_and_escapes), cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_depth_limit),         cmocka_unit_test(test_utf8_like_jansson),
	    cmocka_unit_test(test_text_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
