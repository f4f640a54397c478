/* SPDX-License-Identifier: ISC */
/*
 * One request, start to finish: parse the frame's JSON, find the op, check
 * the caller's class, run the handler, count, audit, reply.  The JSON is
 * client-controlled; nothing in it is trusted beyond its types.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "dispatch.h"
#include "log.h"
#include "op_handlers.h"
#include "reply.h"

static void dispatch_count(struct daemon *d, const struct op_def *op, int rc, long long us,
                           int refused)
{
	size_t n, i;
	const struct op_def *t = ops_table(&n);
	int b = 0;

	i = (size_t)(op - t);
	if (i >= n || i >= DAEMON_MAX_OPS)
		return;
	d->stats[i].count++;
	if (refused)
		d->stats[i].refused++;
	else if (rc == OP_ERR)
		d->stats[i].errors++;
	while (b < DAEMON_LAT_BUCKETS - 1 && us >= (1LL << b))
		b++;
	d->stats[i].lat[b]++;
}

void dispatch_count_error(struct daemon *d, const char *op_name)
{
	size_t n;
	const struct op_def *t = ops_table(&n);

	for (size_t i = 0; i < n && i < DAEMON_MAX_OPS; i++)
		if (strcmp(t[i].name, op_name) == 0)
			d->stats[i].errors++;
}

static long long dispatch_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A request has "op", "id" and "args" and nothing else: a typo is not ignored. */
static int dispatch_known_keys(struct conn *c, json_t *req)
{
	static const char *const known[] = {"op", "id", "args", NULL};
	json_t *id = json_object_get(req, "id");
	struct rp_err e;
	char msg[sizeof(e.msg) + 160];

	if (args_only(req, known, &e) == 0)
		return 0;
	/* e.msg: unknown argument "<key, escaped>" */
	snprintf(msg, sizeof(msg),
	         "%s at the top level of the request (only \"op\", \"id\" and "
	         "\"args\" are allowed; arguments go inside \"args\"); nothing was done",
	         e.msg);
	reply_error(c, json_is_integer(id) || json_is_string(id) ? id : NULL, "E_BAD_REQUEST", msg);
	return -1;
}

/* Parses the envelope of a request; on failure replies and returns -1. */
static int dispatch_parse(struct conn *c, const uint8_t *buf, size_t len, json_t **req, json_t **id,
                          const struct op_def **op, json_t **args)
{
	json_error_t jerr;
	json_t *o;

	*req = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (*req == NULL || !json_is_object(*req)) {
		reply_error(c, NULL, "E_BAD_JSON",
		            *req ? "request must be a JSON object" : "request is not valid JSON");
		return -1;
	}
	if (dispatch_known_keys(c, *req) < 0)
		return -1;
	*id = json_object_get(*req, "id");
	if (*id != NULL && !json_is_integer(*id) && !json_is_string(*id)) {
		reply_error(c, NULL, "E_BAD_REQUEST", "\"id\" must be an integer or string");
		return -1;
	}
	o = json_object_get(*req, "op");
	if (!json_is_string(o)) {
		reply_error(c, *id, "E_BAD_REQUEST", "missing \"op\" (a string)");
		return -1;
	}
	*op = ops_lookup(json_string_value(o));
	if (*op == NULL) {
		reply_error(c, *id, "E_UNKNOWN_OP", "unknown op");
		return -1;
	}
	*args = json_object_get(*req, "args");
	if (*args != NULL && !json_is_object(*args)) {
		reply_error(c, *id, "E_BAD_REQUEST", "\"args\" must be an object");
		return -1;
	}
	return 0;
}

void server_dispatch(struct daemon *d, struct conn *c, const uint8_t *buf, size_t len)
{
	static json_t *no_args; /* shared {} for requests without "args"; never modified */
	json_t *req = NULL, *id = NULL, *args = NULL;
	const struct op_def *op = NULL;
	struct op_ctx ctx;
	long long t0 = dispatch_now_us();
	int rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.in_fd = c->in_fd;
	c->in_fd = -1;
	ctx.out_fd = -1;
	if (dispatch_parse(c, buf, len, &req, &id, &op, &args) < 0)
		goto out;
	if (args == NULL) {
		if (no_args == NULL && (no_args = json_object()) == NULL) {
			reply_error(c, id, "E_INTERNAL", "out of memory");
			goto out;
		}
		args = no_args;
	}
	if (!ops_authorise_conn(d, op, c, &ctx.err)) {
		dispatch_count(d, op, OP_ERR, dispatch_now_us() - t0, 1);
		audit_log(d, op->name, &c->peer, "refused", ctx.err.code, ctx.err.msg);
		reply_error(c, id, ctx.err.code, ctx.err.msg);
		goto out;
	}
	if ((op->flags & OPF_FD_IN) ? ctx.in_fd < 0 : ctx.in_fd >= 0) {
		rc = OP_ERR;
		rp_seterr(&ctx.err, "E_ARGS",
		          (op->flags & OPF_FD_IN) ? "%s needs a file descriptor sent with it"
		                                  : "%s takes no file descriptor",
		          op->name);
	} else {
		ctx.d = d;
		ctx.peer = &c->peer;
		ctx.conn_id = c->id;
		ctx.admin = ops_is_admin(d, c) != 0;
		ctx.req_id = id;
		ctx.args = args;
		rc = op->fn(&ctx);
	}
	dispatch_count(d, op, rc, dispatch_now_us() - t0, 0);
	if (op->flags & OPF_AUDIT)
		audit_log(d, op->name, &c->peer,
		          rc == OP_OK        ? "ok"
		          : rc == OP_PENDING ? "started"
		                             : "error",
		          rc == OP_ERR ? ctx.err.code : "", rc == OP_ERR ? ctx.err.msg : "");
	if (rc == OP_PENDING) {
		c->pending = true;
	} else if (rc == OP_OK) {
		c->out_fd = ctx.out_fd;
		ctx.out_fd = -1;
		if (ctx.raw.p != NULL && !ctx.raw.err) {
			reply_ok_raw(c, id, ctx.raw.p, ctx.raw.len);
		} else if (ctx.raw.err) {
			reply_error(c, id, "E_INTERNAL", "cannot encode the reply");
		} else {
			if (ctx.result == NULL)
				ctx.result = json_object();
			reply_ok(c, id, ctx.result);
		}
	} else {
		reply_error(c, id, ctx.err.code[0] ? ctx.err.code : "E_INTERNAL",
		            ctx.err.msg[0] ? ctx.err.msg : "internal error");
	}
out:
	if (ctx.in_fd >= 0)
		close(ctx.in_fd);
	if (ctx.out_fd >= 0)
		close(ctx.out_fd);
	json_decref(ctx.result);
	free(ctx.raw.p);
	json_decref(req);
}
