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

#endif
