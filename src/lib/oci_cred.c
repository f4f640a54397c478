/* SPDX-License-Identifier: ISC */
/*
 * policy.registry_credentials (rampartd, as root) and rampart-sign publish
 * --credentials (the admin): one line USER:PASSWORD in a file as private as a
 * key.  The contents are secret: no message quotes them, and the buffer is
 * wiped.  The path is trusted (it comes from the config or the command line).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci_ref.h"

/* 1 if s[0..n) is printable ASCII. */
static int oci_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* The file named by policy.registry_credentials must be as private as a key. */
static int oci_cred_file_ok(int fd, const char *path, struct rp_err *err)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    sb.st_size > OCI_MAX_CRED + 2)
		return rp_seterr(err, "E_FETCH_CREDENTIALS",
		                 "%s is not a regular file of 1 to %d bytes; nothing was fetched",
		                 path, OCI_MAX_CRED);
	if ((sb.st_uid != 0 && sb.st_uid != geteuid()) || (sb.st_mode & 077) != 0)
		return rp_seterr(err, "E_FETCH_CREDENTIALS",
		                 "refusing the registry credentials %s: it must be owned by root "
		                 "and readable by nobody else (it has owner uid %u, mode %04o; "
		                 "chown root and chmod 600 it); nothing was fetched",
		                 path, (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777));
	return 0;
}

int oci_read_credentials(const char *path, char **out, struct rp_err *err)
{
	char buf[OCI_MAX_CRED + 3];
	ssize_t n;
	size_t len;
	int fd, ret = -1;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0)
		return rp_seterr(err, "E_FETCH_CREDENTIALS",
		                 "cannot open the registry credentials %s: %s; nothing was fetched",
		                 path, strerror(errno));
	if (oci_cred_file_ok(fd, path, err) < 0)
		goto out;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	len = n > 0 ? (size_t)n : 0;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (len == 0 || len > OCI_MAX_CRED || buf[0] == ':' || strchr(buf, ':') == NULL ||
	    !oci_printable(buf, len)) {
		rp_seterr(err, "E_FETCH_CREDENTIALS",
		          "the registry credentials %s must hold one line USER:PASSWORD "
		          "(printable, at most %d bytes); nothing was fetched",
		          path, OCI_MAX_CRED);
		goto out;
	}
	if ((*out = strdup(buf)) == NULL) {
		rp_seterr(err, "E_FETCH_NOMEM", "out of memory");
		goto out;
	}
	ret = 0;
out:
	oci_wipe(buf, sizeof(buf));
	close(fd);
	return ret;
}
