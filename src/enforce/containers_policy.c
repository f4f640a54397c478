/* SPDX-License-Identifier: ISC */
/*
 * Compiles a verified registry policy into a containers/image policy.json.
 * The policy was verified before it was stored; its entries are still
 * re-canonicalised with the matcher's own code (policy_entry_canon), and
 * only text that passes cpol_scope_ok is ever written, so an entry can make
 * the file deny more, never allow more or break its syntax.
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

/* Pushes scope, and its registry-1.docker.io twin when it names Docker Hub. */
static int cpol_push_scope(struct cpol_model *m, const char *scope, enum cpol_action a,
                           size_t entry)
{
	size_t hl = strlen(CPOL_HUB);
	char twin[CPOL_MAX_SCOPE + 16];

	if (strlen(scope) >= CPOL_MAX_SCOPE - (sizeof(CPOL_HUB_ALIAS) - sizeof(CPOL_HUB))) {
		m->omitted[CPOL_OMIT_TOO_LONG]++;
		return 0;
	}
	if (!cpol_scope_ok(scope)) {
		m->omitted[CPOL_OMIT_INVALID]++;
		return 0;
	}
	if (cpol_push(m, scope, a, entry) < 0)
		return -1;
	if (strncmp(scope, CPOL_HUB, hl) != 0 || (scope[hl] != '\0' && scope[hl] != '/'))
		return 0;
	snprintf(twin, sizeof(twin), "%s%s", CPOL_HUB_ALIAS, scope + hl);
	return cpol_push(m, twin, a, entry);
}

/* One policy entry (host as signed) with the action its rule has. */
static int cpol_add_entry(struct cpol_model *m, const struct cpol_opts *o, const char *host,
                          enum cpol_action a, size_t entry)
{
	char key[RAMPART_RULE_MAX], scope[RAMPART_RULE_MAX + 2];
	size_t n;

	switch (policy_entry_canon(host, key, sizeof(key))) {
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

/* 1 if a host-level rule allows docker.io itself: "docker.io", or "*.io". */
static int cpol_hub_allowed(const struct cpol_model *m)
{
	static const char hub[] = CPOL_HUB;
	const struct cpol_rule *r = cpol_find(m, hub);
	size_t hl = sizeof(hub) - 1;

	if (r != NULL)
		return r->action == CPOL_ALLOW;
	for (size_t i = 0; i < m->n_rules; i++) {
		const char *s = m->rules[i].scope;
		size_t sl = strlen(s);
		if (m->rules[i].action == CPOL_ALLOW && s[0] == '*' && sl - 1 < hl &&
		    strcmp(&hub[hl - (sl - 1)], s + 1) == 0)
			return 1; /* "*.io": ".io" ends "docker.io" */
	}
	return 0;
}

/*
 * rampart reads registry-1.docker.io as Docker Hub (domain docker.io), so
 * "*.docker.io" never allows it, while containers/image matches the wildcard.
 * A reject scope for the alias is more specific and keeps the two in step.
 * ("*.io" covers docker.io itself in both matchers: no exception.)
 */
static int cpol_hub_exceptions(struct cpol_model *m)
{
	size_t n = m->n_rules;
	bool need = false;

	if (cpol_find(m, CPOL_HUB_ALIAS) != NULL)
		return 0;
	for (size_t i = 0; i < n && !need; i++)
		need = m->rules[i].action == CPOL_ALLOW &&
		       strcmp(m->rules[i].scope, "*." CPOL_HUB) == 0;
	if (!need || cpol_hub_allowed(m))
		return 0; /* rampart allows Hub, so the alias too: no exception */
	if (cpol_push(m, CPOL_HUB_ALIAS, CPOL_REJECT, SIZE_MAX) < 0)
		return -1;
	cpol_sort_unique(m);
	return 0;
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
		if (cpol_add_entry(m, o, p->registries[i].host, CPOL_ALLOW, i) < 0)
			goto nomem;
	cpol_sort_unique(m);
	if (cpol_hub_exceptions(m) < 0)
		goto nomem;
	return 0;
nomem:
	cpol_model_free(m);
	return rp_seterr(err, "E_NOMEM", "out of memory while compiling the containers policy");
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
