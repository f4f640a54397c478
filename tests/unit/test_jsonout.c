/* SPDX-License-Identifier: ISC */
/* The reply writer produces exactly what json_dumps(JSON_COMPACT) produces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/daemon/jsonout.c"

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
	const char *strs[] = {"", "plain", "quote\" back\\slash", "nl\ncr\rtab\tbs\bff\f",
			      "ctl\x01\x1f\x7f", "utf8 \xc3\xa9\xe2\x82\xac \xf0\x9f\x90\xb3"};
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scalars_and_escapes),
	    cmocka_unit_test(test_nested),
	    cmocka_unit_test(test_depth_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
