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

enum refresh_outcome {
	REFRESH_UPDATED = 0,
	REFRESH_UNCHANGED = 1, /* same version as stored (or HTTP 304) */
	REFRESH_REFUSED = 2,   /* a check failed: last good policy kept */
	REFRESH_FAILED = 3,    /* fetch or store failed: last good policy kept */
};

struct refresh_in {
	const unsigned char *envelope;
	size_t len;
	size_t max_bytes;
	const struct trust_set *trust;
	const char *org;     /* configured org: the payload must name it */
	int64_t now;         /* read once at the start of the update */
	const char *db_path;
	const char *source;  /* URL, or "" */
	const char *etag;    /* stored only if this policy is committed */
};

struct refresh_out {
	enum refresh_outcome outcome;
	int64_t old_version; /* 0 when nothing was stored */
	int64_t new_version; /* version offered (0 if it never got that far) */
	size_t n_registries;
	char message[700];   /* "updated 41 -> 42", "refused: rollback 40 < 41; keeping 41" */
};

/* 0 updated/unchanged; -1 refused/failed (err has the code, out->message the sentence). */
int refresh_apply(const struct refresh_in *in, struct refresh_out *out, struct rp_err *err);

const char *refresh_outcome_name(enum refresh_outcome o);

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

#endif
