/* SPDX-License-Identifier: ISC */
/*
 * Loads rampartd.json.  The file decides who may do what as root, so it is
 * trusted only if root (or the daemon's own euid) owns it and nobody else can
 * write it or its directory; every value is range-checked, unknown keys are
 * refused so a typo never silently falls back to a default.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <grp.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "hosts.h"
#include "oci_ref.h"

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	rp_strlcpy(c->path, CONFIG_DEFAULT_PATH, sizeof(c->path));
	rp_strlcpy(c->socket_path, RP_DEFAULT_SOCKET_PATH, sizeof(c->socket_path));
	config_set_state_dir(c, RP_DEFAULT_STATE_DIR);
	c->owner_uid = (uid_t)-1;
	c->owner_gid = (gid_t)-1;
	c->admin_gid = (gid_t)-1;
	c->limits.max_connections = 512;
	c->limits.max_per_uid = 64;
	c->limits.idle_timeout_ms = 30000;
	c->limits.max_frame = 65536;
	c->limits.reserved = 32;
	rp_strlcpy(c->limits.subid_file, "/etc/subuid", sizeof(c->limits.subid_file));
	c->policy.threshold = 1;
	c->policy.refresh_interval_s = 3600;
	c->policy.jitter_s = 300;
	c->policy.max_bytes = 1 << 20;
	c->policy.connect_timeout_s = 10;
	c->policy.total_timeout_s = 60;
	c->policy.low_speed_bytes = 1024;
	c->policy.low_speed_time_s = 15;
	c->policy.refresh_on_start = true;
	c->policy.max_root_rotations = 32; /* ROOT_DEFAULT_MAX_NEW */
	rp_strlcpy(c->policy.fetch_user, "nobody", sizeof(c->policy.fetch_user));
	c->ports.allow[0].lo = 1;
	c->ports.allow[0].hi = 1023;
	c->ports.n_allow = 1;
	rp_strlcpy(c->links.bin_dir, "/usr/local/bin", sizeof(c->links.bin_dir));
	rp_strlcpy(c->hosts.file, "/etc/hosts", sizeof(c->hosts.file));
	rp_strlcpy(c->hosts.names[0].name, "kubernetes.docker.internal",
	           sizeof(c->hosts.names[0].name));
	rp_strlcpy(c->hosts.names[0].addr, "127.0.0.1", sizeof(c->hosts.names[0].addr));
	c->hosts.n_names = 1;
	rp_strlcpy(c->enforce.containers_policy, "/etc/containers/policy.json",
	           sizeof(c->enforce.containers_policy));
	c->enforce.wildcard_scopes = true;
	rp_strlcpy(c->socket_link.path, "/var/run/docker.sock", sizeof(c->socket_link.path));
	rp_strlcpy(c->socket_link.target, ".docker/run/docker.sock", sizeof(c->socket_link.target));
	c->enforce.mode = ENFORCE_OFF;
	rp_strlcpy(c->enforce.docker.socket, "/run/docker/plugins/rampart.sock",
	           sizeof(c->enforce.docker.socket));
	rp_strlcpy(c->enforce.docker.user, "nobody", sizeof(c->enforce.docker.user));
	rp_strlcpy(c->enforce.docker.stats_file, "/run/rampart-authz/stats",
	           sizeof(c->enforce.docker.stats_file));
	rp_strlcpy(c->enforce.proxy.listen, "127.0.0.1:3128", sizeof(c->enforce.proxy.listen));
	rp_strlcpy(c->enforce.proxy.stats_file, "/run/rampart-proxy/stats.json",
	           sizeof(c->enforce.proxy.stats_file));
}

void config_set_state_dir(struct config *c, const char *dir)
{
	if (dir != c->state_dir)
		rp_strlcpy(c->state_dir, dir, sizeof(c->state_dir));
	snprintf(c->db_path, sizeof(c->db_path), "%s/policy.db", c->state_dir);
}

/* --- typed field readers: each names the field in its error ---------------- */

static int cfg_keys_known(json_t *obj, const char *where, const char *const *known,
                          struct rp_err *err)
{
	const char *k;
	json_t *v;

	json_object_foreach (obj, k, v) {
		int ok = 0;
		for (size_t i = 0; known[i] != NULL; i++)
			ok |= strcmp(k, known[i]) == 0;
		if (!ok)
			return rp_seterr(err, "E_CONFIG", "unknown key \"%s%s%s\"", where,
			                 *where ? "." : "", k);
	}
	(void)v;
	return 0;
}

static int cfg_str(json_t *obj, const char *key, const char *where, char *dst, size_t size,
                   int must_be_abs, struct rp_err *err)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return rp_seterr(err, "E_CONFIG", "%s%s%s must be a string", where,
		                 *where ? "." : "", key);
	s = json_string_value(v);
	if (strlen(s) >= size || strlen(s) != json_string_length(v))
		return rp_seterr(err, "E_CONFIG", "%s%s%s is too long or contains NUL", where,
		                 *where ? "." : "", key);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return rp_seterr(err, "E_CONFIG", "%s%s%s contains a control character",
			                 where, *where ? "." : "", key);
	if (must_be_abs && *s != '\0' && *s != '/')
		return rp_seterr(err, "E_CONFIG", "%s%s%s must be an absolute path (got \"%s\")",
		                 where, *where ? "." : "", key, s);
	rp_strlcpy(dst, s, size);
	return 0;
}

static int cfg_int(json_t *obj, const char *key, const char *where, long long lo, long long hi,
                   int *dst, struct rp_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return rp_seterr(err, "E_CONFIG", "%s%s%s must be an integer in [%lld, %lld]",
		                 where, *where ? "." : "", key, lo, hi);
	*dst = (int)json_integer_value(v);
	return 0;
}

static int cfg_bool(json_t *obj, const char *key, const char *where, bool *dst, struct rp_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return rp_seterr(err, "E_CONFIG", "%s%s%s must be true or false", where,
		                 *where ? "." : "", key);
	*dst = json_is_true(v);
	return 0;
}

static int cfg_section(json_t *root, const char *key, json_t **out, struct rp_err *err)
{
	json_t *v = json_object_get(root, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return rp_seterr(err, "E_CONFIG", "%s must be an object", key);
	*out = v;
	return 0;
}

/* --- sections --------------------------------------------------------------- */

static int cfg_limits(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {
	    "max_connections", "max_per_uid", "idle_timeout_ms", "max_frame", "reserved",
	    "subid_file",      NULL};
	if (s == NULL)
		return 0;
	if (cfg_keys_known(s, "limits", known, err) < 0 ||
	    cfg_int(s, "max_connections", "limits", 1, 4096, &c->limits.max_connections, err) ||
	    cfg_int(s, "max_per_uid", "limits", 1, 4096, &c->limits.max_per_uid, err) ||
	    cfg_int(s, "idle_timeout_ms", "limits", 100, 3600000, &c->limits.idle_timeout_ms,
	            err) ||
	    cfg_int(s, "max_frame", "limits", 256, 65536, &c->limits.max_frame, err) ||
	    cfg_int(s, "reserved", "limits", 0, 4095, &c->limits.reserved, err) ||
	    cfg_str(s, "subid_file", "limits", c->limits.subid_file, sizeof(c->limits.subid_file),
	            1, err))
		return -1;
	if (json_object_get(s, "reserved") == NULL) /* default: 32, at most a quarter */
		c->limits.reserved =
		    c->limits.max_connections / 4 < 32 ? c->limits.max_connections / 4 : 32;
	if (c->limits.reserved >= c->limits.max_connections)
		return rp_seterr(err, "E_CONFIG",
		                 "limits.reserved (%d) must be below limits.max_connections (%d), "
		                 "or nobody but root, the owner and admins could connect",
		                 c->limits.reserved, c->limits.max_connections);
	return 0;
}

/* policy.redirect_hosts: host names or [v6] literals, joined with ',' for the helper. */
static int cfg_redirect_hosts(struct config *c, json_t *a, struct rp_err *err)
{
	static const char ok[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_[]:";
	char *out = c->policy.redirect_hosts;
	size_t i, used = 0;

	out[0] = '\0';
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > CONFIG_MAX_NAMES)
		return rp_seterr(err, "E_CONFIG",
		                 "policy.redirect_hosts must be an array of at most "
		                 "%d host names",
		                 CONFIG_MAX_NAMES);
	for (i = 0; i < json_array_size(a); i++) {
		const char *h = json_string_value(json_array_get(a, i));
		size_t n = h ? strlen(h) : 0;
		if (h == NULL || n == 0 || n > 253 || strspn(h, ok) != n ||
		    used + n + 2 > sizeof(c->policy.redirect_hosts))
			return rp_seterr(err, "E_CONFIG",
			                 "policy.redirect_hosts[%zu] must be a host name or a "
			                 "bracketed IPv6 literal (no scheme, port or path)",
			                 i);
		used += (size_t)snprintf(out + used, sizeof(c->policy.redirect_hosts) - used,
		                         "%s%s", used ? "," : "", h);
	}
	return 0;
}

bool config_has_root(const struct config *c)
{
	return c->policy.root[0] != '\0' || c->policy.root_sha256[0] != '\0';
}

/* policy.root_sha256 is 64 lowercase hex digits; root_url is a fetchable URL. */
static int cfg_policy_root(const struct config *c, struct rp_err *err)
{
	const char *h = c->policy.root_sha256, *u = c->policy.root_url;

	if (*h != '\0' && (strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64))
		return rp_seterr(err, "E_CONFIG",
		                 "policy.root_sha256 must be 64 lowercase hex digits "
		                 "(sha256sum of the first root's envelope file)");
	if (*u && strncmp(u, "https://", 8) != 0 &&
	    !(c->policy.allow_insecure_loopback && strncmp(u, "http://", 7) == 0))
		return rp_seterr(err, "E_CONFIG", "policy.root_url must start with https://");
	return 0;
}

/* One host name of policy.blob_redirect_hosts: letters, digits, '-', '.'. */
static int cfg_blob_host(struct config *c, json_t *h, size_t i, struct rp_err *err)
{
	const char *v = json_is_string(h) ? json_string_value(h) : NULL;
	size_t n = v != NULL ? strlen(v) : 0, used = strlen(c->policy.blob_redirect_hosts);

	if (n == 0 || n > 253 || n != json_string_length(h) ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n || v[0] == '.' || v[0] == '-')
		return rp_seterr(err, "E_CONFIG",
		                 "policy.blob_redirect_hosts[%zu] must be a lower-case host name "
		                 "(no scheme, port or wildcard)",
		                 i);
	if (used + n + 2 > sizeof(c->policy.blob_redirect_hosts))
		return rp_seterr(err, "E_CONFIG", "policy.blob_redirect_hosts is too long");
	snprintf(c->policy.blob_redirect_hosts + used, sizeof(c->policy.blob_redirect_hosts) - used,
	         "%s%s", used ? "," : "", v);
	return 0;
}

/* The keys that only an oci:// source uses, and the oci:// URL itself. */
static int cfg_policy_oci(struct config *c, json_t *s, struct rp_err *err)
{
	json_t *hosts = json_object_get(s, "blob_redirect_hosts"), *h;
	bool oci = oci_is_url(c->policy.url);
	struct oci_ref ref;
	struct rp_err e;
	size_t i;

	if (cfg_str(s, "registry_credentials", "policy", c->policy.registry_credentials,
	            sizeof(c->policy.registry_credentials), 1, err))
		return -1;
	if (hosts != NULL) {
		if (!json_is_array(hosts) || json_array_size(hosts) > 16)
			return rp_seterr(
			    err, "E_CONFIG",
			    "policy.blob_redirect_hosts must be an array of at most 16 "
			    "host names");
		c->policy.blob_redirect_hosts[0] = '\0';
		json_array_foreach (hosts, i, h)
			if (cfg_blob_host(c, h, i, err) < 0)
				return -1;
	}
	if (!oci && (c->policy.registry_credentials[0] || c->policy.blob_redirect_hosts[0]))
		return rp_seterr(err, "E_CONFIG",
		                 "policy.registry_credentials and policy.blob_redirect_hosts apply "
		                 "only to an oci:// policy.url");
	if (oci && oci_ref_parse(c->policy.url, &ref, &e) < 0)
		return rp_seterr(err, "E_CONFIG", "policy.url: %s", e.msg);
	return 0;
}

static int cfg_policy(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {"org",
	                                    "url",
	                                    "keys",
	                                    "threshold",
	                                    "refresh_interval_s",
	                                    "jitter_s",
	                                    "max_bytes",
	                                    "connect_timeout_s",
	                                    "total_timeout_s",
	                                    "low_speed_bytes",
	                                    "low_speed_time_s",
	                                    "ca_file",
	                                    "pinned_pubkey",
	                                    "proxy",
	                                    "allow_insecure_loopback",
	                                    "fetch_user",
	                                    "fetch_helper",
	                                    "allow_when_no_policy",
	                                    "refresh_on_start",
	                                    "max_age_s",
	                                    "redirect_hosts",
	                                    "root",
	                                    "root_sha256",
	                                    "root_url",
	                                    "max_root_rotations",
	                                    "registry_credentials",
	                                    "blob_redirect_hosts",
	                                    NULL};
	json_t *keys;
	size_t i;

	if (s == NULL)
		return 0;
	if (cfg_keys_known(s, "policy", known, err) < 0 ||
	    cfg_str(s, "org", "policy", c->policy.org, sizeof(c->policy.org), 0, err) ||
	    cfg_str(s, "url", "policy", c->policy.url, sizeof(c->policy.url), 0, err) ||
	    cfg_int(s, "threshold", "policy", 1, CONFIG_MAX_KEYS, &c->policy.threshold, err) ||
	    cfg_int(s, "refresh_interval_s", "policy", 0, 7 * 86400, &c->policy.refresh_interval_s,
	            err) ||
	    cfg_int(s, "jitter_s", "policy", 0, 86400, &c->policy.jitter_s, err) ||
	    cfg_int(s, "max_bytes", "policy", 1024, 16 << 20, &c->policy.max_bytes, err) ||
	    cfg_int(s, "connect_timeout_s", "policy", 1, 300, &c->policy.connect_timeout_s, err) ||
	    cfg_int(s, "total_timeout_s", "policy", 1, 3600, &c->policy.total_timeout_s, err) ||
	    cfg_int(s, "low_speed_bytes", "policy", 0, 1 << 30, &c->policy.low_speed_bytes, err) ||
	    cfg_int(s, "low_speed_time_s", "policy", 0, 3600, &c->policy.low_speed_time_s, err) ||
	    cfg_str(s, "ca_file", "policy", c->policy.ca_file, sizeof(c->policy.ca_file), 1, err) ||
	    cfg_str(s, "pinned_pubkey", "policy", c->policy.pinned_pubkey,
	            sizeof(c->policy.pinned_pubkey), 0, err) ||
	    cfg_str(s, "proxy", "policy", c->policy.proxy, sizeof(c->policy.proxy), 0, err) ||
	    cfg_bool(s, "allow_insecure_loopback", "policy", &c->policy.allow_insecure_loopback,
	             err) ||
	    cfg_str(s, "fetch_user", "policy", c->policy.fetch_user, sizeof(c->policy.fetch_user),
	            0, err) ||
	    /* absolute; ownership and mode are checked by fetch_start() before each use */
	    cfg_str(s, "fetch_helper", "policy", c->policy.fetch_helper,
	            sizeof(c->policy.fetch_helper), 1, err) ||
	    cfg_bool(s, "allow_when_no_policy", "policy", &c->policy.allow_when_no_policy, err) ||
	    cfg_bool(s, "refresh_on_start", "policy", &c->policy.refresh_on_start, err) ||
	    cfg_int(s, "max_age_s", "policy", 0, 366 * 86400, &c->policy.max_age_s, err) ||
	    cfg_str(s, "root", "policy", c->policy.root, sizeof(c->policy.root), 1, err) ||
	    cfg_str(s, "root_sha256", "policy", c->policy.root_sha256,
	            sizeof(c->policy.root_sha256), 0, err) ||
	    cfg_str(s, "root_url", "policy", c->policy.root_url, sizeof(c->policy.root_url), 0,
	            err) ||
	    cfg_int(s, "max_root_rotations", "policy", 1, 1024, &c->policy.max_root_rotations, err))
		return -1;
	if (cfg_policy_root(c, err) < 0)
		return -1;
	if (cfg_policy_oci(c, s, err) < 0)
		return -1;
	if (*c->policy.url && strncmp(c->policy.url, "https://", 8) != 0 &&
	    !oci_is_url(c->policy.url) &&
	    !(c->policy.allow_insecure_loopback && strncmp(c->policy.url, "http://", 7) == 0))
		return rp_seterr(err, "E_CONFIG",
		                 "policy.url must start with https:// or oci:// (http:// only "
		                 "with allow_insecure_loopback, for loopback test servers)");
	if (cfg_redirect_hosts(c, json_object_get(s, "redirect_hosts"), err) < 0)
		return -1;
	keys = json_object_get(s, "keys");
	if (keys != NULL) {
		if (!json_is_array(keys) || json_array_size(keys) > CONFIG_MAX_KEYS)
			return rp_seterr(err, "E_CONFIG",
			                 "policy.keys must be an array of at most %d paths",
			                 CONFIG_MAX_KEYS);
		c->policy.n_keys = 0;
		for (i = 0; i < json_array_size(keys); i++) {
			json_t *k = json_array_get(keys, i);
			if (!json_is_string(k) || json_string_value(k)[0] != '/' ||
			    json_string_length(k) >= sizeof(c->policy.keys[0]))
				return rp_seterr(err, "E_CONFIG",
				                 "policy.keys[%zu] must be an absolute path", i);
			rp_strlcpy(c->policy.keys[i], json_string_value(k),
			           sizeof(c->policy.keys[0]));
			c->policy.n_keys++;
		}
	}
	if (*c->policy.url && c->policy.n_keys == 0 && !config_has_root(c))
		return rp_seterr(err, "E_CONFIG",
		                 "policy.url is set but neither policy.keys nor a "
		                 "root (policy.root or policy.root_sha256) is configured");
	if (c->policy.n_keys > 0 && c->policy.threshold > c->policy.n_keys)
		return rp_seterr(err, "E_CONFIG", "policy.threshold %d exceeds the %d key(s) given",
		                 c->policy.threshold, c->policy.n_keys);
	if (*c->policy.url && *c->policy.org == '\0')
		return rp_seterr(err, "E_CONFIG", "policy.org is required when policy.url is set");
	return 0;
}

static int cfg_port_ranges(struct config *c, json_t *a, struct rp_err *err)
{
	size_t i;

	if (!json_is_array(a) || json_array_size(a) > CONFIG_MAX_RANGES)
		return rp_seterr(err, "E_CONFIG", "ports.allow must be an array of [lo, hi]");
	c->ports.n_allow = 0;
	for (i = 0; i < json_array_size(a); i++) {
		json_t *r = json_array_get(a, i);
		json_t *lo = json_array_get(r, 0), *hi = json_array_get(r, 1);
		if (!json_is_array(r) || json_array_size(r) != 2 || !json_is_integer(lo) ||
		    !json_is_integer(hi) || json_integer_value(lo) < 1 ||
		    json_integer_value(hi) > 1023 ||
		    json_integer_value(lo) > json_integer_value(hi))
			return rp_seterr(err, "E_CONFIG",
			                 "ports.allow[%zu] must be [lo, hi] with 1 <= lo <= hi "
			                 "<= 1023",
			                 i);
		c->ports.allow[i].lo = (int)json_integer_value(lo);
		c->ports.allow[i].hi = (int)json_integer_value(hi);
		c->ports.n_allow++;
	}
	return 0;
}

static int cfg_ports(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {"allow", "deny", "allow_any_address", "allow_udp",
	                                    NULL};
	json_t *v;
	size_t i;

	if (s == NULL)
		return 0;
	if (cfg_keys_known(s, "ports", known, err) < 0 ||
	    cfg_bool(s, "allow_any_address", "ports", &c->ports.allow_any_address, err) ||
	    cfg_bool(s, "allow_udp", "ports", &c->ports.allow_udp, err))
		return -1;
	if ((v = json_object_get(s, "allow")) != NULL && cfg_port_ranges(c, v, err) < 0)
		return -1;
	if ((v = json_object_get(s, "deny")) != NULL) {
		if (!json_is_array(v) || json_array_size(v) > CONFIG_MAX_NAMES)
			return rp_seterr(err, "E_CONFIG", "ports.deny must be an array of ports");
		c->ports.n_deny = 0;
		for (i = 0; i < json_array_size(v); i++) {
			json_t *p = json_array_get(v, i);
			if (!json_is_integer(p) || json_integer_value(p) < 1 ||
			    json_integer_value(p) > 65535)
				return rp_seterr(err, "E_CONFIG",
				                 "ports.deny[%zu] must be a port number", i);
			c->ports.deny[c->ports.n_deny++] = (int)json_integer_value(p);
		}
	}
	return 0;
}

static int cfg_name_list(json_t *v, const char *where, char (*dst)[256], int *n, struct rp_err *err)
{
	size_t i;

	if (!json_is_array(v) || json_array_size(v) > CONFIG_MAX_NAMES)
		return rp_seterr(err, "E_CONFIG", "%s must be an array of at most %d names", where,
		                 CONFIG_MAX_NAMES);
	*n = 0;
	for (i = 0; i < json_array_size(v); i++) {
		const char *s = json_string_value(json_array_get(v, i));
		if (s == NULL || *s == '\0' || strlen(s) > 255 || strchr(s, '/') ||
		    strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
			return rp_seterr(err, "E_CONFIG",
			                 "%s[%zu] must be a plain file name (no '/', not . or ..)",
			                 where, i);
		for (const char *p = s; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return rp_seterr(err, "E_CONFIG",
				                 "%s[%zu] contains a control character", where, i);
		rp_strlcpy(dst[i], s, 256);
		(*n)++;
	}
	return 0;
}

static int cfg_links(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {"bin_dir", "app_dir", "names", NULL};
	json_t *v;

	if (s == NULL)
		return 0;
	if (cfg_keys_known(s, "links", known, err) < 0 ||
	    cfg_str(s, "bin_dir", "links", c->links.bin_dir, sizeof(c->links.bin_dir), 1, err) ||
	    cfg_str(s, "app_dir", "links", c->links.app_dir, sizeof(c->links.app_dir), 1, err))
		return -1;
	if ((v = json_object_get(s, "names")) != NULL &&
	    cfg_name_list(v, "links.names", c->links.names, &c->links.n_names, err) < 0)
		return -1;
	return 0;
}

static int cfg_hosts(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {"file", "names", NULL};
	json_t *v, *a;
	const char *k;

	if (s == NULL)
		return 0;
	if (cfg_keys_known(s, "hosts", known, err) < 0 ||
	    cfg_str(s, "file", "hosts", c->hosts.file, sizeof(c->hosts.file), 1, err))
		return -1;
	if ((v = json_object_get(s, "names")) == NULL)
		return 0;
	if (!json_is_object(v) || json_object_size(v) > CONFIG_MAX_NAMES)
		return rp_seterr(err, "E_CONFIG",
		                 "hosts.names must be an object {\"name\": \"address\"}");
	c->hosts.n_names = 0;
	json_object_foreach (v, k, a) {
		struct host_entry *h = &c->hosts.names[c->hosts.n_names];
		unsigned char bin[16];
		if (!json_is_string(a) || strlen(k) >= sizeof(h->name) ||
		    json_string_length(a) >= sizeof(h->addr) ||
		    (inet_pton(AF_INET, json_string_value(a), bin) != 1 &&
		     inet_pton(AF_INET6, json_string_value(a), bin) != 1))
			return rp_seterr(
			    err, "E_CONFIG",
			    "hosts.names: \"%.64s\" must map to an IPv4 or IPv6 address", k);
		if (!hosts_name_ok(k))
			return rp_seterr(err, "E_CONFIG",
			                 "hosts.names: \"%.64s\" is not a valid hostname (letters, "
			                 "digits, '-' and '.', at most 253 characters)",
			                 k);
		rp_strlcpy(h->name, k, sizeof(h->name));
		rp_strlcpy(h->addr, json_string_value(a), sizeof(h->addr));
		c->hosts.n_names++;
	}
	return 0;
}

static int cfg_socket_link(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {"path", "target", "home", "previous", "on_start", NULL};
	json_t *prev;
	size_t i;

	if (s == NULL)
		return 0;
	if (cfg_keys_known(s, "socket_link", known, err) < 0 ||
	    cfg_str(s, "path", "socket_link", c->socket_link.path, sizeof(c->socket_link.path), 1,
	            err) ||
	    cfg_str(s, "target", "socket_link", c->socket_link.target,
	            sizeof(c->socket_link.target), 0, err) ||
	    cfg_str(s, "home", "socket_link", c->socket_link.home, sizeof(c->socket_link.home), 1,
	            err) ||
	    cfg_bool(s, "on_start", "socket_link", &c->socket_link.on_start, err))
		return -1;
	if ((prev = json_object_get(s, "previous")) != NULL) {
		if (!json_is_array(prev) || json_array_size(prev) > 8)
			return rp_seterr(
			    err, "E_CONFIG",
			    "socket_link.previous must be an array of at most 8 paths");
		c->socket_link.n_previous = 0;
		for (i = 0; i < json_array_size(prev); i++) {
			const char *p = json_string_value(json_array_get(prev, i));
			if (p == NULL || *p != '/' ||
			    strlen(p) >= sizeof(c->socket_link.previous[0]))
				return rp_seterr(
				    err, "E_CONFIG",
				    "socket_link.previous[%zu] must be an absolute path", i);
			rp_strlcpy(c->socket_link.previous[i], p,
			           sizeof(c->socket_link.previous[0]));
			c->socket_link.n_previous++;
		}
	}
	if (c->socket_link.target[0] == '/' || strstr(c->socket_link.target, ".."))
		return rp_seterr(err, "E_CONFIG",
		                 "socket_link.target must be relative to the owner's home, "
		                 "without '..'");
	return 0;
}

static int cfg_helper(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {"unit_files", "binary", NULL};
	json_t *v;
	size_t i;

	if (s == NULL)
		return 0;
	if (cfg_keys_known(s, "helper", known, err) < 0 ||
	    cfg_str(s, "binary", "helper", c->helper.binary, sizeof(c->helper.binary), 1, err))
		return -1;
	if ((v = json_object_get(s, "unit_files")) == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) > CONFIG_MAX_NAMES)
		return rp_seterr(err, "E_CONFIG", "helper.unit_files must be an array of paths");
	c->helper.n_unit_files = 0;
	for (i = 0; i < json_array_size(v); i++) {
		const char *p = json_string_value(json_array_get(v, i));
		if (p == NULL || *p != '/' || strlen(p) >= sizeof(c->helper.unit_files[0]))
			return rp_seterr(err, "E_CONFIG",
			                 "helper.unit_files[%zu] must be an absolute path", i);
		rp_strlcpy(c->helper.unit_files[i], p, sizeof(c->helper.unit_files[0]));
		c->helper.n_unit_files++;
	}
	return 0;
}

const char *config_enforce_mode_name(enum config_enforce_mode m)
{
	return m == ENFORCE_ON ? "enforce" : m == ENFORCE_WARN ? "warn" : "off";
}

int config_enforce_mode_from_name(const char *s, enum config_enforce_mode *out)
{
	if (strcmp(s, "off") == 0)
		*out = ENFORCE_OFF;
	else if (strcmp(s, "warn") == 0)
		*out = ENFORCE_WARN;
	else if (strcmp(s, "enforce") == 0)
		*out = ENFORCE_ON;
	else
		return -1;
	return 0;
}

static int cfg_enforce_docker(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {"socket",     "socket_group", "user", "audit_log",
	                                    "stats_file", "block_load",   NULL};
	const char *w = "enforce.docker";

	if (s == NULL)
		return 0;
	if (!json_is_object(s))
		return rp_seterr(err, "E_CONFIG", "enforce.docker must be an object");
	if (cfg_keys_known(s, "enforce.docker", known, err) < 0 ||
	    cfg_str(s, "socket", w, c->enforce.docker.socket, sizeof(c->enforce.docker.socket), 1,
	            err) ||
	    cfg_str(s, "socket_group", w, c->enforce.docker.socket_group,
	            sizeof(c->enforce.docker.socket_group), 0, err) ||
	    cfg_str(s, "user", w, c->enforce.docker.user, sizeof(c->enforce.docker.user), 0, err) ||
	    cfg_str(s, "audit_log", w, c->enforce.docker.audit_log,
	            sizeof(c->enforce.docker.audit_log), 1, err) ||
	    cfg_str(s, "stats_file", w, c->enforce.docker.stats_file,
	            sizeof(c->enforce.docker.stats_file), 1, err) ||
	    cfg_bool(s, "block_load", w, &c->enforce.docker.block_load, err))
		return -1;
	if (c->enforce.docker.socket[0] == '\0')
		return rp_seterr(err, "E_CONFIG", "enforce.docker.socket must not be empty");
	if (c->enforce.docker.user[0] == '\0')
		return rp_seterr(err, "E_CONFIG", "enforce.docker.user must not be empty");
	return 0;
}

int config_loopback_addr(const char *s, struct sockaddr_storage *ss, int *len)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char *end;
	long port;
	size_t hl;

	if (colon == NULL || colon == s || (hl = (size_t)(colon - s)) >= sizeof(host) ||
	    colon[1] < '0' || colon[1] > '9')
		return -1;
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port <= 0 || port > 65535)
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1 ||
		    !IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = (int)sizeof(*in6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1 ||
	    (ntohl(in4->sin_addr.s_addr) >> 24) != 127)
		return -1;
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	*len = (int)sizeof(*in4);
	return 0;
}

static int cfg_enforce_proxy(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {"listen", "stats_file", NULL};
	const char *w = "enforce.proxy";
	struct sockaddr_storage ss;
	int len;

	if (s == NULL)
		return 0;
	if (!json_is_object(s))
		return rp_seterr(err, "E_CONFIG", "enforce.proxy must be an object");
	if (cfg_keys_known(s, "enforce.proxy", known, err) < 0 ||
	    cfg_str(s, "listen", w, c->enforce.proxy.listen, sizeof(c->enforce.proxy.listen), 0,
	            err) ||
	    cfg_str(s, "stats_file", w, c->enforce.proxy.stats_file,
	            sizeof(c->enforce.proxy.stats_file), 1, err))
		return -1;
	if (config_loopback_addr(c->enforce.proxy.listen, &ss, &len) < 0)
		return rp_seterr(err, "E_CONFIG",
		                 "enforce.proxy.listen \"%s\" is not a loopback ADDR:PORT: "
		                 "rampart-proxy serves only this machine (127.0.0.0/8 or [::1], "
		                 "numeric, e.g. \"127.0.0.1:3128\")",
		                 c->enforce.proxy.listen);
	return 0;
}

static int cfg_enforce(struct config *c, json_t *s, struct rp_err *err)
{
	static const char *const known[] = {
	    "mode", "containers_policy", "wildcard_scopes", "docker", "proxy", NULL};
	char mode[16] = "";

	if (s == NULL)
		return 0;
	if (cfg_keys_known(s, "enforce", known, err) < 0 ||
	    cfg_str(s, "mode", "enforce", mode, sizeof(mode), 0, err) ||
	    cfg_str(s, "containers_policy", "enforce", c->enforce.containers_policy,
	            sizeof(c->enforce.containers_policy), 1, err) ||
	    cfg_bool(s, "wildcard_scopes", "enforce", &c->enforce.wildcard_scopes, err))
		return -1;
	if (config_enforce_mode_from_name(mode, &c->enforce.mode) < 0 &&
	    (mode[0] != '\0' || json_object_get(s, "mode") != NULL))
		return rp_seterr(
		    err, "E_CONFIG",
		    "enforce.mode must be \"off\", \"warn\" or \"enforce\" (got \"%s\")", mode);
	if (c->enforce.containers_policy[0] == '\0' ||
	    c->enforce.containers_policy[strlen(c->enforce.containers_policy) - 1] == '/')
		return rp_seterr(err, "E_CONFIG",
		                 "enforce.containers_policy must be the absolute path of a file");
	if (cfg_enforce_docker(c, json_object_get(s, "docker"), err) < 0)
		return -1;
	return cfg_enforce_proxy(c, json_object_get(s, "proxy"), err);
}

/* --- ownership and ids ------------------------------------------------------ */

static int cfg_check_secure(const char *path, const char *what, struct rp_err *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return rp_seterr(err, "E_CONFIG", "cannot stat %s %s: %s", what, path,
		                 strerror(errno));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return rp_seterr(err, "E_CONFIG_INSECURE",
		                 "%s %s is owned by uid %u; it must be owned by root", what, path,
		                 (unsigned)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX))
		/* /tmp and friends: chmod would break every other user of it */
		return rp_seterr(err, "E_CONFIG_INSECURE",
		                 "%s %s is a shared directory anyone can write (mode %04o); "
		                 "refusing to trust a file in it. Move the config into a directory "
		                 "only root can write (e.g. /etc/rampart/) and start rampartd with "
		                 "-c there; do not change the mode of %s",
		                 what, path, (unsigned)(st.st_mode & 07777), path);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return rp_seterr(err, "E_CONFIG_INSECURE",
		                 "%s %s is writable by group or others (mode %04o); refusing to "
		                 "trust it. Fix with: chmod go-w %s",
		                 what, path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int config_resolve_ids(struct config *c, struct rp_err *err)
{
	c->owner_uid = (uid_t)-1;
	c->owner_gid = (gid_t)-1;
	c->admin_gid = (gid_t)-1;
	if (*c->owner_user) {
		struct passwd *pw = getpwnam(c->owner_user);
		if (pw == NULL)
			return rp_seterr(err, "E_CONFIG", "owner_user \"%s\" does not exist",
			                 c->owner_user);
		c->owner_uid = pw->pw_uid;
	}
	if (*c->owner_group) {
		struct group *gr = getgrnam(c->owner_group);
		if (gr == NULL)
			return rp_seterr(err, "E_CONFIG", "owner_group \"%s\" does not exist",
			                 c->owner_group);
		c->owner_gid = gr->gr_gid;
	}
	if (*c->admin_group) {
		struct group *gr = getgrnam(c->admin_group);
		if (gr == NULL)
			return rp_seterr(err, "E_CONFIG", "admin_group \"%s\" does not exist",
			                 c->admin_group);
		c->admin_gid = gr->gr_gid;
	}
	if (*c->policy.fetch_user && getpwnam(c->policy.fetch_user) == NULL)
		return rp_seterr(err, "E_CONFIG", "policy.fetch_user \"%s\" does not exist",
		                 c->policy.fetch_user);
	return 0;
}

static json_t *cfg_read(const char *path, bool check_owner, struct rp_err *err)
{
	char dirbuf[4096];
	json_error_t jerr;
	json_t *root;

	if (check_owner) {
		rp_strlcpy(dirbuf, path, sizeof(dirbuf));
		if (cfg_check_secure(path, "config file", err) < 0 ||
		    cfg_check_secure(dirname(dirbuf), "config directory", err) < 0)
			return NULL;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		rp_seterr(err, "E_CONFIG", "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		rp_seterr(err, "E_CONFIG", "%s: top level must be a JSON object", path);
		return NULL;
	}
	return root;
}

int config_load(struct config *c, const char *path, bool check_owner, struct rp_err *err)
{
	static const char *const known[] = {
	    "socket",      "state_dir", "db",      "audit_log", "owner_user", "owner_group",
	    "admin_group", "limits",    "policy",  "ports",     "links",      "hosts",
	    "socket_link", "helper",    "enforce", NULL};
	json_t *root, *lim, *pol, *por, *lnk, *hst, *skl, *hlp, *enf;
	struct rp_err e2;
	char db[4096] = "";
	int rc = -1;

	if ((root = cfg_read(path, check_owner, err)) == NULL)
		return -1;
	rp_strlcpy(c->path, path, sizeof(c->path));
	if (cfg_keys_known(root, "", known, &e2) < 0 ||
	    cfg_str(root, "socket", "", c->socket_path, sizeof(c->socket_path), 1, &e2) ||
	    cfg_str(root, "state_dir", "", c->state_dir, sizeof(c->state_dir), 1, &e2) ||
	    cfg_str(root, "db", "", db, sizeof(db), 1, &e2) ||
	    cfg_str(root, "audit_log", "", c->audit_log, sizeof(c->audit_log), 1, &e2) ||
	    cfg_str(root, "owner_user", "", c->owner_user, sizeof(c->owner_user), 0, &e2) ||
	    cfg_str(root, "owner_group", "", c->owner_group, sizeof(c->owner_group), 0, &e2) ||
	    cfg_str(root, "admin_group", "", c->admin_group, sizeof(c->admin_group), 0, &e2) ||
	    cfg_section(root, "limits", &lim, &e2) || cfg_section(root, "policy", &pol, &e2) ||
	    cfg_section(root, "ports", &por, &e2) || cfg_section(root, "links", &lnk, &e2) ||
	    cfg_section(root, "hosts", &hst, &e2) || cfg_section(root, "socket_link", &skl, &e2) ||
	    cfg_section(root, "helper", &hlp, &e2) || cfg_section(root, "enforce", &enf, &e2) ||
	    cfg_enforce(c, enf, &e2) || cfg_limits(c, lim, &e2) || cfg_policy(c, pol, &e2) ||
	    cfg_ports(c, por, &e2) || cfg_links(c, lnk, &e2) || cfg_hosts(c, hst, &e2) ||
	    cfg_socket_link(c, skl, &e2) || cfg_helper(c, hlp, &e2) || config_resolve_ids(c, &e2)) {
		rp_seterr(err, e2.code, "%s: %s", path, e2.msg);
		goto out;
	}
	if (*db)
		rp_strlcpy(c->db_path, db, sizeof(c->db_path));
	else
		config_set_state_dir(c, c->state_dir);
	rc = 0;
out:
	json_decref(root);
	return rc;
}
