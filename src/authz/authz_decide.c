/* SPDX-License-Identifier: ISC */
/*
 * Decides one AuthZReq: the route table below is the single place that says
 * which Docker API requests bring an image onto the machine and where their
 * image reference is.  Everything else is allowed undecided.  The request is
 * untrusted; whatever cannot be read the way dockerd will read it is refused
 * (fail closed), never guessed.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "authz.h"
#include "log.h"
#include "reference.h"

typedef void (*authz_route_fn)(struct rampart_policy *, const struct authz_opts *,
                               const struct authz_req *, const char *query, struct authz_verdict *);

static void decide_images_create(struct rampart_policy *, const struct authz_opts *,
                                 const struct authz_req *, const char *, struct authz_verdict *);
static void decide_containers_create(struct rampart_policy *, const struct authz_opts *,
                                     const struct authz_req *, const char *,
                                     struct authz_verdict *);
static void decide_plugin_remote(struct rampart_policy *, const struct authz_opts *,
                                 const struct authz_req *, const char *, struct authz_verdict *);
static void decide_images_load(struct rampart_policy *, const struct authz_opts *,
                               const struct authz_req *, const char *, struct authz_verdict *);

/*
 * The routes decided, matched on the cleaned, decoded path without the API
 * version and case-insensitively, for any method (dockerd's router upper-cases
 * the method; deciding a request dockerd would not route costs nothing).
 * suffix: the path is prefix + "{name}" + suffix (plugins/{name:.*}/upgrade).
 */
static const struct authz_route {
	const char *prefix;
	const char *suffix; /* NULL: the path is exactly prefix */
	enum authz_kind kind;
	authz_route_fn fn;
} authz_routes[] = {
    {"/images/create", NULL, AUTHZ_PULL, decide_images_create},
    {"/containers/create", NULL, AUTHZ_CREATE, decide_containers_create},
    {"/plugins/pull", NULL, AUTHZ_PLUGIN, decide_plugin_remote},
    {"/plugins/", "/upgrade", AUTHZ_PLUGIN, decide_plugin_remote},
    {"/images/load", NULL, AUTHZ_LOAD, decide_images_load},
    {"/plugins/create", NULL, AUTHZ_LOAD, decide_images_load}, /* from a local tar */
};

const char *authz_kind_name(enum authz_kind k)
{
	static const char *const names[AUTHZ_NKINDS] = {"other", "pull", "create", "plugin",
	                                                "load"};
	return (unsigned)k < AUTHZ_NKINDS ? names[k] : "?";
}

const char *authz_mode_name(enum authz_mode m)
{
	return m == AUTHZ_MODE_ENFORCE ? "enforce" : m == AUTHZ_MODE_WARN ? "warn" : "off";
}

/* A request rampart cannot read as dockerd will: refused with "Err". */
static void verdict_error(struct authz_verdict *v, const char *code, const char *msg)
{
	v->allow = false;
	v->would_deny = true;
	v->is_err = true;
	snprintf(v->msg, sizeof(v->msg), "rampart: %s: %s", code, msg);
}

static void verdict_refuse(struct authz_verdict *v, const char *msg)
{
	v->allow = false;
	v->would_deny = true;
	v->is_err = false;
	rp_strlcpy(v->msg, msg, sizeof(v->msg));
}

/* An image reference that does not parse: refused with "Err". */
static void verdict_badref(struct authz_verdict *v, const char *ref, const char *reason)
{
	char esc[600];

	log_escape(esc, sizeof(esc), ref, strlen(ref));
	snprintf(v->msg, sizeof(v->msg), "rampart: invalid image reference \"%s\": %s", esc,
	         reason);
	v->allow = false;
	v->would_deny = v->is_err = true;
}

/* Checks ref against the policy and fills v (refusal text per docs/enforcement.md). */
static void decide_ref(struct rampart_policy *pol, const char *ref, struct authz_verdict *v)
{
	struct rampart_decision d;
	char org[RAMPART_ORG_MAX] = "";

	rp_strlcpy(v->ref, ref, sizeof(v->ref));
	if (rampart_policy_check(pol, ref, &d) != 0) {
		verdict_badref(v, ref, d.reason);
		v->policy_version = d.policy_version;
		return;
	}
	rp_strlcpy(v->normalized, d.normalized, sizeof(v->normalized));
	rp_strlcpy(v->rule, d.rule, sizeof(v->rule));
	v->policy_version = d.policy_version;
	v->allow = d.allowed;
	v->would_deny = !d.allowed;
	v->rule_warn = d.allowed && d.warn; /* a deny rule being rolled out: logged */
	if (d.allowed && !d.warn)
		return;
	if (!d.policy_cached) {
		snprintf(v->msg, sizeof(v->msg), "rampart: %s denied: %s", d.normalized, d.reason);
		return;
	}
	(void)rampart_policy_org(pol, org, sizeof(org));
	snprintf(v->msg, sizeof(v->msg), "rampart: %s %s by policy %s v%lld: %s", d.normalized,
	         d.allowed ? "allowed" : "denied", org, (long long)d.policy_version, d.reason);
}

/*
 * Go's ParseForm reads form values from an urlencoded body, and FormValue
 * from a multipart one, ahead of the query: dockerd would act on parameters
 * the plugin never sees.  dockerd passes only the last value of a repeated
 * header, but parses with the first, so the Content-Type seen here proves
 * nothing on its own.  A query-decided request is safe when dockerd passed
 * its body (its first Content-Type was application/json), when it has no
 * body (Content-Length 0), or when it has neither Content-Type nor
 * Content-Length (a body without a type is never parsed as a form).
 */
static bool form_smuggling(const struct authz_req *r)
{
	const char *ct = r->content_type;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 ||
	    strncasecmp(ct, "multipart/form-data", 19) == 0)
		return true;
	if (r->body != NULL)
		return false;
	if (r->has_content_length && strcmp(r->content_length, "0") == 0)
		return false;
	return r->has_content_type || r->has_content_length;
}

/* "repo[:tag]" from images/create's fromImage + tag, as dockerd's PullImage builds it. */
static int pull_ref(const char *image, const char *tag, char *out, size_t size, struct rp_err *err)
{
	struct ref_parsed p;
	char name[REF_MAX_NORMALIZED], img[AUTHZ_MAX_REF + 1];
	size_t n = rp_strlcpy(img, image, sizeof(img));
	int w;

	if (n > 0 && img[n - 1] == ':') /* strings.TrimSuffix(image, ":") */
		img[n - 1] = '\0';
	if (*tag == '\0') {
		rp_strlcpy(out, img, size);
		return 0;
	}
	if (ref_normalize(img, &p, err) != 0)
		return -1;
	if (p.port != 0)
		snprintf(name, sizeof(name), "%s:%u/%s", p.domain, p.port & 0xffffu, p.path);
	else
		snprintf(name, sizeof(name), "%s/%s", p.domain, p.path);
	/* the "tag" may be a digest (algorithm:hex) */
	w = snprintf(out, size, "%s%c%s", name, strchr(tag, ':') ? '@' : ':', tag);
	if (w < 0 || (size_t)w >= size)
		return rp_seterr(err, "E_REF", "reference is too long");
	return 0;
}

static void decide_images_create(struct rampart_policy *pol, const struct authz_opts *o,
                                 const struct authz_req *r, const char *query,
                                 struct authz_verdict *v)
{
	char image[AUTHZ_MAX_REF + 1] = "", tag[AUTHZ_MAX_REF + 1] = "";
	char ref[AUTHZ_MAX_REF * 2 + 2];
	struct rp_err err;
	int has_image;

	if ((has_image = authz_query_get(query, "fromImage", image, sizeof(image), &err)) < 0 ||
	    authz_query_get(query, "tag", tag, sizeof(tag), &err) < 0) {
		verdict_error(v, err.code, err.msg);
		return;
	}
	if (has_image == 0 || *image == '\0') { /* no fromImage: dockerd imports fromSrc */
		v->kind = AUTHZ_LOAD;
		decide_images_load(pol, o, r, query, v);
		return;
	}
	rp_strlcpy(v->ref, image, sizeof(v->ref));
	if (pull_ref(image, tag, ref, sizeof(ref), &err) < 0) {
		verdict_badref(v, image, err.msg);
		return;
	}
	decide_ref(pol, ref, v);
}

/* An image ID or ID prefix names no registry (dockerd resolves hex prefixes to IDs). */
static bool is_image_id(const char *s)
{
	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* The one "Image" field of a containers/create body, matched as Go's decoder matches it. */
static int create_image(const struct authz_req *r, char *image, size_t size, struct rp_err *err)
{
	json_error_t jerr;
	json_t *root, *val = NULL, *x;
	const char *k;
	int rc = -1;

	root = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return rp_seterr(err, "E_AUTHZ_BODY", "container config is not valid JSON: %.200s",
		                 jerr.text);
	if (!json_is_object(root)) {
		rp_seterr(err, "E_AUTHZ_BODY", "container config must be a JSON object");
		goto out;
	}
	json_object_foreach (root, k, x) {
		if (strcasecmp(k, "Image") != 0)
			continue;
		if (val != NULL) {
			rp_seterr(err, "E_AUTHZ_BODY",
			          "container config names the image twice (\"%s\")", k);
			goto out;
		}
		val = x;
	}
	if (val == NULL || !json_is_string(val) || json_string_length(val) == 0 ||
	    json_string_length(val) >= size ||
	    strlen(json_string_value(val)) != json_string_length(val)) {
		rp_seterr(err, "E_AUTHZ_BODY", "container config has no usable Image string");
		goto out;
	}
	memcpy(image, json_string_value(val), json_string_length(val) + 1);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static void decide_containers_create(struct rampart_policy *pol, const struct authz_opts *o,
                                     const struct authz_req *r, const char *query,
                                     struct authz_verdict *v)
{
	char image[AUTHZ_MAX_REF + 1];
	struct rp_err err;

	(void)o;
	(void)query;
	if (r->body == NULL) {
		verdict_error(v, "E_AUTHZ_BODY",
		              "dockerd did not pass the container config (sent chunked, over "
		              "1 MiB, or not as application/json); send it with a Content-Length");
		return;
	}
	if (create_image(r, image, sizeof(image), &err) < 0) {
		verdict_error(v, err.code, err.msg);
		return;
	}
	rp_strlcpy(v->ref, image, sizeof(v->ref));
	if (is_image_id(image)) {
		char esc[600];
		log_escape(esc, sizeof(esc), image, strlen(image));
		snprintf(v->msg, sizeof(v->msg),
		         "rampart: %s denied: an image ID names no registry, so the policy cannot "
		         "decide it; refer to the image by name (registry/repository:tag)",
		         esc);
		verdict_refuse(v, v->msg);
		return;
	}
	decide_ref(pol, image, v);
}

static void decide_plugin_remote(struct rampart_policy *pol, const struct authz_opts *o,
                                 const struct authz_req *r, const char *query,
                                 struct authz_verdict *v)
{
	char remote[AUTHZ_MAX_REF + 1] = "";
	struct rp_err err;
	int n;

	(void)o;
	(void)r;
	if ((n = authz_query_get(query, "remote", remote, sizeof(remote), &err)) < 0) {
		verdict_error(v, err.code, err.msg);
		return;
	}
	if (n == 0 || *remote == '\0') {
		verdict_error(v, "E_AUTHZ_QUERY", "plugin pull without a remote reference");
		return;
	}
	decide_ref(pol, remote, v);
}

static void decide_images_load(struct rampart_policy *pol, const struct authz_opts *o,
                               const struct authz_req *r, const char *query,
                               struct authz_verdict *v)
{
	(void)pol;
	(void)r;
	(void)query;
	v->allow = !o->block_load;
	v->would_deny = o->block_load;
	if (o->block_load)
		verdict_refuse(v,
		               "rampart: loading or importing images is disabled "
		               "(enforce.docker.block_load): images must come from a registry the "
		               "policy allows");
}

static const struct authz_route *route_find(const char *path)
{
	for (size_t i = 0; i < sizeof(authz_routes) / sizeof(authz_routes[0]); i++) {
		const struct authz_route *rt = &authz_routes[i];
		size_t pl = strlen(rt->prefix), n = strlen(path), sl;
		if (rt->suffix == NULL) {
			if (strcasecmp(path, rt->prefix) == 0)
				return rt;
			continue;
		}
		sl = strlen(rt->suffix);
		if (n > pl + sl && strncasecmp(path, rt->prefix, pl) == 0 &&
		    strcasecmp(path + n - sl, rt->suffix) == 0)
			return rt;
	}
	return NULL;
}

void authz_decide(struct rampart_policy *pol, const struct authz_opts *o, const struct authz_req *r,
                  struct authz_verdict *v)
{
	char path[AUTHZ_MAX_URI + 1];
	const struct authz_route *rt;
	const char *query;
	struct rp_err err;

	memset(v, 0, sizeof(*v));
	v->allow = true;
	if (o->mode == AUTHZ_MODE_OFF)
		return;
	if (authz_uri_split(r->uri, path, sizeof(path), &query, &err) < 0) {
		verdict_error(v, err.code, err.msg);
		goto out;
	}
	if ((rt = route_find(path)) == NULL)
		return;
	v->kind = rt->kind;
	if (rt->kind != AUTHZ_CREATE && form_smuggling(r)) {
		verdict_error(v, "E_AUTHZ_FORM",
		              "a request body dockerd could read form parameters from is refused "
		              "on this endpoint (send it without a body, or as application/json)");
		goto out;
	}
	rt->fn(pol, o, r, query, v);
out:
	if (o->mode == AUTHZ_MODE_WARN && !v->allow)
		v->allow = true; /* dry run: allowed, audited as a would-be refusal */
}

void authz_decide_raw(struct rampart_policy *pol, const struct authz_opts *o, const char *json,
                      size_t len, struct authz_verdict *v)
{
	struct authz_req r;
	struct rp_err err;

	if (authz_req_parse(json, len, &r, &err) < 0) {
		memset(v, 0, sizeof(*v));
		verdict_error(v, err.code, err.msg);
		if (o->mode != AUTHZ_MODE_ENFORCE)
			v->allow = true; /* off and warn never block dockerd */
		return;
	}
	authz_decide(pol, o, &r, v);
	authz_req_free(&r);
}

/* JSON string body: the messages are built from escaped text, but check anyway. */
static size_t answer_escape(char *dst, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *s && o + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			memcpy(dst + o, "\\u00", 4);
			dst[o + 4] = hex[c >> 4];
			dst[o + 5] = hex[c & 15];
			o += 6;
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o] = '\0';
	return o;
}

size_t authz_answer_json(const struct authz_verdict *v, char *buf, size_t size)
{
	char esc[sizeof(v->msg) * 6 + 1];
	int n;

	if (v->allow)
		n = snprintf(buf, size, "{\"Allow\":true}");
	else {
		answer_escape(esc, sizeof(esc), v->msg);
		n = v->is_err
		        ? snprintf(buf, size, "{\"Allow\":false,\"Msg\":\"%s\",\"Err\":\"%s\"}",
		                   esc, esc)
		        : snprintf(buf, size, "{\"Allow\":false,\"Msg\":\"%s\"}", esc);
	}
	return n < 0 ? 0 : (size_t)n >= size ? size - 1 : (size_t)n;
}
