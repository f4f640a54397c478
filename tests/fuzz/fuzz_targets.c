/* SPDX-License-Identifier: ISC */
/*
 * Fuzz entry points for the pure parsers: frame decoder, DSSE envelope
 * parser and verifier, policy payload validator (plus the decision index
 * built from it), image reference normaliser and hosts-file editor.  The
 * input is arbitrary bytes; besides "never crash" each entry checks the
 * parser's own promises (round trips, idempotence, bytes preserved) and
 * aborts through fuzz_fail() when one is broken.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "dsse.h"
#include "frame.h"
#include "fuzz.h"
#include "hosts.h"
#include "keys.h"
#include "policy_match.h"
#include "policy_payload.h"
#include "reference.h"
#include "root.h"

const char *fuzz_current_input;

void fuzz_fail(const char *target, const char *what)
{
	fprintf(stderr, "fuzz_%s: property broken: %s%s%s\n", target, what,
	        fuzz_current_input ? " -- input " : "",
	        fuzz_current_input ? fuzz_current_input : "");
	fflush(stderr);
	abort();
}

#define FUZZ_CHECK(target, cond)                                                                   \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(target, #cond);                                                  \
	} while (0)

/* An exact-size heap copy so ASan sees any read past the input. */
static char *fuzz_dup(const uint8_t *d, size_t n, bool nul)
{
	char *p = malloc(n + (nul ? 1 : 0) + (n == 0 && !nul ? 1 : 0));

	if (p == NULL)
		abort();
	if (n > 0)
		memcpy(p, d, n);
	if (nul)
		p[n] = '\0';
	return p;
}

/* ---- frame -------------------------------------------------------------- */

/* One decoded frame at buf: every shorter prefix must be "need more". */
static void fuzz_frame_one(const uint8_t *buf, size_t len, size_t max, size_t off, size_t plen,
                           size_t total)
{
	size_t o2, p2, t2;
	uint8_t hdr[FRAME_HDR];
	size_t cuts[] = {0, 1, FRAME_HDR - 1, FRAME_HDR, total - 1};

	FUZZ_CHECK("frame", off == FRAME_HDR && plen >= 1 && plen <= max && plen <= FRAME_MAX);
	FUZZ_CHECK("frame", total == off + plen && total <= len);
	FUZZ_CHECK("frame", plen == frame_length(buf));
	frame_header(hdr, plen);
	FUZZ_CHECK("frame", memcmp(hdr, buf, FRAME_HDR) == 0);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (cuts[i] >= total)
			continue;
		FUZZ_CHECK("frame", frame_decode(buf, cuts[i], max, &o2, &p2, &t2, NULL) == 0);
	}
}

int fuzz_frame(const uint8_t *d, size_t n)
{
	size_t max, pos = 0, off, plen, total;
	struct rp_err e;
	uint8_t *buf;

	if (n < 2)
		return 0;
	max = 1 + ((size_t)d[0] << 8 | d[1]); /* 1 .. 65536 */
	buf = (uint8_t *)fuzz_dup(d + 2, n - 2, false);
	n -= 2;
	while (pos < n) {
		int r;
		memset(&e, 0, sizeof(e));
		r = frame_decode(buf + pos, n - pos, max, &off, &plen, &total, &e);
		if (r == 0) {
			FUZZ_CHECK("frame", n - pos < FRAME_HDR ||
			                        n - pos - FRAME_HDR < frame_length(buf + pos));
			break;
		}
		if (r < 0) {
			uint32_t l = frame_length(buf + pos);
			FUZZ_CHECK("frame", l == 0 || l > max);
			FUZZ_CHECK("frame", strcmp(e.code, "E_FRAME") == 0 ||
			                        strcmp(e.code, "E_TOO_BIG") == 0);
			/* the header alone decides: four bytes give the same verdict */
			FUZZ_CHECK("frame", frame_decode(buf + pos, FRAME_HDR, max, &off, &plen,
			                                 &total, NULL) < 0);
			break;
		}
		FUZZ_CHECK("frame", r == 1);
		fuzz_frame_one(buf + pos, n - pos, max, off, plen, total);
		pos += total;
	}
	free(buf);
	return 0;
}

/* ---- image references -------------------------------------------------------- */

static bool fuzz_has_upper(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			return true;
	return false;
}

static void fuzz_ref_same(const struct ref_parsed *a, const struct ref_parsed *b)
{
	FUZZ_CHECK("reference", strcmp(a->normalized, b->normalized) == 0);
	FUZZ_CHECK("reference", strcmp(a->domain, b->domain) == 0 && a->port == b->port);
	FUZZ_CHECK("reference", strcmp(a->path, b->path) == 0);
	FUZZ_CHECK("reference", strcmp(a->digest, b->digest) == 0);
	FUZZ_CHECK("reference", a->is_docker_hub == b->is_docker_hub);
	/* a reference without tag or digest gets ":latest" once, then keeps it */
	FUZZ_CHECK("reference", strcmp(a->tag, b->tag) == 0 ||
	                            (a->tag[0] == '\0' && strcmp(b->tag, "latest") == 0));
}

static void fuzz_ref_valid(const struct ref_parsed *a)
{
	FUZZ_CHECK("reference", a->normalized[0] != '\0' && a->path[0] != '\0');
	FUZZ_CHECK("reference", strlen(a->normalized) < REF_MAX_NORMALIZED);
	FUZZ_CHECK("reference", strlen(a->path) <= REF_MAX_PATH && !fuzz_has_upper(a->path));
	FUZZ_CHECK("reference", !fuzz_has_upper(a->domain));
	FUZZ_CHECK("reference", a->port <= 65535);
	FUZZ_CHECK("reference",
	           !a->is_docker_hub || (strcmp(a->domain, REF_HUB_DOMAIN) == 0 && a->port == 0 &&
	                                 strchr(a->path, '/') != NULL));
	FUZZ_CHECK("reference", a->digest[0] == '\0' || strlen(a->digest) == REF_DIGEST_LEN);
}

/* A canonical "host[:port]" parses back to itself. */
static void fuzz_ref_domain(const uint8_t *d, size_t n)
{
	char *s = fuzz_dup(d, n, false);
	char host[REF_MAX_DOMAIN + 1], host2[REF_MAX_DOMAIN + 1], again[REF_MAX_DOMAIN + 16];
	unsigned port = 0, port2 = 0;
	int len;

	if (ref_parse_domain(s, n, host, &port, NULL) == 0) {
		FUZZ_CHECK("reference", host[0] != '\0' && port <= 65535);
		len = port ? snprintf(again, sizeof(again), "%s:%u", host, port)
		           : snprintf(again, sizeof(again), "%s", host);
		FUZZ_CHECK("reference", len > 0 && (size_t)len < sizeof(again));
		FUZZ_CHECK("reference",
		           ref_parse_domain(again, (size_t)len, host2, &port2, NULL) == 0);
		FUZZ_CHECK("reference", strcmp(host, host2) == 0 && port == port2);
	}
	(void)ref_check_path(s, n, NULL);
	free(s);
}

int fuzz_reference(const uint8_t *d, size_t n)
{
	struct ref_parsed a, b;
	struct rp_err e;
	char *s;

	if (n > REF_MAX_INPUT + 64)
		return 0;
	s = fuzz_dup(d, n, true);
	memset(&e, 0, sizeof(e));
	if (ref_normalize(s, &a, &e) == 0) {
		fuzz_ref_valid(&a);
		memset(&e, 0, sizeof(e));
		if (ref_normalize(a.normalized, &b, &e) != 0) {
			fprintf(stderr, "normalize(%s) = %s fails: %s\n", s, a.normalized, e.msg);
			fuzz_fail("reference", "normalize(normalize(x)) must succeed");
		}
		fuzz_ref_same(&a, &b);
	} else {
		FUZZ_CHECK("reference", strcmp(e.code, "E_REF") == 0 && e.msg[0] != '\0');
		FUZZ_CHECK("reference", a.normalized[0] == '\0' && a.domain[0] == '\0');
	}
	free(s);
	fuzz_ref_domain(d, n);
	return 0;
}

/* ---- DSSE ------------------------------------------------------------------- */

/* The public keys of tests/vectors/dsse (their private halves were discarded). */
static const char *const fuzz_vector_keys[] = {
    "MCowBQYDK2VwAyEAP9Jaz4vUNUSByEmA4EiBBH3UQK8A2b5GxnovpU3jKEc=",
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE98CIM2LG1cRAufoFYZWnGptdKKzAw7JG60Tayz0inZzRS3nF"
    "/rixmDwukCEZDOfiVODo1QWMJXXVW+qZ2XCYvg==",
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZ805D3eqNZywjCI19lInBJOp7YMrCrzAH3CVTAOQ0jgMeCvVTia"
    "RJaRPRDOv8UMs6U4SvKc6pnrIDOoSYI3fdA==",
};
#define FUZZ_NKEYS (sizeof(fuzz_vector_keys) / sizeof(fuzz_vector_keys[0]))
#define FUZZ_HELLO_TYPE "http://example.com/HelloWorld"

struct fuzz_dsse_state {
	struct trust_set t1, t2; /* vector keys, threshold 1 and 2 */
	struct trust_set self;   /* a key made at start, for sign/verify round trips */
	struct rp_key signer;
};

static void fuzz_dsse_load(struct fuzz_dsse_state *s)
{
	char pem[512];
	struct rp_key k;
	struct rp_err e;
	EVP_PKEY *pk;

	keys_trust_init(&s->t1);
	keys_trust_init(&s->t2);
	keys_trust_init(&s->self);
	for (size_t i = 0; i < FUZZ_NKEYS; i++) {
		snprintf(pem, sizeof(pem),
		         "-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n",
		         fuzz_vector_keys[i]);
		if (keys_load_public_mem(&k, pem, strlen(pem), "vector", &e) < 0 ||
		    keys_trust_add_key(&s->t1, &k, &e) < 0 ||
		    keys_trust_add_key(&s->t2, &k, &e) < 0)
			fuzz_fail("dsse", e.msg);
		keys_free(&k);
	}
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL || keys_from_pkey(&s->signer, pk, true, "fuzz", &e) < 0 ||
	    keys_trust_add_key(&s->self, &s->signer, &e) < 0 ||
	    keys_trust_set_threshold(&s->t1, 1, &e) < 0 ||
	    keys_trust_set_threshold(&s->t2, 2, &e) < 0 ||
	    keys_trust_set_threshold(&s->self, 1, &e) < 0)
		fuzz_fail("dsse", "cannot set up the trust sets");
	EVP_PKEY_free(pk);
}

/* Process-wide; freed at exit so leak checkers stay quiet. */
static struct fuzz_dsse_state *fuzz_dsse_st;

static void fuzz_dsse_free(void)
{
	if (fuzz_dsse_st == NULL)
		return;
	keys_trust_free(&fuzz_dsse_st->t1);
	keys_trust_free(&fuzz_dsse_st->t2);
	keys_trust_free(&fuzz_dsse_st->self);
	keys_free(&fuzz_dsse_st->signer);
	free(fuzz_dsse_st);
	fuzz_dsse_st = NULL;
}

static struct fuzz_dsse_state *fuzz_dsse_get(void)
{
	if (fuzz_dsse_st == NULL) {
		if ((fuzz_dsse_st = calloc(1, sizeof(*fuzz_dsse_st))) == NULL)
			abort();
		fuzz_dsse_load(fuzz_dsse_st);
		atexit(fuzz_dsse_free);
	}
	return fuzz_dsse_st;
}

static bool fuzz_code_is(const struct rp_err *e, const char *const *codes)
{
	for (; *codes != NULL; codes++)
		if (strcmp(e->code, *codes) == 0)
			return true;
	return false;
}

/* Envelope invariants; returns the parse result. */
static int fuzz_dsse_parse(const char *buf, size_t n, struct dsse_envelope *env)
{
	static const char *const codes[] = {"E_ENVELOPE", "E_NOMEM", NULL};
	struct rp_err e;
	int r;

	memset(&e, 0, sizeof(e));
	r = dsse_parse(buf, n, env, &e);
	if (r < 0) {
		FUZZ_CHECK("dsse",
		           fuzz_code_is(&e, codes) && env->n_sigs == 0 && env->payload == NULL);
		return r;
	}
	FUZZ_CHECK("dsse", env->n_sigs >= 1 && env->n_sigs <= DSSE_MAX_SIGNATURES);
	FUZZ_CHECK("dsse", env->payload_type != NULL && strlen(env->payload_type) <= DSSE_MAX_TYPE);
	FUZZ_CHECK("dsse", env->payload != NULL && env->payload_len <= n);
	for (size_t i = 0; i < env->n_sigs; i++)
		FUZZ_CHECK("dsse", env->sigs[i].sig_len >= 1 &&
		                       env->sigs[i].sig_len <= DSSE_MAX_SIG &&
		                       env->sigs[i].keyid != NULL);
	return 0;
}

/* Verifies buf against t; on success the payload must be the parsed one. */
static void fuzz_dsse_verify(const char *buf, size_t n, const char *type, const struct trust_set *t,
                             const struct dsse_envelope *env, int parsed)
{
	static const char *const codes[] = {"E_ENVELOPE", "E_PAYLOAD_TYPE", "E_SIGNATURE",
	                                    "E_NOMEM", NULL};
	struct dsse_verified v;
	struct policy p;
	struct rp_err e;

	memset(&e, 0, sizeof(e));
	if (dsse_verify(buf, n, type, t, &v, &e) < 0) {
		FUZZ_CHECK("dsse", fuzz_code_is(&e, codes) && v.payload == NULL);
		return;
	}
	FUZZ_CHECK("dsse", parsed == 0 && strcmp(env->payload_type, type) == 0);
	FUZZ_CHECK("dsse", v.payload_len == env->payload_len &&
	                       memcmp(v.payload, env->payload, v.payload_len) == 0);
	FUZZ_CHECK("dsse", v.n_keyids >= (size_t)t->threshold && v.n_keyids <= t->n_keys);
	/* what the daemon does next with verified bytes */
	if (policy_payload_parse(v.payload, v.payload_len, &p, NULL) == 0)
		policy_free(&p);
	dsse_verified_free(&v);
}

/* Strict base64: decode(encode(x)) == x, and a decoded string re-encodes canonically. */
static void fuzz_dsse_b64(const uint8_t *d, size_t n)
{
	unsigned char *out = NULL, *back = NULL;
	size_t olen = 0, blen = 0;
	const char *why = NULL;
	char *enc = dsse_b64_encode(d, n), *enc2;

	FUZZ_CHECK("dsse", enc != NULL);
	FUZZ_CHECK("dsse", dsse_b64_decode(enc, strlen(enc), &back, &blen, &why) == 0);
	FUZZ_CHECK("dsse", blen == n && (n == 0 || memcmp(back, d, n) == 0));
	free(back);
	free(enc);
	if (dsse_b64_decode((const char *)d, n, &out, &olen, &why) == 0) {
		FUZZ_CHECK("dsse", olen <= n);
		enc2 = dsse_b64_encode(out, olen);
		FUZZ_CHECK("dsse", enc2 != NULL);
		FUZZ_CHECK("dsse", dsse_b64_decode(enc2, strlen(enc2), &back, &blen, &why) == 0);
		FUZZ_CHECK("dsse", blen == olen && (olen == 0 || memcmp(back, out, olen) == 0));
		free(back);
		free(enc2);
		free(out);
	} else {
		FUZZ_CHECK("dsse", out == NULL && why != NULL);
	}
}

/* Signing any bytes and verifying the result gives the same bytes back. */
static void fuzz_dsse_roundtrip(struct fuzz_dsse_state *s, const uint8_t *d, size_t n)
{
	struct dsse_verified v;
	struct rp_err e;
	char *json = NULL;

	if (dsse_sign(d, n, DSSE_POLICY_TYPE, &s->signer, 1, &json, &e) < 0)
		fuzz_fail("dsse", e.msg);
	if (dsse_verify(json, strlen(json), DSSE_POLICY_TYPE, &s->self, &v, &e) < 0)
		fuzz_fail("dsse", e.msg);
	FUZZ_CHECK("dsse", v.payload_len == n && (n == 0 || memcmp(v.payload, d, n) == 0));
	FUZZ_CHECK("dsse", v.n_keyids == 1 && strcmp(v.keyids[0], s->signer.keyid) == 0);
	dsse_verified_free(&v);
	free(json);
}

int fuzz_dsse(const uint8_t *d, size_t n)
{
	struct fuzz_dsse_state *s = fuzz_dsse_get();
	struct dsse_envelope env;
	char *buf;
	int parsed;

	if (n > 256 * 1024)
		return 0;
	buf = fuzz_dup(d, n, false);
	parsed = fuzz_dsse_parse(buf, n, &env);
	fuzz_dsse_verify(buf, n, DSSE_POLICY_TYPE, &s->t1, &env, parsed);
	fuzz_dsse_verify(buf, n, DSSE_POLICY_TYPE, &s->t2, &env, parsed);
	fuzz_dsse_verify(buf, n, FUZZ_HELLO_TYPE, &s->t1, &env, parsed);
	dsse_envelope_free(&env);
	free(buf);
	fuzz_dsse_b64(d, n);
	if ((n & 15) == 0 && n <= 4096) /* a sample: signing is slow */
		fuzz_dsse_roundtrip(s, d, n);
	return 0;
}

/* ---- policy payload ------------------------------------------------------------ */

static void fuzz_payload_valid(const struct policy *p)
{
	int64_t t = 0;
	char buf[32];

	FUZZ_CHECK("payload",
	           p->org != NULL && strlen(p->org) >= 1 && strlen(p->org) <= POLICY_MAX_ORG);
	FUZZ_CHECK("payload", p->version >= 1 && p->expires_at > p->issued_at);
	FUZZ_CHECK("payload", p->n_registries <= POLICY_MAX_REGISTRIES);
	FUZZ_CHECK("payload", p->n_registries == 0 || p->registries != NULL);
	policy_payload_format_time(p->issued_at, buf, sizeof(buf));
	FUZZ_CHECK("payload", policy_payload_parse_time(buf, &t) == 0 && t == p->issued_at);
	policy_payload_format_time(p->expires_at, buf, sizeof(buf));
	FUZZ_CHECK("payload", policy_payload_parse_time(buf, &t) == 0 && t == p->expires_at);
	for (size_t i = 0; i < p->n_registries; i++) {
		const struct policy_registry *r = &p->registries[i];
		enum policy_kind k;
		const char *why;
		FUZZ_CHECK("payload", r->host != NULL && r->nickname != NULL);
		FUZZ_CHECK("payload", strlen(r->nickname) <= POLICY_MAX_NICKNAME);
		if (r->kind == POLICY_PREFIX) {
			/* schema 2: host/path/ with the trailing '/', never a wildcard */
			FUZZ_CHECK("payload", p->schema_version == 2 && r->host[0] != '*');
			FUZZ_CHECK("payload", strchr(r->host, '/') != NULL &&
			                          r->host[strlen(r->host) - 1] == '/');
			FUZZ_CHECK("payload", strlen(r->host) <= POLICY_MAX_RULE);
		} else {
			FUZZ_CHECK("payload", policy_payload_check_host(r->host, &k, &why) == 0);
			FUZZ_CHECK("payload", k == r->kind);
		}
		FUZZ_CHECK("payload", p->schema_version == 2 ||
		                          (r->action == POLICY_ALLOW && r->mode == POLICY_ENFORCE));
		/* companions: schema 2 allow rules only, bounded, each a valid host[:port] name */
		FUZZ_CHECK("payload", r->n_companions == 0 ||
		                          (p->schema_version == 2 && r->action == POLICY_ALLOW &&
		                           r->n_companions <= POLICY_MAX_COMPANIONS));
		for (size_t c = 0; c < r->n_companions; c++)
			FUZZ_CHECK("payload",
			           policy_payload_check_companion(r->companions[c], &why) == 0);
		for (size_t j = 0; j < i && j < 64; j++)
			FUZZ_CHECK("payload", strcmp(p->registries[j].host, r->host) != 0 ||
			                          p->registries[j].action != r->action);
	}
}

/* An allowed companion is one listed by an enforced allow rule (or Docker Hub's list). */
static void fuzz_payload_companion(const struct policy_index *idx, const struct policy *p,
                                   const char *comp)
{
	char host[POLICY_MAX_COMPANION + 1], *colon;
	unsigned port = 443;
	struct rampart_companion c;
	bool found = false;

	snprintf(host, sizeof(host), "%s", comp);
	if ((colon = strchr(host, ':')) != NULL) {
		*colon = '\0';
		port = (unsigned)strtoul(colon + 1, NULL, 10);
	}
	FUZZ_CHECK("payload", policy_companion(idx, host, port, 443, &c) == 0);
	if (!c.allowed)
		return;
	found = c.hub && p->allow_docker_hub && strcmp(c.rule, POLICY_HUB_RULE) == 0;
	for (size_t i = 0; !found && i < p->n_registries; i++) {
		const struct policy_registry *r = &p->registries[i];
		if (r->action != POLICY_ALLOW || r->mode != POLICY_ENFORCE ||
		    strcmp(r->host, c.rule) != 0)
			continue;
		for (size_t k = 0; !found && k < r->n_companions; k++)
			found = strcmp(r->companions[k], c.companion) == 0;
	}
	FUZZ_CHECK("payload", found);
}

/*
 * A reference under an enforced allow rule is allowed, unless a deny rule
 * decided; one under an enforced deny rule is denied, unless another (more
 * specific) rule decided.  Warn rules never decide.
 */
static void fuzz_payload_match_one(const struct policy_index *idx, const struct policy_registry *r)
{
	char ref[REF_MAX_INPUT], want[REF_MAX_DOMAIN + 16];
	struct ref_parsed rp;
	struct rampart_decision dc;
	const char *host = r->kind == POLICY_WILDCARD ? r->host + 1 : r->host;

	if (r->mode == POLICY_WARN)
		return;
	if (r->kind == POLICY_PREFIX) {
		snprintf(ref, sizeof(ref), "%sapp:1", r->host);
		if (ref_normalize(ref, &rp, NULL) != 0)
			return;
		memset(&dc, 0, sizeof(dc));
		policy_decide(idx, false, &rp, (int64_t)time(NULL), &dc);
		FUZZ_CHECK("payload", r->action == POLICY_DENY
		                          ? (!dc.allowed || strcmp(dc.rule, r->host) != 0)
		                          : (dc.allowed || dc.denied_by_rule));
		return;
	}
	snprintf(ref, sizeof(ref), "%s%s/fuzz/app:1", r->kind == POLICY_WILDCARD ? "x" : "", host);
	if (ref_normalize(ref, &rp, NULL) != 0 || rp.is_docker_hub)
		return;
	if (rp.port)
		snprintf(want, sizeof(want), "%s:%u", rp.domain, rp.port);
	else
		snprintf(want, sizeof(want), "%s", rp.domain);
	if (strcmp(want, ref) == 0 || strncmp(ref, want, strlen(want)) != 0 ||
	    ref[strlen(want)] != '/')
		return; /* the host did not survive normalisation as typed */
	memset(&dc, 0, sizeof(dc));
	policy_decide(idx, false, &rp, (int64_t)time(NULL), &dc);
	if (r->action == POLICY_DENY) {
		FUZZ_CHECK("payload", !dc.allowed || strcmp(dc.rule, r->host) != 0);
	} else if (!dc.allowed && !dc.denied_by_rule) {
		fprintf(stderr, "entry %s, ref %s: %s\n", r->host, ref, dc.reason);
		fuzz_fail("payload", "a reference to a listed registry must be allowed");
	}
}

static void fuzz_payload_match(const struct policy *p)
{
	struct policy_index *idx = NULL;
	struct rampart_decision dc;
	struct rp_err e;

	if (policy_index_build(p, &idx, &e) < 0)
		fuzz_fail("payload", e.msg);
	FUZZ_CHECK("payload", policy_index_version(idx) == p->version);
	for (size_t i = 0; i < p->n_registries && i < 64; i++) {
		fuzz_payload_match_one(idx, &p->registries[i]);
		for (size_t c = 0; c < p->registries[i].n_companions && c < 8; c++)
			fuzz_payload_companion(idx, p, p->registries[i].companions[c]);
	}
	memset(&dc, 0, sizeof(dc));
	if (policy_check(idx, false, "docker.io/library/alpine", 0, &dc) == 0)
		FUZZ_CHECK("payload", dc.policy_version == p->version);
	policy_index_free(idx);
}

int fuzz_payload(const uint8_t *d, size_t n)
{
	static const char *const codes[] = {"E_PAYLOAD", "E_SCHEMA_VERSION", "E_NOMEM", NULL};
	struct policy p;
	struct rp_err e;
	char *buf;

	if (n > 1024 * 1024)
		return 0;
	buf = fuzz_dup(d, n, false);
	memset(&e, 0, sizeof(e));
	if (policy_payload_parse(buf, n, &p, &e) == 0) {
		fuzz_payload_valid(&p);
		fuzz_payload_match(&p);
		policy_free(&p);
	} else {
		FUZZ_CHECK("payload", fuzz_code_is(&e, codes) && e.msg[0] != '\0');
		FUZZ_CHECK("payload", p.org == NULL && p.registries == NULL && p.n_registries == 0);
	}
	free(buf);
	return 0;
}

/* ---- root documents -------------------------------------------------------------- */

/*
 * A root payload (or, after byte 0x01, a root envelope offered as root 2
 * after a fixed trusted root 1): never crashes, refuses with a known code,
 * and an accepted payload keeps its limits.  Fuzz input can never be signed
 * by the trusted key, so root_verify_next must refuse it.
 */
int fuzz_root(const uint8_t *d, size_t n)
{
	static const char *const codes[] = {
	    "E_ROOT",  "E_ROOT_TOO_BIG", "E_KEY_FILE",     "E_KEY_TYPE",       "E_TRUST",
	    "E_NOMEM", "E_ENVELOPE",     "E_PAYLOAD_TYPE", "E_ROOT_SIGNATURE", NULL};
	static struct root trusted;
	static bool have;
	struct root r;
	struct rp_err e;
	char *buf;

	if (!have) {
		EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		struct rp_key k;
		if (pk == NULL || keys_from_pkey(&k, pk, false, "fuzz", &e) < 0 ||
		    keys_trust_add_key(&trusted.root_keys, &k, &e) < 0 ||
		    keys_trust_set_threshold(&trusted.root_keys, 1, &e) < 0)
			abort();
		keys_free(&k);
		EVP_PKEY_free(pk);
		trusted.version = 1;
		rp_strlcpy(trusted.org, "acme", sizeof(trusted.org));
		have = true;
	}
	if (n > 2 * ROOT_MAX_BYTES)
		return 0;
	memset(&e, 0, sizeof(e));
	if (n > 0 && d[0] == 0x01) {
		buf = fuzz_dup(d + 1, n - 1, false);
		FUZZ_CHECK("root", root_verify_next(&trusted, buf, n - 1, &r, &e) < 0);
		FUZZ_CHECK("root", fuzz_code_is(&e, codes) && e.msg[0] != '\0');
		free(buf);
		return 0;
	}
	buf = fuzz_dup(d, n, false);
	if (root_parse_payload(buf, n, &r, &e) == 0) {
		FUZZ_CHECK("root", r.version >= 1 && r.root_keys.n_keys >= 1 &&
		                       r.root_keys.n_keys <= KEYS_MAX_TRUSTED);
		FUZZ_CHECK("root", r.root_keys.threshold >= 1 &&
		                       (size_t)r.root_keys.threshold <= r.root_keys.n_keys);
		FUZZ_CHECK("root", r.policy_keys.threshold >= 1 &&
		                       (size_t)r.policy_keys.threshold <= r.policy_keys.n_keys);
		root_free(&r);
	} else {
		FUZZ_CHECK("root", fuzz_code_is(&e, codes) && e.msg[0] != '\0');
	}
	free(buf);
	return 0;
}

/* ---- hosts file -------------------------------------------------------------- */

static const struct hosts_name fuzz_names[] = {
    {"rampart.test", "127.0.0.1"},
    {"registry.local", "::1"},
    {"host.docker.internal", "127.0.0.1"},
};

struct fuzz_text {
	char *p;
	size_t n;
};

/* The text without our block (marker lines compared with trailing blanks cut). */
static bool fuzz_is_marker(const char *l, size_t len, const char *m)
{
	size_t ml = strlen(m);

	while (len > 0 && (l[len - 1] == '\n' || l[len - 1] == '\r' || l[len - 1] == ' ' ||
	                   l[len - 1] == '\t' || l[len - 1] == '\v' || l[len - 1] == '\f'))
		len--;
	return len == ml && memcmp(l, m, ml) == 0;
}

static struct fuzz_text fuzz_strip_block(const char *in, size_t len)
{
	struct fuzz_text t = {fuzz_dup((const uint8_t *)in, len, false), 0};
	bool inside = false;
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t ll = nl != NULL ? (size_t)(nl - (in + i)) + 1 : len - i;
		bool begin = fuzz_is_marker(in + i, ll, HOSTS_BEGIN);
		bool end = fuzz_is_marker(in + i, ll, HOSTS_END);
		if (!inside && !begin) {
			memcpy(t.p + t.n, in + i, ll);
			t.n += ll;
		}
		if (begin)
			inside = true;
		else if (end)
			inside = false;
		i += ll;
	}
	return t;
}

/* b equals a, or a plus the one line end the editor adds before an appended block. */
static bool fuzz_same_or_eol(const char *a, size_t an, const char *b, size_t bn)
{
	if (an == bn)
		return an == 0 || memcmp(a, b, an) == 0;
	if (an > 0 && a[an - 1] == '\n')
		return false;
	if (bn == an + 1 && b[an] == '\n')
		return an == 0 || memcmp(a, b, an) == 0;
	if (bn == an + 2 && b[an] == '\r' && b[an + 1] == '\n')
		return an == 0 || memcmp(a, b, an) == 0;
	return false;
}

static void fuzz_hosts_removed(const char *in, size_t len, const char *out, size_t outlen)
{
	struct hosts_report r1, r2, r3;
	char *a = NULL, *b = NULL, *c = NULL;
	size_t an = 0, bn = 0, cn = 0;

	FUZZ_CHECK("hosts", hosts_remove(in, len, &a, &an, &r1, NULL) == 0);
	FUZZ_CHECK("hosts", hosts_remove(out, outlen, &b, &bn, &r2, NULL) == 0);
	/* whatever we added or commented out, taking it away gives the user's file back */
	FUZZ_CHECK("hosts", fuzz_same_or_eol(a, an, b, bn));
	FUZZ_CHECK("hosts", hosts_remove(b, bn, &c, &cn, &r3, NULL) == 0);
	FUZZ_CHECK("hosts", cn == bn && (bn == 0 || memcmp(b, c, bn) == 0) && !r3.changed);
	free(a);
	free(b);
	free(c);
}

static void fuzz_hosts_ok(const char *in, size_t len, const struct hosts_want *want, unsigned flags,
                          const char *out, size_t outlen, const struct hosts_report *rep)
{
	struct hosts_report rep2;
	struct fuzz_text si, so;
	char *out2 = NULL;
	size_t outlen2 = 0;
	struct rp_err e;

	FUZZ_CHECK("hosts", rep->changed == (outlen != len || (len > 0 && memcmp(in, out, len))));
	/* a second run changes nothing */
	if (hosts_edit(out, outlen, want, flags, &out2, &outlen2, &rep2, &e) != 0)
		fuzz_fail("hosts", e.msg);
	FUZZ_CHECK("hosts", outlen2 == outlen && (outlen == 0 || memcmp(out, out2, outlen) == 0));
	FUZZ_CHECK("hosts", !rep2.changed && rep2.n_disabled == 0);
	free(out2);
	/* the user's bytes outside our block are kept (unless asked to fix localhost) */
	if (!(flags & HOSTS_FIX_LOCALHOST)) {
		FUZZ_CHECK("hosts", rep->n_disabled == 0);
		si = fuzz_strip_block(in, len);
		so = fuzz_strip_block(out, outlen);
		FUZZ_CHECK("hosts", fuzz_same_or_eol(si.p, si.n, so.p, so.n));
		free(si.p);
		free(so.p);
	}
	fuzz_hosts_removed(in, len, out, outlen);
}

int fuzz_hosts(const uint8_t *d, size_t n)
{
	static const char *const codes[] = {"E_HOSTS_TOO_BIG", "E_HOSTS_INPUT", "E_HOSTS_MARKERS",
	                                    "E_HOSTS_NOMEM", NULL};
	struct hosts_want want = {fuzz_names, 0};
	struct hosts_report rep;
	struct rp_err e;
	unsigned flags;
	char *in, *out = NULL;
	size_t outlen = 0;

	if (n < 1 || n > 256 * 1024)
		return 0;
	flags = d[0] & 1 ? HOSTS_FIX_LOCALHOST : 0;
	want.n_names = (size_t)(d[0] >> 1) % (sizeof(fuzz_names) / sizeof(fuzz_names[0]) + 1);
	in = fuzz_dup(d + 1, n - 1, false);
	memset(&e, 0, sizeof(e));
	if (hosts_edit(in, n - 1, &want, flags, &out, &outlen, &rep, &e) == 0) {
		fuzz_hosts_ok(in, n - 1, &want, flags, out, outlen, &rep);
		free(out);
	} else {
		FUZZ_CHECK("hosts", out == NULL && fuzz_code_is(&e, codes));
	}
	free(in);
	return 0;
}
