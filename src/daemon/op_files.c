/* SPDX-License-Identifier: ISC */
/*
 * links.*, hosts.* and socketlink.*: the ops that write system files for the
 * desktop user.  Every path comes from the root-owned config, never from the
 * request; the request may only ask for "force" (honoured for root alone) or
 * "fix_localhost".  The file work itself (O_NOFOLLOW walks, temp + rename)
 * lives in src/sysfs/links.c, hosts.c and socketlink.c.
 */
#include <string.h>

#include "daemon.h"
#include "hosts.h"
#include "links.h"
#include "module.h"
#include "op_handlers.h"
#include "socketlink.h"

/* --- links -------------------------------------------------------------------- */

static const char *links_state_str(enum links_state s)
{
	static const char *const names[] = {"created",      "unchanged", "updated", "replaced",
	                                    "kept-foreign", "removed",   "absent",  "refused"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static int links_prepare(struct op_ctx *ctx, struct links_cfg *lc, const char **names)
{
	const struct config *c = &ctx->d->cfg;

	if (c->links.app_dir[0] == '\0' || c->links.n_names == 0)
		return rp_seterr(&ctx->err, "E_CONFIG",
		                 "links.app_dir and links.names must be configured; nothing was "
		                 "changed");
	for (int i = 0; i < c->links.n_names; i++)
		names[i] = c->links.names[i];
	memset(lc, 0, sizeof(*lc));
	lc->bin_dir = c->links.bin_dir;
	lc->app_dir = c->links.app_dir;
	lc->names = names;
	lc->n_names = (size_t)c->links.n_names;
	lc->allowed_uid = c->owner_uid;
	lc->allowed_gid = c->owner_gid;
	return 0;
}

static json_t *links_json(const struct links_report *rep)
{
	json_t *a = json_array();
	for (size_t i = 0; i < rep->n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "name", rep->r[i].name,
		                                   "state", links_state_str(rep->r[i].state),
		                                   "reason", rep->r[i].reason));
	return json_pack("{s:b, s:b, s:o}", "changed", rep->changed, "force_ignored",
	                 rep->force_ignored, "links", a);
}

int op_links_install(struct op_ctx *ctx)
{
	static const char *const known[] = {"force", NULL};
	const char *names[CONFIG_MAX_NAMES];
	struct links_cfg lc;
	struct links_report rep;
	int force = 0;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_bool(ctx->args, "force", 0, &force, &ctx->err) < 0 ||
	    links_prepare(ctx, &lc, names) < 0)
		return OP_ERR;
	memset(&rep, 0, sizeof(rep));
	if (links_install(&lc, force, ctx->peer->uid == 0, &rep, &ctx->err) < 0) {
		if (strcmp(ctx->err.code, "E_LINKS_INCOMPLETE") != 0)
			return OP_ERR;
		/* some names were kept or refused: the per-name report is the answer */
		ctx->result = links_json(&rep);
		json_object_set_new(ctx->result, "incomplete", json_string(ctx->err.msg));
		return OP_OK;
	}
	ctx->result = links_json(&rep);
	return OP_OK;
}

int op_links_remove(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};
	const char *names[CONFIG_MAX_NAMES];
	struct links_cfg lc;
	struct links_report rep;

	if (args_only(ctx->args, known, &ctx->err) < 0 || links_prepare(ctx, &lc, names) < 0)
		return OP_ERR;
	memset(&rep, 0, sizeof(rep));
	if (links_remove(&lc, &rep, &ctx->err) < 0)
		return OP_ERR;
	ctx->result = links_json(&rep);
	return OP_OK;
}

/* --- hosts -------------------------------------------------------------------- */

static const char *hosts_state_str(enum hosts_item_state s)
{
	static const char *const names[] = {"present", "added", "conflict", "fixed"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static json_t *hosts_json(const struct hosts_report *rep)
{
	json_t *a = json_array();
	for (size_t i = 0; i < rep->n_items; i++) {
		const char *st = hosts_state_str(rep->items[i].state);
		/* nothing written: an item of our block was already there */
		if (rep->items[i].state == HOSTS_ITEM_ADDED && !rep->changed && rep->had_block)
			st = "in-block";
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i}", "name",
		                                   rep->items[i].name, "addr", rep->items[i].addr,
		                                   "state", st, "line", (int)rep->items[i].line));
	}
	return json_pack("{s:b, s:b, s:b, s:i, s:i, s:o}", "changed", rep->changed,
	                 "localhost_conflict", rep->localhost_conflict, "has_block", rep->has_block,
	                 "disabled", (int)rep->n_disabled, "restored", (int)rep->n_restored,
	                 "items", a);
}

int op_hosts_ensure(struct op_ctx *ctx)
{
	static const char *const known[] = {"fix_localhost", NULL};
	const struct config *c = &ctx->d->cfg;
	struct hosts_name names[CONFIG_MAX_NAMES];
	struct hosts_want want = {.names = names, .n_names = (size_t)c->hosts.n_names};
	struct hosts_report rep;
	int fix = 0;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_bool(ctx->args, "fix_localhost", 0, &fix, &ctx->err) < 0)
		return OP_ERR;
	for (int i = 0; i < c->hosts.n_names; i++) {
		names[i].name = c->hosts.names[i].name;
		names[i].addr = c->hosts.names[i].addr;
	}
	memset(&rep, 0, sizeof(rep));
	if (hosts_apply_file(c->hosts.file, &want, fix ? HOSTS_FIX_LOCALHOST : 0, &rep, &ctx->err) <
	    0)
		return OP_ERR;
	ctx->result = hosts_json(&rep);
	return OP_OK;
}

int op_hosts_remove(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};
	struct hosts_report rep;

	if (args_only(ctx->args, known, &ctx->err) < 0)
		return OP_ERR;
	memset(&rep, 0, sizeof(rep));
	if (hosts_remove_file(ctx->d->cfg.hosts.file, &rep, &ctx->err) < 0)
		return OP_ERR;
	ctx->result = hosts_json(&rep);
	return OP_OK;
}

/* --- socket link -------------------------------------------------------------- */

static const char *files_socketlink_state_str(enum socketlink_state s)
{
	static const char *const names[] = {"status", "created", "unchanged", "replaced",
	                                    "kept",   "removed", "absent"};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static const char *files_socketlink_found_str(enum socketlink_found f)
{
	static const char *const names[] = {"nothing", "ours", "previous", "link",
	                                    "socket",  "file", "dir",      "other"};
	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

/* Builds the socket-link config from the root-owned config alone. */
static int files_socketlink_prepare(struct op_ctx *ctx, struct socketlink_cfg *sc, char *home,
                                    size_t homelen, const char **prev)
{
	const struct config *c = &ctx->d->cfg;

	if (c->owner_uid == (uid_t)-1)
		return rp_seterr(&ctx->err, "E_CONFIG",
		                 "owner_user is not configured, so there is no engine socket to "
		                 "link to; nothing was changed");
	if (c->socket_link.home[0])
		rp_strlcpy(home, c->socket_link.home, homelen);
	else if (socketlink_owner_home(c->owner_uid, home, homelen, &ctx->err) < 0)
		return -1;
	for (int i = 0; i < c->socket_link.n_previous; i++)
		prev[i] = c->socket_link.previous[i];
	memset(sc, 0, sizeof(*sc));
	sc->link_path = c->socket_link.path;
	sc->target_rel = c->socket_link.target;
	sc->owner_uid = c->owner_uid;
	sc->home = home;
	sc->previous = prev;
	sc->n_previous = (size_t)c->socket_link.n_previous;
	return 0;
}

static json_t *files_socketlink_json(const struct socketlink_cfg *sc,
                                     const struct socketlink_report *rep)
{
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "state", files_socketlink_state_str(rep->state),
	    "found", files_socketlink_found_str(rep->found), "link", sc->link_path, "target",
	    rep->target, "target_ready", rep->target_ready, "was", rep->was, "note", rep->note);
}

static int files_socketlink_run(struct op_ctx *ctx, int which)
{
	static const char *const known_force[] = {"force", NULL};
	static const char *const known_none[] = {NULL};
	struct socketlink_cfg sc;
	struct socketlink_report rep;
	const char *prev[8];
	char home[4096];
	int force = 0, rc;

	if (args_only(ctx->args, which == 0 ? known_force : known_none, &ctx->err) < 0 ||
	    args_bool(ctx->args, "force", 0, &force, &ctx->err) < 0 ||
	    files_socketlink_prepare(ctx, &sc, home, sizeof(home), prev) < 0)
		return OP_ERR;
	memset(&rep, 0, sizeof(rep));
	if (which == 0)
		rc = socketlink_ensure(&sc, force, ctx->peer->uid == 0, &rep, &ctx->err);
	else if (which == 1)
		rc = socketlink_remove(&sc, &rep, &ctx->err);
	else
		rc = socketlink_status(&sc, &rep, &ctx->err);
	if (rc < 0)
		return OP_ERR;
	ctx->result = files_socketlink_json(&sc, &rep);
	if (ctx->peer->uid != 0 && ctx->peer->uid != ctx->d->cfg.owner_uid) {
		/* the walk ran as root: what it saw inside the owner's home is theirs */
		json_object_del(ctx->result, "target_ready");
		json_object_del(ctx->result, "note");
	}
	return OP_OK;
}

int op_socketlink_ensure(struct op_ctx *ctx)
{
	return files_socketlink_run(ctx, 0);
}

int op_socketlink_remove(struct op_ctx *ctx)
{
	return files_socketlink_run(ctx, 1);
}

int op_socketlink_status(struct op_ctx *ctx)
{
	return files_socketlink_run(ctx, 2);
}

/* socket_link.on_start: ensure the link once at startup, as the daemon itself. */
static void files_on_start(struct daemon *d)
{
	struct op_ctx ctx;
	struct peer self = {0, 0, 0};
	json_t *args = json_object();

	if (!d->cfg.socket_link.on_start)
		goto out;
	memset(&ctx, 0, sizeof(ctx));
	ctx.d = d;
	ctx.peer = &self;
	ctx.args = args;
	if (files_socketlink_run(&ctx, 0) == OP_OK)
		audit_log(d, "socketlink.ensure", &self, "ok", "", "at startup");
	else
		audit_log(d, "socketlink.ensure", &self, "error", ctx.err.code, ctx.err.msg);
	json_decref(ctx.result);
out:
	json_decref(args);
}

const struct module_def files_module = {
    .name = "files",
    .init = files_on_start,
};
