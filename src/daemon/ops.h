/* SPDX-License-Identifier: ISC */
/*
 * The op table: one row per request the daemon serves, with its handler and
 * authorisation class.  It is the only place a new op is added (ops.c).
 */
#ifndef RAMPART_OPS_H
#define RAMPART_OPS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "jsonout.h"

struct daemon;
struct conn;

struct peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

enum op_class {
	OP_ANY,   /* every local user */
	OP_USER,  /* root, or the configured owner user/group */
	OP_ADMIN, /* root, or the configured admin group */
};

#define OPF_AUDIT 0x1 /* write an audit line (all user/admin ops have it) */
#define OPF_FD_IN 0x2 /* request must carry exactly one fd (SCM_RIGHTS) */
#define OPF_ASYNC 0x4 /* handler may return OP_PENDING and reply later */

#define OP_OK 0
#define OP_ERR (-1)
#define OP_PENDING 1

struct op_ctx {
	struct daemon *d;
	const struct peer *peer;
	uint64_t conn_id;  /* for server_complete() on OP_PENDING */
	json_t *req_id;    /* borrowed; echo in the reply */
	json_t *args;      /* borrowed; always an object ({} when absent) */
	int in_fd;         /* fd received with the request or -1; set to -1 if you keep it */
	int out_fd;        /* set to an fd to send beside the reply; the server closes it */
	json_t *result;    /* on OP_OK: new reference, the reply's "result" */
	struct jbuf raw;   /* on OP_OK, instead of result: the result already written as
	                      compact JSON (hot paths: no json_t tree to build, encode
	                      and free); raw.err set means it could not be written */
	struct rp_err err; /* on OP_ERR */
	bool admin;        /* the caller is root or in admin_group (for what an op shows) */
};

typedef int (*op_handler)(struct op_ctx *ctx);

/* 1 if the connection's caller is root or in admin_group (ops.c). */
int ops_is_admin(const struct daemon *d, const struct conn *c);

struct op_def {
	const char *name;
	op_handler fn;
	enum op_class cls;
	unsigned flags;
};

const struct op_def *ops_lookup(const char *name);
const struct op_def *ops_table(size_t *n);

/* Argument helpers: fill err with E_ARGS naming the field on failure. */
int args_string(json_t *args, const char *key, int required, const char **out, struct rp_err *err);
int args_int(json_t *args, const char *key, int required, long long lo, long long hi,
             long long *out, struct rp_err *err);
int args_bool(json_t *args, const char *key, int required, int *out, struct rp_err *err);

#endif
