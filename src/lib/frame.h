/* SPDX-License-Identifier: ISC */
/*
 * Wire framing: 4-byte big-endian length, then that many bytes of UTF-8 JSON.
 * The decoder is pure (no I/O) so it can be unit-tested and fuzzed.
 */
#ifndef RAMPART_FRAME_H
#define RAMPART_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define FRAME_HDR 4
#define FRAME_MAX 65536 /* largest payload accepted on the wire */

/*
 * Looks at the bytes received so far.  Returns 1 when a whole frame is there
 * (*off and *plen give the payload, *total the bytes it spans), 0 when more bytes
 * are needed, -1 for a frame that can never be valid (zero or > max length;
 * err says which).  max must be <= FRAME_MAX.
 */
int frame_decode(const uint8_t *buf, size_t len, size_t max, size_t *off, size_t *plen,
                 size_t *total, struct rp_err *err);

/* Length announced by a 4-byte header. */
uint32_t frame_length(const uint8_t hdr[FRAME_HDR]);

/* Writes the 4-byte header for a payload of plen bytes. */
void frame_header(uint8_t hdr[FRAME_HDR], size_t plen);

#endif
