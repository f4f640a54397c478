/* SPDX-License-Identifier: ISC */
/*
 * The proxy enforcement point in rampartd's status: rampart-proxy decides in
 * its own unprivileged process and writes its counters as JSON to
 * enforce.proxy.stats_file.  rampartd (root) reads that file as untrusted
 * input, as enforce_docker.c reads the plugin's record: no symlink, a regular
 * file of at most PROXY_STATS_MAX bytes, writable by nobody but its owner,
 * owned by root or by the owner of its directory (systemd's RuntimeDirectory
 * for the proxy's DynamicUser) in a directory nobody else can write; every
 * field type- and range-checked, strings printable.  It is only displayed;
 * nothing is decided from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"

#define PROXY_STATS_MAX 16384
#define PROXY_STATS_STALE_S 90 /* the proxy rewrites at least every 30 s */

/* Reads path into buf (NUL-terminated) after the ownership checks above. */
static int proxy_stats_read(const char *path, char *buf, size_t size, struct rp_err *err)
{
	char dirbuf[4096];
	struct stat st, dst;
	ssize_t n;
	int fd, rc = -1;

	rp_strlcpy(dirbuf, path, sizeof(dirbuf));
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return rp_seterr(err, "E_PROXY_STATS", "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)(size - 1)) {
		rp_seterr(err, "E_PROXY_STATS", "%s is not a regular file of at most %zu bytes",
		          path, size - 1);
		goto out;
	}
	if (stat(dirname(dirbuf), &dst) < 0 || (dst.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (st.st_uid != 0 && st.st_uid != dst.st_uid)) {
		rp_seterr(err, "E_PROXY_STATS",
		          "%s is not trusted: it must be owned by root or by the owner of its "
		          "directory (the proxy's user), and neither may be writable by group or "
		          "others",
		          path);
		goto out;
	}
	n = read(fd, buf, size - 1);
	if (n < 0 || n != (ssize_t)st.st_size) {
		rp_seterr(err, "E_PROXY_STATS", "cannot read %s", path);
		goto out;
	}
	buf[n] = '\0';
	rc = 0;
out:
	close(fd);
	return rc;
}

/* A non-negative integer field, or -1. */
static json_int_t proxy_num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
}

/* A printable string field of at most max bytes, or NULL. */
static const char *proxy_text(json_t *o, const char *key, size_t max)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || strlen(s) > max)
		return NULL;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			return NULL;
	return s;
}

static json_t *proxy_pair(json_t *src, const char *key)
{
	json_t *o = json_object_get(src, key);
	json_int_t a = proxy_num(o, "allowed"), d = proxy_num(o, "denied");

	if (a < 0 || d < 0)
		return NULL;
	return json_pack("{s:I, s:I}", "allowed", a, "denied", d);
}

static json_t *proxy_last_refusal(json_t *src, struct rp_err *err)
{
	json_t *o = json_object_get(src, "last_refusal");
	const char *kind, *subject, *message;
	json_int_t at;

	if (o == NULL)
		return json_null();
	at = proxy_num(o, "at");
	kind = proxy_text(o, "kind", 16);
	subject = proxy_text(o, "subject", 1100);
	message = proxy_text(o, "message", 2600);
	if (at < 0 || kind == NULL || subject == NULL || message == NULL) {
		rp_seterr(err, "E_PROXY_STATS", "last_refusal");
		return NULL;
	}
	return json_pack("{s:I, s:s, s:s, s:s}", "at", at, "kind", kind, "subject", subject,
	                 "message", message);
}

/* The checked counters of the file's JSON j, or NULL (err names the field). */
static json_t *proxy_counters(json_t *j, struct rp_err *err)
{
	static const char *const nums[] = {
	    "tunnels_open", "tunnels",      "connections", "accepted",
	    "bad_requests", "refused_busy", "revoked",     NULL};
	json_t *c = json_object(), *v;

	if (c == NULL)
		return NULL;
	for (size_t i = 0; nums[i] != NULL; i++) {
		json_int_t n = proxy_num(j, nums[i]);
		if (n < 0) {
			rp_seterr(err, "E_PROXY_STATS", "%s", nums[i]);
			goto bad;
		}
		json_object_set_new(c, nums[i], json_integer(n));
	}
	if ((v = proxy_pair(j, "connect")) == NULL) {
		rp_seterr(err, "E_PROXY_STATS", "connect");
		goto bad;
	}
	json_object_set_new(c, "connect", v);
	if ((v = proxy_pair(j, "http")) == NULL) {
		rp_seterr(err, "E_PROXY_STATS", "http");
		goto bad;
	}
	json_object_set_new(c, "http", v);
	return c;
bad:
	json_decref(c);
	return NULL;
}

/* Fills o from the stats file's text; -1 + err if it is not a proxy's stats. */
int enforce_proxy_parse(json_t *o, const char *path, const char *text, struct rp_err *err)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr), *c = NULL, *last = NULL;
	const char *prog = proxy_text(j, "program", 32), *ver = proxy_text(j, "version", 64);
	const char *listen = proxy_text(j, "listen", 64);
	json_int_t pid = proxy_num(j, "pid"), started = proxy_num(j, "started_at");
	json_int_t updated = proxy_num(j, "updated_at"), pv = proxy_num(j, "policy_version");
	struct rp_err why = {"", ""};
	int rc = -1;

	if (!json_is_object(j) || prog == NULL || strcmp(prog, "rampart-proxy") != 0 ||
	    ver == NULL || listen == NULL || pid <= 0 || pid > 0x7fffffff || started < 0 ||
	    updated < 0 || pv < 0 || (c = proxy_counters(j, &why)) == NULL ||
	    (last = proxy_last_refusal(j, &why)) == NULL) {
		rp_seterr(err, "E_PROXY_STATS", "%s is not rampart-proxy's stats%s%s", path,
		          why.msg[0] ? ": bad field " : "", why.msg);
		goto out;
	}
	json_object_set_new(o, "version", json_string(ver));
	json_object_set_new(o, "pid", json_integer(pid));
	json_object_set_new(o, "serving_listen", json_string(listen));
	json_object_set_new(o, "started_at", json_integer(started));
	json_object_set_new(o, "updated_at", json_integer(updated));
	json_object_set_new(o, "serving_version", pv > 0 ? json_integer(pv) : json_null());
	json_object_set_new(o, "counters", c);
	json_object_set_new(o, "last_refusal", last);
	c = last = NULL;
	rc = 0;
out:
	json_decref(c);
	json_decref(last);
	json_decref(j);
	return rc;
}

/* running, and the error to show: dead, stale, or serving another address. */
static void proxy_liveness(json_t *o, const struct config *cfg)
{
	pid_t pid = (pid_t)json_integer_value(json_object_get(o, "pid"));
	long long age =
	    (long long)time(NULL) - (long long)json_integer_value(json_object_get(o, "updated_at"));
	const char *serving = json_string_value(json_object_get(o, "serving_listen"));
	bool alive = kill(pid, 0) == 0 || errno == EPERM;
	char msg[300] = "";

	if (!alive)
		snprintf(msg, sizeof(msg),
		         "rampart-proxy is not running (counters are from its "
		         "last run)");
	else if (age > PROXY_STATS_STALE_S)
		snprintf(msg, sizeof(msg),
		         "rampart-proxy's stats are %lld s old (it rewrites them every 30 s): "
		         "hung or not the running proxy's file",
		         age);
	else if (strcmp(serving, cfg->enforce.proxy.listen) != 0)
		snprintf(msg, sizeof(msg),
		         "rampart-proxy listens on %s but enforce.proxy.listen is %s: restart "
		         "it and rerun scripts/install --enforce (the drop-ins' HTTP_PROXY)",
		         serving, cfg->enforce.proxy.listen);
	json_object_set_new(o, "running", json_boolean(alive && age <= PROXY_STATS_STALE_S));
	json_object_set_new(o, "error", json_string(msg));
}

static json_t *enforce_proxy_json(const struct config *c)
{
	static char buf[PROXY_STATS_MAX + 1]; /* the daemon is single-threaded */
	json_t *o = json_pack("{s:s, s:s}", "listen", c->enforce.proxy.listen, "stats_file",
	                      c->enforce.proxy.stats_file);
	struct rp_err err;

	if (o == NULL)
		return NULL;
	if (c->enforce.proxy.stats_file[0] == '\0') {
		rp_seterr(&err, "E_PROXY_STATS", "enforce.proxy.stats_file is empty");
		goto none;
	}
	if (proxy_stats_read(c->enforce.proxy.stats_file, buf, sizeof(buf), &err) < 0 ||
	    enforce_proxy_parse(o, c->enforce.proxy.stats_file, buf, &err) < 0)
		goto none;
	proxy_liveness(o, c);
	return o;
none:
	json_object_set_new(o, "running", json_false());
	json_object_set_new(o, "error", json_string(err.msg));
	return o;
}

void enforce_proxy_status(struct daemon *d, json_t *status)
{
	enforce_status_put(status, "proxy", enforce_proxy_json(&d->cfg));
}
