/* SPDX-License-Identifier: ISC */
/*
 * Helpers shared by the hosts, links and socketlink unit tests: temp trees
 * made with mkdtemp (never a real system path), small file helpers, and a
 * way to plant a link the way an unprivileged user would.
 */
#ifndef SYSOPS_TESTUTIL_H
#define SYSOPS_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TU_UNUSED __attribute__((unused))
#define TU_NOBODY 65534 /* stands in for an unprivileged user when the test runs as root */

static TU_UNUSED int tu_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

/* Removes a temp tree (never follows links). */
static TU_UNUSED void tu_rmtree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdtemp under /tmp, chmod 0755 so a child running as nobody could reach it. */
static TU_UNUSED void tu_mktree(char *dir, size_t len, const char *tag)
{
	snprintf(dir, len, "/tmp/rampart-%s-XXXXXX", tag);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	chmod(dir, 0755);
}

static TU_UNUSED void tu_path(char *dst, size_t len, const char *dir, const char *rel)
{
	if ((size_t)snprintf(dst, len, "%s/%s", dir, rel) >= len)
		abort();
}

static TU_UNUSED int tu_write(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, mode);
	int ok;

	if (fd == -1)
		return -1;
	ok = write(fd, buf, len) == (ssize_t)len;
	fchmod(fd, mode);
	close(fd);
	return ok ? 0 : -1;
}

/* Reads a whole file into a malloc'd buffer (NUL-terminated); NULL if missing. */
static TU_UNUSED char *tu_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			p = realloc(p, cap);
			if (p == NULL)
				abort();
		}
		r = fread(p + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	p[n] = '\0';
	*len = n;
	return p;
}

/*
 * Makes path a symbolic link to target owned by an unprivileged user, as an
 * attacker would: when running as root the link is handed to nobody.
 */
static TU_UNUSED void tu_foreign_symlink(const char *target, const char *path)
{
	if (symlink(target, path) == -1) {
		perror("symlink");
		abort();
	}
	if (geteuid() == 0 && lchown(path, TU_NOBODY, TU_NOBODY) == -1) {
		perror("lchown");
		abort();
	}
}

/* Number of entries in dir other than "." and ".."; -1 if it cannot be read. */
static TU_UNUSED int tu_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

#endif
