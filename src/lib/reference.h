/* SPDX-License-Identifier: ISC */
/*
 * Docker image reference normalisation (distribution/reference grammar),
 * stricter where noted in docs/lookups.md.  Used by every policy decision.
 */
#ifndef RAMPART_REFERENCE_H
#define RAMPART_REFERENCE_H

#include <stdbool.h>

#include "err.h"

#define REF_MAX_INPUT 1024 /* longer input is rejected before parsing */
#define REF_MAX_DOMAIN 253 /* a DNS name; bracketed IPv6 is at most 41 */
#define REF_MAX_PATH 255   /* counted after "library/" is added */
#define REF_MAX_TAG 128
#define REF_DIGEST_LEN 71      /* "sha256:" + 64 lowercase hex */
#define REF_MAX_NORMALIZED 720 /* domain:port/path:tag@digest + NUL */
#define REF_HUB_DOMAIN "docker.io"

struct ref_parsed {
	char domain[REF_MAX_DOMAIN + 1]; /* lower-cased host, no port; IPv6 as "[::1]" */
	unsigned port;                   /* 0 = default port (none given) */
	char path[REF_MAX_PATH + 1];     /* "library/alpine" */
	char tag[REF_MAX_TAG + 1];       /* "" when none given */
	char digest[REF_DIGEST_LEN + 1]; /* "" when none given */
	bool is_docker_hub;
	char normalized[REF_MAX_NORMALIZED]; /* "docker.io/library/alpine:latest" */
};

/*
 * Parses and normalises an image reference as typed by a user.  Returns 0
 * and fills *out, or -1 with err code E_REF and a sentence saying what is
 * wrong (out is then zeroed).  Pure function: no allocation, thread-safe.
 */
int ref_normalize(const char *s, struct ref_parsed *out, struct rp_err *err);

/*
 * Parses a registry "host[:port]" (len bytes, not NUL-terminated) with the
 * same rules as the domain of a reference: the host is lower-cased and a
 * bracketed IPv6 literal is written in RFC 5952 form ("[0:0::1]" -> "[::1]")
 * into host_out (REF_MAX_DOMAIN + 1 bytes); *port_out gets the port or 0.
 * Hub aliases are NOT mapped here (see ref_is_hub_host).  Returns 0 or -1
 * (E_REF).  Thread-safe.
 */
int ref_parse_domain(const char *s, size_t len, char *host_out, unsigned *port_out,
                     struct rp_err *err);

/*
 * Checks a repository path ("org/app", len bytes): '/'-separated components
 * of lowercase letters and digits joined by '.', '_', '__' or runs of '-'.
 * Returns 0 or -1 (E_REF).
 */
int ref_check_path(const char *s, size_t len, struct rp_err *err);

/* True for a canonical host that names Docker Hub when used without a port. */
bool ref_is_hub_host(const char *host);

/* True if host (canonical) is an IP literal: dotted quad or "[...]". */
bool ref_host_is_ip(const char *host);

#endif
