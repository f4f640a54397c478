/* SPDX-License-Identifier: ISC */
/*
 * Tests for the public in-process API (rampart/policy.h) against real store
 * files written by store_commit() in a mkdtemp directory: no policy, reload
 * when the file is replaced or removed, expired policy, unreadable stores
 * (fail closed), argument errors and concurrent use of one handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rampart/policy.h>

#include "store.h"

#define FUTURE 4102444800LL /* 2100-01-01 */

struct fixture {
	char dir[64];
	char db[PATH_MAX];
	char other[PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rampart-papi-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/policy.db", fx->dir);
	snprintf(fx->other, sizeof(fx->other), "%s/other.db", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

/* Commits a policy allowing the NULL-terminated hosts to db. */
static void commit(const char *db, int64_t version, int64_t expires, bool hub,
                   const char *const *hosts)
{
	struct policy p;
	struct store_meta m;
	struct policy_registry regs[8];
	struct rp_err e;
	size_t n = 0;

	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	memset(regs, 0, sizeof(regs));
	for (; hosts[n] != NULL; n++) {
		regs[n].host = (char *)hosts[n];
		regs[n].nickname = (char *)"";
		regs[n].kind = hosts[n][0] == '*'
		                   ? POLICY_WILDCARD
		                   : (strchr(hosts[n], ':') ? POLICY_PORT : POLICY_EXACT);
	}
	p.org = (char *)"acme";
	p.version = version;
	p.issued_at = 1;
	p.expires_at = expires;
	p.allow_docker_hub = hub;
	p.n_registries = n;
	p.registries = regs;
	m.fetched_at = 2;
	m.source = (char *)"";
	m.etag = (char *)"";
	m.signers = (char *)"";
	memset(m.payload_sha256, 'a', 64);
	if (store_commit(db, &p, &m, "{}", 2, &e) != 0)
		fail_msg("store_commit: %s %s", e.code, e.msg);
}

static const char *const ghcr[] = {"ghcr.io", NULL};
static const char *const quay[] = {"quay.io", "*.corp.example", NULL};

static struct rampart_policy *open_ok(const char *db, unsigned flags)
{
	struct rampart_policy *h = NULL;
	char err[512] = "";

	if ((flags & RAMPART_POLICY_COARSE_RELOAD) == 0)
		flags |= RAMPART_POLICY_STRICT_RELOAD; /* tests see a replacement at once */
	if (rampart_policy_open(db, flags, &h, err, sizeof(err)) != 0)
		fail_msg("open: %s", err);
	assert_non_null(h);
	return h;
}

static void check(struct rampart_policy *h, const char *ref, bool allowed, int64_t version,
                  const char *reason)
{
	struct rampart_decision d;

	assert_int_equal(rampart_policy_check(h, ref, &d), 0);
	if (d.allowed != allowed || d.policy_version != version)
		fail_msg("'%s': allowed=%d v%lld, want %d v%lld (%s)", ref, d.allowed,
		         (long long)d.policy_version, allowed, (long long)version, d.reason);
	if (strstr(d.reason, reason) == NULL)
		fail_msg("'%s': reason '%s' lacks '%s'", ref, d.reason, reason);
}

static void test_no_policy(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *deny = open_ok(fx->db, 0);
	struct rampart_policy *allow = open_ok(fx->db, RAMPART_POLICY_ALLOW_WHEN_NO_POLICY);
	struct rampart_decision d;
	char org[16] = "x";

	check(deny, "ghcr.io/x", false, 0, "no policy cached");
	check(allow, "ghcr.io/x", true, 0, "no policy cached");
	assert_int_equal(rampart_policy_check(deny, "alpine", &d), 0);
	assert_false(d.policy_cached);
	assert_string_equal(d.rule, "");
	assert_string_equal(d.normalized, "docker.io/library/alpine:latest");
	assert_int_equal(rampart_policy_version(deny), -1);
	assert_int_equal(rampart_policy_expires_at(deny), -1);
	assert_int_equal(rampart_policy_org(deny, org, sizeof(org)), 1);
	assert_string_equal(org, "");
	/* invalid references are refused even when the default is allow */
	assert_int_equal(rampart_policy_check(allow, "Alpine", &d), -1);
	assert_false(d.allowed);
	assert_string_equal(d.code, "E_REF");
	rampart_policy_close(deny);
	rampart_policy_close(allow);
}

static void test_load_and_reload(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h;
	struct rampart_policy_info info;
	struct rampart_decision d;
	char org[16];

	commit(fx->db, 1, FUTURE, false, ghcr);
	h = open_ok(fx->db, RAMPART_POLICY_ALLOW_WHEN_NO_POLICY);
	check(h, "ghcr.io/org/app", true, 1, "ghcr.io matches rule ghcr.io");
	check(h, "quay.io/org/app", false, 1, "no rule matches registry quay.io");
	check(h, "alpine", false, 1, "allow_docker_hub is false");
	assert_int_equal(rampart_policy_version(h), 1);
	assert_int_equal(rampart_policy_expires_at(h), FUTURE);
	assert_int_equal(rampart_policy_org(h, org, sizeof(org)), 0);
	assert_string_equal(org, "acme");
	assert_int_equal(rampart_policy_org(h, org, 3), -1); /* too small */
	assert_int_equal(rampart_policy_info(h, &info), 0);
	assert_true(info.cached);
	assert_false(info.expired);
	assert_false(info.allow_docker_hub);
	assert_int_equal(info.n_registries, 1);

	/* the daemon replaces the file: the next check sees it, no reopen */
	commit(fx->db, 2, FUTURE, true, quay);
	check(h, "ghcr.io/org/app", false, 2, "no rule matches registry ghcr.io");
	check(h, "quay.io/org/app", true, 2, "matches rule quay.io");
	check(h, "a.corp.example/x", true, 2, "matches rule *.corp.example");
	check(h, "alpine", true, 2, "Docker Hub is allowed");
	assert_int_equal(rampart_policy_check(h, "alpine", &d), 0);
	assert_string_equal(d.rule, "docker.io (allow_docker_hub)");

	/* removed: back to "no policy cached" with the open flag's default */
	assert_int_equal(unlink(fx->db), 0);
	check(h, "quay.io/org/app", true, 0, "no policy cached");
	assert_int_equal(rampart_policy_version(h), -1);
	commit(fx->db, 3, FUTURE, false, ghcr);
	check(h, "quay.io/org/app", false, 3, "no rule matches");
	rampart_policy_close(h);
}

/* Copies src's bytes into dst's existing inode (an in-place rewrite). */
static void overwrite_in_place(const char *src, const char *dst)
{
	char buf[65536];
	int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_TRUNC);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* A new file that reuses the old inode number must still be noticed. */
static void test_same_inode_changed(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h;
	struct stat a, b;
	struct timespec pause = {0, 30 * 1000 * 1000};

	commit(fx->db, 1, FUTURE, false, ghcr);
	commit(fx->other, 2, FUTURE, false, quay);
	h = open_ok(fx->db, 0);
	check(h, "ghcr.io/x", true, 1, "matches rule ghcr.io");
	assert_int_equal(stat(fx->db, &a), 0);
	nanosleep(&pause, NULL); /* let the coarse file-system clock tick */
	overwrite_in_place(fx->other, fx->db);
	assert_int_equal(stat(fx->db, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	check(h, "ghcr.io/x", false, 2, "no rule matches registry ghcr.io");
	check(h, "quay.io/x", true, 2, "matches rule quay.io");
	rampart_policy_close(h);
}

static void test_expired(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h;
	struct rampart_decision d;
	struct rampart_policy_info info;

	commit(fx->db, 5, 1000, false, ghcr);
	h = open_ok(fx->db, RAMPART_POLICY_ALLOW_WHEN_NO_POLICY);
	assert_int_equal(rampart_policy_check(h, "ghcr.io/x", &d), 0);
	assert_true(d.allowed);
	assert_true(d.expired);
	assert_non_null(strstr(d.reason, "policy expired at 1970-01-01T00:16:40Z; still enforced"));
	assert_int_equal(rampart_policy_check(h, "quay.io/x", &d), 0);
	assert_false(d.allowed); /* still enforced: not the no-policy default */
	assert_true(d.expired);
	assert_int_equal(rampart_policy_info(h, &info), 0);
	assert_true(info.expired);
	rampart_policy_close(h);
}

static void write_garbage(const char *path)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("this is not a rampart policy store, just some bytes\n", f);
	fclose(f);
}

static void test_unreadable_store(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h = NULL;
	char err[512] = "";
	char tmp[PATH_MAX + 8];

	/* open refuses a file that is not a store, whatever the flags */
	write_garbage(fx->db);
	assert_int_equal(
	    rampart_policy_open(fx->db, RAMPART_POLICY_ALLOW_WHEN_NO_POLICY, &h, err, sizeof(err)),
	    -1);
	assert_null(h);
	assert_non_null(strstr(err, "E_"));

	/* a garbage replacement keeps the last good policy deciding */
	commit(fx->db, 1, FUTURE, false, ghcr);
	h = open_ok(fx->db, RAMPART_POLICY_ALLOW_WHEN_NO_POLICY);
	snprintf(tmp, sizeof(tmp), "%s.x", fx->db);
	write_garbage(tmp);
	assert_int_equal(rename(tmp, fx->db), 0);
	check(h, "ghcr.io/x", true, 1, "matches rule ghcr.io");
	check(h, "quay.io/x", false, 1, "no rule matches");
	commit(fx->db, 2, FUTURE, false, quay); /* and a good one is picked up */
	check(h, "quay.io/x", true, 2, "matches rule quay.io");
	rampart_policy_close(h);

	/* no good policy yet and the store turns unreadable: deny despite the flag */
	assert_int_equal(unlink(fx->db), 0);
	h = open_ok(fx->db, RAMPART_POLICY_ALLOW_WHEN_NO_POLICY);
	check(h, "quay.io/x", true, 0, "no policy cached");
	write_garbage(fx->db);
	check(h, "quay.io/x", false, 0, "could not be read");
	rampart_policy_close(h);
}

static void test_bad_arguments(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h = (struct rampart_policy *)1;
	struct rampart_decision d;
	char err[512] = "";

	assert_int_equal(rampart_policy_open(NULL, 0, &h, err, sizeof(err)), -1);
	assert_null(h);
	assert_non_null(strstr(err, "E_INVAL"));
	assert_int_equal(rampart_policy_open(fx->db, 0x80, &h, err, sizeof(err)), -1);
	assert_int_equal(rampart_policy_open(fx->db, 0x10, &h, err, sizeof(err)), -1);
	assert_int_equal(rampart_policy_reload(NULL), -1);
	assert_int_equal(rampart_policy_open(fx->db, 0, NULL, NULL, 0), -1);
	assert_int_equal(rampart_policy_check(NULL, "alpine", &d), -1);
	assert_false(d.allowed);
	assert_string_equal(d.code, "E_INVAL");
	h = open_ok(fx->db, RAMPART_POLICY_ALLOW_WHEN_NO_POLICY);
	assert_int_equal(rampart_policy_check(h, NULL, &d), -1);
	assert_false(d.allowed);
	assert_int_equal(rampart_policy_check(h, "alpine", NULL), -1);
	assert_int_equal(rampart_policy_info(NULL, NULL), -1);
	assert_int_equal(rampart_policy_version(NULL), -1);
	assert_int_equal(rampart_policy_org(h, NULL, 0), -1);
	rampart_policy_close(h);
	rampart_policy_close(NULL);
}

/* COARSE_RELOAD: same answers; a replacement is seen once the 1 ms window passes. */
static void test_coarse_reload(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h;
	struct timespec pause = {0, 5 * 1000 * 1000};

	commit(fx->db, 1, FUTURE, false, ghcr);
	h = open_ok(fx->db, RAMPART_POLICY_COARSE_RELOAD);
	check(h, "ghcr.io/x", true, 1, "matches rule ghcr.io");
	check(h, "quay.io/x", false, 1, "no rule matches");
	commit(fx->db, 2, FUTURE, false, quay);
	nanosleep(&pause, NULL);
	check(h, "quay.io/x", true, 2, "matches rule quay.io");
	assert_int_equal(unlink(fx->db), 0);
	nanosleep(&pause, NULL);
	check(h, "quay.io/x", false, 0, "no policy cached");
	rampart_policy_close(h);
	h = open_ok(fx->db, RAMPART_POLICY_COARSE_RELOAD | RAMPART_POLICY_ALLOW_WHEN_NO_POLICY);
	check(h, "quay.io/x", true, 0, "no policy cached");
	rampart_policy_close(h);
}

/* MANUAL_RELOAD: answers stay on the loaded policy until rampart_policy_reload(). */
static void test_manual_reload(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h;
	struct timespec pause = {0, 5 * 1000 * 1000};

	commit(fx->db, 1, FUTURE, false, ghcr);
	h = open_ok(fx->db, RAMPART_POLICY_MANUAL_RELOAD | RAMPART_POLICY_COARSE_RELOAD);
	check(h, "ghcr.io/x", true, 1, "matches rule ghcr.io");
	commit(fx->db, 2, FUTURE, false, quay);
	nanosleep(&pause, NULL);
	check(h, "ghcr.io/x", true, 1, "matches rule ghcr.io"); /* still version 1 */
	assert_int_equal(rampart_policy_reload(h), 0);
	check(h, "quay.io/x", true, 2, "matches rule quay.io");
	check(h, "ghcr.io/x", false, 2, "no rule matches");
	rampart_policy_close(h);
}

struct worker {
	struct rampart_policy *h;
	atomic_int *stop, *started;
	int bad;
	long checks;
	int64_t first, last; /* versions seen */
};

/* Odd versions allow ghcr.io, even ones quay.io: every answer must fit its version. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct rampart_decision d;

	while (!atomic_load(w->stop) || w->checks < 100) {
		if (rampart_policy_check(w->h, "ghcr.io/x", &d) != 0 ||
		    d.allowed != (d.policy_version % 2 == 1))
			w->bad++;
		if (w->checks++ == 0) {
			w->first = d.policy_version;
			atomic_fetch_add(w->started, 1);
		}
		w->last = d.policy_version;
	}
	/* a check that starts after the last commit must see it */
	if (rampart_policy_check(w->h, "ghcr.io/x", &d) != 0 || d.allowed)
		w->bad++;
	w->last = d.policy_version;
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h;
	struct worker w[4];
	pthread_t t[4];
	atomic_int stop = 0, started = 0;
	struct rampart_decision d;

	commit(fx->db, 1, FUTURE, false, ghcr);
	h = open_ok(fx->db, 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){h, &stop, &started, 0, 0, 0, 0};
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	}
	/* wait until every worker has answered once with version 1 */
	while (atomic_load(&started) < 4) /* sleep, not sched_yield(): under valgrind's */
		nanosleep(&(struct timespec){0, 1000 * 1000}, NULL); /* lock a yield can starve */
	for (int v = 2; v <= 20; v++)
		commit(fx->db, v, FUTURE, false, v % 2 == 1 ? ghcr : quay);
	assert_int_equal(rampart_policy_check(h, "quay.io/x", &d), 0);
	assert_int_equal(d.policy_version, 20);
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].bad, 0);
		assert_true(w[i].checks >= 100);
		assert_true(w[i].first < w[i].last); /* it saw the policy change */
		assert_int_equal(w[i].last, 20);
	}
	rampart_policy_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_no_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_and_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_inode_changed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_coarse_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_manual_reload, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
