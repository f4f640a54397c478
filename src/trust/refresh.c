/* SPDX-License-Identifier: ISC */
/*
 * The accept path for a fetched envelope, in the order TUF taught us: size,
 * signatures (threshold of distinct trusted keys), then — and only on the
 * verified bytes — payload validation, org, expiry against a clock read once,
 * and the rollback check against what is stored.  Any failure leaves the
 * stored policy untouched.  The envelope is untrusted until dsse_verify says
 * otherwise.
 */
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dsse.h"
#include "policy_payload.h"
#include "refresh.h"
#include "store.h"

const char *refresh_outcome_name(enum refresh_outcome o)
{
	switch (o) {
	case REFRESH_UPDATED:
		return "updated";
	case REFRESH_UNCHANGED:
		return "unchanged";
	case REFRESH_REFUSED:
		return "refused";
	default:
		return "failed";
	}
}

static void refresh_sha256_hex(const unsigned char *b, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(b, n, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void refresh_signers(const struct dsse_verified *v, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < v->n_keyids; i++) {
		if (i)
			strncat(buf, ",", len - strlen(buf) - 1);
		strncat(buf, v->keyids[i], len - strlen(buf) - 1);
	}
}

const char *refresh_hint(const char *code)
{
	static const struct {
		const char *code, *hint;
	} hints[] = {
	    {"E_TOO_BIG", "shrink the policy or raise policy.max_bytes"},
	    {"E_ENVELOPE", "publish a well-formed DSSE envelope (see rampart-policy(5))"},
	    {"E_PAYLOAD_TYPE", "sign with payloadType application/vnd.rampart.policy+json"},
	    {"E_SIGNATURE", "sign with enough of the policy keys (policy.keys, or with a root the "
	                    "newest root's policy_keys)"},
	    {"E_PAYLOAD", "fix the named field and re-sign"},
	    {"E_ORG", "check policy.org in rampartd.json against the policy's org"},
	    {"E_EXPIRED", "re-sign the policy with a later expires_at"},
	    {"E_ISSUED_FUTURE", "check this machine's clock, or re-sign with a correct issued_at"},
	    {"E_ROLLBACK", "publish the policy with a higher version"},
	    {"E_SCHEMA_VERSION",
	     "sign the policy in a format this rampart reads, or upgrade rampart"},
	    {"E_ROOT_SIGNATURE",
	     "sign root N+1 with a threshold of root N's root keys and of its own"},
	    {"E_ROOT_VERSION", "publish roots with versions going up by exactly one"},
	    {"E_ROOT_EXPIRED", "publish a new root (version + 1) with a later expires_at"},
	    {"E_ROOT_CHAIN", "raise policy.max_root_rotations, or check what the root URL serves"},
	    {"E_ROOT_TOO_BIG", "a root is at most 64 KiB"},
	    {"E_ROOT_PIN", "check policy.root / policy.root_sha256 against the first root"},
	    {"E_SAME_VERSION", "bump version: every change needs a higher version number"},
	    {"E_STORE_DISK_FULL", "free space in the state directory"},
	    {"E_FETCH_TLS", "if the policy server uses a private CA or a self-signed "
	                    "certificate, set policy.ca_file to that CA certificate (PEM); if "
	                    "policy.pinned_pubkey is set, check it is the server's key (see "
	                    "rampartd.json(5), TLS trust)"},
	    {"E_FETCH_HTTP", "check policy.url: the server has no policy at that path, or "
	                     "refused the request"},
	    {"E_FETCH_CONNECT", "check policy.url's host and port, and that the policy server "
	                        "is up and reachable from this machine (policy.proxy?)"},
	    {"E_FETCH_TIMEOUT", "check the network path to the policy server, or raise "
	                        "policy.total_timeout_s"},
	    {"E_FETCH_NETWORK", "check the host name in policy.url and this machine's DNS"},
	    {"E_FETCH_TOO_LARGE", "raise policy.max_bytes, or publish a smaller policy"},
	};
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strcmp(code, hints[i].code) == 0)
			return hints[i].hint;
	return NULL;
}

/* Fills out->message from err: what went wrong, what is kept, what to do. */
static int refresh_refuse(struct refresh_out *out, enum refresh_outcome o, struct rp_err *err)
{
	const char *hint = refresh_hint(err->code);
	char kept[64];

	out->outcome = o;
	if (out->old_version > 0)
		snprintf(kept, sizeof(kept), "keeping version %lld", (long long)out->old_version);
	else
		snprintf(kept, sizeof(kept), "no policy is cached");
	snprintf(out->message, sizeof(out->message), "%s: %s; %s%s%s", refresh_outcome_name(o),
	         err->msg, kept, hint ? "; to fix: " : "", hint ? hint : "");
	return -1;
}

/*
 * The rollback floor: the stored version, 0 only when there is no store file.
 * A store that exists but cannot be read fails closed (-1): otherwise one
 * transient read error would let a replayed old policy lower the floor for good.
 * m gets the stored meta, with the root chain.
 */
static int refresh_stored_version(const char *db_path, int64_t *v, struct store_meta *m,
                                  struct rp_err *err)
{
	struct policy p;
	struct rp_err e;
	int r;

	*v = 0;
	memset(&p, 0, sizeof(p));
	r = store_load_meta(db_path, &p, m, &e);
	if (r == 0)
		*v = p.version;
	policy_free(&p);
	if (r < 0)
		return rp_seterr(err, "E_STORE",
		                 "the stored policy %s cannot be read (%s), so the version floor "
		                 "is unknown; nothing was changed (if the file is damaged, an "
		                 "administrator may delete it to start over)",
		                 db_path, e.msg);
	return 0;
}

/* The state directory decides who can replace the policy: root's alone. */
static int refresh_check_state_dir(const char *db_path, struct rp_err *err)
{
	char dir[4096];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", db_path);
	if (stat(dirname(dir), &st) < 0)
		return rp_seterr(err, "E_STORE_IO", "state directory %s: %s; nothing was changed",
		                 dir, strerror(errno));
	if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX))
		return rp_seterr(err, "E_STORE_INSECURE",
		                 "state directory %s is a shared directory anyone can write (mode "
		                 "%04o), so anyone could replace the policy; nothing was stored "
		                 "(set state_dir to a directory of its own, e.g. /var/lib/rampart; "
		                 "do not change the mode of %s)",
		                 dir, (unsigned)(st.st_mode & 07777), dir);
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0)
		return rp_seterr(err, "E_STORE_INSECURE",
		                 "state directory %s must be owned by root and not writable by "
		                 "group or others (owner uid %u, mode %04o); nothing was stored "
		                 "(fix with: chown root %s && chmod go-w %s)",
		                 dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), dir,
		                 dir);
	return 0;
}

/*
 * The checks every machine makes of a verified payload, in order: it parses
 * and validates, it is for this org, it was not issued in the future, it has
 * not expired.  rampart-sign runs the same function, so it refuses to sign
 * what machines would refuse.
 */
int refresh_check_payload(const void *payload, size_t len, const char *org, int64_t now,
                          struct policy *p, struct rp_err *err)
{
	char when[32];

	if (policy_payload_parse(payload, len, p, err) < 0)
		return -1;
	if (org != NULL && strcmp(p->org, org) != 0)
		return rp_seterr(err, "E_ORG",
		                 "policy is for org \"%s\", this machine trusts \"%s\"", p->org,
		                 org);
	if (p->issued_at > now + REFRESH_MAX_SKEW_S) {
		policy_payload_format_time(p->issued_at, when, sizeof(when));
		return rp_seterr(
		    err, "E_ISSUED_FUTURE",
		    "policy version %lld claims to be issued at %s, more than %d s after "
		    "this machine's clock",
		    (long long)p->version, when, REFRESH_MAX_SKEW_S);
	}
	if (now >= p->expires_at) {
		policy_payload_format_time(p->expires_at, when, sizeof(when));
		return rp_seterr(err, "E_EXPIRED", "policy version %lld expired at %s",
		                 (long long)p->version, when);
	}
	return 0;
}

/* After the payload checks: the version floor. */
static int refresh_policy_checks(const struct policy *p, struct refresh_out *out,
                                 struct rp_err *err)
{
	if (p->version < out->old_version)
		return rp_seterr(err, "E_ROLLBACK", "rollback %lld < %lld", (long long)p->version,
		                 (long long)out->old_version);
	return 0;
}

/*
 * The version is the only thing machines compare, so new content under an
 * old number would be ignored by some machines and applied by others (and a
 * freeze or mix-and-match attack looks exactly like it): refused, loudly.
 */
static int refresh_same_version(struct refresh_out *out, const char *stored_sha, const char *sha,
                                struct rp_err *err)
{
	if (stored_sha[0] == '\0' || strcmp(stored_sha, sha) == 0) {
		out->outcome = REFRESH_UNCHANGED;
		snprintf(out->message, sizeof(out->message), "unchanged: version %lld",
		         (long long)out->new_version);
		return 0;
	}
	rp_seterr(err, "E_SAME_VERSION",
	          "version %lld is already stored with different content (payload sha256 "
	          "%.12s..., stored %.12s...)",
	          (long long)out->new_version, sha, stored_sha);
	return refresh_refuse(out, REFRESH_REFUSED, err);
}

/* The policy step: verify against trust, validate, check, store with the chain. */
static int refresh_policy(const struct refresh_in *in, const struct trust_set *trust,
                          const struct root_chain *chain, const char *stored_sha,
                          struct refresh_out *out, struct rp_err *err)
{
	struct dsse_verified v;
	struct policy p;
	struct store_meta m;
	char signers[(KEYS_KEYID_LEN + 1) * KEYS_MAX_TRUSTED];
	int rc = -1;

	memset(&v, 0, sizeof(v));
	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	if (in->envelope == NULL) {
		out->outcome = REFRESH_UNCHANGED;
		snprintf(out->message, sizeof(out->message), "unchanged (HTTP 304 Not Modified)");
		return 0;
	}
	if (in->len > in->max_bytes) {
		rp_seterr(err, "E_TOO_BIG", "policy of %zu bytes exceeds the %zu-byte cap", in->len,
		          in->max_bytes);
		return refresh_refuse(out, REFRESH_REFUSED, err);
	}
	if (dsse_verify(in->envelope, in->len, DSSE_POLICY_TYPE, trust, &v, err) < 0)
		return refresh_refuse(out, REFRESH_REFUSED, err);
	if (refresh_check_payload(v.payload, v.payload_len, in->org, in->now, &p, err) < 0) {
		out->new_version = p.version;
		out->n_registries = p.n_registries;
		refresh_refuse(out, REFRESH_REFUSED, err);
		goto out;
	}
	out->new_version = p.version;
	out->n_registries = p.n_registries;
	if (refresh_policy_checks(&p, out, err) < 0) {
		refresh_refuse(out, REFRESH_REFUSED, err);
		goto out;
	}
	refresh_sha256_hex(v.payload, v.payload_len, m.payload_sha256);
	if (p.version == out->old_version) {
		rc = refresh_same_version(out, stored_sha, m.payload_sha256, err);
		goto out;
	}
	refresh_signers(&v, signers, sizeof(signers));
	m.fetched_at = in->now;
	m.source = (char *)(in->source ? in->source : "");
	m.etag = (char *)(in->etag ? in->etag : "");
	m.signers = signers;
	if (chain != NULL) {
		m.roots = chain->raw;
		m.n_roots = chain->n;
	}
	if (store_commit(in->db_path, &p, &m, (const char *)in->envelope, in->len, err) < 0) {
		refresh_refuse(out, REFRESH_FAILED, err);
		goto out;
	}
	out->outcome = REFRESH_UPDATED;
	if (out->old_version)
		snprintf(out->message, sizeof(out->message), "updated %lld -> %lld",
		         (long long)out->old_version, (long long)p.version);
	else
		snprintf(out->message, sizeof(out->message), "updated: none -> %lld",
		         (long long)p.version);
	rc = 0;
out:
	policy_free(&p);
	dsse_verified_free(&v);
	return rc;
}

/* True when chain is not what the store holds (new roots, or a new pin). */
static bool refresh_chain_changed(const struct root_chain *c, const struct store_meta *sm)
{
	if (c->n != sm->n_roots)
		return true;
	for (size_t i = 0; i < c->n; i++)
		if (c->raw[i].len != sm->roots[i].len ||
		    memcmp(c->raw[i].raw, sm->roots[i].raw, c->raw[i].len) != 0)
			return true;
	return false;
}

/*
 * The policy did not change but the root did: keep the stored policy, store
 * the new chain with it, and re-check the stored policy against the newest
 * root's policy keys (a policy signed only by a retired key stays enforced,
 * flagged, until a valid one arrives).
 */
static int refresh_keep_policy(const struct refresh_in *in, const struct root_chain *c,
                               struct refresh_out *out, struct rp_err *err)
{
	struct policy p;
	struct store_meta m;
	struct dsse_verified v;
	struct rp_err e;
	char *env = NULL;
	size_t len = 0;
	int rc;

	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	memset(&v, 0, sizeof(v));
	rc = store_load(in->db_path, &p, &m, &env, &len, err);
	if (rc != 0) /* 1: nothing stored yet, so nothing to keep the chain with */
		goto out;
	out->stored_untrusted =
	    dsse_verify(env, len, DSSE_POLICY_TYPE, &c->cur.policy_keys, &v, &e) < 0;
	for (size_t i = 0; i < m.n_roots; i++)
		free(m.roots[i].raw);
	free(m.roots);
	m.roots = c->raw;
	m.n_roots = c->n;
	rc = store_commit(in->db_path, &p, &m, env, len, err);
	m.roots = NULL;
	m.n_roots = 0;
out:
	policy_free(&p);
	store_meta_free(&m);
	dsse_verified_free(&v);
	free(env);
	return rc < 0 ? -1 : 0;
}

/* Appends the root's part of the story to out->message. */
static void refresh_root_message(struct refresh_out *out)
{
	size_t n = strlen(out->message);

	if (out->root_version == 0)
		return;
	snprintf(out->message + n, sizeof(out->message) - n, "; root version %lld%s%s",
	         (long long)out->root_version, out->roots_new ? " (rotated)" : "",
	         out->stored_untrusted ? "; the stored policy is not signed by this root's policy "
	                                 "keys: still enforced until a valid policy arrives"
	                               : "");
}

static int refresh_roots(const struct refresh_in *in, const struct store_meta *sm,
                         struct root_chain *c, struct rp_err *err)
{
	const struct refresh_root *r = in->root;

	if (root_chain_load(r->pinned, r->pinned_len, r->pinned_sha256, in->org, sm->roots,
	                    sm->n_roots, r->fetch, r->fetch_arg, c, err) < 0)
		return -1;
	return root_walk(c, r->fetch, r->fetch_arg, r->max_new ? r->max_new : ROOT_DEFAULT_MAX_NEW,
	                 in->now, err);
}

int refresh_apply(const struct refresh_in *in, struct refresh_out *out, struct rp_err *err)
{
	struct root_chain chain;
	struct store_meta sm;
	const struct trust_set *trust = in->trust;
	struct rp_err e2;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&chain, 0, sizeof(chain));
	memset(&sm, 0, sizeof(sm));
	if (refresh_check_state_dir(in->db_path, err) < 0 ||
	    refresh_stored_version(in->db_path, &out->old_version, &sm, err) < 0) {
		out->outcome = REFRESH_FAILED;
		snprintf(out->message, sizeof(out->message), "failed: %s", err->msg);
		rc = -1;
		goto out;
	}
	if (in->root != NULL) {
		/* TUF 5.3: the root chain first, then the policy against its keys */
		if (refresh_roots(in, &sm, &chain, err) < 0) {
			rc = refresh_refuse(out, REFRESH_REFUSED, err);
			goto out;
		}
		out->root_version = chain.cur.version;
		trust = &chain.cur.policy_keys;
	}
	rc = refresh_policy(in, trust, in->root != NULL ? &chain : NULL, sm.payload_sha256, out,
	                    err);
	if (in->root != NULL && out->outcome != REFRESH_UPDATED &&
	    refresh_chain_changed(&chain, &sm)) {
		if (refresh_keep_policy(in, &chain, out, &e2) < 0 && rc == 0) {
			*err = e2;
			rc = refresh_refuse(out, REFRESH_FAILED, err);
		}
		out->roots_new = chain.n_new;
	} else if (out->outcome == REFRESH_UPDATED) {
		out->roots_new = chain.n_new;
	}
	refresh_root_message(out);
out:
	root_chain_free(&chain);
	store_meta_free(&sm);
	return rc;
}

/* --- offline audit ---------------------------------------------------------- */

static int refresh_cmp_reg(const void *a, const void *b)
{
	const struct policy_registry *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	return c != 0 ? c : (int)x->action - (int)y->action;
}

/* The companion lists of two rows, in signed order. */
static bool refresh_same_companions(const struct policy_registry *a,
                                    const struct policy_registry *b)
{
	if (a->n_companions != b->n_companions)
		return false;
	for (size_t c = 0; c < a->n_companions; c++)
		if (strcmp(a->companions[c], b->companions[c]) != 0)
			return false;
	return true;
}

static int refresh_same_rows(struct policy *signed_p, struct policy *stored, struct rp_err *err)
{
	if (signed_p->n_registries != stored->n_registries)
		return rp_seterr(err, "E_TAMPERED",
		                 "the DB holds %zu registries but the signed policy has %zu",
		                 stored->n_registries, signed_p->n_registries);
	qsort(signed_p->registries, signed_p->n_registries, sizeof(struct policy_registry),
	      refresh_cmp_reg);
	qsort(stored->registries, stored->n_registries, sizeof(struct policy_registry),
	      refresh_cmp_reg);
	for (size_t i = 0; i < stored->n_registries; i++) {
		struct policy_registry *a = &signed_p->registries[i], *b = &stored->registries[i];
		if (strcmp(a->host, b->host) != 0 || strcmp(a->nickname, b->nickname) != 0 ||
		    a->kind != b->kind || a->action != b->action || a->mode != b->mode ||
		    !refresh_same_companions(a, b))
			return rp_seterr(err, "E_TAMPERED",
			                 "DB row \"%s\" does not match the signed policy", b->host);
	}
	if (signed_p->version != stored->version || strcmp(signed_p->org, stored->org) != 0 ||
	    signed_p->expires_at != stored->expires_at ||
	    signed_p->issued_at != stored->issued_at ||
	    signed_p->allow_docker_hub != stored->allow_docker_hub ||
	    signed_p->schema_version != stored->schema_version)
		return rp_seterr(err, "E_TAMPERED",
		                 "DB meta (org, version, dates or allow_docker_hub) does not match "
		                 "the signed policy");
	return 0;
}

static int refresh_check_file_modes(const char *db_path, struct rp_err *err)
{
	char dir[4096];
	struct stat st;

	if (lstat(db_path, &st) < 0)
		return rp_seterr(err, "E_STORE_IO", "%s: %s", db_path, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) != 0)
		return rp_seterr(err, "E_TAMPERED",
		                 "%s must be a regular file owned by root and not writable by "
		                 "others (owner uid %u, mode %04o)",
		                 db_path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	snprintf(dir, sizeof(dir), "%s", db_path);
	if (stat(dirname(dir), &st) < 0)
		return rp_seterr(err, "E_STORE_IO", "%s: %s", dir, strerror(errno));
	if (st.st_uid != 0 || (st.st_mode & 022) != 0)
		return rp_seterr(err, "E_TAMPERED",
		                 "directory %s must be owned by root and not writable by others "
		                 "(owner uid %u, mode %04o): anyone who can write it can replace "
		                 "the policy",
		                 dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	return 0;
}

int refresh_verify_store(const char *db_path, const struct trust_set *trust, int64_t now,
                         struct verify_report *rep, struct rp_err *err)
{
	struct policy stored, signed_p;
	struct store_meta m;
	struct dsse_verified v;
	char *env = NULL, sha[65];
	size_t envlen = 0;
	int rc = -1, r;

	memset(rep, 0, sizeof(*rep));
	memset(&stored, 0, sizeof(stored));
	memset(&signed_p, 0, sizeof(signed_p));
	memset(&m, 0, sizeof(m));
	memset(&v, 0, sizeof(v));
	if (refresh_check_file_modes(db_path, err) < 0)
		return -1;
	r = store_load(db_path, &stored, &m, &env, &envlen, err);
	if (r == 1)
		return rp_seterr(err, "E_NO_POLICY", "no policy is cached at %s", db_path);
	if (r < 0)
		return -1;
	if (dsse_verify(env, envlen, DSSE_POLICY_TYPE, trust, &v, err) < 0 ||
	    policy_payload_parse(v.payload, v.payload_len, &signed_p, err) < 0)
		goto out;
	refresh_sha256_hex(v.payload, v.payload_len, sha);
	if (strcmp(sha, m.payload_sha256) != 0) {
		rp_seterr(err, "E_TAMPERED",
		          "payload sha256 in the DB does not match the envelope");
		goto out;
	}
	if (refresh_same_rows(&signed_p, &stored, err) < 0)
		goto out;
	rep->version = stored.version;
	rp_strlcpy(rep->org, stored.org, sizeof(rep->org));
	refresh_signers(&v, rep->signers, sizeof(rep->signers));
	rep->n_registries = stored.n_registries;
	rep->fetched_at = m.fetched_at;
	rep->expires_at = stored.expires_at;
	rep->expired = now >= stored.expires_at;
	rc = 0;
out:
	free(env);
	policy_free(&stored);
	policy_free(&signed_p);
	store_meta_free(&m);
	dsse_verified_free(&v);
	return rc;
}

int refresh_verify_store_root(const char *db_path, const void *pinned, size_t pinned_len,
                              const char *org, int64_t now, struct verify_report *rep,
                              int64_t *root_version, struct rp_err *err)
{
	struct policy p;
	struct store_meta m;
	struct root_chain c;
	char sha[65];
	int rc = -1, r;

	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	memset(&c, 0, sizeof(c));
	*root_version = 0;
	r = store_load_meta(db_path, &p, &m, err);
	if (r == 1)
		return rp_seterr(err, "E_NO_POLICY", "no policy is cached at %s", db_path);
	if (r < 0)
		goto out;
	if (m.n_roots == 0) {
		rp_seterr(err, "E_TAMPERED",
		          "the store holds no root chain, so the policy cannot be "
		          "proved from a pinned root");
		goto out;
	}
	refresh_sha256_hex((const unsigned char *)pinned, pinned_len, sha);
	if (root_chain_load(pinned, pinned_len, NULL, org, m.roots, m.n_roots, NULL, NULL, &c,
	                    err) < 0)
		goto out;
	if (c.n != m.n_roots) {
		rp_seterr(err, "E_TAMPERED",
		          "the stored root chain does not start at the pinned root "
		          "(sha256 %s)",
		          sha);
		goto out;
	}
	if (refresh_verify_store(db_path, &c.cur.policy_keys, now, rep, err) < 0)
		goto out;
	*root_version = c.cur.version;
	rc = 0;
out:
	policy_free(&p);
	store_meta_free(&m);
	root_chain_free(&c);
	return rc;
}
