/* SPDX-License-Identifier: ISC */
/* Handlers named in the op table (ops.c); each lives in the op_*.c of its area. */
#ifndef RAMPART_OP_HANDLERS_H
#define RAMPART_OP_HANDLERS_H

#include "daemon.h"
#include "ops.h"

/* ops.c: 1 if the connection's peer may call op, else 0 (err: E_PERM and why). */
int ops_authorise_conn(const struct daemon *d, const struct op_def *op, const struct conn *c,
                       struct rp_err *err);
int args_only(json_t *args, const char *const *known, struct rp_err *err);

/* op_core.c */
long status_rss_kib(void); /* VmRSS in KiB from /proc, -1 if unknown */
int op_ping(struct op_ctx *ctx);
int op_status(struct op_ctx *ctx);
int op_reload(struct op_ctx *ctx);
/* op_policy.c */
int op_policy_check(struct op_ctx *ctx);
int op_policy_show(struct op_ctx *ctx);
int op_policy_refresh(struct op_ctx *ctx);
/* op_port.c */
int op_port_bind(struct op_ctx *ctx);
/* op_files.c */
int op_links_install(struct op_ctx *ctx);
int op_links_remove(struct op_ctx *ctx);
int op_hosts_ensure(struct op_ctx *ctx);
int op_hosts_remove(struct op_ctx *ctx);
int op_socketlink_ensure(struct op_ctx *ctx);
int op_socketlink_remove(struct op_ctx *ctx);
int op_socketlink_status(struct op_ctx *ctx);
/* op_diag.c */
int op_diag_trace(struct op_ctx *ctx);
int op_diag_audit(struct op_ctx *ctx);
/* op_uninstall.c */
int op_helper_uninstall(struct op_ctx *ctx);
int op_enforce_status(struct op_ctx *ctx);
int op_enforce_apply(struct op_ctx *ctx);

#endif
