/* SPDX-License-Identifier: ISC */
/*
 * refresh_apply() with a chosen clock: the accept path's time checks at their
 * exact boundaries (issue 16).  A policy is refused from its expires_at second
 * on (never accepted at that second), and one issued further in the future
 * than REFRESH_MAX_SKEW_S is refused.  Keys are made here (test-only), the
 * store is a temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "dsse.h"
#include "keys.h"
#include "policy_payload.h"
#include "refresh.h"

#define T0 1900000000LL /* a fixed "now" */

static struct rp_key key;
static struct trust_set trust;
static char dir[64], db[128];

static int group_setup(void **st)
{
	struct rp_err e;
	EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	(void)st;
	if (p == NULL || keys_from_pkey(&key, p, true, "test", &e) < 0)
		return -1;
	EVP_PKEY_free(p);
	keys_trust_init(&trust);
	if (keys_trust_add_key(&trust, &key, &e) < 0 || keys_trust_set_threshold(&trust, 1, &e) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/rampart-refresh-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(db, sizeof(db), "%s/policy.db", dir);
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	unlink(db);
	rmdir(dir);
	keys_trust_free(&trust);
	keys_free(&key);
	return 0;
}

/* Signs a policy and runs the accept path at now; returns refresh_apply's result. */
static int apply(int64_t version, int64_t issued, int64_t expires, int64_t now,
                 struct refresh_out *out, struct rp_err *err)
{
	char body[512], is[32], ex[32], *env = NULL;
	struct refresh_in in;
	int rc;

	policy_payload_format_time(issued, is, sizeof(is));
	policy_payload_format_time(expires, ex, sizeof(ex));
	snprintf(body, sizeof(body),
	         "{\"org\":\"acme\",\"version\":%lld,\"issued_at\":\"%s\",\"expires_at\":\"%s\","
	         "\"allow_docker_hub\":false,\"registries\":[{\"host\":\"ghcr.io\","
	         "\"nickname\":\"g\"}]}",
	         (long long)version, is, ex);
	assert_int_equal(dsse_sign(body, strlen(body), DSSE_POLICY_TYPE, &key, 1, &env, err), 0);
	memset(&in, 0, sizeof(in));
	in.envelope = (const unsigned char *)env;
	in.len = strlen(env);
	in.max_bytes = 1 << 20;
	in.trust = &trust;
	in.org = "acme";
	in.now = now;
	in.db_path = db;
	in.source = "";
	in.etag = "";
	rc = refresh_apply(&in, out, err);
	free(env);
	return rc;
}

static void test_expiry_boundary(void **st)
{
	struct refresh_out out;
	struct rp_err err;

	(void)st;
	/* one second before expires_at: accepted */
	assert_int_equal(apply(1, T0 - 60, T0 + 1, T0, &out, &err), 0);
	assert_int_equal(out.outcome, REFRESH_UPDATED);
	/* at exactly expires_at: refused, version 1 kept */
	assert_int_equal(apply(2, T0 - 60, T0, T0, &out, &err), -1);
	assert_string_equal(err.code, "E_EXPIRED");
	assert_int_equal(out.outcome, REFRESH_REFUSED);
	assert_int_equal(out.old_version, 1);
	/* and after it */
	assert_int_equal(apply(2, T0 - 60, T0 - 1, T0, &out, &err), -1);
	assert_string_equal(err.code, "E_EXPIRED");
	assert_int_equal(apply(2, T0 - 60, T0 + 2, T0 + 1, &out, &err), 0);
	assert_int_equal(out.new_version, 2);
}

static void test_issued_in_the_future(void **st)
{
	struct refresh_out out;
	struct rp_err err;

	(void)st;
	/* beyond the clock-skew allowance: refused */
	assert_int_equal(apply(10, T0 + REFRESH_MAX_SKEW_S + 1, T0 + 86400, T0, &out, &err), -1);
	assert_string_equal(err.code, "E_ISSUED_FUTURE");
	assert_int_equal(out.outcome, REFRESH_REFUSED);
	assert_non_null(strstr(out.message, "clock"));
	/* within it: accepted */
	assert_int_equal(apply(10, T0 + REFRESH_MAX_SKEW_S, T0 + 86400, T0, &out, &err), 0);
	assert_int_equal(out.new_version, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expiry_boundary),
	    cmocka_unit_test(test_issued_in_the_future),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
