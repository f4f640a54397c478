/* SPDX-License-Identifier: ISC */
/*
 * The policy ops: policy.check and policy.show answer from the daemon's
 * reader and a cached copy of the store; policy.refresh hands the request to
 * the refresher (refresher.c).  Arguments are client-controlled and checked
 * for type and size; the store is root-written and read as such.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "log.h"
#include "op_handlers.h"
#include "rampart/policy.h"
#include "refresher.h"
#include "store.h"

#define POLICY_MAX_BATCH 256
#define POLICY_SHOW_MAX 100

int op_policy_refresh(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    refresher_request(ctx->d, ctx->conn_id, ctx->req_id, &ctx->err) < 0)
		return OP_ERR;
	return OP_PENDING;
}

#define JLIT(b, lit) jbuf_put((b), (lit), sizeof(lit) - 1)

/*
 * One decision, written as JSON text straight into the reply (the bytes
 * json_pack + jbuf_value wrote before, same field order).
 * Measured: building, encoding and freeing the json_t tree was 45% of the
 * daemon's instructions per policy.check (docs/performance.md).
 */
static void policy_write_decision(struct jbuf *b, const struct rampart_decision *dc, int rc)
{
	if (rc < 0) {
		JLIT(b, "{\"allowed\":false,\"rule\":null,\"normalized\":");
		jbuf_string(b, dc->normalized, strlen(dc->normalized));
		JLIT(b, ",\"error\":");
		jbuf_string(b, dc->code[0] ? dc->code : "E_REF",
		            strlen(dc->code[0] ? dc->code : "E_REF"));
		JLIT(b, ",\"reason\":");
		jbuf_string(b, dc->reason, strlen(dc->reason));
		JLIT(b, "}");
		return;
	}
	JLIT(b, "{\"allowed\":");
	jbuf_bool(b, dc->allowed);
	JLIT(b, ",\"rule\":");
	if (dc->rule[0])
		jbuf_string(b, dc->rule, strlen(dc->rule));
	else
		JLIT(b, "null");
	JLIT(b, ",\"normalized\":");
	jbuf_string(b, dc->normalized, strlen(dc->normalized));
	JLIT(b, ",\"policy_version\":");
	jbuf_int(b, (long long)dc->policy_version);
	JLIT(b, ",\"reason\":");
	jbuf_string(b, dc->reason, strlen(dc->reason));
	JLIT(b, ",\"expired\":");
	jbuf_bool(b, dc->expired);
	JLIT(b, ",\"stale\":");
	jbuf_bool(b, dc->stale);
	JLIT(b, ",\"policy_cached\":");
	jbuf_bool(b, dc->policy_cached);
	JLIT(b, ",\"denied_by_rule\":");
	jbuf_bool(b, dc->denied_by_rule);
	JLIT(b, ",\"warn\":");
	jbuf_bool(b, dc->warn);
	JLIT(b, ",\"warn_rule\":");
	if (dc->warn)
		jbuf_string(b, dc->warn_rule, strlen(dc->warn_rule));
	else
		JLIT(b, "null");
	JLIT(b, "}");
}

static void policy_check_one(struct policy_state *s, const char *ref, struct jbuf *b)
{
	struct rampart_decision dc;

	int rc;

	memset(&dc, 0, sizeof(dc));
	rc = rampart_policy_check(s->h, ref, &dc);
	if (rc == 0 && dc.warn) /* how a rule in mode warn is rolled out: its would-be effect */
		log_info("policy.check %s: %s by %s; warn: %s", dc.normalized,
		         dc.allowed ? "allowed" : "denied", dc.rule[0] ? dc.rule : "default",
		         dc.warn_reason);
	policy_write_decision(b, &dc, rc);
}

int op_policy_check(struct op_ctx *ctx)
{
	static const char *const known[] = {"ref", "refs", NULL};
	struct policy_state *s = pst(ctx->d);
	json_t *refs = json_object_get(ctx->args, "refs"), *v;
	const char *ref = NULL;
	size_t i;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_string(ctx->args, "ref", 0, &ref, &ctx->err) < 0)
		return OP_ERR;
	if (s->h == NULL && daemon_now_ms() >= s->reopen_after_ms) {
		/* rate-limited: a damaged store must not cost a full load per request */
		s->reopen_after_ms = daemon_now_ms() + 1000;
		refresher_open_reader(ctx->d);
	}
	if (s->h != NULL && daemon_now_ms() >= s->recheck_after_ms) {
		/* sees an offline import or a deleted DB within 1 ms, with no stat() on
		 * every request; a batch is always answered from one policy */
		s->recheck_after_ms = daemon_now_ms() + 1;
		rampart_policy_reload(s->h);
	}
	if (s->h == NULL)
		return rp_seterr(&ctx->err, "E_STORE",
		                 "the policy store %s cannot be read (see the daemon's log); every "
		                 "check is refused until it can",
		                 ctx->d->cfg.db_path);
	if ((ref == NULL) == (refs == NULL))
		return rp_seterr(&ctx->err, "E_ARGS", "give exactly one of \"ref\" or \"refs\"");
	if (ref != NULL) {
		policy_check_one(s, ref, &ctx->raw);
		return OP_OK;
	}
	if (!json_is_array(refs) || json_array_size(refs) == 0 ||
	    json_array_size(refs) > POLICY_MAX_BATCH)
		return rp_seterr(&ctx->err, "E_ARGS",
		                 "\"refs\" must be an array of 1 to %d strings", POLICY_MAX_BATCH);
	json_array_foreach (refs, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
			return rp_seterr(&ctx->err, "E_ARGS", "refs[%zu] must be a string", i);
	}
	/* all refs checked first: never a result list out of step with refs */
	JLIT(&ctx->raw, "{\"results\":[");
	json_array_foreach (refs, i, v) {
		if (i > 0)
			JLIT(&ctx->raw, ",");
		policy_check_one(s, json_string_value(v), &ctx->raw);
	}
	JLIT(&ctx->raw, "]}");
	if (ctx->raw.err)
		return rp_seterr(&ctx->err, "E_INTERNAL", "cannot encode the reply");
	return OP_OK;
}

/* Returns 1 and the cached store (reloaded if the file changed), 0 when none, -1 error. */
static int policy_show_load(struct daemon *d, struct rp_err *err)
{
	struct policy_state *s = pst(d);
	struct store_stat st;
	int r = store_stat(d->cfg.db_path, &st, err);

	if (r != 0) {
		if (r == 1 && s->show_valid) {
			policy_free(&s->show_p);
			store_meta_free(&s->show_m);
			s->show_valid = false;
		}
		return r == 1 ? 0 : -1;
	}
	if (s->show_valid && st.dev == s->show_st.dev && st.ino == s->show_st.ino &&
	    st.size == s->show_st.size && st.mtime == s->show_st.mtime)
		return 1;
	policy_free(&s->show_p);
	store_meta_free(&s->show_m);
	memset(&s->show_p, 0, sizeof(s->show_p));
	memset(&s->show_m, 0, sizeof(s->show_m));
	s->show_valid = false;
	r = store_load(d->cfg.db_path, &s->show_p, &s->show_m, NULL, NULL, err);
	if (r != 0)
		return r == 1 ? 0 : -1;
	s->show_st = s->show_m.file.ino ? s->show_m.file : st;
	s->show_valid = true;
	return 1;
}

/* One rule as policy.show lists it (kind, action and mode as words, its companions). */
static json_t *policy_show_entry(const struct policy_registry *r)
{
	static const char *const kinds[] = {"exact", "port", "wildcard", "prefix"};

	json_t *c = json_array();

	for (size_t k = 0; c != NULL && k < r->n_companions; k++)
		json_array_append_new(c, json_string(r->companions[k]));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o*}", "host", r->host, "nickname",
	                 r->nickname, "kind", kinds[r->kind <= POLICY_PREFIX ? r->kind : 0],
	                 "action", r->action == POLICY_DENY ? "deny" : "allow", "mode",
	                 r->mode == POLICY_WARN ? "warn" : "enforce", "companions", c);
}

int op_policy_show(struct op_ctx *ctx)
{
	static const char *const known[] = {"offset", "limit", NULL};
	struct policy_state *s = pst(ctx->d);
	const struct policy *p = &s->show_p;
	const struct store_meta *m = &s->show_m;
	long long off = 0, lim = POLICY_SHOW_MAX;
	json_t *r, *ents;
	int rc;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_int(ctx->args, "offset", 0, 0, POLICY_MAX_REGISTRIES, &off, &ctx->err) < 0 ||
	    args_int(ctx->args, "limit", 0, 1, POLICY_SHOW_MAX, &lim, &ctx->err) < 0)
		return OP_ERR;
	rc = policy_show_load(ctx->d, &ctx->err);
	if (rc < 0)
		return OP_ERR;
	if (rc == 0) {
		ctx->result = json_pack("{s:b, s:s}", "cached", 0, "reason", "no policy cached");
		return OP_OK;
	}
	ents = json_array();
	for (size_t i = (size_t)off; i < p->n_registries && i < (size_t)(off + lim); i++)
		json_array_append_new(ents, policy_show_entry(&p->registries[i]));
	r = json_pack("{s:b, s:s, s:I, s:b, s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "cached", 1,
	              "org", p->org, "version", (json_int_t)p->version, "allow_docker_hub",
	              p->allow_docker_hub, "expired", (int64_t)time(NULL) >= p->expires_at,
	              "source", m->source ? m->source : "", "signers", m->signers ? m->signers : "",
	              "payload_sha256", m->payload_sha256, "total", (json_int_t)p->n_registries,
	              "offset", (json_int_t)off, "limit", (json_int_t)lim, "registries", ents);
	refresher_time(r, "issued_at", p->issued_at);
	refresher_time(r, "expires_at", p->expires_at);
	refresher_time(r, "fetched_at", m->fetched_at);
	json_object_set_new(r, "schema_version",
	                    json_integer(p->schema_version > 0 ? p->schema_version : 1));
	ctx->result = r;
	return OP_OK;
}
