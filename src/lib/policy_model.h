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
};

#define POLICY_MAX_REGISTRIES 10000
#define POLICY_MAX_HOST 253
#define POLICY_MAX_NICKNAME 128
#define POLICY_MAX_ORG 128

struct policy_registry {
	char *host;     /* as signed, lower-cased: "ghcr.io", "reg.x:5000", "*.corp.example" */
	char *nickname; /* may be "" */
	enum policy_kind kind;
};

struct policy {
	char *org;
	int64_t version;    /* strictly increasing */
	int64_t issued_at;  /* unix seconds (payload carries RFC 3339 UTC) */
	int64_t expires_at; /* unix seconds */
	bool allow_docker_hub;
	size_t n_registries;
	struct policy_registry *registries;
};

/* Frees the members (not p itself) and zeroes it.  NULL-safe. */
void policy_free(struct policy *p);

#endif
