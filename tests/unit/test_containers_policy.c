/* SPDX-License-Identifier: ISC */
/*
 * The containers policy.json compiler: every rule form and the scope it
 * becomes, the fail-closed omissions (IPv6, invalid entries, wildcards when
 * switched off), Docker Hub and its registry-1 alias, no policy, exact and
 * deterministic output, and the scope grammar that guards the file's syntax.
 * Policy v2: repository allows, deny exceptions (reject scopes), ties, warn
 * rules (not written), the alias under deny rules, and the compiled rules
 * looked up as containers/image does against the matcher's decisions.
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
#include "policy_match.h"

/*
 * An entry spec is a rule as signed, with a prefix for policy v2: "!" deny,
 * "~" mode warn, "~!" a deny in mode warn.
 */
static void mkrule(struct policy_registry *r, const char *spec)
{
	if (spec[0] == '~') {
		r->mode = POLICY_WARN;
		spec++;
	}
	if (spec[0] == '!') {
		r->action = POLICY_DENY;
		spec++;
	}
	r->host = strdup(spec);
	r->nickname = strdup("");
}

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
		mkrule(&p->registries[i], hosts[i]);
		if (p->registries[i].action != POLICY_ALLOW ||
		    p->registries[i].mode != POLICY_ENFORCE ||
		    strchr(p->registries[i].host, '/') != NULL)
			p->schema_version = 2;
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
    /* registry-1.docker.io/trusted is docker.io/library/trusted for rampart (denied),
     * registry-1.docker.io/trusted/x is docker.io/trusted/x (allowed): one engine
     * scope cannot say both, so the alias is left to the default reject */
    {"docker.io/trusted/", "docker.io/trusted"},
    {"docker.io/acme/team/", "docker.io/acme/team registry-1.docker.io/acme/team"},
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
	/* Hub allowed: "*.docker.io" allows the alias as rampart does, no alias scope */
	compile(true, wild, &defaults, &m, &text);
	scopes_of(&m, got, sizeof(got));
	assert_string_equal(got, "*.docker.io docker.io");
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

/* ---- policy v2: repository rules, deny exceptions, warn rules ------------ */

struct v2_case {
	bool hub;
	const char *rules[6];
	const char *scopes;
};

static const struct v2_case v2_cases[] = {
    /* a repository allow is a scope for that namespace */
    {false, {"quay.io/acme/"}, "quay.io/acme"},
    {false, {"reg.example.com:5000/team/"}, "reg.example.com:5000/team"},
    /* deny exceptions: more specific reject scopes */
    {false, {"quay.io", "!quay.io/acme/legacy/"}, "quay.io !quay.io/acme/legacy"},
    {false, {"quay.io/acme/", "!quay.io/acme/legacy/"}, "quay.io/acme !quay.io/acme/legacy"},
    {false, {"*.corp.example", "!bad.corp.example"}, "*.corp.example !bad.corp.example"},
    {false, {"*.corp.example", "!*.lab.corp.example"}, "*.corp.example !*.lab.corp.example"},
    {false, {"reg:5000", "!reg:5000/secret/"}, "reg:5000 !reg:5000/secret"},
    {false, {"!quay.io/x/"}, "!quay.io/x"}, /* a deny under nothing: written all the same */
    /* deny wins a tie: one scope, reject */
    {false, {"ghcr.io", "!ghcr.io"}, "!ghcr.io"},
    {false, {"quay.io/a/", "!quay.io/a/"}, "!quay.io/a"},
    {false, {"*.corp.example", "!*.corp.example"}, "!*.corp.example"},
    /* warn rules decide nothing in rampart: not written (neither allow nor reject) */
    {false, {"quay.io", "~!quay.io/acme/"}, "quay.io"},
    {false, {"~quay.io"}, ""},
    {false, {"ghcr.io", "~!ghcr.io"}, "ghcr.io"},
    {false, {"~ghcr.io", "!ghcr.io/x/"}, "!ghcr.io/x"},
    /* Docker Hub: library/ and the registry-1.docker.io alias */
    {false, {"docker.io/library/"}, "docker.io/library registry-1.docker.io/library"},
    {true, {"!docker.io/library/"}, "docker.io !docker.io/library"},
    {true,
     {"!docker.io/library/nginx/"},
     "docker.io !docker.io/library/nginx registry-1.docker.io "
     "!registry-1.docker.io/library/nginx !registry-1.docker.io/nginx"},
    {true,
     {"!docker.io/evil/"},
     "docker.io !docker.io/evil registry-1.docker.io !registry-1.docker.io/evil"},
    {true, {"~!docker.io/evil/"}, "docker.io registry-1.docker.io"},
    {false, {"*.io", "!docker.io/library/"}, "*.io !docker.io/library !registry-1.docker.io"},
};

static void test_v2_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(v2_cases) / sizeof(v2_cases[0]); i++) {
		const struct v2_case *c = &v2_cases[i];
		struct cpol_model m;
		char *text, got[1024];
		compile(c->hub, c->rules, &defaults, &m, &text);
		scopes_of(&m, got, sizeof(got));
		if (strcmp(got, c->scopes) != 0)
			fail_msg("case %zu (%s, ...): scopes \"%s\", want \"%s\"", i, c->rules[0],
			         got, c->scopes);
		cpol_model_free(&m);
		free(text);
	}
}

static void test_v2_warn_counted(void **state)
{
	static const char *const rules[] = {"quay.io", "~!quay.io/acme/", "~ghcr.io", NULL};
	struct cpol_model m;
	char *text;

	(void)state;
	compile(false, rules, &defaults, &m, &text);
	assert_int_equal(m.omitted[CPOL_OMIT_WARN], 2);
	assert_int_equal(cpol_model_count(&m, CPOL_REJECT), 0);
	assert_null(strstr(text, "reject\"}],\n        }")); /* still valid: checked by jansson */
	json_decref(json_loads(text, 0, NULL));
	cpol_model_free(&m);
	free(text);
}

/* The name containers/image looks up for ref (docker/reference splitDockerDomain). */
static void cimage_name(const char *ref, char *out, size_t size)
{
	char buf[512];
	char *at, *slash, *colon, *first;

	rp_strlcpy(buf, ref, sizeof(buf));
	if ((at = strchr(buf, '@')) != NULL)
		*at = '\0';
	slash = strrchr(buf, '/');
	colon = strrchr(buf, ':');
	if (colon != NULL && (slash == NULL || colon > slash))
		*colon = '\0';
	first = strchr(buf, '/');
	if (first == NULL || (memchr(buf, '.', (size_t)(first - buf)) == NULL &&
	                      memchr(buf, ':', (size_t)(first - buf)) == NULL &&
	                      strncmp(buf, "localhost/", 10) != 0))
		snprintf(out, size, "docker.io/%s%s", strchr(buf, '/') ? "" : "library/", buf);
	else if (strncmp(buf, "index.docker.io/", 16) == 0 || strncmp(buf, "docker.io/", 10) == 0)
		snprintf(out, size, "docker.io/%s%s", strchr(first + 1, '/') ? "" : "library/",
		         first + 1);
	else
		snprintf(out, size, "%s", buf);
}

struct v2_ref {
	const char *ref;
	const char *differ; /* NULL: both agree; else "rampart>engine" as documented */
};

/*
 * The v2 policy of docs/enforcement.md's differential: the compiled model, looked
 * up as containers/image does, against policy_check.  The real skopeo run is
 * tests/e2e/test_containers_differential.py; this one covers more names, fast.
 */
static void test_v2_agrees_with_matcher(void **state)
{
	static const char *const rules[] = {"quay.io/acme/",
	                                    "ghcr.io",
	                                    "reg.example.com:5000",
	                                    "*.corp.example",
	                                    "docker.io/library/",
	                                    "!quay.io/acme/legacy/",
	                                    "!ghcr.io/evil/",
	                                    "!bad.corp.example",
	                                    "~!ghcr.io/new/",
	                                    "~reg.example.com",
	                                    "!docker.io/library/nginx/",
	                                    "!*.lab.corp.example",
	                                    NULL};
	static const struct v2_ref refs[] = {
	    {"quay.io/acme/app:1", NULL},
	    {"quay.io/acme/team/app:1", NULL},
	    {"quay.io/acme:1", NULL},
	    {"quay.io/acme-evil/app:1", NULL},
	    {"quay.io/acmeapp:1", NULL},
	    {"quay.io/acme/legacy:1", NULL},
	    {"quay.io/acme/legacy/app:1", NULL},
	    {"quay.io/acme/legacyx/app:1", NULL},
	    {"ghcr.io/org/app:1", NULL},
	    {"ghcr.io/evil/app:1", NULL},
	    {"ghcr.io/evil:1", NULL},
	    {"ghcr.io/new/app:1", NULL}, /* warn deny: allowed by both */
	    {"ghcr.io:443/org/app:1", NULL},
	    {"reg.example.com/a:1", NULL}, /* warn allow: denied by both */
	    {"reg.example.com:5000/a:1", NULL},
	    {"a.corp.example/x:1", NULL},
	    {"bad.corp.example/x:1", NULL},
	    {"x.bad.corp.example/x:1", NULL},
	    {"a.lab.corp.example/x:1", NULL},
	    {"corp.example/x:1", NULL},
	    {"a.corp.example:5000/x:1", "deny>allow"}, /* wildcards on any port */
	    {"bad.corp.example:5000/x:1", "deny>allow"},
	    {"alpine:1", NULL},
	    {"library/alpine:1", NULL},
	    {"docker.io/library/alpine:1", NULL},
	    {"index.docker.io/alpine:1", NULL},
	    {"nginx:1", NULL},
	    {"nginx/x:1", NULL},
	    {"acme/app:1", NULL},
	    {"registry-1.docker.io/library/alpine:1", NULL},
	    {"registry-1.docker.io/library/nginx:1", NULL},
	    {"registry-1.docker.io/nginx:1", NULL},
	    {"registry-1.docker.io/alpine:1", "allow>deny"}, /* the alias one-component name */
	    {"registry-1.docker.io/acme/app:1", NULL},
	    {"alpine@sha256:"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     NULL},
	};
	struct policy p;
	struct policy_index *idx;
	struct cpol_model m;
	struct rp_err e;
	size_t ndiff = 0;

	(void)state;
	mkpolicy(&p, false, rules);
	assert_int_equal(cpol_model_build(&p, &defaults, &m, &e), 0);
	assert_int_equal(policy_index_build(&p, &idx, &e), 0);
	for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
		struct rampart_decision d;
		char name[1100], got[32];
		bool eng;
		assert_int_equal(policy_check(idx, false, refs[i].ref, 0, &d), 0);
		cimage_name(refs[i].ref, name, sizeof(name));
		eng = cpol_model_lookup(&m, name) == CPOL_ALLOW;
		snprintf(got, sizeof(got), "%s>%s", d.allowed ? "allow" : "deny",
		         eng ? "allow" : "deny");
		if (refs[i].differ == NULL ? d.allowed != eng : strcmp(got, refs[i].differ) != 0)
			fail_msg("%s (engine name %s): rampart %s, engine %s (%s), want %s",
			         refs[i].ref, name, d.allowed ? "allow" : "deny",
			         eng ? "allow" : "deny", d.reason,
			         refs[i].differ ? refs[i].differ : "agreement");
		ndiff += refs[i].differ != NULL;
	}
	assert_int_equal(ndiff, 3);
	policy_index_free(idx);
	cpol_model_free(&m);
	policy_free(&p);
}

/* cpol_model_lookup follows containers/image's order: name, parents, host, wildcards. */
static void test_lookup_order(void **state)
{
	static const char *const rules[] = {"*.b.c",    "!*.c",        "!a.b.c",
	                                    "a.b.c/x/", "!a.b.c/x/y/", NULL};
	struct cpol_model m;
	char *text, longname[300];

	(void)state;
	compile(false, rules, &defaults, &m, &text);
	assert_int_equal(cpol_model_lookup(&m, "a.b.c/x/y/z"), CPOL_REJECT);
	assert_int_equal(cpol_model_lookup(&m, "a.b.c/x/z"), CPOL_ALLOW);
	assert_int_equal(cpol_model_lookup(&m, "a.b.c/z"), CPOL_REJECT);
	assert_int_equal(cpol_model_lookup(&m, "q.b.c/z"), CPOL_ALLOW);
	assert_int_equal(cpol_model_lookup(&m, "q.b.c:5000/z"), CPOL_ALLOW);
	assert_int_equal(cpol_model_lookup(&m, "q.c/z"), CPOL_REJECT);
	assert_int_equal(cpol_model_lookup(&m, "b.c/z"), CPOL_REJECT);
	assert_int_equal(cpol_model_lookup(&m, "other/z"), CPOL_REJECT);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memcpy(longname, "q.b.c/", 6);
	assert_int_equal(cpol_model_lookup(&m, longname), CPOL_REJECT); /* over 255: unparsable */
	cpol_model_free(&m);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mapping),
	    cmocka_unit_test(test_omitted_counts),
	    cmocka_unit_test(test_hub),
	    cmocka_unit_test(test_golden_and_deterministic),
	    cmocka_unit_test(test_no_policy),
	    cmocka_unit_test(test_large_valid_json),
	    cmocka_unit_test(test_scope_grammar),
	    cmocka_unit_test(test_v2_forms),
	    cmocka_unit_test(test_v2_warn_counted),
	    cmocka_unit_test(test_v2_agrees_with_matcher),
	    cmocka_unit_test(test_lookup_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
