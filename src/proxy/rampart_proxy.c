/* SPDX-License-Identifier: ISC */
/*
 * rampart-proxy: an HTTP forward proxy for the container engines' own
 * downloads (docker build FROM, containerd) that lets through only the
 * registries the cached signed policy allows.  Runs unprivileged on
 * loopback; clients are untrusted local processes, upstream servers are
 * untrusted too.  TLS is tunnelled (CONNECT), never intercepted, so CONNECT
 * is decided by host; plain-HTTP requests are decided by host and
 * /v2/<repository>/ path, one request per client connection.  One libevent
 * loop: bufferevents for the request head and the replies, evdns for names,
 * then proxy_pump.c for the bytes (a client that never reads stops its
 * upstream); no thread per connection.  A connection past its decision
 * (tunnel or relay) is decided again whenever the policy changes and closed
 * if the new policy refuses it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

#include "compat.h"
#include "config.h"
#include "proxy_decide.h"
#include "proxy_head.h"
#include "proxy_pump.h"
#include "rampart/policy.h"

#define PX_DEFAULT_LISTEN "127.0.0.1:3128"
#define PX_DEFAULT_DB RP_DEFAULT_STATE_DIR "/policy.db"
#define PX_MAX_CONNS 2048       /* client connections (a tunnel counts once) */
#define PX_HEAD_TIMEOUT_S 10    /* whole head within this: slowloris bound */
#define PX_CONNECT_TIMEOUT_S 30 /* name lookup + connect upstream */
#define PX_IDLE_TIMEOUT_S 300   /* a tunnel or relay idle this long is closed */
#define PX_WRITE_TIMEOUT_S 60   /* a peer that stops reading this long is closed */
#define PX_AUDIT_SLOTS 64
#define PX_AUDIT_WINDOW_S 60
#define PX_STATS_HEARTBEAT_S 30 /* stats rewritten at least this often: rampartd's "stale" */

struct px_audit_slot {
	char key[1200];
	time_t first, last;
	unsigned long repeats;
};

struct px_conn;

struct px {
	struct event_base *base;
	struct evdns_base *dns;
	struct evconnlistener *lis;
	struct rampart_policy *pol;
	const char *listen, *db, *stats_path;
	int nconns, max_conns, head_timeout_s;
	unsigned long long accepted, allowed, denied, bad, refused_busy, tunnels, relays;
	unsigned long long revoked; /* open connections closed by a policy change */
	unsigned long long allowed_connect, allowed_http, denied_connect, denied_http;
	int tunnels_open;
	time_t started;
	bool copy; /* --copy: no splice(2), buffers (the portable path) */
	bool stats_written;
	unsigned long long stats_sum; /* counters at the last write: idle means no write */
	time_t stats_at;              /* ... except the heartbeat */
	struct {
		time_t at;
		char kind[8], subject[256], message[512];
	} last_refusal;
	struct px_audit_slot audit[PX_AUDIT_SLOTS];
	LIST_HEAD(px_live, px_conn) live; /* tunnels and relays: decided, bytes flowing */
	int64_t live_version;             /* policy version the live ones were decided by */
	struct event *resume;             /* re-enables the listener after an accept error */
	time_t accept_err_logged;
};

enum px_state { PX_HEAD, PX_CONNECTING, PX_TUNNEL, PX_RELAY, PX_CLOSING };

struct px_conn {
	struct px *px;
	struct bufferevent *client, *up;
	struct event *deadline;  /* the whole head must arrive before it fires */
	struct proxy_pump *pump; /* once allowed and connected: the bytes */
	enum px_state state;
	struct proxy_head head;
	bool listed;     /* in px->live */
	int64_t decided; /* the policy version the decision was made under */
	LIST_ENTRY(px_conn) link;
};

/* ---- audit: one line per refusal, identical ones coalesced --------------- */

static void px_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void px_log(const char *fmt, ...)
{
	va_list ap;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s rampart-proxy: ", ts);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void px_audit_flush(struct px *px, time_t now, bool all)
{
	for (int i = 0; i < PX_AUDIT_SLOTS; i++) {
		struct px_audit_slot *s = &px->audit[i];
		if (s->key[0] == '\0' || (!all && now - s->first < PX_AUDIT_WINDOW_S))
			continue;
		if (s->repeats > 0)
			px_log("audit engine=proxy %s repeated=%lu first=%lld last=%lld", s->key,
			       s->repeats, (long long)s->first, (long long)s->last);
		s->key[0] = '\0';
	}
}

/* Logs a refusal unless the same one was logged in the last window (then counts it). */
static void px_audit_deny(struct px *px, const struct proxy_verdict *v, const char *kind)
{
	char key[1200];
	time_t now = time(NULL);
	int free_slot = -1, oldest = 0;

	snprintf(key, sizeof(key), "decision=deny kind=%s subject=%s version=%lld", kind,
	         v->subject, (long long)v->version);
	for (int i = 0; i < PX_AUDIT_SLOTS; i++) {
		struct px_audit_slot *s = &px->audit[i];
		if (s->key[0] != '\0' && strcmp(s->key, key) == 0) {
			s->repeats++;
			s->last = now;
			return;
		}
		if (s->key[0] == '\0' && free_slot < 0)
			free_slot = i;
		if (px->audit[i].first < px->audit[oldest].first)
			oldest = i;
	}
	if (free_slot < 0) { /* table full: report the oldest and reuse it */
		struct px_audit_slot *s = &px->audit[oldest];
		if (s->repeats > 0)
			px_log("audit engine=proxy %s repeated=%lu", s->key, s->repeats);
		free_slot = oldest;
	}
	snprintf(px->audit[free_slot].key, sizeof(px->audit[free_slot].key), "%s", key);
	px->audit[free_slot].first = px->audit[free_slot].last = now;
	px->audit[free_slot].repeats = 0;
	px_log("audit engine=proxy %s rule=%s mode=enforce message=\"%s\"", key,
	       v->rule[0] != '\0' ? v->rule : "-", v->message);
}

/* ---- connections ------------------------------------------------------- */

static void px_conn_free(struct px_conn *c)
{
	if (c->deadline != NULL)
		event_free(c->deadline);
	if (c->state == PX_TUNNEL)
		c->px->tunnels_open--;
	if (c->listed)
		LIST_REMOVE(c, link);
	if (c->client != NULL)
		bufferevent_free(c->client);
	if (c->up != NULL)
		bufferevent_free(c->up);
	pump_free(c->pump);
	c->px->nconns--;
	if (c->px->nconns < c->px->max_conns)
		evconnlistener_enable(c->px->lis);
	free(c);
}

static void px_discard(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void px_linger_done(struct bufferevent *bev, short what, void *arg)
{
	px_conn_free(arg);
}

static void px_linger_timeout(evutil_socket_t fd, short what, void *arg)
{
	px_conn_free(arg);
}

/*
 * Once bev's output has drained: half-close, then read and discard what the
 * peer still sends until it closes (or 2 s), so a reply to a client that was
 * still sending is not destroyed by a reset (a lingering close).
 */
static void px_close_after_write(struct bufferevent *bev, void *arg)
{
	struct px_conn *c = arg;
	struct timeval t = {2, 0};

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (bev != c->client) {
		px_conn_free(c);
		return;
	}
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_setcb(bev, px_discard, NULL, px_linger_done, c);
	bufferevent_enable(bev, EV_READ);
	/* a total bound: a peer that keeps sending does not keep its slot */
	if (c->deadline != NULL)
		event_free(c->deadline);
	c->deadline = evtimer_new(c->px->base, px_linger_timeout, c);
	if (c->deadline == NULL || evtimer_add(c->deadline, &t) < 0)
		px_conn_free(c);
}

static void px_linger(struct px_conn *c, struct bufferevent *bev)
{
	c->state = PX_CLOSING;
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, px_close_after_write, px_linger_done, c);
	bufferevent_enable(bev, EV_WRITE);
	px_close_after_write(bev, c);
}

/* Printable ASCII only, for a reason phrase that goes into a status line. */
static void px_phrase(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; *src != '\0' && i + 1 < len; src++)
		dst[i++] = (*src >= 0x20 && *src < 0x7f) ? *src : '?';
	dst[i] = '\0';
}

/*
 * A registry-style error: the JSON body docker and podman print for plain
 * HTTP, and the message in the reason phrase as well, which is all Go's
 * transport shows of a refused CONNECT.
 */
static void px_reply_error(struct px_conn *c, int status, const char *code, const char *msg)
{
	json_t *j = json_pack("{s:[{s:s,s:s}]}", "errors", "code", code, "message", msg);
	char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
	char phrase[600];
	struct evbuffer *out = bufferevent_get_output(c->client);

	px_phrase(phrase, sizeof(phrase), msg);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	                    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                    status, phrase, body != NULL ? strlen(body) : 0,
	                    body != NULL ? body : "");
	free(body);
	json_decref(j);
	px_linger(c, c->client);
}

static void px_pump_done(void *arg)
{
	px_conn_free(arg);
}

/*
 * The decision is made and the upstream connected: from here on the bytes
 * are the pump's (proxy_pump.h).  What the bufferevents still hold goes
 * first: the origin request or the bytes that came with the CONNECT head
 * towards the upstream, "200 Connection established" towards the client.
 */
static void px_start_relay(struct px_conn *c, enum px_state st)
{
	struct evbuffer *cin = bufferevent_get_input(c->client);
	struct evbuffer *to_up = bufferevent_get_output(c->up);
	struct evbuffer *to_client = bufferevent_get_output(c->client);
	struct pump_limits lim = {PX_IDLE_TIMEOUT_S, PX_WRITE_TIMEOUT_S, c->px->copy};
	size_t ul, cl;
	const void *ub, *cb;

	if (st == PX_TUNNEL)
		evbuffer_add_buffer(to_up, cin);
	else /* plain HTTP: one request per connection; later bytes are dropped */
		evbuffer_drain(cin, evbuffer_get_length(cin));
	ul = evbuffer_get_length(to_up);
	cl = evbuffer_get_length(to_client);
	ub = evbuffer_pullup(to_up, -1);
	cb = evbuffer_pullup(to_client, -1);
	c->state = st;
	c->pump = pump_start(c->px->base, bufferevent_getfd(c->client), bufferevent_getfd(c->up),
	                     st == PX_TUNNEL ? PUMP_TUNNEL : PUMP_REPLY, &lim, cb, cl, ub, ul,
	                     px_pump_done, c);
	if (c->pump == NULL) {
		px_conn_free(c); /* the bufferevents still own the sockets */
		return;
	}
	/*
	 * The sockets are the pump's now: free the bufferevents without closing
	 * them, empty and disabled first.  This runs inside the upstream's
	 * connect callback, and libevent goes on to write that bufferevent's
	 * output to the fd it holds once we return: left in place, the origin
	 * request went out twice, and the unread copy made the server reset the
	 * connection under the tail of the reply.
	 */
	evbuffer_drain(to_up, ul);
	evbuffer_drain(to_client, cl);
	bufferevent_disable(c->client, EV_READ | EV_WRITE);
	bufferevent_disable(c->up, EV_READ | EV_WRITE);
	bufferevent_setfd(c->client, -1);
	bufferevent_setfd(c->up, -1);
	bufferevent_free(c->client);
	bufferevent_free(c->up);
	c->client = c->up = NULL;
	c->listed = true;
	LIST_INSERT_HEAD(&c->px->live, c, link);
}

static bool px_hop_by_hop(const struct proxy_field *f)
{
	static const char *const hop[] = {"connection",
	                                  "proxy-connection",
	                                  "keep-alive",
	                                  "proxy-authorization",
	                                  "proxy-authenticate",
	                                  "te",
	                                  "trailer",
	                                  "upgrade",
	                                  NULL};
	for (int i = 0; hop[i] != NULL; i++)
		if (proxy_field_is(f, hop[i]))
			return true;
	return false;
}

/* The request as the origin server must see it: origin-form, no hop-by-hop fields. */
static void px_write_origin_request(struct px_conn *c)
{
	const struct proxy_head *h = &c->head;
	struct evbuffer *out = bufferevent_get_output(c->up);

	evbuffer_add_printf(out, "%s %s HTTP/1.1\r\n", h->method, h->path);
	for (size_t i = 0; i < h->nfields; i++) {
		const struct proxy_field *f = &h->fields[i];
		/* the client's Host is never forwarded (RFC 9112 3.2.2): on a shared
		 * server it would name another site than the one that was decided */
		if (px_hop_by_hop(f) || proxy_field_is(f, "host"))
			continue;
		evbuffer_add(out, f->name, f->name_len);
		evbuffer_add(out, ": ", 2);
		evbuffer_add(out, f->value, f->value_len);
		evbuffer_add(out, "\r\n", 2);
	}
	evbuffer_add_printf(out, h->port_given ? "Host: %s:%u\r\n" : "Host: %s\r\n", h->host,
	                    h->port);
	evbuffer_add(out, "Connection: close\r\n\r\n", 21);
}

static void px_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct px_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED) {
		struct proxy_verdict v;

		/* a refresh while this one was resolving or connecting: decide again,
		 * or px_revoke_if_changed (which saw no bytes flowing) would miss it */
		if (rampart_policy_version(c->px->pol) != c->decided) {
			proxy_decide(c->px->pol, &c->head, &v);
			if (!v.allowed) {
				px_audit_deny(c->px, &v, "revoke");
				c->px->revoked++;
				bufferevent_free(c->up);
				c->up = NULL;
				px_reply_error(c, 403, "DENIED", v.message);
				return;
			}
		}
		/* the head's fields point into the client's input: copy them out first */
		if (!c->head.connect)
			px_write_origin_request(c);
		evbuffer_drain(bufferevent_get_input(c->client), c->head.head_len);
		if (c->head.connect) {
			c->px->tunnels++;
			c->px->tunnels_open++;
			evbuffer_add(bufferevent_get_output(c->client),
			             "HTTP/1.1 200 Connection established\r\n\r\n", 39);
			px_start_relay(c, PX_TUNNEL);
		} else {
			c->px->relays++;
			px_start_relay(c, PX_RELAY);
		}
		return;
	}
	/* could not resolve or connect: say so to the client */
	{
		char msg[700];
		int dnserr = bufferevent_socket_get_dns_error(bev);
		snprintf(msg, sizeof(msg), "rampart: cannot reach %s:%u: %s", c->head.host,
		         c->head.port,
		         dnserr != 0 ? evutil_gai_strerror(dnserr)
		                     : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		bufferevent_free(c->up);
		c->up = NULL;
		px_reply_error(c, 502, "UNAVAILABLE", msg);
	}
}

/* Request bodies are not forwarded (pulls send none); a body would also let
 * a second request ride inside the first undecided. */
static bool px_has_body(const struct proxy_head *h)
{
	for (size_t i = 0; i < h->nfields; i++) {
		const struct proxy_field *f = &h->fields[i];
		if (proxy_field_is(f, "transfer-encoding"))
			return true;
		if (proxy_field_is(f, "content-length") &&
		    !(f->value_len == 1 && f->value[0] == '0'))
			return true;
	}
	return false;
}

/* The counters rampartd shows in `rampart status` (written by px_write_stats). */
static void px_count(struct px *px, const struct proxy_verdict *v, bool connect)
{
	if (v->allowed) {
		px->allowed++;
		if (connect)
			px->allowed_connect++;
		else
			px->allowed_http++;
		return;
	}
	px->denied++;
	if (connect)
		px->denied_connect++;
	else
		px->denied_http++;
	px->last_refusal.at = time(NULL);
	snprintf(px->last_refusal.kind, sizeof(px->last_refusal.kind), "%s",
	         connect ? "connect" : "http");
	/* printable ASCII, bounded: rampartd shows it and refuses anything else */
	px_phrase(px->last_refusal.subject, sizeof(px->last_refusal.subject), v->subject);
	px_phrase(px->last_refusal.message, sizeof(px->last_refusal.message), v->message);
}

/*
 * The policy changed: decide every tunnel and relay again on its request
 * head (host, port and path are copies) and close those now refused, so a
 * refresh that removes a registry also ends the connections to it.
 */
static void px_revoke_if_changed(struct px *px, int64_t version)
{
	struct px_conn *c, *next;
	struct proxy_verdict v;

	if (version == px->live_version)
		return;
	px->live_version = version;
	for (c = LIST_FIRST(&px->live); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		proxy_decide(px->pol, &c->head, &v);
		if (v.allowed)
			continue;
		px_audit_deny(px, &v, "revoke");
		px->revoked++;
		px_conn_free(c);
	}
}

static void px_decided(struct px_conn *c)
{
	struct proxy_verdict v;
	const struct proxy_head *h = &c->head;
	struct timeval ct = {PX_CONNECT_TIMEOUT_S, 0};

	if (!h->connect && px_has_body(h)) {
		c->px->bad++;
		px_reply_error(c, 405, "UNSUPPORTED",
		               "rampart: request bodies are not forwarded by this proxy (it serves "
		               "pulls: GET and HEAD)");
		return;
	}
	c->decided = rampart_policy_version(c->px->pol);
	proxy_decide(c->px->pol, h, &v);
	px_count(c->px, &v, h->connect);
	px_revoke_if_changed(c->px, rampart_policy_version(c->px->pol));
	if (!v.allowed) {
		px_audit_deny(c->px, &v, h->connect ? "connect" : "http");
		px_reply_error(c, 403, "DENIED", v.message);
		return;
	}
	c->state = PX_CONNECTING;
	bufferevent_disable(c->client, EV_READ);
	c->up = bufferevent_socket_new(c->px->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->up == NULL) {
		px_reply_error(c, 503, "UNAVAILABLE", "rampart: out of memory");
		return;
	}
	bufferevent_setcb(c->up, NULL, NULL, px_up_event, c);
	bufferevent_set_timeouts(c->up, &ct, &ct);
	{
		/* brackets off an IPv6 literal for the resolver */
		char host[PROXY_HOST_MAX];
		size_t n = strlen(h->host);
		if (h->host[0] == '[' && n >= 2) {
			memcpy(host, h->host + 1, n - 2);
			host[n - 2] = '\0';
		} else {
			memcpy(host, h->host, n + 1);
		}
		if (bufferevent_socket_connect_hostname(c->up, c->px->dns, AF_UNSPEC, host,
		                                        (int)h->port) < 0 &&
		    c->up != NULL && c->state == PX_CONNECTING) {
			/* px_up_event has not run: report here */
			bufferevent_free(c->up);
			c->up = NULL;
			px_reply_error(c, 502, "UNAVAILABLE",
			               "rampart: cannot start the connection");
		}
	}
}

static void px_head_read(struct bufferevent *bev, void *arg)
{
	struct px_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	size_t want = len < PROXY_HEAD_MAX ? len : PROXY_HEAD_MAX;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)want);
	int rc;

	if (buf == NULL)
		return;
	rc = proxy_head_parse(buf, want, &c->head);
	if (rc == PROXY_HEAD_PARTIAL)
		return;
	if (rc != PROXY_HEAD_OK) {
		c->px->bad++;
		bufferevent_disable(bev, EV_READ);
		px_reply_error(c,
		               rc == PROXY_HEAD_TOO_BIG  ? 431
		               : rc == PROXY_HEAD_METHOD ? 405
		                                         : 400,
		               rc == PROXY_HEAD_METHOD ? "UNSUPPORTED" : "BAD_REQUEST",
		               c->head.why != NULL ? c->head.why : "bad request");
		return;
	}
	if (c->deadline != NULL) {
		event_free(c->deadline);
		c->deadline = NULL;
	}
	px_decided(c);
}

static void px_head_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct px_conn *c = arg;

	c->px->bad++;
	event_free(c->deadline);
	c->deadline = NULL;
	bufferevent_disable(c->client, EV_READ);
	px_reply_error(c, 408, "BAD_REQUEST", "rampart: the request head did not arrive in time");
}

static void px_head_event(struct bufferevent *bev, short what, void *arg)
{
	px_conn_free(arg); /* EOF, error or the head timeout: nothing to answer */
}

static void px_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct px *px = arg;
	struct px_conn *c;
	struct timeval ht = {px->head_timeout_s, 0};

	px->accepted++;
	if (px->nconns >= px->max_conns || (c = calloc(1, sizeof(*c))) == NULL) {
		px->refused_busy++;
		evutil_closesocket(fd);
		if (px->nconns >= px->max_conns)
			evconnlistener_disable(l); /* until a connection closes */
		return;
	}
	c->px = px;
	c->client = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->client == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	px->nconns++;
	c->deadline = evtimer_new(px->base, px_head_deadline, c);
	if (c->deadline == NULL || evtimer_add(c->deadline, &ht) < 0) {
		px_conn_free(c);
		return;
	}
	bufferevent_setcb(c->client, px_head_read, NULL, px_head_event, c);
	bufferevent_setwatermark(c->client, EV_READ, 0, PROXY_HEAD_MAX);
	bufferevent_set_timeouts(c->client, &ht, &ht);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);
}

/* ---- stats, signals, setup -------------------------------------------- */

static json_t *px_stats_json(const struct px *px, time_t now)
{
	json_t *j = json_pack(
	    "{s:s, s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:I}",
	    "program", "rampart-proxy", "version", RAMPART_VERSION, "pid", (int)getpid(), "listen",
	    px->listen, "policy_version", (json_int_t)rampart_policy_version(px->pol), "accepted",
	    (json_int_t)px->accepted, "allowed", (json_int_t)px->allowed, "denied",
	    (json_int_t)px->denied, "bad_requests", (json_int_t)px->bad, "refused_busy",
	    (json_int_t)px->refused_busy, "tunnels", (json_int_t)px->tunnels, "tunnels_open",
	    px->tunnels_open, "connections", px->nconns, "started_at", (json_int_t)px->started,
	    "updated_at", (json_int_t)now);

	if (j != NULL)
		json_object_set_new(j, "revoked", json_integer((json_int_t)px->revoked));
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "connect",
	                    json_pack("{s:I, s:I}", "allowed", (json_int_t)px->allowed_connect,
	                              "denied", (json_int_t)px->denied_connect));
	json_object_set_new(j, "http",
	                    json_pack("{s:I, s:I}", "allowed", (json_int_t)px->allowed_http,
	                              "denied", (json_int_t)px->denied_http));
	if (px->last_refusal.at != 0)
		json_object_set_new(
		    j, "last_refusal",
		    json_pack("{s:I, s:s, s:s, s:s}", "at", (json_int_t)px->last_refusal.at, "kind",
		              px->last_refusal.kind, "subject", px->last_refusal.subject, "message",
		              px->last_refusal.message));
	return j;
}

/*
 * The counters as JSON for rampartd (src/daemon/enforce_proxy.c), replaced
 * atomically, mode 0644, when they changed and at least every
 * PX_STATS_HEARTBEAT_S (so rampartd can tell a hung or dead proxy).
 */
static void px_write_stats(struct px *px)
{
	char tmp[4200];
	json_t *j;
	FILE *f;
	int fd;
	time_t now = time(NULL);
	unsigned long long sum = px->accepted + px->allowed + px->denied + px->bad +
	                         (unsigned long long)px->nconns +
	                         (unsigned long long)px->tunnels_open + px->revoked +
	                         (unsigned long long)rampart_policy_version(px->pol);

	if (px->stats_path == NULL || (px->stats_written && sum == px->stats_sum &&
	                               now - px->stats_at < PX_STATS_HEARTBEAT_S))
		return;
	px->stats_written = true;
	px->stats_sum = sum;
	px->stats_at = now;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", px->stats_path) >= sizeof(tmp))
		return;
	j = px_stats_json(px, now);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (j != NULL && fd >= 0 && fchmod(fd, 0644) == 0 && (f = fdopen(fd, "w")) != NULL) {
		fd = -1;
		json_dumpf(j, f, JSON_COMPACT);
		fputc('\n', f);
		if (fclose(f) == 0)
			(void)rename(tmp, px->stats_path);
	}
	if (fd >= 0)
		close(fd);
	json_decref(j);
}

static void px_tick(evutil_socket_t fd, short what, void *arg)
{
	struct px *px = arg;

	px_audit_flush(px, time(NULL), false);
	px_revoke_if_changed(px, rampart_policy_version(px->pol));
	px_write_stats(px);
}

static void px_listen_resume(evutil_socket_t fd, short what, void *arg)
{
	struct px *px = arg;

	if (px->nconns < px->max_conns)
		evconnlistener_enable(px->lis);
}

/* accept() failed (out of descriptors, most likely): pause 1 s, not spin. */
static void px_accept_error(struct evconnlistener *l, void *arg)
{
	struct px *px = arg;
	struct timeval t = {1, 0};
	int e = EVUTIL_SOCKET_ERROR();

	px->refused_busy++;
	evconnlistener_disable(l);
	if (px->resume == NULL)
		px->resume = evtimer_new(px->base, px_listen_resume, px);
	if (px->resume == NULL || evtimer_add(px->resume, &t) < 0)
		evconnlistener_enable(l); /* no timer: better spinning than deaf */
	if (time(NULL) - px->accept_err_logged >= 60) {
		px->accept_err_logged = time(NULL);
		px_log(
		    "cannot accept a connection: %s (new clients wait 1 s; at most one such line "
		    "a minute)",
		    evutil_socket_error_to_string(e));
	}
}

static void px_on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(((struct px *)arg)->base);
}

static void px_usage(FILE *f)
{
	fprintf(f,
	        "usage: rampart-proxy [-c FILE] [--listen ADDR:PORT] [--db PATH] [--user NAME]\n"
	        "                     [--stats FILE] [--max-connections N] [--head-timeout S]\n"
	        "                     [--copy]\n"
	        "       rampart-proxy -c FILE --check-config\n"
	        "  An HTTP forward proxy that lets the container engines reach only the\n"
	        "  registries the cached signed policy allows (rampart-proxy(8)).\n"
	        "  -c, --config FILE     rampartd's config: enforce.proxy.listen,\n"
	        "                        enforce.proxy.stats_file and the policy DB (db or\n"
	        "                        state_dir) come from it; the options below override\n"
	        "  --check-config        validate FILE, print the settings it gives, exit\n"
	        "  --listen ADDR:PORT    loopback address to listen on (default %s);\n"
	        "                        any other address is refused\n"
	        "  --db PATH             policy store rampartd writes (default %s)\n"
	        "  --user NAME           drop to this user after listening (required when\n"
	        "                        started as root)\n"
	        "  --stats FILE          write counters as JSON to FILE (when they changed,\n"
	        "                        at least every %d s) for rampart status\n"
	        "  --max-connections N   client connections at once (default %d)\n"
	        "  --head-timeout S      seconds a client has to send its request head\n"
	        "                        (default %d)\n"
	        "  --copy                relay through user-space buffers, not splice(2)\n"
	        "                        (the path of systems without splice; for tests)\n"
	        "  --version, --help\n",
	        PX_DEFAULT_LISTEN, PX_DEFAULT_DB, PX_STATS_HEARTBEAT_S, PX_MAX_CONNS,
	        PX_HEAD_TIMEOUT_S);
}

struct px_opts {
	const char *config, *listen, *db, *stats, *user;
	bool check;
};

/* -c FILE: the settings rampartd's config gives, under what the command line said. */
static int px_configure(struct px *px, const struct px_opts *o, struct config *cfg)
{
	struct rp_err err;

	px->listen = PX_DEFAULT_LISTEN;
	px->db = PX_DEFAULT_DB;
	if (o->config != NULL) {
		config_defaults(cfg);
		if (config_load(cfg, o->config, true, &err) < 0) {
			fprintf(stderr, "rampart-proxy: %s (%s); nothing started\n", err.msg,
			        err.code);
			return -1;
		}
		px->listen = cfg->enforce.proxy.listen;
		px->db = cfg->db_path;
		if (cfg->enforce.proxy.stats_file[0] != '\0')
			px->stats_path = cfg->enforce.proxy.stats_file;
	}
	if (o->listen != NULL)
		px->listen = o->listen;
	if (o->db != NULL)
		px->db = o->db;
	if (o->stats != NULL)
		px->stats_path = o->stats;
	if (o->check) {
		printf("listen %s\ndb %s\nstats_file %s\n", px->listen, px->db,
		       px->stats_path != NULL ? px->stats_path : "");
	}
	return 0;
}

static int px_drop(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		if (user != NULL) {
			pw = getpwnam(user);
			if (pw == NULL || pw->pw_uid != geteuid()) {
				fprintf(stderr,
				        "rampart-proxy: --user %s: not root, cannot switch user\n",
				        user);
				return -1;
			}
		}
		return 0;
	}
	if (user == NULL) {
		fprintf(stderr, "rampart-proxy: refusing to run as root; pass --user NAME (a "
		                "dedicated unprivileged user) or start it as that user\n");
		return -1;
	}
	if ((pw = getpwnam(user)) == NULL || pw->pw_uid == 0 || pw->pw_gid == 0) {
		fprintf(stderr, "rampart-proxy: --user %s: no such unprivileged user\n", user);
		return -1;
	}
	if (rp_set_all_ids(pw->pw_uid, pw->pw_gid) < 0 || !rp_ids_are(pw->pw_uid, pw->pw_gid) ||
	    setuid(0) == 0) {
		fprintf(stderr, "rampart-proxy: dropping privileges to %s failed\n", user);
		return -1;
	}
	return 0;
}

/*
 * A busy connection holds up to six descriptors (two sockets, two pipes of
 * two ends): fewer connections than the descriptor limit allows would make
 * accept() fail instead of the connection cap turning clients away.
 */
static void px_fit_fds(struct px *px)
{
	struct rlimit rl;
	rlim_t fit;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	fit = rl.rlim_cur > 64 ? (rl.rlim_cur - 64) / 6 : 1;
	if ((rlim_t)px->max_conns > fit) {
		px_log("%d connections need more than the %llu descriptors allowed (ulimit -n): "
		       "serving at most %llu at once",
		       px->max_conns, (unsigned long long)rl.rlim_cur, (unsigned long long)fit);
		px->max_conns = (int)fit;
	}
}

static struct evdns_base *px_dns(struct event_base *base)
{
	struct evdns_base *dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);

	if (dns == NULL) { /* no resolv.conf: the hosts file alone */
		dns = evdns_base_new(base, 0);
		if (dns != NULL)
			evdns_base_load_hosts(dns, NULL);
	}
	return dns;
}

static int px_number(const char *opt, const char *arg, long lo, long hi, int *dst)
{
	char *end;
	long n = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "rampart-proxy: %s: %ld..%ld\n", opt, lo, hi);
		return -1;
	}
	*dst = (int)n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"config", required_argument, NULL, 'c'},
	                                   {"check-config", no_argument, NULL, 'C'},
	                                   {"listen", required_argument, NULL, 'l'},
	                                   {"db", required_argument, NULL, 'd'},
	                                   {"user", required_argument, NULL, 'u'},
	                                   {"stats", required_argument, NULL, 's'},
	                                   {"max-connections", required_argument, NULL, 'm'},
	                                   {"head-timeout", required_argument, NULL, 't'},
	                                   {"copy", no_argument, NULL, 'P'},
	                                   {"version", no_argument, NULL, 'V'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {NULL, 0, NULL, 0}};
	static struct config cfg; /* large: not on the stack */
	struct px px;
	struct px_opts opt;
	struct sockaddr_storage ss;
	struct timeval tick = {2, 0};
	struct event *tev = NULL, *sterm = NULL, *sint = NULL;
	char err[512];
	int slen, o, rc = 1;

	memset(&px, 0, sizeof(px));
	memset(&opt, 0, sizeof(opt));
	px.max_conns = PX_MAX_CONNS;
	px.head_timeout_s = PX_HEAD_TIMEOUT_S;
	while ((o = getopt_long(argc, argv, "c:l:d:u:s:m:t:Vh", lo, NULL)) != -1) {
		switch (o) {
		case 'c':
			opt.config = optarg;
			break;
		case 'C':
			opt.check = true;
			break;
		case 'l':
			opt.listen = optarg;
			break;
		case 'd':
			opt.db = optarg;
			break;
		case 'u':
			opt.user = optarg;
			break;
		case 's':
			opt.stats = optarg;
			break;
		case 'm':
			if (px_number("--max-connections", optarg, 1, 65536, &px.max_conns) < 0)
				return 2;
			break;
		case 't':
			if (px_number("--head-timeout", optarg, 1, 600, &px.head_timeout_s) < 0)
				return 2;
			break;
		case 'P': /* long only: -c is the config */
			px.copy = true;
			break;
		case 'V':
			printf("rampart-proxy %s\n", RAMPART_VERSION);
			return 0;
		case 'h':
			px_usage(stdout);
			return 0;
		default:
			px_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (opt.check && opt.config == NULL)) {
		px_usage(stderr);
		return 2;
	}
	if (opt.listen != NULL && config_loopback_addr(opt.listen, &ss, &slen) < 0) {
		fprintf(stderr,
		        "rampart-proxy: --listen %s: give a loopback ADDR:PORT "
		        "(127.0.0.0/8 or [::1]); nothing else is served\n",
		        opt.listen);
		return 2;
	}
	if (px_configure(&px, &opt, &cfg) < 0)
		return 2;
	if (config_loopback_addr(px.listen, &ss, &slen) < 0) { /* checked by config_load too */
		fprintf(stderr, "rampart-proxy: listen %s is not a loopback ADDR:PORT\n",
		        px.listen);
		return 2;
	}
	if (opt.check)
		return 0;
	signal(SIGPIPE, SIG_IGN);
	px_fit_fds(&px);
	if ((px.base = event_base_new()) == NULL || (px.dns = px_dns(px.base)) == NULL) {
		fprintf(stderr, "rampart-proxy: cannot set up the event loop or resolver\n");
		return 1;
	}
	px.lis = evconnlistener_new_bind(px.base, px_accept, &px,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
	                                     LEV_OPT_CLOSE_ON_EXEC,
	                                 512, (struct sockaddr *)&ss, slen);
	if (px.lis == NULL) {
		fprintf(stderr, "rampart-proxy: cannot listen on %s: %s\n", px.listen,
		        strerror(errno));
		goto out;
	}
	evconnlistener_set_error_cb(px.lis, px_accept_error);
	if (px_drop(opt.user) < 0)
		goto out;
	if (rampart_policy_open(px.db, 0, &px.pol, err, sizeof(err)) != 0) {
		fprintf(stderr, "rampart-proxy: %s\n", err);
		goto out;
	}
	px.started = time(NULL);
	LIST_INIT(&px.live);
	px.live_version = rampart_policy_version(px.pol);
	tev = event_new(px.base, -1, EV_PERSIST, px_tick, &px);
	sterm = evsignal_new(px.base, SIGTERM, px_on_signal, &px);
	sint = evsignal_new(px.base, SIGINT, px_on_signal, &px);
	if (tev == NULL || sterm == NULL || sint == NULL || event_add(tev, &tick) < 0 ||
	    event_add(sterm, NULL) < 0 || event_add(sint, NULL) < 0) {
		fprintf(stderr, "rampart-proxy: cannot set up timers and signals\n");
		goto out;
	}
	px_write_stats(&px);
	px_log("listening on %s, policy %s (version %lld), uid %u", px.listen, px.db,
	       (long long)rampart_policy_version(px.pol), (unsigned)getuid());
	event_base_dispatch(px.base);
	px_audit_flush(&px, time(NULL), true);
	px_write_stats(&px);
	px_log("stopped: %llu allowed, %llu denied, %llu bad requests", px.allowed, px.denied,
	       px.bad);
	rc = 0;
out:
	if (px.resume != NULL)
		event_free(px.resume);
	if (tev != NULL)
		event_free(tev);
	if (sterm != NULL)
		event_free(sterm);
	if (sint != NULL)
		event_free(sint);
	if (px.pol != NULL)
		rampart_policy_close(px.pol);
	if (px.lis != NULL)
		evconnlistener_free(px.lis);
	evdns_base_free(px.dns, 0);
	event_base_free(px.base);
	return rc;
}
