/* SPDX-License-Identifier: ISC */
/*
 * Engine socket link in a temp tree (never /var/run): idempotence (inode
 * unchanged), the target can only be home + pattern, bad patterns and
 * home tricks refused, what is not ours kept, a link directory swapped for a
 * link (before or during the operation) never redirects the write, removal
 * leaves foreign links alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>

#include "safefs.h"
#include "socketlink.h"
#include "sysops_testutil.h"

#define REL ".docker/run/docker.sock"

static char tree[64], home[PATH_MAX], rundir[PATH_MAX], link_path[PATH_MAX], target[PATH_MAX];
static int lfd = -1;

static int tu_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	rp_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int tu_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	rp_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc;
}

static void mkdirs(const char *base, const char *rel)
{
	char p[PATH_MAX];

	tu_path(p, sizeof(p), base, rel);
	for (char *s = p + strlen(base) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
		*s = '/';
	}
	assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
}

static int setup(void **st)
{
	tu_mktree(tree, sizeof(tree), "sock");
	tu_path(home, sizeof(home), tree, "home");
	tu_path(rundir, sizeof(rundir), tree, "var/run");
	tu_path(link_path, sizeof(link_path), rundir, "docker.sock");
	tu_path(target, sizeof(target), home, REL);
	mkdirs(tree, "home/.docker/run");
	mkdirs(tree, "var/run");
	lfd = tu_listen(target);
	return 0;
}

static int teardown(void **st)
{
	safefs_test_hook = NULL;
	if (lfd >= 0)
		close(lfd);
	lfd = -1;
	tu_rmtree(tree);
	return 0;
}

static struct socketlink_cfg cfg_std(void)
{
	return (struct socketlink_cfg){link_path, REL, geteuid(), home, NULL, 0};
}

static void expect_link(const char *path, const char *want)
{
	char got[PATH_MAX];
	ssize_t n = readlink(path, got, sizeof(got) - 1);

	if (n < 0)
		fail_msg("%s is not a link", path);
	got[n] = '\0';
	assert_string_equal(got, want);
}

static void ensure_ok(const struct socketlink_cfg *cfg, int force, int root,
                      struct socketlink_report *rep)
{
	struct rp_err e = {"", ""};

	if (socketlink_ensure(cfg, force, root, rep, &e) != 0)
		fail_msg("%s: %s", e.code, e.msg);
}

static void test_ensure_idempotent(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	struct stat s1, s2;

	ensure_ok(&cfg, 0, 0, &rep);
	assert_int_equal(rep.state, SOCKETLINK_CREATED);
	assert_int_equal(rep.found, SOCKETLINK_FOUND_NOTHING);
	assert_int_equal(rep.target_ready, 1);
	assert_string_equal(rep.target, target);
	expect_link(link_path, target);
	assert_int_equal(tu_connect(link_path), 0); /* the link leads to the engine */
	assert_int_equal(lstat(link_path, &s1), 0);

	ensure_ok(&cfg, 0, 0, &rep);
	assert_int_equal(rep.state, SOCKETLINK_UNCHANGED);
	assert_int_equal(rep.found, SOCKETLINK_FOUND_OURS);
	assert_int_equal(lstat(link_path, &s2), 0);
	assert_int_equal(s1.st_ino, s2.st_ino);
	assert_int_equal(s1.st_ctime, s2.st_ctime);
	assert_int_equal(tu_count(rundir), 1); /* no temp name left */

	/* home given with a trailing slash: same target, still unchanged */
	char home_slash[PATH_MAX + 1];
	snprintf(home_slash, sizeof(home_slash), "%s/", home);
	cfg.home = home_slash;
	ensure_ok(&cfg, 0, 0, &rep);
	assert_int_equal(rep.state, SOCKETLINK_UNCHANGED);
}

static void test_status(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	struct rp_err e;

	assert_int_equal(socketlink_status(&cfg, &rep, &e), 0);
	assert_int_equal(rep.state, SOCKETLINK_STATUS);
	assert_int_equal(rep.found, SOCKETLINK_FOUND_NOTHING);
	assert_int_equal(rep.target_ready, 1);
	assert_int_equal(tu_count(rundir), 0);
	ensure_ok(&cfg, 0, 0, &rep);
	assert_int_equal(socketlink_status(&cfg, &rep, &e), 0);
	assert_int_equal(rep.found, SOCKETLINK_FOUND_OURS);
	assert_string_equal(rep.was, target);

	/* a target problem is a note in the status, not an error */
	close(lfd);
	lfd = -1;
	assert_int_equal(unlink(target), 0);
	assert_int_equal(tu_write(target, "x", 1, 0644), 0);
	assert_int_equal(socketlink_status(&cfg, &rep, &e), 0);
	assert_int_equal(rep.target_ready, 0);
	assert_non_null(strstr(rep.note, "not a socket"));
}

static void expect_refused(const struct socketlink_cfg *cfg, const char *code)
{
	struct socketlink_report rep;
	struct rp_err e = {"", ""};

	assert_int_equal(socketlink_ensure(cfg, 1, 1, &rep, &e), -1);
	if (strcmp(e.code, code) != 0)
		fail_msg("want %s, got %s: %s", code, e.code, e.msg);
	assert_int_equal(tu_count(rundir), 0);
}

static void test_bad_patterns(void **st)
{
	static const char *bad[] = {
	    "../x",        ".docker/../../etc/x",
	    "/etc/shadow", "",
	    "a//b",        "a/",
	    "./a",         "a/./b",
	    "a/..",        "a\nb",
	    "a\x01",       "..",
	};
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	struct rp_err e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.target_rel = bad[i];
		expect_refused(&cfg, "E_SOCKLINK_CONFIG");
		assert_int_equal(socketlink_remove(&cfg, &rep, &e), -1);
		assert_int_equal(socketlink_status(&cfg, &rep, &e), -1);
	}
	cfg.target_rel = NULL;
	expect_refused(&cfg, "E_SOCKLINK_CONFIG");
	cfg = cfg_std();
	static const char *badhome[] = {"relative/home", "/", "//", "/tmp/../etc"};
	for (size_t i = 0; i < sizeof(badhome) / sizeof(badhome[0]); i++) {
		cfg.home = badhome[i];
		expect_refused(&cfg, "E_SOCKLINK_CONFIG");
	}
	cfg = cfg_std();
	const char *prev[] = {"relative"};
	cfg.previous = prev;
	cfg.n_previous = 1;
	expect_refused(&cfg, "E_SOCKLINK_CONFIG");
	cfg = cfg_std();
	cfg.link_path = "relative/docker.sock";
	expect_refused(&cfg, "E_FS_PATH");
}

/*
 * The only way to choose the target is home + pattern from the config; a
 * link the owner plants inside their home cannot send us elsewhere.
 */
static void test_target_only_from_config(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	char docker[PATH_MAX], elsewhere[PATH_MAX];

	ensure_ok(&cfg, 0, 0, &rep);
	assert_string_equal(rep.target, target);
	assert_int_equal(unlink(link_path), 0);

	/* ~/.docker replaced by a link to a directory holding another socket */
	char other[PATH_MAX];
	int ofd;
	tu_path(elsewhere, sizeof(elsewhere), tree, "elsewhere");
	mkdirs(tree, "elsewhere/run");
	tu_path(other, sizeof(other), elsewhere, "run/docker.sock");
	ofd = tu_listen(other);
	tu_path(docker, sizeof(docker), home, ".docker");
	tu_rmtree(docker);
	tu_foreign_symlink(elsewhere, docker);
	expect_refused(&cfg, "E_SOCKLINK_TARGET");

	/* the socket itself a link to that other socket */
	assert_int_equal(unlink(docker), 0);
	mkdirs(home, ".docker/run");
	assert_int_equal(symlink(other, target), 0);
	expect_refused(&cfg, "E_SOCKLINK_TARGET");
	close(ofd);
}

static void test_target_checks(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	char dir[PATH_MAX];

	/* not owned by the owner */
	if (geteuid() == 0)
		assert_int_equal(lchown(target, TU_NOBODY, TU_NOBODY), 0);
	else
		cfg.owner_uid = geteuid() + 1;
	expect_refused(&cfg, "E_SOCKLINK_TARGET");
	cfg = cfg_std();
	if (geteuid() == 0)
		assert_int_equal(lchown(target, 0, 0), 0);

	/* a regular file is not an engine socket */
	close(lfd);
	lfd = -1;
	assert_int_equal(unlink(target), 0);
	assert_int_equal(tu_write(target, "x", 1, 0600), 0);
	expect_refused(&cfg, "E_SOCKLINK_TARGET");

	/* missing target (engine not started yet), missing directory: the link is made */
	assert_int_equal(unlink(target), 0);
	ensure_ok(&cfg, 0, 0, &rep);
	assert_int_equal(rep.state, SOCKETLINK_CREATED);
	assert_int_equal(rep.target_ready, 0);
	assert_true(rep.note[0] != '\0');
	tu_path(dir, sizeof(dir), home, ".docker/run");
	assert_int_equal(rmdir(dir), 0);
	ensure_ok(&cfg, 0, 0, &rep);
	assert_int_equal(rep.state, SOCKETLINK_UNCHANGED);
	assert_int_equal(rep.target_ready, 0);
	expect_link(link_path, target);
}

static void expect_kept(const struct socketlink_cfg *cfg, int force, int root,
                        enum socketlink_found found)
{
	struct socketlink_report rep;
	struct rp_err e = {"", ""};

	assert_int_equal(socketlink_ensure(cfg, force, root, &rep, &e), -1);
	assert_string_equal(e.code, "E_SOCKLINK_OCCUPIED");
	assert_int_equal(rep.state, SOCKETLINK_KEPT);
	assert_int_equal(rep.found, found);
}

static void test_regular_file_kept(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	struct rp_err e;
	char *s;
	size_t n;

	assert_int_equal(tu_write(link_path, "keep me", 7, 0644), 0);
	expect_kept(&cfg, 0, 0, SOCKETLINK_FOUND_FILE);
	expect_kept(&cfg, 1, 0, SOCKETLINK_FOUND_FILE); /* force, but not root */
	expect_kept(&cfg, 0, 1, SOCKETLINK_FOUND_FILE); /* root, but no force */
	assert_int_equal(socketlink_remove(&cfg, &rep, &e), 0);
	assert_int_equal(rep.state, SOCKETLINK_KEPT);
	s = tu_read(link_path, &n);
	assert_string_equal(s, "keep me");
	free(s);
	ensure_ok(&cfg, 1, 1, &rep);
	assert_int_equal(rep.state, SOCKETLINK_REPLACED);
	expect_link(link_path, target);
}

static void test_real_socket_kept(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	struct stat s;
	int fd = tu_listen(link_path);

	expect_kept(&cfg, 1, 0, SOCKETLINK_FOUND_SOCKET);
	assert_int_equal(lstat(link_path, &s), 0);
	assert_true(S_ISSOCK(s.st_mode));
	ensure_ok(&cfg, 1, 1, &rep);
	assert_int_equal(rep.state, SOCKETLINK_REPLACED);
	close(fd);
}

static void test_dir_never_replaced(void **st)
{
	struct socketlink_cfg cfg = cfg_std();

	assert_int_equal(mkdir(link_path, 0755), 0);
	expect_kept(&cfg, 1, 1, SOCKETLINK_FOUND_DIR);
}

static void test_foreign_and_previous_links(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	struct rp_err e;
	char old[PATH_MAX];
	const char *prev[1];

	assert_int_equal(symlink("/run/other-engine.sock", link_path), 0);
	expect_kept(&cfg, 0, 1, SOCKETLINK_FOUND_LINK);
	assert_int_equal(socketlink_remove(&cfg, &rep, &e), 0); /* foreign: left alone */
	assert_int_equal(rep.state, SOCKETLINK_KEPT);
	assert_string_equal(rep.was, "/run/other-engine.sock");
	expect_link(link_path, "/run/other-engine.sock");
	ensure_ok(&cfg, 1, 1, &rep);
	assert_int_equal(rep.state, SOCKETLINK_REPLACED);
	assert_int_equal(rep.found, SOCKETLINK_FOUND_LINK);

	/* a link to a target we used before is ours to replace, without force */
	tu_path(old, sizeof(old), home, ".old-engine/docker.sock");
	assert_int_equal(unlink(link_path), 0);
	assert_int_equal(symlink(old, link_path), 0);
	expect_kept(&cfg, 0, 0, SOCKETLINK_FOUND_LINK);
	prev[0] = old;
	cfg.previous = prev;
	cfg.n_previous = 1;
	ensure_ok(&cfg, 0, 0, &rep);
	assert_int_equal(rep.state, SOCKETLINK_REPLACED);
	assert_int_equal(rep.found, SOCKETLINK_FOUND_PREVIOUS);
	expect_link(link_path, target);
	assert_int_equal(unlink(link_path), 0);
	assert_int_equal(symlink(old, link_path), 0);
	assert_int_equal(socketlink_remove(&cfg, &rep, &e), 0);
	assert_int_equal(rep.state, SOCKETLINK_REMOVED);
}

static void test_remove(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	struct rp_err e;

	ensure_ok(&cfg, 0, 0, &rep);
	assert_int_equal(socketlink_remove(&cfg, &rep, &e), 0);
	assert_int_equal(rep.state, SOCKETLINK_REMOVED);
	assert_int_equal(tu_count(rundir), 0);
	assert_int_equal(socketlink_remove(&cfg, &rep, &e), 0);
	assert_int_equal(rep.state, SOCKETLINK_ABSENT);
	/* after the owner's engine is gone the link is still ours to remove */
	ensure_ok(&cfg, 0, 0, &rep);
	tu_rmtree(home);
	assert_int_equal(socketlink_remove(&cfg, &rep, &e), 0);
	assert_int_equal(rep.state, SOCKETLINK_REMOVED);
}

static void test_link_dir_swapped_for_link(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	char elsewhere[PATH_MAX];

	tu_path(elsewhere, sizeof(elsewhere), tree, "elsewhere");
	assert_int_equal(mkdir(elsewhere, 0755), 0);
	assert_int_equal(rmdir(rundir), 0);
	tu_foreign_symlink(elsewhere, rundir);
	{
		struct socketlink_report rep;
		struct rp_err e = {"", ""};
		assert_int_equal(socketlink_ensure(&cfg, 1, 1, &rep, &e), -1);
		assert_string_equal(e.code, "E_FS_SYMLINK");
		assert_int_equal(socketlink_remove(&cfg, &rep, &e), -1);
		assert_string_equal(e.code, "E_FS_SYMLINK");
	}
	assert_int_equal(tu_count(elsewhere), 0);
}

static char swap_to[PATH_MAX];

static void swap_hook(const char *path, int fd)
{
	char moved[PATH_MAX + 8];

	if (strcmp(path, rundir) != 0)
		return;
	snprintf(moved, sizeof(moved), "%s.orig", rundir);
	assert_int_equal(rename(rundir, moved), 0);
	tu_foreign_symlink(swap_to, rundir);
}

static void test_swap_during_op(void **st)
{
	struct socketlink_cfg cfg = cfg_std();
	struct socketlink_report rep;
	char moved[PATH_MAX + 8], p[PATH_MAX + 32];

	tu_path(swap_to, sizeof(swap_to), tree, "elsewhere");
	assert_int_equal(mkdir(swap_to, 0755), 0);
	safefs_test_hook = swap_hook;
	ensure_ok(&cfg, 0, 0, &rep);
	safefs_test_hook = NULL;
	assert_int_equal(tu_count(swap_to), 0);
	snprintf(moved, sizeof(moved), "%s.orig", rundir);
	snprintf(p, sizeof(p), "%s/docker.sock", moved);
	expect_link(p, target);
}

static void test_link_dir_untrusted(void **st)
{
	struct socketlink_cfg cfg = cfg_std();

	assert_int_equal(chmod(rundir, 0777), 0);
	expect_refused(&cfg, "E_FS_UNSAFE");
	assert_int_equal(chmod(rundir, 0755), 0);
	if (geteuid() == 0) { /* a directory another user owns */
		assert_int_equal(chown(rundir, TU_NOBODY, TU_NOBODY), 0);
		expect_refused(&cfg, "E_FS_UNSAFE");
	}
}

static void test_owner_home(void **st)
{
	char h[PATH_MAX];
	struct rp_err e;

	assert_int_equal(socketlink_owner_home(0, h, sizeof(h), &e), 0);
	assert_true(h[0] == '/');
	assert_int_equal(socketlink_owner_home(4000000000u, h, sizeof(h), &e), -1);
	assert_string_equal(e.code, "E_SOCKLINK_CONFIG");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_ensure_idempotent),
	    T(test_status),
	    T(test_bad_patterns),
	    T(test_target_only_from_config),
	    T(test_target_checks),
	    T(test_regular_file_kept),
	    T(test_real_socket_kept),
	    T(test_dir_never_replaced),
	    T(test_foreign_and_previous_links),
	    T(test_remove),
	    T(test_link_dir_swapped_for_link),
	    T(test_swap_during_op),
	    T(test_link_dir_untrusted),
	    T(test_owner_home),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
