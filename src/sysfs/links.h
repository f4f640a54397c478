/* SPDX-License-Identifier: ISC */
/*
 * CLI links: bin_dir/NAME -> app_dir/NAME for a configured list of names
 * (e.g. /usr/local/bin/docker -> /Applications/X.app/.../bin/docker).
 * See docs/ops.md for the rules.
 */
#ifndef RAMPART_LINKS_H
#define RAMPART_LINKS_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define LINKS_MAX_NAMES 32

struct links_cfg {
	const char *bin_dir;      /* absolute; where the links go */
	const char *app_dir;      /* absolute, no ".."; links point at app_dir/NAME */
	const char *const *names; /* plain file names (no '/', not "." or "..", no control
	                             bytes, <= 255 bytes) */
	size_t n_names;           /* <= LINKS_MAX_NAMES */
	uid_t allowed_uid; /* besides root, may own bin_dir and its parents; (uid_t)-1 = none */
	gid_t allowed_gid; /* besides gid 0, may have group write on them; (gid_t)-1 = none */
};

enum links_state {
	LINKS_CREATED,      /* nothing was there; link made */
	LINKS_UNCHANGED,    /* already the right link; nothing written */
	LINKS_UPDATED,      /* our link (into app_dir) with another target; rewritten */
	LINKS_REPLACED,     /* a foreign file or link replaced: force from root */
	LINKS_KEPT_FOREIGN, /* something not ours is there; left alone */
	LINKS_REMOVED,      /* our link removed */
	LINKS_ABSENT,       /* remove: nothing there */
	LINKS_REFUSED,      /* bad name, bad target, or the write failed; see reason */
};

struct links_result {
	char name[256];
	enum links_state state;
	char reason[512]; /* for people; "" when there is nothing to say */
};

struct links_report {
	int changed;       /* something was written or removed */
	int force_ignored; /* force was asked by a caller who is not root */
	size_t n;
	struct links_result r[LINKS_MAX_NAMES];
};

/*
 * Makes every cfg->names[i] in bin_dir a link to app_dir/NAME.  The target
 * must exist and resolve (realpath) inside realpath(app_dir).  bin_dir is
 * opened with safefs (O_NOFOLLOW walk from "/", trust checks against
 * allowed_uid/allowed_gid).  A regular file, a directory or a link pointing
 * outside app_dir is kept unless force && caller_is_root (a directory is
 * always kept).  Returns 0 when every name is linked; -1 with err:
 * E_LINKS_CONFIG / E_FS_* (nothing was changed, rep->n == 0), or
 * E_LINKS_INCOMPLETE (some names were kept or refused; rep says which, the
 * others were done).
 */
int links_install(const struct links_cfg *cfg, int force, int caller_is_root,
                  struct links_report *rep, struct rp_err *err);

/*
 * Removes every cfg->names[i] in bin_dir that is a link pointing into
 * app_dir; anything else is kept (LINKS_KEPT_FOREIGN, not an error).  -1 with
 * E_LINKS_CONFIG / E_FS_* (nothing removed) or E_LINKS_INCOMPLETE (a name
 * was refused or could not be removed).
 */
int links_remove(const struct links_cfg *cfg, struct links_report *rep, struct rp_err *err);

#endif
