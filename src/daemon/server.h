/* SPDX-License-Identifier: ISC */
/* Connections (server.c), as the loop (loop.c) drives them. */
#ifndef RAMPART_SERVER_H
#define RAMPART_SERVER_H

#include "daemon.h"

int server_listen(struct daemon *d, struct rp_err *err);
void server_shutdown(struct daemon *d);

void server_accept(struct daemon *d);
/* POLLOUT while a reply is queued, else POLLIN when the next frame may be read. */
short server_conn_events(const struct daemon *d, const struct conn *c);
/* One poll result: writes the queued reply or reads (and dispatches) frames. */
void server_conn_io(struct daemon *d, struct conn *c, short revents);
/* Marks idle and too-slow connections dead; server_reap frees the dead. */
void server_expire(struct daemon *d, long long now);
void server_reap(struct daemon *d);

#endif
