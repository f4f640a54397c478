/* SPDX-License-Identifier: ISC */
/*
 * Registry policy decisions.  The index is built from a policy that was
 * verified before it was stored; entries are still re-parsed with the
 * reference rules and a bad entry is skipped (an allow that is skipped can
 * only deny more; a deny that is skipped is counted, and policy_index_skipped
 * reports it).  References are untrusted: they are normalised by
 * ref_normalize first.
 *
 * The most specific matching rule decides (docs/lookups.md): repository
 * prefixes by number of components, then the exact host, then wildcards by
 * number of labels.  At equal specificity deny wins.  Rules in mode "warn"
 * never decide; a check reports when one would have decided otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy_match.h"

#define PM_KEY_MAX RAMPART_RULE_MAX /* domain:port/path/ + NUL fits */
#define PM_NRULE 4                  /* action * 2 + mode */

struct pm_slot {
	uint64_t hash;
	size_t klen;
	char *key;              /* canonical key; NULL marks an empty slot */
	char *rule[PM_NRULE];   /* entry as signed, by action and mode; NULL if none */
	size_t entry[PM_NRULE]; /* its index in struct policy */
};

struct pm_table {
	struct pm_slot *slots;
	size_t mask; /* capacity - 1 (capacity is a power of two) */
	size_t count;
};

enum pm_kind { PM_EXACT, PM_WILD, PM_PREFIX, PM_NKIND, PM_BAD = PM_NKIND };

struct policy_index {
	struct pm_table t[PM_NKIND];
	struct pm_table comp;       /* companion hosts: key "host" or "host:port" (PM_C_* rules) */
	struct pm_table repo_hosts; /* "host[:port]" with an enforced allow repository rule */
	size_t entries, skipped, n_deny, n_warn;
	int64_t version, issued_at, expires_at;
	bool allow_docker_hub;
	int schema_version;
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
		for (size_t i = 0; i <= t->mask; i++) {
			free(t->slots[i].key);
			for (int r = 0; r < PM_NRULE; r++)
				free(t->slots[i].rule[r]);
		}
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

/* The slot for key, created if needed (the table is sized for every entry). */
static struct pm_slot *pm_slot_for(struct pm_table *t, const char *key, size_t klen)
{
	uint64_t h = pm_hash(key, klen);
	size_t i;

	for (i = h & t->mask; t->slots[i].key != NULL; i = (i + 1) & t->mask)
		if (t->slots[i].hash == h && t->slots[i].klen == klen &&
		    memcmp(t->slots[i].key, key, klen) == 0)
			return &t->slots[i];
	if ((t->slots[i].key = strndup(key, klen)) == NULL)
		return NULL;
	t->slots[i].hash = h;
	t->slots[i].klen = klen;
	t->count++;
	return &t->slots[i];
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

/* Number of '/'-separated components in s[0..len). */
static size_t pm_components(const char *s, size_t len)
{
	size_t n = 1;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '/';
	return n;
}

/* "host[:port]/org/..." : key "host[:port]/org/.../". */
static enum pm_kind pm_prefix_key(const char *h, const char *slash, char *key, size_t *klen)
{
	size_t plen = strlen(slash + 1);
	int n;

	if (plen > 0 && slash[plen] == '/')
		plen--; /* one trailing '/' is the documented spelling */
	if (plen == 0 || ref_check_path(slash + 1, plen, NULL) != 0 ||
	    pm_components(slash + 1, plen) > POLICY_MAX_COMPONENTS)
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
	return kind == PM_EXACT  ? POLICY_FORM_HOST
	       : kind == PM_WILD ? POLICY_FORM_WILDCARD
	                         : POLICY_FORM_PREFIX;
}

int policy_rule_key(const char *rule, char *key, size_t size)
{
	char k[PM_KEY_MAX];
	size_t klen;
	enum pm_kind kind = pm_entry_key(rule, k, &klen);

	if (kind == PM_BAD || klen + 3 > size)
		return -1;
	/* the table is part of the key: "*.a.b" and "a.b" must not collide */
	snprintf(key, size, "%c %s", kind == PM_WILD ? 'w' : kind == PM_EXACT ? 'e' : 'p', k);
	return 0;
}

static int pm_rule_slot(const struct policy_registry *r)
{
	int a = r->action == POLICY_DENY ? 1 : 0, m = r->mode == POLICY_WARN ? 1 : 0;

	return a * 2 + m;
}

static int pm_add(struct policy_index *idx, enum pm_kind kind, const char *key, size_t klen,
                  const struct policy_registry *r, size_t i)
{
	struct pm_slot *s = pm_slot_for(&idx->t[kind], key, klen);
	int k = pm_rule_slot(r);

	if (s == NULL)
		return -1;
	if (s->rule[k] != NULL)
		return 0; /* a duplicate (refused when signing): the first one stays */
	if ((s->rule[k] = strdup(r->host)) == NULL)
		return -1;
	s->entry[k] = i;
	return 0;
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
		idx->n_deny += p->registries[i].action == POLICY_DENY;
		idx->n_warn += p->registries[i].mode == POLICY_WARN;
	}
	for (int k = 0; k < PM_NKIND; k++)
		if (pm_table_init(&idx->t[k], count[k]) != 0)
			return -1;
	for (size_t i = 0; i < p->n_registries; i++) {
		if (kinds[i] == PM_BAD)
			continue;
		pm_entry_key(p->registries[i].host, key, &klen);
		if (pm_add(idx, kinds[i], key, klen, &p->registries[i], i) != 0)
			return -1;
	}
	return 0;
}

/* ---- companion hosts ------------------------------------------------------ */

const char *const policy_hub_companions[] = {
    "auth.docker.io",                   /* token service */
    "production.cloudflare.docker.com", /* blob CDN */
    "docker-images-prod.6aa30f8b08e16409b46e0173d6de2f56.r2.cloudflarestorage.com", /* blobs */
    NULL,
};

/* Slots of a companion entry: which rule brings it, and whether that rule is in force. */
enum { PM_C_LIVE = 0, PM_C_WARN = 1, PM_C_SHADOWED = 2 };

/* "host" or "host:port" as a companion key (lower-case, a name, a sane port); -1 if not. */
static int pm_comp_key(const char *c, char *key, size_t size)
{
	char host[REF_MAX_DOMAIN + 1];
	unsigned port;
	size_t len = strlen(c);

	if (len == 0 || len >= size ||
	    strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789-.:") != len ||
	    ref_parse_domain(c, len, host, &port, NULL) != 0 || ref_host_is_ip(host))
		return -1;
	memcpy(key, c, len + 1);
	return (int)len;
}

/*
 * An enforced allow rule is in force unless an enforced deny of the same
 * canonical rule overrides it (the validator refuses that pair; the index
 * does not rely on it).
 */
static int pm_comp_slot(const struct policy_index *idx, const struct policy_registry *r,
                        enum pm_kind kind)
{
	char key[PM_KEY_MAX];
	size_t klen;
	const struct pm_slot *s;

	if (r->mode == POLICY_WARN)
		return PM_C_WARN;
	if (kind == PM_BAD || pm_entry_key(r->host, key, &klen) == PM_BAD)
		return PM_C_SHADOWED;
	s = pm_find(&idx->t[kind], key, klen);
	return s != NULL && s->rule[2] != NULL ? PM_C_SHADOWED : PM_C_LIVE;
}

static int pm_comp_add(struct policy_index *idx, const char *c, const char *rule, size_t entry,
                       int k)
{
	char key[PM_KEY_MAX];
	int n = pm_comp_key(c, key, sizeof(key));
	struct pm_slot *s;

	if (n < 0) {
		idx->skipped++;
		return 0;
	}
	if ((s = pm_slot_for(&idx->comp, key, (size_t)n)) == NULL)
		return -1;
	if (s->rule[k] != NULL)
		return 0; /* an earlier rule already brings it: it is named */
	if ((s->rule[k] = strdup(rule)) == NULL)
		return -1;
	s->entry[k] = entry;
	return 0;
}

/* The companion table: every allow rule's companions, and Docker Hub's list. */
static int pm_comp_fill(struct policy_index *idx, const struct policy *p, const enum pm_kind *kinds)
{
	size_t n = 0, hub = 0;
	const struct pm_slot *d;

	while (policy_hub_companions[hub] != NULL)
		hub++;
	for (size_t i = 0; i < p->n_registries; i++)
		if (p->registries[i].action == POLICY_ALLOW)
			n += p->registries[i].n_companions;
	if (pm_table_init(&idx->comp, n + hub) != 0)
		return -1;
	for (size_t i = 0; i < p->n_registries; i++) {
		const struct policy_registry *r = &p->registries[i];
		int k;
		if (r->action != POLICY_ALLOW || r->n_companions == 0)
			continue; /* the common case costs nothing */
		k = pm_comp_slot(idx, r, kinds[i]);
		for (size_t c = 0; c < r->n_companions; c++)
			if (pm_comp_add(idx, r->companions[c], r->host, i, k) != 0)
				return -1;
	}
	if (!p->allow_docker_hub)
		return 0;
	d = pm_find(&idx->t[PM_EXACT], REF_HUB_DOMAIN, strlen(REF_HUB_DOMAIN));
	for (size_t c = 0; c < hub; c++)
		if (pm_comp_add(idx, policy_hub_companions[c], POLICY_HUB_RULE, SIZE_MAX,
		                d != NULL && d->rule[2] != NULL ? PM_C_SHADOWED : PM_C_LIVE) != 0)
			return -1;
	return 0;
}

/*
 * The registries on which an enforced allow rule names a repository (and
 * no enforced deny of the same scope beats it on the tie): a TLS tunnel to
 * them must be allowed, since only the engines see the repository.  Keyed
 * by the rule key's "host[:port]"; the first such rule is kept to name.
 */
static int pm_repo_hosts_fill(struct policy_index *idx)
{
	const struct pm_table *t = &idx->t[PM_PREFIX];
	const int allow = 0, deny = 2; /* pm_rule_slot(): enforced allow, enforced deny */

	if (pm_table_init(&idx->repo_hosts, t->count) != 0)
		return -1;
	for (size_t i = 0; t->count > 0 && i <= t->mask; i++) {
		const struct pm_slot *s = &t->slots[i];
		const char *slash;
		struct pm_slot *h;

		if (s->key == NULL || s->rule[allow] == NULL || s->rule[deny] != NULL)
			continue;
		if ((slash = memchr(s->key, '/', s->klen)) == NULL)
			continue;
		if ((h = pm_slot_for(&idx->repo_hosts, s->key, (size_t)(slash - s->key))) == NULL)
			return -1;
		if (h->rule[0] == NULL && (h->rule[0] = strdup(s->rule[allow])) == NULL)
			return -1;
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
	idx->allow_docker_hub = p->allow_docker_hub;
	if (idx->org == NULL || pm_fill(idx, p, kinds) != 0 || pm_comp_fill(idx, p, kinds) != 0 ||
	    pm_repo_hosts_fill(idx) != 0)
		goto out;
	idx->entries = p->n_registries;
	idx->version = p->version;
	idx->issued_at = p->issued_at;
	idx->expires_at = p->expires_at;
	idx->schema_version = p->schema_version > 0 ? p->schema_version : 1;
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
	pm_table_free(&idx->comp);
	pm_table_free(&idx->repo_hosts);
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

size_t policy_index_deny(const struct policy_index *idx)
{
	return idx->n_deny;
}

size_t policy_index_warn(const struct policy_index *idx)
{
	return idx->n_warn;
}

int policy_index_schema(const struct policy_index *idx)
{
	return idx->schema_version;
}

const char *policy_index_org(const struct policy_index *idx)
{
	return idx->org;
}

/* ---- the walk: matching rules, most specific first ---------------------- */

/*
 * One step of the walk: a slot that matched, or the allow_docker_hub rule
 * (which sits at the exact-host level of docker.io).
 */
struct pm_hit {
	const struct pm_slot *s; /* NULL for the hub rule alone */
	bool hub;                /* allow_docker_hub applies at this level */
};

/* What the walk found so far; it stops when nothing more can change. */
struct pm_eval {
	const char *eff;    /* the enforcing rule that decides; NULL = default */
	int eff_action;     /* POLICY_ALLOW / POLICY_DENY */
	const char *beaten; /* the next enforcing rule of the other action, if any */
	bool tie;           /* beaten is at the same level */
	const char *would;  /* the most specific rule of any mode */
	int would_action;
	bool would_found;
	bool eff_hub;
	bool no_deny; /* the policy has no deny rule: an allow is never beaten */
};

static void pm_eval_init(struct pm_eval *e)
{
	memset(e, 0, sizeof(*e));
}

/* True when the walk may stop. */
static bool pm_eval_step(struct pm_eval *e, const struct pm_hit *h)
{
	const struct pm_slot *s = h->s;
	const char *ae = s ? s->rule[0] : NULL, *aw = s ? s->rule[1] : NULL;
	const char *de = s ? s->rule[2] : NULL, *dw = s ? s->rule[3] : NULL;

	bool hub = h->hub && ae == NULL;

	if (hub)
		ae = POLICY_HUB_RULE;
	if (!e->would_found && (ae || aw || de || dw)) {
		e->would_found = true;
		e->would_action = (de || dw) ? POLICY_DENY : POLICY_ALLOW;
		e->would = de ? de : dw ? dw : ae ? ae : aw;
	}
	if (e->eff == NULL && (ae || de)) {
		e->eff_action = de ? POLICY_DENY : POLICY_ALLOW;
		e->eff = de ? de : ae;
		e->eff_hub = !de && hub;
		if (de && ae) {
			e->beaten = ae;
			e->tie = true;
		}
		return e->beaten != NULL || (!de && e->no_deny);
	}
	if (e->eff != NULL && e->beaten == NULL) {
		const char *other = e->eff_action == POLICY_DENY ? ae : de;
		if (other != NULL)
			e->beaten = other;
	}
	return e->eff != NULL && e->beaten != NULL;
}

struct pm_walk {
	const char *domain; /* canonical host, no port */
	unsigned port;
	const char *base; /* "host" or "host:port" */
	const char *path; /* "" for a host-level walk */
	bool hub;         /* the reference is Docker Hub and allow_docker_hub is set */
	int skip_level;   /* levels before this one are skipped (lint: the rule itself) */
};

/*
 * Levels, most specific first: prefixes of path (longest first), the exact
 * host, then "*.suffix" for each suffix of domain (longest first).  Calls
 * pm_eval_step for each matching slot until it says stop.
 */
static void pm_walk_run(const struct policy_index *idx, const struct pm_walk *w, struct pm_eval *e)
{
	char buf[PM_KEY_MAX + REF_MAX_PATH + 2];
	struct pm_hit h;
	int level = 0, n = 0;
	size_t blen = strlen(w->base);

	if (idx->t[PM_PREFIX].count > 0 && w->path[0] != '\0') {
		n = snprintf(buf, sizeof(buf), "%s/%s/", w->base, w->path);
		if (n < 0 || (size_t)n >= sizeof(buf))
			n = 0;
		for (size_t k = (size_t)n; k > blen + 1; k--) {
			if (buf[k - 1] != '/')
				continue;
			if (level++ < w->skip_level)
				continue;
			h.s = pm_find(&idx->t[PM_PREFIX], buf, k);
			h.hub = false;
			if (h.s != NULL && pm_eval_step(e, &h))
				return;
		}
	} else if (w->path[0] != '\0') {
		level += (int)pm_components(w->path, strlen(w->path));
	}
	if (level++ >= w->skip_level) {
		h.s = pm_find(&idx->t[PM_EXACT], w->base, blen);
		h.hub = w->hub;
		if ((h.s != NULL || h.hub) && pm_eval_step(e, &h))
			return;
	}
	if (w->port != 0 || idx->t[PM_WILD].count == 0 || ref_host_is_ip(w->domain))
		return;
	for (const char *dot = strchr(w->domain, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
		if (level++ < w->skip_level)
			continue;
		h.s = pm_find(&idx->t[PM_WILD], dot + 1, strlen(dot + 1));
		h.hub = false;
		if (h.s != NULL && pm_eval_step(e, &h))
			return;
	}
}

/* ---- decisions ----------------------------------------------------------- */

/* Most specific "*.suffix" entry with any rule covering a subdomain of domain. */
static const struct pm_slot *pm_match_wild(const struct policy_index *idx, const char *domain)
{
	const struct pm_slot *s;

	if (idx->t[PM_WILD].count == 0 || ref_host_is_ip(domain))
		return NULL;
	for (const char *dot = strchr(domain, '.'); dot != NULL; dot = strchr(dot + 1, '.'))
		if ((s = pm_find(&idx->t[PM_WILD], dot + 1, strlen(dot + 1))) != NULL &&
		    s->rule[0] != NULL)
			return s;
	return NULL;
}

/* Explains a near miss: a port-less rule for a ported reference, or "*.d" for "d". */
static void pm_hint(const struct policy_index *idx, const struct ref_parsed *ref, char *buf,
                    size_t size)
{
	const struct pm_slot *s;

	buf[0] = '\0';
	if (ref->port != 0) {
		s = pm_find(&idx->t[PM_EXACT], ref->domain, strlen(ref->domain));
		if (s == NULL || s->rule[0] == NULL)
			s = pm_match_wild(idx, ref->domain);
		if (s != NULL)
			snprintf(buf, size,
			         " (rule %s matches only the default port, written "
			         "without a port)",
			         s->rule[0]);
	} else if ((s = pm_find(&idx->t[PM_WILD], ref->domain, strlen(ref->domain))) != NULL &&
	           s->rule[0] != NULL) {
		snprintf(buf, size, " (rule %s matches subdomains of %s, not %s itself)",
		         s->rule[0], ref->domain, ref->domain);
	}
}

static void pm_deny_default(const struct policy_index *idx, const struct ref_parsed *ref,
                            const char *base, struct rampart_decision *out)
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

static const char *pm_verb(int action)
{
	return action == POLICY_DENY ? "deny " : "allow ";
}

/* " (deny X is more specific than allow Y)" or the tie wording. */
static size_t pm_why(const struct pm_eval *e, char *buf, size_t sz, size_t n)
{
	int other = e->eff_action == POLICY_DENY ? POLICY_ALLOW : POLICY_DENY;

	if (e->beaten == NULL)
		return n;
	n = pm_cat(buf, sz, n, " (");
	n = pm_cat(buf, sz, n, pm_verb(e->eff_action));
	n = pm_cat(buf, sz, n, e->eff);
	n = pm_cat(buf, sz, n, e->tie ? " and " : " is more specific than ");
	n = pm_cat(buf, sz, n, pm_verb(other));
	n = pm_cat(buf, sz, n, e->beaten);
	return pm_cat(buf, sz, n, e->tie ? " are equally specific; deny wins ties)" : ")");
}

/*
 * "<base>[/<path>] matches [deny ]rule <rule>[ (why)]", built without printf
 * (the allow case is the hot path).
 */
static void pm_decided(const struct ref_parsed *ref, const char *base, const struct pm_eval *e,
                       struct rampart_decision *out)
{
	size_t n = 0;
	const size_t sz = sizeof(out->reason);

	out->allowed = e->eff_action == POLICY_ALLOW;
	out->denied_by_rule = !out->allowed;
	rp_strlcpy(out->rule, e->eff, sizeof(out->rule));
	if (e->eff_hub) {
		n = pm_cat(out->reason, sz, n,
		           "Docker Hub is allowed by the policy (allow_docker_hub)");
	} else {
		n = pm_cat(out->reason, sz, n, base);
		if (strchr(e->eff, '/') != NULL) {
			n = pm_cat(out->reason, sz, n, "/");
			n = pm_cat(out->reason, sz, n, ref->path);
		}
		n = pm_cat(out->reason, sz, n,
		           out->allowed ? " matches rule " : " matches deny rule ");
		n = pm_cat(out->reason, sz, n, e->eff);
	}
	pm_why(e, out->reason, sz, n);
}

/* A dry-run rule that would change the answer: warn, and say how. */
static void pm_warn(const struct pm_eval *e, struct rampart_decision *out)
{
	bool would_allow = e->would_action == POLICY_ALLOW;
	size_t n;

	if (!e->would_found || would_allow == out->allowed)
		return;
	out->warn = true;
	n = pm_cat(out->warn_rule, sizeof(out->warn_rule), 0, pm_verb(e->would_action));
	pm_cat(out->warn_rule, sizeof(out->warn_rule), n, e->would);
	snprintf(out->warn_reason, sizeof(out->warn_reason),
	         "rule %s (mode warn) would %s this reference; it is not enforced yet",
	         out->warn_rule, would_allow ? "allow" : "deny");
	n = strlen(out->reason);
	snprintf(out->reason + n, sizeof(out->reason) - n, "; warn: %s", out->warn_reason);
}

/* Resets every field (cheaper than zeroing the ~4.5 KiB struct). */
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
	out->denied_by_rule = false;
	out->warn = false;
	out->warn_rule[0] = '\0';
	out->warn_reason[0] = '\0';
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
	struct pm_walk w;
	struct pm_eval e;

	pm_clear(out);
	rp_strlcpy(out->normalized, ref->normalized, sizeof(out->normalized));
	if (idx == NULL) {
		pm_no_policy(allow_when_no_policy, out);
		return;
	}
	out->policy_cached = true;
	out->policy_version = idx->version;
	pm_base(ref, base, sizeof(base));
	w = (struct pm_walk){ref->domain,
	                     ref->port,
	                     base,
	                     ref->path,
	                     ref->is_docker_hub && idx->allow_docker_hub,
	                     0};
	pm_eval_init(&e);
	e.no_deny = idx->n_deny == 0;
	pm_walk_run(idx, &w, &e);
	if (e.eff != NULL)
		pm_decided(ref, base, &e, out);
	else
		pm_deny_default(idx, ref, base, out);
	if (e.eff == NULL)
		e.eff_action = POLICY_DENY;
	pm_warn(&e, out);
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

int policy_check_registry(const struct policy_index *idx, bool allow_when_no_policy,
                          const char *registry, int64_t now, struct rampart_decision *out)
{
	char ref[REF_MAX_DOMAIN + 64], base[REF_MAX_DOMAIN + 16];
	const struct pm_slot *s;
	struct ref_parsed r;
	size_t n;

	/* any repository on the registry: the host-level rules decide it */
	if (strlen(registry) > REF_MAX_DOMAIN + 8 || strchr(registry, '/') != NULL) {
		pm_clear(out);
		rp_strlcpy(out->code, "E_REF", sizeof(out->code));
		rp_strlcpy(out->reason, "not a registry host[:port]", sizeof(out->reason));
		return -1;
	}
	/* two components: on Docker Hub one would mean docker.io/library/ */
	snprintf(ref, sizeof(ref), "%s/rampart-registry-check/any", registry);
	if (policy_check(idx, allow_when_no_policy, ref, now, out) != 0)
		return -1;
	if (out->allowed || idx == NULL || ref_normalize(ref, &r, NULL) != 0)
		return 0;
	pm_base(&r, base, sizeof(base));
	n = strlen(base);
	/* a repository rule more specific than whatever refused the host */
	if ((s = pm_find(&idx->repo_hosts, base, n)) == NULL)
		return 0;
	out->allowed = true;
	out->denied_by_rule = false;
	rp_strlcpy(out->rule, s->rule[0], sizeof(out->rule));
	snprintf(out->reason, sizeof(out->reason),
	         "%s is allowed at registry level: rule %s allows a repository on it (a "
	         "tunnel shows only the host; the engines decide the repository)%s",
	         base, s->rule[0], out->expired ? "; policy expired, still enforced" : "");
	return 0;
}

/* ---- lint: rules that can never change a decision ------------------------ */

/* Sets up a walk over the rules less specific than entry r (key k). */
static int pm_lint_walk(const char *k, enum pm_kind kind, bool hub, struct pm_walk *w, char *domain,
                        char *base)
{
	const char *slash = strchr(k, '/');
	unsigned port = 0;
	size_t blen = slash != NULL ? (size_t)(slash - k) : strlen(k);

	if (kind == PM_WILD) {
		/* "*.a.b" is covered by "*.b": walk "x.a.b" from its second wildcard level */
		snprintf(domain, REF_MAX_DOMAIN + 3, "x.%s", k);
		rp_strlcpy(base, domain, PM_KEY_MAX);
		*w = (struct pm_walk){domain, 0, base, "", false, 2};
		return 0;
	}
	memcpy(base, k, blen);
	base[blen] = '\0';
	if (ref_parse_domain(base, blen, domain, &port, NULL) != 0)
		return -1;
	if (port == 0 && ref_is_hub_host(domain))
		rp_strlcpy(domain, REF_HUB_DOMAIN, REF_MAX_DOMAIN + 1);
	*w = (struct pm_walk){
	    domain, port, base, "", hub && port == 0 && strcmp(domain, REF_HUB_DOMAIN) == 0, 1};
	if (slash != NULL) {
		/* key "h/a/b/": the path "a/b", the rule itself is level 0 */
		w->path = slash + 1;
	}
	return 0;
}

static void pm_lint_rule(const struct policy_index *idx, const struct pm_slot *s, int k,
                         enum pm_kind kind, policy_lint_fn fn, void *arg)
{
	char domain[REF_MAX_DOMAIN + 3], base[PM_KEY_MAX], path[PM_KEY_MAX],
	    msg[2 * PM_KEY_MAX + 160];
	struct pm_walk w;
	struct pm_eval e;
	int action = k / 2, mode = k % 2;

	rp_strlcpy(path, s->key, sizeof(path));
	if (kind == PM_PREFIX) /* drop the trailing '/' of the key for the walk */
		path[strlen(path) - 1] = '\0';
	if (pm_lint_walk(path, kind, idx->allow_docker_hub, &w, domain, base) != 0)
		return;
	pm_eval_init(&e);
	pm_walk_run(idx, &w, &e);
	if (e.eff != NULL && e.eff_action == action)
		snprintf(msg, sizeof(msg),
		         "%s%s%s changes nothing: the less specific rule %s%s already %s "
		         "everything it matches",
		         pm_verb(action), s->rule[k], mode ? " (mode warn)" : "",
		         pm_verb(e.eff_action), e.eff, action == POLICY_DENY ? "denies" : "allows");
	else if (e.eff == NULL && action == POLICY_DENY)
		snprintf(msg, sizeof(msg),
		         "deny %s%s changes nothing: no less specific rule allows what it matches, "
		         "so it is denied by default",
		         s->rule[k], mode ? " (mode warn)" : "");
	else
		return;
	fn(arg, s->entry[k], msg);
}

void policy_lint(const struct policy_index *idx, policy_lint_fn fn, void *arg)
{
	for (int t = 0; t < PM_NKIND; t++)
		for (size_t i = 0; idx->t[t].slots != NULL && i <= idx->t[t].mask; i++)
			for (int k = 0; k < PM_NRULE; k++)
				if (idx->t[t].slots[i].key != NULL &&
				    idx->t[t].slots[i].rule[k] != NULL)
					pm_lint_rule(idx, &idx->t[t].slots[i], k, (enum pm_kind)t,
					             fn, arg);
}

/* ---- companion lookups ---------------------------------------------------- */

size_t policy_index_companions(const struct policy_index *idx)
{
	return idx->comp.count;
}

/* The enforcing rule that decides host[:port] at host level, if it is a deny. */
static const char *pm_host_deny(const struct policy_index *idx, const char *domain, unsigned port)
{
	char base[REF_MAX_DOMAIN + 16];
	struct pm_walk w;
	struct pm_eval e;

	if (port != 0)
		snprintf(base, sizeof(base), "%s:%u", domain, port);
	else
		rp_strlcpy(base, domain, sizeof(base));
	w = (struct pm_walk){domain, port, base, "", false, 0};
	pm_eval_init(&e);
	pm_walk_run(idx, &w, &e);
	return e.eff != NULL && e.eff_action == POLICY_DENY ? e.eff : NULL;
}

/* The slot for "host:port", else (on the default port) for "host". */
static const struct pm_slot *pm_comp_find(const struct policy_index *idx, const char *host,
                                          unsigned port, unsigned dflt, int k, char *matched)
{
	char key[PM_KEY_MAX];
	const struct pm_slot *s;
	int n = snprintf(key, sizeof(key), "%s:%u", host, port);

	if (n > 0 && (size_t)n < sizeof(key) && (s = pm_find(&idx->comp, key, (size_t)n)) != NULL &&
	    s->rule[k] != NULL) {
		rp_strlcpy(matched, key, RAMPART_COMPANION_MAX);
		return s;
	}
	if (port == dflt && (s = pm_find(&idx->comp, host, strlen(host))) != NULL &&
	    s->rule[k] != NULL) {
		rp_strlcpy(matched, host, RAMPART_COMPANION_MAX);
		return s;
	}
	return NULL;
}

static void pm_comp_clear(struct rampart_companion *out)
{
	memset(out, 0, sizeof(*out));
}

/* No live rule lists it: say whether a warn or an overridden rule does. */
static void pm_comp_none(const struct policy_index *idx, const char *host, unsigned port,
                         unsigned dflt, struct rampart_companion *out)
{
	const struct pm_slot *s;

	if ((s = pm_comp_find(idx, host, port, dflt, PM_C_WARN, out->companion)) != NULL) {
		rp_strlcpy(out->rule, s->rule[PM_C_WARN], sizeof(out->rule));
		snprintf(out->reason, sizeof(out->reason),
		         "%s is a companion host of allow rule %s, which is in mode warn (not "
		         "enforced yet), so it brings no companions",
		         host, out->rule);
	} else if ((s = pm_comp_find(idx, host, port, dflt, PM_C_SHADOWED, out->companion)) !=
	           NULL) {
		rp_strlcpy(out->rule, s->rule[PM_C_SHADOWED], sizeof(out->rule));
		snprintf(out->reason, sizeof(out->reason),
		         "%s is a companion host of allow rule %s, which an enforced deny of the "
		         "same rule overrides",
		         host, out->rule);
	} else {
		out->companion[0] = '\0';
		snprintf(out->reason, sizeof(out->reason),
		         "%s:%u is not a companion host of any allow rule in force", host, port);
	}
}

int policy_companion(const struct policy_index *idx, const char *host, unsigned port,
                     unsigned default_port, struct rampart_companion *out)
{
	char h[REF_MAX_DOMAIN + 1], domain[REF_MAX_DOMAIN + 1];
	const struct pm_slot *s;
	const char *deny;
	size_t len = host != NULL ? strlen(host) : 0;
	unsigned p0;

	pm_comp_clear(out);
	if (len == 0 || len > REF_MAX_DOMAIN || port == 0 || port > 65535 || default_port == 0 ||
	    default_port > 65535) {
		rp_strlcpy(out->code, "E_INVAL", sizeof(out->code));
		rp_strlcpy(out->reason, "a companion lookup needs a host name and a port 1-65535",
		           sizeof(out->reason));
		return -1;
	}
	for (size_t i = 0; i <= len; i++)
		h[i] = host[i] >= 'A' && host[i] <= 'Z' ? (char)(host[i] - 'A' + 'a') : host[i];
	if (idx == NULL) {
		rp_strlcpy(out->reason, "no policy cached; no companion host is allowed",
		           sizeof(out->reason));
		return 0;
	}
	out->policy_cached = true;
	out->policy_version = idx->version;
	if (ref_parse_domain(h, len, domain, &p0, NULL) != 0 || p0 != 0 || ref_host_is_ip(domain)) {
		snprintf(out->reason, sizeof(out->reason),
		         "%s is not a host name, and companions are host names", h);
		return 0;
	}
	if ((s = pm_comp_find(idx, domain, port, default_port, PM_C_LIVE, out->companion)) ==
	    NULL) {
		pm_comp_none(idx, domain, port, default_port, out);
		return 0;
	}
	rp_strlcpy(out->rule, s->rule[PM_C_LIVE], sizeof(out->rule));
	out->hub = s->entry[PM_C_LIVE] == SIZE_MAX;
	if ((deny = pm_host_deny(idx, domain, port == default_port ? 0 : port)) != NULL) {
		out->hub = false;
		snprintf(out->reason, sizeof(out->reason),
		         "%s is a companion host of allow rule %s, but deny rule %s matches the "
		         "host itself, and a deny wins",
		         domain, out->rule, deny);
		rp_strlcpy(out->rule, deny, sizeof(out->rule));
		return 0;
	}
	out->allowed = true;
	if (out->hub)
		snprintf(out->reason, sizeof(out->reason),
		         "%s is one of Docker Hub's companion hosts (list version %d), allowed "
		         "with allow_docker_hub",
		         domain, RAMPART_HUB_COMPANIONS_VERSION);
	else
		snprintf(out->reason, sizeof(out->reason),
		         "%s is a companion host of allow rule %s", out->companion, out->rule);
	return 0;
}

/* ---- lint: companions that change nothing or can never be allowed --------- */

static void pm_comp_lint_one(const struct policy_index *idx, const char *rule, size_t entry,
                             bool live, const char *c, policy_comp_lint_fn fn, void *arg)
{
	char domain[REF_MAX_DOMAIN + 1], base[PM_KEY_MAX], msg[3 * PM_KEY_MAX];
	unsigned port = 0;
	struct pm_walk w;
	struct pm_eval e;

	if (ref_parse_domain(c, strlen(c), domain, &port, NULL) != 0)
		return;
	rp_strlcpy(base, c, sizeof(base));
	w = (struct pm_walk){domain, port, base, "", false, 0};
	pm_eval_init(&e);
	pm_walk_run(idx, &w, &e);
	if (!live)
		snprintf(msg, sizeof(msg),
		         "companion %s of %s is never allowed: an enforced deny of the same rule "
		         "overrides %s",
		         c, rule, rule);
	else if (e.eff != NULL && e.eff_action == POLICY_DENY)
		snprintf(msg, sizeof(msg),
		         "companion %s of %s is never allowed: deny rule %s matches that host, "
		         "and a deny wins",
		         c, rule, e.eff);
	else if (e.eff != NULL)
		snprintf(msg, sizeof(msg),
		         "companion %s of %s changes nothing: rule %s already allows that host as "
		         "a registry",
		         c, rule, e.eff);
	else
		return;
	fn(arg, entry, c, msg);
}

void policy_companion_lint(const struct policy_index *idx, const struct policy *p,
                           policy_comp_lint_fn fn, void *arg)
{
	for (size_t i = 0; i < p->n_registries; i++) {
		const struct policy_registry *r = &p->registries[i];
		char key[PM_KEY_MAX];
		size_t klen;
		enum pm_kind kind = pm_entry_key(r->host, key, &klen);
		const struct pm_slot *s = kind != PM_BAD ? pm_find(&idx->t[kind], key, klen) : NULL;
		bool live = r->mode == POLICY_WARN || s == NULL || s->rule[2] == NULL;
		for (size_t c = 0; r->action == POLICY_ALLOW && c < r->n_companions; c++)
			pm_comp_lint_one(idx, r->host, i, live, r->companions[c], fn, arg);
	}
}
