/* SPDX-License-Identifier: ISC */
/*
 * The typed client calls of librampart (rampart_client_check, _check_many,
 * _status) against the real rampartd of this build on a temp socket, with a
 * policy store written by store_commit: any reference text is carried intact
 * (a '"' is an invalid reference, never E_ARGS), decisions and the batch come
 * back typed, and status carries the policy and trust.  Also
 * rampart_policy_open on a mistyped path.  Skips when the daemon binary is
 * not built.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy_payload.h"
#include "rampart/client.h"
#include "rampart/policy.h"
#include "store.h"

static char dir[64], sock[128], db[128], cfgpath[128];
static pid_t daemon_pid = -1;

static const char payload[] =
    "{\"org\":\"acme\",\"version\":4,\"issued_at\":\"2020-01-01T00:00:00Z\","
    "\"expires_at\":\"2099-01-01T00:00:00Z\",\"allow_docker_hub\":false,"
    "\"registries\":[{\"host\":\"ghcr.io\"},{\"host\":\"*.corp.example\"}]}";

static void write_store(void)
{
	struct policy p;
	struct store_meta m;
	struct rp_err e;

	assert_int_equal(policy_payload_parse(payload, sizeof(payload) - 1, &p, &e), 0);
	memset(&m, 0, sizeof(m));
	m.fetched_at = (int64_t)time(NULL);
	m.source = (char *)"test";
	m.etag = (char *)"";
	m.signers = (char *)"";
	memset(m.payload_sha256, 'a', 64);
	assert_int_equal(store_commit(db, &p, &m, "{}", 2, &e), 0);
	policy_free(&p);
}

static int group_setup(void **st)
{
	const char *build = getenv("RAMPART_BUILD");
	char bin[512];
	FILE *f;

	(void)st;
	snprintf(bin, sizeof(bin), "%s/rampartd", build != NULL ? build : ".");
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not built\n", bin);
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/rampart-client-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	snprintf(db, sizeof(db), "%s/policy.db", dir);
	snprintf(cfgpath, sizeof(cfgpath), "%s/rampartd.json", dir);
	write_store();
	assert_non_null(f = fopen(cfgpath, "w"));
	fprintf(f, "{\"socket\":\"%s\",\"state_dir\":\"%s\",\"audit_log\":\"%s/audit.log\"}\n",
	        sock, dir, dir);
	fclose(f);
	if ((daemon_pid = fork()) == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(126);
		execl(bin, bin, "-c", cfgpath, (char *)NULL);
		_exit(127);
	}
	assert_true(daemon_pid > 0);
	for (int i = 0; i < 400 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	return 0;
}

static int group_teardown(void **st)
{
	char cmd[160];

	(void)st;
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, NULL, 0);
	}
	if (dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
	return 0;
}

static struct rampart_client *conn(void)
{
	struct rampart_client *c = NULL;
	struct rampart_error e;

	if (daemon_pid <= 0)
		skip();
	assert_int_equal(rampart_connect(sock, 5000, &c, &e), 0);
	return c;
}

static void test_check_one(void **st)
{
	struct rampart_client *c = conn();
	struct rampart_decision d;
	struct rampart_error e;

	(void)st;
	assert_int_equal(rampart_client_check(c, "ghcr.io/acme/app:1.2", &d, &e), 0);
	assert_true(d.allowed);
	assert_string_equal(d.rule, "ghcr.io");
	assert_int_equal(d.policy_version, 4);
	assert_true(d.policy_cached);
	assert_string_equal(d.normalized, "ghcr.io/acme/app:1.2");
	assert_int_equal(rampart_client_check(c, "quay.io/x", &d, &e), 0);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "");
	/* a quote in the reference is carried intact: an invalid reference, not E_ARGS */
	assert_int_equal(rampart_client_check(c, "ghcr.io/a\"b", &d, &e), 1);
	assert_false(d.allowed);
	assert_string_equal(d.code, "E_REF");
	assert_true(d.reason[0] != '\0');
	assert_int_equal(rampart_client_check(c, "docker.io/x\\\"}", &d, &e), 1);
	assert_int_equal(rampart_client_check(c, NULL, &d, &e), -1);
	assert_string_equal(e.code, "E_ARGS");
	rampart_close(c);
}

static void test_check_many(void **st)
{
	struct rampart_client *c = conn();
	const char *refs[] = {"a.corp.example/x", "alpine", "ghcr.io/\"", "ghcr.io/ok"};
	struct rampart_decision d[4];
	const char *many[RAMPART_CHECK_MAX + 1];
	struct rampart_decision big[RAMPART_CHECK_MAX + 1];
	struct rampart_error e;

	(void)st;
	assert_int_equal(rampart_client_check_many(c, refs, 4, d, &e), 1);
	assert_true(d[0].allowed);
	assert_string_equal(d[0].rule, "*.corp.example");
	assert_false(d[1].allowed); /* Docker Hub is not allowed by this policy */
	assert_string_equal(d[1].normalized, "docker.io/library/alpine:latest");
	assert_string_equal(d[2].code, "E_REF");
	assert_true(d[3].allowed);
	for (size_t i = 0; i <= RAMPART_CHECK_MAX; i++)
		many[i] = "ghcr.io/x";
	assert_int_equal(rampart_client_check_many(c, many, RAMPART_CHECK_MAX, big, &e), 0);
	assert_true(big[RAMPART_CHECK_MAX - 1].allowed);
	assert_int_equal(rampart_client_check_many(c, many, RAMPART_CHECK_MAX + 1, big, &e), -1);
	assert_string_equal(e.code, "E_ARGS");
	assert_int_equal(rampart_client_check_many(c, many, 0, big, &e), -1);
	rampart_close(c);
}

static void test_status(void **st)
{
	struct rampart_client *c = conn();
	struct rampart_status s;
	struct rampart_error e;

	(void)st;
	assert_int_equal(rampart_client_status(c, &s, &e), 0);
	assert_true(s.pid == (long)daemon_pid);
	assert_true(s.policy_cached);
	assert_int_equal(s.policy_version, 4);
	assert_string_equal(s.org, "acme");
	assert_int_equal(s.issued_at, 1577836800);
	assert_false(s.expired);
	assert_int_equal(s.trust_keys, 0); /* no policy.keys configured */
	assert_false(s.trust_usable);
	rampart_close(c);
}

static void test_policy_open_mistyped_path(void **st)
{
	struct rampart_policy *h = NULL;
	struct rampart_decision d;
	char eb[512], path[192];

	(void)st;
	if (daemon_pid <= 0)
		skip();
	assert_int_equal(rampart_policy_open("/nonexistent-rampart/policy.db",
	                                     RAMPART_POLICY_REQUIRE_STORE, &h, eb, sizeof(eb)),
	                 -1);
	assert_non_null(strstr(eb, "E_STORE_PATH"));
	snprintf(path, sizeof(path), "%s/polcy.db", dir);
	assert_int_equal(
	    rampart_policy_open(path, RAMPART_POLICY_REQUIRE_STORE, &h, eb, sizeof(eb)), -1);
	assert_non_null(strstr(eb, "E_NO_POLICY"));
	assert_non_null(strstr(eb, "polcy.db"));
	/* without the flag the handle opens (rampartd starts before its first refresh) */
	assert_int_equal(rampart_policy_open(path, 0, &h, eb, sizeof(eb)), 0);
	assert_int_equal(rampart_policy_check(h, "ghcr.io/x", &d), 0);
	assert_false(d.allowed);
	rampart_policy_close(h);
	assert_int_equal(rampart_policy_open(db, RAMPART_POLICY_REQUIRE_STORE, &h, eb, sizeof(eb)),
	                 0);
	rampart_policy_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_one),
	    cmocka_unit_test(test_check_many),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_policy_open_mistyped_path),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
