/* SPDX-License-Identifier: ISC */
/*
 * Puts a compiled engine policy in place and takes it out again.  Trusts
 * only directories root controls (walked with safefs, no link an
 * unprivileged user placed is followed); the file found at the path and the
 * state file are data: a file is rampart's only if its SHA-256 is the one
 * the state file recorded when rampart wrote it.  Every write is temp +
 * fsync + rename + fsync of the directory, so a crash leaves the old or the
 * new file, never a mix.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "enforce_file.h"
#include "safefs.h"

#define EF_TRUST                                                                                   \
	{                                                                                          \
		SAFEFS_CHECK_TRUST | SAFEFS_FOLLOW_ROOT_LINKS, (uid_t)-1, (gid_t)-1                \
	}

/* What the state file says rampart did (see ef_state_*). */
struct ef_state {
	bool valid;        /* a state file for this path exists */
	char sha256[65];   /* of the file rampart last wrote at path */
	char original[16]; /* "saved" (in .rampart-orig), "none" (no file was there), "unknown" */
};

struct ef_file {
	bool exists;
	char *buf;
	size_t len;
	mode_t mode;
};

const char *efile_result_name(enum efile_result r)
{
	static const char *const names[] = {"nothing",  "unchanged", "created",     "replaced",
	                                    "restored", "removed",   "kept-foreign"};
	return (size_t)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

void efile_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	static const char hex[] = "0123456789abcdef";

	SHA256(buf, len, md);
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

/* ---- small file helpers --------------------------------------------------- */

/* Reads dfd/name (a regular file, not a link) whole; exists=false if absent. */
static int ef_read(int dfd, const char *name, const char *shown, struct ef_file *f,
                   struct rp_err *err)
{
	struct stat st;
	size_t off = 0;
	int fd, rc = -1;

	memset(f, 0, sizeof(*f));
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return rp_seterr(err, "E_ENFORCE_FILE",
		                 "cannot open %s: %s; rampart replaces only a regular file (not a "
		                 "link); nothing was changed",
		                 shown, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > EFILE_MAX_BYTES) {
		rp_seterr(err, "E_ENFORCE_FILE",
		          "%s is not a regular file of at most %u bytes; nothing was changed",
		          shown, EFILE_MAX_BYTES);
		goto out;
	}
	f->buf = malloc((size_t)st.st_size + 1);
	if (f->buf == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory reading %s", shown);
		goto out;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, f->buf + off, (size_t)st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off != (size_t)st.st_size) {
		rp_seterr(err, "E_ENFORCE_IO", "short read of %s; nothing was changed", shown);
		goto out;
	}
	f->buf[off] = '\0';
	f->len = off;
	f->mode = st.st_mode & 07777;
	f->exists = true;
	rc = 0;
out:
	if (rc != 0) {
		free(f->buf);
		f->buf = NULL;
	}
	close(fd);
	return rc;
}

static bool ef_same(const struct ef_file *f, const char *text, size_t len)
{
	return f->exists && f->len == len && memcmp(f->buf, text, len) == 0;
}

static ino_t ef_ino(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? st.st_ino : 0;
}

/* "<base><suffix>" into out; -1 if it does not fit a file name. */
static int ef_name(char *out, size_t size, const char *base, const char *suffix)
{
	int n = snprintf(out, size, "%s%s", base, suffix);
	return n > 0 && (size_t)n < size && (size_t)n <= 255 ? 0 : -1;
}

static int ef_write(int dfd, const char *name, const char *text, size_t len,
                    const struct efile_target *t, mode_t mode, struct rp_err *err)
{
	struct rp_err e;

	if (safefs_write_atomic(dfd, name, text, len, t->uid, t->gid, mode, &e) < 0)
		return rp_seterr(err, "E_ENFORCE_IO", "%s", e.msg);
	return 0;
}

/* ---- the state file --------------------------------------------------------- */

static void ef_state_load(const struct efile_target *t, struct ef_state *s)
{
	json_t *j = json_load_file(t->state_path, JSON_REJECT_DUPLICATES, NULL);
	const char *path = json_string_value(json_object_get(j, "path"));
	const char *sha = json_string_value(json_object_get(j, "sha256"));
	const char *orig = json_string_value(json_object_get(j, "original"));

	memset(s, 0, sizeof(*s));
	if (path != NULL && strcmp(path, t->path) == 0 && sha != NULL && strlen(sha) == 64 &&
	    orig != NULL && strlen(orig) < sizeof(s->original)) {
		s->valid = true;
		rp_strlcpy(s->sha256, sha, sizeof(s->sha256));
		rp_strlcpy(s->original, orig, sizeof(s->original));
	}
	json_decref(j);
}

/* Opens the state file's directory and splits off its name. */
static int ef_state_dir(const struct efile_target *t, char *base, size_t size, struct rp_err *err)
{
	const struct safefs_trust tr = EF_TRUST;
	struct rp_err e;
	int dfd = safefs_open_parent(t->state_path, &tr, base, size, &e);

	if (dfd < 0)
		rp_seterr(err, "E_ENFORCE_IO", "state file: %s", e.msg);
	return dfd;
}

static int ef_state_save(const struct efile_target *t, const char *sha, const char *original,
                         struct rp_err *err)
{
	char base[256], *text = NULL;
	json_t *j =
	    json_pack("{s:s, s:s, s:s}", "path", t->path, "sha256", sha, "original", original);
	int dfd = -1, rc = -1;

	if (j == NULL || (text = json_dumps(j, JSON_SORT_KEYS)) == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory writing the enforcement state");
		goto out;
	}
	if ((dfd = ef_state_dir(t, base, sizeof(base), err)) < 0)
		goto out;
	rc = ef_write(dfd, base, text, strlen(text), t, 0644, err);
out:
	if (dfd >= 0)
		close(dfd);
	free(text);
	json_decref(j);
	return rc;
}

static void ef_state_remove(const struct efile_target *t)
{
	char base[256];
	struct rp_err e;
	int dfd = ef_state_dir(t, base, sizeof(base), &e);

	if (dfd >= 0) {
		if (unlinkat(dfd, base, 0) == 0)
			safefs_fsync_dir(dfd, base, &e);
		close(dfd);
	}
}

/* ---- install / stage / restore ---------------------------------------------- */

static int ef_open_target(const struct efile_target *t, char *base, size_t size, struct rp_err *err)
{
	const struct safefs_trust tr = EF_TRUST;
	struct rp_err e;
	int dfd;

	if (t->path == NULL || t->path[0] != '/')
		return rp_seterr(err, "E_ENFORCE_FILE", "the policy file path must be absolute");
	if ((dfd = safefs_open_parent(t->path, &tr, base, size, &e)) < 0)
		rp_seterr(err, "E_ENFORCE_FILE", "%s; nothing was changed", e.msg);
	return dfd;
}

/* "<state_path>.next": the SHA-256 of the .rampart-next rampart wrote. */
static void ef_next_marker(const struct efile_target *t, char *out, size_t size)
{
	snprintf(out, size, "%s.next", t->state_path);
}

/* Removes <base>.rampart-next if it holds exactly what rampart wrote there. */
static void ef_remove_next(int dfd, const char *base, const struct efile_target *t,
                           struct efile_report *rep)
{
	char next[256], marker[4200], sha[65], want[80] = "";
	struct ef_file f;
	struct rp_err e;
	FILE *m;

	ef_next_marker(t, marker, sizeof(marker));
	if ((m = fopen(marker, "re")) == NULL)
		return;
	if (fgets(want, sizeof(want), m) == NULL)
		want[0] = '\0';
	fclose(m);
	want[strcspn(want, "\n")] = '\0';
	if (ef_name(next, sizeof(next), base, EFILE_NEXT_SUFFIX) == 0 &&
	    ef_read(dfd, next, next, &f, &e) == 0 && f.exists) {
		efile_sha256_hex(f.buf, f.len, sha);
		if (strcmp(sha, want) == 0 && unlinkat(dfd, next, 0) == 0) {
			rep->removed_next = true;
			safefs_fsync_dir(dfd, next, &e);
		}
		free(f.buf);
	}
	unlink(marker);
}

/* The previous file is not rampart's: keep it as .rampart-orig; says what original is. */
static int ef_save_original(int dfd, const char *base, const struct efile_target *t,
                            const struct ef_file *cur, const struct ef_state *st,
                            const char **original, struct efile_report *rep, struct rp_err *err)
{
	char orig[256];
	struct stat sb;

	if (ef_name(orig, sizeof(orig), base, EFILE_ORIG_SUFFIX) < 0)
		return rp_seterr(err, "E_ENFORCE_FILE", "%s: name too long", t->path);
	(void)st;
	if (!cur->exists) {
		/* nothing there now: an original saved earlier (the file was deleted
		 * since) stays the original */
		*original = fstatat(dfd, orig, &sb, AT_SYMLINK_NOFOLLOW) == 0 ? "saved" : "none";
		return 0;
	}
	if (ef_write(dfd, orig, cur->buf, cur->len, t, cur->mode & 0644, err) < 0)
		return -1;
	rep->saved_original = true;
	*original = "saved";
	return 0;
}

int efile_install(const struct efile_target *t, const char *text, size_t len,
                  struct efile_report *rep, struct rp_err *err)
{
	char base[256], sha[65];
	const char *original = "unknown";
	struct ef_file cur;
	struct ef_state st;
	int dfd, rc = -1;

	memset(rep, 0, sizeof(*rep));
	memset(&cur, 0, sizeof(cur));
	if ((dfd = ef_open_target(t, base, sizeof(base), err)) < 0)
		return -1;
	if (ef_read(dfd, base, t->path, &cur, err) < 0)
		goto out;
	ef_state_load(t, &st);
	efile_sha256_hex(text, len, sha);
	if (ef_same(&cur, text, len)) {
		rep->result = EFILE_UNCHANGED;
		/* ours, but the record is gone (state dir wiped): restore cannot know what
		 * was there, so it will keep the file */
		if (!st.valid && ef_state_save(t, sha, "unknown", err) < 0)
			goto out;
		rc = 0;
		goto out;
	}
	if (st.valid && cur.exists) {
		char cursha[65];
		efile_sha256_hex(cur.buf, cur.len, cursha);
		if (strcmp(cursha, st.sha256) == 0)
			original = st.original; /* ours: the saved original stays as it is */
		else if (ef_save_original(dfd, base, t, &cur, &st, &original, rep, err) < 0)
			goto out;
	} else if (ef_save_original(dfd, base, t, &cur, &st, &original, rep, err) < 0) {
		goto out;
	}
	/* record first: a crash before the rename leaves a file whose hash is not the
	 * recorded one, which the next run treats as someone else's and saves again */
	if (ef_state_save(t, sha, original, err) < 0 ||
	    ef_write(dfd, base, text, len, t, 0644, err) < 0)
		goto out;
	rep->result = cur.exists ? EFILE_REPLACED : EFILE_CREATED;
	rc = 0;
out:
	if (rc == 0) {
		ef_remove_next(dfd, base, t, rep); /* leaving warn mode */
		rep->ino = ef_ino(dfd, base);
		rp_strlcpy(rep->sha256, sha, sizeof(rep->sha256));
	}
	free(cur.buf);
	close(dfd);
	return rc;
}

/* Puts back what was there before rampart's file (which is at base now). */
static int ef_put_back(int dfd, const char *base, const struct efile_target *t,
                       const struct ef_state *st, struct efile_report *rep, struct rp_err *err)
{
	char orig[256];
	struct rp_err e;

	if (ef_name(orig, sizeof(orig), base, EFILE_ORIG_SUFFIX) < 0)
		return rp_seterr(err, "E_ENFORCE_FILE", "%s: name too long", t->path);
	if (strcmp(st->original, "saved") == 0) {
		if (renameat(dfd, orig, dfd, base) < 0)
			return rp_seterr(err, "E_ENFORCE_RESTORE",
			                 "cannot put %s%s back: %s; rampart's policy is still in "
			                 "place",
			                 t->path, EFILE_ORIG_SUFFIX, strerror(errno));
		rep->result = EFILE_RESTORED;
	} else if (strcmp(st->original, "none") == 0) {
		if (unlinkat(dfd, base, 0) < 0 && errno != ENOENT)
			return rp_seterr(err, "E_ENFORCE_RESTORE", "cannot remove %s: %s", t->path,
			                 strerror(errno));
		rep->result = EFILE_REMOVED;
	} else {
		rep->result = EFILE_KEPT_FOREIGN; /* we cannot know what was there */
		return 0;
	}
	return safefs_fsync_dir(dfd, base, &e) < 0 ? rp_seterr(err, "E_ENFORCE_IO", "%s", e.msg)
	                                           : 0;
}

/* Restore without touching .rampart-next (shared by restore and stage). */
static int ef_restore_main(int dfd, const char *base, const struct efile_target *t,
                           struct efile_report *rep, struct rp_err *err)
{
	struct ef_file cur;
	struct ef_state st;
	char cursha[65];
	int rc = -1;

	ef_state_load(t, &st);
	if (!st.valid) {
		rep->result = EFILE_NOTHING;
		return 0;
	}
	if (ef_read(dfd, base, t->path, &cur, err) < 0)
		return -1;
	if (cur.exists) {
		efile_sha256_hex(cur.buf, cur.len, cursha);
		if (strcmp(cursha, st.sha256) != 0) {
			rep->result = EFILE_KEPT_FOREIGN; /* someone changed it since */
			ef_state_remove(t);
			rc = 0;
			goto out;
		}
	}
	if (ef_put_back(dfd, base, t, &st, rep, err) < 0)
		goto out;
	ef_state_remove(t);
	rc = 0;
out:
	free(cur.buf);
	return rc;
}

int efile_restore(const struct efile_target *t, struct efile_report *rep, struct rp_err *err)
{
	char base[256], marker[4200];
	struct ef_state st;
	int dfd, rc;

	memset(rep, 0, sizeof(*rep));
	ef_state_load(t, &st);
	ef_next_marker(t, marker, sizeof(marker));
	if (!st.valid && access(marker, F_OK) < 0)
		return 0; /* rampart never wrote here: the target is not even opened */
	if ((dfd = ef_open_target(t, base, sizeof(base), err)) < 0)
		return -1;
	rc = ef_restore_main(dfd, base, t, rep, err);
	ef_remove_next(dfd, base, t, rep);
	rep->ino = ef_ino(dfd, base);
	close(dfd);
	return rc;
}

static int ef_next_save(const struct efile_target *t, const char *sha, struct rp_err *err)
{
	char marker[4200], base[256], line[80];
	struct efile_target mt = *t;
	int dfd, rc;

	ef_next_marker(t, marker, sizeof(marker));
	mt.state_path = marker;
	if ((dfd = ef_state_dir(&mt, base, sizeof(base), err)) < 0)
		return -1;
	snprintf(line, sizeof(line), "%s\n", sha);
	rc = ef_write(dfd, base, line, strlen(line), t, 0644, err);
	close(dfd);
	return rc;
}

int efile_stage(const struct efile_target *t, const char *text, size_t len,
                struct efile_report *rep, struct rp_err *err)
{
	char base[256], next[256];
	struct ef_file cur;
	int dfd, rc = -1;

	memset(rep, 0, sizeof(*rep));
	memset(&cur, 0, sizeof(cur));
	if ((dfd = ef_open_target(t, base, sizeof(base), err)) < 0)
		return -1;
	if (ef_name(next, sizeof(next), base, EFILE_NEXT_SUFFIX) < 0) {
		rp_seterr(err, "E_ENFORCE_FILE", "%s: name too long", t->path);
		goto out;
	}
	if (ef_restore_main(dfd, base, t, rep, err) < 0 ||
	    ef_read(dfd, next, t->path, &cur, err) < 0)
		goto out;
	efile_sha256_hex(text, len, rep->sha256);
	if (ef_same(&cur, text, len))
		rep->result = rep->result == EFILE_NOTHING ? EFILE_UNCHANGED : rep->result;
	else if (ef_next_save(t, rep->sha256, err) < 0 ||
	         ef_write(dfd, next, text, len, t, 0644, err) < 0)
		goto out;
	else if (rep->result == EFILE_NOTHING)
		rep->result = cur.exists ? EFILE_REPLACED : EFILE_CREATED;
	rep->ino = ef_ino(dfd, next);
	rc = 0;
out:
	free(cur.buf);
	close(dfd);
	return rc;
}
