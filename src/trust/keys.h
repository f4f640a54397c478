/* SPDX-License-Identifier: ISC */
/*
 * Signing keys for DSSE: Ed25519 and ECDSA P-256 only.  Public keys come from
 * PEM SubjectPublicKeyInfo files, private keys from PEM (PKCS#8 or SEC1);
 * a key's id is the lowercase hex SHA-256 of its DER SPKI.  A trust set is a
 * list of distinct public keys plus a threshold (1 <= threshold <= keys).
 */
#ifndef RAMPART_KEYS_H
#define RAMPART_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/types.h>

#include "err.h"

#define KEYS_MAX_TRUSTED 16
#define KEYS_KEYID_LEN 64         /* hex characters, without the NUL */
#define KEYS_MAX_FILE (64 * 1024) /* a PEM key file is never larger */
#define KEYS_CHECK_OWNER                                                                           \
	0x1 /* refuse a key file, or the directory holding                                         \
	     * it, not owned by root or writable by                                                \
	     * group/other */

enum key_alg {
	KEY_ED25519 = 1,
	KEY_ECDSA_P256 = 2,
};

struct rp_key {
	EVP_PKEY *pkey;
	enum key_alg alg;
	bool is_private;
	char keyid[KEYS_KEYID_LEN + 1];
	char source[256]; /* file name (or label) for messages */
};

struct trust_set {
	struct rp_key keys[KEYS_MAX_TRUSTED];
	size_t n_keys;
	int threshold; /* 0 until keys_trust_set_threshold() */
};

/*
 * Loads one public key from a PEM file holding exactly one "PUBLIC KEY"
 * block.  Errors (E_KEY_FILE, E_KEY_TYPE, E_KEY_PERM) name the file.
 */
int keys_load_public(struct rp_key *k, const char *path, unsigned flags, struct rp_err *err);
/* The same from memory; name is used in messages. */
int keys_load_public_mem(struct rp_key *k, const void *pem, size_t len, const char *name,
                         struct rp_err *err);
/* Loads a PEM private key (may prompt for a passphrase on the terminal). */
int keys_load_private(struct rp_key *k, const char *path, struct rp_err *err);
/*
 * Wraps an existing EVP_PKEY (takes its own reference; the caller keeps
 * theirs).  Checks type/curve and computes the keyid.  Used by tests.
 */
int keys_from_pkey(struct rp_key *k, EVP_PKEY *pkey, bool is_private, const char *name,
                   struct rp_err *err);
void keys_free(struct rp_key *k);

/* keyid of any supported key (public part): 64 lowercase hex chars + NUL. */
int keys_keyid(EVP_PKEY *pkey, char out[KEYS_KEYID_LEN + 1], struct rp_err *err);
const char *keys_alg_name(enum key_alg alg);

/*
 * 1 if sig is a valid signature by k over msg, else 0.  Ed25519: 64-byte
 * signature.  ECDSA P-256 with SHA-256: DER (strict encoding) or raw r||s
 * (64 bytes).
 */
int keys_verify(const struct rp_key *k, const unsigned char *msg, size_t msg_len,
                const unsigned char *sig, size_t sig_len);
/* Signs msg: Ed25519 gives 64 raw bytes, ECDSA gives DER.  *sig is malloc'd. */
int keys_sign(const struct rp_key *k, const unsigned char *msg, size_t msg_len, unsigned char **sig,
              size_t *sig_len, struct rp_err *err);

void keys_trust_init(struct trust_set *t);
/* Adds a public key file; a key already in the set is refused (E_TRUST). */
int keys_trust_add_file(struct trust_set *t, const char *path, unsigned flags, struct rp_err *err);
/* Adds every "*.pem" and "*.pub" file in dir (sorted by name, dot-files skipped). */
int keys_trust_add_dir(struct trust_set *t, const char *dir, unsigned flags, struct rp_err *err);
/* Adds a key already loaded (public part only is used; takes a reference). */
int keys_trust_add_key(struct trust_set *t, const struct rp_key *k, struct rp_err *err);
/* 1 <= threshold <= number of keys, else E_TRUST. */
int keys_trust_set_threshold(struct trust_set *t, int threshold, struct rp_err *err);
/* Index of the key with this keyid, or -1. */
int keys_trust_find(const struct trust_set *t, const char *keyid);
void keys_trust_free(struct trust_set *t);

#endif
