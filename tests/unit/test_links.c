/* SPDX-License-Identifier: ISC */
/*
 * CLI links in a temp tree (never /usr/local/bin): creation and idempotence,
 * names that try to escape, user files and foreign links kept, directories
 * (or their parents) that others can write or that were swapped for links
 * refused, and a swap during the operation that must not redirect the write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "links.h"
#include "safefs.h"
#include "sysops_testutil.h"

static char tree[64], app[PATH_MAX], bin[PATH_MAX];
static const char *two[] = {"tool1", "tool2"};

static int setup(void **st)
{
	char p[PATH_MAX];

	tu_mktree(tree, sizeof(tree), "links");
	tu_path(app, sizeof(app), tree, "app");
	tu_path(bin, sizeof(bin), tree, "bin");
	assert_int_equal(mkdir(app, 0755), 0);
	assert_int_equal(mkdir(bin, 0755), 0);
	for (int i = 0; i < 2; i++) {
		tu_path(p, sizeof(p), app, two[i]);
		assert_int_equal(tu_write(p, "#!/bin/sh\n", 10, 0755), 0);
	}
	return 0;
}

static int teardown(void **st)
{
	safefs_test_hook = NULL;
	tu_rmtree(tree);
	return 0;
}

static struct links_cfg cfg_for(const char *b, const char *const *names, size_t n)
{
	return (struct links_cfg){b, app, names, n, geteuid(), (gid_t)-1};
}

static void expect_link(const char *dir, const char *name, const char *target)
{
	char p[PATH_MAX], got[PATH_MAX];
	ssize_t n;

	tu_path(p, sizeof(p), dir, name);
	n = readlink(p, got, sizeof(got) - 1);
	if (n < 0)
		fail_msg("%s is not a link", p);
	got[n] = '\0';
	assert_string_equal(got, target);
}

static void expect_state(const struct links_report *rep, size_t i, const char *name,
                         enum links_state s)
{
	assert_true(i < rep->n);
	assert_string_equal(rep->r[i].name, name);
	if (rep->r[i].state != s)
		fail_msg("%s: state %d, want %d (%s)", name, rep->r[i].state, s, rep->r[i].reason);
}

static void test_install_idempotent(void **st)
{
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e = {"", ""};
	char want[PATH_MAX], p[PATH_MAX];
	struct stat s1, s2;

	if (links_install(&cfg, 0, 0, &rep, &e) != 0)
		fail_msg("%s: %s", e.code, e.msg);
	assert_int_equal(rep.changed, 1);
	expect_state(&rep, 0, "tool1", LINKS_CREATED);
	expect_state(&rep, 1, "tool2", LINKS_CREATED);
	tu_path(want, sizeof(want), app, "tool1");
	expect_link(bin, "tool1", want);
	assert_int_equal(tu_count(bin), 2); /* no temp names left */

	tu_path(p, sizeof(p), bin, "tool1");
	assert_int_equal(lstat(p, &s1), 0);
	assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), 0);
	assert_int_equal(rep.changed, 0);
	expect_state(&rep, 0, "tool1", LINKS_UNCHANGED);
	expect_state(&rep, 1, "tool2", LINKS_UNCHANGED);
	assert_int_equal(lstat(p, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);

	/* app_dir given with a trailing slash makes the same links */
	char app_slash[PATH_MAX + 1];
	snprintf(app_slash, sizeof(app_slash), "%s/", app);
	cfg.app_dir = app_slash;
	assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), 0);
	assert_int_equal(rep.changed, 0);
}

static void test_bad_names(void **st)
{
	char longname[300], outside[PATH_MAX];
	const char *names[] = {"../evil", "a/b", ".", "..", "", "a\nb", "a\x01", longname, NULL};
	struct links_cfg cfg = cfg_for(bin, names, 9);
	struct links_report rep;
	struct rp_err e;

	memset(longname, 'x', 256);
	longname[256] = '\0';
	tu_path(outside, sizeof(outside), tree, "evil");
	assert_int_equal(tu_write(outside, "x", 1, 0755), 0); /* a target that exists */
	assert_int_equal(links_install(&cfg, 1, 1, &rep, &e), -1);
	assert_string_equal(e.code, "E_LINKS_INCOMPLETE");
	assert_int_equal(rep.n, 9);
	for (size_t i = 0; i < rep.n; i++)
		assert_int_equal(rep.r[i].state, LINKS_REFUSED);
	assert_int_equal(rep.changed, 0);
	assert_int_equal(tu_count(bin), 0);
	assert_int_equal(tu_count(tree), 3); /* app, bin, evil: nothing new */
	assert_int_equal(links_remove(&cfg, &rep, &e), -1);
	assert_int_equal(rep.r[0].state, LINKS_REFUSED);
	assert_int_equal(tu_count(tree), 3);
}

static void test_user_file_kept(void **st)
{
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e;
	char p[PATH_MAX], *s;
	size_t n;

	tu_path(p, sizeof(p), bin, "tool1");
	assert_int_equal(tu_write(p, "mine", 4, 0755), 0);
	assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_LINKS_INCOMPLETE");
	expect_state(&rep, 0, "tool1", LINKS_KEPT_FOREIGN);
	expect_state(&rep, 1, "tool2", LINKS_CREATED);
	s = tu_read(p, &n);
	assert_string_equal(s, "mine");
	free(s);

	/* force from someone who is not root: ignored */
	assert_int_equal(links_install(&cfg, 1, 0, &rep, &e), -1);
	assert_int_equal(rep.force_ignored, 1);
	expect_state(&rep, 0, "tool1", LINKS_KEPT_FOREIGN);
	assert_non_null(strstr(rep.r[0].reason, "only for root"));
	s = tu_read(p, &n);
	assert_string_equal(s, "mine");
	free(s);

	/* removal never touches it */
	assert_int_equal(links_remove(&cfg, &rep, &e), 0);
	expect_state(&rep, 0, "tool1", LINKS_KEPT_FOREIGN);
	expect_state(&rep, 1, "tool2", LINKS_REMOVED);
	s = tu_read(p, &n);
	assert_string_equal(s, "mine");
	free(s);

	/* force from root replaces it */
	assert_int_equal(links_install(&cfg, 1, 1, &rep, &e), 0);
	expect_state(&rep, 0, "tool1", LINKS_REPLACED);
	tu_path(p, sizeof(p), app, "tool1");
	expect_link(bin, "tool1", p);
}

static void test_foreign_links_kept(void **st)
{
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e;
	char p[PATH_MAX], sneaky[PATH_MAX * 2];

	tu_path(p, sizeof(p), bin, "tool1");
	assert_int_equal(symlink("/bin/sh", p), 0);
	/* textually under app_dir, but '..' leads out of it */
	snprintf(sneaky, sizeof(sneaky), "%s/../bin/tool2", app);
	tu_path(p, sizeof(p), bin, "tool2");
	assert_int_equal(symlink(sneaky, p), 0);

	assert_int_equal(links_install(&cfg, 0, 1, &rep, &e), -1);
	expect_state(&rep, 0, "tool1", LINKS_KEPT_FOREIGN);
	expect_state(&rep, 1, "tool2", LINKS_KEPT_FOREIGN);
	expect_link(bin, "tool1", "/bin/sh");
	assert_int_equal(links_remove(&cfg, &rep, &e), 0);
	expect_state(&rep, 0, "tool1", LINKS_KEPT_FOREIGN);
	expect_state(&rep, 1, "tool2", LINKS_KEPT_FOREIGN);
	expect_link(bin, "tool1", "/bin/sh");
	expect_link(bin, "tool2", sneaky);
	assert_int_equal(rep.changed, 0);

	assert_int_equal(links_install(&cfg, 1, 1, &rep, &e), 0);
	expect_state(&rep, 0, "tool1", LINKS_REPLACED);
	tu_path(p, sizeof(p), app, "tool1");
	expect_link(bin, "tool1", p);
}

static void test_dir_and_stale_link(void **st)
{
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e;
	char p[PATH_MAX], old[PATH_MAX];
	struct stat s;

	tu_path(p, sizeof(p), bin, "tool1");
	assert_int_equal(mkdir(p, 0755), 0);
	tu_path(old, sizeof(old), app, "old-name"); /* ours: into app_dir, even if dangling */
	tu_path(p, sizeof(p), bin, "tool2");
	assert_int_equal(symlink(old, p), 0);

	assert_int_equal(links_install(&cfg, 1, 1, &rep, &e), -1);
	expect_state(&rep, 0, "tool1", LINKS_KEPT_FOREIGN);
	expect_state(&rep, 1, "tool2", LINKS_UPDATED);
	tu_path(p, sizeof(p), bin, "tool1");
	assert_int_equal(lstat(p, &s), 0);
	assert_true(S_ISDIR(s.st_mode));
	tu_path(p, sizeof(p), app, "tool2");
	expect_link(bin, "tool2", p);
}

static void test_target_checks(void **st)
{
	const char *names[] = {"missing", "escape", "tool1"};
	struct links_cfg cfg = cfg_for(bin, names, 3);
	struct links_report rep;
	struct rp_err e;
	char p[PATH_MAX], out[PATH_MAX];

	tu_path(out, sizeof(out), tree, "outside");
	assert_int_equal(tu_write(out, "x", 1, 0755), 0);
	tu_path(p, sizeof(p), app, "escape"); /* app/escape -> a file outside app_dir */
	assert_int_equal(symlink(out, p), 0);
	assert_int_equal(links_install(&cfg, 1, 1, &rep, &e), -1);
	expect_state(&rep, 0, "missing", LINKS_REFUSED);
	expect_state(&rep, 1, "escape", LINKS_REFUSED);
	assert_non_null(strstr(rep.r[1].reason, "outside"));
	expect_state(&rep, 2, "tool1", LINKS_CREATED);
	assert_int_equal(tu_count(bin), 1);
}

static struct rp_err last_err;

/* The whole operation is refused before anything is written. */
static void expect_unsafe(const struct links_cfg *cfg, const char *code)
{
	struct links_report rep;
	struct rp_err *e = &last_err;

	memset(e, 0, sizeof(*e));
	assert_int_equal(links_install(cfg, 1, 1, &rep, e), -1);
	if (strcmp(e->code, code) != 0)
		fail_msg("want %s, got %s: %s", code, e->code, e->msg);
	assert_int_equal(rep.n, 0);
	assert_int_equal(rep.changed, 0);
}

static void test_writable_bin_dir_refused(void **st)
{
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e;
	gid_t g = geteuid() == 0 ? TU_NOBODY : getegid();

	assert_int_equal(chmod(bin, 0777), 0);
	expect_unsafe(&cfg, "E_FS_UNSAFE");
	assert_int_equal(chmod(bin, 01777), 0); /* sticky does not help the last directory */
	expect_unsafe(&cfg, "E_FS_UNSAFE");
	assert_int_equal(tu_count(bin), 0);

	if (g != 0) { /* group-writable by a group that is not root's */
		if (geteuid() == 0)
			assert_int_equal(chown(bin, 0, g), 0);
		assert_int_equal(chmod(bin, 0775), 0);
		expect_unsafe(&cfg, "E_FS_UNSAFE");
		cfg.allowed_gid = g;
		assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), 0);
	}
}

static void test_writable_parent_refused(void **st)
{
	char p[PATH_MAX], b2[PATH_MAX];
	struct links_cfg cfg;
	struct links_report rep;
	struct rp_err e;

	tu_path(p, sizeof(p), tree, "p");
	tu_path(b2, sizeof(b2), p, "bin");
	assert_int_equal(mkdir(p, 0777), 0);
	assert_int_equal(mkdir(b2, 0755), 0);
	assert_int_equal(chmod(p, 0777), 0);
	cfg = cfg_for(b2, two, 2);
	expect_unsafe(&cfg, "E_FS_UNSAFE");
	assert_int_equal(tu_count(b2), 0);
	/* a sticky parent (like /tmp) is fine: others cannot rename what is in it */
	assert_int_equal(chmod(p, 01777), 0);
	assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), 0);
	assert_int_equal(tu_count(b2), 2);
}

static void test_owner_not_allowed(void **st)
{
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e;

	if (geteuid() == 0) {
		assert_int_equal(chown(bin, TU_NOBODY, TU_NOBODY), 0);
		cfg.allowed_uid = (uid_t)-1;
		expect_unsafe(&cfg, "E_FS_UNSAFE");
		cfg.allowed_uid = TU_NOBODY;
		assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), 0);
	} else {
		cfg.allowed_uid = (uid_t)-1; /* the tree is ours, and we are not root */
		expect_unsafe(&cfg, "E_FS_UNSAFE");
	}
	assert_non_null(strstr(last_err.msg, "neither root nor the configured owner"));
}

static void test_bin_dir_swapped_for_link(void **st)
{
	char other[PATH_MAX];
	struct links_cfg cfg = cfg_for(bin, two, 2);

	tu_path(other, sizeof(other), tree, "other");
	assert_int_equal(mkdir(other, 0755), 0);
	assert_int_equal(rmdir(bin), 0);
	tu_foreign_symlink(other, bin);
	expect_unsafe(&cfg, "E_FS_SYMLINK");
	assert_int_equal(tu_count(other), 0);
}

static void test_parent_swapped_for_link(void **st)
{
	char p[PATH_MAX], q[PATH_MAX], qbin[PATH_MAX], pbin[PATH_MAX];
	struct links_cfg cfg;

	tu_path(p, sizeof(p), tree, "p");
	tu_path(q, sizeof(q), tree, "q");
	tu_path(qbin, sizeof(qbin), q, "bin");
	tu_path(pbin, sizeof(pbin), p, "bin");
	assert_int_equal(mkdir(q, 0755), 0);
	assert_int_equal(mkdir(qbin, 0755), 0);
	tu_foreign_symlink(q, p);
	cfg = cfg_for(pbin, two, 2);
	expect_unsafe(&cfg, "E_FS_SYMLINK");
	assert_int_equal(tu_count(qbin), 0);
}

/* Root's own links in root-only directories (like /var/run -> /run) are followed. */
static void test_root_placed_link(void **st)
{
	char p[PATH_MAX], q[PATH_MAX], qbin[PATH_MAX], pbin[PATH_MAX];
	struct links_cfg cfg;
	struct links_report rep;
	struct rp_err e;

	if (geteuid() != 0)
		skip();
	tu_path(p, sizeof(p), tree, "p");
	tu_path(q, sizeof(q), tree, "q");
	tu_path(qbin, sizeof(qbin), q, "bin");
	tu_path(pbin, sizeof(pbin), p, "bin");
	assert_int_equal(mkdir(q, 0755), 0);
	assert_int_equal(mkdir(qbin, 0755), 0);
	assert_int_equal(symlink("q", p), 0);
	cfg = cfg_for(pbin, two, 2);
	if (links_install(&cfg, 0, 1, &rep, &e) != 0)
		fail_msg("%s: %s", e.code, e.msg);
	assert_int_equal(tu_count(qbin), 2);

	/* the same root-owned link in a directory someone else owns: refused */
	assert_int_equal(chown(tree, TU_NOBODY, TU_NOBODY), 0);
	cfg.allowed_uid = TU_NOBODY;
	expect_unsafe(&cfg, "E_FS_SYMLINK");
}

static char swap_from[PATH_MAX], swap_to[PATH_MAX];

static void swap_hook(const char *path, int fd)
{
	char moved[PATH_MAX + 8];

	if (strcmp(path, swap_from) != 0)
		return;
	snprintf(moved, sizeof(moved), "%s.orig", swap_from);
	assert_int_equal(rename(swap_from, moved), 0);
	tu_foreign_symlink(swap_to, swap_from);
}

static void test_swap_during_op(void **st)
{
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e;
	char moved[PATH_MAX + 8];

	rp_strlcpy(swap_from, bin, sizeof(swap_from));
	tu_path(swap_to, sizeof(swap_to), tree, "elsewhere");
	assert_int_equal(mkdir(swap_to, 0755), 0);
	safefs_test_hook = swap_hook;
	assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), 0);
	safefs_test_hook = NULL;
	assert_int_equal(tu_count(swap_to), 0); /* nothing written through the new link */
	snprintf(moved, sizeof(moved), "%s.orig", bin);
	assert_int_equal(tu_count(moved), 2); /* written in the directory we opened */
}

static void test_remove(void **st)
{
	const char *three[] = {"tool1", "tool2", "tool3"};
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e;
	char p[PATH_MAX];

	assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), 0);
	tu_path(p, sizeof(p), bin, "tool3");
	assert_int_equal(symlink("/usr/bin/env", p), 0);
	cfg = cfg_for(bin, three, 3);
	assert_int_equal(links_remove(&cfg, &rep, &e), 0);
	assert_int_equal(rep.changed, 1);
	expect_state(&rep, 0, "tool1", LINKS_REMOVED);
	expect_state(&rep, 1, "tool2", LINKS_REMOVED);
	expect_state(&rep, 2, "tool3", LINKS_KEPT_FOREIGN);
	assert_int_equal(tu_count(bin), 1);
	assert_int_equal(links_remove(&cfg, &rep, &e), 0);
	expect_state(&rep, 0, "tool1", LINKS_ABSENT);
	assert_int_equal(rep.changed, 0);

	/* our links go even after the app directory itself was deleted */
	cfg = cfg_for(bin, two, 2);
	assert_int_equal(links_install(&cfg, 0, 0, &rep, &e), 0);
	tu_rmtree(app);
	assert_int_equal(links_remove(&cfg, &rep, &e), 0);
	expect_state(&rep, 0, "tool1", LINKS_REMOVED);
	assert_int_equal(tu_count(bin), 1);
}

static void test_bad_config(void **st)
{
	struct links_cfg cfg = cfg_for(bin, two, 2);
	struct links_report rep;
	struct rp_err e;
	char dotdot[PATH_MAX + 8];

	cfg.app_dir = "relative/app";
	expect_unsafe(&cfg, "E_LINKS_CONFIG");
	snprintf(dotdot, sizeof(dotdot), "%s/../app", app);
	cfg.app_dir = dotdot;
	expect_unsafe(&cfg, "E_LINKS_CONFIG");
	cfg.app_dir = "/";
	expect_unsafe(&cfg, "E_LINKS_CONFIG");
	cfg = cfg_for(app, two, 2); /* bin_dir == app_dir would replace the tools */
	expect_unsafe(&cfg, "E_LINKS_CONFIG");
	cfg = cfg_for("relative/bin", two, 2);
	expect_unsafe(&cfg, "E_FS_PATH");
	cfg = cfg_for(bin, two, LINKS_MAX_NAMES + 1);
	expect_unsafe(&cfg, "E_LINKS_CONFIG");
	assert_int_equal(links_install(NULL, 0, 0, &rep, &e), -1);
	assert_string_equal(e.code, "E_LINKS_CONFIG");
	cfg = cfg_for(bin, two, 2);
	cfg.app_dir = "/nonexistent-rampart-app";
	expect_unsafe(&cfg, "E_LINKS_CONFIG");
	assert_int_equal(tu_count(bin), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_install_idempotent),
	    T(test_bad_names),
	    T(test_user_file_kept),
	    T(test_foreign_links_kept),
	    T(test_dir_and_stale_link),
	    T(test_target_checks),
	    T(test_writable_bin_dir_refused),
	    T(test_writable_parent_refused),
	    T(test_owner_not_allowed),
	    T(test_bin_dir_swapped_for_link),
	    T(test_parent_swapped_for_link),
	    T(test_root_placed_link),
	    T(test_swap_during_op),
	    T(test_remove),
	    T(test_bad_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
