/* SPDX-License-Identifier: ISC */
/*
 * librampart client transport.  Trusts the daemon only as far as the
 * framing: reply lengths are checked, replies must be JSON objects whose id
 * matches the request.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "rampart/client.h"
#include "err.h"
#include "fdpass.h"
#include "frame.h"

struct rampart_client {
	int fd;
	int timeout_ms;
	long long next_id;
};

static int client_seterr(struct rampart_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int client_seterr(struct rampart_error *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	rp_strlcpy(e->code, code, sizeof(e->code));
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -1;
}

static long long client_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

RAMPART_API int rampart_connect(const char *socket_path, int timeout_ms,
                                struct rampart_client **out, struct rampart_error *err)
{
	struct sockaddr_un sun;
	struct rampart_client *c = NULL;
	int fd = -1;

	*out = NULL;
	if (socket_path == NULL)
		socket_path = RAMPART_DEFAULT_SOCKET;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(socket_path) >= sizeof(sun.sun_path))
		return client_seterr(err, "E_UNREACHABLE", "socket path too long: %s", socket_path);
	memcpy(sun.sun_path, socket_path, strlen(socket_path) + 1);
	fd = rp_socket_cloexec(AF_UNIX, SOCK_STREAM, 0); /* SO_NOSIGPIPE on macOS */
	if (fd < 0)
		return client_seterr(err, "E_UNREACHABLE", "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		close(fd);
		return client_seterr(err, "E_UNREACHABLE",
		                     "cannot reach rampartd at %s: %s (is the daemon running?)",
		                     socket_path, strerror(e));
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return client_seterr(err, "E_NOMEM", "out of memory");
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	c->next_id = 1;
	*out = c;
	return 0;
}

RAMPART_API void rampart_close(struct rampart_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

/* Waits for fd readiness until deadline; 0 ready, -1 timeout/error. */
static int client_wait(int fd, short ev, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	for (;;) {
		long long left = deadline - client_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		int r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int client_send_all(struct rampart_client *c, const uint8_t *buf, size_t len, int fd,
                           long long deadline)
{
	size_t off = 0;
	while (off < len) {
		if (client_wait(c->fd, POLLOUT, deadline) < 0)
			return -1;
		ssize_t n = fdpass_send(c->fd, buf + off, len - off, off == 0 ? fd : -1);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes; a passed fd (at most one per reply) lands in *fd. */
static int client_recv_all(struct rampart_client *c, uint8_t *buf, size_t len, int *fd,
                           long long deadline)
{
	size_t off = 0;
	while (off < len) {
		int got = -1;
		if (client_wait(c->fd, POLLIN, deadline) < 0)
			return -1;
		ssize_t n = fdpass_recv(c->fd, buf + off, len - off, &got);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		if (got >= 0) {
			if (*fd >= 0) { /* second fd in one reply: protocol error */
				close(got);
				errno = EBADMSG;
				return -1;
			}
			*fd = got;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

static char *client_build(struct rampart_client *c, const char *op, const char *args_json,
                          long long *id, struct rampart_error *err)
{
	json_error_t jerr;
	json_t *req = NULL, *args = NULL;
	char *s = NULL;

	if (args_json != NULL) {
		args = json_loads(args_json, JSON_REJECT_DUPLICATES, &jerr);
		if (args == NULL || !json_is_object(args)) {
			client_seterr(err, "E_ARGS", "arguments are not a JSON object: %s",
			              args ? "not an object" : jerr.text);
			goto out;
		}
	} else {
		args = json_object();
	}
	*id = c->next_id++;
	req = json_pack("{s:s, s:I, s:O}", "op", op, "id", (json_int_t)*id, "args", args);
	if (req != NULL)
		s = json_dumps(req, JSON_COMPACT);
	if (s == NULL)
		client_seterr(err, "E_NOMEM", "cannot encode request");
out:
	json_decref(args);
	json_decref(req);
	return s;
}

static int client_parse_reply(const char *text, long long id, struct rampart_error *err)
{
	json_error_t jerr;
	json_t *r = json_loads(text, 0, &jerr);
	json_t *ok, *rid, *e;
	int rc = -1;

	if (r == NULL || !json_is_object(r)) {
		client_seterr(err, "E_PROTO",
		              "rampartd sent a reply that is not a JSON object; the request may or "
		              "may not have been carried out (check 'rampart status')");
		goto out;
	}
	ok = json_object_get(r, "ok");
	rid = json_object_get(r, "id");
	/* id null + ok false: an error about the connection itself (E_BUSY at accept,
	 * a framing error), sent before any request was read; report it as it is */
	if (!(json_is_false(ok) && json_is_null(rid) &&
	      json_is_object(json_object_get(r, "error"))) &&
	    (!json_is_boolean(ok) || !json_is_integer(rid) || json_integer_value(rid) != id)) {
		client_seterr(err, "E_PROTO",
		              "rampartd's reply does not match the request (is something else "
		              "listening on the socket?)");
		goto out;
	}
	if (json_is_true(ok)) {
		rc = 0;
		goto out;
	}
	e = json_object_get(r, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	client_seterr(err, code ? code : "E_UNKNOWN", "%s", msg ? msg : "unknown error");
	rc = 1;
out:
	json_decref(r);
	return rc;
}

RAMPART_API int rampart_request(struct rampart_client *c, const char *op, const char *args_json,
                                int send_fd, char **reply, int *recv_fd, struct rampart_error *err)
{
	long long id = 0, deadline = client_now_ms() + c->timeout_ms;
	char *req = NULL, *text = NULL;
	uint8_t hdr[FRAME_HDR];
	int fd = -1, rc = -1;
	size_t plen;

	if (reply)
		*reply = NULL;
	if (recv_fd)
		*recv_fd = -1;
	if ((req = client_build(c, op, args_json, &id, err)) == NULL)
		return -1;
	size_t len = strlen(req);
	if (len > FRAME_MAX) {
		client_seterr(err, "E_TOO_BIG", "request of %zu bytes exceeds %d", len, FRAME_MAX);
		goto out;
	}
	frame_header(hdr, len);
	if (client_send_all(c, hdr, sizeof(hdr), send_fd, deadline) < 0 ||
	    client_send_all(c, (uint8_t *)req, len, -1, deadline) < 0 ||
	    client_recv_all(c, hdr, sizeof(hdr), &fd, deadline) < 0) {
		client_seterr(err, "E_UNREACHABLE", "lost the connection to rampartd: %s",
		              strerror(errno));
		goto out;
	}
	plen = frame_length(hdr);
	if (plen == 0 || plen > FRAME_MAX) {
		client_seterr(err, "E_PROTO", "bad reply frame length %zu", plen);
		goto out;
	}
	if ((text = malloc(plen + 1)) == NULL) {
		client_seterr(err, "E_NOMEM", "out of memory");
		goto out;
	}
	if (client_recv_all(c, (uint8_t *)text, plen, &fd, deadline) < 0) {
		client_seterr(err, "E_UNREACHABLE", "lost the connection to rampartd: %s",
		              strerror(errno));
		goto out;
	}
	text[plen] = '\0';
	rc = client_parse_reply(text, id, err);
out:
	if (rc >= 0 && recv_fd != NULL) {
		*recv_fd = fd;
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	if (rc >= 0 && reply != NULL) {
		*reply = text;
		text = NULL;
	}
	free(text);
	free(req);
	return rc;
}

RAMPART_API int rampart_ping(struct rampart_client *c, struct rampart_error *err)
{
	int rc = rampart_request(c, "ping", NULL, -1, NULL, NULL, err);
	return rc == 0 ? 0 : -1;
}

RAMPART_API int rampart_bind_port(struct rampart_client *c, const char *proto, const char *addr,
                                  int port, int backlog, struct rampart_error *err)
{
	json_t *args = json_pack("{s:s, s:i, s:i}", "proto", proto ? proto : "tcp", "port", port,
	                         "backlog", backlog);
	char *s = NULL;
	int fd = -1, rc;

	if (args != NULL && addr != NULL)
		json_object_set_new(args, "addr", json_string(addr));
	if (args == NULL || (s = json_dumps(args, JSON_COMPACT)) == NULL) {
		json_decref(args);
		return client_seterr(err, "E_NOMEM", "out of memory");
	}
	json_decref(args);
	rc = rampart_request(c, "port.bind", s, -1, NULL, &fd, err);
	free(s);
	if (rc != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd < 0)
		return client_seterr(err, "E_PROTO", "daemon replied without a socket");
	return fd;
}

/* --- typed calls: the JSON is built and parsed here ------------------------------ */

/* Copies a JSON string member (absent or null: "") into buf. */
static void client_str(json_t *o, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(o, key));
	rp_strlcpy(buf, s != NULL ? s : "", len);
}

/* One decision object of policy.check into d; 1 for an invalid reference, else 0. */
static int client_decision(json_t *o, struct rampart_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->allowed = json_is_true(json_object_get(o, "allowed"));
	d->expired = json_is_true(json_object_get(o, "expired"));
	d->policy_cached = json_is_true(json_object_get(o, "policy_cached"));
	d->policy_version = (int64_t)json_integer_value(json_object_get(o, "policy_version"));
	client_str(o, "error", d->code, sizeof(d->code));
	client_str(o, "rule", d->rule, sizeof(d->rule));
	client_str(o, "normalized", d->normalized, sizeof(d->normalized));
	client_str(o, "reason", d->reason, sizeof(d->reason));
	if (d->code[0] != '\0')
		d->allowed = false; /* an invalid reference is never an allow */
	return d->code[0] != '\0' ? 1 : 0;
}

/*
 * Sends op with args (a json_t this function consumes) and returns the parsed
 * reply's "result" (new reference) or NULL with err set.
 */
static json_t *client_call(struct rampart_client *c, const char *op, json_t *args,
                           struct rampart_error *err)
{
	char *argstr = NULL, *reply = NULL;
	json_t *r = NULL, *res = NULL;
	int rc;

	if (args != NULL && (argstr = json_dumps(args, JSON_COMPACT)) == NULL) {
		client_seterr(err, "E_NOMEM", "out of memory building the %s request", op);
		goto out;
	}
	rc = rampart_request(c, op, argstr, -1, &reply, NULL, err);
	if (rc != 0)
		goto out;
	if ((r = json_loads(reply, 0, NULL)) == NULL ||
	    !json_is_object(res = json_object_get(r, "result"))) {
		res = NULL;
		client_seterr(err, "E_PROTO", "the %s reply has no result object", op);
		goto out;
	}
	json_incref(res);
out:
	json_decref(args);
	json_decref(r);
	free(argstr);
	free(reply);
	return res;
}

RAMPART_API int rampart_client_check(struct rampart_client *c, const char *ref,
                                     struct rampart_decision *out, struct rampart_error *err)
{
	json_t *res;
	int rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || ref == NULL || out == NULL)
		return client_seterr(err, "E_ARGS",
		                     "rampart_client_check needs a client, a "
		                     "reference and a decision to fill");
	res = client_call(c, "policy.check", json_pack("{s:s}", "ref", ref), err);
	if (res == NULL)
		return -1;
	rc = client_decision(res, out);
	json_decref(res);
	return rc;
}

RAMPART_API int rampart_client_check_many(struct rampart_client *c, const char *const *refs,
                                          size_t n, struct rampart_decision *out,
                                          struct rampart_error *err)
{
	json_t *arr, *res, *list;
	int worst = 0;

	if (c == NULL || refs == NULL || out == NULL || n == 0 || n > RAMPART_CHECK_MAX)
		return client_seterr(err, "E_ARGS",
		                     "rampart_client_check_many needs a client and 1 to %d "
		                     "references with room for as many decisions",
		                     RAMPART_CHECK_MAX);
	memset(out, 0, n * sizeof(*out));
	if ((arr = json_array()) == NULL)
		return client_seterr(err, "E_NOMEM", "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (refs[i] == NULL) {
			json_decref(arr);
			return client_seterr(err, "E_ARGS", "refs[%zu] is NULL", i);
		}
		json_array_append_new(arr, json_string(refs[i]));
	}
	res = client_call(c, "policy.check", json_pack("{s:o}", "refs", arr), err);
	if (res == NULL)
		return -1;
	list = json_object_get(res, "results");
	if (!json_is_array(list) || json_array_size(list) != n) {
		json_decref(res);
		return client_seterr(err, "E_PROTO",
		                     "the policy.check reply does not have one "
		                     "decision per reference");
	}
	for (size_t i = 0; i < n; i++)
		if (client_decision(json_array_get(list, i), &out[i]) > 0)
			worst = 1;
	json_decref(res);
	return worst;
}

static int64_t client_time(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	struct tm tm;
	char *end;

	if (s == NULL)
		return 0;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return 0;
	return (int64_t)timegm(&tm);
}

RAMPART_API int rampart_client_status(struct rampart_client *c, struct rampart_status *out,
                                      struct rampart_error *err)
{
	json_t *res, *p, *t;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || out == NULL)
		return client_seterr(err, "E_ARGS",
		                     "rampart_client_status needs a client and a "
		                     "status to fill");
	if ((res = client_call(c, "status", NULL, err)) == NULL)
		return -1;
	p = json_object_get(res, "policy");
	t = json_object_get(p, "trust");
	client_str(res, "version", out->daemon_version, sizeof(out->daemon_version));
	out->pid = (long)json_integer_value(json_object_get(res, "pid"));
	out->uptime_s = (int64_t)json_integer_value(json_object_get(res, "uptime_s"));
	out->policy_cached = json_is_integer(json_object_get(p, "version"));
	out->policy_version = (int64_t)json_integer_value(json_object_get(p, "version"));
	client_str(p, "org", out->org, sizeof(out->org));
	out->issued_at = client_time(p, "issued_at");
	out->expires_at = client_time(p, "expires_at");
	out->expired = json_is_true(json_object_get(p, "expired"));
	out->stale = json_is_true(json_object_get(p, "stale"));
	out->last_success_at = client_time(p, "last_success_at");
	out->last_error_at = client_time(p, "last_error_at");
	client_str(p, "last_error", out->last_error, sizeof(out->last_error));
	out->refreshes = (uint64_t)json_integer_value(json_object_get(p, "refreshes"));
	out->refresh_failures = (uint64_t)json_integer_value(json_object_get(p, "failures"));
	out->trust_threshold = (int)json_integer_value(json_object_get(t, "threshold"));
	out->trust_keys = json_array_size(json_object_get(t, "keys"));
	out->trust_usable = json_is_true(json_object_get(t, "usable"));
	json_decref(res);
	return 0;
}
