/* SPDX-License-Identifier: ISC */
/*
 * DSSE envelope parsing, verification and signing.  The envelope is
 * untrusted input: every field is type- and size-checked, base64 is decoded
 * strictly, and nothing in it is believed until a threshold of distinct
 * trusted keys has verified the PAE; keyids are only hints.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dsse.h"

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of c; *alpha tracks the alphabet (0 unknown, 1 standard, 2 URL-safe). */
static int dsse_b64_value(unsigned char c, int *alpha)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '/') {
		if (*alpha == 2)
			return -2;
		*alpha = 1;
		return c == '+' ? 62 : 63;
	}
	if (c == '-' || c == '_') {
		if (*alpha == 1)
			return -2;
		*alpha = 2;
		return c == '-' ? 62 : 63;
	}
	return -1;
}

static const char *dsse_b64_why(int v, unsigned char c)
{
	if (v == -2)
		return "mixes the standard (+/) and URL-safe (-_) alphabets";
	if (c == '=')
		return "has misplaced or wrong '=' padding";
	if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
		return "contains whitespace";
	return "contains a character outside the base64 alphabet";
}

int dsse_b64_decode(const char *in, size_t in_len, unsigned char **out, size_t *out_len,
                    const char **why)
{
	size_t pad = 0, m, o = 0;
	unsigned char *b;
	uint32_t acc = 0;
	int alpha = 0, bits = 0, v;

	*out = NULL;
	*out_len = 0;
	if (in_len % 4 == 0 && in_len >= 4 && in[in_len - 1] == '=')
		pad = in[in_len - 2] == '=' ? 2 : 1;
	m = in_len - pad;
	if ((b = malloc(m / 4 * 3 + 3)) == NULL) {
		*why = "is too large (out of memory)";
		return -1;
	}
	for (size_t i = 0; i < m; i++) {
		if ((v = dsse_b64_value((unsigned char)in[i], &alpha)) < 0) {
			*why = dsse_b64_why(v, (unsigned char)in[i]);
			free(b);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			b[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (m % 4 == 1) {
		*why = "has an impossible length (truncated?)";
		free(b);
		return -1;
	}
	if (acc != 0) {
		*why = "has non-zero unused bits at the end (not canonical base64)";
		free(b);
		return -1;
	}
	b[o] = '\0';
	*out = b;
	*out_len = o;
	return 0;
}

char *dsse_b64_encode(const unsigned char *in, size_t len)
{
	char *s, *p;
	size_t i;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3 || (s = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	p = s;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*p++ = b64_std[v >> 18];
		*p++ = b64_std[(v >> 12) & 63];
		*p++ = b64_std[(v >> 6) & 63];
		*p++ = b64_std[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		*p++ = b64_std[v >> 18];
		*p++ = b64_std[(v >> 12) & 63];
		*p++ = i + 1 < len ? b64_std[(v >> 6) & 63] : '=';
		*p++ = '=';
	}
	*p = '\0';
	return s;
}

int dsse_pae(const char *type, const unsigned char *body, size_t body_len, unsigned char **out,
             size_t *out_len, struct rp_err *err)
{
	size_t tlen = strlen(type), hlen, cap;
	char head[DSSE_MAX_TYPE + 64];
	unsigned char *b;
	int n;

	*out = NULL;
	*out_len = 0;
	if (tlen > DSSE_MAX_TYPE)
		return rp_seterr(err, "E_ENVELOPE", "payloadType is longer than %d bytes",
		                 DSSE_MAX_TYPE);
	n = snprintf(head, sizeof(head), "DSSEv1 %zu %s %zu ", tlen, type, body_len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return rp_seterr(err, "E_ENVELOPE", "cannot build the PAE");
	hlen = (size_t)n;
	cap = hlen + body_len;
	if (cap < body_len || (b = malloc(cap + 1)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory building the PAE (%zu bytes)", cap);
	memcpy(b, head, hlen);
	if (body_len > 0)
		memcpy(b + hlen, body, body_len);
	b[cap] = '\0';
	*out = b;
	*out_len = cap;
	return 0;
}

static const char *dsse_json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/* Fetches obj[key] as a string of at most max bytes; absent -> "" unless required. */
static int dsse_get_string(json_t *obj, const char *key, const char *field, bool required,
                           size_t max, const char **s, size_t *len, struct rp_err *err)
{
	json_t *v = json_object_get(obj, key);

	*s = "";
	*len = 0;
	if (v == NULL)
		return required ? rp_seterr(err, "E_ENVELOPE", "%s: missing (required)", field) : 0;
	if (!json_is_string(v))
		return rp_seterr(err, "E_ENVELOPE", "%s: must be a string, not %s", field,
		                 dsse_json_kind(v));
	*s = json_string_value(v);
	*len = json_string_length(v);
	if (*len > max)
		return rp_seterr(err, "E_ENVELOPE", "%s: %zu bytes, at most %zu are accepted",
		                 field, *len, max);
	return 0;
}

static int dsse_get_b64(json_t *obj, const char *key, const char *field, size_t max,
                        unsigned char **out, size_t *out_len, struct rp_err *err)
{
	const char *s, *why = "";
	size_t len;

	if (dsse_get_string(obj, key, field, true, max / 3 * 4 + 4, &s, &len, err) < 0)
		return -1;
	if (dsse_b64_decode(s, len, out, out_len, &why) < 0)
		return rp_seterr(err, "E_ENVELOPE", "%s: not valid base64: it %s", field, why);
	return 0;
}

static int dsse_parse_sig(json_t *v, size_t i, struct dsse_sig *s, struct rp_err *err)
{
	char field[64];
	const char *keyid;
	size_t len;

	snprintf(field, sizeof(field), "signatures[%zu]", i);
	if (!json_is_object(v))
		return rp_seterr(err, "E_ENVELOPE", "%s: must be an object, not %s", field,
		                 dsse_json_kind(v));
	snprintf(field, sizeof(field), "signatures[%zu].keyid", i);
	if (dsse_get_string(v, "keyid", field, false, DSSE_MAX_KEYID, &keyid, &len, err) < 0)
		return -1;
	if ((s->keyid = strdup(keyid)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory parsing the envelope");
	snprintf(field, sizeof(field), "signatures[%zu].sig", i);
	if (dsse_get_b64(v, "sig", field, DSSE_MAX_SIG, &s->sig, &s->sig_len, err) < 0)
		return -1;
	if (s->sig_len == 0 || s->sig_len > DSSE_MAX_SIG)
		return rp_seterr(err, "E_ENVELOPE", "%s: %zu bytes; a signature has 1 to %d bytes",
		                 field, s->sig_len, DSSE_MAX_SIG);
	return 0;
}

static int dsse_parse_sigs(json_t *root, struct dsse_envelope *env, struct rp_err *err)
{
	json_t *a = json_object_get(root, "signatures");
	size_t n;

	if (a == NULL)
		return rp_seterr(err, "E_ENVELOPE", "signatures: missing (required)");
	if (!json_is_array(a))
		return rp_seterr(err, "E_ENVELOPE", "signatures: must be an array, not %s",
		                 dsse_json_kind(a));
	n = json_array_size(a);
	if (n == 0)
		return rp_seterr(err, "E_ENVELOPE", "signatures: empty; the envelope is unsigned");
	if (n > DSSE_MAX_SIGNATURES)
		return rp_seterr(err, "E_ENVELOPE",
		                 "signatures: %zu entries, at most %d are accepted", n,
		                 DSSE_MAX_SIGNATURES);
	for (size_t i = 0; i < n; i++) {
		env->n_sigs = i + 1;
		if (dsse_parse_sig(json_array_get(a, i), i, &env->sigs[i], err) < 0)
			return -1;
	}
	return 0;
}

static int dsse_parse_root(json_t *root, struct dsse_envelope *env, struct rp_err *err)
{
	const char *type;
	size_t len;

	if (!json_is_object(root))
		return rp_seterr(err, "E_ENVELOPE", "envelope: must be a JSON object, not %s",
		                 dsse_json_kind(root));
	if (dsse_get_string(root, "payloadType", "payloadType", true, DSSE_MAX_TYPE, &type, &len,
	                    err) < 0)
		return -1;
	if ((env->payload_type = strdup(type)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory parsing the envelope");
	if (dsse_get_b64(root, "payload", "payload", DSSE_MAX_ENVELOPE, &env->payload,
	                 &env->payload_len, err) < 0)
		return -1;
	return dsse_parse_sigs(root, env, err);
}

int dsse_parse(const void *buf, size_t len, struct dsse_envelope *env, struct rp_err *err)
{
	json_error_t je;
	json_t *root = NULL;
	char esc[200];
	int ret = -1;

	memset(env, 0, sizeof(*env));
	if (len > DSSE_MAX_ENVELOPE) {
		rp_seterr(err, "E_ENVELOPE", "envelope: %zu bytes, more than the %u-byte limit",
		          len, DSSE_MAX_ENVELOPE);
		goto out;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		log_escape(esc, sizeof(esc), je.text, strlen(je.text));
		rp_seterr(err, "E_ENVELOPE", "envelope: not valid JSON: %s (line %d, column %d)",
		          esc, je.line, je.column);
		goto out;
	}
	if (dsse_parse_root(root, env, err) < 0)
		goto out;
	ret = 0;
out:
	json_decref(root);
	if (ret < 0)
		dsse_envelope_free(env);
	return ret;
}

void dsse_envelope_free(struct dsse_envelope *env)
{
	if (env == NULL)
		return;
	for (size_t i = 0; i < env->n_sigs; i++) {
		free(env->sigs[i].keyid);
		free(env->sigs[i].sig);
	}
	free(env->payload_type);
	free(env->payload);
	memset(env, 0, sizeof(*env));
}

void dsse_verified_free(struct dsse_verified *v)
{
	if (v == NULL)
		return;
	free(v->payload);
	memset(v, 0, sizeof(*v));
}

/* Index of a not-yet-counted trusted key that made s, or -1.  The hint goes first. */
static int dsse_match(const struct dsse_sig *s, const struct trust_set *t, const unsigned char *pae,
                      size_t pae_len, const bool counted[])
{
	int hint = s->keyid[0] != '\0' ? keys_trust_find(t, s->keyid) : -1;

	if (hint >= 0 && !counted[hint] &&
	    keys_verify(&t->keys[hint], pae, pae_len, s->sig, s->sig_len))
		return hint;
	for (size_t j = 0; j < t->n_keys; j++) {
		if ((int)j == hint || counted[j])
			continue;
		if (keys_verify(&t->keys[j], pae, pae_len, s->sig, s->sig_len))
			return (int)j;
	}
	return -1;
}

static size_t dsse_count(const struct dsse_envelope *env, const struct trust_set *t,
                         const unsigned char *pae, size_t pae_len, bool counted[])
{
	size_t n = 0;
	int j;

	for (size_t i = 0; i < env->n_sigs && n < t->n_keys; i++) {
		if ((j = dsse_match(&env->sigs[i], t, pae, pae_len, counted)) >= 0) {
			counted[j] = true;
			n++;
		}
	}
	return n;
}

static int dsse_check_type(const struct dsse_envelope *env, const char *expected,
                           struct rp_err *err)
{
	char esc[DSSE_MAX_TYPE * 4 + 8], exp[DSSE_MAX_TYPE * 4 + 8];

	if (strcmp(env->payload_type, expected) == 0)
		return 0;
	log_escape(esc, sizeof(esc), env->payload_type, strlen(env->payload_type));
	log_escape(exp, sizeof(exp), expected, strlen(expected));
	return rp_seterr(err, "E_PAYLOAD_TYPE", "payloadType is \"%s\", expected \"%s\"", esc, exp);
}

static void dsse_fill(struct dsse_verified *out, struct dsse_envelope *env,
                      const struct trust_set *t, const bool counted[])
{
	out->payload = env->payload;
	out->payload_len = env->payload_len;
	env->payload = NULL;
	for (size_t j = 0; j < t->n_keys; j++)
		if (counted[j])
			memcpy(out->keyids[out->n_keyids++], t->keys[j].keyid,
			       sizeof(out->keyids[0]));
}

int dsse_verify(const void *buf, size_t len, const char *expected_type, const struct trust_set *t,
                struct dsse_verified *out, struct rp_err *err)
{
	struct dsse_envelope env;
	bool counted[KEYS_MAX_TRUSTED] = {false};
	unsigned char *pae = NULL;
	size_t pae_len = 0, n;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	memset(&env, 0, sizeof(env));
	if (t == NULL || t->n_keys == 0 || t->n_keys > KEYS_MAX_TRUSTED || t->threshold < 1 ||
	    (size_t)t->threshold > t->n_keys) {
		rp_seterr(err, "E_TRUST",
		          "no usable trust configuration (keys and a threshold "
		          "between 1 and the number of keys); nothing was verified");
		goto out;
	}
	if (dsse_parse(buf, len, &env, err) < 0 || dsse_check_type(&env, expected_type, err) < 0)
		goto out;
	if (dsse_pae(env.payload_type, env.payload, env.payload_len, &pae, &pae_len, err) < 0)
		goto out;
	n = dsse_count(&env, t, pae, pae_len, counted);
	if (n < (size_t)t->threshold) {
		rp_seterr(err, "E_SIGNATURE",
		          "signature threshold not met: %zu distinct trusted key(s) verified, %d "
		          "needed (the envelope has %zu signature(s); signatures by untrusted "
		          "keys, invalid signatures and repeats of one key do not count)",
		          n, t->threshold, env.n_sigs);
		goto out;
	}
	dsse_fill(out, &env, t, counted);
	ret = 0;
out:
	free(pae);
	dsse_envelope_free(&env);
	return ret;
}

static int dsse_check_signers(const struct rp_key *keys, size_t n_keys, struct rp_err *err)
{
	if (n_keys < 1 || n_keys > DSSE_MAX_SIGNATURES)
		return rp_seterr(err, "E_SIGN", "between 1 and %d signing keys are needed, not %zu",
		                 DSSE_MAX_SIGNATURES, n_keys);
	for (size_t i = 0; i < n_keys; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(keys[i].keyid, keys[j].keyid) == 0)
				return rp_seterr(err, "E_SIGN",
				                 "%s and %s are the same key; a second signature "
				                 "by one key would not count",
				                 keys[j].source, keys[i].source);
	return 0;
}

/* Appends {"keyid","sig"} made by k over pae to sigs. */
static int dsse_add_sig(json_t *sigs, const struct rp_key *k, const unsigned char *pae,
                        size_t pae_len, struct rp_err *err)
{
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	char *b64 = NULL;
	json_t *o = NULL;
	int ret = -1;

	if (keys_sign(k, pae, pae_len, &sig, &sig_len, err) < 0)
		goto out;
	if ((b64 = dsse_b64_encode(sig, sig_len)) == NULL || (o = json_object()) == NULL ||
	    json_object_set_new(o, "keyid", json_string(k->keyid)) < 0 ||
	    json_object_set_new(o, "sig", json_string(b64)) < 0 || json_array_append(sigs, o) < 0) {
		rp_seterr(err, "E_NOMEM", "out of memory building the envelope");
		goto out;
	}
	ret = 0;
out:
	json_decref(o);
	free(b64);
	free(sig);
	return ret;
}

static json_t *dsse_new_envelope(const char *type, const void *payload, size_t len,
                                 struct rp_err *err)
{
	json_t *root = json_object(), *jt = json_string(type);
	char *b64 = dsse_b64_encode(payload, len);

	if (jt == NULL) {
		rp_seterr(err, "E_SIGN", "the payload type is not valid UTF-8");
		goto fail;
	}
	if (root == NULL || b64 == NULL || json_object_set(root, "payloadType", jt) < 0 ||
	    json_object_set_new(root, "payload", json_string(b64)) < 0 ||
	    json_object_set_new(root, "signatures", json_array()) < 0) {
		rp_seterr(err, "E_NOMEM", "out of memory building the envelope");
		goto fail;
	}
	json_decref(jt);
	free(b64);
	return root;
fail:
	json_decref(jt);
	json_decref(root);
	free(b64);
	return NULL;
}

int dsse_sign(const void *payload, size_t len, const char *payload_type, const struct rp_key *keys,
              size_t n_keys, char **out_json, struct rp_err *err)
{
	unsigned char *pae = NULL;
	size_t pae_len = 0;
	json_t *root = NULL;
	int ret = -1;

	*out_json = NULL;
	if (dsse_check_signers(keys, n_keys, err) < 0)
		goto out;
	if (payload_type[0] == '\0' || strlen(payload_type) > DSSE_MAX_TYPE) {
		rp_seterr(err, "E_SIGN", "the payload type must have 1 to %d bytes", DSSE_MAX_TYPE);
		goto out;
	}
	if (len > DSSE_MAX_ENVELOPE / 4 * 3 - 65536) {
		rp_seterr(err, "E_SIGN",
		          "the payload is %zu bytes; its envelope would exceed the "
		          "%u-byte limit",
		          len, DSSE_MAX_ENVELOPE);
		goto out;
	}
	if ((root = dsse_new_envelope(payload_type, payload, len, err)) == NULL ||
	    dsse_pae(payload_type, payload, len, &pae, &pae_len, err) < 0)
		goto out;
	for (size_t i = 0; i < n_keys; i++)
		if (dsse_add_sig(json_object_get(root, "signatures"), &keys[i], pae, pae_len, err) <
		    0)
			goto out;
	if ((*out_json = json_dumps(root, JSON_INDENT(2))) == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory writing the envelope");
		goto out;
	}
	ret = 0;
out:
	free(pae);
	json_decref(root);
	return ret;
}
