/* SPDX-License-Identifier: ISC */
/*
 * Accepting a signed policy: the checks of DESIGN.md "Signed policy" in
 * order, then the atomic store.  Also the offline audit of a stored policy
 * (`rampart policy verify`).  Shared by the daemon, the CLI and benchmarks.
 */
#ifndef RAMPART_REFRESH_H
#define RAMPART_REFRESH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"
#include "root.h"

enum refresh_outcome {
	REFRESH_UPDATED = 0,
	REFRESH_UNCHANGED = 1, /* same version as stored (or HTTP 304) */
	REFRESH_REFUSED = 2,   /* a check failed: last good policy kept */
	REFRESH_FAILED = 3,    /* fetch or store failed: last good policy kept */
};

/* A policy issued later than now + this is refused (clocks differ a little). */
#define REFRESH_MAX_SKEW_S 300

/* The signed root, when configured (policy.root or policy.root_sha256). */
struct refresh_root {
	const unsigned char *pinned; /* the pinned first root's envelope, or NULL (sha256 pin) */
	size_t pinned_len;
	const char *pinned_sha256; /* "" or NULL when pinned by file only */
	root_fetch_fn fetch;       /* N.root.json, in the unprivileged fetch sandbox */
	void *fetch_arg;
	size_t max_new; /* policy.max_root_rotations */
};

struct refresh_in {
	const unsigned char *envelope; /* NULL with a root: the policy was not modified (304) */
	size_t len;
	size_t max_bytes;
	const struct trust_set *trust;   /* policy.keys; ignored when root is set */
	const struct refresh_root *root; /* NULL: no root, trust decides */
	const char *org;                 /* configured org: the payload must name it */
	int64_t now;                     /* read once at the start of the update */
	const char *db_path;
	const char *source; /* URL, or "" */
	const char *etag;   /* stored only if this policy is committed */
};

struct refresh_out {
	enum refresh_outcome outcome;
	int64_t old_version; /* 0 when nothing was stored */
	int64_t new_version; /* version offered (0 if it never got that far) */
	size_t n_registries;
	char message[700]; /* "updated 41 -> 42", "refused: rollback 40 < 41; keeping 41" */
	/* With a root: */
	int64_t root_version; /* the newest trusted root after this refresh; 0 without */
	size_t roots_new;     /* roots accepted (and stored) by this refresh */
	int stored_untrusted; /* the stored policy does not verify against the newest root's
	                         policy keys: still enforced until a valid one arrives */
};

/* 0 updated/unchanged; -1 refused/failed (err has the code, out->message the sentence). */
int refresh_apply(const struct refresh_in *in, struct refresh_out *out, struct rp_err *err);

const char *refresh_outcome_name(enum refresh_outcome o);

/*
 * What to do about a refusal or failure with this code (the message says
 * what went wrong), or NULL.  The one table of fixes: refusals append it as
 * "; to fix: ...", which `rampart --json` reports as error.hint.
 */
const char *refresh_hint(const char *code);

struct policy;
/*
 * The payload checks of refresh_apply(), in its order, on verified bytes: the
 * payload rules (policy_payload_parse), the org (skipped when org is NULL)
 * and expiry at now.  rampart-sign calls it too, so an author cannot sign
 * what every machine would refuse.  0, or -1 with err (E_PAYLOAD, E_ORG,
 * E_EXPIRED); p is filled whenever the payload parsed (free it with
 * policy_free() either way).
 */
int refresh_check_payload(const void *payload, size_t len, const char *org, int64_t now,
                          struct policy *p, struct rp_err *err);

struct verify_report {
	int64_t version;
	char org[129];
	char signers[(KEYS_KEYID_LEN + 1) * KEYS_MAX_TRUSTED];
	size_t n_registries;
	int64_t fetched_at, expires_at;
	int expired;
};

/*
 * Re-verifies a stored policy offline: file and directory owned by root and
 * not writable by others, the raw envelope verifies against trust, its
 * payload's sha256 matches the meta, and every table row matches the signed
 * payload (nothing added, removed or changed).  0 ok, -1 with err.
 */
int refresh_verify_store(const char *db_path, const struct trust_set *trust, int64_t now,
                         struct verify_report *rep, struct rp_err *err);

/*
 * The same, proving the policy from a pinned first root alone (its envelope
 * bytes): the stored root chain must follow from it step by step, and the
 * policy must verify against the newest root's policy keys.  rep gets the
 * root version in *root_version.
 */
int refresh_verify_store_root(const char *db_path, const void *pinned, size_t pinned_len,
                              const char *org, int64_t now, struct verify_report *rep,
                              int64_t *root_version, struct rp_err *err);

#endif
