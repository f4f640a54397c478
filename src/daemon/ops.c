/* SPDX-License-Identifier: ISC */
/*
 * The op table and authorisation.  This file is the single place an op is
 * added, and the single place that decides who may call it: the class of each
 * row is checked against the peer credentials fixed at accept.
 */
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "ops.h"
#include "op_handlers.h"

static const struct op_def op_table[] = {
    /* name               handler              class     flags */
    {"ping", op_ping, OP_ANY, 0},
    {"status", op_status, OP_ANY, 0},
    {"daemon.reload", op_reload, OP_ADMIN, OPF_AUDIT},
    {"policy.check", op_policy_check, OP_ANY, 0},
    {"policy.show", op_policy_show, OP_ANY, 0},
    {"policy.refresh", op_policy_refresh, OP_ADMIN, OPF_AUDIT | OPF_ASYNC},
    {"port.bind", op_port_bind, OP_USER, OPF_AUDIT},
    {"links.install", op_links_install, OP_USER, OPF_AUDIT},
    {"links.remove", op_links_remove, OP_USER, OPF_AUDIT},
    {"hosts.ensure", op_hosts_ensure, OP_USER, OPF_AUDIT},
    {"hosts.remove", op_hosts_remove, OP_USER, OPF_AUDIT},
    {"socketlink.ensure", op_socketlink_ensure, OP_USER, OPF_AUDIT},
    {"socketlink.remove", op_socketlink_remove, OP_USER, OPF_AUDIT},
    {"socketlink.status", op_socketlink_status, OP_ANY, 0},
    {"diag.trace", op_diag_trace, OP_ADMIN, OPF_AUDIT | OPF_FD_IN},
    {"diag.audit", op_diag_audit, OP_ADMIN, OPF_AUDIT},
    {"enforce.status", op_enforce_status, OP_ANY, 0},
    {"enforce.apply", op_enforce_apply, OP_ADMIN, OPF_AUDIT},
    {"helper.uninstall", op_helper_uninstall, OP_ADMIN, OPF_AUDIT},
};

const struct op_def *ops_table(size_t *n)
{
	*n = sizeof(op_table) / sizeof(op_table[0]);
	return op_table;
}

const struct op_def *ops_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
		if (strcmp(op_table[i].name, name) == 0)
			return &op_table[i];
	return NULL;
}

static int ops_in_group(const struct conn *c, gid_t g)
{
	if (g == (gid_t)-1)
		return 0;
	if (c->peer.gid == g)
		return 1;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == g)
			return 1;
	return 0;
}

int ops_is_admin(const struct daemon *d, const struct conn *c)
{
	return c->peer.uid == 0 || ops_in_group(c, d->cfg.admin_gid);
}

int ops_authorise_conn(const struct daemon *d, const struct op_def *op, const struct conn *c,
                       struct rp_err *err)
{
	const struct config *cfg = &d->cfg;

	if (op->cls == OP_ANY || c->peer.uid == 0)
		return 1;
	if (op->cls == OP_USER && ((cfg->owner_uid != (uid_t)-1 && c->peer.uid == cfg->owner_uid) ||
	                           ops_in_group(c, cfg->owner_gid)))
		return 1;
	if (op->cls == OP_ADMIN && ops_in_group(c, cfg->admin_gid))
		return 1;
	rp_seterr(err, "E_PERM",
	          "%s is not allowed for uid %u: it needs %s; nothing was done (run it as root, "
	          "or have an administrator set %s in rampartd.json)",
	          op->name, (unsigned)c->peer.uid,
	          op->cls == OP_USER ? "root or the configured owner user/group"
	                             : "root or the configured admin group",
	          op->cls == OP_USER ? "owner_user/owner_group" : "admin_group");
	return 0;
}

/* --- argument helpers --------------------------------------------------------- */

int args_string(json_t *args, const char *key, int required, const char **out, struct rp_err *err)
{
	json_t *v = json_object_get(args, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return required ? rp_seterr(err, "E_ARGS", "missing argument \"%s\"", key) : 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return rp_seterr(err, "E_ARGS", "argument \"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

int args_int(json_t *args, const char *key, int required, long long lo, long long hi,
             long long *out, struct rp_err *err)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL || json_is_null(v))
		return required ? rp_seterr(err, "E_ARGS", "missing argument \"%s\"", key) : 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return rp_seterr(err, "E_ARGS",
		                 "argument \"%s\" must be an integer in [%lld, %lld]", key, lo, hi);
	*out = json_integer_value(v);
	return 0;
}

int args_bool(json_t *args, const char *key, int required, int *out, struct rp_err *err)
{
	json_t *v = json_object_get(args, key);

	if (v == NULL || json_is_null(v))
		return required ? rp_seterr(err, "E_ARGS", "missing argument \"%s\"", key) : 0;
	if (!json_is_boolean(v))
		return rp_seterr(err, "E_ARGS", "argument \"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

/* Refuses argument names the op does not know (a typo must not be ignored). */
int args_only(json_t *args, const char *const *known, struct rp_err *err)
{
	const char *k;
	json_t *v;

	json_object_foreach (args, k, v) {
		int ok = 0;
		for (size_t i = 0; known[i] != NULL; i++)
			ok |= strcmp(known[i], k) == 0;
		if (!ok) {
			char esc[128];
			size_t o = 0;
			for (const char *p = k; *p && o + 1 < sizeof(esc); p++)
				esc[o++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
			esc[o] = '\0';
			return rp_seterr(err, "E_ARGS", "unknown argument \"%s\"", esc);
		}
	}
	(void)v;
	return 0;
}
