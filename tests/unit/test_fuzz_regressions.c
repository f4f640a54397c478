/* SPDX-License-Identifier: ISC */
/*
 * Replays every checked-in fuzz input -- the seed corpora in
 * tests/fuzz/corpus/<target>/ and the crash reproducers in
 * tests/fuzz/regressions/<target>/ -- through the same fuzz_<target>()
 * entry points the libFuzzer binaries use, so a bug found once stays fixed
 * in the normal (and the sanitizer) build.  A broken property aborts.
 */
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* The entry points, linked into this test as into the fuzzers (rampart_fuzz_entries). */
#include "fuzz.h"

typedef int (*fuzz_fn)(const uint8_t *d, size_t n);

static char replay_name[4096];

/* A sanitizer or a failed property aborts: say which input did it. */
static void replay_on_signal(int sig)
{
	static const char msg[] = "\ntest_fuzz_regressions: crashed on input ";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	r += write(2, replay_name, strlen(replay_name));
	r += write(2, "\n", 1);
	(void)r;
	signal(sig, SIG_DFL);
	raise(sig);
}

static unsigned char *replay_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0 && n <= 4 * 1024 * 1024);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Replays every regular file of dir; returns how many. */
static size_t replay_dir(const char *dir, fuzz_fn fn)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t count = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		unsigned char *buf;
		size_t len;
		if (de->d_name[0] == '.')
			continue;
		snprintf(replay_name, sizeof(replay_name), "%s/%s", dir, de->d_name);
		fuzz_current_input = replay_name;
		buf = replay_read(replay_name, &len);
		assert_int_equal(fn(buf, len), 0);
		free(buf);
		count++;
	}
	closedir(d);
	fuzz_current_input = NULL;
	return count;
}

static void replay_target(const char *name, fuzz_fn fn)
{
	const char *src = getenv("RAMPART_SRC");
	char dir[2048];
	size_t seeds, regs;

	assert_non_null(src);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", src, name);
	seeds = replay_dir(dir, fn);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/%s", src, name);
	regs = replay_dir(dir, fn);
	print_message("fuzz_%s: %zu seed inputs, %zu regression inputs replayed\n", name, seeds,
	              regs);
	assert_true(seeds > 0); /* a missing corpus must not pass silently */
}

static void test_frame(void **state)
{
	(void)state;
	replay_target("frame", fuzz_frame);
}

static void test_request(void **state)
{
	(void)state;
	replay_target("request", fuzz_request);
	fuzz_request_cleanup();
}

static void test_dsse(void **state)
{
	(void)state;
	replay_target("dsse", fuzz_dsse);
}

static void test_payload(void **state)
{
	(void)state;
	replay_target("payload", fuzz_payload);
}

static void test_reference(void **state)
{
	(void)state;
	replay_target("reference", fuzz_reference);
}

static void test_hosts(void **state)
{
	(void)state;
	replay_target("hosts", fuzz_hosts);
}

static void test_fetch(void **state)
{
	(void)state;
	replay_target("fetch", fuzz_fetch);
}

static void test_cpolicy(void **state)
{
	(void)state;
	replay_target("cpolicy", fuzz_cpolicy);
}

static void test_authz(void **state)
{
	(void)state;
	replay_target("authz", fuzz_authz);
}

static void test_root(void **state)
{
	(void)state;
	replay_target("root", fuzz_root);
}

static void test_oci(void **state)
{
	(void)state;
	replay_target("oci", fuzz_oci);
}

static void test_proxy_stats(void **state)
{
	(void)state;
	replay_target("proxy_stats", fuzz_proxy_stats);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame),     cmocka_unit_test(test_request),
	    cmocka_unit_test(test_dsse),      cmocka_unit_test(test_payload),
	    cmocka_unit_test(test_reference), cmocka_unit_test(test_hosts),
	    cmocka_unit_test(test_fetch),     cmocka_unit_test(test_cpolicy),
	    cmocka_unit_test(test_authz),     cmocka_unit_test(test_root),
	    cmocka_unit_test(test_oci),       cmocka_unit_test(test_proxy_stats),
	};

	signal(SIGABRT, replay_on_signal);
	signal(SIGSEGV, replay_on_signal);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
