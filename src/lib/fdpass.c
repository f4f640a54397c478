/* SPDX-License-Identifier: ISC */
/*
 * SCM_RIGHTS send/receive.  The peer is untrusted: control messages are
 * checked for truncation and for the exact fd count, and extras are closed.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compat.h"
#include "fdpass.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* macOS: SO_NOSIGPIPE is set on the socket instead */
#endif

#define FDPASS_MAXFDS 4 /* room to see (and close) a few extras */

ssize_t fdpass_send(int sock, const void *buf, size_t len, int fd)
{
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	ssize_t n;

	if (fd < 0) { /* no control data: the plain call is cheaper in the kernel */
		do {
			n = send(sock, buf, len, MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		return n;
	}
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		struct cmsghdr *c;
		memset(&cmsgbuf, 0, sizeof(cmsgbuf));
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof(cmsgbuf.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n;
}

static void fdpass_close_all(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fd_out)
{
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAXFDS)];
	} cmsgbuf;
	ssize_t n;
	int nfds = 0, fd = -1;

	*fd_out = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof(cmsgbuf.buf);
	do {
		n = rp_recvmsg_cloexec(sock, &msg); /* atomic on Linux; macOS: just after */
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			nfds = -1; /* credentials or anything else: not expected */
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (nfds >= 0)
			nfds += (int)k;
		if (k >= 1)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	}
	if ((msg.msg_flags & MSG_CTRUNC) || nfds < 0 || nfds > 1) {
		fdpass_close_all(&msg);
		errno = EBADMSG;
		return -1;
	}
	*fd_out = nfds == 1 ? fd : -1;
	return n;
}
