/* SPDX-License-Identifier: ISC */
/*
 * Root documents and the root chain walk (TUF specification 5.3).  Fetched
 * envelopes are untrusted until dsse_verify() accepted them against the
 * trusted root's keys; only then is the payload parsed, and its own keys
 * must sign it too.  The pinned first root comes from root-owned
 * configuration; stored roots are re-verified from it on every load.
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dsse.h"
#include "policy_payload.h"
#include "root.h"

static const char *const root_fields[] = {
    "version",     "expires_at",       "org", "root_keys", "root_threshold",
    "policy_keys", "policy_threshold", NULL};

void root_free(struct root *r)
{
	if (r == NULL)
		return;
	keys_trust_free(&r->root_keys);
	keys_trust_free(&r->policy_keys);
	memset(r, 0, sizeof(*r));
}

static void root_sha256(const void *b, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(b, n, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int root_keyset(json_t *o, const char *kf, const char *tf, struct trust_set *t,
                       struct rp_err *err)
{
	json_t *a = json_object_get(o, kf), *th = json_object_get(o, tf), *v;
	char name[64];
	size_t i;

	keys_trust_init(t);
	if (!json_is_array(a) || json_array_size(a) < 1 || json_array_size(a) > KEYS_MAX_TRUSTED)
		return rp_seterr(err, "E_ROOT", "%s: must be an array of 1 to %d PEM public keys",
		                 kf, KEYS_MAX_TRUSTED);
	json_array_foreach (a, i, v) {
		struct rp_key k;
		int rc;
		if (!json_is_string(v))
			return rp_seterr(err, "E_ROOT", "%s[%zu]: must be a PEM string", kf, i);
		snprintf(name, sizeof(name), "%s[%zu]", kf, i);
		if (keys_load_public_mem(&k, json_string_value(v), json_string_length(v), name,
		                         err) < 0)
			return -1;
		rc = keys_trust_add_key(t, &k, err);
		keys_free(&k);
		if (rc < 0)
			return -1;
	}
	if (!json_is_integer(th))
		return rp_seterr(err, "E_ROOT", "%s: must be an integer", tf);
	if (json_integer_value(th) < 1 || json_integer_value(th) > (json_int_t)t->n_keys)
		return rp_seterr(err, "E_ROOT", "%s: %lld is outside 1..%zu (the number of %s)", tf,
		                 (long long)json_integer_value(th), t->n_keys, kf);
	return keys_trust_set_threshold(t, (int)json_integer_value(th), err);
}

static int root_fields_check(json_t *o, struct root *r, struct rp_err *err)
{
	json_t *ver = json_object_get(o, "version"), *org = json_object_get(o, "org"), *v;
	const char *k;

	json_object_foreach (o, k, v) {
		size_t i;
		for (i = 0; root_fields[i] != NULL && strcmp(root_fields[i], k) != 0; i++)
			;
		if (root_fields[i] == NULL)
			return rp_seterr(err, "E_ROOT", "%.64s: unknown field in the root document",
			                 k);
	}
	if (!json_is_integer(ver) || json_integer_value(ver) < 1)
		return rp_seterr(err, "E_ROOT", "version: must be a JSON integer >= 1");
	r->version = (int64_t)json_integer_value(ver);
	if (!json_is_string(json_object_get(o, "expires_at")) ||
	    policy_payload_parse_time(json_string_value(json_object_get(o, "expires_at")),
	                              &r->expires_at) < 0)
		return rp_seterr(err, "E_ROOT",
		                 "expires_at: must be a UTC time like "
		                 "2027-01-31T12:00:00Z");
	if (!json_is_string(org) || json_string_length(org) < 1 ||
	    json_string_length(org) >= sizeof(r->org) ||
	    strlen(json_string_value(org)) != json_string_length(org))
		return rp_seterr(err, "E_ROOT", "org: must be a string of 1 to 128 bytes");
	rp_strlcpy(r->org, json_string_value(org), sizeof(r->org));
	return 0;
}

int root_parse_payload(const void *buf, size_t len, struct root *r, struct rp_err *err)
{
	json_error_t je;
	json_t *o;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (len > ROOT_MAX_BYTES)
		return rp_seterr(err, "E_ROOT_TOO_BIG", "root payload of %zu bytes exceeds %u", len,
		                 ROOT_MAX_BYTES);
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		rp_seterr(err, "E_ROOT", "root payload: not a JSON object (%.80s)", je.text);
		goto out;
	}
	if (root_fields_check(o, r, err) < 0 ||
	    root_keyset(o, "root_keys", "root_threshold", &r->root_keys, err) < 0 ||
	    root_keyset(o, "policy_keys", "policy_threshold", &r->policy_keys, err) < 0)
		goto out;
	rc = 0;
out:
	json_decref(o);
	if (rc < 0)
		root_free(r);
	return rc;
}

/* Signed by a threshold of t?  E_ROOT_SIGNATURE names the set that fell short. */
static int root_signed_by(const void *env, size_t len, const struct trust_set *t, const char *which,
                          struct dsse_verified *v, struct rp_err *err)
{
	struct rp_err e;

	if (dsse_verify(env, len, ROOT_TYPE, t, v, &e) == 0)
		return 0;
	if (strcmp(e.code, "E_SIGNATURE") == 0)
		return rp_seterr(err, "E_ROOT_SIGNATURE",
		                 "the root is not signed by a threshold of "
		                 "%s: %s",
		                 which, e.msg);
	if (strcmp(e.code, "E_PAYLOAD_TYPE") == 0)
		return rp_seterr(err, "E_ROOT", "%s (a root has payloadType %s)", e.msg, ROOT_TYPE);
	return rp_seterr(err, e.code, "%s", e.msg);
}

/* Parses the payload of env (once verified) and checks it signs itself. */
static int root_self(const void *env, size_t len, struct dsse_verified *v, struct root *out,
                     struct rp_err *err)
{
	struct dsse_verified self;
	int rc;

	memset(&self, 0, sizeof(self));
	if (root_parse_payload(v->payload, v->payload_len, out, err) < 0)
		return -1;
	rc = root_signed_by(env, len, &out->root_keys, "its own root keys", &self, err);
	dsse_verified_free(&self);
	if (rc < 0) {
		root_free(out);
		return -1;
	}
	root_sha256(env, len, out->sha256);
	return 0;
}

int root_trust_first(const void *env, size_t len, const char *want_sha256, const char *org,
                     struct root *out, struct rp_err *err)
{
	struct dsse_envelope e;
	struct dsse_verified v;
	char sha[65];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	memset(&e, 0, sizeof(e));
	root_sha256(env, len, sha);
	if (want_sha256 != NULL && want_sha256[0] != '\0' && strcmp(sha, want_sha256) != 0)
		return rp_seterr(err, "E_ROOT_PIN",
		                 "the first root has sha256 %s, but "
		                 "policy.root_sha256 pins %s",
		                 sha, want_sha256);
	if (len > ROOT_MAX_BYTES)
		return rp_seterr(err, "E_ROOT_TOO_BIG", "root of %zu bytes exceeds %u", len,
		                 ROOT_MAX_BYTES);
	/* the pin vouches for the bytes; the payload is read to learn its keys, and
	 * then must carry a threshold of signatures by them */
	if (dsse_parse(env, len, &e, err) < 0)
		goto out;
	if (strcmp(e.payload_type, ROOT_TYPE) != 0) {
		rp_seterr(err, "E_ROOT", "the pinned root has payloadType %.64s, not %s",
		          e.payload_type, ROOT_TYPE);
		goto out;
	}
	v.payload = e.payload;
	v.payload_len = e.payload_len;
	rc = root_self(env, len, &v, out, err);
	v.payload = NULL;
	if (rc == 0 && org != NULL && strcmp(out->org, org) != 0) {
		rc = rp_seterr(err, "E_ORG",
		               "the root is for org \"%s\", this machine trusts \"%s\"", out->org,
		               org);
		root_free(out);
	}
out:
	dsse_envelope_free(&e);
	return rc;
}

int root_verify_next(const struct root *trusted, const void *env, size_t len, struct root *out,
                     struct rp_err *err)
{
	struct dsse_verified v;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	if (len > ROOT_MAX_BYTES)
		return rp_seterr(err, "E_ROOT_TOO_BIG",
		                 "root %lld of %zu bytes exceeds the %u-byte cap",
		                 (long long)trusted->version + 1, len, ROOT_MAX_BYTES);
	if (root_signed_by(env, len, &trusted->root_keys, "the trusted root's keys", &v, err) < 0)
		goto out;
	if (root_self(env, len, &v, out, err) < 0)
		goto out;
	if (out->version != trusted->version + 1) {
		rp_seterr(err, "E_ROOT_VERSION",
		          "root version %lld offered where %lld was expected "
		          "(versions go up by exactly one)",
		          (long long)out->version, (long long)trusted->version + 1);
		root_free(out);
		goto out;
	}
	if (strcmp(out->org, trusted->org) != 0) {
		rp_seterr(err, "E_ORG", "root %lld is for org \"%s\", not \"%s\"",
		          (long long)out->version, out->org, trusted->org);
		root_free(out);
		goto out;
	}
	rc = 0;
out:
	dsse_verified_free(&v);
	return rc;
}

void root_chain_free(struct root_chain *c)
{
	if (c == NULL)
		return;
	root_free(&c->cur);
	for (size_t i = 0; i < c->n; i++)
		free(c->raw[i].raw);
	free(c->raw);
	memset(c, 0, sizeof(*c));
}

static int root_chain_push(struct root_chain *c, int64_t version, const void *env, size_t len,
                           struct rp_err *err)
{
	struct store_root *g;

	if (c->n >= STORE_MAX_ROOTS)
		return rp_seterr(err, "E_ROOT_CHAIN", "the root chain would exceed %d roots",
		                 STORE_MAX_ROOTS);
	if ((g = realloc(c->raw, (c->n + 1) * sizeof(*g))) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	c->raw = g;
	if ((g[c->n].raw = malloc(len + 1)) == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	memcpy(g[c->n].raw, env, len);
	g[c->n].raw[len] = '\0';
	g[c->n].len = len;
	g[c->n].version = version;
	c->n++;
	return 0;
}

/* Replaces c->cur by next (ownership moves). */
static void root_chain_advance(struct root_chain *c, struct root *next)
{
	root_free(&c->cur);
	c->cur = *next;
	memset(next, 0, sizeof(*next));
}

static int root_chain_first(const void *pinned, size_t pinned_len, const char *want_sha256,
                            const char *org, const struct store_root *stored, size_t n_stored,
                            root_fetch_fn fetch, void *arg, struct root_chain *c,
                            struct rp_err *err)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int rc;

	if (pinned != NULL)
		rc = root_trust_first(pinned, pinned_len, want_sha256, org, &c->cur, err);
	else if (n_stored > 0)
		rc = root_trust_first(stored[0].raw, stored[0].len, want_sha256, org, &c->cur, err);
	else if (fetch == NULL)
		return rp_seterr(err, "E_ROOT_PIN",
		                 "no first root: it is pinned by sha256 only and "
		                 "none is stored yet");
	else if ((rc = fetch(arg, 1, &buf, &len, err)) == 1)
		return rp_seterr(err, "E_ROOT_PIN", "the first root (1.root.json) was not found");
	else if (rc == 0)
		rc = root_trust_first(buf, len, want_sha256, org, &c->cur, err);
	if (rc == 0)
		rc = pinned != NULL ? root_chain_push(c, c->cur.version, pinned, pinned_len, err)
		     : buf != NULL
		         ? root_chain_push(c, c->cur.version, buf, len, err)
		         : root_chain_push(c, c->cur.version, stored[0].raw, stored[0].len, err);
	free(buf);
	return rc;
}

int root_chain_load(const void *pinned, size_t pinned_len, const char *want_sha256, const char *org,
                    const struct store_root *stored, size_t n_stored, root_fetch_fn fetch,
                    void *arg, struct root_chain *out, struct rp_err *err)
{
	struct root next;
	char sha[65];
	size_t i = 1;

	memset(out, 0, sizeof(*out));
	if (root_chain_first(pinned, pinned_len, want_sha256, org, stored, n_stored, fetch, arg,
	                     out, err) < 0)
		goto fail;
	if (n_stored > 0) {
		root_sha256(stored[0].raw, stored[0].len, sha);
		if (strcmp(sha, out->cur.sha256) != 0)
			n_stored = 0; /* the pin changed: the stored chain is not ours to trust */
	}
	for (; i < n_stored; i++) {
		if (root_verify_next(&out->cur, stored[i].raw, stored[i].len, &next, err) < 0) {
			char why[sizeof(err->msg)];
			rp_strlcpy(why, err->msg, sizeof(why));
			rp_seterr(err, "E_ROOT_STORED",
			          "stored root %zu does not follow from the pinned "
			          "root (%s)",
			          i + 1, why);
			goto fail;
		}
		root_chain_advance(out, &next);
		if (root_chain_push(out, out->cur.version, stored[i].raw, stored[i].len, err) < 0)
			goto fail;
	}
	return 0;
fail:
	root_chain_free(out);
	return -1;
}

int root_walk(struct root_chain *c, root_fetch_fn fetch, void *arg, size_t max_new, int64_t now,
              struct rp_err *err)
{
	struct root_chain w = {0};
	struct root next;
	char when[32];
	int rc;

	/* work on a copy: any failure leaves *c exactly as it was */
	if (root_chain_load(c->raw[0].raw, c->raw[0].len, NULL, c->cur.org, c->raw, c->n, NULL,
	                    NULL, &w, err) < 0)
		return -1;
	for (;;) {
		unsigned char *buf = NULL;
		size_t len = 0;
		rc = fetch(arg, w.cur.version + 1, &buf, &len, err);
		if (rc == 1)
			break;
		if (rc == 0 && w.n_new >= max_new) {
			rc = rp_seterr(err, "E_ROOT_CHAIN",
			               "more than %zu new roots in one refresh "
			               "(root %lld is there too); the chain is endless or the cap "
			               "(policy.max_root_rotations) too low",
			               max_new, (long long)w.cur.version + 1);
		} else if (rc == 0 && (rc = root_verify_next(&w.cur, buf, len, &next, err)) == 0) {
			root_chain_advance(&w, &next);
			rc = root_chain_push(&w, w.cur.version, buf, len, err);
			w.n_new++;
		}
		free(buf);
		if (rc < 0)
			goto fail;
	}
	if (now >= w.cur.expires_at) {
		policy_payload_format_time(w.cur.expires_at, when, sizeof(when));
		rp_seterr(err, "E_ROOT_EXPIRED", "the newest root (version %lld) expired at %s",
		          (long long)w.cur.version, when);
		goto fail;
	}
	root_chain_free(c);
	*c = w;
	return 0;
fail:
	root_chain_free(&w);
	return -1;
}
