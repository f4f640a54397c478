/* SPDX-License-Identifier: ISC */
/*
 * Reply frames: a reply is encoded and queued on its connection, never
 * written here (the loop writes it).  Trusts the request id only as a JSON
 * value to echo; an unencodable or oversized reply becomes an error reply.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "frame.h"
#include "jsonout.h"
#include "log.h"
#include "reply.h"

/* Queues one reply frame.  The connection stops reading until it is written. */
static void reply_queue_text(struct conn *c, const char *s, size_t n)
{
	free(c->wbuf);
	c->wbuf = malloc(FRAME_HDR + n);
	if (c->wbuf == NULL) {
		c->wlen = c->woff = 0;
		c->dead = true;
		return;
	}
	frame_header(c->wbuf, n);
	memcpy(c->wbuf + FRAME_HDR, s, n);
	c->wlen = FRAME_HDR + n;
	c->woff = 0;
}

void reply_error(struct conn *c, json_t *id, const char *code, const char *msg)
{
	if (!rp_errcode_known(code)) /* a bug, not the client's doing: say so, answer anyway */
		log_warnx("error code %s is not in the registry (src/lib/errcodes.h)", code);
	json_t *r = json_pack("{s:b, s:O?, s:{s:s, s:s}}", "ok", 0, "id", id, "error", "code", code,
	                      "message", msg);
	char *s = r ? json_dumps(r, JSON_COMPACT) : NULL;

	json_decref(r);
	if (s == NULL) {
		c->dead = true;
		return;
	}
	reply_queue_text(c, s, strlen(s));
	free(s);
}

/* Written straight into the frame buffer: no second JSON tree, no copy.  The
 * result is a json_t (result) or text a handler already wrote (raw). */
static void reply_ok_any(struct conn *c, json_t *id, json_t *result, const char *raw, size_t rawlen)
{
	static const char pre[] = "{\"ok\":true,\"id\":", mid[] = ",\"result\":";
	struct jbuf b = {NULL, 0, 0, 0};

	jbuf_put(&b, "\0\0\0\0", FRAME_HDR); /* the length goes here */
	jbuf_put(&b, pre, sizeof(pre) - 1);
	if (id != NULL)
		jbuf_value(&b, id);
	else
		jbuf_put(&b, "null", 4);
	jbuf_put(&b, mid, sizeof(mid) - 1);
	if (raw != NULL)
		jbuf_put(&b, raw, rawlen);
	else
		jbuf_value(&b, result);
	jbuf_put(&b, "}", 1);
	if (b.err) {
		free(b.p);
		reply_error(c, id, "E_INTERNAL", "cannot encode the reply");
		return;
	}
	if (b.len - FRAME_HDR > FRAME_MAX) {
		free(b.p);
		reply_error(c, id, "E_TOO_BIG",
		            "the reply would exceed the 64 KiB frame limit; ask for less");
		return;
	}
	frame_header((uint8_t *)b.p, b.len - FRAME_HDR);
	free(c->wbuf);
	c->wbuf = (uint8_t *)b.p;
	c->wlen = b.len;
	c->woff = 0;
}

void reply_ok(struct conn *c, json_t *id, json_t *result)
{
	reply_ok_any(c, id, result, NULL, 0);
}

void reply_ok_raw(struct conn *c, json_t *id, const char *text, size_t len)
{
	reply_ok_any(c, id, NULL, text, len);
}
