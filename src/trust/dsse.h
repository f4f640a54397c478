/* SPDX-License-Identifier: ISC */
/*
 * DSSE envelopes (secure-systems-lab/dsse v1): strict parsing, threshold
 * verification against a trust set, and signing.  Only the payload bytes
 * returned by dsse_verify() may be parsed afterwards.
 */
#ifndef RAMPART_DSSE_H
#define RAMPART_DSSE_H

#include <stddef.h>

#include "err.h"
#include "keys.h"

#define DSSE_POLICY_TYPE "application/vnd.rampart.policy+json"

#define DSSE_MAX_ENVELOPE (16u * 1024 * 1024) /* bytes of envelope JSON */
#define DSSE_MAX_SIGNATURES 16
#define DSSE_MAX_TYPE 256  /* bytes of payloadType */
#define DSSE_MAX_KEYID 256 /* bytes of a keyid hint */
#define DSSE_MAX_SIG 512   /* decoded bytes of one signature */

struct dsse_sig {
	char *keyid; /* "" when absent; a hint only */
	unsigned char *sig;
	size_t sig_len;
};

struct dsse_envelope {
	char *payload_type;
	unsigned char *payload; /* decoded; NOT verified */
	size_t payload_len;
	struct dsse_sig sigs[DSSE_MAX_SIGNATURES];
	size_t n_sigs;
};

struct dsse_verified {
	unsigned char *payload; /* verified bytes (malloc'd, NUL-terminated extra) */
	size_t payload_len;
	/* keyids of the distinct trusted keys that verified, in trust-set order */
	char keyids[KEYS_MAX_TRUSTED][KEYS_KEYID_LEN + 1];
	size_t n_keyids;
};

/*
 * Parses an envelope (no signature check).  Errors: E_ENVELOPE naming the
 * field, e.g. "signatures[1].sig: not valid base64 (...)".  Unknown fields
 * are ignored, as the DSSE spec requires.
 */
int dsse_parse(const void *buf, size_t len, struct dsse_envelope *env, struct rp_err *err);
void dsse_envelope_free(struct dsse_envelope *env);

/* PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body. */
int dsse_pae(const char *type, const unsigned char *body, size_t body_len, unsigned char **out,
             size_t *out_len, struct rp_err *err);

/*
 * Parses buf, checks payloadType == expected_type (E_PAYLOAD_TYPE), and
 * requires t->threshold distinct keys of t to verify over the PAE
 * (E_SIGNATURE otherwise).  keyids are hints: the hinted key is tried first,
 * then every other trusted key; a key counts once however many signatures it
 * made.  On success fills out (free with dsse_verified_free).
 */
int dsse_verify(const void *buf, size_t len, const char *expected_type, const struct trust_set *t,
                struct dsse_verified *out, struct rp_err *err);
void dsse_verified_free(struct dsse_verified *v);

/*
 * Signs payload with each private key (1..DSSE_MAX_SIGNATURES distinct keys)
 * and returns the envelope as a NUL-terminated JSON text in *out_json (free()).
 */
int dsse_sign(const void *payload, size_t len, const char *payload_type, const struct rp_key *keys,
              size_t n_keys, char **out_json, struct rp_err *err);

/*
 * Strict base64: the standard or the URL-safe alphabet (not both in one
 * string), padding either correct or absent, no whitespace, unused trailing
 * bits zero.  *out is malloc'd (NUL-terminated extra).  On failure returns
 * -1 and sets *why to a static reason.
 */
int dsse_b64_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len,
                    const char **why);
/* Standard alphabet with padding; malloc'd NUL-terminated string or NULL. */
char *dsse_b64_encode(const unsigned char *in, size_t len);

#endif
