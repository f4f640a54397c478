/* SPDX-License-Identifier: ISC */
/*
 * Core ops: ping, status, daemon.reload.  status reports only counters and
 * summaries (no secrets, no paths a user could not already read).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "module.h"
#include "op_handlers.h"

int op_ping(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};
	static json_t *pong; /* immutable after creation; shared by every reply */

	if (json_object_size(ctx->args) != 0 && args_only(ctx->args, known, &ctx->err) < 0)
		return OP_ERR;
	if (pong == NULL)
		pong = json_pack("{s:s, s:s}", "pong", "rampartd", "version", RAMPART_VERSION);
	ctx->result = json_incref(pong);
	return OP_OK;
}

long status_rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static json_t *status_ops_json(struct daemon *d)
{
	size_t n;
	const struct op_def *t = ops_table(&n);
	json_t *ops = json_object();

	for (size_t i = 0; i < n && i < DAEMON_MAX_OPS; i++) {
		const struct op_stats *s = &d->stats[i];
		if (s->count == 0)
			continue;
		json_object_set_new(ops, t[i].name,
		                    json_pack("{s:I, s:I, s:I}", "count", (json_int_t)s->count,
		                              "errors", (json_int_t)s->errors, "refused",
		                              (json_int_t)s->refused));
	}
	return ops;
}

/*
 * What any local user may see of status: per-op counters only as totals (they
 * would show when the owner binds a port or edits hosts), and no text the
 * policy server controls (a refusal message can quote the fetched bytes):
 * last_outcome keeps its first word, last_error only that there is one.
 */
static void status_for_anyone(json_t *st)
{
	json_t *ops = json_object_get(st, "ops"), *v, *p = json_object_get(st, "policy");
	json_int_t count = 0, errors = 0, refused = 0;
	const char *k, *outcome = json_string_value(json_object_get(p, "last_outcome"));
	const char *lerr = json_string_value(json_object_get(p, "last_error"));
	char word[32];

	json_object_foreach (ops, k, v) {
		count += json_integer_value(json_object_get(v, "count"));
		errors += json_integer_value(json_object_get(v, "errors"));
		refused += json_integer_value(json_object_get(v, "refused"));
	}
	json_object_set_new(
	    st, "ops",
	    json_pack("{s:I, s:I, s:I}", "count", count, "errors", errors, "refused", refused));
	json_object_set_new(st, "details",
	                    json_string("per-op counters and refresh messages: "
	                                "run as root or a member of admin_group"));
	if (outcome != NULL) {
		snprintf(word, sizeof(word), "%.*s", (int)strcspn(outcome, ": ;"), outcome);
		json_object_set_new(p, "last_outcome", json_string(word));
	}
	if (lerr != NULL && *lerr)
		json_object_set_new(p, "last_error", json_string("(withheld: admins only)"));
	/* what someone else was refused is theirs: counters only */
	p = json_object_get(json_object_get(st, "enforce"), "proxy");
	if (json_is_object(json_object_get(p, "last_refusal")))
		json_object_set_new(p, "last_refusal", json_string("(withheld: admins only)"));
}

int op_status(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};
	struct daemon *d = ctx->d;
	json_t *st;

	if (args_only(ctx->args, known, &ctx->err) < 0)
		return OP_ERR;
	st = json_pack("{s:s, s:I, s:i, s:I, s:i, s:I, s:I, s:I, s:o}", "version", RAMPART_VERSION,
	               "uptime_s", (json_int_t)((daemon_now_ms() - d->started_ms) / 1000), "pid",
	               (int)getpid(), "connections", (json_int_t)d->nconns, "max_connections",
	               d->cfg.limits.max_connections, "accepted", (json_int_t)d->accepted,
	               "dropped_idle", (json_int_t)d->dropped_idle, "refused_busy",
	               (json_int_t)d->refused_busy, "ops", status_ops_json(d));
	if (st == NULL)
		return rp_seterr(&ctx->err, "E_INTERNAL", "out of memory");
	json_object_set_new(st, "rss_kib", json_integer(status_rss_kib()));
	json_object_set_new(st, "socket_activated", json_boolean(!d->own_socket));
	modules_status(d, st);
	enforce_docker_status(d, st);
	enforce_proxy_status(d, st);
	if (!ctx->admin)
		status_for_anyone(st);
	ctx->result = st;
	return OP_OK;
}

int op_reload(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};
	char note[256];

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    daemon_reload(ctx->d, note, sizeof(note), &ctx->err) < 0)
		return OP_ERR; /* old config stays in force */
	ctx->result = json_pack("{s:b, s:s}", "reloaded", 1, "note", note);
	return OP_OK;
}
