/* SPDX-License-Identifier: ISC */
/*
 * Inside rampart-fetch: the decoded options record (trusted, from root) and
 * the body buffer, shared by the plain https fetch (rampart_fetch.c) and the
 * OCI registry fetch (oci_fetch.c).
 */
#ifndef RAMPART_FETCH_CHILD_H
#define RAMPART_FETCH_CHILD_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "fetch_wire.h"

/* The options, decoded: strings NUL-terminated, NULL when not set. */
struct fx_opts {
	struct fetch_wire_opts h;
	char *s[FOS_N];
	size_t len[FOS_N];
	unsigned char *raw;
};

struct fx_body {
	unsigned char *buf;
	size_t len, cap, max;
	bool too_large;
	char etag[FETCH_MAX_ETAG + 1];
	CURL *h; /* for the URL a Location: is relative to */
	const struct fx_opts *o;
	long status; /* of the response whose headers are arriving */
	bool redirect_refused;
	char redirect_host[128]; /* the host it would have gone to */
};

/*
 * Fetches the policy envelope named by the oci:// URL in o and fills w (kind,
 * codes, text, etag = the manifest digest, counters) and b (the layer, only
 * after its sha256 matched the manifest).  FW_CURL leaves err_class to the
 * caller.
 */
void oci_fetch(const struct fx_opts *o, struct fx_body *b, struct fetch_wire *w);

#endif
