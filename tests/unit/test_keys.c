/* SPDX-License-Identifier: ISC */
/*
 * Key files: Ed25519 and P-256 load with the right keyid; every other type or
 * curve, private keys offered as trusted keys, multi-key files, odd files and
 * (with KEYS_CHECK_OWNER) writable files are refused naming the file.  Keys
 * are generated here with EVP_PKEY_Q_keygen; nothing private is committed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keys.h"

static char dir[64];

static int setup(void **st)
{
	snprintf(dir, sizeof(dir), "/tmp/rampart-keys-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **st)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const char *path_of(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

static void write_text(const char *name, const char *text, mode_t mode)
{
	FILE *f = fopen(path_of(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path_of(name), mode);
}

/* Writes pkey's public (or private) PEM to dir/name. */
static void write_key(const char *name, EVP_PKEY *p, int priv)
{
	FILE *f = fopen(path_of(name), "w");

	assert_non_null(f);
	if (priv)
		assert_int_equal(PEM_write_PrivateKey(f, p, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_PUBKEY(f, p), 1);
	fclose(f);
	chmod(path_of(name), 0644);
}

/* Expected keyid computed independently: SHA-256 over i2d_PUBKEY. */
static void expect_keyid(EVP_PKEY *p, char out[65])
{
	unsigned char *der = NULL, md[32];
	int n = i2d_PUBKEY(p, &der);

	assert_true(n > 0);
	assert_int_equal(EVP_Q_digest(NULL, "SHA256", NULL, der, (size_t)n, md, NULL), 1);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	OPENSSL_free(der);
}

static void expect_refused(const char *name, unsigned flags, const char *code, const char *needle)
{
	struct rp_key k;
	struct rp_err e;

	rp_clearerr(&e);
	if (keys_load_public(&k, path_of(name), flags, &e) != -1 || strcmp(e.code, code) != 0 ||
	    strstr(e.msg, needle) == NULL || strstr(e.msg, name) == NULL)
		fail_msg("%s: got %s: %s", name, e.code, e.msg);
	assert_null(k.pkey);
}

static void test_supported(void **st)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char want[65];
	struct rp_key k, kp;
	struct rp_err e;

	write_key("ed.pub", ed, 0);
	write_key("ec.pub", ec, 0);
	write_key("ed.key", ed, 1);
	write_key("ec.key", ec, 1);
	assert_int_equal(keys_load_public(&k, path_of("ed.pub"), 0, &e), 0);
	expect_keyid(ed, want);
	assert_string_equal(k.keyid, want);
	assert_int_equal(k.alg, KEY_ED25519);
	assert_false(k.is_private);
	assert_int_equal(keys_load_private(&kp, path_of("ed.key"), &e), 0);
	assert_string_equal(kp.keyid, want);
	assert_true(kp.is_private);
	keys_free(&k);
	keys_free(&kp);

	assert_int_equal(keys_load_public(&k, path_of("ec.pub"), 0, &e), 0);
	expect_keyid(ec, want);
	assert_string_equal(k.keyid, want);
	assert_int_equal(k.alg, KEY_ECDSA_P256);
	assert_int_equal(keys_load_private(&kp, path_of("ec.key"), &e), 0);
	assert_string_equal(kp.keyid, want);
	keys_free(&k);
	keys_free(&kp);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec);
}

static void test_sec1_private_key(void **st)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	OSSL_ENCODER_CTX *ctx;
	unsigned char *data = NULL;
	size_t len = 0;
	struct rp_key k;
	struct rp_err e;

	/* "-----BEGIN EC PRIVATE KEY-----" (traditional SEC1 form, as older tools write) */
	ctx = OSSL_ENCODER_CTX_new_for_pkey(ec, EVP_PKEY_KEYPAIR, "PEM", "type-specific", NULL);
	assert_non_null(ctx);
	assert_int_equal(OSSL_ENCODER_to_data(ctx, &data, &len), 1);
	OSSL_ENCODER_CTX_free(ctx);
	data[len - 1] = '\0'; /* the final newline */
	assert_non_null(strstr((char *)data, "BEGIN EC PRIVATE KEY"));
	write_text("sec1.key", (char *)data, 0600);
	OPENSSL_free(data);
	assert_int_equal(keys_load_private(&k, path_of("sec1.key"), &e), 0);
	assert_int_equal(k.alg, KEY_ECDSA_P256);
	keys_free(&k);
	EVP_PKEY_free(ec);
}

static void test_unsupported_types(void **st)
{
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	EVP_PKEY *x = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	EVP_PKEY *ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");

	write_key("rsa.pub", rsa, 0);
	write_key("p384.pub", p384, 0);
	write_key("k1.pub", k1, 0);
	write_key("x25519.pub", x, 0);
	write_key("ed448.pub", ed448, 0);
	expect_refused("rsa.pub", 0, "E_KEY_TYPE", "RSA");
	expect_refused("p384.pub", 0, "E_KEY_TYPE", "secp384r1");
	expect_refused("k1.pub", 0, "E_KEY_TYPE", "secp256k1");
	expect_refused("x25519.pub", 0, "E_KEY_TYPE", "X25519");
	expect_refused("ed448.pub", 0, "E_KEY_TYPE", "ED448");
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(x);
	EVP_PKEY_free(ed448);
}

static void test_noncanonical_p256(void **st)
{
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	assert_int_equal(EVP_PKEY_set_utf8_string_param(
	                     ec, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
	                 1);
	write_key("compressed.pub", ec, 0);
	expect_refused("compressed.pub", 0, "E_KEY_TYPE", "standard");
	assert_int_equal(EVP_PKEY_set_utf8_string_param(
	                     ec, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "uncompressed"),
	                 1);
	assert_int_equal(
	    EVP_PKEY_set_utf8_string_param(ec, OSSL_PKEY_PARAM_EC_ENCODING, "explicit"), 1);
	write_key("explicit.pub", ec, 0);
	expect_refused("explicit.pub", 0, "E_KEY_TYPE", "");
	EVP_PKEY_free(ec);
}

static void test_bad_files(void **st)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ed2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	char *big;
	FILE *f;

	write_key("priv.pem", ed, 1);
	expect_refused("priv.pem", 0, "E_KEY_FILE", "private key");
	/* two public keys in one file */
	write_key("two.pem", ed, 0);
	f = fopen(path_of("two.pem"), "a");
	assert_non_null(f);
	PEM_write_PUBKEY(f, ed2);
	fclose(f);
	expect_refused("two.pem", 0, "E_KEY_FILE", "2 PEM blocks");
	write_text("garbage.pem", "hello\n", 0644);
	expect_refused("garbage.pem", 0, "E_KEY_FILE", "not a PEM file");
	write_text("cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	           0644);
	expect_refused("cert.pem", 0, "E_KEY_FILE", "not a PEM public key");
	write_text("broken.pem", "-----BEGIN PUBLIC KEY-----\nMCow!!\n-----END PUBLIC KEY-----\n",
	           0644);
	expect_refused("broken.pem", 0, "E_KEY_FILE", "not a PEM public key");
	expect_refused("missing.pem", 0, "E_KEY_FILE", "cannot open");
	assert_int_equal(mkdir(path_of("adir.pem"), 0755), 0);
	expect_refused("adir.pem", 0, "E_KEY_FILE", "not a regular file");
	big = malloc(KEYS_MAX_FILE + 2);
	assert_non_null(big);
	memset(big, 'A', KEYS_MAX_FILE + 1);
	big[KEYS_MAX_FILE + 1] = '\0';
	write_text("big.pem", big, 0644);
	free(big);
	expect_refused("big.pem", 0, "E_KEY_FILE", "larger than");
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ed2);
}

static void test_check_owner(void **st)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct trust_set t;
	struct rp_key k;
	struct rp_err e;

	write_key("gw.pub", ed, 0);
	chmod(path_of("gw.pub"), 0664);
	expect_refused("gw.pub", KEYS_CHECK_OWNER, "E_KEY_PERM", "owned by root");
	chmod(path_of("gw.pub"), 0646);
	expect_refused("gw.pub", KEYS_CHECK_OWNER, "E_KEY_PERM", "not writable");
	chmod(path_of("gw.pub"), 0644);
	if (geteuid() == 0) {
		assert_int_equal(keys_load_public(&k, path_of("gw.pub"), KEYS_CHECK_OWNER, &e), 0);
		keys_free(&k);
		/* a file owned by someone else */
		assert_int_equal(chown(path_of("gw.pub"), 65534, 65534), 0);
		expect_refused("gw.pub", KEYS_CHECK_OWNER, "E_KEY_PERM", "uid 65534");
	} else {
		expect_refused("gw.pub", KEYS_CHECK_OWNER, "E_KEY_PERM", "owned by root");
	}
	/* a root-owned, read-only key in a directory others can write */
	assert_int_equal(mkdir(path_of("open"), 0777), 0);
	chmod(path_of("open"), 0777);
	write_key("open/k.pub", ed, 0);
	expect_refused("open/k.pub", KEYS_CHECK_OWNER, "E_KEY_PERM",
	               geteuid() == 0 ? "directory" : "owned by root");
	/* without the flag the same file loads */
	assert_int_equal(keys_load_public(&k, path_of("gw.pub"), 0, &e), 0);
	keys_free(&k);
	/* a group-writable key directory */
	assert_int_equal(mkdir(path_of("kd"), 0775), 0);
	chmod(path_of("kd"), 0775);
	write_key("kd/a.pem", ed, 0);
	keys_trust_init(&t);
	assert_int_equal(keys_trust_add_dir(&t, path_of("kd"), KEYS_CHECK_OWNER, &e), -1);
	assert_string_equal(e.code, "E_KEY_PERM");
	assert_int_equal(t.n_keys, 0);
	keys_trust_free(&t);
	EVP_PKEY_free(ed);
}

static void test_trust_dir(void **st)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	char want[65], name[64];
	struct trust_set t;
	struct rp_err e;

	assert_int_equal(mkdir(path_of("td"), 0755), 0);
	write_key("td/b.pem", ed, 0);
	write_key("td/a.pem", ec, 0);
	write_key("td/.hidden.pem", ed, 1); /* ignored: dot file */
	write_text("td/README", "not a key\n", 0644);
	write_key("td/c.pem.bak", ed, 1); /* ignored: not *.pem */
	keys_trust_init(&t);
	assert_int_equal(keys_trust_add_dir(&t, path_of("td"), 0, &e), 0);
	assert_int_equal(t.n_keys, 2);
	expect_keyid(ec, want);
	assert_string_equal(t.keys[0].keyid, want); /* sorted: a.pem first */
	assert_non_null(strstr(t.keys[0].source, "td/a.pem"));
	assert_int_equal(keys_trust_set_threshold(&t, 2, &e), 0);
	assert_int_equal(keys_trust_set_threshold(&t, 3, &e), -1);
	keys_trust_free(&t);

	/* the same key under two names is refused */
	write_key("td/d.pem", ed, 0);
	keys_trust_init(&t);
	assert_int_equal(keys_trust_add_dir(&t, path_of("td"), 0, &e), -1);
	assert_string_equal(e.code, "E_TRUST");
	assert_non_null(strstr(e.msg, "same key"));
	keys_trust_free(&t);

	/* empty, and too many files */
	assert_int_equal(mkdir(path_of("empty"), 0755), 0);
	keys_trust_init(&t);
	assert_int_equal(keys_trust_add_dir(&t, path_of("empty"), 0, &e), -1);
	assert_string_equal(e.code, "E_TRUST");
	assert_int_equal(mkdir(path_of("many"), 0755), 0);
	for (int i = 0; i < KEYS_MAX_TRUSTED + 1; i++) {
		snprintf(name, sizeof(name), "many/k%02d.pem", i);
		write_text(name, "x", 0644);
	}
	assert_int_equal(keys_trust_add_dir(&t, path_of("many"), 0, &e), -1);
	assert_non_null(strstr(e.msg, "at most 16"));
	keys_trust_free(&t);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec);
}

static void test_trust_copies_public_only(void **st)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	unsigned char priv[64];
	size_t len = sizeof(priv);
	struct trust_set t;
	struct rp_key k;
	struct rp_err e;

	assert_int_equal(keys_from_pkey(&k, ed, true, "mem", &e), 0);
	keys_trust_init(&t);
	assert_int_equal(keys_trust_add_key(&t, &k, &e), 0);
	assert_false(t.keys[0].is_private);
	assert_int_equal(EVP_PKEY_get_raw_private_key(t.keys[0].pkey, priv, &len), 0);
	assert_string_equal(t.keys[0].keyid, k.keyid);
	keys_trust_free(&t);
	keys_free(&k);
	EVP_PKEY_free(ed);
}

static void test_sign_verify_primitives(void **st)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *pk[2] = {ed, ec};
	const unsigned char msg[] = "message";
	unsigned char *sig;
	size_t len;
	struct rp_key k, other;
	struct rp_err e;

	for (int i = 0; i < 2; i++) {
		assert_int_equal(keys_from_pkey(&k, pk[i], true, "k", &e), 0);
		assert_int_equal(keys_from_pkey(&other, pk[1 - i], true, "o", &e), 0);
		assert_int_equal(keys_sign(&k, msg, sizeof(msg), &sig, &len, &e), 0);
		assert_int_equal(keys_verify(&k, msg, sizeof(msg), sig, len), 1);
		assert_int_equal(keys_verify(&k, msg, sizeof(msg) - 1, sig, len), 0);
		assert_int_equal(keys_verify(&other, msg, sizeof(msg), sig, len), 0);
		sig[len - 1] ^= 0x01;
		assert_int_equal(keys_verify(&k, msg, sizeof(msg), sig, len), 0);
		free(sig);
		k.is_private = false;
		assert_int_equal(keys_sign(&k, msg, sizeof(msg), &sig, &len, &e), -1);
		assert_string_equal(e.code, "E_SIGN");
		keys_free(&k);
		keys_free(&other);
	}
	EVP_PKEY_free(ed);
	EVP_PKEY_free(ec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_supported, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sec1_private_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unsupported_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_noncanonical_p256, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_owner, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trust_dir, setup, teardown),
	    cmocka_unit_test(test_trust_copies_public_only),
	    cmocka_unit_test(test_sign_verify_primitives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
