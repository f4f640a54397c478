/* SPDX-License-Identifier: ISC */
/*
 * What rampart-proxy decides for one request: CONNECT host:port at host
 * level, plain-HTTP requests by host and by the /v2/<repository>/ path, both
 * with librampart's matcher against the cached signed policy (the same
 * decision as `rampart policy check`).  Input: a parsed head (client bytes,
 * already bounded by proxy_head.c).
 */
#ifndef RAMPART_PROXY_DECIDE_H
#define RAMPART_PROXY_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "proxy_head.h"
#include "rampart/policy.h"

struct proxy_verdict {
	bool allowed;
	bool host_level;             /* decided on the host alone (CONNECT, non-/v2/ paths) */
	bool companion;              /* decided as a companion host (token, blob CDN) of a rule */
	int64_t version;             /* policy version that decided; 0 if none cached */
	char subject[1100];          /* "reg-a.test:5000" or "reg-a.test:5000/acme/app" */
	char rule[RAMPART_RULE_MAX]; /* the rule that decided (for a companion: its rule) */
	char companion_host[RAMPART_COMPANION_MAX]; /* the companion entry that matched, or "" */
	char message[2600]; /* refusal: "rampart: X denied by policy ORG vN: REASON" */
};

/* Decides h against pol.  Never allows on error (a bad target is a refusal). */
void proxy_decide(struct rampart_policy *pol, const struct proxy_head *h, struct proxy_verdict *v);

#endif
