/* SPDX-License-Identifier: ISC */
/*
 * The fetch child's check that its privilege drop took effect (issue 16):
 * setgroups, setresgid and setresuid are interposed here so each can report
 * success without doing anything, and fetch_drop_privileges() must notice
 * and refuse.  Runs each case in a forked child (the drop is for real);
 * needs root, skips otherwise.
 */
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fetch.h"

enum { FAKE_NONE, FAKE_GROUPS, FAKE_GID, FAKE_UID };
static int fake; /* which call pretends to succeed */

/* These replace libc's for the code linked into this program (fetch.c). */
int setgroups(size_t n, const gid_t *list)
{
	return fake == FAKE_GROUPS ? 0 : (int)syscall(SYS_setgroups, n, list);
}

int setresgid(gid_t r, gid_t e, gid_t s)
{
	return fake == FAKE_GID ? 0 : (int)syscall(SYS_setresgid, r, e, s);
}

int setresuid(uid_t r, uid_t e, uid_t s)
{
	return fake == FAKE_UID ? 0 : (int)syscall(SYS_setresuid, r, e, s);
}

/* Forks, starts with supplementary groups, drops with `mode` faked: 0 if refused. */
static int drop_in_child(int mode, char *msg, size_t len)
{
	struct passwd *pw = getpwnam("nobody");
	gid_t extra[2] = {4242, 4343};
	struct rp_err err;
	int p[2], st = 0;
	ssize_t n;
	pid_t pid;

	assert_non_null(pw);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (setgroups(2, extra) < 0)
			_exit(3);
		fake = mode;
		if (fetch_drop_privileges(pw->pw_uid, pw->pw_gid, &err) == 0)
			_exit(1); /* accepted a drop that did not happen */
		(void)!write(p[1], err.msg, strlen(err.msg));
		_exit(strcmp(err.code, "E_FETCH_PRIV") == 0 ? 0 : 2);
	}
	close(p[1]);
	n = read(p[0], msg, len - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static void test_fake_drops_refused(void **state)
{
	char msg[600];

	(void)state;
	if (geteuid() != 0)
		skip();
	/* the real drop works (and the groups are gone) */
	assert_int_equal(drop_in_child(FAKE_NONE, msg, sizeof(msg)), 1);
	assert_int_equal(drop_in_child(FAKE_GROUPS, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "did not take effect"));
	assert_int_equal(drop_in_child(FAKE_GID, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "did not take effect"));
	assert_int_equal(drop_in_child(FAKE_UID, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "did not take effect"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fake_drops_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
