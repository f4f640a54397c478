/* SPDX-License-Identifier: ISC */
/*
 * Policy schema 2 decisions: repository prefixes on whole path components,
 * deny rules, most specific wins with deny winning ties, mode "warn" (never
 * decides, reports), the reasons, the lint of rules that change nothing,
 * and two properties over random policies: adding an allow never denies
 * more, adding a deny never allows more (and a warn rule changes nothing).
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
#include "policy_payload.h"

#define NOW 1700000000LL
#define FUTURE 4102444800LL

/* "allow X", "deny X", "warn-allow X", "warn-deny X" */
static void rule_from(struct policy_registry *r, const char *spec)
{
	const char *sp = strchr(spec, ' ');

	assert_non_null(sp);
	r->host = strdup(sp + 1);
	r->nickname = strdup("");
	r->kind = POLICY_EXACT; /* ignored by the matcher */
	r->mode = strncmp(spec, "warn-", 5) == 0 ? POLICY_WARN : POLICY_ENFORCE;
	r->action = strstr(spec, "deny") == spec || strstr(spec, "warn-deny") == spec
	                ? POLICY_DENY
	                : POLICY_ALLOW;
}

static struct policy_index *build_specs(bool hub, const char *const *specs, size_t n)
{
	struct policy p;
	struct policy_index *idx = NULL;
	struct rp_err e;

	memset(&p, 0, sizeof(p));
	p.org = strdup("org");
	p.version = 9;
	p.issued_at = 1;
	p.expires_at = FUTURE;
	p.allow_docker_hub = hub;
	p.schema_version = 2;
	p.n_registries = n;
	p.registries = calloc(n + 1, sizeof(*p.registries));
	assert_non_null(p.registries);
	for (size_t i = 0; i < n; i++)
		rule_from(&p.registries[i], specs[i]);
	assert_int_equal(policy_index_build(&p, &idx, &e), 0);
	policy_free(&p);
	return idx;
}

static struct policy_index *build(bool hub, const char *const *specs)
{
	size_t n = 0;

	while (specs[n] != NULL)
		n++;
	return build_specs(hub, specs, n);
}

struct v2_case {
	const char *ref;
	bool allowed;
	const char *rule; /* "" = none */
	bool warn;
	const char *reason; /* substring of the reason */
};

static const char *const rules_a[] = {
    "allow quay.io/acme/",
    "deny quay.io/acme/legacy/",
    "allow quay.io/acme/legacy/keep/",
    "allow *.corp.example",
    "deny bad.corp.example",
    "deny *.lab.corp.example",
    "allow ok.lab.corp.example",
    "allow ghcr.io",
    "deny ghcr.io/evil/",
    "warn-deny ghcr.io/soon/",
    "warn-allow quay.io/trial/",
    "allow docker.io/library/",
    "deny docker.io/library/old/",
    "allow reg.example:5000/team/",
    NULL,
};

static const struct v2_case cases_a[] = {
    /* whole path components only */
    {"quay.io/acme/app", true, "quay.io/acme/", false,
     "quay.io/acme/app matches rule quay.io/acme/"},
    {"quay.io/acme/team/app:1", true, "quay.io/acme/", false, "matches rule quay.io/acme/"},
    {"quay.io/acme", true, "quay.io/acme/", false, "matches rule quay.io/acme/"},
    {"quay.io/acme-evil/app", false, "", false, "no rule matches registry quay.io"},
    {"quay.io/acmeapp", false, "", false, "no rule matches registry quay.io"},
    {"QUAY.IO/acme/app", true, "quay.io/acme/", false, "matches rule quay.io/acme/"},
    /* the exception, and the exception to the exception */
    {"quay.io/acme/legacy/app", false, "quay.io/acme/legacy/", false,
     "quay.io/acme/legacy/app matches deny rule quay.io/acme/legacy/ (deny quay.io/acme/legacy/ "
     "is more specific than allow quay.io/acme/)"},
    {"quay.io/acme/legacy", false, "quay.io/acme/legacy/", false, "deny rule"},
    {"quay.io/acme/legacyx/app", true, "quay.io/acme/", false, "matches rule quay.io/acme/"},
    {"quay.io/acme/legacy/keep/x", true, "quay.io/acme/legacy/keep/", false,
     "(allow quay.io/acme/legacy/keep/ is more specific than deny quay.io/acme/legacy/)"},
    /* hosts and wildcards */
    {"a.corp.example/x", true, "*.corp.example", false,
     "a.corp.example matches rule *.corp.example"},
    {"bad.corp.example/x", false, "bad.corp.example", false,
     "(deny bad.corp.example is more specific than allow *.corp.example)"},
    {"x.bad.corp.example/x", true, "*.corp.example", false, "matches rule *.corp.example"},
    {"x.lab.corp.example/x", false, "*.lab.corp.example", false,
     "(deny *.lab.corp.example is more specific than allow *.corp.example)"},
    {"ok.lab.corp.example/x", true, "ok.lab.corp.example", false,
     "(allow ok.lab.corp.example is more specific than deny *.lab.corp.example)"},
    {"ghcr.io/evil/x", false, "ghcr.io/evil/", false,
     "(deny ghcr.io/evil/ is more specific than allow ghcr.io)"},
    {"ghcr.io/evilx", true, "ghcr.io", false, "ghcr.io matches rule ghcr.io"},
    /* dry-run rules report, never decide */
    {"ghcr.io/soon/app", true, "ghcr.io", true,
     "; warn: rule deny ghcr.io/soon/ (mode warn) would deny this reference"},
    {"ghcr.io/other/app", true, "ghcr.io", false, "ghcr.io matches rule ghcr.io"},
    {"quay.io/trial/app", false, "", true,
     "; warn: rule allow quay.io/trial/ (mode warn) would allow this reference"},
    /* Docker Hub namespaces after normalisation */
    {"alpine", true, "docker.io/library/", false,
     "docker.io/library/alpine matches rule docker.io/library/"},
    {"index.docker.io/library/nginx", true, "docker.io/library/", false, "matches rule"},
    {"docker.io/library/old/x", false, "docker.io/library/old/", false, "deny rule"},
    {"someone/app", false, "", false, "does not allow Docker Hub"},
    /* ports */
    {"reg.example:5000/team/app", true, "reg.example:5000/team/", false, "matches rule"},
    {"reg.example/team/app", false, "", false, "no rule matches registry reg.example"},
    {"reg.example:5001/team/app", false, "", false, "no rule matches"},
};

static void check_cases(struct policy_index *idx, const struct v2_case *c, size_t n)
{
	struct rampart_decision d;

	for (size_t i = 0; i < n; i++, c++) {
		assert_int_equal(policy_check(idx, false, c->ref, NOW, &d), 0);
		if (d.allowed != c->allowed || strcmp(d.rule, c->rule) != 0 || d.warn != c->warn)
			fail_msg("'%s': allowed %d rule '%s' warn %d (%s); want %d '%s' %d", c->ref,
			         d.allowed, d.rule, d.warn, d.reason, c->allowed, c->rule, c->warn);
		if (strstr(d.reason, c->reason) == NULL)
			fail_msg("'%s': reason '%s' lacks '%s'", c->ref, d.reason, c->reason);
		assert_int_equal(d.denied_by_rule, !d.allowed && d.rule[0] != '\0');
		assert_int_equal(d.warn, d.warn_rule[0] != '\0');
	}
}

static void test_v2_table(void **st)
{
	struct policy_index *idx = build(false, rules_a);

	(void)st;
	check_cases(idx, cases_a, sizeof(cases_a) / sizeof(cases_a[0]));
	assert_int_equal(policy_index_deny(idx), 6);
	assert_int_equal(policy_index_warn(idx), 2);
	policy_index_free(idx);
}

/* Ties: deny wins; allow_docker_hub sits at the level of the docker.io host. */
static void test_v2_ties(void **st)
{
	static const char *const tie[] = {"allow ghcr.io", "deny ghcr.io", "deny docker.io/x/",
	                                  "warn-deny ghcr.io", NULL};
	static const struct v2_case c[] = {
	    {"ghcr.io/a", false, "ghcr.io", false,
	     "(deny ghcr.io and allow ghcr.io are equally specific; deny wins ties)"},
	    {"docker.io/x/app", false, "docker.io/x/", false,
	     "(deny docker.io/x/ is more specific than allow docker.io (allow_docker_hub))"},
	    {"nginx", true, POLICY_HUB_RULE, false, "Docker Hub is allowed by the policy"},
	};
	static const char *const warn_tie[] = {"allow ghcr.io", "warn-deny ghcr.io", NULL};
	static const struct v2_case w[] = {
	    {"ghcr.io/a", true, "ghcr.io", true, "would deny"},
	};
	struct policy_index *idx = build(true, tie);

	(void)st;
	check_cases(idx, c, sizeof(c) / sizeof(c[0]));
	policy_index_free(idx);
	idx = build(false, warn_tie);
	check_cases(idx, w, 1);
	policy_index_free(idx);
}

struct lint_seen {
	char msgs[16][600];
	size_t entry[16];
	size_t n;
};

static void lint_cb(void *arg, size_t entry, const char *msg)
{
	struct lint_seen *s = arg;

	if (s->n < 16) {
		s->entry[s->n] = entry;
		snprintf(s->msgs[s->n++], sizeof(s->msgs[0]), "%s", msg);
	}
}

static bool lint_has(const struct lint_seen *s, size_t entry, const char *needle)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->entry[i] == entry && strstr(s->msgs[i], needle) != NULL)
			return true;
	return false;
}

static void test_v2_lint(void **st)
{
	static const char *const r[] = {
	    "allow quay.io",                 /* 0 */
	    "allow quay.io/acme/",           /* 1: redundant under quay.io */
	    "deny quay.io/acme/old/",        /* 2: useful */
	    "deny quay.io/acme/old/x/",      /* 3: redundant under 2 */
	    "allow quay.io/acme/old/y/",     /* 4: useful */
	    "deny ghcr.io/x/",               /* 5: nothing allows ghcr.io */
	    "allow *.corp.example",          /* 6 */
	    "allow a.corp.example",          /* 7: redundant under 6 */
	    "allow *.b.corp.example",        /* 8: redundant under 6 */
	    "allow docker.io/library/",      /* 9: redundant: allow_docker_hub */
	    "warn-deny quay.io/acme/old/z/", /* 10: 2 already denies it */
	    NULL,
	};
	struct lint_seen s;
	struct policy_index *idx = build(true, r);

	(void)st;
	memset(&s, 0, sizeof(s));
	policy_lint(idx, lint_cb, &s);
	assert_true(lint_has(&s, 1,
	                     "allow quay.io/acme/ changes nothing: the less specific rule "
	                     "allow quay.io already allows"));
	assert_true(lint_has(&s, 3, "deny quay.io/acme/old/ already denies"));
	assert_true(
	    lint_has(&s, 5, "deny ghcr.io/x/ changes nothing: no less specific rule allows"));
	assert_true(lint_has(&s, 7, "allow *.corp.example already allows"));
	assert_true(lint_has(&s, 8, "allow *.corp.example already allows"));
	assert_true(lint_has(&s, 9, "docker.io (allow_docker_hub) already allows"));
	assert_true(lint_has(&s, 10, "(mode warn) changes nothing"));
	assert_int_equal(s.n, 7); /* 0, 2, 4, 6 are not reported */
	policy_index_free(idx);
}

/* ---- properties over random policies ----------------------------------- */

static const char *const universe[] = {
    "a.example",        "a.example:5000",     "b.a.example",          "*.a.example",
    "*.b.a.example",    "c.b.a.example",      "a.example/x/",         "a.example/x/y/",
    "a.example/x/y/z/", "a.example/w/",       "b.a.example/x/",       "a.example:5000/x/",
    "docker.io",        "docker.io/library/", "docker.io/library/a/", "docker.io/u/",
    "10.0.0.1",         "10.0.0.1/x/",
};
static const char *const refs[] = {
    "a.example/x",
    "a.example/x/y",
    "a.example/x/y/z/q",
    "a.example/xy",
    "a.example/w/v",
    "a.example/q",
    "a.example:5000/x",
    "a.example:5000/q",
    "b.a.example/x",
    "b.a.example/q",
    "c.b.a.example/x",
    "d.b.a.example/x",
    "e.a.example/x/y",
    "a.example",
    "alpine",
    "library/a/b",
    "u/app",
    "other/app",
    "10.0.0.1/x/y",
    "10.0.0.1/q",
    "zz.example/x",
};
#define NU (sizeof(universe) / sizeof(universe[0]))
#define NR (sizeof(refs) / sizeof(refs[0]))

static uint32_t rng = 12345;

static uint32_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static const char *const verbs[] = {"allow", "deny", "warn-allow", "warn-deny"};

static void decide_all(struct policy_index *idx, bool out[NR])
{
	struct rampart_decision d;

	for (size_t r = 0; r < NR; r++) {
		assert_int_equal(policy_check(idx, false, refs[r], NOW, &d), 0);
		out[r] = d.allowed;
	}
}

/* Builds policy + one extra rule (verb v) and compares every reference. */
static void property_round(void)
{
	char specs[24][64];
	const char *ptr[25];
	bool hub = next_rand() & 1, before[NR], after[NR];
	size_t n = next_rand() % 12;
	struct policy_index *idx;
	int v;

	for (size_t i = 0; i < n; i++) {
		snprintf(specs[i], sizeof(specs[i]), "%s %s", verbs[next_rand() % 4],
		         universe[next_rand() % NU]);
		ptr[i] = specs[i];
	}
	idx = build_specs(hub, ptr, n);
	decide_all(idx, before);
	policy_index_free(idx);
	v = (int)(next_rand() % 4);
	snprintf(specs[n], sizeof(specs[n]), "%s %s", verbs[v], universe[next_rand() % NU]);
	ptr[n] = specs[n];
	idx = build_specs(hub, ptr, n + 1);
	decide_all(idx, after);
	policy_index_free(idx);
	for (size_t r = 0; r < NR; r++) {
		bool bad = (v == 0 && before[r] && !after[r]) ||
		           (v == 1 && !before[r] && after[r]) || (v >= 2 && before[r] != after[r]);
		if (bad) {
			for (size_t i = 0; i <= n; i++)
				print_message("  %s\n", ptr[i]);
			fail_msg("adding '%s' changed %s from %s to %s (hub %d)", ptr[n], refs[r],
			         before[r] ? "allow" : "deny", after[r] ? "allow" : "deny", hub);
		}
	}
}

static void test_v2_properties(void **st)
{
	/* 3000 random policies; 300 under valgrind (scripts/check-deep), same seed */
	int rounds = getenv("RAMPART_UNDER_VALGRIND") != NULL ? 300 : 3000;

	(void)st;
	for (int i = 0; i < rounds; i++)
		property_round();
}

/* A 10,000-rule schema-2 policy and a 64-component rule decide as written. */
static void test_v2_big(void **st)
{
	static char specs[10000][80];
	static const char *ptr[10000];
	char ref[400], rule[400];
	struct policy_index *idx;
	struct rampart_decision d;
	size_t n = 0;

	(void)st;
	for (int i = 0; i < 5000; i++) {
		snprintf(specs[i], sizeof(specs[i]), "allow r%d.example/team/", i);
		snprintf(specs[5000 + i], sizeof(specs[i]), "deny r%d.example/team/old/", i);
	}
	for (int i = 0; i < 10000; i++)
		ptr[i] = specs[i];
	idx = build_specs(false, ptr, 10000);
	assert_int_equal(policy_index_skipped(idx), 0);
	assert_int_equal(policy_check(idx, false, "r4999.example/team/app", NOW, &d), 0);
	assert_true(d.allowed);
	assert_int_equal(policy_check(idx, false, "r4999.example/team/old/app", NOW, &d), 0);
	assert_false(d.allowed);
	assert_string_equal(d.rule, "r4999.example/team/old/");
	policy_index_free(idx);
	n = (size_t)snprintf(rule, sizeof(rule), "deny q.io/");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(rule + n, sizeof(rule) - n, "a/");
	ptr[0] = "allow q.io";
	ptr[1] = rule;
	idx = build_specs(false, ptr, 2);
	assert_int_equal(policy_index_skipped(idx), 0);
	n = (size_t)snprintf(ref, sizeof(ref), "q.io/");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(ref + n, sizeof(ref) - n, "a/");
	snprintf(ref + n, sizeof(ref) - n, "b");
	assert_int_equal(policy_check(idx, false, ref, NOW, &d), 0);
	assert_false(d.allowed);
	ref[n - 1] = '\0'; /* 64 components: still the rule's own repository */
	assert_int_equal(policy_check(idx, false, ref, NOW, &d), 0);
	assert_false(d.allowed);
	ref[n - 3] = '\0'; /* 63 components: above the rule */
	assert_int_equal(policy_check(idx, false, ref, NOW, &d), 0);
	assert_true(d.allowed);
	policy_index_free(idx);
	rule[strlen(rule)] = '\0';
	snprintf(rule + strlen(rule), sizeof(rule) - strlen(rule), "a/"); /* 65: skipped */
	idx = build_specs(false, ptr, 2);
	assert_int_equal(policy_index_skipped(idx), 1);
	policy_index_free(idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v2_table), cmocka_unit_test(test_v2_ties),
	    cmocka_unit_test(test_v2_lint),  cmocka_unit_test(test_v2_properties),
	    cmocka_unit_test(test_v2_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
