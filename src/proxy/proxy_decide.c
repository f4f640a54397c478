/* SPDX-License-Identifier: ISC */
/*
 * Proxy decisions.  The registry a client names (CONNECT authority or the
 * http:// URL's host) is turned into an image reference and handed to
 * librampart's matcher, so the proxy, the Docker plugin and `rampart policy
 * check` cannot disagree.  A TLS tunnel shows only the host, so CONNECT is
 * decided at host level; the engines' own layers decide repositories.
 */
#include <stdio.h>
#include <string.h>

#include "proxy_decide.h"

const char *const proxy_hub_companions[] = {
    "auth.docker.io",                   /* token service */
    "production.cloudflare.docker.com", /* blob CDN */
    "docker-images-prod.6aa30f8b08e16409b46e0173d6de2f56.r2.cloudflarestorage.com",
    NULL,
};

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

static bool pd_is_companion(const char *host)
{
	for (size_t i = 0; proxy_hub_companions[i] != NULL; i++)
		if (strcmp(host, proxy_hub_companions[i]) == 0)
			return true;
	return false;
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

void proxy_decide(struct rampart_policy *pol, const struct proxy_head *h, struct proxy_verdict *v)
{
	struct rampart_decision d;
	struct rampart_policy_info info;
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
	if (portless && pd_is_companion(host)) {
		v->companion = true;
		memset(&info, 0, sizeof(info));
		if (pol != NULL && rampart_policy_info(pol, &info) == 0 && info.cached &&
		    info.allow_docker_hub) {
			v->allowed = true;
			v->version = info.version;
			snprintf(v->rule, sizeof(v->rule),
			         "docker.io (allow_docker_hub: companion)");
			return;
		}
		pd_refuse(pol, v,
		          "a Docker Hub companion host, and the policy does not allow "
		          "Docker Hub");
		return;
	}
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
	pd_refuse(pol, v, d.reason);
}
