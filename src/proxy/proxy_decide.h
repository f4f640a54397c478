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
	bool host_level;    /* decided on the host alone (CONNECT, non-/v2/ paths) */
	bool companion;     /* a Docker Hub companion host (auth, blob CDN) */
	int64_t version;    /* policy version that decided; 0 if none cached */
	char subject[1100]; /* "reg-a.test:5000" or "reg-a.test:5000/acme/app" */
	char rule[RAMPART_RULE_MAX];
	char message[2600]; /* refusal: "rampart: X denied by policy ORG vN: REASON" */
};

/* Hosts that serve Docker Hub beside registry-1.docker.io: the token service and
 * the blob CDN.  Allowed exactly when the policy allows Docker Hub.  The list is
 * versioned with rampart (docs/enforcement.md, "Docker Hub's companion hosts"). */
extern const char *const proxy_hub_companions[];
#define PROXY_HUB_COMPANIONS_VERSION 1

/* Decides h against pol.  Never allows on error (a bad target is a refusal). */
void proxy_decide(struct rampart_policy *pol, const struct proxy_head *h, struct proxy_verdict *v);

#endif
