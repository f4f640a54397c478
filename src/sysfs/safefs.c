/* SPDX-License-Identifier: ISC */
/*
 * Directory walking and atomic replacement for the modules that write into
 * system directories as root.  Trusts nothing on the way: every component is
 * opened with openat(O_NOFOLLOW) relative to the previous fd, links are
 * followed only when root placed them where only root can change them, and
 * every write goes to a fresh temp name that is renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefs.h"

#define SAFEFS_MAX_HOPS 16
#define SAFEFS_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

void (*safefs_test_hook)(const char *path, int fd);

struct walk {
	int fd;               /* directory reached so far */
	char shown[PATH_MAX]; /* its path, for messages */
	char rest[PATH_MAX];  /* components still to open */
	int hops;             /* links followed */
	const struct safefs_trust *t;
};

static const char *safefs_user(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL)
		snprintf(buf, len, "uid %u (%s)", (unsigned)uid, res->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
	return buf;
}

static const char *safefs_group(gid_t gid, char *buf, size_t len)
{
	struct group gr, *res = NULL;
	char tmp[4096];

	if (getgrgid_r(gid, &gr, tmp, sizeof(tmp), &res) == 0 && res != NULL)
		snprintf(buf, len, "group %s (gid %u)", res->gr_name, (unsigned)gid);
	else
		snprintf(buf, len, "gid %u", (unsigned)gid);
	return buf;
}

int safefs_check_dir(int fd, const char *shown, int last, const struct safefs_trust *t,
                     struct rp_err *err)
{
	struct stat st;
	char who[300];
	int shared;

	if (fstat(fd, &st) == -1)
		return rp_seterr(err, "E_FS_OPEN", "cannot inspect %s: %s; nothing was changed",
		                 shown, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return rp_seterr(err, "E_FS_OPEN", "%s is not a directory; nothing was changed",
		                 shown);
	if (st.st_uid != 0 && st.st_uid != t->uid)
		return rp_seterr(err, "E_FS_UNSAFE",
		                 "refusing to use %s: it is owned by %s, who is neither root nor "
		                 "the configured owner and could swap what it holds; nothing was "
		                 "changed; make root own it or configure another directory",
		                 shown, safefs_user(st.st_uid, who, sizeof(who)));
	shared = (st.st_mode & S_ISVTX) && !last;
	if ((st.st_mode & S_IWGRP) && st.st_gid != 0 && st.st_gid != t->gid && !shared)
		return rp_seterr(err, "E_FS_UNSAFE",
		                 "refusing to use %s: it is writable by %s, whose members are not "
		                 "all trusted; nothing was changed; run 'chmod g-w %s' or "
		                 "configure another directory",
		                 shown, safefs_group(st.st_gid, who, sizeof(who)), shown);
	if ((st.st_mode & S_IWOTH) && !shared)
		return rp_seterr(err, "E_FS_UNSAFE",
		                 "refusing to use %s: it is writable by every user (mode %04o); "
		                 "nothing was changed; run 'chmod o-w %s' or configure another "
		                 "directory",
		                 shown, (unsigned)(st.st_mode & 07777), shown);
	return 0;
}

int safefs_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '/' || c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int safefs_tmpname(char *buf, size_t len)
{
	unsigned char r[8];

	if (len < 30 || getentropy(r, sizeof(r)) == -1)
		return -1;
	snprintf(buf, len, ".rampart-tmp-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
	         r[4], r[5], r[6], r[7]);
	return 0;
}

/* Pops the next component of w->rest into comp; 0 = none left, -1 = too long. */
static int walk_next(struct walk *w, char *comp, size_t complen)
{
	char *p = w->rest, *e;
	size_t n;

	while (*p == '/')
		p++;
	if (*p == '\0') {
		w->rest[0] = '\0';
		return 0;
	}
	e = strchr(p, '/');
	n = e != NULL ? (size_t)(e - p) : strlen(p);
	if (n >= complen)
		return -1;
	memcpy(comp, p, n);
	comp[n] = '\0';
	memmove(w->rest, p + n, strlen(p + n) + 1);
	return 1;
}

static int walk_last(const struct walk *w)
{
	for (const char *p = w->rest; *p != '\0'; p++)
		if (*p != '/')
			return 0;
	return 1;
}

static int walk_root(struct walk *w, struct rp_err *err)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = open("/", SAFEFS_DIR_FLAGS & ~O_NOFOLLOW);
	if (w->fd == -1)
		return rp_seterr(err, "E_FS_OPEN", "cannot open /: %s; nothing was changed",
		                 strerror(errno));
	rp_strlcpy(w->shown, "/", sizeof(w->shown));
	if (w->t->flags & SAFEFS_CHECK_TRUST)
		return safefs_check_dir(w->fd, "/", walk_last(w), w->t, err);
	return 0;
}

/* dir + "/" + comp for messages; a path too long for PATH_MAX is cut (it is only shown). */
static void walk_join(char *dst, size_t len, const char *dir, const char *comp)
{
	int n = snprintf(dst, len, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", comp);

	if (n < 0 || (size_t)n >= len)
		dst[len - 1] = '\0';
}

/* 1 if root placed the link comp in w->fd where only root can change it. */
static int walk_root_placed(const struct walk *w, const char *comp)
{
	struct stat dst, lst;

	if (fstat(w->fd, &dst) == -1 || fstatat(w->fd, comp, &lst, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (lst.st_uid != 0 || dst.st_uid != 0 || (dst.st_mode & S_IWOTH))
		return 0;
	return !((dst.st_mode & S_IWGRP) && dst.st_gid != 0);
}

/* comp in w->fd is a symbolic link: follow it if allowed, else refuse. */
static int walk_link(struct walk *w, const char *comp, struct rp_err *err)
{
	char here[PATH_MAX], target[PATH_MAX], rest[PATH_MAX];
	int n;

	walk_join(here, sizeof(here), w->shown, comp);
	n = safefs_readlink(w->fd, comp, target, sizeof(target));
	if (n <= 0)
		return rp_seterr(err, "E_FS_SYMLINK",
		                 "cannot read the link %s: %s; nothing was "
		                 "changed",
		                 here, strerror(errno));
	if (!(w->t->flags & SAFEFS_FOLLOW_ROOT_LINKS) || !walk_root_placed(w, comp))
		return rp_seterr(err, "E_FS_SYMLINK",
		                 "refusing to follow %s: it is a symbolic link (to %s) that "
		                 "someone other than root could have placed; nothing was changed; "
		                 "configure the real path instead",
		                 here, target);
	if (++w->hops > SAFEFS_MAX_HOPS)
		return rp_seterr(err, "E_FS_SYMLINK",
		                 "too many symbolic links while resolving "
		                 "%s; nothing was changed",
		                 here);
	for (const char *p = target; (p = strstr(p, "..")) != NULL; p += 2)
		if ((p == target || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
			return rp_seterr(err, "E_FS_SYMLINK",
			                 "refusing to follow %s -> %s: the target uses '..'; "
			                 "nothing was changed; configure the real path instead",
			                 here, target);
	if ((size_t)snprintf(rest, sizeof(rest), "%s/%s", target, w->rest) >= sizeof(rest))
		return rp_seterr(err, "E_FS_PATH",
		                 "path too long after following %s; nothing "
		                 "was changed",
		                 here);
	rp_strlcpy(w->rest, rest, sizeof(w->rest));
	if (target[0] == '/')
		return walk_root(w, err);
	return 0;
}

/* Opens component comp below w->fd and moves there (or follows a link). */
static int walk_step(struct walk *w, const char *comp, struct rp_err *err)
{
	char next[PATH_MAX];
	struct stat st;
	int fd;

	if (strcmp(comp, "..") == 0)
		return rp_seterr(err, "E_FS_PATH",
		                 "refusing a path with '..' below %s; nothing "
		                 "was changed; configure the real path",
		                 w->shown);
	fd = openat(w->fd, comp, SAFEFS_DIR_FLAGS);
	if (fd == -1 && (errno == ELOOP || errno == ENOTDIR || errno == EMLINK) &&
	    fstatat(w->fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return walk_link(w, comp, err);
	walk_join(next, sizeof(next), w->shown, comp);
	if (fd == -1)
		return rp_seterr(err, "E_FS_OPEN",
		                 "cannot open the directory %s: %s; nothing "
		                 "was changed",
		                 next, strerror(errno));
	close(w->fd);
	w->fd = fd;
	rp_strlcpy(w->shown, next, sizeof(w->shown));
	if (w->t->flags & SAFEFS_CHECK_TRUST)
		return safefs_check_dir(w->fd, w->shown, walk_last(w), w->t, err);
	return 0;
}

int safefs_open_dir(const char *path, const struct safefs_trust *t, struct rp_err *err)
{
	struct walk w = {.fd = -1, .t = t};
	char comp[NAME_MAX + 1];
	int r;

	if (path == NULL || path[0] != '/')
		return rp_seterr(err, "E_FS_PATH",
		                 "the path '%s' is not absolute; nothing was "
		                 "changed",
		                 path != NULL ? path : "");
	if (rp_strlcpy(w.rest, path, sizeof(w.rest)) >= sizeof(w.rest))
		return rp_seterr(err, "E_FS_PATH", "the path is too long; nothing was changed");
	if (walk_root(&w, err) == -1)
		goto fail;
	while ((r = walk_next(&w, comp, sizeof(comp))) != 0) {
		if (r == -1) {
			rp_seterr(err, "E_FS_PATH",
			          "a component below %s is too long; nothing "
			          "was changed",
			          w.shown);
			goto fail;
		}
		if (strcmp(comp, ".") != 0 && walk_step(&w, comp, err) == -1)
			goto fail;
	}
	if (safefs_test_hook != NULL)
		safefs_test_hook(path, w.fd);
	return w.fd;
fail:
	if (w.fd >= 0)
		close(w.fd);
	return -1;
}

int safefs_open_parent(const char *path, const struct safefs_trust *t, char *base, size_t baselen,
                       struct rp_err *err)
{
	char dir[PATH_MAX];
	const char *slash;
	size_t n;

	if (path == NULL || path[0] != '/')
		return rp_seterr(err, "E_FS_PATH",
		                 "the path '%s' is not absolute; nothing was "
		                 "changed",
		                 path != NULL ? path : "");
	slash = strrchr(path, '/');
	if (!safefs_name_ok(slash + 1) || rp_strlcpy(base, slash + 1, baselen) >= baselen)
		return rp_seterr(err, "E_FS_PATH",
		                 "the path '%s' does not end in a plain file "
		                 "name; nothing was changed",
		                 path);
	n = (size_t)(slash - path);
	if (n >= sizeof(dir))
		return rp_seterr(err, "E_FS_PATH", "the path is too long; nothing was changed");
	memcpy(dir, path, n);
	dir[n] = '\0';
	return safefs_open_dir(n == 0 ? "/" : dir, t, err);
}

int safefs_readlink(int dirfd, const char *name, char *buf, size_t len)
{
	ssize_t n = readlinkat(dirfd, name, buf, len);

	if (n < 0)
		return -1;
	if ((size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[n] = '\0';
	return (int)n;
}

int safefs_fsync_dir(int dirfd, const char *shown, struct rp_err *err)
{
	if (fsync(dirfd) == -1 && errno != EINVAL && errno != EROFS)
		return rp_seterr(err, "E_FS_WRITE",
		                 "could not flush the directory of %s to disk: "
		                 "%s; the change is made but may not survive a crash",
		                 shown, strerror(errno));
	return 0;
}

int safefs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Gives the open temp file fd its final owner and mode (chown first: it clears set-id bits). */
static int safefs_set_owner(int fd, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat st;

	if (fstat(fd, &st) == -1)
		return -1;
	if (uid == st.st_uid)
		uid = (uid_t)-1;
	if (gid == st.st_gid)
		gid = (gid_t)-1;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) == -1)
		return -1;
	return fchmod(fd, mode & 07777);
}

int safefs_write_atomic(int dirfd, const char *name, const void *buf, size_t len, uid_t uid,
                        gid_t gid, mode_t mode, struct rp_err *err)
{
	char tmp[32];
	int fd = -1, created = 0, rc = -1;

	for (int i = 0; i < 8 && fd == -1; i++) {
		if (safefs_tmpname(tmp, sizeof(tmp)) == -1)
			break;
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST)
			break;
	}
	if (fd == -1) {
		rp_seterr(err, "E_FS_WRITE",
		          "could not create a temp file next to %s: %s; "
		          "nothing was changed",
		          name, strerror(errno));
		goto out;
	}
	created = 1;
	if (safefs_write_all(fd, buf, len) == -1 || safefs_set_owner(fd, uid, gid, mode) == -1 ||
	    fsync(fd) == -1) {
		rp_seterr(err, "E_FS_WRITE",
		          "could not write the new %s: %s; nothing was "
		          "changed",
		          name, strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		rp_seterr(err, "E_FS_WRITE",
		          "could not write the new %s: %s; nothing was "
		          "changed",
		          name, strerror(errno));
		goto out;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		rp_seterr(err, "E_FS_RENAME",
		          "could not put the new %s in place: %s; nothing "
		          "was changed",
		          name, strerror(errno));
		goto out;
	}
	created = 0;
	rc = safefs_fsync_dir(dirfd, name, err);
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

int safefs_symlink_atomic(int dirfd, const char *name, const char *target, struct rp_err *err)
{
	char tmp[32];
	int made = -1;

	for (int i = 0; i < 8 && made == -1; i++) {
		if (safefs_tmpname(tmp, sizeof(tmp)) == -1)
			break;
		made = symlinkat(target, dirfd, tmp);
		if (made == -1 && errno != EEXIST)
			break;
	}
	if (made == -1)
		return rp_seterr(err, "E_FS_WRITE",
		                 "could not create a link next to %s: %s; "
		                 "nothing was changed",
		                 name, strerror(errno));
	if (renameat(dirfd, tmp, dirfd, name) == -1) {
		int e = errno;
		unlinkat(dirfd, tmp, 0);
		return rp_seterr(err, "E_FS_RENAME",
		                 "could not put the link %s in place: %s; "
		                 "nothing was changed",
		                 name, strerror(e));
	}
	return safefs_fsync_dir(dirfd, name, err);
}
