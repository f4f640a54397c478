/* SPDX-License-Identifier: ISC */
/* Reply frames queued on a connection (reply.c); the loop writes them. */
#ifndef RAMPART_REPLY_H
#define RAMPART_REPLY_H

#include <jansson.h>
#include <stddef.h>

struct conn;

/* Each replaces the connection's queued reply; on no memory it marks it dead. */
void reply_error(struct conn *c, json_t *id, const char *code, const char *msg);
void reply_ok(struct conn *c, json_t *id, json_t *result);
/* result already written as compact JSON text by the handler */
void reply_ok_raw(struct conn *c, json_t *id, const char *text, size_t len);

#endif
