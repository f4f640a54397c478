/* SPDX-License-Identifier: ISC */
/*
 * Loads Ed25519 and ECDSA P-256 keys from PEM, computes keyids, and signs and
 * verifies single signatures; also holds the trust set (keys + threshold).
 * Key files are read by path from the root-owned configuration; with
 * KEYS_CHECK_OWNER they must also be root-owned and not group/other-writable.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keys.h"

/* The only SPKI encodings accepted: named-curve P-256 with an uncompressed point, and Ed25519. */
static const unsigned char spki_p256_prefix[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
};
static const unsigned char spki_ed25519_prefix[] = {
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
};

const char *keys_alg_name(enum key_alg alg)
{
	switch (alg) {
	case KEY_ED25519:
		return "Ed25519";
	case KEY_ECDSA_P256:
		return "ECDSA P-256";
	}
	return "unknown";
}

/* Last OpenSSL error as text (for messages), and clears the queue. */
static const char *keys_ssl_error(void)
{
	static _Thread_local char buf[160];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		rp_strlcpy(buf, "no detail from OpenSSL", sizeof(buf));
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

static int keys_classify(EVP_PKEY *pkey, const char *name, enum key_alg *alg, struct rp_err *err)
{
	char group[80];
	size_t glen = 0;
	const char *tname;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_ED25519:
		*alg = KEY_ED25519;
		return 0;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), &glen) != 1) {
			ERR_clear_error();
			return rp_seterr(err, "E_KEY_TYPE",
			                 "key %s is an EC key with explicit curve parameters; only "
			                 "the named curve P-256 (prime256v1) is supported",
			                 name);
		}
		if (OBJ_sn2nid(group) != NID_X9_62_prime256v1)
			return rp_seterr(err, "E_KEY_TYPE",
			                 "key %s uses the curve %s; only ECDSA P-256 (prime256v1) "
			                 "and Ed25519 keys are supported",
			                 name, group);
		*alg = KEY_ECDSA_P256;
		return 0;
	default:
		tname = EVP_PKEY_get0_type_name(pkey);
		return rp_seterr(err, "E_KEY_TYPE",
		                 "key %s has the type %s; only Ed25519 and ECDSA P-256 keys are "
		                 "supported",
		                 name, tname != NULL ? tname : "(unknown)");
	}
}

static int keys_spki_canonical(const unsigned char *der, int n)
{
	if (n == 91 && memcmp(der, spki_p256_prefix, sizeof(spki_p256_prefix)) == 0)
		return 1;
	if (n == 44 && memcmp(der, spki_ed25519_prefix, sizeof(spki_ed25519_prefix)) == 0)
		return 1;
	return 0;
}

int keys_keyid(EVP_PKEY *pkey, char out[KEYS_KEYID_LEN + 1], struct rp_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n, ret = -1;

	out[0] = '\0';
	n = i2d_PUBKEY(pkey, &der);
	if (n <= 0) {
		rp_seterr(err, "E_KEY_TYPE", "cannot encode the public key: %s", keys_ssl_error());
		goto out;
	}
	if (!keys_spki_canonical(der, n)) {
		rp_seterr(
		    err, "E_KEY_TYPE",
		    "public key is not in the standard SubjectPublicKeyInfo form (Ed25519, or "
		    "P-256 as a named curve with an uncompressed point)");
		goto out;
	}
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		rp_seterr(err, "E_KEY_TYPE", "SHA-256 failed: %s", keys_ssl_error());
		goto out;
	}
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[KEYS_KEYID_LEN] = '\0';
	ret = 0;
out:
	OPENSSL_free(der);
	return ret;
}

int keys_from_pkey(struct rp_key *k, EVP_PKEY *pkey, bool is_private, const char *name,
                   struct rp_err *err)
{
	memset(k, 0, sizeof(*k));
	if (keys_classify(pkey, name, &k->alg, err) < 0)
		return -1;
	if (keys_keyid(pkey, k->keyid, err) < 0) {
		char msg[sizeof(err->msg)];

		if (err != NULL) {
			rp_strlcpy(msg, err->msg, sizeof(msg));
			rp_seterr(err, err->code, "key %s: %s", name, msg);
		}
		return -1;
	}
	if (EVP_PKEY_up_ref(pkey) != 1)
		return rp_seterr(err, "E_NOMEM", "out of memory loading key %s", name);
	k->pkey = pkey;
	k->is_private = is_private;
	rp_strlcpy(k->source, name, sizeof(k->source));
	return 0;
}

void keys_free(struct rp_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

static int keys_perm_bad(const struct stat *st)
{
	return st->st_uid != 0 || (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* Reads a whole key file (at most KEYS_MAX_FILE bytes) relative to dirfd. */
static int keys_read(int dirfd, const char *path, const char *label, unsigned flags, char **buf,
                     size_t *len, struct rp_err *err)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, ret = -1;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rp_seterr(err, "E_KEY_FILE", "cannot open key file %s: %s", label, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rp_seterr(err, "E_KEY_FILE", "key file %s is not a regular file", label);
		goto out;
	}
	if ((flags & KEYS_CHECK_OWNER) && keys_perm_bad(&st)) {
		rp_seterr(
		    err, "E_KEY_PERM",
		    "key file %s must be owned by root and not writable by group or others "
		    "(it has uid %u, mode %04o); the key was not loaded. Fix with: chown root "
		    "%s && chmod go-w %s",
		    label, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), label, label);
		goto out;
	}
	if ((b = malloc(KEYS_MAX_FILE + 1)) == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory reading %s", label);
		goto out;
	}
	while (n <= KEYS_MAX_FILE && (r = read(fd, b + n, KEYS_MAX_FILE + 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rp_seterr(err, "E_KEY_FILE", "cannot read %s: %s", label, strerror(errno));
			goto out;
		}
		n += (size_t)r;
	}
	if (n > KEYS_MAX_FILE) {
		rp_seterr(err, "E_KEY_FILE", "key file %s is larger than %d bytes", label,
		          KEYS_MAX_FILE);
		goto out;
	}
	*buf = b;
	*len = n;
	b = NULL;
	ret = 0;
out:
	free(b);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int keys_count(const char *s, size_t len, const char *needle)
{
	size_t nl = strlen(needle);
	int c = 0;
	const char *p = s, *end = s + len, *q;

	while (p < end && (q = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
		c++;
		p = q + nl;
	}
	return c;
}

int keys_load_public_mem(struct rp_key *k, const void *pem, size_t len, const char *name,
                         struct rp_err *err)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	int blocks, ret = -1;

	memset(k, 0, sizeof(*k));
	if (keys_count(pem, len, "PRIVATE KEY-----") > 0) {
		rp_seterr(err, "E_KEY_FILE",
		          "%s holds a private key; a trusted key file must hold only the public "
		          "key (make one with: openssl pkey -in KEY -pubout -out KEY.pub)",
		          name);
		goto out;
	}
	blocks = keys_count(pem, len, "-----BEGIN ");
	if (blocks != 1) {
		if (blocks == 0)
			rp_seterr(err, "E_KEY_FILE", "%s is not a PEM file (no -----BEGIN line)",
			          name);
		else
			rp_seterr(err, "E_KEY_FILE",
			          "%s holds %d PEM blocks; put exactly one "
			          "public key in each file",
			          name, blocks);
		goto out;
	}
	if (len > KEYS_MAX_FILE || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		rp_seterr(err, "E_KEY_FILE", "%s is too large or out of memory", name);
		goto out;
	}
	if ((pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		rp_seterr(err, "E_KEY_FILE",
		          "%s is not a PEM public key (expected -----BEGIN PUBLIC KEY-----): %s",
		          name, keys_ssl_error());
		goto out;
	}
	ret = keys_from_pkey(k, pkey, false, name, err);
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return ret;
}

static int keys_load_public_at(struct rp_key *k, int dirfd, const char *path, const char *label,
                               unsigned flags, struct rp_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	memset(k, 0, sizeof(*k));
	if (keys_read(dirfd, path, label, flags, &buf, &len, err) < 0)
		return -1;
	ret = keys_load_public_mem(k, buf, len, label, err);
	free(buf);
	return ret;
}

/* With KEYS_CHECK_OWNER: whoever can write the directory can replace the key. */
static int keys_check_parent(const char *path, struct rp_err *err)
{
	char dir[4096];
	struct stat st;

	if (rp_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return rp_seterr(err, "E_KEY_FILE", "key file name %.100s... is too long", path);
	if (stat(dirname(dir), &st) < 0)
		return rp_seterr(err, "E_KEY_FILE", "cannot check the directory of %s: %s", path,
		                 strerror(errno));
	if (keys_perm_bad(&st))
		return rp_seterr(err, "E_KEY_PERM",
		                 "the directory %s holding key file %s must be owned by root and "
		                 "not writable by group or others (anyone who can write it can "
		                 "replace the key); the key was not loaded",
		                 dir, path);
	return 0;
}

int keys_load_public(struct rp_key *k, const char *path, unsigned flags, struct rp_err *err)
{
	memset(k, 0, sizeof(*k));
	if ((flags & KEYS_CHECK_OWNER) && keys_check_parent(path, err) < 0)
		return -1;
	return keys_load_public_at(k, AT_FDCWD, path, path, flags, err);
}

int keys_load_private(struct rp_key *k, const char *path, struct rp_err *err)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	char *buf = NULL;
	size_t len = 0;
	int ret = -1;

	memset(k, 0, sizeof(*k));
	if (keys_read(AT_FDCWD, path, path, 0, &buf, &len, err) < 0)
		goto out;
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory reading %s", path);
		goto out;
	}
	if ((pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		rp_seterr(err, "E_KEY_FILE",
		          "%s is not a PEM private key (or the passphrase is "
		          "wrong): %s",
		          path, keys_ssl_error());
		goto out;
	}
	ret = keys_from_pkey(k, pkey, true, path, err);
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	return ret;
}

static int keys_verify_md(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *msg,
                          size_t msg_len, const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = 0;

	if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1)
		ok = 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* 1 if sig is exactly one DER ECDSA-Sig-Value in its canonical encoding. */
static int keys_der_strict(const unsigned char *sig, size_t sig_len)
{
	const unsigned char *p = sig;
	unsigned char *re = NULL;
	ECDSA_SIG *s;
	int n, ok = 0;

	if (sig_len < 8 || sig_len > 72)
		return 0;
	if ((s = d2i_ECDSA_SIG(NULL, &p, (long)sig_len)) == NULL)
		goto out;
	if (p != sig + sig_len)
		goto out;
	n = i2d_ECDSA_SIG(s, &re);
	ok = n > 0 && (size_t)n == sig_len && memcmp(re, sig, sig_len) == 0;
out:
	OPENSSL_free(re);
	ECDSA_SIG_free(s);
	ERR_clear_error();
	return ok;
}

/* Converts raw r||s (64 bytes) to DER; returns the DER length or -1. */
static int keys_raw_to_der(const unsigned char *sig, unsigned char **der)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
	int n = -1;

	if (s == NULL || r == NULL || ss == NULL || ECDSA_SIG_set0(s, r, ss) != 1)
		goto out;
	r = ss = NULL; /* owned by s now */
	n = i2d_ECDSA_SIG(s, der);
out:
	BN_free(r);
	BN_free(ss);
	ECDSA_SIG_free(s);
	ERR_clear_error();
	return n;
}

int keys_verify(const struct rp_key *k, const unsigned char *msg, size_t msg_len,
                const unsigned char *sig, size_t sig_len)
{
	unsigned char *der = NULL;
	int n, ok = 0;

	if (k == NULL || k->pkey == NULL)
		return 0;
	if (k->alg == KEY_ED25519)
		return sig_len == 64 && keys_verify_md(k->pkey, NULL, msg, msg_len, sig, sig_len);
	if (k->alg != KEY_ECDSA_P256)
		return 0;
	if (keys_der_strict(sig, sig_len) &&
	    keys_verify_md(k->pkey, EVP_sha256(), msg, msg_len, sig, sig_len))
		return 1;
	if (sig_len == 64 && (n = keys_raw_to_der(sig, &der)) > 0)
		ok = keys_verify_md(k->pkey, EVP_sha256(), msg, msg_len, der, (size_t)n);
	OPENSSL_free(der);
	return ok;
}

int keys_sign(const struct rp_key *k, const unsigned char *msg, size_t msg_len, unsigned char **sig,
              size_t *sig_len, struct rp_err *err)
{
	const EVP_MD *md = k->alg == KEY_ED25519 ? NULL : EVP_sha256();
	EVP_MD_CTX *ctx = NULL;
	unsigned char *b = NULL;
	size_t n = 128; /* Ed25519: 64, P-256 DER: at most 72 */
	int ret = -1;

	*sig = NULL;
	*sig_len = 0;
	if (!k->is_private) {
		rp_seterr(err, "E_SIGN", "key %s is a public key; signing needs the private key",
		          k->source);
		goto out;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL || (b = malloc(n)) == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory signing with %s", k->source);
		goto out;
	}
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, b, &n, msg, msg_len) != 1) {
		rp_seterr(err, "E_SIGN", "signing with %s failed: %s", k->source, keys_ssl_error());
		goto out;
	}
	*sig = b;
	*sig_len = n;
	b = NULL;
	ret = 0;
out:
	free(b);
	EVP_MD_CTX_free(ctx);
	return ret;
}

void keys_trust_init(struct trust_set *t)
{
	memset(t, 0, sizeof(*t));
}

void keys_trust_free(struct trust_set *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n_keys; i++)
		keys_free(&t->keys[i]);
	memset(t, 0, sizeof(*t));
}

int keys_trust_find(const struct trust_set *t, const char *keyid)
{
	for (size_t i = 0; i < t->n_keys; i++)
		if (strcmp(t->keys[i].keyid, keyid) == 0)
			return (int)i;
	return -1;
}

/* A fresh EVP_PKEY holding only the public half of pkey. */
static EVP_PKEY *keys_public_copy(EVP_PKEY *pkey)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	int n = i2d_PUBKEY(pkey, &der);

	if (n > 0) {
		p = der;
		pub = d2i_PUBKEY(NULL, &p, n);
	}
	OPENSSL_free(der);
	return pub;
}

int keys_trust_add_key(struct trust_set *t, const struct rp_key *k, struct rp_err *err)
{
	struct rp_key *d;
	EVP_PKEY *pub;
	int j;

	if (t->n_keys >= KEYS_MAX_TRUSTED)
		return rp_seterr(err, "E_TRUST",
		                 "too many trusted keys: %s would be number %zu, "
		                 "at most %d are supported",
		                 k->source, t->n_keys + 1, KEYS_MAX_TRUSTED);
	if ((j = keys_trust_find(t, k->keyid)) >= 0)
		return rp_seterr(err, "E_TRUST",
		                 "%s is the same key as %s (keyid %s); list each trusted key once",
		                 k->source, t->keys[j].source, k->keyid);
	if ((pub = keys_public_copy(k->pkey)) == NULL)
		return rp_seterr(err, "E_NOMEM", "cannot copy key %s: %s", k->source,
		                 keys_ssl_error());
	d = &t->keys[t->n_keys++];
	*d = *k;
	d->pkey = pub;
	d->is_private = false;
	return 0;
}

int keys_trust_add_file(struct trust_set *t, const char *path, unsigned flags, struct rp_err *err)
{
	struct rp_key k;
	int ret;

	if (keys_load_public(&k, path, flags, err) < 0)
		return -1;
	ret = keys_trust_add_key(t, &k, err);
	keys_free(&k);
	return ret;
}

static int keys_name_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* "*.pem" or "*.pub": docs/signing.md makes signer1.pub, openssl users make .pem. */
static int keys_is_pem_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && l > 4 &&
	       (strcmp(n + l - 4, ".pem") == 0 || strcmp(n + l - 4, ".pub") == 0);
}

/* Collects the "*.pem" and "*.pub" names in d, sorted; at most KEYS_MAX_TRUSTED + 1. */
static size_t keys_dir_names(DIR *d, char names[][256], size_t max)
{
	struct dirent *de;
	size_t n = 0;

	while (n < max && (de = readdir(d)) != NULL) {
		if (!keys_is_pem_name(de->d_name) || strlen(de->d_name) >= 256)
			continue;
		rp_strlcpy(names[n++], de->d_name, 256);
	}
	qsort(names, n, 256, keys_name_cmp);
	return n;
}

int keys_trust_add_dir(struct trust_set *t, const char *dir, unsigned flags, struct rp_err *err)
{
	char names[KEYS_MAX_TRUSTED + 1][256], label[4096 + 260];
	struct rp_key k;
	struct stat st;
	DIR *d = NULL;
	size_t n;
	int dfd, ret = -1;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (d = fdopendir(dfd)) == NULL) {
		rp_seterr(err, "E_KEY_FILE", "cannot open key directory %s: %s", dir,
		          strerror(errno));
		goto out;
	}
	if ((flags & KEYS_CHECK_OWNER) && (fstat(dfd, &st) < 0 || keys_perm_bad(&st))) {
		rp_seterr(err, "E_KEY_PERM",
		          "key directory %s must be owned by root and not writable by group or "
		          "others; no key was loaded from it",
		          dir);
		goto out;
	}
	n = keys_dir_names(d, names, KEYS_MAX_TRUSTED + 1);
	if (n == 0) {
		rp_seterr(err, "E_TRUST",
		          "no public key files (*.pem or *.pub) in %s; put each signer's public "
		          "key there (openssl pkey -in KEY -pubout -out %s/NAME.pub)",
		          dir, dir);
		goto out;
	}
	if (n > KEYS_MAX_TRUSTED) {
		rp_seterr(err, "E_TRUST",
		          "more than %d key files (*.pem, *.pub) in %s; at most %d "
		          "keys can be trusted",
		          KEYS_MAX_TRUSTED, dir, KEYS_MAX_TRUSTED);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "%s/%s", dir, names[i]);
		if (keys_load_public_at(&k, dirfd(d), names[i], label, flags, err) < 0)
			goto out;
		ret = keys_trust_add_key(t, &k, err);
		keys_free(&k);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	if (d != NULL)
		closedir(d);
	else if (dfd >= 0)
		close(dfd);
	return ret;
}

int keys_trust_set_threshold(struct trust_set *t, int threshold, struct rp_err *err)
{
	if (t->n_keys == 0)
		return rp_seterr(err, "E_TRUST",
		                 "no trusted keys are configured; nothing could "
		                 "ever verify");
	if (threshold < 1 || (size_t)threshold > t->n_keys)
		return rp_seterr(
		    err, "E_TRUST",
		    "threshold %d is out of range: it must be between 1 and the number "
		    "of trusted keys (%zu)",
		    threshold, t->n_keys);
	t->threshold = threshold;
	return 0;
}
