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

/*
 * A registry API path the proxy can decide: "/v2/" (the ping) or a
 * repository path pd_repository() reads, in the characters a name, tag or
 * digest uses, with no empty or dot segments.  Anything else under /v2/
 * (an escaped "%2F", "/../", "_catalog") is refused: the registry may
 * decode or clean it into a repository the decision never saw.  *ping is
 * set for "/v2/".  NULL when acceptable, else why not.
 */
static const char *pd_v2_path_why(const char *path, size_t nl, bool *ping)
{
	size_t n = strcspn(path, "?");

	*ping = n == 4; /* "/v2/" */
	if (strspn(path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:") < n)
		return "the /v2/ path has a character no repository, tag or digest has (an escape "
		       "such as %2F is not decoded here, so it is refused)";
	for (size_t i = 3; i + 1 < n; i++)
		if (path[i] == '/' &&
		    (path[i + 1] == '/' ||
		     (path[i + 1] == '.' &&
		      (i + 2 == n || path[i + 2] == '/' ||
		       (path[i + 2] == '.' && (i + 3 == n || path[i + 3] == '/'))))))
			return "the /v2/ path has an empty, '.' or '..' segment";
	if (!*ping && nl == 0)
		return "the /v2/ path names no repository (only the ping /v2/ and "
		       "/v2/<name>/manifests|blobs|tags|referrers/ are forwarded)";
	return NULL;
}

static void pd_refuse(struct rampart_policy *pol, struct proxy_verdict *v, const char *reason)
{
	struct rampart_policy_info info;

	memset(&info, 0, sizeof(info));
	v->allowed = false;
	if (pol != NULL && rampart_policy_info(pol, &info) == 0 && info.cached)
		v->version = info.version; /* the audit key names the policy the message names */
	if (info.cached)
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
	bool v2 = !h->connect && strncmp(h->path, "/v2/", 4) == 0, ping = false;
	const char *why;

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
	if (v2 && (why = pd_v2_path_why(h->path, nl, &ping)) != NULL) {
		pd_refuse(pol, v, why);
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
	}
	/*
	 * A repository path: that repository.  A tunnel or the /v2/ ping: the
	 * registry, which a repository rule on it also opens (the engines decide
	 * the repository).  Any other plain-HTTP path (a token service, a
	 * registry's own REST API, which may serve blobs of any repository):
	 * the host's own rules only.
	 */
	if (nl == 0 && !h->connect && !ping)
		snprintf(ref, sizeof(ref), "%s/rampart-proxy/host-check", v->subject);
	if (pol == NULL || (nl > 0 || (!h->connect && !ping)
	                        ? rampart_policy_check(pol, ref, &d)
	                        : rampart_policy_check_registry(pol, v->subject, &d)) != 0) {
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
