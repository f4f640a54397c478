/* SPDX-License-Identifier: ISC */
/*
 * Withheld updates made visible.  A feed that keeps answering "not modified"
 * (or re-serves the current envelope) while a newer policy is published looks
 * healthy by fetch age alone; the signed issued_at cannot be faked by the
 * feed.  With policy.max_age_s set, once the cached policy's issued_at is
 * older than that, status and every decision say "stale": true (the policy is
 * still enforced: failing open would hand the attacker a switch) and the
 * audit log says so once per policy.  Reads only the daemon's own handle.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "module.h"
#include "rampart/policy.h"

#define POLICY_STALE_EVERY_MS 1000

static void policy_stale_tick(struct daemon *d, long long now, long long *next_ms)
{
	struct rampart_policy *h = d->reader;
	struct rampart_policy_info info;
	char detail[200];

	if (now - d->stale_checked_ms < POLICY_STALE_EVERY_MS) {
		if (d->stale_checked_ms + POLICY_STALE_EVERY_MS < *next_ms)
			*next_ms = d->stale_checked_ms + POLICY_STALE_EVERY_MS;
		return;
	}
	d->stale_checked_ms = now;
	if (now + POLICY_STALE_EVERY_MS < *next_ms)
		*next_ms = now + POLICY_STALE_EVERY_MS;
	if (h == NULL)
		return;
	memset(&info, 0, sizeof(info));
	if (rampart_policy_info(h, &info) != 0 || !info.stale) {
		d->stale_audited = false;
		return;
	}
	if (d->stale_audited)
		return;
	d->stale_audited = true;
	snprintf(detail, sizeof(detail),
	         "policy version %lld was issued %lld s ago, more than policy.max_age_s=%d; "
	         "still enforced; check the feed",
	         (long long)info.version, (long long)((int64_t)time(NULL) - info.issued_at),
	         d->cfg.policy.max_age_s);
	audit_log(d, "policy.stale", &(struct peer){0, 0, (pid_t)0}, "stale", "E_POLICY_STALE",
	          detail);
}

const struct module_def stale_module = {.name = "stale", .tick = policy_stale_tick};
