/* SPDX-License-Identifier: ISC */
/*
 * Frame decoder and header encoder.  Input is client-controlled; the length
 * is checked against the cap before anything is buffered for it.
 */
#include "frame.h"

int frame_decode(const uint8_t *buf, size_t len, size_t max, size_t *off, size_t *plen,
                 size_t *total, struct rp_err *err)
{
	uint32_t n;

	if (max > FRAME_MAX)
		max = FRAME_MAX;
	if (len < FRAME_HDR)
		return 0;
	n = frame_length(buf);
	if (n == 0)
		return rp_seterr(err, "E_FRAME", "empty frame: a request must be a JSON object");
	if (n > max)
		return rp_seterr(err, "E_TOO_BIG", "frame of %u bytes exceeds the %zu-byte limit",
		                 n, max);
	if (len - FRAME_HDR < n)
		return 0;
	*off = FRAME_HDR;
	*plen = n;
	*total = FRAME_HDR + (size_t)n;
	return 1;
}

uint32_t frame_length(const uint8_t hdr[FRAME_HDR])
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
	       (uint32_t)hdr[3];
}

void frame_header(uint8_t hdr[FRAME_HDR], size_t plen)
{
	hdr[0] = (uint8_t)(plen >> 24);
	hdr[1] = (uint8_t)(plen >> 16);
	hdr[2] = (uint8_t)(plen >> 8);
	hdr[3] = (uint8_t)plen;
}
