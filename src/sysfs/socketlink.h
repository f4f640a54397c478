/* SPDX-License-Identifier: ISC */
/*
 * Engine socket link: the system path tools know (e.g. /var/run/docker.sock)
 * as a link to the owner's engine socket inside their home (e.g.
 * ~/.docker/run/docker.sock).  The target is always derived from the
 * configuration (home + relative pattern), never taken from a client.
 * See docs/ops.md.
 */
#ifndef RAMPART_SOCKETLINK_H
#define RAMPART_SOCKETLINK_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define SOCKETLINK_MAX_PREVIOUS 8

struct socketlink_cfg {
	const char *link_path;       /* absolute, e.g. /var/run/docker.sock */
	const char *target_rel;      /* relative to home, e.g. .docker/run/docker.sock: no '..',
	                                '.', empty components or control bytes */
	uid_t owner_uid;             /* the desktop user: owns the target socket */
	const char *home;            /* the owner's home (socketlink_owner_home) */
	const char *const *previous; /* absolute targets we linked to before (config
	                                changes): such a link may be replaced/removed */
	size_t n_previous;           /* <= SOCKETLINK_MAX_PREVIOUS */
};

enum socketlink_state {
	SOCKETLINK_STATUS,    /* socketlink_status: nothing was done */
	SOCKETLINK_CREATED,   /* nothing was there; link made */
	SOCKETLINK_UNCHANGED, /* already our link; nothing written */
	SOCKETLINK_REPLACED,  /* a link to a previous target, or forced by root */
	SOCKETLINK_KEPT,      /* something not ours is there; left alone */
	SOCKETLINK_REMOVED,   /* our link removed */
	SOCKETLINK_ABSENT,    /* remove: nothing there */
};

enum socketlink_found { /* what was at link_path before the call */
	                SOCKETLINK_FOUND_NOTHING,
	                SOCKETLINK_FOUND_OURS,     /* a link to the target */
	                SOCKETLINK_FOUND_PREVIOUS, /* a link to one of cfg->previous */
	                SOCKETLINK_FOUND_LINK,     /* a link elsewhere */
	                SOCKETLINK_FOUND_SOCKET,   /* a real socket (e.g. a system engine) */
	                SOCKETLINK_FOUND_FILE,     /* a regular file */
	                SOCKETLINK_FOUND_DIR,
	                SOCKETLINK_FOUND_OTHER,
};

struct socketlink_report {
	enum socketlink_state state;
	enum socketlink_found found;
	int target_ready;      /* the target exists: a socket owned by the owner */
	char target[PATH_MAX]; /* home + "/" + target_rel */
	char was[PATH_MAX];    /* the old link's contents when found is a link */
	char note[512];        /* why the target is not ready, for people; "" if it is */
};

/*
 * Points link_path at the target.  The target must be inside home (checked
 * without following links below home) and, when it exists, a socket owned by
 * owner_uid; a missing target is fine (the engine may start later:
 * rep->target_ready = 0).  The link's directory is opened with safefs
 * (O_NOFOLLOW walk, trust: root or owner_uid).  A link to the target: nothing
 * written (UNCHANGED).  A link to a previous target: replaced.  Anything else
 * is kept unless force && caller_is_root (a directory is always kept).
 * Errors: E_SOCKLINK_CONFIG, E_SOCKLINK_TARGET, E_SOCKLINK_OCCUPIED
 * (rep->state KEPT, rep->found says what is there), E_FS_*.
 */
int socketlink_ensure(const struct socketlink_cfg *cfg, int force, int caller_is_root,
                      struct socketlink_report *rep, struct rp_err *err);

/* Removes link_path only while it is a link to the target (or a previous one); else KEPT, 0. */
int socketlink_remove(const struct socketlink_cfg *cfg, struct socketlink_report *rep,
                      struct rp_err *err);

/*
 * Fills rep (found, was, target, target_ready, note) without changing
 * anything.  A target problem is reported in rep->note, not as an error.
 */
int socketlink_status(const struct socketlink_cfg *cfg, struct socketlink_report *rep,
                      struct rp_err *err);

/* The home directory of uid from the password database (getpwuid_r). */
int socketlink_owner_home(uid_t uid, char *home, size_t len, struct rp_err *err);

#endif
