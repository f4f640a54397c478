/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for rampart-proxy's request-head parser (bytes from any
 * local process) and the decision built on it.  Properties: a parsed head
 * lies inside the input and under the limits; a prefix of a whole head is
 * never a whole head; parsing is deterministic; with no policy nothing is
 * ever allowed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_decide.h"
#include "proxy_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PROP(c)                                                                                    \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "proxy_head: property broken: %s\n", #c);                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct proxy_head h, h2;
	static struct proxy_verdict v;
	const char *buf = (const char *)data;
	int rc = proxy_head_parse(buf, size, &h), rc2;

	PROP(rc >= PROXY_HEAD_METHOD && rc <= PROXY_HEAD_OK);
	rc2 = proxy_head_parse(buf, size, &h2);
	PROP(rc == rc2);
	if (rc != PROXY_HEAD_OK) {
		PROP(rc == PROXY_HEAD_PARTIAL ? size < PROXY_HEAD_MAX : h.why != NULL);
		return 0;
	}
	PROP(h.head_len <= size && h.head_len <= PROXY_HEAD_MAX && h.head_len == h2.head_len);
	PROP(h.host[0] != '\0' && h.port >= 1 && h.port <= 65535);
	PROP(h.nfields <= PROXY_HEAD_MAX_FIELDS);
	PROP(h.connect ? h.path[0] == '\0' : h.path[0] == '/');
	for (size_t i = 0; i < h.nfields; i++) {
		const struct proxy_field *f = &h.fields[i];
		PROP(f->name >= buf && f->name + f->name_len <= buf + h.head_len);
		PROP(f->value >= buf && f->value + f->value_len <= buf + h.head_len);
		PROP(f->name_len > 0);
	}
	if (h.head_len > 1) {
		rc2 = proxy_head_parse(buf, h.head_len - 1, &h2);
		PROP(rc2 == PROXY_HEAD_PARTIAL || rc2 == PROXY_HEAD_BAD);
	}
	proxy_decide(NULL, &h, &v);
	PROP(!v.allowed && strncmp(v.message, "rampart: ", 9) == 0);
	return 0;
}
