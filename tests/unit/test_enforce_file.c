/* SPDX-License-Identifier: ISC */
/*
 * Installing and removing a compiled engine policy file in a temp dir: the
 * original is saved and put back byte for byte, unchanged content keeps the
 * inode, a file someone else changed is never taken for rampart's, a link or
 * an untrusted directory is refused with nothing changed, and warn mode
 * leaves the engine's file alone.  Needs root (the directory trust check).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enforce_file.h"

#define ORIGINAL "{\"default\": [{\"type\": \"insecureAcceptAnything\"}]}\n"
#define V1 "{\"default\": [{\"type\": \"reject\"}], \"v\": 1}\n"
#define V2 "{\"default\": [{\"type\": \"reject\"}], \"v\": 2}\n"

struct fx {
	char dir[64], path[128], state[128], orig[160], next[160];
	struct efile_target t;
};

static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static char *get(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static ino_t ino(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_ino : 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (geteuid() != 0) {
		print_message("SKIP: needs root (directory trust checks)\n");
		free(f);
		return -1;
	}
	strcpy(f->dir, "/tmp/rampart-efile-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0755);
	snprintf(f->path, sizeof(f->path), "%s/policy.json", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/enforce.state", f->dir);
	snprintf(f->orig, sizeof(f->orig), "%s" EFILE_ORIG_SUFFIX, f->path);
	snprintf(f->next, sizeof(f->next), "%s" EFILE_NEXT_SUFFIX, f->path);
	f->t.path = f->path;
	f->t.state_path = f->state;
	f->t.uid = 0;
	f->t.gid = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_install_restore(void **state)
{
	struct fx *f = *state;
	struct efile_report r;
	struct rp_err e;
	struct stat st;
	ino_t i1;

	put(f->path, ORIGINAL, 0640);
	assert_int_equal(efile_install(&f->t, V1, strlen(V1), &r, &e), 0);
	assert_int_equal(r.result, EFILE_REPLACED);
	assert_true(r.saved_original);
	assert_string_equal(get(f->path), V1);
	assert_string_equal(get(f->orig), ORIGINAL);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_uid, 0);
	i1 = ino(f->path);
	assert_int_equal(r.ino, i1);
	/* unchanged: not written, same inode */
	assert_int_equal(efile_install(&f->t, V1, strlen(V1), &r, &e), 0);
	assert_int_equal(r.result, EFILE_UNCHANGED);
	assert_int_equal(ino(f->path), i1);
	/* new text: replaced, the original stays the original */
	assert_int_equal(efile_install(&f->t, V2, strlen(V2), &r, &e), 0);
	assert_int_equal(r.result, EFILE_REPLACED);
	assert_false(r.saved_original);
	assert_true(ino(f->path) != i1);
	assert_string_equal(get(f->orig), ORIGINAL);
	/* restore: the original bytes back, backup and state gone */
	assert_int_equal(efile_restore(&f->t, &r, &e), 0);
	assert_int_equal(r.result, EFILE_RESTORED);
	assert_string_equal(get(f->path), ORIGINAL);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(ino(f->orig), 0);
	assert_int_equal(ino(f->state), 0);
	/* twice: nothing to do */
	assert_int_equal(efile_restore(&f->t, &r, &e), 0);
	assert_int_equal(r.result, EFILE_NOTHING);
	assert_string_equal(get(f->path), ORIGINAL);
}

static void test_no_original(void **state)
{
	struct fx *f = *state;
	struct efile_report r;
	struct rp_err e;

	assert_int_equal(efile_install(&f->t, V1, strlen(V1), &r, &e), 0);
	assert_int_equal(r.result, EFILE_CREATED);
	assert_int_equal(ino(f->orig), 0);
	assert_int_equal(efile_restore(&f->t, &r, &e), 0);
	assert_int_equal(r.result, EFILE_REMOVED);
	assert_int_equal(ino(f->path), 0);
}

static void test_foreign_change(void **state)
{
	struct fx *f = *state;
	struct efile_report r;
	struct rp_err e;

	put(f->path, ORIGINAL, 0644);
	assert_int_equal(efile_install(&f->t, V1, strlen(V1), &r, &e), 0);
	put(f->path, "{\"edited\": true}\n", 0644); /* an admin or a package upgrade */
	/* restore keeps what someone else wrote */
	assert_int_equal(efile_restore(&f->t, &r, &e), 0);
	assert_int_equal(r.result, EFILE_KEPT_FOREIGN);
	assert_string_equal(get(f->path), "{\"edited\": true}\n");
	/* install saves it as the new original before replacing it */
	assert_int_equal(efile_install(&f->t, V1, strlen(V1), &r, &e), 0);
	assert_true(r.saved_original);
	assert_string_equal(get(f->orig), "{\"edited\": true}\n");
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	struct efile_report r;
	struct rp_err e;
	char target[160], buf[256];

	/* a link at the path: refused, the link and its target untouched */
	snprintf(target, sizeof(target), "%s/elsewhere.json", f->dir);
	put(target, ORIGINAL, 0644);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(efile_install(&f->t, V1, strlen(V1), &r, &e), -1);
	assert_string_equal(e.code, "E_ENFORCE_FILE");
	assert_true(readlink(f->path, buf, sizeof(buf)) > 0);
	assert_string_equal(get(target), ORIGINAL);
	unlink(f->path);
	/* a directory others can write: refused, nothing written */
	put(f->path, ORIGINAL, 0644);
	chmod(f->dir, 0777);
	assert_int_equal(efile_install(&f->t, V1, strlen(V1), &r, &e), -1);
	assert_string_equal(e.code, "E_ENFORCE_FILE");
	assert_non_null(strstr(e.msg, "nothing was changed"));
	assert_string_equal(get(f->path), ORIGINAL);
	assert_int_equal(ino(f->orig), 0);
	chmod(f->dir, 0755);
}

static void test_stage(void **state)
{
	struct fx *f = *state;
	struct efile_report r;
	struct rp_err e;
	ino_t i0;

	put(f->path, ORIGINAL, 0644);
	i0 = ino(f->path);
	assert_int_equal(efile_stage(&f->t, V1, strlen(V1), &r, &e), 0);
	assert_int_equal(ino(f->path), i0);
	assert_string_equal(get(f->path), ORIGINAL);
	assert_string_equal(get(f->next), V1);
	/* enforce, then back to warn: the original is put back, next written */
	assert_int_equal(efile_install(&f->t, V2, strlen(V2), &r, &e), 0);
	assert_int_equal(efile_stage(&f->t, V2, strlen(V2), &r, &e), 0);
	assert_int_equal(r.result, EFILE_RESTORED);
	assert_string_equal(get(f->path), ORIGINAL);
	assert_string_equal(get(f->next), V2);
	/* off: next removed, the original stays */
	assert_int_equal(efile_restore(&f->t, &r, &e), 0);
	assert_true(r.removed_next);
	assert_int_equal(ino(f->next), 0);
	assert_string_equal(get(f->path), ORIGINAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_install_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_original, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stage, setup, teardown),
	};
	if (geteuid() != 0) {
		printf("SKIP: test_enforce_file needs root\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
