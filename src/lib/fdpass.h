/* SPDX-License-Identifier: ISC */
/*
 * The one helper pair for passing file descriptors with SCM_RIGHTS beside a
 * stream of bytes (after OpenSSH's mm_send_fd/mm_receive_fd).
 */
#ifndef RAMPART_FDPASS_H
#define RAMPART_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Sends len bytes (len >= 1) with fd attached to the first byte (fd < 0: no
 * fd).  Returns bytes sent (may be short: the fd went with the first call),
 * or -1 with errno.  Never raises SIGPIPE.
 */
ssize_t fdpass_send(int sock, const void *buf, size_t len, int fd);

/*
 * Receives up to len bytes.  *fd_out is set to a received fd or -1.  Any
 * control data other than exactly one fd (truncation, several fds) closes
 * every fd that did arrive and fails with errno EBADMSG.  Returns bytes read
 * (0 = EOF) or -1.
 */
ssize_t fdpass_recv(int sock, void *buf, size_t len, int *fd_out);

#endif
