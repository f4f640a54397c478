/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for rampartd's reader of rampart-proxy's stats file
 * (src/daemon/enforce_proxy.c): JSON an unprivileged process wrote, parsed by
 * root and shown to every user.  Properties: an accepted file gives counters
 * that are all integers >= 0 and strings that are all printable ASCII (no
 * terminal escapes reach `rampart status`), within their bounds; a refused
 * one gives E_PROXY_STATS, a message, and no counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon.h"
#include "fuzz.h"

#define FUZZ_PS_CHECK(cond)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail("proxy_stats", #cond);                                           \
	} while (0)

/* Every string printable ASCII and at most 2600 bytes, every integer >= 0. */
static void fuzz_ps_walk(json_t *v, int depth)
{
	const char *k;
	json_t *x;

	FUZZ_PS_CHECK(depth < 4);
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		FUZZ_PS_CHECK(strlen(s) <= 2600);
		for (; *s != '\0'; s++)
			FUZZ_PS_CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
	} else if (json_is_integer(v)) {
		FUZZ_PS_CHECK(json_integer_value(v) >= 0);
	} else if (json_is_object(v)) {
		json_object_foreach (v, k, x)
			fuzz_ps_walk(x, depth + 1);
	} else {
		FUZZ_PS_CHECK(json_is_null(v));
	}
}

int fuzz_proxy_stats(const uint8_t *d, size_t n)
{
	char *text;
	json_t *o;
	struct rp_err e;

	if (n > 16384 || (text = malloc(n + 1)) == NULL)
		return 0; /* the reader refuses bigger files before parsing */
	memcpy(text, d, n);
	text[n] = '\0';
	o = json_object();
	memset(&e, 0, sizeof(e));
	if (enforce_proxy_parse(o, "/run/rampart-proxy/stats.json", text, &e) == 0) {
		json_t *c = json_object_get(o, "counters");
		FUZZ_PS_CHECK(json_is_object(c));
		FUZZ_PS_CHECK(json_is_object(json_object_get(c, "connect")));
		FUZZ_PS_CHECK(json_is_object(json_object_get(c, "http")));
		FUZZ_PS_CHECK(json_integer_value(json_object_get(o, "pid")) > 0);
		FUZZ_PS_CHECK(strlen(json_string_value(json_object_get(o, "version"))) <= 64);
		fuzz_ps_walk(o, 0);
	} else {
		FUZZ_PS_CHECK(strcmp(e.code, "E_PROXY_STATS") == 0 && e.msg[0] != '\0');
		FUZZ_PS_CHECK(json_object_get(o, "counters") == NULL);
	}
	json_decref(o);
	free(text);
	return 0;
}
