/* SPDX-License-Identifier: ISC */
/*
 * Writer and reader of rampart-authz's counters record (authz_wire.h).  The
 * reader runs as root on a file an unprivileged process wrote: it opens with
 * O_NOFOLLOW|O_NONBLOCK, takes exactly one record of the exact size, and
 * checks every field before anyone looks at it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz_wire.h"

int authz_wire_write(const char *path, const struct authz_wire *w)
{
	char tmp[4200];
	int fd, rc = -1;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, w, sizeof(*w)) == (ssize_t)sizeof(*w) && close(fd) == 0) {
		fd = -1;
		rc = rename(tmp, path);
	}
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int authz_wire_read(const char *path, struct authz_wire *w, struct rp_err *err)
{
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return rp_seterr(err, "E_AUTHZ_STATS", "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != (off_t)sizeof(*w)) {
		rp_seterr(err, "E_AUTHZ_STATS", "%s is not a %zu-byte regular file", path,
		          sizeof(*w));
		goto out;
	}
	n = read(fd, w, sizeof(*w));
	if (n != (ssize_t)sizeof(*w) || w->magic != AUTHZ_WIRE_MAGIC || w->size != sizeof(*w) ||
	    w->mode > 2 || w->block_load > 1 ||
	    memchr(w->socket, '\0', sizeof(w->socket)) == NULL) {
		rp_seterr(err, "E_AUTHZ_STATS", "%s is not a rampart-authz counters record", path);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	if (rc < 0)
		memset(w, 0, sizeof(*w));
	return rc;
}
