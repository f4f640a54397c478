/* SPDX-License-Identifier: ISC */
/*
 * Proxy decisions.  The registry a client names (CONNECT authority or the
 * http:// URL's host) is turned into an image reference and handed to
 * librampart's matcher, so the proxy, the Docker plugin and `rampart policy
 * check` cannot disagree.  A TLS tunnel shows only the host, so CONNECT is
 * decided at host level; the engines' own layers decide repositories.  A
 * host no rule allows may still be a companion host (token service, blob
 * CDN) of an allow rule in force: librampart answers that too, naming the
 * rule, so a refresh that removes the rule removes its companions.
 */
#include <stdio.h>
#include <string.h>

#include "proxy_decide.h"

static void pd_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* The repository in "/v2/<name>/(manifests|blobs|tags|referrers)/...", or 0. */
static size_t pd_repository(const char *path, const char **name)
{
	static const char *const kinds[] = {"/manifests/", "/blobs/", "/tags/", "/referrers/"};
	const char *p, *best = NULL;

	if (strncmp(path, "/v2/", 4) != 0)
		return 0;
	p = path + 4;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *k = strstr(p, kinds[i]);
		if (k != NULL && k > p && (best == NULL || k < best))
			best = k;
	}
	if (best == NULL)
		return 0;
	*name = p;
	return (size_t)(best - p);
}

static void pd_refuse(struct rampart_policy *pol, struct proxy_verdict *v, const char *reason)
{
	struct rampart_policy_info info;

	memset(&info, 0, sizeof(info));
	v->allowed = false;
	if (pol != NULL && rampart_policy_info(pol, &info) == 0 && info.cached)
		snprintf(v->message, sizeof(v->message),
		         "rampart: %s denied by policy %s v%lld: %s", v->subject, info.org,
		         (long long)info.version, reason);
	else
		snprintf(v->message, sizeof(v->message),
		         "rampart: %s denied (no policy cached): %s", v->subject, reason);
}

/*
 * A host no rule decides, at host level only (a /v2/<repository>/ request is
 * an image pull, decided by the rules alone): is it a companion of an allow
 * rule in force?  True when it decided (allowed, or refused naming the
 * companion's rule); false leaves the rules' refusal.
 */
static bool pd_companion(struct rampart_policy *pol, const struct proxy_head *h, const char *host,
                         struct proxy_verdict *v)
{
	struct rampart_companion c;
	unsigned dflt = h->connect ? 443 : 80;
	unsigned port = h->port_given ? h->port : dflt;

	if (rampart_policy_companion(pol, host, port, dflt, &c) != 0 || c.rule[0] == '\0')
		return false;
	v->companion = true;
	v->version = c.policy_version;
	v->allowed = c.allowed;
	snprintf(v->rule, sizeof(v->rule), "%s", c.rule);
	snprintf(v->companion_host, sizeof(v->companion_host), "%s", c.companion);
	if (c.allowed)
		return true;
	pd_refuse(pol, v, c.reason);
	return true;
}

void proxy_decide(struct rampart_policy *pol, const struct proxy_head *h, struct proxy_verdict *v)
{
	struct rampart_decision d;
	char host[PROXY_HOST_MAX], ref[sizeof(v->subject) + 1024];
	const char *name = NULL;
	unsigned dflt = h->connect ? 443 : 80;
	bool portless = !h->port_given || h->port == dflt;
	size_t nl = h->connect ? 0 : pd_repository(h->path, &name);

	memset(v, 0, sizeof(v[0]));
	snprintf(host, sizeof(host), "%s", h->host);
	pd_lower(host);
	if (portless)
		snprintf(v->subject, sizeof(v->subject), "%s", host);
	else
		snprintf(v->subject, sizeof(v->subject), "%s:%u", host, h->port);
	v->host_level = nl == 0;
	if (portless && strchr(host, '.') == NULL && host[0] != '[' &&
	    strcmp(host, "localhost") != 0) {
		pd_refuse(pol, v,
		          "a registry host without a dot or a port cannot be named in an "
		          "image reference, so no rule can allow it");
		return;
	}
	if (nl > 0) {
		if (nl > 900) {
			pd_refuse(pol, v, "the repository name in the URL is too long");
			return;
		}
		snprintf(ref, sizeof(ref), "%s/%.*s", v->subject, (int)nl, name);
		size_t rl = strlen(ref);
		if (rl >= sizeof(v->subject))
			rl = sizeof(v->subject) - 1;
		memcpy(v->subject, ref, rl);
		v->subject[rl] = '\0';
	} else {
		/* host level: any repository on that registry */
		snprintf(ref, sizeof(ref), "%s/rampart-proxy/host-check", v->subject);
	}
	if (pol == NULL || rampart_policy_check(pol, ref, &d) != 0) {
		pd_refuse(pol, v, pol == NULL ? "no policy" : d.reason);
		return;
	}
	v->version = d.policy_version;
	snprintf(v->rule, sizeof(v->rule), "%s", d.rule);
	if (d.allowed) {
		v->allowed = true;
		return;
	}
	if (nl == 0 && !d.denied_by_rule && pd_companion(pol, h, host, v))
		return;
	pd_refuse(pol, v, d.reason);
}
