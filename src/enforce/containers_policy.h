/* SPDX-License-Identifier: ISC */
/*
 * The containers/image policy.json compiler (podman, skopeo, buildah, cri-o).
 * Pure: a verified struct policy in, a rule list (the model), JSON text out;
 * no file, no clock, no global state.  docs/enforcement.md says how every
 * rule form maps and where the two matchers differ (the mapping then fails
 * closed).
 */
#ifndef RAMPART_CONTAINERS_POLICY_H
#define RAMPART_CONTAINERS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy_model.h"

/*
 * What a scope does.  containers/image uses the most specific matching scope,
 * so a deny exception inside an allowed namespace is a more specific REJECT
 * scope: policy v2 deny rules in mode enforce map to CPOL_REJECT, rules in
 * mode warn are not written (they decide nothing in rampart either).
 */
enum cpol_action {
	CPOL_ALLOW = 0,  /* [{"type": "insecureAcceptAnything"}] */
	CPOL_REJECT = 1, /* [{"type": "reject"}] */
};

#define CPOL_MAX_SCOPE 300 /* host[:port]/path: more is never emitted */

struct cpol_rule {
	char *scope; /* a transports.docker key, e.g. "ghcr.io", "*.corp.example" */
	enum cpol_action action;
	size_t entry; /* index of the policy entry it came from; SIZE_MAX: allow_docker_hub
	               * or a derived registry-1.docker.io scope */
};

/* Why an entry was not written (each fails closed: the engine denies it). */
enum cpol_omit {
	CPOL_OMIT_INVALID = 0,  /* the matcher skips it too */
	CPOL_OMIT_IPV6 = 1,     /* containers/image cannot parse IPv6 references */
	CPOL_OMIT_WILDCARD = 2, /* enforce.wildcard_scopes is false */
	CPOL_OMIT_TOO_LONG = 3, /* longer than CPOL_MAX_SCOPE */
	CPOL_OMIT_WARN = 4,     /* mode warn: decides nothing, in rampart as in the engine */
	CPOL_OMIT_N = 5,
};

struct cpol_opts {
	bool wildcard_scopes;      /* write "*.domain" scopes (they also match any port) */
	bool allow_when_no_policy; /* no policy cached: allow every docker pull */
};

struct cpol_model {
	bool have_policy;
	int64_t version;         /* 0 when none */
	struct cpol_rule *rules; /* sorted by scope, one per scope */
	size_t n_rules, cap_rules;
	size_t omitted[CPOL_OMIT_N];
	bool docker_accept_all; /* no policy and allow_when_no_policy: docker "" scope */
};

/*
 * Builds the rule list for p (NULL: no policy cached).  Scopes are sorted
 * and unique; when one scope is both allowed and rejected, reject wins.
 * Scopes for the registry-1.docker.io alias are derived from the docker.io
 * ones (docs/enforcement.md says how, and where that fails closed).
 * Returns 0, or -1 with E_NOMEM.
 */
int cpol_model_build(const struct policy *p, const struct cpol_opts *o, struct cpol_model *m,
                     struct rp_err *err);

/* Frees what cpol_model_build allocated and zeroes m.  NULL-safe. */
void cpol_model_free(struct cpol_model *m);

/*
 * What containers/image decides for a docker reference whose name (no tag or
 * digest) it normalised to name ("docker.io/library/alpine", "reg:5000/a"),
 * given the file m renders: the first scope found among the name, its parent
 * namespaces, the host with port, then "*.domain" wildcards of the host
 * without port (signature/policy_eval.go requirementsForImageRef and
 * docker/policyconfiguration DockerReferenceNamespaces), else the default,
 * reject.  A name over 255 bytes is one containers/image cannot parse:
 * reject.  For the tests and the fuzzer, which compare it with the matcher.
 */
enum cpol_action cpol_model_lookup(const struct cpol_model *m, const char *name);

/* Rules with the given action. */
size_t cpol_model_count(const struct cpol_model *m, enum cpol_action a);

/*
 * Renders the model as policy.json text: default reject, one docker scope per
 * rule, the local transports accepted.  Deterministic: the same model gives
 * the same bytes.  *out is malloc'd and NUL-terminated.  0 or -1 (E_NOMEM).
 */
int cpol_render(const struct cpol_model *m, char **out, size_t *len, struct rp_err *err);

/*
 * 1 if s is a scope the compiler may write: lower-case host labels or a
 * dotted quad, optional ":port", optional "/path" components, or "*.domain".
 * Only such text reaches the file, so nothing needs escaping.
 */
int cpol_scope_ok(const char *s);

/* The local transports written with insecureAcceptAnything, NULL-terminated. */
extern const char *const cpol_local_transports[];

#endif
