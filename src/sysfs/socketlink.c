/* SPDX-License-Identifier: ISC */
/*
 * The system engine socket as a link to the owner's engine socket, made and
 * removed as root.  Trusts only the configuration: the target is home +
 * relative pattern (checked: inside home, no links below home, a socket of
 * the owner's when it exists), the link's directory is reached through
 * safefs, and nothing that is not our link is replaced without root's force.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefs.h"
#include "socketlink.h"

struct sctx {
	const struct socketlink_cfg *cfg;
	int dfd;        /* the link's directory */
	char base[256]; /* the link's name in it */
};

/* rel is a relative path of plain names: no '..', '.', empty components. */
static int socketlink_rel_ok(const char *rel)
{
	char comp[256];

	if (rel == NULL || rel[0] == '\0' || rel[0] == '/' || strlen(rel) >= PATH_MAX)
		return 0;
	for (const char *p = rel, *e; *p != '\0'; p = *e != '\0' ? e + 1 : e) {
		size_t n;
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		if (n == 0 || n >= sizeof(comp) || (*e == '/' && e[1] == '\0'))
			return 0;
		memcpy(comp, p, n);
		comp[n] = '\0';
		if (!safefs_name_ok(comp))
			return 0;
	}
	return 1;
}

static int socketlink_has_dotdot(const char *p)
{
	for (const char *s = p; (s = strstr(s, "..")) != NULL; s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return 1;
	return 0;
}

/* Validates the configuration and derives rep->target = home + "/" + rel. */
static int socketlink_config(const struct socketlink_cfg *cfg, struct socketlink_report *rep,
                             struct rp_err *err)
{
	size_t n;

	if (cfg == NULL || cfg->link_path == NULL || cfg->home == NULL)
		return rp_seterr(err, "E_SOCKLINK_CONFIG",
		                 "socket link: the link path and the "
		                 "owner's home must be configured; nothing was changed");
	if (!socketlink_rel_ok(cfg->target_rel))
		return rp_seterr(err, "E_SOCKLINK_CONFIG",
		                 "socket link: the target '%.200s' "
		                 "must be a path relative to the owner's home without '..', '.', "
		                 "empty parts or control characters; nothing was changed",
		                 cfg->target_rel != NULL ? cfg->target_rel : "");
	n = strlen(cfg->home);
	while (n > 1 && cfg->home[n - 1] == '/')
		n--;
	if (cfg->home[0] != '/' || socketlink_has_dotdot(cfg->home) || n <= 1)
		return rp_seterr(err, "E_SOCKLINK_CONFIG",
		                 "socket link: the owner's home '%.200s' "
		                 "must be an absolute path other than / without '..'; nothing was "
		                 "changed",
		                 cfg->home);
	if (cfg->n_previous > SOCKETLINK_MAX_PREVIOUS ||
	    (cfg->n_previous > 0 && cfg->previous == NULL))
		return rp_seterr(err, "E_SOCKLINK_CONFIG",
		                 "socket link: too many previous "
		                 "targets; nothing was changed");
	for (size_t i = 0; i < cfg->n_previous; i++)
		if (cfg->previous[i] == NULL || cfg->previous[i][0] != '/')
			return rp_seterr(err, "E_SOCKLINK_CONFIG",
			                 "socket link: previous targets "
			                 "must be absolute paths; nothing was changed");
	if ((size_t)snprintf(rep->target, sizeof(rep->target), "%.*s/%s", (int)n, cfg->home,
	                     cfg->target_rel) >= sizeof(rep->target))
		return rp_seterr(err, "E_SOCKLINK_CONFIG",
		                 "socket link: the target path is too "
		                 "long; nothing was changed");
	return 0;
}

/* Opens dir component comp below fd without following a link; -2 if it does not exist. */
static int socketlink_open_below(int fd, const char *comp, const char *target, struct rp_err *err)
{
	struct stat st;
	int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (nfd >= 0)
		return nfd;
	if (errno == ENOENT)
		return -2;
	if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return rp_seterr(err, "E_SOCKLINK_TARGET",
		                 "the path to %s goes through the "
		                 "symbolic link '%s'; the target must be a real path inside the "
		                 "owner's home; nothing was changed",
		                 target, comp);
	return rp_seterr(err, "E_SOCKLINK_TARGET",
	                 "cannot reach %s ('%s': %s); nothing was "
	                 "changed",
	                 target, comp, strerror(errno));
}

static void socketlink_note_missing(struct socketlink_report *rep)
{
	snprintf(rep->note, sizeof(rep->note), "%.400s does not exist yet (is the engine running?)",
	         rep->target);
}

/* The last component of the target in dir fd: missing, or a socket of the owner's. */
static int socketlink_check_last(int fd, const char *name, const struct socketlink_cfg *cfg,
                                 struct socketlink_report *rep, struct rp_err *err)
{
	struct stat st;

	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			return rp_seterr(err, "E_SOCKLINK_TARGET",
			                 "cannot inspect %s: %s; "
			                 "nothing was changed",
			                 rep->target, strerror(errno));
		socketlink_note_missing(rep);
		return 0;
	}
	if (!S_ISSOCK(st.st_mode))
		return rp_seterr(err, "E_SOCKLINK_TARGET",
		                 "%s is not a socket%s; nothing was "
		                 "changed",
		                 rep->target, S_ISLNK(st.st_mode) ? " but a symbolic link" : "");
	if (st.st_uid != cfg->owner_uid)
		return rp_seterr(err, "E_SOCKLINK_TARGET",
		                 "%s is owned by uid %u, not by the "
		                 "owner (uid %u); nothing was changed",
		                 rep->target, (unsigned)st.st_uid, (unsigned)cfg->owner_uid);
	rep->target_ready = 1;
	return 0;
}

/* Checks the target below home, walking with O_NOFOLLOW. */
static int socketlink_check_target(const struct socketlink_cfg *cfg, struct socketlink_report *rep,
                                   struct rp_err *err)
{
	const struct safefs_trust t = {SAFEFS_FOLLOW_ROOT_LINKS, (uid_t)-1, (gid_t)-1};
	char rel[PATH_MAX], *p, *slash;
	int fd, nfd, rc = -1;

	rep->target_ready = 0;
	rep->note[0] = '\0';
	if ((fd = safefs_open_dir(cfg->home, &t, err)) == -1)
		return -1;
	rp_strlcpy(rel, cfg->target_rel, sizeof(rel));
	for (p = rel; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		*slash = '\0';
		if ((nfd = socketlink_open_below(fd, p, rep->target, err)) == -2)
			goto missing;
		if (nfd < 0)
			goto out;
		close(fd);
		fd = nfd;
	}
	rc = socketlink_check_last(fd, p, cfg, rep, err);
	goto out;
missing:
	socketlink_note_missing(rep);
	rc = 0;
out:
	close(fd);
	return rc;
}

static int socketlink_open_dir(struct sctx *c, const struct socketlink_cfg *cfg, struct rp_err *err)
{
	const struct safefs_trust t = {SAFEFS_CHECK_TRUST | SAFEFS_FOLLOW_ROOT_LINKS,
	                               cfg->owner_uid, (gid_t)-1};

	c->cfg = cfg;
	c->dfd = safefs_open_parent(cfg->link_path, &t, c->base, sizeof(c->base), err);
	return c->dfd < 0 ? -1 : 0;
}

static int socketlink_is_previous(const struct socketlink_cfg *cfg, const char *s)
{
	for (size_t i = 0; i < cfg->n_previous; i++)
		if (strcmp(cfg->previous[i], s) == 0)
			return 1;
	return 0;
}

/* What is at the link path now. */
static int socketlink_inspect(struct sctx *c, struct socketlink_report *rep, struct rp_err *err)
{
	struct stat st;

	rep->was[0] = '\0';
	if (fstatat(c->dfd, c->base, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT)
			return rp_seterr(err, "E_FS_OPEN",
			                 "cannot inspect %s: %s; nothing was "
			                 "changed",
			                 c->cfg->link_path, strerror(errno));
		rep->found = SOCKETLINK_FOUND_NOTHING;
		return 0;
	}
	if (!S_ISLNK(st.st_mode)) {
		rep->found = S_ISSOCK(st.st_mode)  ? SOCKETLINK_FOUND_SOCKET
		             : S_ISREG(st.st_mode) ? SOCKETLINK_FOUND_FILE
		             : S_ISDIR(st.st_mode) ? SOCKETLINK_FOUND_DIR
		                                   : SOCKETLINK_FOUND_OTHER;
		return 0;
	}
	if (safefs_readlink(c->dfd, c->base, rep->was, sizeof(rep->was)) < 0)
		return rp_seterr(err, "E_FS_OPEN",
		                 "cannot read the link %s: %s; nothing was "
		                 "changed",
		                 c->cfg->link_path, strerror(errno));
	rep->found = strcmp(rep->was, rep->target) == 0         ? SOCKETLINK_FOUND_OURS
	             : socketlink_is_previous(c->cfg, rep->was) ? SOCKETLINK_FOUND_PREVIOUS
	                                                        : SOCKETLINK_FOUND_LINK;
	return 0;
}

static const char *socketlink_found_name(const struct socketlink_report *rep)
{
	switch (rep->found) {
	case SOCKETLINK_FOUND_LINK:
		return "a link to somewhere else";
	case SOCKETLINK_FOUND_SOCKET:
		return "a socket (not a link)";
	case SOCKETLINK_FOUND_FILE:
		return "a regular file";
	case SOCKETLINK_FOUND_DIR:
		return "a directory";
	default:
		return "something else";
	}
}

static int socketlink_kept(const struct socketlink_cfg *cfg, int force,
                           struct socketlink_report *rep, struct rp_err *err)
{
	rep->state = SOCKETLINK_KEPT;
	return rp_seterr(err, "E_SOCKLINK_OCCUPIED", "%s is %s%s%s%s; it was left alone%s",
	                 cfg->link_path, socketlink_found_name(rep), rep->was[0] ? " (" : "",
	                 rep->was, rep->was[0] ? ")" : "",
	                 rep->found == SOCKETLINK_FOUND_DIR ? " (a directory is never replaced)"
	                 : force                            ? " (--force is honoured only for root)"
	                                                    : "; root may replace it with --force");
}

int socketlink_ensure(const struct socketlink_cfg *cfg, int force, int caller_is_root,
                      struct socketlink_report *rep, struct rp_err *err)
{
	struct sctx c = {.dfd = -1};
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (socketlink_config(cfg, rep, err) == -1 ||
	    socketlink_check_target(cfg, rep, err) == -1 ||
	    socketlink_open_dir(&c, cfg, err) == -1 || socketlink_inspect(&c, rep, err) == -1)
		goto out;
	switch (rep->found) {
	case SOCKETLINK_FOUND_OURS:
		rep->state = SOCKETLINK_UNCHANGED;
		rc = 0;
		goto out;
	case SOCKETLINK_FOUND_NOTHING:
		rep->state = SOCKETLINK_CREATED;
		break;
	case SOCKETLINK_FOUND_PREVIOUS:
		rep->state = SOCKETLINK_REPLACED;
		break;
	default:
		if (!(force && caller_is_root) || rep->found == SOCKETLINK_FOUND_DIR) {
			socketlink_kept(cfg, force, rep, err);
			goto out;
		}
		rep->state = SOCKETLINK_REPLACED;
	}
	rc = safefs_symlink_atomic(c.dfd, c.base, rep->target, err);
out:
	if (c.dfd >= 0)
		close(c.dfd);
	return rc;
}

int socketlink_remove(const struct socketlink_cfg *cfg, struct socketlink_report *rep,
                      struct rp_err *err)
{
	struct sctx c = {.dfd = -1};
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (socketlink_config(cfg, rep, err) == -1 || socketlink_open_dir(&c, cfg, err) == -1 ||
	    socketlink_inspect(&c, rep, err) == -1)
		goto out;
	if (rep->found == SOCKETLINK_FOUND_NOTHING) {
		rep->state = SOCKETLINK_ABSENT;
	} else if (rep->found != SOCKETLINK_FOUND_OURS && rep->found != SOCKETLINK_FOUND_PREVIOUS) {
		rep->state = SOCKETLINK_KEPT;
	} else if (unlinkat(c.dfd, c.base, 0) == -1) {
		rp_seterr(err, "E_FS_WRITE", "cannot remove %s: %s", cfg->link_path,
		          strerror(errno));
		goto out;
	} else {
		rep->state = SOCKETLINK_REMOVED;
		if (safefs_fsync_dir(c.dfd, cfg->link_path, err) == -1)
			goto out;
	}
	rc = 0;
out:
	if (c.dfd >= 0)
		close(c.dfd);
	return rc;
}

int socketlink_status(const struct socketlink_cfg *cfg, struct socketlink_report *rep,
                      struct rp_err *err)
{
	struct sctx c = {.dfd = -1};
	struct rp_err terr = {"", ""};
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	if (socketlink_config(cfg, rep, err) == -1)
		goto out;
	if (socketlink_check_target(cfg, rep, &terr) == -1)
		rp_strlcpy(rep->note, terr.msg, sizeof(rep->note));
	if (socketlink_open_dir(&c, cfg, err) == -1 || socketlink_inspect(&c, rep, err) == -1)
		goto out;
	rep->state = SOCKETLINK_STATUS;
	rc = 0;
out:
	if (c.dfd >= 0)
		close(c.dfd);
	return rc;
}

int socketlink_owner_home(uid_t uid, char *home, size_t len, struct rp_err *err)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int e = getpwuid_r(uid, &pw, buf, sizeof(buf), &res);

	if (e != 0 || res == NULL)
		return rp_seterr(err, "E_SOCKLINK_CONFIG",
		                 "socket link: no home directory for "
		                 "uid %u in the password database%s%s",
		                 (unsigned)uid, e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
	if (rp_strlcpy(home, pw.pw_dir, len) >= len)
		return rp_seterr(err, "E_SOCKLINK_CONFIG",
		                 "socket link: the home of uid %u is "
		                 "too long",
		                 (unsigned)uid);
	return 0;
}
