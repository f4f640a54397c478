/* SPDX-License-Identifier: ISC */
/*
 * Shared helpers for the modules that change files owned by root (hosts,
 * CLI links, the engine socket link): walk a directory path one component at
 * a time from "/" without following links an unprivileged user could have
 * placed, check who can write each directory, and replace a name atomically
 * (temp name + rename + fsync of the directory).
 */
#ifndef RAMPART_SAFEFS_H
#define RAMPART_SAFEFS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "err.h"

/* Refuse a directory (or any directory above it) that a non-trusted user can write. */
#define SAFEFS_CHECK_TRUST 0x1u
/*
 * Follow a symbolic link met on the way only if root placed it where only
 * root can change it: the link is owned by root and the directory holding it
 * is owned by root and writable by nobody else (e.g. /var/run -> /run on
 * Linux, /etc -> private/etc on macOS).  Without this flag every link is
 * refused.  A link owned by anyone else is always refused.
 */
#define SAFEFS_FOLLOW_ROOT_LINKS 0x2u

struct safefs_trust {
	unsigned flags; /* SAFEFS_* */
	uid_t uid;      /* besides root, may own the directories; (uid_t)-1 = nobody */
	gid_t gid;      /* besides gid 0, may have group write; (gid_t)-1 = none */
};

/*
 * Opens the absolute directory `path` (O_DIRECTORY, every component opened
 * with openat(O_NOFOLLOW) from "/").  "." components are skipped, ".." is
 * refused.  Returns an O_RDONLY|O_CLOEXEC fd, or -1 with err:
 * E_FS_PATH, E_FS_SYMLINK, E_FS_OPEN, E_FS_UNSAFE.
 */
int safefs_open_dir(const char *path, const struct safefs_trust *t, struct rp_err *err);

/*
 * Splits the absolute `path` into its directory (opened like
 * safefs_open_dir) and its last component, copied to base (a plain name,
 * see safefs_name_ok).  Returns the directory fd or -1 with err.
 */
int safefs_open_parent(const char *path, const struct safefs_trust *t, char *base, size_t baselen,
                       struct rp_err *err);

/*
 * Checks one open directory: owned by root or t->uid; group write only for
 * gid 0 or t->gid; no write for others.  A sticky directory that is not the
 * last one of the walk may be group/other-writable (others cannot rename or
 * delete what is in it, e.g. /tmp).  `shown` names it in the message.
 */
int safefs_check_dir(int fd, const char *shown, int last, const struct safefs_trust *t,
                     struct rp_err *err);

/* 1 if name is a plain file name: 1..255 bytes, no '/', not "." or "..", no control bytes. */
int safefs_name_ok(const char *name);

/* Fills buf (>= 30 bytes) with a fresh ".rampart-tmp-<16 hex>" name; -1 if no randomness. */
int safefs_tmpname(char *buf, size_t len);

/*
 * Replaces dirfd/name with a new regular file holding buf[0..len): temp file
 * (O_CREAT|O_EXCL|O_NOFOLLOW) in the same directory, owner uid:gid (-1 =
 * leave), mode, fsync, renameat over name, fsync of the directory.  On
 * failure the temp file is removed and name is untouched.
 */
int safefs_write_atomic(int dirfd, const char *name, const void *buf, size_t len, uid_t uid,
                        gid_t gid, mode_t mode, struct rp_err *err);

/* Makes dirfd/name a symbolic link to target: symlinkat to a temp name, renameat, fsync dir. */
int safefs_symlink_atomic(int dirfd, const char *name, const char *target, struct rp_err *err);

/*
 * readlinkat into buf (NUL-terminated).  Returns the length, or -1 with
 * errno (EINVAL: not a link, ENAMETOOLONG: does not fit).
 */
int safefs_readlink(int dirfd, const char *name, char *buf, size_t len);

int safefs_fsync_dir(int dirfd, const char *shown, struct rp_err *err);

/*
 * Tests only: called by safefs_open_dir with the path and the fd just
 * before returning it, so a test can swap the directory for a link while
 * an operation is in progress.  NULL in production.
 */
extern void (*safefs_test_hook)(const char *path, int fd);

/* write() all of buf, retrying on EINTR and short writes; 0 or -1 (errno). */
int safefs_write_all(int fd, const void *buf, size_t len);

#endif
