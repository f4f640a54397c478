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
	case REFRESH_UPDATED: return "updated";
	case REFRESH_UNCHANGED: return "unchanged";
	case REFRESH_REFUSED: return "refused";
	default: return "failed";
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

/* What to do about a refusal, by code (the message says what went wrong). */
static const char *refresh_hint(const char *code)
{
	static const struct {
		const char *code, *hint;
	} hints[] = {
	    {"E_TOO_BIG", "shrink the policy or raise policy.max_bytes"},
	    {"E_ENVELOPE", "publish a well-formed DSSE envelope (see rampart-policy(5))"},
	    {"E_PAYLOAD_TYPE", "sign with payloadType application/vnd.rampart.policy+json"},
	    {"E_SIGNATURE", "sign with enough of the keys listed in policy.keys"},
	    {"E_PAYLOAD", "fix the named field and re-sign"},
	    {"E_ORG", "check policy.org in rampartd.json against the policy's org"},
	    {"E_EXPIRED", "re-sign the policy with a later expires_at"},
	    {"E_ROLLBACK", "publish the policy with a higher version"},
	    {"E_STORE_DISK_FULL", "free space in the state directory"},
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
 */
static int refresh_stored_version(const char *db_path, int64_t *v, struct rp_err *err)
{
	struct policy p;
	struct store_meta m;
	struct rp_err e;
	int r;

	*v = 0;
	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	r = store_load_meta(db_path, &p, &m, &e);
	if (r == 0)
		*v = p.version;
	policy_free(&p);
	store_meta_free(&m);
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
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022) != 0)
		return rp_seterr(err, "E_STORE_INSECURE",
				 "state directory %s must be owned by root and not writable by "
				 "group or others (owner uid %u, mode %04o); nothing was stored "
				 "(fix with: chown root %s && chmod go-w %s)",
				 dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), dir, dir);
	return 0;
}

int refresh_apply(const struct refresh_in *in, struct refresh_out *out, struct rp_err *err)
{
	struct dsse_verified v;
	struct policy p;
	struct store_meta m;
	char signers[(KEYS_KEYID_LEN + 1) * KEYS_MAX_TRUSTED];
	char when[32];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&v, 0, sizeof(v));
	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	if (refresh_check_state_dir(in->db_path, err) < 0 ||
	    refresh_stored_version(in->db_path, &out->old_version, err) < 0) {
		out->outcome = REFRESH_FAILED;
		snprintf(out->message, sizeof(out->message), "failed: %s", err->msg);
		return -1;
	}
	if (in->len > in->max_bytes) {
		rp_seterr(err, "E_TOO_BIG", "policy of %zu bytes exceeds the %zu-byte cap", in->len,
			  in->max_bytes);
		return refresh_refuse(out, REFRESH_REFUSED, err);
	}
	if (dsse_verify(in->envelope, in->len, DSSE_POLICY_TYPE, in->trust, &v, err) < 0)
		return refresh_refuse(out, REFRESH_REFUSED, err);
	if (policy_payload_parse(v.payload, v.payload_len, &p, err) < 0) {
		refresh_refuse(out, REFRESH_REFUSED, err);
		goto out;
	}
	out->new_version = p.version;
	out->n_registries = p.n_registries;
	if (strcmp(p.org, in->org) != 0) {
		rp_seterr(err, "E_ORG", "policy is for org \"%s\", this machine trusts \"%s\"", p.org,
			  in->org);
		refresh_refuse(out, REFRESH_REFUSED, err);
		goto out;
	}
	if (in->now >= p.expires_at) {
		policy_payload_format_time(p.expires_at, when, sizeof(when));
		rp_seterr(err, "E_EXPIRED", "policy version %lld expired at %s",
			  (long long)p.version, when);
		refresh_refuse(out, REFRESH_REFUSED, err);
		goto out;
	}
	if (p.version == out->old_version) {
		out->outcome = REFRESH_UNCHANGED;
		snprintf(out->message, sizeof(out->message), "unchanged: version %lld",
			 (long long)p.version);
		rc = 0;
		goto out;
	}
	if (p.version < out->old_version) {
		rp_seterr(err, "E_ROLLBACK", "rollback %lld < %lld", (long long)p.version,
			  (long long)out->old_version);
		refresh_refuse(out, REFRESH_REFUSED, err);
		goto out;
	}
	refresh_signers(&v, signers, sizeof(signers));
	m.fetched_at = in->now;
	m.source = (char *)(in->source ? in->source : "");
	m.etag = (char *)(in->etag ? in->etag : "");
	m.signers = signers;
	refresh_sha256_hex(v.payload, v.payload_len, m.payload_sha256);
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

/* --- offline audit ---------------------------------------------------------- */

static int refresh_cmp_reg(const void *a, const void *b)
{
	return strcmp(((const struct policy_registry *)a)->host,
		      ((const struct policy_registry *)b)->host);
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
		    a->kind != b->kind)
			return rp_seterr(err, "E_TAMPERED",
					 "DB row \"%s\" does not match the signed policy", b->host);
	}
	if (signed_p->version != stored->version || strcmp(signed_p->org, stored->org) != 0 ||
	    signed_p->expires_at != stored->expires_at ||
	    signed_p->issued_at != stored->issued_at ||
	    signed_p->allow_docker_hub != stored->allow_docker_hub)
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
		rp_seterr(err, "E_TAMPERED", "payload sha256 in the DB does not match the envelope");
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
