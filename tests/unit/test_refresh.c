/* SPDX-License-Identifier: ISC */
/*
 * refresh_apply and refresh_check_payload, the accept path every machine runs
 * (and rampart-sign runs before signing): new content under a stored version
 * is refused loudly (E_SAME_VERSION, the freeze / mix-and-match shape), the
 * same bytes again are "unchanged", and the shared payload checks refuse
 * what machines refuse (expired, wrong org, a Docker Hub entry contradicting
 * allow_docker_hub, a URL or a path as a host).  Keys are generated here;
 * the store is a temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "dsse.h"
#include "keys.h"
#include "policy_payload.h"
#include "refresh.h"

static struct rp_key K;
static struct trust_set T;
static char dir[64], db[128];

static int group_setup(void **st)
{
	struct rp_err e;
	EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	(void)st;
	assert_non_null(p);
	assert_int_equal(keys_from_pkey(&K, p, true, "K", &e), 0);
	EVP_PKEY_free(p);
	keys_trust_init(&T);
	assert_int_equal(keys_trust_add_key(&T, &K, &e), 0);
	assert_int_equal(keys_trust_set_threshold(&T, 1, &e), 0);
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	keys_trust_free(&T);
	keys_free(&K);
	return 0;
}

static int setup(void **st)
{
	(void)st;
	snprintf(dir, sizeof(dir), "/tmp/rampart-refresh-XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(db, sizeof(db), "%s/policy.db", dir);
	return 0;
}

static int teardown(void **st)
{
	char cmd[160];

	(void)st;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* A payload for org "acme": version v, hosts, allow_docker_hub hub. */
static char *payload(int v, const char *hosts_json, int hub, const char *expires)
{
	char *s = NULL;

	assert_true(
	    asprintf(&s,
	             "{\"org\":\"acme\",\"version\":%d,\"issued_at\":\"2020-01-01T00:00:00Z\","
	             "\"expires_at\":\"%s\",\"allow_docker_hub\":%s,\"registries\":%s}",
	             v, expires, hub ? "true" : "false", hosts_json) > 0);
	return s;
}

static int apply(const char *pl, struct refresh_out *out, struct rp_err *e)
{
	char *env = NULL;
	int rc;

	assert_int_equal(dsse_sign(pl, strlen(pl), DSSE_POLICY_TYPE, &K, 1, &env, e), 0);
	struct refresh_in in = {.envelope = (const unsigned char *)env,
	                        .len = strlen(env),
	                        .max_bytes = 1 << 20,
	                        .trust = &T,
	                        .org = "acme",
	                        .now = (int64_t)time(NULL),
	                        .db_path = db,
	                        .source = "test",
	                        .etag = ""};
	rc = refresh_apply(&in, out, e);
	free(env);
	return rc;
}

static void test_same_version_new_content_refused(void **st)
{
	struct refresh_out out;
	struct rp_err e;
	char *a = payload(3, "[{\"host\":\"ghcr.io\"}]", 0, "2099-01-01T00:00:00Z");
	char *b = payload(3, "[{\"host\":\"evil.example.com\"}]", 0, "2099-01-01T00:00:00Z");
	char *c = payload(4, "[{\"host\":\"evil.example.com\"}]", 0, "2099-01-01T00:00:00Z");

	(void)st;
	assert_int_equal(apply(a, &out, &e), 0);
	assert_int_equal(out.outcome, REFRESH_UPDATED);
	/* the same bytes again: a no-op */
	assert_int_equal(apply(a, &out, &e), 0);
	assert_int_equal(out.outcome, REFRESH_UNCHANGED);
	assert_string_equal(out.message, "unchanged: version 3");
	/* other content under version 3: refused, with its own code and the fix */
	assert_int_equal(apply(b, &out, &e), -1);
	assert_int_equal(out.outcome, REFRESH_REFUSED);
	assert_string_equal(e.code, "E_SAME_VERSION");
	assert_non_null(strstr(out.message, "keeping version 3"));
	assert_non_null(strstr(out.message, "bump version"));
	/* the stored policy is still a */
	assert_int_equal(apply(a, &out, &e), 0);
	assert_int_equal(out.outcome, REFRESH_UNCHANGED);
	/* bumping the version is the fix */
	assert_int_equal(apply(c, &out, &e), 0);
	assert_int_equal(out.outcome, REFRESH_UPDATED);
	free(a);
	free(b);
	free(c);
}

static void check(const char *pl, const char *org, const char *code, const char *needle)
{
	struct policy p;
	struct rp_err e;
	int rc = refresh_check_payload(pl, strlen(pl), org, (int64_t)time(NULL), &p, &e);

	policy_free(&p);
	if (code == NULL) {
		assert_int_equal(rc, 0);
		return;
	}
	assert_int_equal(rc, -1);
	assert_string_equal(e.code, code);
	if (needle != NULL && strstr(e.msg, needle) == NULL)
		fail_msg("\"%s\" not in \"%s\"", needle, e.msg);
}

static void test_shared_payload_checks(void **st)
{
	char *ok = payload(1, "[{\"host\":\"ghcr.io\"}]", 0, "2099-01-01T00:00:00Z");
	char *expired = payload(1, "[{\"host\":\"ghcr.io\"}]", 0, "2021-01-01T00:00:00Z");
	char *hub = payload(1, "[{\"host\":\"docker.io\"}]", 0, "2099-01-01T00:00:00Z");
	char *hub_alias = payload(1, "[{\"host\":\"index.docker.io\"}]", 0, "2099-01-01T00:00:00Z");
	char *hub_ok = payload(1, "[{\"host\":\"docker.io\"}]", 1, "2099-01-01T00:00:00Z");
	char *url = payload(1, "[{\"host\":\"https://ghcr.io\"}]", 1, "2099-01-01T00:00:00Z");
	char *path = payload(1, "[{\"host\":\"quay.io/myorg/\"}]", 1, "2099-01-01T00:00:00Z");

	(void)st;
	check(ok, "acme", NULL, NULL);
	check(ok, NULL, NULL, NULL);
	check(ok, "other", "E_ORG", "this machine trusts \"other\"");
	check(expired, NULL, "E_EXPIRED", "expired at 2021-01-01T00:00:00Z");
	check(hub, NULL, "E_PAYLOAD", "allow_docker_hub is false");
	check(hub_alias, NULL, "E_PAYLOAD", "is Docker Hub");
	check(hub_ok, NULL, NULL, NULL);
	check(url, NULL, "E_PAYLOAD", "a host, not a URL");
	check(path, NULL, "E_PAYLOAD", "need \"schema_version\": 2");
	free(ok);
	free(expired);
	free(hub);
	free(hub_alias);
	free(hub_ok);
	free(url);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_same_version_new_content_refused, setup, teardown),
	    cmocka_unit_test(test_shared_payload_checks),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
