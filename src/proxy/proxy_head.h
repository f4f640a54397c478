/* SPDX-License-Identifier: ISC */
/*
 * The request head of an HTTP/1.x forward-proxy request, parsed from bytes
 * an unprivileged local client sent.  Bounded: at most PROXY_HEAD_MAX bytes
 * and PROXY_HEAD_MAX_FIELDS header fields; anything else is refused.  Pure
 * functions over caller memory: no allocation, no I/O (fuzzed by
 * tests/fuzz fuzz_proxy_head).
 */
#ifndef RAMPART_PROXY_HEAD_H
#define RAMPART_PROXY_HEAD_H

#include <stdbool.h>
#include <stddef.h>

#define PROXY_HEAD_MAX 8192      /* request line + fields + blank line */
#define PROXY_HEAD_MAX_FIELDS 64 /* header fields */
#define PROXY_HOST_MAX 256       /* host as given, before normalisation */
#define PROXY_PATH_MAX 2048      /* origin-form target */

enum proxy_head_rc {
	PROXY_HEAD_OK = 1,       /* a whole head was parsed */
	PROXY_HEAD_PARTIAL = 0,  /* no blank line yet and still under the limit */
	PROXY_HEAD_BAD = -1,     /* malformed: answer 400 */
	PROXY_HEAD_TOO_BIG = -2, /* over PROXY_HEAD_MAX or the field limit: 431 */
	PROXY_HEAD_METHOD = -3,  /* a method or target form a proxy does not serve: 405 */
};

struct proxy_field {
	const char *name, *value; /* into the parsed buffer, not NUL-terminated */
	size_t name_len, value_len;
};

struct proxy_head {
	size_t head_len;           /* bytes of the head, blank line included */
	bool connect;              /* CONNECT host:port */
	char method[16];           /* "GET", "CONNECT", ... */
	char host[PROXY_HOST_MAX]; /* from the target; IPv6 keeps its brackets */
	unsigned port;             /* from the target, or 80 for http:// without one */
	bool port_given;           /* the target named a port */
	char path[PROXY_PATH_MAX]; /* origin-form ("/v2/..."); "" for CONNECT */
	int minor;                 /* HTTP/1.minor */
	size_t nfields;
	struct proxy_field fields[PROXY_HEAD_MAX_FIELDS];
	const char *why; /* for BAD/TOO_BIG/METHOD: one sentence */
};

/*
 * Parses the head at buf[0..len).  Returns a proxy_head_rc; on OK, *h is
 * filled and h->head_len says where the body (or tunnel bytes) start.
 */
int proxy_head_parse(const char *buf, size_t len, struct proxy_head *h);

/* True if field f's name equals name, ignoring ASCII case. */
bool proxy_field_is(const struct proxy_field *f, const char *name);

#endif
