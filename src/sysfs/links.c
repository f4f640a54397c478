/* SPDX-License-Identifier: ISC */
/*
 * CLI links in a system bin directory, made and removed as root.  Trusts the
 * configuration (bin_dir, app_dir, names) only after checking it: names are
 * plain file names, targets must resolve inside app_dir, bin_dir is reached
 * through safefs so nobody but root and the owner can redirect the write, and
 * only links pointing into app_dir are ever replaced or removed without force.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "links.h"
#include "safefs.h"

struct lctx {
	const struct links_cfg *cfg;
	char app[PATH_MAX];      /* app_dir without trailing '/' */
	char real_app[PATH_MAX]; /* realpath(app_dir); "" if it does not exist */
	int bfd;                 /* bin_dir */
	int force_ok;            /* force asked by root */
	int force_ignored;       /* force asked by someone else */
};

static int path_has_dotdot(const char *p)
{
	for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return 1;
	return 0;
}

/* p is dir itself or below it (both canonical). */
static int path_under(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(p, dir, n) == 0 && p[n] == '/';
}

static int links_check_cfg(const struct links_cfg *cfg, struct rp_err *err)
{
	if (cfg == NULL || cfg->bin_dir == NULL || cfg->app_dir == NULL ||
	    (cfg->n_names > 0 && cfg->names == NULL))
		return rp_seterr(err, "E_LINKS_CONFIG",
		                 "links: bin_dir, app_dir and the names "
		                 "must be configured; nothing was changed");
	if (cfg->n_names > LINKS_MAX_NAMES)
		return rp_seterr(err, "E_LINKS_CONFIG",
		                 "links: %zu names configured, the limit "
		                 "is %d; nothing was changed",
		                 cfg->n_names, LINKS_MAX_NAMES);
	if (cfg->app_dir[0] != '/' || path_has_dotdot(cfg->app_dir))
		return rp_seterr(err, "E_LINKS_CONFIG",
		                 "links: app_dir '%s' must be an absolute "
		                 "path without '..'; nothing was changed",
		                 cfg->app_dir);
	return 0;
}

/* Validates cfg, opens bin_dir safely and resolves app_dir (required for install). */
static int links_open(struct lctx *c, const struct links_cfg *cfg, int install, struct rp_err *err)
{
	const struct safefs_trust t = {SAFEFS_CHECK_TRUST | SAFEFS_FOLLOW_ROOT_LINKS,
	                               cfg != NULL ? cfg->allowed_uid : (uid_t)-1,
	                               cfg != NULL ? cfg->allowed_gid : (gid_t)-1};
	struct stat bst, ast;
	size_t n;

	memset(c, 0, sizeof(*c));
	c->bfd = -1;
	c->cfg = cfg;
	if (links_check_cfg(cfg, err) == -1)
		return -1;
	if ((n = rp_strlcpy(c->app, cfg->app_dir, sizeof(c->app))) >= sizeof(c->app))
		return rp_seterr(err, "E_LINKS_CONFIG",
		                 "links: app_dir is too long; nothing was "
		                 "changed");
	while (n > 1 && c->app[n - 1] == '/')
		c->app[--n] = '\0';
	if (realpath(c->app, c->real_app) == NULL) {
		c->real_app[0] = '\0';
		if (install)
			return rp_seterr(err, "E_LINKS_CONFIG",
			                 "links: app_dir %s cannot be "
			                 "resolved: %s; nothing was changed",
			                 c->app, strerror(errno));
	}
	if (strcmp(c->app, "/") == 0 || strcmp(c->real_app, "/") == 0)
		return rp_seterr(err, "E_LINKS_CONFIG",
		                 "links: app_dir must not be /; nothing "
		                 "was changed");
	if ((c->bfd = safefs_open_dir(cfg->bin_dir, &t, err)) == -1)
		return -1;
	if (c->real_app[0] != '\0' && fstat(c->bfd, &bst) == 0 && stat(c->real_app, &ast) == 0 &&
	    bst.st_dev == ast.st_dev && bst.st_ino == ast.st_ino)
		return rp_seterr(err, "E_LINKS_CONFIG",
		                 "links: bin_dir and app_dir are the same "
		                 "directory; nothing was changed");
	return 0;
}

/* cur (a link's contents) points into app_dir: textually, or once resolved. */
static int links_points_in(const struct lctx *c, const char *cur)
{
	size_t n = strlen(c->app);
	char real[PATH_MAX];

	if (cur[0] != '/')
		return 0;
	if (strncmp(cur, c->app, n) == 0 && cur[n] == '/' && cur[n + 1] != '\0' &&
	    !path_has_dotdot(cur))
		return 1;
	return c->real_app[0] != '\0' && realpath(cur, real) != NULL &&
	       path_under(real, c->real_app);
}

static void result_set(struct links_result *r, enum links_state s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void result_set(struct links_result *r, enum links_state s, const char *fmt, ...)
{
	va_list ap;

	r->state = s;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
}

/* Target app_dir/name exists and resolves inside app_dir; else says why in r. */
static int links_target_ok(const struct lctx *c, const char *want, struct links_result *r)
{
	char real[PATH_MAX];

	if (realpath(want, real) == NULL) {
		result_set(r, LINKS_REFUSED,
		           "the target %s cannot be resolved (%s); nothing "
		           "was changed",
		           want, strerror(errno));
		return 0;
	}
	if (!path_under(real, c->real_app)) {
		result_set(r, LINKS_REFUSED,
		           "the target %s resolves to %s, outside %s; "
		           "nothing was changed",
		           want, real, c->real_app);
		return 0;
	}
	return 1;
}

static void links_make(struct lctx *c, const char *name, const char *want, enum links_state s,
                       const char *note, struct links_result *r, struct links_report *rep)
{
	struct rp_err e;

	if (safefs_symlink_atomic(c->bfd, name, want, &e) == -1) {
		result_set(r, LINKS_REFUSED, "%s", e.msg);
		return;
	}
	result_set(r, s, "%s", note);
	rep->changed = 1;
}

/* Something that is not our link is at name: keep it, or replace it with root's force. */
static void links_foreign(struct lctx *c, const char *name, const char *want, const char *what,
                          int is_dir, struct links_result *r, struct links_report *rep)
{
	if (c->force_ok && !is_dir) {
		links_make(c, name, want, LINKS_REPLACED, what, r, rep);
		return;
	}
	result_set(r, LINKS_KEPT_FOREIGN, "kept: %s%s", what,
	           is_dir             ? "; a directory is never replaced"
	           : c->force_ignored ? "; --force is honoured only for root"
	                              : "; root may replace it with --force");
}

static void links_install_one(struct lctx *c, const char *name, struct links_result *r,
                              struct links_report *rep)
{
	char want[PATH_MAX], cur[PATH_MAX], what[2048];
	struct stat st;

	if ((size_t)snprintf(want, sizeof(want), "%s/%s", c->app, name) >= sizeof(want)) {
		result_set(r, LINKS_REFUSED, "the target path is too long");
		return;
	}
	if (!links_target_ok(c, want, r))
		return;
	if (fstatat(c->bfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			links_make(c, name, want, LINKS_CREATED, "", r, rep);
		else
			result_set(r, LINKS_REFUSED, "cannot inspect %s: %s", name,
			           strerror(errno));
		return;
	}
	if (!S_ISLNK(st.st_mode)) {
		links_foreign(c, name, want,
		              S_ISDIR(st.st_mode)   ? "a directory is there"
		              : S_ISREG(st.st_mode) ? "a regular file is there"
		                                    : "a special file is there",
		              S_ISDIR(st.st_mode), r, rep);
		return;
	}
	if (safefs_readlink(c->bfd, name, cur, sizeof(cur)) < 0) {
		result_set(r, LINKS_REFUSED, "cannot read the link %s: %s", name, strerror(errno));
		return;
	}
	if (strcmp(cur, want) == 0) {
		result_set(r, LINKS_UNCHANGED, "%s", "");
	} else if (links_points_in(c, cur)) {
		snprintf(what, sizeof(what), "was a link to %.900s", cur);
		links_make(c, name, want, LINKS_UPDATED, what, r, rep);
	} else {
		snprintf(what, sizeof(what), "a link to %.900s, outside %.900s, is there", cur,
		         c->app);
		links_foreign(c, name, want, what, 0, r, rep);
	}
}

static void links_remove_one(struct lctx *c, const char *name, struct links_result *r,
                             struct links_report *rep)
{
	char cur[PATH_MAX];
	struct stat st;

	if (fstatat(c->bfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			result_set(r, LINKS_ABSENT, "%s", "");
		else
			result_set(r, LINKS_REFUSED, "cannot inspect %s: %s", name,
			           strerror(errno));
		return;
	}
	if (!S_ISLNK(st.st_mode)) {
		result_set(r, LINKS_KEPT_FOREIGN, "kept: not a link");
		return;
	}
	if (safefs_readlink(c->bfd, name, cur, sizeof(cur)) < 0) {
		result_set(r, LINKS_REFUSED, "cannot read the link %s: %s", name, strerror(errno));
		return;
	}
	if (!links_points_in(c, cur)) {
		result_set(r, LINKS_KEPT_FOREIGN, "kept: links to %s, outside %s", cur, c->app);
		return;
	}
	if (unlinkat(c->bfd, name, 0) == -1) {
		result_set(r, LINKS_REFUSED, "cannot remove %s: %s", name, strerror(errno));
		return;
	}
	result_set(r, LINKS_REMOVED, "%s", "");
	rep->changed = 1;
}

static int links_run(const struct links_cfg *cfg, int install, int force, int caller_is_root,
                     struct links_report *rep, struct rp_err *err)
{
	struct lctx c;
	size_t bad = 0;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (links_open(&c, cfg, install, err) == -1)
		goto out;
	c.force_ok = force && caller_is_root;
	c.force_ignored = rep->force_ignored = force && !caller_is_root;
	for (size_t i = 0; i < cfg->n_names; i++) {
		struct links_result *r = &rep->r[rep->n++];
		const char *name = cfg->names[i] != NULL ? cfg->names[i] : "";
		rp_strlcpy(r->name, name, sizeof(r->name));
		if (!safefs_name_ok(name))
			result_set(r, LINKS_REFUSED,
			           "not a plain file name (no '/', '.', '..', "
			           "control characters; at most 255 bytes); nothing was changed");
		else if (install)
			links_install_one(&c, name, r, rep);
		else
			links_remove_one(&c, name, r, rep);
		bad += r->state == LINKS_REFUSED || (install && r->state == LINKS_KEPT_FOREIGN);
	}
	if (!install && rep->changed && safefs_fsync_dir(c.bfd, cfg->bin_dir, err) == -1)
		goto out;
	if (bad > 0) {
		rp_seterr(err, "E_LINKS_INCOMPLETE",
		          "%zu of %zu links in %s were %s; see the "
		          "per-name results",
		          bad, cfg->n_names, cfg->bin_dir, install ? "not made" : "not removed");
		goto out;
	}
	rc = 0;
out:
	if (c.bfd >= 0)
		close(c.bfd);
	return rc;
}

int links_install(const struct links_cfg *cfg, int force, int caller_is_root,
                  struct links_report *rep, struct rp_err *err)
{
	return links_run(cfg, 1, force, caller_is_root, rep, err);
}

int links_remove(const struct links_cfg *cfg, struct links_report *rep, struct rp_err *err)
{
	return links_run(cfg, 0, 0, 0, rep, err);
}
