/* SPDX-License-Identifier: ISC */
/*
 * A compact JSON writer for replies: the same text json_dumps(JSON_COMPACT)
 * would give (insertion order, UTF-8 kept), written straight into a frame
 * buffer.  Measured: jansson's dump was half of the daemon's per-request
 * instructions (see docs/performance.md).
 */
#ifndef RAMPART_JSONOUT_H
#define RAMPART_JSONOUT_H

#include <jansson.h>
#include <stddef.h>

struct jbuf {
	char *p;
	size_t len, cap;
	int err; /* out of memory or a value that cannot be written */
};

void jbuf_put(struct jbuf *b, const char *s, size_t n);
/* Appends v as compact JSON; depth-limited (64).  Sets b->err on failure. */
void jbuf_value(struct jbuf *b, json_t *v);

/*
 * For handlers that write their result as text (op_ctx.raw) instead of
 * building a json_t tree: the same bytes jansson would write.  jbuf_string
 * checks that s is valid UTF-8 (as json_stringn would) and sets b->err if not,
 * so a reply is never invalid JSON.
 */
int jbuf_utf8_valid(const char *s, size_t n);
void jbuf_string(struct jbuf *b, const char *s, size_t n);
void jbuf_int(struct jbuf *b, long long v);
void jbuf_bool(struct jbuf *b, int v);

#endif
