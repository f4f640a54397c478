/* SPDX-License-Identifier: ISC */
/*
 * rampart policy check --payload FILE and rampart policy diff A B: the review
 * an admin does before signing.  Input files are the admin's own drafts (a
 * payload, or the payload inside an envelope, whose signatures are NOT
 * checked here); they are validated by the same code as rampartd's, and
 * nothing is installed or sent to the daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cmd_policy_draft.h"
#include "dsse.h"
#include "policy_match.h"
#include "policy_payload.h"

#define DRAFT_MAX_FILE DSSE_MAX_ENVELOPE

json_t *cli_decision_json(const struct rampart_decision *dc, int rc)
{
	if (rc < 0)
		return json_pack("{s:b, s:n, s:s, s:s, s:s}", "allowed", 0, "rule", "normalized",
		                 dc->normalized, "error", dc->code[0] ? dc->code : "E_REF",
		                 "reason", dc->reason);
	return json_pack("{s:b, s:s?, s:s, s:I, s:s, s:b, s:b, s:b, s:b, s:s?}", "allowed",
	                 dc->allowed, "rule", dc->rule[0] ? dc->rule : NULL, "normalized",
	                 dc->normalized, "policy_version", (json_int_t)dc->policy_version, "reason",
	                 dc->reason, "expired", dc->expired, "policy_cached", dc->policy_cached,
	                 "denied_by_rule", dc->denied_by_rule, "warn", dc->warn, "warn_rule",
	                 dc->warn ? dc->warn_rule : NULL);
}

struct draft {
	const char *file;
	struct policy p;
	struct policy_index *idx;
	bool from_envelope;
};

static int draft_read(const char *file, unsigned char **buf, size_t *len, struct rp_err *err)
{
	FILE *f = fopen(file, "rb");
	size_t n;

	*buf = NULL;
	if (f == NULL)
		return rp_seterr(err, "E_INPUT", "%s: %s", file, strerror(errno));
	*buf = malloc(DRAFT_MAX_FILE + 1);
	if (*buf == NULL) {
		fclose(f);
		return rp_seterr(err, "E_NOMEM", "out of memory");
	}
	n = fread(*buf, 1, DRAFT_MAX_FILE + 1, f);
	if (ferror(f) || n > DRAFT_MAX_FILE) {
		fclose(f);
		free(*buf);
		*buf = NULL;
		return rp_seterr(err, "E_INPUT", "%s: unreadable or larger than %u bytes", file,
		                 DRAFT_MAX_FILE);
	}
	fclose(f);
	*len = n;
	return 0;
}

/* Loads a payload, or the payload of an envelope (signatures not checked). */
static int draft_load(const char *file, struct draft *d, struct rp_err *err)
{
	struct dsse_envelope env;
	unsigned char *buf = NULL;
	size_t len = 0;
	json_t *j;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	memset(&env, 0, sizeof(env));
	d->file = file;
	if (draft_read(file, &buf, &len, err) < 0)
		return -1;
	j = json_loadb((const char *)buf, len, 0, NULL);
	d->from_envelope = json_object_get(j, "payloadType") != NULL;
	json_decref(j);
	if (d->from_envelope) {
		if (dsse_parse(buf, len, &env, err) < 0)
			goto out;
		rc = policy_payload_parse(env.payload, env.payload_len, &d->p, err);
	} else {
		rc = policy_payload_parse(buf, len, &d->p, err);
	}
	if (rc == 0 && (rc = policy_index_build(&d->p, &d->idx, err)) < 0)
		policy_free(&d->p);
out:
	dsse_envelope_free(&env);
	free(buf);
	return rc;
}

static void draft_free(struct draft *d)
{
	policy_index_free(d->idx);
	policy_free(&d->p);
}

static int draft_error(struct cli *cli, const char *what, const char *file, const struct rp_err *e)
{
	fprintf(stderr, "%s: policy %s: %s: %s: %s; nothing was installed\n", cli->prog, what, file,
	        e->code, e->msg);
	return RAMPART_EXIT_USAGE; /* invalid input, as an invalid reference */
}

static void draft_print(const char *ref, const json_t *d)
{
	const char *rule = json_string_value(json_object_get(d, "rule"));

	if (json_object_get(d, "error") != NULL)
		printf("INVALID %s: %s\n", ref, json_string_value(json_object_get(d, "reason")));
	else
		printf("%s %s -> %s (rule: %s; draft v%lld): %s\n",
		       json_is_true(json_object_get(d, "allowed")) ? "ALLOW" : "DENY ", ref,
		       json_string_value(json_object_get(d, "normalized")), rule ? rule : "none",
		       json_integer_value(json_object_get(d, "policy_version")),
		       json_string_value(json_object_get(d, "reason")));
	if (json_object_get(d, "companion_of") != NULL)
		printf("      note: its host is a companion host of rule %s: rampart-proxy allows "
		       "connections to it, but it is not a registry\n",
		       json_string_value(json_object_get(d, "companion_of")));
}

/*
 * A denied reference whose registry host is a companion host: say so, since a
 * signer who listed it may expect more ("companion_of" in JSON).  Companions
 * never allow images; this is information about the proxy only.
 */
static void draft_companion_note(const struct draft *d, const struct rampart_decision *dc,
                                 json_t *j)
{
	char host[RAMPART_NORMALIZED_MAX], *slash, *colon;
	struct rampart_companion c;
	unsigned port = 443;

	if (dc->allowed)
		return;
	rp_strlcpy(host, dc->normalized, sizeof(host));
	if ((slash = strchr(host, '/')) != NULL)
		*slash = '\0';
	if ((colon = strrchr(host, ':')) != NULL && host[0] != '[') {
		*colon = '\0';
		port = (unsigned)strtoul(colon + 1, NULL, 10);
	}
	if (policy_companion(d->idx, host, port, 443, &c) != 0 || !c.allowed)
		return;
	json_object_set_new(j, "companion_of", json_string(c.rule));
	json_object_set_new(j, "companion_reason",
	                    json_string("the registry host is a companion host: rampart-proxy "
	                                "allows connections to it, but no rule allows images "
	                                "from it"));
}

int cli_policy_check_payload(struct cli *cli, const char *file, char **refs, int n)
{
	struct draft d;
	struct rp_err e;
	json_t *arr;
	int worst = 0;

	if (draft_load(file, &d, &e) < 0)
		return draft_error(cli, "check", file, &e);
	arr = json_array();
	for (int i = 0; i < n; i++) {
		struct rampart_decision dc;
		int rc = policy_check(d.idx, false, refs[i], (int64_t)time(NULL), &dc);
		json_t *j = cli_decision_json(&dc, rc);
		int r = rc < 0 ? 2 : dc.allowed ? 0 : 1;
		worst = r > worst ? r : worst;
		if (rc == 0)
			draft_companion_note(&d, &dc, j);
		if (!cli->json)
			draft_print(refs[i], j);
		json_array_append_new(arr, j);
	}
	if (cli->json)
		cli_print_json(arr);
	else
		printf("(draft %s%s, not installed)\n", file,
		       d.from_envelope ? ": the payload of an envelope, signatures not checked"
		                       : "");
	json_decref(arr);
	draft_free(&d);
	return worst;
}

/* ---- diff ------------------------------------------------------------------ */

struct diff_rule {
	char key[POLICY_MAX_RULE + 8];
	const struct policy_registry *r;
};

static int diff_cmp(const void *a, const void *b)
{
	const struct diff_rule *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : (int)x->r->action - (int)y->r->action;
}

static struct diff_rule *diff_rules(const struct policy *p)
{
	struct diff_rule *v = calloc(p->n_registries + 1, sizeof(*v));

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < p->n_registries; i++) {
		v[i].r = &p->registries[i];
		if (policy_rule_key(v[i].r->host, v[i].key, sizeof(v[i].key)) != 0)
			rp_strlcpy(v[i].key, v[i].r->host, sizeof(v[i].key));
	}
	qsort(v, p->n_registries, sizeof(*v), diff_cmp);
	return v;
}

static const char *diff_desc(const struct policy_registry *r, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%s %s%s", r->action == POLICY_DENY ? "deny" : "allow", r->host,
	         r->mode == POLICY_WARN ? " (mode warn)" : "");
	for (size_t k = 0; k < r->n_companions; k++) {
		n = strlen(buf);
		snprintf(buf + n, len - n, "%s%s%s", k == 0 ? " [companions " : ", ",
		         r->companions[k], k + 1 == r->n_companions ? "]" : "");
	}
	return buf;
}

/* The same companions in the same order. */
static bool diff_same_companions(const struct policy_registry *a, const struct policy_registry *b)
{
	if (a->n_companions != b->n_companions)
		return false;
	for (size_t k = 0; k < a->n_companions; k++)
		if (strcmp(a->companions[k], b->companions[k]) != 0)
			return false;
	return true;
}

static void diff_line(json_t *out, char sign, const char *text, bool json)
{
	if (json)
		json_array_append_new(
		    out, json_pack("{s:s%, s:s}", "change", &sign, (size_t)1, "rule", text));
	else
		printf("%c %s\n", sign, text);
}

/* Rules added (+), removed (-) and changed (~, mode or spelling); returns the count. */
static size_t diff_by_rule(const struct draft *a, const struct draft *b, json_t *out, bool json)
{
	struct diff_rule *x = diff_rules(&a->p), *y = diff_rules(&b->p);
	size_t i = 0, k = 0, n = 0, na = a->p.n_registries, nb = b->p.n_registries;
	enum {
		DESC =
		    POLICY_MAX_RULE + 32 + POLICY_MAX_COMPANIONS * (POLICY_MAX_COMPANION + 2) + 16
	};
	char d1[DESC], d2[DESC], both[2 * DESC + 8];

	if (x == NULL || y == NULL)
		goto out;
	if (a->p.allow_docker_hub != b->p.allow_docker_hub) {
		diff_line(out, '~',
		          b->p.allow_docker_hub ? "allow_docker_hub: false -> true"
		                                : "allow_docker_hub: true -> false",
		          json);
		n++;
	}
	while (i < na || k < nb) {
		int c = i == na ? 1 : k == nb ? -1 : diff_cmp(&x[i], &y[k]);
		if (c < 0) {
			diff_line(out, '-', diff_desc(x[i++].r, d1, sizeof(d1)), json);
		} else if (c > 0) {
			diff_line(out, '+', diff_desc(y[k++].r, d1, sizeof(d1)), json);
		} else {
			if (x[i].r->mode != y[k].r->mode ||
			    strcmp(x[i].r->host, y[k].r->host) != 0 ||
			    !diff_same_companions(x[i].r, y[k].r)) {
				snprintf(both, sizeof(both), "%s -> %s",
				         diff_desc(x[i].r, d1, sizeof(d1)),
				         diff_desc(y[k].r, d2, sizeof(d2)));
				diff_line(out, '~', both, json);
				n++;
			}
			i++;
			k++;
			continue;
		}
		n++;
	}
out:
	free(x);
	free(y);
	return n;
}

/* Each reference under A and under B; returns how many changed. */
static size_t diff_refs(const struct draft *a, const struct draft *b, char **refs, int nrefs,
                        json_t *out, bool json)
{
	int64_t now = (int64_t)time(NULL);
	size_t changed = 0;

	for (int i = 0; i < nrefs; i++) {
		struct rampart_decision da, db;
		int ra = policy_check(a->idx, false, refs[i], now, &da);
		int rb = policy_check(b->idx, false, refs[i], now, &db);
		bool diff = ra == 0 && (da.allowed != db.allowed || da.warn != db.warn);
		changed += diff;
		if (json) {
			json_array_append_new(out, json_pack("{s:s, s:b, s:o, s:o}", "ref", refs[i],
			                                     "changed", diff, "old",
			                                     cli_decision_json(&da, ra), "new",
			                                     cli_decision_json(&db, rb)));
		} else if (ra < 0) {
			printf("INVALID %s: %s\n", refs[i], da.reason);
		} else {
			printf("%s %s: %s%s -> %s%s\n  old: %s\n  new: %s\n",
			       diff ? "CHANGED" : "same   ", refs[i], da.allowed ? "allow" : "deny",
			       da.warn ? " (warn)" : "", db.allowed ? "allow" : "deny",
			       db.warn ? " (warn)" : "", da.reason, db.reason);
		}
	}
	return changed;
}

int cli_policy_diff(struct cli *cli, const char *fa, const char *fb, char **refs, int nrefs)
{
	struct draft a, b;
	struct rp_err e;
	json_t *rules = json_array(), *rj = json_array();
	size_t nr, nc;

	if (draft_load(fa, &a, &e) < 0)
		return draft_error(cli, "diff", fa, &e);
	if (draft_load(fb, &b, &e) < 0) {
		draft_free(&a);
		return draft_error(cli, "diff", fb, &e);
	}
	if (!cli->json)
		printf("rules (%s v%lld -> %s v%lld):\n", fa, (long long)a.p.version, fb,
		       (long long)b.p.version);
	nr = diff_by_rule(&a, &b, rules, cli->json);
	if (!cli->json && nr == 0)
		printf("  (no rule changed)\n");
	nc = diff_refs(&a, &b, refs, nrefs, rj, cli->json);
	if (cli->json) {
		json_t *j =
		    json_pack("{s:o, s:o, s:I, s:I}", "rules", rules, "refs", rj, "rules_changed",
		              (json_int_t)nr, "refs_changed", (json_int_t)nc);
		cli_print_json(j);
		json_decref(j);
	} else {
		json_decref(rules);
		json_decref(rj);
	}
	draft_free(&a);
	draft_free(&b);
	return nr > 0 || nc > 0 ? 1 : 0;
}
