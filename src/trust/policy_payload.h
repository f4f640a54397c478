/* SPDX-License-Identifier: ISC */
/*
 * The signed policy payload (schema/policy.schema.json): parsing and
 * validation of verified bytes into struct policy.  Call only with the bytes
 * dsse_verify() returned.
 */
#ifndef RAMPART_POLICY_PAYLOAD_H
#define RAMPART_POLICY_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy_model.h"

#define POLICY_PAYLOAD_MAX (12u * 1024 * 1024) /* bytes of payload JSON */

/*
 * Parses and validates the payload.  On success fills p (free with
 * policy_free()); on failure p is empty and err is E_PAYLOAD with a message
 * naming the field and index, e.g.
 * `registries[17].host: "a..b" is not a hostname, host:port or *.domain (...)`.
 */
int policy_payload_parse(const void *buf, size_t len, struct policy *p, struct rp_err *err);

/*
 * Checks one registry host (NUL-terminated) and returns its kind, or -1 with
 * *why set to a static reason.  Accepted: lower-case hostname, hostname:port
 * (1-65535, no leading zero), or "*." followed by a hostname of at least two
 * labels whose last label is not a number.  At most POLICY_MAX_HOST bytes.
 */
int policy_payload_check_host(const char *host, enum policy_kind *kind, const char **why);

/*
 * Checks one companion host of a schema-2 allow rule: a lower-case hostname
 * of at least two labels, optionally ":port"; no wildcard, no IP literal, not
 * Docker Hub itself.  Returns 0, or -1 with *why a static reason.
 */
int policy_payload_check_companion(const char *s, const char **why);

/* The payload field of rule i of p: "registries[3]" or "deny[0]" (buf >= 48 bytes). */
void policy_payload_rule_name(const struct policy *p, size_t i, char *buf, size_t len);

/* Strict "YYYY-MM-DDTHH:MM:SSZ" (UTC, years 1970-9999) to unix seconds. */
int policy_payload_parse_time(const char *s, int64_t *out);

/* Formats unix seconds as "YYYY-MM-DDTHH:MM:SSZ" (buf >= 21 bytes). */
void policy_payload_format_time(int64_t t, char *buf, size_t len);

#endif
