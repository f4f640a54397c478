/* SPDX-License-Identifier: ISC */
/*
 * Installing a compiled engine policy file (containers policy.json) and
 * taking it out again: the file that was there first is kept beside it
 * (<file>.rampart-orig) and put back; warn mode writes <file>.rampart-next
 * instead.  A small state file in rampart's state dir records the SHA-256 of
 * what rampart wrote, so a file someone else changed since is never taken for
 * ours.
 */
#ifndef RAMPART_ENFORCE_FILE_H
#define RAMPART_ENFORCE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

#define EFILE_ORIG_SUFFIX ".rampart-orig"
#define EFILE_NEXT_SUFFIX ".rampart-next"
#define EFILE_MAX_BYTES (16u << 20) /* a file to back up or compare: larger is refused */

enum efile_result {
	EFILE_NOTHING = 0,  /* nothing to do (never managed, already restored) */
	EFILE_UNCHANGED,    /* the file already holds exactly this text: not written */
	EFILE_CREATED,      /* no file was there; written */
	EFILE_REPLACED,     /* the previous file was replaced (and saved if not ours) */
	EFILE_RESTORED,     /* the saved original was put back */
	EFILE_REMOVED,      /* rampart's file removed (there was none before) */
	EFILE_KEPT_FOREIGN, /* changed by someone else since rampart wrote it: left alone */
};

struct efile_target {
	const char *path;       /* e.g. /etc/containers/policy.json (absolute) */
	const char *state_path; /* e.g. /var/lib/rampart/containers-policy.state */
	uid_t uid;              /* owner of written files; (uid_t)-1 = leave */
	gid_t gid;
};

struct efile_report {
	enum efile_result result;
	bool saved_original; /* this call copied the previous file to .rampart-orig */
	bool removed_next;   /* a .rampart-next was removed */
	ino_t ino;           /* inode of the file at path afterwards (0: none) */
	char sha256[65];     /* of what is at path afterwards ("" if none) */
};

const char *efile_result_name(enum efile_result r);

/*
 * Enforce: makes t->path hold text.  Unchanged content is not written (same
 * inode).  A file that is not rampart's is first copied to .rampart-orig
 * (temp + fsync + rename).  Written files are mode 0644.  The directory
 * must be trusted (root's, not group/other-writable).  0 or -1 with err
 * (E_ENFORCE_FILE, E_ENFORCE_IO): nothing at path changed.
 */
int efile_install(const struct efile_target *t, const char *text, size_t len,
                  struct efile_report *rep, struct rp_err *err);

/*
 * Warn: puts the original back if rampart's file is in place, then writes
 * text to <path>.rampart-next (not rewritten when unchanged).  0 or -1.
 */
int efile_stage(const struct efile_target *t, const char *text, size_t len,
                struct efile_report *rep, struct rp_err *err);

/*
 * Off / uninstall: if the file at path is the one rampart wrote, puts the
 * saved original back (or removes it when there was none); removes
 * <path>.rampart-next.  A file changed by someone else is kept.  0 or -1.
 */
int efile_restore(const struct efile_target *t, struct efile_report *rep, struct rp_err *err);

/* Lowercase hex SHA-256 of buf into out (65 bytes). */
void efile_sha256_hex(const void *buf, size_t len, char out[65]);

#endif
