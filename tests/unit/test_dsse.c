/* SPDX-License-Identifier: ISC */
/*
 * DSSE verification and signing: the reference vector and the vectors in
 * tests/vectors/dsse verify as labelled, and every attack (tampering,
 * untrusted keys, one key counted twice, lying keyids, malformed fields,
 * oversize input) is refused with a stable code.  Keys are generated here.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "dsse.h"
#include "keys.h"

#define TYPE DSSE_POLICY_TYPE
#define BODY "{\"org\":\"Test\"}"

/* A, B trusted in most tests; C (Ed25519) and D (P-256) never trusted. */
static struct rp_key A, B, C, D;

static void gen_key(struct rp_key *k, int ec, const char *name)
{
	struct rp_err e;
	EVP_PKEY *p = ec ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
	                 : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

	assert_non_null(p);
	assert_int_equal(keys_from_pkey(k, p, true, name, &e), 0);
	EVP_PKEY_free(p);
}

static int group_setup(void **st)
{
	gen_key(&A, 0, "A");
	gen_key(&B, 1, "B");
	gen_key(&C, 0, "C");
	gen_key(&D, 1, "D");
	return 0;
}

static int group_teardown(void **st)
{
	keys_free(&A);
	keys_free(&B);
	keys_free(&C);
	keys_free(&D);
	return 0;
}

static void trust2(struct trust_set *t, const struct rp_key *k1, const struct rp_key *k2,
                   int threshold)
{
	struct rp_err e;

	keys_trust_init(t);
	assert_int_equal(keys_trust_add_key(t, k1, &e), 0);
	if (k2 != NULL)
		assert_int_equal(keys_trust_add_key(t, k2, &e), 0);
	assert_int_equal(keys_trust_set_threshold(t, threshold, &e), 0);
}

/* Signs BODY with the given keys into a jansson envelope. */
static json_t *signed_env(const char *type, const char *body, const struct rp_key *k1,
                          const struct rp_key *k2)
{
	struct rp_key keys[2];
	struct rp_err e;
	char *s = NULL;
	json_t *j;

	keys[0] = *k1;
	if (k2 != NULL)
		keys[1] = *k2;
	assert_int_equal(dsse_sign(body, strlen(body), type, keys, k2 ? 2 : 1, &s, &e), 0);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	free(s);
	return j;
}

static json_t *sig_at(json_t *env, size_t i)
{
	return json_array_get(json_object_get(env, "signatures"), i);
}

static void set_str(json_t *o, const char *key, const char *v)
{
	assert_int_equal(json_object_set_new(o, key, json_string(v)), 0);
}

/* Verifies env (consumed) and returns 0 or -1; fills e and v. */
static int verify_json(json_t *env, const char *type, const struct trust_set *t, struct rp_err *e,
                       struct dsse_verified *v)
{
	char *s = json_dumps(env, 0);
	int r;

	assert_non_null(s);
	rp_clearerr(e);
	r = dsse_verify(s, strlen(s), type, t, v, e);
	free(s);
	json_decref(env);
	if (r < 0) {
		assert_null(v->payload);
		assert_int_equal(v->n_keyids, 0);
	}
	return r;
}

static int verify_code(json_t *env, const char *type, const struct trust_set *t, const char *code)
{
	struct dsse_verified v;
	struct rp_err e;
	int r = verify_json(env, type, t, &e, &v);

	dsse_verified_free(&v);
	if (r == 0)
		return strcmp(code, "ok") == 0 ? 0 : -1;
	if (strcmp(e.code, code) != 0)
		print_error("got %s: %s\n", e.code, e.msg);
	return strcmp(e.code, code) == 0 ? 0 : -1;
}

static void test_pae(void **st)
{
	unsigned char *p;
	size_t n;
	struct rp_err e;

	assert_int_equal(dsse_pae("http://example.com/HelloWorld",
	                          (const unsigned char *)"hello world", 11, &p, &n, &e),
	                 0);
	assert_int_equal(n, strlen("DSSEv1 29 http://example.com/HelloWorld 11 hello world"));
	assert_memory_equal(p, "DSSEv1 29 http://example.com/HelloWorld 11 hello world", n);
	free(p);
	assert_int_equal(dsse_pae("t", NULL, 0, &p, &n, &e), 0);
	assert_int_equal(n, 13);
	assert_memory_equal(p, "DSSEv1 1 t 0 ", 13);
	free(p);
}

static char *read_file(const char *rel)
{
	const char *src = getenv("RAMPART_SRC");
	char path[4096];
	FILE *f;
	char *b;
	long n;

	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/%s", src, rel);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	b[n] = '\0';
	fclose(f);
	return b;
}

/* Loads a public key given as base64 DER SPKI (the vector format). */
static void key_from_spki(struct rp_key *k, const char *b64, struct rp_err *e)
{
	char pem[1024];
	size_t o, len = strlen(b64);

	o = (size_t)snprintf(pem, sizeof(pem), "-----BEGIN PUBLIC KEY-----\n");
	for (size_t i = 0; i < len; i += 64)
		o += (size_t)snprintf(pem + o, sizeof(pem) - o, "%.64s\n", b64 + i);
	o += (size_t)snprintf(pem + o, sizeof(pem) - o, "-----END PUBLIC KEY-----\n");
	assert_true(o < sizeof(pem));
	assert_int_equal(keys_load_public_mem(k, pem, o, "vector", e), 0);
}

static void test_reference_vector(void **st)
{
	char *txt = read_file("tests/vectors/dsse/ecdsa-p256.json");
	json_t *vec = json_loads(txt, 0, NULL), *env;
	struct trust_set t;
	struct dsse_verified v;
	struct rp_key k;
	struct rp_err e;

	assert_non_null(vec);
	key_from_spki(&k, json_string_value(json_object_get(vec, "public_key_spki_base64")), &e);
	/* known answer: sha256 of the DER SPKI (computed with sha256sum) */
	assert_string_equal(k.keyid,
	                    "f793580060562d6ff075d814ea698c282fcc779b0cde64d79ffc6301df00d14b");
	assert_int_equal(k.alg, KEY_ECDSA_P256);
	trust2(&t, &k, NULL, 1);
	env = json_deep_copy(json_object_get(vec, "envelope"));
	assert_int_equal(verify_json(env, "http://example.com/HelloWorld", &t, &e, &v), 0);
	assert_int_equal(v.payload_len, 11);
	assert_memory_equal(v.payload, "hello world", 11);
	assert_int_equal(v.n_keyids, 1);
	assert_string_equal(v.keyids[0], k.keyid);
	dsse_verified_free(&v);

	/* the same envelope is not a rampart policy */
	env = json_deep_copy(json_object_get(vec, "envelope"));
	assert_int_equal(verify_code(env, TYPE, &t, "E_PAYLOAD_TYPE"), 0);
	/* tampered payload ("hello world!") */
	env = json_deep_copy(json_object_get(vec, "envelope"));
	set_str(env, "payload", "aGVsbG8gd29ybGQh");
	assert_int_equal(verify_code(env, "http://example.com/HelloWorld", &t, "E_SIGNATURE"), 0);
	/* another key does not verify it */
	keys_trust_free(&t);
	trust2(&t, &B, NULL, 1);
	env = json_deep_copy(json_object_get(vec, "envelope"));
	assert_int_equal(verify_code(env, "http://example.com/HelloWorld", &t, "E_SIGNATURE"), 0);

	keys_trust_free(&t);
	keys_free(&k);
	json_decref(vec);
	free(txt);
}

static void vector_trust(json_t *vec, struct trust_set *t)
{
	json_t *keys = json_object_get(vec, "public_keys_spki_base64"), *one, *thr;
	struct rp_key k;
	struct rp_err e;
	size_t i;

	keys_trust_init(t);
	one = json_object_get(vec, "public_key_spki_base64");
	if (one != NULL) {
		key_from_spki(&k, json_string_value(one), &e);
		assert_int_equal(keys_trust_add_key(t, &k, &e), 0);
		keys_free(&k);
	}
	json_array_foreach (keys, i, one) {
		key_from_spki(&k, json_string_value(one), &e);
		assert_int_equal(keys_trust_add_key(t, &k, &e), 0);
		keys_free(&k);
	}
	thr = json_object_get(vec, "threshold");
	assert_int_equal(keys_trust_set_threshold(t, thr ? (int)json_integer_value(thr) : 1, &e),
	                 0);
}

static void run_vector(const char *name)
{
	char rel[512], *txt;
	json_t *vec, *env, *et;
	struct trust_set t;
	struct dsse_verified v;
	struct rp_err e;
	const char *expect, *type;
	int r;

	snprintf(rel, sizeof(rel), "tests/vectors/dsse/%s", name);
	txt = read_file(rel);
	vec = json_loads(txt, 0, NULL);
	assert_non_null(vec);
	vector_trust(vec, &t);
	expect = json_string_value(json_object_get(vec, "expect"));
	assert_non_null(expect);
	env = json_deep_copy(json_object_get(vec, "envelope"));
	et = json_object_get(vec, "expected_type");
	type = et ? json_string_value(et) : json_string_value(json_object_get(env, "payloadType"));
	r = verify_json(env, type, &t, &e, &v);
	if (strcmp(expect, "valid") == 0) {
		if (r != 0)
			print_error("%s: %s %s\n", name, e.code, e.msg);
		assert_int_equal(r, 0);
		assert_true(v.n_keyids >= (size_t)t.threshold);
	} else {
		if (r == 0 || strcmp(e.code, expect) != 0)
			print_error("%s: expected %s, got %s\n", name, expect,
			            r ? e.code : "valid");
		assert_int_equal(r, -1);
		assert_string_equal(e.code, expect);
	}
	dsse_verified_free(&v);
	keys_trust_free(&t);
	json_decref(vec);
	free(txt);
}

static void test_vector_dir(void **st)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/vectors/dsse", getenv("RAMPART_SRC"));
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
			continue;
		run_vector(de->d_name);
		n++;
	}
	closedir(d);
	assert_true(n >= 10); /* the reference vector plus ours */
}

static void test_sign_roundtrip(void **st)
{
	const struct rp_key *ks[] = {&A, &B};
	struct dsse_envelope env;
	struct dsse_verified v;
	struct trust_set t;
	struct rp_err e;

	for (size_t i = 0; i < 2; i++) {
		json_t *j = signed_env(TYPE, BODY, ks[i], NULL);
		char *s = json_dumps(j, 0);

		assert_int_equal(dsse_parse(s, strlen(s), &env, &e), 0);
		assert_string_equal(env.payload_type, TYPE);
		assert_string_equal(env.sigs[0].keyid, ks[i]->keyid);
		if (ks[i]->alg == KEY_ED25519) {
			assert_int_equal(env.sigs[0].sig_len, 64);
		} else { /* DER */
			assert_int_equal(env.sigs[0].sig[0], 0x30);
			assert_true(env.sigs[0].sig_len <= 72);
		}
		dsse_envelope_free(&env);
		free(s);
		trust2(&t, ks[i], NULL, 1);
		assert_int_equal(verify_json(j, TYPE, &t, &e, &v), 0);
		assert_int_equal(v.payload_len, strlen(BODY));
		assert_memory_equal(v.payload, BODY, v.payload_len);
		assert_string_equal(v.keyids[0], ks[i]->keyid);
		dsse_verified_free(&v);
		keys_trust_free(&t);
	}
}

static void test_sign_refusals(void **st)
{
	struct rp_key two[2] = {A, A}, pub;
	struct trust_set t;
	struct rp_err e;
	char *s = NULL;

	assert_int_equal(dsse_sign("x", 1, TYPE, two, 2, &s, &e), -1);
	assert_string_equal(e.code, "E_SIGN");
	assert_null(s);
	assert_int_equal(dsse_sign("x", 1, "", &A, 1, &s, &e), -1);
	assert_int_equal(dsse_sign("x", 1, TYPE, &A, 0, &s, &e), -1);
	/* a trust-set key holds no private key */
	trust2(&t, &A, NULL, 1);
	pub = t.keys[0];
	assert_false(pub.is_private);
	assert_int_equal(dsse_sign("x", 1, TYPE, &pub, 1, &s, &e), -1);
	assert_string_equal(e.code, "E_SIGN");
	keys_trust_free(&t);
}

static void test_tampered_payload(void **st)
{
	struct trust_set t;
	json_t *env;
	char *b64 = dsse_b64_encode((const unsigned char *)"{\"org\":\"Evil\"}", 14);

	trust2(&t, &A, &B, 1);
	env = signed_env(TYPE, BODY, &A, &B);
	set_str(env, "payload", b64);
	assert_int_equal(verify_code(env, TYPE, &t, "E_SIGNATURE"), 0);
	/* payload with one byte appended */
	free(b64);
	b64 = dsse_b64_encode((const unsigned char *)BODY " ", strlen(BODY) + 1);
	env = signed_env(TYPE, BODY, &A, NULL);
	set_str(env, "payload", b64);
	assert_int_equal(verify_code(env, TYPE, &t, "E_SIGNATURE"), 0);
	free(b64);
	keys_trust_free(&t);
}

static void test_tampered_type(void **st)
{
	struct trust_set t;
	json_t *env;

	trust2(&t, &A, &B, 1);
	/* signed as another type, relabelled as a policy: the PAE differs */
	env = signed_env("application/json", BODY, &A, &B);
	set_str(env, "payloadType", TYPE);
	assert_int_equal(verify_code(env, TYPE, &t, "E_SIGNATURE"), 0);
	/* signed as a policy, relabelled: the type check refuses first */
	env = signed_env(TYPE, BODY, &A, NULL);
	set_str(env, "payloadType", "application/json");
	assert_int_equal(verify_code(env, TYPE, &t, "E_PAYLOAD_TYPE"), 0);
	/* ... and even a verifier expecting that type refuses it */
	env = signed_env(TYPE, BODY, &A, NULL);
	set_str(env, "payloadType", "application/json");
	assert_int_equal(verify_code(env, "application/json", &t, "E_SIGNATURE"), 0);
	/* case matters */
	env = signed_env(TYPE, BODY, &A, NULL);
	set_str(env, "payloadType", "Application/vnd.rampart.policy+json");
	assert_int_equal(verify_code(env, TYPE, &t, "E_PAYLOAD_TYPE"), 0);
	keys_trust_free(&t);
}

static void test_untrusted_key(void **st)
{
	struct trust_set t;
	json_t *env;

	trust2(&t, &A, &B, 1);
	assert_int_equal(verify_code(signed_env(TYPE, BODY, &C, NULL), TYPE, &t, "E_SIGNATURE"), 0);
	assert_int_equal(verify_code(signed_env(TYPE, BODY, &D, NULL), TYPE, &t, "E_SIGNATURE"), 0);
	/* an untrusted signature that claims a trusted keyid */
	env = signed_env(TYPE, BODY, &C, &D);
	set_str(sig_at(env, 0), "keyid", A.keyid);
	set_str(sig_at(env, 1), "keyid", B.keyid);
	assert_int_equal(verify_code(env, TYPE, &t, "E_SIGNATURE"), 0);
	keys_trust_free(&t);
}

static void test_same_key_twice(void **st)
{
	struct dsse_verified v;
	struct trust_set t;
	struct rp_err e;
	json_t *env, *s0, *sigs, *env2;

	trust2(&t, &A, &B, 2);
	/* A's signature three times: own keyid, B's keyid, no keyid */
	env = signed_env(TYPE, BODY, &A, NULL);
	sigs = json_object_get(env, "signatures");
	s0 = json_deep_copy(sig_at(env, 0));
	set_str(s0, "keyid", B.keyid);
	json_array_append_new(sigs, s0);
	s0 = json_deep_copy(sig_at(env, 0));
	json_object_del(s0, "keyid");
	json_array_append_new(sigs, s0);
	assert_int_equal(verify_json(env, TYPE, &t, &e, &v), -1);
	assert_string_equal(e.code, "E_SIGNATURE");
	assert_non_null(strstr(e.msg, "1 distinct trusted key(s) verified, 2 needed"));

	/* the keyid-hint half: A's signature twice, both with A's own keyid (the hint
	 * names a key already counted; it must not count again) */
	env = signed_env(TYPE, BODY, &A, NULL);
	json_array_append_new(json_object_get(env, "signatures"), json_deep_copy(sig_at(env, 0)));
	assert_int_equal(verify_json(env, TYPE, &t, &e, &v), -1);
	assert_string_equal(e.code, "E_SIGNATURE");
	assert_non_null(strstr(e.msg, "1 distinct trusted key(s) verified, 2 needed"));

	/* ECDSA: two different (randomised) signatures by B, one labelled as A */
	env = signed_env(TYPE, BODY, &B, NULL);
	env2 = signed_env(TYPE, BODY, &B, NULL);
	s0 = json_deep_copy(sig_at(env2, 0));
	assert_string_not_equal(json_string_value(json_object_get(s0, "sig")),
	                        json_string_value(json_object_get(sig_at(env, 0), "sig")));
	set_str(s0, "keyid", A.keyid);
	json_array_append_new(json_object_get(env, "signatures"), s0);
	json_decref(env2);
	assert_int_equal(verify_code(env, TYPE, &t, "E_SIGNATURE"), 0);
	keys_trust_free(&t);
}

static void test_two_distinct_keys(void **st)
{
	struct dsse_verified v;
	struct trust_set t;
	struct rp_err e;
	json_t *env, *other;

	trust2(&t, &A, &B, 2);
	assert_int_equal(verify_json(signed_env(TYPE, BODY, &B, &A), TYPE, &t, &e, &v), 0);
	assert_int_equal(v.n_keyids, 2);
	assert_string_equal(v.keyids[0], A.keyid); /* trust-set order */
	assert_string_equal(v.keyids[1], B.keyid);
	dsse_verified_free(&v);
	/* one trusted + one untrusted is not two */
	assert_int_equal(verify_code(signed_env(TYPE, BODY, &A, &C), TYPE, &t, "E_SIGNATURE"), 0);
	/* an extra untrusted signature does not hurt */
	env = signed_env(TYPE, BODY, &A, &B);
	other = signed_env(TYPE, BODY, &C, NULL);
	json_array_insert(json_object_get(env, "signatures"), 0, sig_at(other, 0));
	json_decref(other);
	assert_int_equal(verify_code(env, TYPE, &t, "ok"), 0);
	keys_trust_free(&t);
}

static void test_keyid_lies(void **st)
{
	struct dsse_verified v;
	struct trust_set t;
	struct rp_err e;
	json_t *env;

	trust2(&t, &A, &B, 1);
	env = signed_env(TYPE, BODY, &A, NULL);
	set_str(sig_at(env, 0), "keyid", B.keyid);
	assert_int_equal(verify_json(env, TYPE, &t, &e, &v), 0);
	assert_int_equal(v.n_keyids, 1);
	assert_string_equal(v.keyids[0], A.keyid); /* the key that really signed */
	dsse_verified_free(&v);
	env = signed_env(TYPE, BODY, &A, NULL);
	set_str(sig_at(env, 0), "keyid", "not-a-keyid");
	assert_int_equal(verify_code(env, TYPE, &t, "ok"), 0);
	keys_trust_free(&t);

	/* swapped labels, threshold 2 */
	trust2(&t, &A, &B, 2);
	env = signed_env(TYPE, BODY, &A, &B);
	set_str(sig_at(env, 0), "keyid", B.keyid);
	set_str(sig_at(env, 1), "keyid", A.keyid);
	assert_int_equal(verify_code(env, TYPE, &t, "ok"), 0);
	/* a keyid alone never counts: right keyid, garbage signature */
	env = signed_env(TYPE, BODY, &A, &B);
	set_str(sig_at(env, 1), "sig",
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	        "AAAA==");
	assert_int_equal(verify_code(env, TYPE, &t, "E_SIGNATURE"), 0);
	keys_trust_free(&t);
}

static void test_invalid_sig_ignored(void **st)
{
	struct trust_set t;
	json_t *env, *s;

	trust2(&t, &A, &B, 1);
	env = signed_env(TYPE, BODY, &A, NULL);
	s = json_pack("{s:s, s:s}", "keyid", A.keyid, "sig", "AQID");
	json_array_insert_new(json_object_get(env, "signatures"), 0, s);
	assert_int_equal(verify_code(env, TYPE, &t, "ok"), 0);
	keys_trust_free(&t);
}

/* Returns B's DER signature over PAE(TYPE, BODY) from a fresh envelope. */
static unsigned char *b_der_sig(size_t *len)
{
	json_t *env = signed_env(TYPE, BODY, &B, NULL);
	const char *s = json_string_value(json_object_get(sig_at(env, 0), "sig")), *why;
	unsigned char *der;

	assert_int_equal(dsse_b64_decode(s, strlen(s), &der, len, &why), 0);
	json_decref(env);
	return der;
}

static json_t *env_with_sig(const unsigned char *sig, size_t len)
{
	json_t *env = signed_env(TYPE, BODY, &B, NULL);
	char *b64 = dsse_b64_encode(sig, len);

	set_str(sig_at(env, 0), "sig", b64);
	free(b64);
	return env;
}

static void test_ecdsa_raw_and_der(void **st)
{
	unsigned char raw[64], swapped[64], ber[80], *der;
	const unsigned char *p;
	struct trust_set t;
	ECDSA_SIG *es;
	size_t len;

	trust2(&t, &B, NULL, 1);
	der = b_der_sig(&len);
	p = der;
	es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	assert_non_null(es);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32), 32);
	assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32), 32);
	ECDSA_SIG_free(es);

	assert_int_equal(verify_code(env_with_sig(der, len), TYPE, &t, "ok"), 0);
	assert_int_equal(verify_code(env_with_sig(raw, 64), TYPE, &t, "ok"), 0);
	/* r and s swapped */
	memcpy(swapped, raw + 32, 32);
	memcpy(swapped + 32, raw, 32);
	assert_int_equal(verify_code(env_with_sig(swapped, 64), TYPE, &t, "E_SIGNATURE"), 0);
	/* raw with one byte flipped */
	raw[10] ^= 1;
	assert_int_equal(verify_code(env_with_sig(raw, 64), TYPE, &t, "E_SIGNATURE"), 0);
	/* raw truncated / padded */
	assert_int_equal(verify_code(env_with_sig(raw, 63), TYPE, &t, "E_SIGNATURE"), 0);
	/* DER with trailing garbage */
	memcpy(ber, der, len);
	ber[len] = 0;
	assert_int_equal(verify_code(env_with_sig(ber, len + 1), TYPE, &t, "E_SIGNATURE"), 0);
	/* BER long-form length: same values, non-canonical encoding */
	assert_true(der[1] < 0x80);
	ber[0] = 0x30;
	ber[1] = 0x81;
	ber[2] = der[1];
	memcpy(ber + 3, der + 2, len - 2);
	assert_int_equal(verify_code(env_with_sig(ber, len + 1), TYPE, &t, "E_SIGNATURE"), 0);
	free(der);
	keys_trust_free(&t);
}

static void test_ed25519_sig_length(void **st)
{
	struct trust_set t;
	json_t *env = signed_env(TYPE, BODY, &A, NULL);
	const char *s = json_string_value(json_object_get(sig_at(env, 0), "sig")), *why;
	unsigned char *sig, longer[65];
	size_t len;

	trust2(&t, &A, NULL, 1);
	assert_int_equal(dsse_b64_decode(s, strlen(s), &sig, &len, &why), 0);
	assert_int_equal(len, 64);
	memcpy(longer, sig, 64);
	longer[64] = 0;
	json_decref(env);
	env = signed_env(TYPE, BODY, &A, NULL);
	{
		char *b = dsse_b64_encode(longer, 65);
		set_str(sig_at(env, 0), "sig", b);
		free(b);
	}
	assert_int_equal(verify_code(env, TYPE, &t, "E_SIGNATURE"), 0);
	env = signed_env(TYPE, BODY, &A, NULL);
	{
		char *b = dsse_b64_encode(sig, 63);
		set_str(sig_at(env, 0), "sig", b);
		free(b);
	}
	assert_int_equal(verify_code(env, TYPE, &t, "E_SIGNATURE"), 0);
	free(sig);
	keys_trust_free(&t);
}

#define PT "\"payloadType\":\"t\""
#define PL "\"payload\":\"aGVsbG8=\""
#define SG "\"signatures\":[{\"sig\":\"AAAA\"}]"

static void test_malformed_envelopes(void **st)
{
	static const struct {
		const char *json, *needle;
	} cases[] = {
	    {"", "envelope: not valid JSON"},
	    {"{", "envelope: not valid JSON"},
	    {"{" PT "," PL "," SG "} x", "envelope: not valid JSON"},
	    {"{" PT "," PT "," PL "," SG "}", "duplicate"},
	    {"[]", "envelope: must be a JSON object"},
	    {"\"x\"", "envelope: not valid JSON"},
	    {"{} {}", "envelope: not valid JSON"},
	    {"{}", "payloadType: missing"},
	    {"{\"payloadType\":1," PL "," SG "}", "payloadType: must be a string"},
	    {"{\"payloadType\":null," PL "," SG "}", "payloadType: must be a string"},
	    {"{\"payloadType\":\"a\\u0000b\"," PL "," SG "}", "envelope: not valid JSON"},
	    {"{\"payloadType\":\"\xff\"," PL "," SG "}", "envelope: not valid JSON"},
	    {"{" PT "," SG "}", "payload: missing"},
	    {"{" PT ",\"payload\":5," SG "}", "payload: must be a string"},
	    {"{" PT ",\"payload\":[]," SG "}", "payload: must be a string"},
	    {"{" PT ",\"payload\":\"aGVsbG8=x\"," SG "}", "payload: not valid base64"},
	    {"{" PT ",\"payload\":\"aGVs bG8\"," SG "}",
	     "payload: not valid base64: it contains whitespace"},
	    {"{" PT ",\"payload\":\"aGVsbG8=\\n\"," SG "}", "payload: not valid base64"},
	    {"{" PT ",\"payload\":\"aGVsbG9=\"," SG "}",
	     "payload: not valid base64: it has non-zero"},
	    {"{" PT ",\"payload\":\"aGVsbG8==\"," SG "}",
	     "payload: not valid base64: it has misplaced"},
	    {"{" PT ",\"payload\":\"aGV=bG8=\"," SG "}", "payload: not valid base64"},
	    {"{" PT ",\"payload\":\"ab+/-_AA\"," SG "}", "payload: not valid base64: it mixes"},
	    {"{" PT ",\"payload\":\"aGVsb\"," SG "}",
	     "payload: not valid base64: it has an impossible"},
	    {"{" PT ",\"payload\":\"aGVsbG8\\u00e9\"," SG "}", "payload: not valid base64"},
	    {"{" PT "," PL "}", "signatures: missing"},
	    {"{" PT "," PL ",\"signatures\":{}}", "signatures: must be an array"},
	    {"{" PT "," PL ",\"signatures\":[]}", "signatures: empty"},
	    {"{" PT "," PL ",\"signatures\":[1]}", "signatures[0]: must be an object"},
	    {"{" PT "," PL ",\"signatures\":[{\"keyid\":\"x\"}]}", "signatures[0].sig: missing"},
	    {"{" PT "," PL ",\"signatures\":[{\"sig\":5}]}", "signatures[0].sig: must be a string"},
	    {"{" PT "," PL ",\"signatures\":[{\"sig\":\"!!!!\"}]}",
	     "signatures[0].sig: not valid base64"},
	    {"{" PT "," PL ",\"signatures\":[{\"sig\":\"\"}]}", "signatures[0].sig: 0 bytes"},
	    {"{" PT "," PL ",\"signatures\":[{\"sig\":\"AAAA\",\"keyid\":7}]}",
	     "signatures[0].keyid: must be a string"},
	    {"{" PT "," PL ",\"signatures\":[{\"sig\":\"AAAA\",\"keyid\":null}]}",
	     "signatures[0].keyid: must be a string"},
	    {"{" PT "," PL ",\"signatures\":[{\"sig\":\"AAAA\"},{\"sig\":\"A\"}]}",
	     "signatures[1].sig: not valid base64"},
	    {"{" PT "," PL
	     ",\"signatures\":[{\"sig\":\"AAAA\"},{\"sig\":\"AAAA\",\"sig\":\"AAAA\"}]}",
	     "duplicate"},
	};
	struct dsse_envelope env;
	struct dsse_verified v;
	struct trust_set t;
	struct rp_err e;

	trust2(&t, &A, NULL, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *j = cases[i].json;
		rp_clearerr(&e);
		if (dsse_parse(j, strlen(j), &env, &e) != -1 || strcmp(e.code, "E_ENVELOPE") != 0 ||
		    strstr(e.msg, cases[i].needle) == NULL)
			fail_msg("case %zu (%s): got %s: %s", i, j, e.code, e.msg);
		assert_null(env.payload);
		assert_int_equal(dsse_verify(j, strlen(j), "t", &t, &v, &e), -1);
		assert_string_equal(e.code, "E_ENVELOPE");
	}
	keys_trust_free(&t);
}

static void test_envelope_accepted_forms(void **st)
{
	static const char *ok[] = {
	    /* unknown fields ignored (DSSE spec), keyid optional, unpadded and URL-safe base64 */
	    "{" PT "," PL "," SG ",\"extra\":{\"x\":1}}",
	    "{" PT "," PL ",\"signatures\":[{\"sig\":\"AAAA\",\"cert\":\"x\"}]}",
	    "{" PT ",\"payload\":\"aGVsbG8\"," SG "}",
	    "{" PT ",\"payload\":\"-_-_\"," SG "}",
	    "{" PT ",\"payload\":\"\"," SG "}",
	};
	struct dsse_envelope env;
	struct rp_err e;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (dsse_parse(ok[i], strlen(ok[i]), &env, &e) != 0)
			fail_msg("case %zu: %s: %s", i, e.code, e.msg);
		dsse_envelope_free(&env);
	}
	assert_int_equal(dsse_parse(ok[2], strlen(ok[2]), &env, &e), 0);
	assert_int_equal(env.payload_len, 5);
	assert_memory_equal(env.payload, "hello", 5);
	assert_string_equal(env.sigs[0].keyid, "");
	dsse_envelope_free(&env);
}

static void test_limits(void **st)
{
	char *big, sig[800], *keyid;
	json_t *env, *sigs;
	struct trust_set t;
	struct dsse_envelope pe;
	struct rp_err e;
	unsigned char raw[513] = {0};
	char *b;

	trust2(&t, &A, NULL, 1);
	/* 17 signatures: refused before any crypto */
	env = signed_env(TYPE, BODY, &A, NULL);
	sigs = json_object_get(env, "signatures");
	for (int i = 0; i < 16; i++)
		json_array_append(sigs, sig_at(env, 0));
	assert_int_equal(verify_code(env, TYPE, &t, "E_ENVELOPE"), 0);
	/* 16 are fine */
	env = signed_env(TYPE, BODY, &A, NULL);
	sigs = json_object_get(env, "signatures");
	for (int i = 0; i < 15; i++)
		json_array_append(sigs, sig_at(env, 0));
	assert_int_equal(verify_code(env, TYPE, &t, "ok"), 0);
	/* a 513-byte signature */
	b = dsse_b64_encode(raw, sizeof(raw));
	snprintf(sig, sizeof(sig), "{" PT "," PL ",\"signatures\":[{\"sig\":\"%s\"}]}", b);
	free(b);
	assert_int_equal(dsse_parse(sig, strlen(sig), &pe, &e), -1);
	assert_non_null(strstr(e.msg, "signatures[0].sig"));
	/* a 257-byte keyid, a 257-byte payloadType */
	keyid = calloc(1, 400);
	memset(keyid, 'a', 257);
	env = signed_env(TYPE, BODY, &A, NULL);
	set_str(sig_at(env, 0), "keyid", keyid);
	assert_int_equal(verify_code(env, TYPE, &t, "E_ENVELOPE"), 0);
	env = signed_env(TYPE, BODY, &A, NULL);
	set_str(env, "payloadType", keyid);
	assert_int_equal(verify_code(env, keyid, &t, "E_ENVELOPE"), 0);
	free(keyid);
	/* more than DSSE_MAX_ENVELOPE bytes: refused before parsing */
	big = malloc(DSSE_MAX_ENVELOPE + 1);
	assert_non_null(big);
	memset(big, ' ', DSSE_MAX_ENVELOPE + 1);
	assert_int_equal(dsse_parse(big, DSSE_MAX_ENVELOPE + 1, &pe, &e), -1);
	assert_string_equal(e.code, "E_ENVELOPE");
	assert_non_null(strstr(e.msg, "limit"));
	free(big);
	keys_trust_free(&t);
}

static void test_bad_trust(void **st)
{
	struct trust_set t;
	struct dsse_verified v;
	struct rp_err e;
	char *s;
	json_t *env = signed_env(TYPE, BODY, &A, NULL);

	s = json_dumps(env, 0);
	json_decref(env);
	keys_trust_init(&t);
	assert_int_equal(dsse_verify(s, strlen(s), TYPE, &t, &v, &e), -1);
	assert_string_equal(e.code, "E_TRUST");
	assert_int_equal(keys_trust_set_threshold(&t, 1, &e), -1);
	assert_int_equal(keys_trust_add_key(&t, &A, &e), 0);
	/* threshold not set yet (0) */
	assert_int_equal(dsse_verify(s, strlen(s), TYPE, &t, &v, &e), -1);
	assert_string_equal(e.code, "E_TRUST");
	assert_int_equal(keys_trust_set_threshold(&t, 0, &e), -1);
	assert_int_equal(keys_trust_set_threshold(&t, 2, &e), -1);
	assert_string_equal(e.code, "E_TRUST");
	/* the same key twice in the trust set is refused */
	assert_int_equal(keys_trust_add_key(&t, &A, &e), -1);
	assert_string_equal(e.code, "E_TRUST");
	assert_int_equal(t.n_keys, 1);
	assert_int_equal(keys_trust_set_threshold(&t, 1, &e), 0);
	assert_int_equal(dsse_verify(s, strlen(s), TYPE, &t, &v, &e), 0);
	dsse_verified_free(&v);
	keys_trust_free(&t);
	free(s);
}

static void test_base64(void **st)
{
	static const struct {
		const char *in, *out; /* out NULL: must fail */
	} cases[] = {
	    {"", ""},           {"Zg==", "f"},   {"Zg", "f"},      {"Zm8=", "fo"},
	    {"Zm8", "fo"},      {"Zm9v", "foo"}, {"Pz8/", "???"},  {"Pz8_", "???"},
	    {"Zh==", NULL},     {"Zm9=", NULL},  {"Z===", NULL},   {"Zg=", NULL},
	    {"Zg==Zg==", NULL}, {" Zg==", NULL}, {"Zm9v\n", NULL}, {"Z", NULL},
	    {"Zm9vY", NULL},    {"+/-_", NULL},  {"Zm9v=", NULL},  {"====", NULL},
	    {"Zg==\0", NULL},
	};
	unsigned char *out, buf[64];
	size_t n;
	const char *why;
	char *enc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in) + (i == sizeof(cases) / sizeof(cases[0]) - 1);
		int r = dsse_b64_decode(cases[i].in, len, &out, &n, &why);
		if (cases[i].out == NULL) {
			if (r != -1)
				fail_msg("case %zu \"%s\" decoded", i, cases[i].in);
			assert_null(out);
			continue;
		}
		if (r != 0)
			fail_msg("case %zu \"%s\": %s", i, cases[i].in, why);
		assert_int_equal(n, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, n);
		free(out);
	}
	for (size_t len = 0; len < sizeof(buf); len++) {
		for (size_t i = 0; i < len; i++)
			buf[i] = (unsigned char)(i * 37 + len);
		enc = dsse_b64_encode(buf, len);
		assert_int_equal(strlen(enc), (len + 2) / 3 * 4);
		assert_int_equal(dsse_b64_decode(enc, strlen(enc), &out, &n, &why), 0);
		assert_int_equal(n, len);
		if (len > 0)
			assert_memory_equal(out, buf, len);
		free(out);
		free(enc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pae),
	    cmocka_unit_test(test_base64),
	    cmocka_unit_test(test_reference_vector),
	    cmocka_unit_test(test_vector_dir),
	    cmocka_unit_test(test_sign_roundtrip),
	    cmocka_unit_test(test_sign_refusals),
	    cmocka_unit_test(test_tampered_payload),
	    cmocka_unit_test(test_tampered_type),
	    cmocka_unit_test(test_untrusted_key),
	    cmocka_unit_test(test_same_key_twice),
	    cmocka_unit_test(test_two_distinct_keys),
	    cmocka_unit_test(test_keyid_lies),
	    cmocka_unit_test(test_invalid_sig_ignored),
	    cmocka_unit_test(test_ecdsa_raw_and_der),
	    cmocka_unit_test(test_ed25519_sig_length),
	    cmocka_unit_test(test_malformed_envelopes),
	    cmocka_unit_test(test_envelope_accepted_forms),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_bad_trust),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
