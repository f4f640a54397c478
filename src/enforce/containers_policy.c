/* SPDX-License-Identifier: ISC */
/*
 * Compiles a verified registry policy into a containers/image policy.json.
 * The policy was verified before it was stored; its entries are still
 * re-canonicalised with the matcher's own code (policy_entry_canon), and
 * only text that passes cpol_scope_ok is ever written, so an entry can make
 * the file deny more, never allow more or break its syntax.  Policy v2: a
 * deny rule is a reject scope (containers/image takes the most specific
 * scope, as the matcher takes the most specific rule), a rule in mode warn is
 * not written (it decides nothing in the matcher either).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "containers_policy.h"
#include "policy_match.h"

#define CPOL_HUB "docker.io"
#define CPOL_HUB_ALIAS                                                                             \
	"registry-1.docker.io" /* rampart folds it to docker.io; c/image does not                  \
	                        */

const char *const cpol_local_transports[] = {"containers-storage",
                                             "dir",
                                             "docker-archive",
                                             "docker-daemon",
                                             "oci",
                                             "oci-archive",
                                             "sif",
                                             "tarball",
                                             NULL};

/* ---- scope grammar -------------------------------------------------------- */

static int cpol_host_ok(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

static int cpol_port_ok(const char *s, size_t n)
{
	unsigned long v = 0;

	if (n == 0 || n > 5 || s[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static int cpol_path_ok(const char *s)
{
	size_t comp = 0;

	for (; *s; s++) {
		char c = *s;
		if (c == '/') {
			if (comp == 0)
				return 0;
			comp = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
		           c == '_' || c == '-') {
			comp++;
		} else {
			return 0;
		}
	}
	return comp > 0;
}

int cpol_scope_ok(const char *s)
{
	size_t len = strlen(s), hlen;
	const char *slash, *colon;

	if (len == 0 || len >= CPOL_MAX_SCOPE)
		return 0;
	if (strncmp(s, "*.", 2) == 0)
		return cpol_host_ok(s + 2, len - 2);
	slash = strchr(s, '/');
	hlen = slash != NULL ? (size_t)(slash - s) : len;
	colon = memchr(s, ':', hlen);
	if (colon != NULL && !cpol_port_ok(colon + 1, hlen - (size_t)(colon - s) - 1))
		return 0;
	if (!cpol_host_ok(s, colon != NULL ? (size_t)(colon - s) : hlen))
		return 0;
	return slash == NULL || cpol_path_ok(slash + 1);
}

/* ---- the rule list ------------------------------------------------------- */

static int cpol_push(struct cpol_model *m, const char *scope, enum cpol_action a, size_t entry)
{
	if (m->n_rules == m->cap_rules) {
		size_t cap = m->cap_rules ? m->cap_rules * 2 : 64;
		struct cpol_rule *r = realloc(m->rules, cap * sizeof(*r));
		if (r == NULL)
			return -1;
		m->rules = r;
		m->cap_rules = cap;
	}
	if ((m->rules[m->n_rules].scope = strdup(scope)) == NULL)
		return -1;
	m->rules[m->n_rules].action = a;
	m->rules[m->n_rules].entry = entry;
	m->n_rules++;
	return 0;
}

/* Pushes scope if the grammar and the length limit let it be written. */
static int cpol_push_scope(struct cpol_model *m, const char *scope, enum cpol_action a,
                           size_t entry)
{
	/*
	 * Room is kept for the registry-1.docker.io twin.  An omitted reject is
	 * safe: a scope that long only matches names over 255 bytes, which
	 * containers/image refuses to parse (docker/reference NameTotalLengthMax).
	 */
	if (strlen(scope) >= CPOL_MAX_SCOPE - (sizeof(CPOL_HUB_ALIAS) - sizeof(CPOL_HUB))) {
		m->omitted[CPOL_OMIT_TOO_LONG]++;
		return 0;
	}
	if (!cpol_scope_ok(scope)) {
		m->omitted[CPOL_OMIT_INVALID]++;
		return 0;
	}
	return cpol_push(m, scope, a, entry);
}

/* One policy rule with the action it has; rules in mode warn are left out. */
static int cpol_add_entry(struct cpol_model *m, const struct cpol_opts *o,
                          const struct policy_registry *r, size_t entry)
{
	char key[RAMPART_RULE_MAX], scope[RAMPART_RULE_MAX + 2];
	enum cpol_action a = r->action == POLICY_DENY ? CPOL_REJECT : CPOL_ALLOW;
	size_t n;

	if (r->mode == POLICY_WARN) {
		m->omitted[CPOL_OMIT_WARN]++;
		return 0;
	}
	switch (policy_entry_canon(r->host, key, sizeof(key))) {
	case POLICY_FORM_BAD:
		m->omitted[CPOL_OMIT_INVALID]++;
		return 0;
	case POLICY_FORM_WILDCARD:
		if (!o->wildcard_scopes) {
			m->omitted[CPOL_OMIT_WILDCARD]++;
			return 0;
		}
		snprintf(scope, sizeof(scope), "*.%s", key);
		break;
	case POLICY_FORM_PREFIX:
		n = strlen(key);
		if (n > 0 && key[n - 1] == '/')
			key[n - 1] = '\0'; /* "quay.io/org/" -> scope "quay.io/org" */
		                           /* fall through */
	case POLICY_FORM_HOST:
		rp_strlcpy(scope, key, sizeof(scope));
		break;
	}
	if (scope[0] == '[') {
		m->omitted[CPOL_OMIT_IPV6]++;
		return 0;
	}
	return cpol_push_scope(m, scope, a, entry);
}

static int cpol_cmp(const void *a, const void *b)
{
	const struct cpol_rule *x = a, *y = b;
	int c = strcmp(x->scope, y->scope);

	if (c != 0)
		return c;
	return (int)y->action - (int)x->action; /* REJECT first: it wins a tie */
}

/* Sorts by scope and keeps one rule per scope (the reject, if there is one). */
static void cpol_sort_unique(struct cpol_model *m)
{
	size_t w = 0;

	if (m->n_rules == 0)
		return;
	qsort(m->rules, m->n_rules, sizeof(*m->rules), cpol_cmp);
	for (size_t r = 1; r < m->n_rules; r++) {
		if (strcmp(m->rules[r].scope, m->rules[w].scope) == 0) {
			free(m->rules[r].scope);
			continue;
		}
		m->rules[++w] = m->rules[r];
	}
	m->n_rules = w + 1;
}

static const struct cpol_rule *cpol_find(const struct cpol_model *m, const char *scope)
{
	size_t lo = 0, hi = m->n_rules;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(scope, m->rules[mid].scope);
		if (c == 0)
			return &m->rules[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- the registry-1.docker.io alias --------------------------------------- */

/*
 * rampart reads registry-1.docker.io as Docker Hub: "registry-1.docker.io/x"
 * is docker.io/library/x, "registry-1.docker.io/a/b" is docker.io/a/b.
 * containers/image folds only index.docker.io, so it looks the alias up under
 * its own name (and under "*.docker.io", "*.io").  The alias scopes below make
 * the engine decide each alias name as rampart decides the Hub name, except
 * where one alias scope serves two Hub names that rampart decides differently
 * ("registry-1.docker.io/x" is docker.io/library/x, "registry-1.docker.io/x/y"
 * is docker.io/x/y): then it rejects (fails closed).
 */

/* The action of scope, or dflt when the model has no such scope. */
static enum cpol_action cpol_act(const struct cpol_model *m, const char *scope,
                                 enum cpol_action dflt)
{
	const struct cpol_rule *r = cpol_find(m, scope);

	return r != NULL ? r->action : dflt;
}

static enum cpol_action cpol_both(enum cpol_action a, enum cpol_action b)
{
	return a == CPOL_ALLOW && b == CPOL_ALLOW ? CPOL_ALLOW : CPOL_REJECT;
}

/* What the file decides for a docker.io name at host level and below. */
static enum cpol_action cpol_hub_host(const struct cpol_model *m)
{
	return cpol_act(m, CPOL_HUB, cpol_act(m, "*.io", CPOL_REJECT));
}

/* Alias scope for a docker.io path of one component x (no '/'). */
static enum cpol_action cpol_alias_one(const struct cpol_model *m, const char *x)
{
	char s[CPOL_MAX_SCOPE + 32];
	enum cpol_action h = cpol_hub_host(m), l = cpol_act(m, CPOL_HUB "/library", h), one, deep;

	snprintf(s, sizeof(s), CPOL_HUB "/library/%s", x);
	one = cpol_act(m, s, l); /* "registry-1.docker.io/x": docker.io/library/x */
	snprintf(s, sizeof(s), CPOL_HUB "/%s", x);
	deep = cpol_act(m, s, h); /* "registry-1.docker.io/x/y": docker.io/x/y */
	return cpol_both(one, deep);
}

/* Adds to al the alias scopes that docker.io scope s of m calls for. */
static int cpol_alias_of(const struct cpol_model *m, struct cpol_model *al, const char *s)
{
	char alias[CPOL_MAX_SCOPE + 32];
	const char *path = s + sizeof(CPOL_HUB); /* after "docker.io/" */

	snprintf(alias, sizeof(alias), CPOL_HUB_ALIAS "/%s", path);
	if (strchr(path, '/') == NULL) /* docker.io/x */
		return cpol_push(al, alias, cpol_alias_one(m, path), SIZE_MAX);
	if (cpol_push(al, alias, cpol_act(m, s, CPOL_REJECT), SIZE_MAX) < 0)
		return -1;
	if (strncmp(path, "library/", 8) != 0 || strchr(path + 8, '/') != NULL)
		return 0;
	/* docker.io/library/x also decides the one-component alias name x */
	snprintf(alias, sizeof(alias), CPOL_HUB_ALIAS "/%s", path + 8);
	return cpol_push(al, alias, cpol_alias_one(m, path + 8), SIZE_MAX);
}

static bool cpol_is_alias(const char *s)
{
	size_t n = sizeof(CPOL_HUB_ALIAS) - 1;

	return strncmp(s, CPOL_HUB_ALIAS, n) == 0 && (s[n] == '\0' || s[n] == '/');
}

/* What the engine would decide for alias scope s if s were not written. */
static enum cpol_action cpol_alias_parent(const struct cpol_model *m, const bool *gone,
                                          const char *s)
{
	char buf[CPOL_MAX_SCOPE + 32];
	char *slash;

	rp_strlcpy(buf, s, sizeof(buf));
	while ((slash = strrchr(buf, '/')) != NULL) {
		const struct cpol_rule *r;
		*slash = '\0';
		r = cpol_find(m, buf);
		if (r != NULL && !gone[r - m->rules])
			return r->action;
	}
	return cpol_act(m, "*.docker.io", cpol_act(m, "*.io", CPOL_REJECT));
}

static int cpol_len_desc(const void *a, const void *b)
{
	size_t x = strlen(*(const char *const *)a), y = strlen(*(const char *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Drops alias scopes that change nothing (the engine reaches the same action
 * from the next less specific one), most specific first, so a dropped
 * parent never changes what a kept child falls back to.
 */
static int cpol_alias_prune(struct cpol_model *m)
{
	bool *gone = calloc(m->n_rules + 1, sizeof(*gone));
	const char **order = calloc(m->n_rules + 1, sizeof(*order));
	size_t n = 0, w = 0;
	int rc = -1;

	if (gone == NULL || order == NULL)
		goto out;
	for (size_t i = 0; i < m->n_rules; i++)
		if (cpol_is_alias(m->rules[i].scope))
			order[n++] = m->rules[i].scope;
	qsort(order, n, sizeof(*order), cpol_len_desc);
	for (size_t i = 0; i < n; i++) {
		const struct cpol_rule *r = cpol_find(m, order[i]);
		if (r->action == cpol_alias_parent(m, gone, r->scope))
			gone[r - m->rules] = true;
	}
	for (size_t i = 0; i < m->n_rules; i++) {
		if (gone[i])
			free(m->rules[i].scope);
		else
			m->rules[w++] = m->rules[i];
	}
	m->n_rules = w;
	rc = 0;
out:
	free(gone);
	free(order);
	return rc;
}

/* Computes the alias scopes from m's (sorted) docker.io ones, then adds them. */
static int cpol_hub_alias(struct cpol_model *m)
{
	struct cpol_model al;
	enum cpol_action h = cpol_hub_host(m);
	int rc = -1;

	memset(&al, 0, sizeof(al));
	if (cpol_push(&al, CPOL_HUB_ALIAS, cpol_both(h, cpol_act(m, CPOL_HUB "/library", h)),
	              SIZE_MAX) < 0)
		goto out;
	for (size_t i = 0; i < m->n_rules; i++) {
		const char *s = m->rules[i].scope;
		if (strncmp(s, CPOL_HUB "/", sizeof(CPOL_HUB)) == 0 && cpol_alias_of(m, &al, s) < 0)
			goto out;
	}
	for (size_t i = 0; i < al.n_rules; i++) {
		if (cpol_push(m, al.rules[i].scope, al.rules[i].action, SIZE_MAX) < 0)
			goto out;
	}
	cpol_sort_unique(m);
	rc = cpol_alias_prune(m);
out:
	cpol_model_free(&al);
	return rc;
}

int cpol_model_build(const struct policy *p, const struct cpol_opts *o, struct cpol_model *m,
                     struct rp_err *err)
{
	memset(m, 0, sizeof(*m));
	if (p == NULL) {
		m->docker_accept_all = o->allow_when_no_policy;
		return 0;
	}
	m->have_policy = true;
	m->version = p->version;
	if (p->allow_docker_hub && cpol_push_scope(m, CPOL_HUB, CPOL_ALLOW, SIZE_MAX) < 0)
		goto nomem;
	for (size_t i = 0; i < p->n_registries; i++)
		if (cpol_add_entry(m, o, &p->registries[i], i) < 0)
			goto nomem;
	cpol_sort_unique(m);
	if (cpol_hub_alias(m) < 0)
		goto nomem;
	return 0;
nomem:
	cpol_model_free(m);
	return rp_seterr(err, "E_NOMEM", "out of memory while compiling the containers policy");
}

enum cpol_action cpol_model_lookup(const struct cpol_model *m, const char *name)
{
	char buf[CPOL_MAX_SCOPE + 32];
	const struct cpol_rule *r;
	char *cut, *dot;

	if (m->docker_accept_all)
		return CPOL_ALLOW;
	if (strlen(name) > 255 || strlen(name) >= sizeof(buf) - 2)
		return CPOL_REJECT;
	rp_strlcpy(buf, name, sizeof(buf));
	for (;;) { /* the name, then its parent namespaces, then the host[:port] */
		if ((r = cpol_find(m, buf)) != NULL)
			return r->action;
		if ((cut = strrchr(buf, '/')) == NULL)
			break;
		*cut = '\0';
	}
	if ((cut = strchr(buf, ':')) != NULL)
		*cut = '\0'; /* wildcards match the host on any port */
	for (dot = strchr(buf, '.'); dot != NULL; dot = strchr(dot + 1, '.')) {
		char wild[CPOL_MAX_SCOPE + 34];
		snprintf(wild, sizeof(wild), "*%s", dot);
		if ((r = cpol_find(m, wild)) != NULL)
			return r->action;
	}
	return CPOL_REJECT;
}

void cpol_model_free(struct cpol_model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_rules; i++)
		free(m->rules[i].scope);
	free(m->rules);
	memset(m, 0, sizeof(*m));
}

size_t cpol_model_count(const struct cpol_model *m, enum cpol_action a)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_rules; i++)
		n += m->rules[i].action == a;
	return n;
}

/* ---- rendering ----------------------------------------------------------- */

struct cpol_buf {
	char *p;
	size_t len, cap;
	bool err;
};

static void cpol_put(struct cpol_buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *np;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->err = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

#define CPOL_LIT(b, lit) cpol_put((b), (lit), sizeof(lit) - 1)
#define CPOL_ACCEPT "[{\"type\": \"insecureAcceptAnything\"}]"
#define CPOL_REJECT_REQ "[{\"type\": \"reject\"}]"

static void cpol_scope_line(struct cpol_buf *b, const char *scope, const char *req, bool last)
{
	CPOL_LIT(b, "            \"");
	cpol_put(b, scope, strlen(scope));
	CPOL_LIT(b, "\": ");
	cpol_put(b, req, strlen(req));
	if (!last)
		CPOL_LIT(b, ",");
	CPOL_LIT(b, "\n");
}

int cpol_render(const struct cpol_model *m, char **out, size_t *len, struct rp_err *err)
{
	struct cpol_buf b = {NULL, 0, 0, false};

	*out = NULL;
	*len = 0;
	CPOL_LIT(&b, "{\n    \"default\": [{\"type\": \"reject\"}],\n    \"transports\": {\n"
	             "        \"docker\": {\n");
	if (m->docker_accept_all)
		cpol_scope_line(&b, "", CPOL_ACCEPT, true);
	for (size_t i = 0; i < m->n_rules && !m->docker_accept_all; i++)
		cpol_scope_line(&b, m->rules[i].scope,
		                m->rules[i].action == CPOL_ALLOW ? CPOL_ACCEPT : CPOL_REJECT_REQ,
		                i + 1 == m->n_rules);
	CPOL_LIT(&b, "        }");
	for (size_t i = 0; cpol_local_transports[i] != NULL; i++) {
		CPOL_LIT(&b, ",\n        \"");
		cpol_put(&b, cpol_local_transports[i], strlen(cpol_local_transports[i]));
		CPOL_LIT(&b, "\": {\"\": " CPOL_ACCEPT "}");
	}
	CPOL_LIT(&b, "\n    }\n}\n");
	if (b.err) {
		free(b.p);
		return rp_seterr(err, "E_NOMEM",
		                 "out of memory while writing the containers policy");
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
