/* SPDX-License-Identifier: ISC */
/*
 * The signed root (TUF's root role, specification section 5.3): a DSSE
 * document of its own payloadType naming the root keys and the policy keys,
 * each with a threshold.  A machine pins its first root; root N+1 is trusted
 * only when signed by a threshold of root N's root keys and a threshold of
 * its own, with version exactly N+1.  The policy is then verified against
 * the newest root's policy keys, so rotating them revokes the old ones.
 */
#ifndef RAMPART_ROOT_H
#define RAMPART_ROOT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"
#include "store.h"

#define ROOT_TYPE "application/vnd.rampart.root+json"
#define ROOT_MAX_BYTES STORE_MAX_ROOT_BYTES /* one root envelope, enforced while fetching */
#define ROOT_DEFAULT_MAX_NEW 32             /* new roots accepted in one refresh */

struct root {
	int64_t version;
	int64_t expires_at;
	char org[129];
	struct trust_set root_keys;   /* with their threshold */
	struct trust_set policy_keys; /* with their threshold */
	char sha256[65];              /* of the envelope bytes */
};

void root_free(struct root *r);

/*
 * Parses and validates a root payload (verified bytes only): fields
 * version (>= 1), expires_at, org, root_keys, root_threshold, policy_keys,
 * policy_threshold; keys are PEM public keys; unknown fields, duplicate keys
 * and thresholds out of range are refused (E_ROOT).
 */
int root_parse_payload(const void *buf, size_t len, struct root *r, struct rp_err *err);

/*
 * The first trusted root, from its envelope: the sha256 of the bytes must
 * equal want_sha256 when given, it must be signed by a threshold of its own
 * root keys, and name org.  E_ROOT_PIN, E_ROOT_SIGNATURE, E_ROOT, E_ORG.
 */
int root_trust_first(const void *env, size_t len, const char *want_sha256, const char *org,
                     struct root *out, struct rp_err *err);

/*
 * Root N+1 from trusted root N (TUF 5.3.3-5.3.5): threshold of N's root keys,
 * threshold of its own root keys, version exactly N+1, same org.  Expiry is
 * not checked here (only the newest root's, after the walk).  Errors:
 * E_ROOT_TOO_BIG, E_ROOT_SIGNATURE (naming which set fell short), E_ROOT,
 * E_ROOT_VERSION, E_ORG.
 */
int root_verify_next(const struct root *trusted, const void *env, size_t len, struct root *out,
                     struct rp_err *err);

/* Fetches root `version`: 0 and *buf (malloc'd), 1 not found (end of chain), -1 error. */
typedef int (*root_fetch_fn)(void *arg, int64_t version, unsigned char **buf, size_t *len,
                             struct rp_err *err);

/* The trusted chain: the newest root and every envelope from the first on. */
struct root_chain {
	struct root cur;
	struct store_root *raw; /* oldest first; raw[0] is the pinned first root */
	size_t n;
	size_t n_new; /* accepted by the last root_walk */
};

void root_chain_free(struct root_chain *c);

/*
 * Rebuilds the chain from the pinned first root (its envelope, or NULL to
 * take stored[0] and check it against want_sha256) and the stored envelopes,
 * re-verifying every step.  A stored chain that does not start at the pin
 * (the pin was changed) is dropped and the chain restarts at the pin.
 * fetch (may be NULL) is used for version 1 when only a sha256 is pinned and
 * nothing is stored.
 */
int root_chain_load(const void *pinned, size_t pinned_len, const char *want_sha256, const char *org,
                    const struct store_root *stored, size_t n_stored, root_fetch_fn fetch,
                    void *arg, struct root_chain *out, struct rp_err *err);

/*
 * Walks N+1, N+2, ... until fetch says not found, at most max_new new roots
 * (more: E_ROOT_CHAIN), then checks the newest root has not expired
 * (E_ROOT_EXPIRED).  On any failure *c is left exactly as it was.
 */
int root_walk(struct root_chain *c, root_fetch_fn fetch, void *arg, size_t max_new, int64_t now,
              struct rp_err *err);

#endif
