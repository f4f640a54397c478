/* SPDX-License-Identifier: ISC */
/*
 * Registry policy decisions.  The index is built from a policy that was
 * verified before it was stored; entries are still re-parsed with the
 * reference rules and a bad entry is skipped (it can only deny, never allow).
 * References are untrusted: they are normalised by ref_normalize first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy_match.h"

#define PM_KEY_MAX RAMPART_RULE_MAX /* domain:port/path/ + NUL fits */

struct pm_slot {
	uint64_t hash;
	size_t klen;
	char *key;        /* canonical key; NULL marks an empty slot */
	const char *rule; /* entry as signed; same allocation as key */
};

struct pm_table {
	struct pm_slot *slots;
	size_t mask; /* capacity - 1 (capacity is a power of two) */
	size_t count;
};

enum pm_kind { PM_EXACT, PM_WILD, PM_PREFIX, PM_NKIND, PM_BAD = PM_NKIND };

struct policy_index {
	struct pm_table t[PM_NKIND];
	size_t entries, skipped;
	int64_t version, issued_at, expires_at;
	bool allow_docker_hub;
	char *org;
};

/* ---- hash table ---------------------------------------------------------- */

static uint64_t pm_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int pm_table_init(struct pm_table *t, size_t n)
{
	size_t cap = 8;

	while (cap < 2 * n)
		cap <<= 1;
	t->slots = calloc(cap, sizeof(*t->slots));
	t->mask = cap - 1;
	t->count = 0;
	return t->slots != NULL ? 0 : -1;
}

static void pm_table_free(struct pm_table *t)
{
	if (t->slots != NULL)
		for (size_t i = 0; i <= t->mask; i++)
			free(t->slots[i].key);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static const struct pm_slot *pm_find(const struct pm_table *t, const char *key, size_t len)
{
	uint64_t h;
	size_t i;

	if (t->count == 0)
		return NULL;
	h = pm_hash(key, len);
	for (i = h & t->mask; t->slots[i].key != NULL; i = (i + 1) & t->mask) {
		const struct pm_slot *s = &t->slots[i];
		if (s->hash == h && s->klen == len && memcmp(s->key, key, len) == 0)
			return s;
	}
	return NULL;
}

/* Takes ownership of block ("key\0rule\0"); a duplicate key is dropped. */
static void pm_insert(struct pm_table *t, char *block, size_t klen)
{
	uint64_t h = pm_hash(block, klen);
	size_t i;

	if (pm_find(t, block, klen) != NULL) {
		free(block);
		return;
	}
	for (i = h & t->mask; t->slots[i].key != NULL; i = (i + 1) & t->mask)
		;
	t->slots[i].hash = h;
	t->slots[i].klen = klen;
	t->slots[i].key = block;
	t->slots[i].rule = block + klen + 1;
	t->count++;
}

/* ---- entries ------------------------------------------------------------- */

/* host[:port] with Docker Hub aliases folded to docker.io; returns length or -1. */
static int pm_canon_domain(const char *s, size_t len, char *key, size_t size)
{
	char host[REF_MAX_DOMAIN + 1];
	unsigned port;
	int n;

	if (ref_parse_domain(s, len, host, &port, NULL) != 0)
		return -1;
	if (port == 0 && ref_is_hub_host(host))
		rp_strlcpy(host, REF_HUB_DOMAIN, sizeof(host));
	n = port != 0 ? snprintf(key, size, "%s:%u", host, port) : snprintf(key, size, "%s", host);
	return n > 0 && (size_t)n < size ? n : -1;
}

/* "host[:port]/org/..." (extension): key "host[:port]/org/.../". */
static enum pm_kind pm_prefix_key(const char *h, const char *slash, char *key, size_t *klen)
{
	size_t plen = strlen(slash + 1);
	int n;

	if (plen > 0 && slash[plen] == '/')
		plen--; /* one trailing '/' is the documented spelling */
	if (plen == 0 || ref_check_path(slash + 1, plen, NULL) != 0)
		return PM_BAD;
	n = pm_canon_domain(h, (size_t)(slash - h), key, PM_KEY_MAX);
	if (n < 0 || (size_t)n + plen + 3 > PM_KEY_MAX)
		return PM_BAD;
	*klen = (size_t)snprintf(key + n, PM_KEY_MAX - (size_t)n, "/%.*s/", (int)plen, slash + 1) +
	        (size_t)n;
	return PM_PREFIX;
}

/* "*.domain": key "domain"; no port, not an IP literal. */
static enum pm_kind pm_wild_key(const char *h, char *key, size_t *klen)
{
	unsigned port;

	if (ref_parse_domain(h + 2, strlen(h + 2), key, &port, NULL) != 0 || port != 0 ||
	    ref_host_is_ip(key))
		return PM_BAD;
	*klen = strlen(key);
	return PM_WILD;
}

/* Classifies one policy host and writes its canonical key (kind field ignored). */
static enum pm_kind pm_entry_key(const char *h, char *key, size_t *klen)
{
	const char *slash;
	int n;

	if (h == NULL || h[0] == '\0' || strlen(h) >= PM_KEY_MAX)
		return PM_BAD;
	slash = strchr(h, '/');
	if (strncmp(h, "*.", 2) == 0)
		return slash == NULL ? pm_wild_key(h, key, klen) : PM_BAD;
	if (slash != NULL)
		return pm_prefix_key(h, slash, key, klen);
	n = pm_canon_domain(h, strlen(h), key, PM_KEY_MAX);
	if (n < 0)
		return PM_BAD;
	*klen = (size_t)n;
	return PM_EXACT;
}

enum policy_entry_form policy_entry_canon(const char *host, char *key, size_t size)
{
	char k[PM_KEY_MAX];
	size_t klen = 0;
	enum pm_kind kind = pm_entry_key(host, k, &klen);

	if (kind == PM_BAD || klen >= size)
		return POLICY_FORM_BAD;
	memcpy(key, k, klen);
	key[klen] = '\0';
	return kind == PM_EXACT ? POLICY_FORM_HOST
	       : kind == PM_WILD ? POLICY_FORM_WILDCARD
				 : POLICY_FORM_PREFIX;
}

static char *pm_block(const char *key, size_t klen, const char *rule)
{
	size_t rlen = strlen(rule);
	char *b = malloc(klen + rlen + 2);

	if (b != NULL) {
		memcpy(b, key, klen);
		b[klen] = '\0';
		memcpy(b + klen + 1, rule, rlen + 1);
	}
	return b;
}

static int pm_fill(struct policy_index *idx, const struct policy *p, enum pm_kind *kinds)
{
	size_t count[PM_NKIND] = {0};
	char key[PM_KEY_MAX];
	size_t klen;

	for (size_t i = 0; i < p->n_registries; i++) {
		kinds[i] = pm_entry_key(p->registries[i].host, key, &klen);
		if (kinds[i] == PM_BAD)
			idx->skipped++;
		else
			count[kinds[i]]++;
	}
	for (int k = 0; k < PM_NKIND; k++)
		if (pm_table_init(&idx->t[k], count[k]) != 0)
			return -1;
	for (size_t i = 0; i < p->n_registries; i++) {
		char *b;
		if (kinds[i] == PM_BAD)
			continue;
		pm_entry_key(p->registries[i].host, key, &klen);
		if ((b = pm_block(key, klen, p->registries[i].host)) == NULL)
			return -1;
		pm_insert(&idx->t[kinds[i]], b, klen);
	}
	return 0;
}

int policy_index_build(const struct policy *p, struct policy_index **out, struct rp_err *err)
{
	struct policy_index *idx = calloc(1, sizeof(*idx));
	enum pm_kind *kinds = calloc(p->n_registries + 1, sizeof(*kinds));
	int rc = -1;

	*out = NULL;
	if (idx == NULL || kinds == NULL)
		goto out;
	idx->org = strdup(p->org != NULL ? p->org : "");
	if (idx->org == NULL || pm_fill(idx, p, kinds) != 0)
		goto out;
	idx->entries = p->n_registries;
	idx->version = p->version;
	idx->issued_at = p->issued_at;
	idx->expires_at = p->expires_at;
	idx->allow_docker_hub = p->allow_docker_hub;
	*out = idx;
	idx = NULL;
	rc = 0;
out:
	if (rc != 0)
		rp_seterr(err, "E_NOMEM", "Out of memory while indexing the registry policy.");
	policy_index_free(idx);
	free(kinds);
	return rc;
}

void policy_index_free(struct policy_index *idx)
{
	if (idx == NULL)
		return;
	for (int k = 0; k < PM_NKIND; k++)
		pm_table_free(&idx->t[k]);
	free(idx->org);
	free(idx);
}

size_t policy_index_skipped(const struct policy_index *idx)
{
	return idx->skipped;
}

int64_t policy_index_version(const struct policy_index *idx)
{
	return idx->version;
}

int64_t policy_index_issued_at(const struct policy_index *idx)
{
	return idx->issued_at;
}

int64_t policy_index_expires_at(const struct policy_index *idx)
{
	return idx->expires_at;
}

bool policy_index_allow_docker_hub(const struct policy_index *idx)
{
	return idx->allow_docker_hub;
}

size_t policy_index_entries(const struct policy_index *idx)
{
	return idx->entries;
}

const char *policy_index_org(const struct policy_index *idx)
{
	return idx->org;
}

/* ---- matching ------------------------------------------------------------ */

/* Most specific "*.suffix" entry covering a subdomain of domain, or NULL. */
static const struct pm_slot *pm_match_wild(const struct policy_index *idx, const char *domain)
{
	const struct pm_slot *s;

	if (idx->t[PM_WILD].count == 0 || ref_host_is_ip(domain))
		return NULL;
	for (const char *dot = strchr(domain, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
		if ((s = pm_find(&idx->t[PM_WILD], dot + 1, strlen(dot + 1))) != NULL)
			return s;
	return NULL;
}

/* Shortest "base/prefix/" entry that covers whole leading path components. */
static const struct pm_slot *pm_match_prefix(const struct policy_index *idx, const char *base,
                                             const char *path)
{
	char buf[PM_KEY_MAX + REF_MAX_PATH];
	int n;
	size_t blen = strlen(base);
	const struct pm_slot *s;

	if (idx->t[PM_PREFIX].count == 0)
		return NULL;
	n = snprintf(buf, sizeof(buf), "%s/%s/", base, path);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return NULL;
	for (size_t k = blen + 1; k < (size_t)n; k++)
		if (buf[k] == '/' && (s = pm_find(&idx->t[PM_PREFIX], buf, k + 1)) != NULL)
			return s;
	return NULL;
}

static const struct pm_slot *pm_match(const struct policy_index *idx, const struct ref_parsed *ref,
                                      const char *base)
{
	const struct pm_slot *s = pm_find(&idx->t[PM_EXACT], base, strlen(base));

	if (s == NULL)
		s = pm_match_prefix(idx, base, ref->path);
	if (s == NULL && ref->port == 0)
		s = pm_match_wild(idx, ref->domain);
	return s;
}

/* Explains a near miss: a port-less rule for a ported reference, or "*.d" for "d". */
static void pm_hint(const struct policy_index *idx, const struct ref_parsed *ref, char *buf,
                    size_t size)
{
	const struct pm_slot *s;

	buf[0] = '\0';
	if (ref->port != 0) {
		s = pm_find(&idx->t[PM_EXACT], ref->domain, strlen(ref->domain));
		if (s == NULL)
			s = pm_match_wild(idx, ref->domain);
		if (s != NULL)
			snprintf(buf, size,
			         " (rule %s matches only the default port, written "
			         "without a port)",
			         s->rule);
	} else if ((s = pm_find(&idx->t[PM_WILD], ref->domain, strlen(ref->domain))) != NULL) {
		snprintf(buf, size, " (rule %s matches subdomains of %s, not %s itself)", s->rule,
		         ref->domain, ref->domain);
	}
}

static void pm_deny(const struct policy_index *idx, const struct ref_parsed *ref, const char *base,
                    struct rampart_decision *out)
{
	char hint[RAMPART_RULE_MAX + 128];

	pm_hint(idx, ref, hint, sizeof(hint));
	if (ref->is_docker_hub)
		snprintf(out->reason, sizeof(out->reason),
		         "no rule matches registry docker.io "
		         "and the policy does not allow Docker Hub (allow_docker_hub is false)%s",
		         hint);
	else
		snprintf(out->reason, sizeof(out->reason), "no rule matches registry %s%s", base,
		         hint);
}

static void pm_expired(const struct policy_index *idx, struct rampart_decision *out)
{
	char when[32] = "?";
	time_t t = (time_t)idx->expires_at;
	struct tm tm;
	size_t n = strlen(out->reason);

	if (gmtime_r(&t, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	out->expired = true;
	snprintf(out->reason + n, sizeof(out->reason) - n,
	         "; policy expired at %s; still "
	         "enforced",
	         when);
}

static void pm_no_policy(bool allow, struct rampart_decision *out)
{
	out->allowed = allow;
	rp_strlcpy(out->reason,
	           allow ? "no policy cached; allowed because allow_when_no_policy "
	                   "is set"
	                 : "no policy cached; denied by default",
	           sizeof(out->reason));
}

/* Appends strings to a fixed buffer, truncating (always NUL-terminated). */
static size_t pm_cat(char *buf, size_t size, size_t len, const char *s)
{
	size_t n = strlen(s);

	if (len + 1 >= size)
		return len;
	if (n > size - len - 1)
		n = size - len - 1;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
	return len + n;
}

/* "<base>[/<path>] matches rule <rule>", built without printf (hot path). */
static void pm_allow(const struct ref_parsed *ref, const char *base, const struct pm_slot *s,
                     struct rampart_decision *out)
{
	size_t n = 0;
	const size_t sz = sizeof(out->reason);

	out->allowed = true;
	rp_strlcpy(out->rule, s->rule, sizeof(out->rule));
	n = pm_cat(out->reason, sz, n, base);
	if (strchr(s->rule, '/') != NULL) {
		n = pm_cat(out->reason, sz, n, "/");
		n = pm_cat(out->reason, sz, n, ref->path);
	}
	n = pm_cat(out->reason, sz, n, " matches rule ");
	pm_cat(out->reason, sz, n, s->rule);
}

/* Resets every field (cheaper than zeroing the ~2.3 KiB struct). */
static void pm_clear(struct rampart_decision *out)
{
	out->allowed = false;
	out->expired = false;
	out->policy_cached = false;
	out->policy_version = 0;
	out->code[0] = '\0';
	out->rule[0] = '\0';
	out->normalized[0] = '\0';
	out->reason[0] = '\0';
}

/* "host" or "host:port" for a parsed reference. */
static void pm_base(const struct ref_parsed *ref, char *base, size_t size)
{
	size_t n = rp_strlcpy(base, ref->domain, size);
	char port[8];

	if (ref->port != 0 && n < size) {
		snprintf(port, sizeof(port), ":%u", ref->port & 0xffffu);
		pm_cat(base, size, n, port);
	}
}

void policy_decide(const struct policy_index *idx, bool allow_when_no_policy,
                   const struct ref_parsed *ref, int64_t now, struct rampart_decision *out)
{
	char base[REF_MAX_DOMAIN + 16];
	const struct pm_slot *s;

	pm_clear(out);
	rp_strlcpy(out->normalized, ref->normalized, sizeof(out->normalized));
	if (idx == NULL) {
		pm_no_policy(allow_when_no_policy, out);
		return;
	}
	out->policy_cached = true;
	out->policy_version = idx->version;
	pm_base(ref, base, sizeof(base));
	if (ref->is_docker_hub && idx->allow_docker_hub) {
		out->allowed = true;
		rp_strlcpy(out->rule, POLICY_HUB_RULE, sizeof(out->rule));
		rp_strlcpy(out->reason, "Docker Hub is allowed by the policy (allow_docker_hub)",
		           sizeof(out->reason));
	} else if ((s = pm_match(idx, ref, base)) != NULL) {
		pm_allow(ref, base, s, out);
	} else {
		pm_deny(idx, ref, base, out);
	}
	if (now >= idx->expires_at) /* as refresh.c: expired from expires_at on */
		pm_expired(idx, out);
}

int policy_check(const struct policy_index *idx, bool allow_when_no_policy, const char *ref,
                 int64_t now, struct rampart_decision *out)
{
	struct ref_parsed r;
	struct rp_err err;

	if (ref_normalize(ref, &r, &err) != 0) {
		memset(out, 0, sizeof(*out));
		rp_strlcpy(out->code, err.code, sizeof(out->code));
		rp_strlcpy(out->reason, err.msg, sizeof(out->reason));
		out->policy_cached = idx != NULL;
		out->policy_version = idx != NULL ? idx->version : 0;
		return -1;
	}
	policy_decide(idx, allow_when_no_policy, &r, now, out);
	return 0;
}
