/* SPDX-License-Identifier: ISC */
/*
 * Table-driven tests for policy decisions on an in-memory struct policy:
 * exact hosts, ports, wildcards, Docker Hub and its aliases, repository
 * prefixes, bad entries (skipped, never matching), no policy and an expired
 * policy (still enforced).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_match.h"

#define NOW 1700000000LL
#define FUTURE 4102444800LL /* 2100-01-01 */

static struct policy_index *build(bool hub, int64_t version, int64_t expires,
                                  const char *const *hosts, size_t *skipped)
{
	struct policy p;
	struct policy_index *idx = NULL;
	struct rp_err e;
	size_t n = 0;

	while (hosts[n] != NULL)
		n++;
	memset(&p, 0, sizeof(p));
	p.org = strdup("example-org");
	p.version = version;
	p.issued_at = 1;
	p.expires_at = expires;
	p.allow_docker_hub = hub;
	p.n_registries = n;
	p.registries = calloc(n + 1, sizeof(*p.registries));
	assert_non_null(p.registries);
	for (size_t i = 0; i < n; i++) {
		p.registries[i].host = strdup(hosts[i]);
		p.registries[i].nickname = strdup("");
		p.registries[i].kind = POLICY_EXACT; /* ignored: derived from host */
	}
	assert_int_equal(policy_index_build(&p, &idx, &e), 0);
	policy_free(&p); /* the index must not keep pointers into p */
	if (skipped != NULL)
		*skipped = policy_index_skipped(idx);
	return idx;
}

static const char *const hosts_a[] = {"ghcr.io", "reg.example.com:5000", "*.corp.example",
                                      "localhost:5000", "[::1]:5001", "10.0.0.1", "quay.io/myorg/",
                                      "docker.io/trusted/", "*.docker.example",
                                      "Mixed.Case.Example", "ghcr.io", /* duplicate: harmless */
                                      /* invalid entries: skipped, so they can only deny */
                                      "*.corp:5000", "not a host", "*.10.0.0.1", "", "reg:0",
                                      "*.x/y", "host/", "*.", "a..b", "quay.io/Bad/", NULL};
#define HOSTS_A_BAD 10

struct match_case {
	const char *ref;
	bool allowed;
	const char *rule;   /* "" = none */
	const char *reason; /* substring of the reason */
};

/* allow_docker_hub = false */
static const struct match_case cases_a[] = {
    {"ghcr.io/org/app", true, "ghcr.io", "ghcr.io matches rule ghcr.io"},
    {"GHCR.IO/org/app:v2", true, "ghcr.io", "ghcr.io matches rule ghcr.io"},
    {"ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
     true, "ghcr.io", "matches rule ghcr.io"},
    {"ghcr.io:443/org/app", false, "", "rule ghcr.io matches only the default port"},
    {"ghcr.io:5000/x", false, "", "no rule matches registry ghcr.io:5000"},
    {"sub.ghcr.io/x", false, "", "no rule matches registry sub.ghcr.io"},
    {"ghcr.io.evil.example/x", false, "", "no rule matches registry ghcr.io.evil.example"},
    {"reg.example.com:5000/app", true, "reg.example.com:5000",
     "reg.example.com:5000 matches rule reg.example.com:5000"},
    {"reg.example.com:05000/app", true, "reg.example.com:5000", "matches rule"},
    {"reg.example.com/app", false, "", "no rule matches registry reg.example.com"},
    {"reg.example.com:5001/app", false, "", "no rule matches registry reg.example.com:5001"},
    {"a.corp.example/x", true, "*.corp.example", "a.corp.example matches rule *.corp.example"},
    {"a.b.c.corp.example/x", true, "*.corp.example", "matches rule *.corp.example"},
    {"A.Corp.Example/x", true, "*.corp.example", "a.corp.example matches rule"},
    {"corp.example/x", false, "", "rule *.corp.example matches subdomains of corp.example"},
    {"a.corp.example:5000/x", false, "", "rule *.corp.example matches only the default port"},
    {"evilcorp.example/x", false, "", "no rule matches registry evilcorp.example"},
    {"a.corp.example.evil.com/x", false, "", "no rule matches"},
    {"localhost:5000/x", true, "localhost:5000", "matches rule localhost:5000"},
    {"localhost/x", false, "", "no rule matches registry localhost"},
    {"localhost:5000", false, "", "allow_docker_hub is false"}, /* Hub image "localhost" */
    {"[::1]:5001/x", true, "[::1]:5001", "[::1]:5001 matches rule [::1]:5001"},
    {"[0:0:0:0:0:0:0:1]:5001/x", true, "[::1]:5001", "matches rule"},
    {"[::1]/x", false, "", "no rule matches registry [::1]"},
    {"10.0.0.1/x", true, "10.0.0.1", "matches rule 10.0.0.1"},
    {"10.0.0.1:5000/x", false, "", "rule 10.0.0.1 matches only the default port"},
    {"10.0.0.2/x", false, "", "no rule matches"},
    {"quay.io/myorg/app", true, "quay.io/myorg/", "quay.io/myorg/app matches rule quay.io/myorg/"},
    {"quay.io/myorg/sub/app:1", true, "quay.io/myorg/", "matches rule quay.io/myorg/"},
    {"quay.io/myorg", true, "quay.io/myorg/", "matches rule quay.io/myorg/"},
    {"quay.io/myorgx/app", false, "", "no rule matches registry quay.io"},
    {"quay.io/other/myorg/app", false, "", "no rule matches registry quay.io"},
    {"quay.io:443/myorg/app", false, "", "no rule matches registry quay.io:443"},
    {"quay.io/app", false, "", "no rule matches"},
    {"alpine", false, "", "allow_docker_hub is false"},
    {"docker.io/library/alpine", false, "", "allow_docker_hub is false"},
    {"trusted/app", true, "docker.io/trusted/", "docker.io/trusted/app matches rule"},
    {"index.docker.io/trusted/app", true, "docker.io/trusted/", "matches rule"},
    {"registry-1.docker.io/trusted/app:1", true, "docker.io/trusted/", "matches rule"},
    {"untrusted/app", false, "", "allow_docker_hub is false"},
    {"x.docker.example/a", true, "*.docker.example", "matches rule *.docker.example"},
    {"mixed.case.example/a", true, "Mixed.Case.Example", "matches rule Mixed.Case.Example"},
    {"a.corp:5000/x", false, "", "no rule matches"}, /* "*.corp:5000" was skipped */
    {"a.10.0.0.1/x", false, "", "IPv4"},             /* invalid reference anyway */
    {"Foo/bar", false, "", "no rule matches registry foo"},
};

/* allow_docker_hub = true */
static const char *const hosts_b[] = {"ghcr.io", NULL};
static const struct match_case cases_b[] = {
    {"alpine", true, POLICY_HUB_RULE, "Docker Hub is allowed"},
    {"registry-1.docker.io/library/alpine", true, POLICY_HUB_RULE, "Docker Hub is allowed"},
    {"index.docker.io/u/a", true, POLICY_HUB_RULE, "Docker Hub is allowed"},
    {"DOCKER.IO/u/a", true, POLICY_HUB_RULE, "Docker Hub is allowed"},
    {"docker.io:443/alpine", false, "", "no rule matches registry docker.io:443"},
    {"docker.io.evil.example/alpine", false, "", "no rule matches"},
    {"Foo/bar", false, "", "no rule matches registry foo"},
    {"quay.io/x", false, "", "no rule matches registry quay.io"},
    {"ghcr.io/x", true, "ghcr.io", "matches rule ghcr.io"},
};

/* Hub named by entries instead of the flag */
static const char *const hosts_c[] = {"index.docker.io", NULL};
static const struct match_case cases_c[] = {
    {"alpine", true, "index.docker.io", "docker.io matches rule index.docker.io"},
    {"registry-1.docker.io/u/a", true, "index.docker.io", "matches rule"},
    {"docker.io:5000/u/a", false, "", "no rule matches"},
};
static const char *const hosts_d[] = {"*.docker.io", NULL};
static const struct match_case cases_d[] = {
    {"registry-1.docker.io/u/a", false, "", "rule *.docker.io matches subdomains of docker.io"},
    {"mirror.docker.io/u/a", true, "*.docker.io", "matches rule *.docker.io"},
};

static void run_cases(const struct policy_index *idx, const struct match_case *cases, size_t n,
                      int64_t version)
{
	for (size_t i = 0; i < n; i++) {
		const struct match_case *c = &cases[i];
		struct rampart_decision d;
		int rc = policy_check(idx, false, c->ref, NOW, &d);

		if (d.allowed != c->allowed)
			fail_msg("'%s': allowed=%d, want %d (%s)", c->ref, d.allowed, c->allowed,
			         d.reason);
		if (strcmp(d.rule, c->rule) != 0)
			fail_msg("'%s': rule '%s', want '%s'", c->ref, d.rule, c->rule);
		if (strstr(d.reason, c->reason) == NULL)
			fail_msg("'%s': reason '%s' lacks '%s'", c->ref, d.reason, c->reason);
		if (rc == 0) {
			assert_true(d.policy_cached);
			assert_int_equal(d.policy_version, version);
			assert_false(d.expired);
			assert_string_equal(d.code, "");
			assert_true(d.normalized[0] != '\0');
		} else {
			assert_string_equal(d.code, "E_REF");
		}
	}
}

static void test_policy_a(void **state)
{
	size_t skipped;
	struct policy_index *idx = build(false, 7, FUTURE, hosts_a, &skipped);

	(void)state;
	assert_int_equal(skipped, HOSTS_A_BAD);
	run_cases(idx, cases_a, sizeof(cases_a) / sizeof(cases_a[0]), 7);
	policy_index_free(idx);
}

static void test_policy_hub(void **state)
{
	struct policy_index *b = build(true, 3, FUTURE, hosts_b, NULL);
	struct policy_index *c = build(false, 4, FUTURE, hosts_c, NULL);
	struct policy_index *d = build(false, 5, FUTURE, hosts_d, NULL);

	(void)state;
	run_cases(b, cases_b, sizeof(cases_b) / sizeof(cases_b[0]), 3);
	run_cases(c, cases_c, sizeof(cases_c) / sizeof(cases_c[0]), 4);
	run_cases(d, cases_d, sizeof(cases_d) / sizeof(cases_d[0]), 5);
	policy_index_free(b);
	policy_index_free(c);
	policy_index_free(d);
}

static void test_normalized_in_reply(void **state)
{
	struct policy_index *idx = build(false, 7, FUTURE, hosts_a, NULL);
	struct rampart_decision d;

	(void)state;
	assert_int_equal(policy_check(idx, false, "trusted/app", NOW, &d), 0);
	assert_string_equal(d.normalized, "docker.io/trusted/app:latest");
	assert_int_equal(policy_check(idx, false, "GHCR.io:443/o/a:1", NOW, &d), 0);
	assert_string_equal(d.normalized, "ghcr.io:443/o/a:1");
	policy_index_free(idx);
}

static void test_no_policy(void **state)
{
	struct rampart_decision d;

	(void)state;
	assert_int_equal(policy_check(NULL, false, "ghcr.io/x", NOW, &d), 0);
	assert_false(d.allowed);
	assert_false(d.policy_cached);
	assert_int_equal(d.policy_version, 0);
	assert_string_equal(d.rule, "");
	assert_non_null(strstr(d.reason, "no policy cached"));
	assert_non_null(strstr(d.reason, "denied"));
	assert_string_equal(d.normalized, "ghcr.io/x:latest");

	assert_int_equal(policy_check(NULL, true, "alpine", NOW, &d), 0);
	assert_true(d.allowed);
	assert_non_null(strstr(d.reason, "no policy cached"));
	assert_non_null(strstr(d.reason, "allow_when_no_policy"));

	/* an invalid reference is refused even when the default is allow */
	assert_int_equal(policy_check(NULL, true, "Alpine", NOW, &d), -1);
	assert_false(d.allowed);
	assert_string_equal(d.code, "E_REF");
	assert_non_null(strstr(d.reason, "lowercase"));
}

static void test_expired(void **state)
{
	struct policy_index *idx = build(false, 9, 1000, hosts_a, NULL);
	struct rampart_decision d;

	(void)state;
	/* still enforced: allowed stays allowed, denied stays denied */
	assert_int_equal(policy_check(idx, false, "ghcr.io/x", 2000, &d), 0);
	assert_true(d.allowed);
	assert_true(d.expired);
	assert_int_equal(d.policy_version, 9);
	assert_string_equal(d.rule, "ghcr.io");
	assert_non_null(strstr(d.reason, "ghcr.io matches rule ghcr.io"));
	assert_non_null(strstr(d.reason, "policy expired at 1970-01-01T00:16:40Z; still enforced"));
	assert_int_equal(policy_check(idx, true, "quay.io/x", 2000, &d), 0);
	assert_false(d.allowed); /* allow_when_no_policy does not apply: a policy is cached */
	assert_true(d.expired);
	assert_non_null(strstr(d.reason, "still enforced"));
	/* one second before expires_at it is not expired; from expires_at on it is
	 * (the same boundary refresh.c uses to refuse an expired policy) */
	assert_int_equal(policy_check(idx, false, "ghcr.io/x", 999, &d), 0);
	assert_false(d.expired);
	assert_null(strstr(d.reason, "expired"));
	assert_int_equal(policy_check(idx, false, "ghcr.io/x", 1000, &d), 0);
	assert_true(d.expired);
	policy_index_free(idx);
}

static void test_invalid_with_policy(void **state)
{
	struct policy_index *idx = build(true, 2, FUTURE, hosts_b, NULL);
	struct rampart_decision d;

	(void)state;
	assert_int_equal(policy_check(idx, false, "ghcr.io/Org/app", NOW, &d), -1);
	assert_false(d.allowed);
	assert_string_equal(d.code, "E_REF");
	assert_string_equal(d.rule, "");
	assert_string_equal(d.normalized, "");
	assert_int_equal(policy_check(idx, false, "alpine@sha512:00", NOW, &d), -1);
	assert_false(d.allowed);
	assert_int_equal(policy_check(idx, false, NULL, NOW, &d), -1);
	assert_false(d.allowed);
	policy_index_free(idx);
}

/* 10,000 entries of every kind: each one matches, near misses do not. */
static void test_large(void **state)
{
	enum { N = 10000 };
	char **hosts = calloc(N + 1, sizeof(*hosts));
	struct policy_index *idx;
	struct rampart_decision d;
	char ref[128];

	(void)state;
	assert_non_null(hosts);
	for (int i = 0; i < N; i++) {
		char h[64];
		if (i % 3 == 0)
			snprintf(h, sizeof(h), "h%d.example", i);
		else if (i % 3 == 1)
			snprintf(h, sizeof(h), "p%d.example:%d", i, 1000 + i);
		else
			snprintf(h, sizeof(h), "*.w%d.example", i);
		hosts[i] = strdup(h);
	}
	idx = build(false, 1, FUTURE, (const char *const *)hosts, NULL);
	assert_int_equal(policy_index_entries(idx), N);
	assert_int_equal(policy_index_skipped(idx), 0);
	for (int i = 0; i < N; i++) {
		bool want = true;
		if (i % 3 == 0)
			snprintf(ref, sizeof(ref), "h%d.example/app", i);
		else if (i % 3 == 1)
			snprintf(ref, sizeof(ref), "p%d.example:%d/app", i, 1000 + i);
		else
			snprintf(ref, sizeof(ref), "x.y.w%d.example/app", i);
		assert_int_equal(policy_check(idx, false, ref, NOW, &d), 0);
		if (d.allowed != want)
			fail_msg("'%s' not allowed: %s", ref, d.reason);
		/* near misses */
		if (i % 3 == 0)
			snprintf(ref, sizeof(ref), "h%d.example/app", i + 1);
		else if (i % 3 == 1)
			snprintf(ref, sizeof(ref), "p%d.example:%d/app", i, 1001 + i);
		else
			snprintf(ref, sizeof(ref), "w%d.example/app", i);
		assert_int_equal(policy_check(idx, false, ref, NOW, &d), 0);
		if (d.allowed)
			fail_msg("'%s' allowed by %s", ref, d.rule);
	}
	policy_index_free(idx);
	for (int i = 0; i < N; i++)
		free(hosts[i]);
	free(hosts);
}

static void test_metadata(void **state)
{
	struct policy_index *idx = build(true, 42, FUTURE, hosts_b, NULL);

	(void)state;
	assert_int_equal(policy_index_version(idx), 42);
	assert_int_equal(policy_index_expires_at(idx), FUTURE);
	assert_int_equal(policy_index_issued_at(idx), 1);
	assert_true(policy_index_allow_docker_hub(idx));
	assert_string_equal(policy_index_org(idx), "example-org");
	assert_int_equal(policy_index_entries(idx), 1);
	policy_index_free(idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_a),
	    cmocka_unit_test(test_policy_hub),
	    cmocka_unit_test(test_normalized_in_reply),
	    cmocka_unit_test(test_no_policy),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_invalid_with_policy),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_metadata),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
