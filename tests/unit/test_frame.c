/* SPDX-License-Identifier: ISC */
/* Frame decoder on partial, exact, oversize, zero-length and truncated inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"

static int dec(const uint8_t *b, size_t len, size_t max, size_t *plen, size_t *total,
               struct rp_err *e)
{
	size_t off = 99;
	int r = frame_decode(b, len, max, &off, plen, total, e);
	if (r == 1)
		assert_int_equal(off, FRAME_HDR);
	return r;
}

static void test_partial_header(void **st)
{
	uint8_t b[4] = {0, 0, 0, 5};
	size_t pl, t;
	for (size_t n = 0; n < 4; n++)
		assert_int_equal(dec(b, n, FRAME_MAX, &pl, &t, NULL), 0);
}

static void test_exact_and_truncated(void **st)
{
	uint8_t b[16];
	size_t pl = 0, t = 0;
	frame_header(b, 5);
	memcpy(b + 4, "{...}", 5);
	assert_int_equal(dec(b, 8, FRAME_MAX, &pl, &t, NULL), 0); /* truncated payload */
	assert_int_equal(dec(b, 9, FRAME_MAX, &pl, &t, NULL), 1);
	assert_int_equal(pl, 5);
	assert_int_equal(t, 9);
	/* trailing bytes of the next frame do not change this one */
	assert_int_equal(dec(b, 12, FRAME_MAX, &pl, &t, NULL), 1);
	assert_int_equal(t, 9);
}

static void test_zero_length(void **st)
{
	uint8_t b[4] = {0, 0, 0, 0};
	struct rp_err e;
	size_t pl, t;
	assert_int_equal(dec(b, 4, FRAME_MAX, &pl, &t, &e), -1);
	assert_string_equal(e.code, "E_FRAME");
}

static void test_oversize(void **st)
{
	uint8_t b[4];
	struct rp_err e;
	size_t pl, t;
	frame_header(b, FRAME_MAX + 1);
	assert_int_equal(dec(b, 4, FRAME_MAX, &pl, &t, &e), -1);
	assert_string_equal(e.code, "E_TOO_BIG");
	/* refused from the header alone: no need to buffer the body first */
	frame_header(b, 0xffffffffu);
	assert_int_equal(dec(b, 4, FRAME_MAX, &pl, &t, &e), -1);
	/* a lower configured cap is honoured; a cap above FRAME_MAX is clamped */
	frame_header(b, 300);
	assert_int_equal(dec(b, 4, 256, &pl, &t, &e), -1);
	frame_header(b, FRAME_MAX + 1);
	assert_int_equal(dec(b, 4, (size_t)FRAME_MAX * 4, &pl, &t, &e), -1);
	frame_header(b, FRAME_MAX);
	assert_int_equal(dec(b, 4, FRAME_MAX, &pl, &t, &e), 0);
}

static void test_header_roundtrip(void **st)
{
	uint8_t b[4];
	uint32_t vals[] = {1, 255, 256, 65535, 65536, 0x01020304};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		frame_header(b, vals[i]);
		assert_int_equal(frame_length(b), vals[i]);
	}
	frame_header(b, 0x01020304);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[3], 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_partial_header),   cmocka_unit_test(test_exact_and_truncated),
	    cmocka_unit_test(test_zero_length),      cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_header_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
