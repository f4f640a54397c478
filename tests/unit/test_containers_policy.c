/* SPDX-License-Identifier: ISC */
/*
 * The containers policy.json compiler: every rule form and the scope it
 * becomes, the fail-closed omissions (IPv6, invalid entries, wildcards when
 * switched off), Docker Hub and its registry-1 alias, no policy, exact and
 * deterministic output, and the scope grammar that guards the file's syntax.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers_policy.h"

static void mkpolicy(struct policy *p, bool hub, const char *const *hosts)
{
	size_t n = 0;

	while (hosts[n] != NULL)
		n++;
	memset(p, 0, sizeof(*p));
	p->org = strdup("acme");
	p->version = 7;
	p->issued_at = 1;
	p->expires_at = 2;
	p->allow_docker_hub = hub;
	p->n_registries = n;
	p->registries = calloc(n + 1, sizeof(*p->registries));
	assert_non_null(p->registries);
	for (size_t i = 0; i < n; i++) {
		p->registries[i].host = strdup(hosts[i]);
		p->registries[i].nickname = strdup("");
	}
}

static void compile(bool hub, const char *const *hosts, const struct cpol_opts *o,
                    struct cpol_model *m, char **text)
{
	struct policy p;
	struct rp_err e;
	size_t len;

	mkpolicy(&p, hub, hosts);
	assert_int_equal(cpol_model_build(&p, o, m, &e), 0);
	policy_free(&p);
	assert_int_equal(cpol_render(m, text, &len, &e), 0);
	assert_int_equal(strlen(*text), len);
}

static const struct cpol_opts defaults = {true, false};

/* The scope list of the model as "a b c" (action R: prefix "!"). */
static void scopes_of(const struct cpol_model *m, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->n_rules; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s%s", i ? " " : "",
		                      m->rules[i].action == CPOL_REJECT ? "!" : "",
		                      m->rules[i].scope);
}

struct map_case {
	const char *entry;
	const char *scopes; /* what the compiled file holds for it ("" = nothing: fails closed) */
};

static const struct map_case map_cases[] = {
    {"ghcr.io", "ghcr.io"},
    {"GHCR.IO", "ghcr.io"}, /* the store refuses upper case; the matcher folds it */
    {"reg.example.com:5000", "reg.example.com:5000"},
    {"reg.example.com:05000", "reg.example.com:5000"},
    {"*.corp.example", "*.corp.example"},
    {"localhost:5000", "localhost:5000"},
    {"127.0.0.1:5000", "127.0.0.1:5000"},
    {"10.0.0.1", "10.0.0.1"},
    {"quay.io/myorg/", "quay.io/myorg"},
    {"quay.io/myorg/team/", "quay.io/myorg/team"},
    {"docker.io/trusted/", "docker.io/trusted registry-1.docker.io/trusted"},
    {"index.docker.io", "docker.io registry-1.docker.io"},
    {"registry-1.docker.io", "docker.io registry-1.docker.io"},
    {"docker.io:443", "docker.io:443"}, /* an ordinary registry for both */
    {"*.docker.io", "*.docker.io !registry-1.docker.io"},
    {"*.io", "*.io"}, /* covers docker.io itself in both matchers */
    {"[::1]:5000", ""},
    {"[0:0::1]:5001", ""},
    {"*.corp:5000", ""},
    {"not a host", ""},
    {"*.10.0.0.1", ""},
    {"", ""},
    {"reg:0", ""},
    {"quay.io/Bad/", ""},
    {"a..b", ""},
};

static void test_mapping(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(map_cases) / sizeof(map_cases[0]); i++) {
		const char *hosts[] = {map_cases[i].entry, NULL};
		struct cpol_model m;
		char *text, got[1024];
		compile(false, hosts, &defaults, &m, &text);
		scopes_of(&m, got, sizeof(got));
		if (strcmp(got, map_cases[i].scopes) != 0)
			fail_msg("entry \"%s\": scopes \"%s\", want \"%s\"", map_cases[i].entry,
			         got, map_cases[i].scopes);
		cpol_model_free(&m);
		free(text);
	}
}

static void test_omitted_counts(void **state)
{
	static const char *const hosts[] = {"[::1]:5000", "not a host", "*.corp.example", "ghcr.io",
	                                    NULL};
	struct cpol_opts nowild = {false, false};
	struct cpol_model m;
	char *text;

	(void)state;
	compile(false, hosts, &defaults, &m, &text);
	assert_int_equal(m.omitted[CPOL_OMIT_IPV6], 1);
	assert_int_equal(m.omitted[CPOL_OMIT_INVALID], 1);
	assert_int_equal(m.omitted[CPOL_OMIT_WILDCARD], 0);
	assert_int_equal(m.n_rules, 2);
	cpol_model_free(&m);
	free(text);
	compile(false, hosts, &nowild, &m, &text);
	assert_int_equal(m.omitted[CPOL_OMIT_WILDCARD], 1);
	assert_int_equal(m.n_rules, 1);
	assert_string_equal(m.rules[0].scope, "ghcr.io");
	assert_null(strstr(text, "corp.example"));
	cpol_model_free(&m);
	free(text);
}

static void test_hub(void **state)
{
	static const char *const wild[] = {"*.docker.io", NULL};
	static const char *const both[] = {"*.docker.io", "*.io", NULL}; /* fuzzer find */
	static const char *const none[] = {NULL};
	struct cpol_model m;
	char *text, got[256];

	(void)state;
	compile(true, none, &defaults, &m, &text);
	scopes_of(&m, got, sizeof(got));
	assert_string_equal(got, "docker.io registry-1.docker.io");
	cpol_model_free(&m);
	free(text);
	/* "*.io" allows docker.io in rampart: the alias too, no exception */
	compile(false, both, &defaults, &m, &text);
	scopes_of(&m, got, sizeof(got));
	assert_string_equal(got, "*.docker.io *.io");
	cpol_model_free(&m);
	free(text);
	/* Hub allowed: the alias is allowed too, so no exception is needed */
	compile(true, wild, &defaults, &m, &text);
	scopes_of(&m, got, sizeof(got));
	assert_string_equal(got, "*.docker.io docker.io registry-1.docker.io");
	cpol_model_free(&m);
	free(text);
}

static const char golden[] =
    "{\n"
    "    \"default\": [{\"type\": \"reject\"}],\n"
    "    \"transports\": {\n"
    "        \"docker\": {\n"
    "            \"*.corp.example\": [{\"type\": \"insecureAcceptAnything\"}],\n"
    "            \"127.0.0.1:5000\": [{\"type\": \"insecureAcceptAnything\"}],\n"
    "            \"ghcr.io\": [{\"type\": \"insecureAcceptAnything\"}],\n"
    "            \"quay.io/myorg\": [{\"type\": \"insecureAcceptAnything\"}]\n"
    "        },\n"
    "        \"containers-storage\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]},\n"
    "        \"dir\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]},\n"
    "        \"docker-archive\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]},\n"
    "        \"docker-daemon\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]},\n"
    "        \"oci\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]},\n"
    "        \"oci-archive\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]},\n"
    "        \"sif\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]},\n"
    "        \"tarball\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]}\n"
    "    }\n"
    "}\n";

static void test_golden_and_deterministic(void **state)
{
	static const char *const a[] = {"ghcr.io",        "quay.io/myorg/", "127.0.0.1:5000",
	                                "*.corp.example", "ghcr.io",        NULL};
	static const char *const b[] = {"*.corp.example", "127.0.0.1:5000", "ghcr.io",
	                                "quay.io/myorg/", NULL};
	struct cpol_model m;
	char *ta, *tb;

	(void)state;
	compile(false, a, &defaults, &m, &ta);
	assert_int_equal(m.version, 7);
	cpol_model_free(&m);
	compile(false, b, &defaults, &m, &tb);
	cpol_model_free(&m);
	assert_string_equal(ta, golden);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
}

static void test_no_policy(void **state)
{
	struct cpol_opts allow = {true, true};
	struct cpol_model m;
	struct rp_err e;
	char *text;
	size_t len;
	json_t *j;

	(void)state;
	assert_int_equal(cpol_model_build(NULL, &defaults, &m, &e), 0);
	assert_false(m.have_policy);
	assert_int_equal(cpol_render(&m, &text, &len, &e), 0);
	j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_int_equal(
	    json_object_size(json_object_get(json_object_get(j, "transports"), "docker")), 0);
	json_decref(j);
	free(text);
	cpol_model_free(&m);
	assert_int_equal(cpol_model_build(NULL, &allow, &m, &e), 0);
	assert_int_equal(cpol_render(&m, &text, &len, &e), 0);
	assert_non_null(strstr(text, "\"docker\": {\n            \"\": [{\"type\": "
	                             "\"insecureAcceptAnything\"}]\n"));
	free(text);
	cpol_model_free(&m);
}

/* The output is JSON that jansson reads, default reject, one key per rule. */
static void test_large_valid_json(void **state)
{
	enum { N = 10000 };
	static char *hosts[N + 1];
	struct cpol_model m;
	char *text;
	json_t *j, *docker, *v;
	const char *k;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		char h[64];
		snprintf(h, sizeof(h),
		         i % 3 == 0   ? "reg%zu.example.com"
		         : i % 3 == 1 ? "*.d%zu.example"
		                      : "r%zu.example:5000",
		         i);
		hosts[i] = strdup(h);
	}
	compile(false, (const char *const *)hosts, &defaults, &m, &text);
	assert_int_equal(m.n_rules, N);
	j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(j, "default"), 0), "type")),
	                    "reject");
	docker = json_object_get(json_object_get(j, "transports"), "docker");
	assert_int_equal(json_object_size(docker), N);
	json_object_foreach (docker, k, v)
		assert_true(cpol_scope_ok(k));
	json_decref(j);
	cpol_model_free(&m);
	free(text);
	for (size_t i = 0; i < N; i++)
		free(hosts[i]);
}

static void test_scope_grammar(void **state)
{
	static const char *const good[] = {"ghcr.io",
	                                   "a",
	                                   "reg:5000",
	                                   "reg:65535",
	                                   "*.x.y",
	                                   "127.0.0.1:5000",
	                                   "quay.io/org",
	                                   "quay.io/org/a_b-c.d",
	                                   "localhost:5000/x",
	                                   NULL};
	static const char *const bad[] = {
	    "",         "Reg.x", "a b",  "reg:0",    "reg:65536", "reg:05000",  "reg:", "*.",
	    "*.a:5000", "*.a/b", "a..b", ".a",       "a.",        "[::1]:5000", "a/",   "a//b",
	    "a/B",      "a\"b",  "a\\b", "a:5000:1", "*a.b",      NULL};
	(void)state;
	for (size_t i = 0; good[i] != NULL; i++)
		if (!cpol_scope_ok(good[i]))
			fail_msg("\"%s\" should be a valid scope", good[i]);
	for (size_t i = 0; bad[i] != NULL; i++)
		if (cpol_scope_ok(bad[i]))
			fail_msg("\"%s\" should be refused", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mapping),       cmocka_unit_test(test_omitted_counts),
	    cmocka_unit_test(test_hub),           cmocka_unit_test(test_golden_and_deterministic),
	    cmocka_unit_test(test_no_policy),     cmocka_unit_test(test_large_valid_json),
	    cmocka_unit_test(test_scope_grammar),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
