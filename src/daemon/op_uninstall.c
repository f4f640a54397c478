/* SPDX-License-Identifier: ISC */
/*
 * helper.uninstall: removes only what the root-owned config names, and only
 * things that are ours (our links, our hosts block, our socket link, files of
 * the kind rampart installs), each through a safely opened parent directory.
 * The client chooses only whether to purge the policy store too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "hosts.h"
#include "links.h"
#include "log.h"
#include "op_handlers.h"
#include "safefs.h"
#include "socketlink.h"

struct uninst {
	json_t *removed, *kept, *errors;
};

/* One entry of the reply; reason (why something was kept) may be NULL. */
static json_t *un_add(json_t *arr, const char *what, const char *path, const char *reason)
{
	json_t *o = json_pack("{s:s, s:s}", "what", what, "path", path);

	if (o != NULL && reason != NULL)
		json_object_set_new(o, "reason", json_string(reason));
	json_array_append_new(arr, o);
	return o;
}

static void un_error(struct uninst *u, const char *what, const char *path, const struct rp_err *e)
{
	json_array_append_new(u->errors, json_pack("{s:s, s:s, s:s, s:s}", "what", what, "path",
	                                           path, "code", e->code, "message", e->msg));
}

/* S_IFMT of the acceptable kind: S_IFREG (also accepts a symlink), S_IFSOCK, S_IFDIR. */
static int un_kind_ok(mode_t m, mode_t want)
{
	if (want == S_IFREG)
		return S_ISREG(m) || S_ISLNK(m);
	return (m & S_IFMT) == want;
}

/*
 * Removes path if it is of the expected kind, through a safely opened parent
 * (no link an unprivileged user placed is followed on the way).
 */
static void un_remove(struct uninst *u, const char *what, const char *path, mode_t want)
{
	const struct safefs_trust tr = {SAFEFS_CHECK_TRUST | SAFEFS_FOLLOW_ROOT_LINKS, (uid_t)-1,
	                                (gid_t)-1};
	char base[256];
	struct stat st;
	struct rp_err e;
	int dfd;

	if (path[0] == '\0' || (lstat(path, &st) < 0 && errno == ENOENT))
		return;
	if ((dfd = safefs_open_parent(path, &tr, base, sizeof(base), &e)) < 0) {
		un_error(u, what, path, &e);
		return;
	}
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT) {
			rp_seterr(&e, "E_UNINSTALL", "%s: %s", path, strerror(errno));
			un_error(u, what, path, &e);
		}
	} else if (!un_kind_ok(st.st_mode, want)) {
		un_add(u->kept, what, path, "not the kind of file rampart installs there");
	} else if (unlinkat(dfd, base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
		if (errno == ENOTEMPTY || errno == EEXIST)
			un_add(u->kept, what, path, "directory not empty");
		else {
			rp_seterr(&e, "E_UNINSTALL", "cannot remove %s: %s", path, strerror(errno));
			un_error(u, what, path, &e);
		}
	} else {
		un_add(u->removed, what, path, NULL);
	}
	close(dfd);
}

static void un_links(struct daemon *d, struct uninst *u)
{
	const struct config *c = &d->cfg;
	const char *names[CONFIG_MAX_NAMES];
	struct links_cfg lc;
	struct links_report rep;
	struct rp_err e;
	struct stat st;
	char p[4096 + 260];

	if (c->links.app_dir[0] == '\0' || c->links.n_names == 0 ||
	    (stat(c->links.bin_dir, &st) < 0 && errno == ENOENT))
		return; /* not configured, or no bin dir: no link of ours can exist */
	for (int i = 0; i < c->links.n_names; i++)
		names[i] = c->links.names[i];
	memset(&lc, 0, sizeof(lc));
	lc.bin_dir = c->links.bin_dir;
	lc.app_dir = c->links.app_dir;
	lc.names = names;
	lc.n_names = (size_t)c->links.n_names;
	lc.allowed_uid = c->owner_uid;
	lc.allowed_gid = c->owner_gid;
	memset(&rep, 0, sizeof(rep));
	if (links_remove(&lc, &rep, &e) < 0 && strcmp(e.code, "E_LINKS_INCOMPLETE") != 0)
		un_error(u, "links", c->links.bin_dir, &e);
	for (size_t i = 0; i < rep.n; i++) {
		const struct links_result *r = &rep.r[i];
		snprintf(p, sizeof(p), "%s/%s", c->links.bin_dir, r->name);
		if (r->state == LINKS_REMOVED)
			un_add(u->removed, "link", p, NULL);
		else if (r->state == LINKS_KEPT_FOREIGN)
			un_add(u->kept, "link", p, r->reason[0] ? r->reason : "not our link");
		else if (r->state == LINKS_REFUSED) {
			rp_seterr(&e, "E_LINKS_INCOMPLETE", "%s", r->reason);
			un_error(u, "link", p, &e);
		}
	}
}

static void un_hosts(struct daemon *d, struct uninst *u)
{
	struct hosts_report rep;
	struct rp_err e;
	char note[64];

	if (d->cfg.hosts.file[0] == '\0' || access(d->cfg.hosts.file, F_OK) < 0)
		return; /* no hosts file at all: nothing of ours in it */
	memset(&rep, 0, sizeof(rep));
	if (hosts_remove_file(d->cfg.hosts.file, &rep, &e) < 0) {
		un_error(u, "hosts-block", d->cfg.hosts.file, &e);
		return;
	}
	if (rep.had_block || rep.n_restored) {
		snprintf(note, sizeof(note), "%zu commented-out line(s) restored", rep.n_restored);
		json_object_set_new(un_add(u->removed, "hosts-block", d->cfg.hosts.file, NULL),
		                    "note", json_string(note));
	}
}

/* The compiled engine policy files (op_enforce.c): the original put back. */
static void un_enforce(struct daemon *d, struct uninst *u)
{
	char result[32];
	struct rp_err e;
	int r = enforce_module_uninstall(d, result, sizeof(result), &e);
	int foreign = r > 0 && strcmp(result, "kept-foreign") == 0;

	if (r < 0)
		un_error(u, "containers-policy", d->cfg.enforce.containers_policy, &e);
	else if (r > 0)
		json_object_set_new(
		    un_add(foreign ? u->kept : u->removed, "containers-policy",
		           d->cfg.enforce.containers_policy,
		           foreign ? "changed by someone else since rampart wrote it" : NULL),
		    "note", json_string(result));
}

static void un_socketlink(struct daemon *d, struct uninst *u)
{
	const struct config *c = &d->cfg;
	struct socketlink_cfg sc;
	struct socketlink_report rep;
	const char *prev[8];
	char home[4096];
	struct rp_err e;
	struct stat st;

	if (c->owner_uid == (uid_t)-1 || c->socket_link.path[0] == '\0' ||
	    (lstat(c->socket_link.path, &st) < 0 && errno == ENOENT))
		return; /* no owner: socketlink.ensure can never have made the link; or none there
		         */
	if (c->socket_link.home[0])
		rp_strlcpy(home, c->socket_link.home, sizeof(home));
	else if (socketlink_owner_home(c->owner_uid, home, sizeof(home), &e) < 0) {
		un_error(u, "socket-link", c->socket_link.path, &e);
		return;
	}
	for (int i = 0; i < c->socket_link.n_previous && i < 8; i++)
		prev[i] = c->socket_link.previous[i];
	memset(&sc, 0, sizeof(sc));
	sc.link_path = c->socket_link.path;
	sc.target_rel = c->socket_link.target;
	sc.owner_uid = c->owner_uid;
	sc.home = home;
	sc.previous = prev;
	sc.n_previous = (size_t)(c->socket_link.n_previous < 8 ? c->socket_link.n_previous : 8);
	memset(&rep, 0, sizeof(rep));
	if (socketlink_remove(&sc, &rep, &e) < 0)
		un_error(u, "socket-link", c->socket_link.path, &e);
	else if (rep.state == SOCKETLINK_REMOVED)
		un_add(u->removed, "socket-link", c->socket_link.path, NULL);
	else if (rep.state == SOCKETLINK_KEPT)
		un_add(u->kept, "socket-link", c->socket_link.path, "not our link");
}

int op_helper_uninstall(struct op_ctx *ctx)
{
	static const char *const known[] = {"purge", NULL};
	struct daemon *d = ctx->d;
	struct uninst u;
	int purge = 0;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_bool(ctx->args, "purge", 0, &purge, &ctx->err) < 0)
		return OP_ERR;
	u.removed = json_array();
	u.kept = json_array();
	u.errors = json_array();
	un_links(d, &u);
	un_hosts(d, &u);
	un_socketlink(d, &u);
	un_enforce(d, &u);
	for (int i = 0; i < d->cfg.helper.n_unit_files; i++)
		un_remove(&u, "unit", d->cfg.helper.unit_files[i], S_IFREG);
	un_remove(&u, "binary", d->cfg.helper.binary, S_IFREG);
	un_remove(&u, "socket", d->cfg.socket_path, S_IFSOCK);
	if (purge) {
		un_remove(&u, "policy-db", d->cfg.db_path, S_IFREG);
		un_remove(&u, "state-dir", d->cfg.state_dir, S_IFDIR);
	}
	ctx->result = json_pack("{s:b, s:b, s:b, s:o, s:o, s:o}", "complete",
	                        json_array_size(u.errors) == 0, "purged", purge, "exiting", 1,
	                        "removed", u.removed, "kept", u.kept, "errors", u.errors);
	log_info("helper.uninstall: %zu removed, %zu kept, %zu errors; exiting",
	         json_array_size(u.removed), json_array_size(u.kept), json_array_size(u.errors));
	/* the reply is queued after we return; the loop exits once it is written */
	d->stopping = true;
	d->exit_after_flush = true;
	return OP_OK;
}
