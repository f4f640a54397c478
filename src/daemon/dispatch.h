/* SPDX-License-Identifier: ISC */
/* One request frame, start to finish (dispatch.c). */
#ifndef RAMPART_DISPATCH_H
#define RAMPART_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct daemon;

/* Parses, authorises, runs and queues exactly one reply (or marks the
 * connection pending for an async op).  buf is client-controlled. */
void server_dispatch(struct daemon *d, struct conn *c, const uint8_t *buf, size_t len);

#endif
