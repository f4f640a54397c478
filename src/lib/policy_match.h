/* SPDX-License-Identifier: ISC */
/*
 * Policy decisions: an index built once from a verified struct policy, then
 * checks that cost O(labels in the host + components in the path), not
 * O(entries).  Shared by rampartd (policy.check) and librampart.
 */
#ifndef RAMPART_POLICY_MATCH_H
#define RAMPART_POLICY_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rampart/policy.h>

#include "err.h"
#include "policy_model.h"
#include "reference.h"

#define POLICY_HUB_RULE "docker.io (allow_docker_hub)"

struct policy_index;

/*
 * Builds an index of p's entries (p is not referenced afterwards).  Entries
 * that are not a valid "host", "host:port", "*.domain" or "host[:port]/path/"
 * are skipped and counted, never matched (the payload validator refuses them
 * before anything is stored, so this only guards the reader).  A duplicate
 * (same canonical key, action and mode) keeps the first.  Returns 0 and
 * *out, or -1 (E_NOMEM).
 */
int policy_index_build(const struct policy *p, struct policy_index **out, struct rp_err *err);

void policy_index_free(struct policy_index *idx);

/* The forms of a policy entry, as the matcher reads it (see policy_entry_canon). */
enum policy_entry_form {
	POLICY_FORM_BAD = -1,     /* not an entry the matcher can use: never matches */
	POLICY_FORM_HOST = 0,     /* "host" or "host:port"; key is the canonical host[:port] */
	POLICY_FORM_WILDCARD = 1, /* "*.domain"; key is "domain" */
	POLICY_FORM_PREFIX = 2,   /* "host[:port]/path/"; key is "host[:port]/path/" */
};

/*
 * Canonicalises one policy entry exactly as policy_index_build does
 * (lower-case, numeric port, RFC 5952 IPv6, Hub aliases without a port folded
 * to docker.io) into key (RAMPART_RULE_MAX bytes).  For other modules that
 * must agree with the matcher, e.g. the containers policy.json compiler.
 */
enum policy_entry_form policy_entry_canon(const char *host, char *key, size_t size);

/* Number of entries policy_index_build ignored as invalid. */
size_t policy_index_skipped(const struct policy_index *idx);

/* Metadata copied from the policy the index was built from. */
int64_t policy_index_version(const struct policy_index *idx);
int64_t policy_index_issued_at(const struct policy_index *idx);
int64_t policy_index_expires_at(const struct policy_index *idx);
bool policy_index_allow_docker_hub(const struct policy_index *idx);
size_t policy_index_entries(const struct policy_index *idx);
const char *policy_index_org(const struct policy_index *idx);
size_t policy_index_deny(const struct policy_index *idx); /* deny rules */
size_t policy_index_warn(const struct policy_index *idx); /* rules in mode warn */
int policy_index_schema(const struct policy_index *idx);  /* payload schema_version */

/*
 * Canonical key of a rule, as the matcher indexes it ("e ghcr.io",
 * "w corp.example", "p docker.io/library/"): two rules with the same key
 * match exactly the same references.  -1 for an entry the matcher skips.
 */
int policy_rule_key(const char *rule, char *key, size_t size);

/*
 * Calls fn(arg, entry, message) for every rule that can never change a
 * decision: a rule whose nearest less specific enforcing rule already does
 * the same, or a deny that nothing less specific allows.  rampart-sign
 * prints these as warnings; they are not errors (the policy means the same
 * with or without them).  entry indexes the struct policy the index was
 * built from.
 */
typedef void (*policy_lint_fn)(void *arg, size_t entry, const char *message);
void policy_lint(const struct policy_index *idx, policy_lint_fn fn, void *arg);

/* Docker Hub's companion hosts (NULL-terminated), allowed with allow_docker_hub;
 * versioned as RAMPART_HUB_COMPANIONS_VERSION (docs/policy.md). */
extern const char *const policy_hub_companions[];

/*
 * The companion answer for host (lower-cased here) on port, default_port the
 * scheme's (see rampart_policy_companion).  idx NULL: no policy, never
 * allowed.  Returns 0, or -1 for bad arguments (out->code "E_INVAL").
 */
int policy_companion(const struct policy_index *idx, const char *host, unsigned port,
                     unsigned default_port, struct rampart_companion *out);

/*
 * Calls fn(arg, entry, companion, message) for each companion that changes
 * nothing (a rule already allows that host) or can never be allowed (a deny
 * rule matches that host, or an enforced deny overrides its rule).
 * rampart-sign prints these as warnings.
 */
typedef void (*policy_comp_lint_fn)(void *arg, size_t entry, const char *companion,
                                    const char *message);
void policy_companion_lint(const struct policy_index *idx, const struct policy *p,
                           policy_comp_lint_fn fn, void *arg);

/* Companion entries of the index (signed ones and Docker Hub's when allowed). */
size_t policy_index_companions(const struct policy_index *idx);

/*
 * Decides for an already-normalised reference.  idx NULL means no policy is
 * cached: allow_when_no_policy then decides.  now is unix seconds (an
 * expired policy is still enforced and flagged).  Never fails.
 */
void policy_decide(const struct policy_index *idx, bool allow_when_no_policy,
                   const struct ref_parsed *ref, int64_t now, struct rampart_decision *out);

/*
 * Normalises ref and decides.  Returns 0 when decided, -1 for an invalid
 * reference (out->code "E_REF", out->reason says why, out->allowed false).
 * Reentrant: idx is only read.
 */
int policy_check(const struct policy_index *idx, bool allow_when_no_policy, const char *ref,
                 int64_t now, struct rampart_decision *out);

#endif
