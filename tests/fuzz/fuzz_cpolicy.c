/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for the containers policy.json compiler.  Input: byte 0 holds
 * flags (allow_docker_hub, wildcard scopes, allow_when_no_policy, no policy),
 * the rest is one policy entry per line, as a signer could write them; a
 * line may start with "~" (mode warn) and then "!" (a deny rule, policy v2).
 * Properties: the output is JSON with default reject, every docker scope
 * passes the scope grammar, scopes are unique, and for references under each
 * scope, containers/image's lookup of the model (cpol_model_lookup) never
 * allows what rampart's own matcher denies; it rejects what the matcher
 * allows only where docs/enforcement.md says it fails closed (the
 * registry-1.docker.io alias, entries left out of the file).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers_policy.h"
#include "fuzz.h"
#include "policy_match.h"
#include "reference.h"

#define CP_CHECK(cond)                                                                             \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail("cpolicy", #cond);                                               \
	} while (0)

static void cp_split(const uint8_t *d, size_t n, struct policy *p)
{
	size_t start = 0;

	p->registries = calloc(n + 1, sizeof(*p->registries));
	if (p->registries == NULL)
		abort();
	for (size_t i = 0; i <= n && p->n_registries < 512; i++) {
		if (i < n && d[i] != '\n')
			continue;
		struct policy_registry *r = &p->registries[p->n_registries++];
		if (start < i && d[start] == '~') {
			r->mode = POLICY_WARN;
			start++;
		}
		if (start < i && d[start] == '!') {
			r->action = POLICY_DENY;
			start++;
		}
		r->host = strndup((const char *)d + start, i - start);
		r->nickname = strdup("");
		if (r->host == NULL || r->nickname == NULL)
			abort();
		start = i + 1;
	}
}

/* The name containers/image looks up for ref (docker/reference splitDockerDomain). */
static void cp_cimage_name(const char *ref, char *out, size_t size)
{
	const char *slash = strchr(ref, '/');
	size_t dl = slash != NULL ? (size_t)(slash - ref) : 0;
	bool domain =
	    slash != NULL && (memchr(ref, '.', dl) != NULL || memchr(ref, ':', dl) != NULL ||
	                      (dl == 9 && strncmp(ref, "localhost", 9) == 0));
	const char *rest = domain ? slash + 1 : ref;
	bool hub = !domain || (dl == 9 && strncmp(ref, "docker.io", 9) == 0) ||
	           (dl == 15 && strncmp(ref, "index.docker.io", 15) == 0);

	if (hub)
		snprintf(out, size, "docker.io/%s%s", strchr(rest, '/') ? "" : "library/", rest);
	else
		snprintf(out, size, "%s", ref);
}

/* One reference, decided by the matcher and by the engine's lookup of the model. */
static void cp_agree_ref(const struct policy_index *idx, const struct cpol_model *m,
                         const char *ref, bool closed_ok)
{
	char name[4 * CPOL_MAX_SCOPE];
	struct rampart_decision dc;
	bool eng;

	memset(&dc, 0, sizeof(dc));
	if (policy_check(idx, false, ref, 0, &dc) != 0)
		return; /* not a reference either side can pull */
	cp_cimage_name(ref, name, sizeof(name));
	eng = cpol_model_lookup(m, name) == CPOL_ALLOW;
	if (eng == dc.allowed)
		return;
	if (!eng &&
	    (closed_ok || strncmp(name, "registry-1.docker.io/", 21) == 0 || strlen(name) > 255))
		return; /* documented: fails closed (the alias, a name c/image cannot parse) */
	fprintf(stderr, "%s (engine name %s): engine %s, rampart: %s\n", ref, name,
	        eng ? "allow" : "reject", dc.reason);
	fuzz_fail("cpolicy", "the compiled file disagrees with policy check");
}

/*
 * References at and under scope r ("x." in front of a wildcard's domain),
 * and the same names under registry-1.docker.io for a docker.io scope
 * ("docker.io/library/x" also as "registry-1.docker.io/x").
 */
static void cp_agree(const struct policy_index *idx, const struct cpol_model *m,
                     const struct cpol_rule *r, bool closed_ok)
{
	static const char *const tails[] = {"", "/fuzz", "/fuzz/app", "/library/fuzz"};
	char base[3][CPOL_MAX_SCOPE + 32], ref[3 * (CPOL_MAX_SCOPE + 32) + 16];
	size_t nb = 1;

	if (r->scope[0] == '*')
		snprintf(base[0], sizeof(base[0]), "x%s", r->scope + 1);
	else
		snprintf(base[0], sizeof(base[0]), "%s", r->scope);
	if (strncmp(r->scope, "docker.io", 9) == 0 && (r->scope[9] == '\0' || r->scope[9] == '/')) {
		snprintf(base[nb++], sizeof(base[0]), "registry-1.docker.io%s", r->scope + 9);
		if (strncmp(r->scope + 9, "/library/", 9) == 0)
			snprintf(base[nb++], sizeof(base[0]), "registry-1.docker.io/%s",
			         r->scope + 18);
	}
	for (size_t b = 0; b < nb; b++)
		for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
			snprintf(ref, sizeof(ref), "%s%s", base[b], tails[t]);
			cp_agree_ref(idx, m, ref, closed_ok);
		}
}

static void cp_check_text(const char *text, const struct cpol_model *m)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je), *docker, *v;
	const char *k;

	CP_CHECK(j != NULL);
	CP_CHECK(strcmp(json_string_value(json_object_get(
	                    json_array_get(json_object_get(j, "default"), 0), "type")),
	                "reject") == 0);
	docker = json_object_get(json_object_get(j, "transports"), "docker");
	CP_CHECK(json_is_object(docker));
	CP_CHECK(json_object_size(docker) == (m->docker_accept_all ? 1 : m->n_rules));
	json_object_foreach (docker, k, v)
		CP_CHECK(m->docker_accept_all || cpol_scope_ok(k));
	json_decref(j);
}

int fuzz_cpolicy(const uint8_t *d, size_t n)
{
	struct policy p;
	struct cpol_opts o;
	struct cpol_model m;
	struct policy_index *idx = NULL;
	struct rp_err e;
	char *text = NULL;
	size_t len = 0;
	bool none;

	if (n < 1 || n > 64 * 1024)
		return 0;
	memset(&p, 0, sizeof(p));
	p.org = strdup("fuzz");
	p.version = 1;
	p.expires_at = 1;
	p.allow_docker_hub = d[0] & 1;
	o.wildcard_scopes = (d[0] & 2) != 0;
	o.allow_when_no_policy = (d[0] & 4) != 0;
	none = (d[0] & 8) != 0;
	cp_split(d + 1, n - 1, &p);
	if (cpol_model_build(none ? NULL : &p, &o, &m, &e) != 0 ||
	    cpol_render(&m, &text, &len, &e) != 0)
		fuzz_fail("cpolicy", e.msg);
	CP_CHECK(strlen(text) == len);
	CP_CHECK(m.n_rules <= 3 * p.n_registries + 3);
	for (size_t i = 1; i < m.n_rules; i++)
		CP_CHECK(strcmp(m.rules[i - 1].scope, m.rules[i].scope) < 0);
	cp_check_text(text, &m);
	if (!none && policy_index_build(&p, &idx, &e) == 0) {
		/* an allow left out of the file (or an IPv6 one) can only deny more */
		bool closed_ok = m.omitted[CPOL_OMIT_WILDCARD] + m.omitted[CPOL_OMIT_TOO_LONG] +
		                     m.omitted[CPOL_OMIT_IPV6] >
		                 0;
		for (size_t i = 0; i < m.n_rules && i < 64; i++)
			cp_agree(idx, &m, &m.rules[i], closed_ok);
		policy_index_free(idx);
	}
	free(text);
	cpol_model_free(&m);
	policy_free(&p);
	return 0;
}
