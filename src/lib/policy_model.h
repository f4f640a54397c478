/* SPDX-License-Identifier: ISC */
/*
 * The in-memory form of a verified registry policy.  Produced by
 * policy_payload_parse() (src/core) from verified bytes only, written by
 * store_commit() and read back by store_load().
 */
#ifndef RAMPART_POLICY_MODEL_H
#define RAMPART_POLICY_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum policy_kind {
	POLICY_EXACT = 0,    /* "registry.example.com" (default port only) */
	POLICY_PORT = 1,     /* "registry.example.com:5000" */
	POLICY_WILDCARD = 2, /* "*.example.com": any subdomain, not the bare domain */
	POLICY_PREFIX = 3,   /* "quay.io/acme/" (schema 2): whole leading path components */
};

/* What a rule does when it decides (schema 2 adds deny rules). */
enum policy_action {
	POLICY_ALLOW = 0,
	POLICY_DENY = 1,
};

/* Enforced, or dry-run: a warn rule decides nothing, it only reports (schema 2). */
enum policy_mode {
	POLICY_ENFORCE = 0,
	POLICY_WARN = 1,
};

#define POLICY_MAX_REGISTRIES 10000
#define POLICY_MAX_HOST 253
#define POLICY_MAX_NICKNAME 128
#define POLICY_MAX_ORG 128
#define POLICY_MAX_RULE 512              /* bytes of a rule: host[:port]/path/ */
#define POLICY_MAX_COMPONENTS 64         /* path components of a repository rule */
#define POLICY_MAX_COMPANIONS 32         /* companion hosts of one rule */
#define POLICY_MAX_COMPANIONS_TOTAL 1024 /* companion hosts in one policy */
#define POLICY_MAX_COMPANION 259         /* bytes of "hostname:port" */
#define POLICY_SCHEMA_MIN 1
#define POLICY_SCHEMA_MAX 2 /* payload schema_version values this code reads */

/* One rule: an entry of "registries" (allow) or, in schema 2, of "deny". */
struct policy_registry {
	char *host;     /* as signed: "ghcr.io", "reg.x:5000", "*.corp.example", "quay.io/acme/" */
	char *nickname; /* may be "" */
	enum policy_kind kind;
	enum policy_action action;
	enum policy_mode mode;
	/* Schema 2, allow rules only: hosts the proxy also allows while this rule is in
	 * force ("auth.example.com", "blobs.example.com:8443"), as signed; never a
	 * registry (docs/policy.md, "Companion hosts"). */
	char **companions;
	size_t n_companions;
};

struct policy {
	char *org;
	int64_t version;    /* strictly increasing */
	int64_t issued_at;  /* unix seconds (payload carries RFC 3339 UTC) */
	int64_t expires_at; /* unix seconds */
	bool allow_docker_hub;
	int schema_version;  /* of the payload: 1 or 2 (0 is read as 1) */
	size_t n_registries; /* allow rules first, in signed order, then deny rules */
	struct policy_registry *registries;
};

/* Frees the members (not p itself) and zeroes it.  NULL-safe. */
void policy_free(struct policy *p);

#endif
