/* SPDX-License-Identifier: ISC */
/*
 * diag.trace and diag.audit.  A trace writes JSON lines to a pipe the admin
 * passed with SCM_RIGHTS (the daemon never opens a path a client names),
 * non-blocking and buffered, so a slow or stuck reader costs dropped lines,
 * never the event loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "daemon.h"
#include "log.h"
#include "module.h"
#include "op_handlers.h"

#define TRACE_MAX 4           /* concurrent traces */
#define TRACE_BUF (64 * 1024) /* per trace; a line that does not fit is dropped */
#define TRACE_TIMER_MS 250    /* timer granularity; lines come once per second */
#define TRACE_INTERVAL_MS 1000
#define TRACE_DRAIN_MS 5000 /* after the end line, time left to flush */
#define TRACE_MAX_UIDS 16   /* connections by uid: first 16 uids, rest "other" */

struct trace {
	bool used, ending;
	int fd;
	unsigned id;
	long long start_ms, next_ms, last_ms, end_ms, drain_until_ms;
	struct op_stats first[DAEMON_MAX_OPS], prev[DAEMON_MAX_OPS];
	uint64_t prev_accepted, prev_dropped_idle, prev_refused_busy;
	unsigned audit_seen;
	json_int_t pol_refreshes;
	bool pol_refreshing;
	uint64_t lines, dropped;
	char *buf;
	size_t len;
};

struct trace_state {
	int timer_fd;
	unsigned next_id;
	struct trace t[TRACE_MAX];
};

/* --- the trace timer (compat.c: timerfd on Linux, a kqueue EVFILT_TIMER on macOS) ------- */

static int trace_timer_open(void)
{
	return rp_timer_open(TRACE_TIMER_MS);
}

static void trace_timer_ack(int fd)
{
	rp_timer_ack(fd);
}

/* --- trace output ------------------------------------------------------------------------- */

static void trace_time(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends one line (steals o); drops it, counted, when the buffer is full. */
static void trace_emit(struct trace *t, json_t *o)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t n;

	json_decref(o);
	if (s == NULL) {
		t->dropped++;
		return;
	}
	n = strlen(s);
	if (t->len + n + 1 > TRACE_BUF) {
		t->dropped++;
	} else {
		memcpy(t->buf + t->len, s, n);
		t->buf[t->len + n] = '\n';
		t->len += n + 1;
		t->lines++;
	}
	free(s);
}

/* Writes what the pipe takes now.  -1: the reader is gone (or the fd is unusable). */
static int trace_flush(struct trace *t)
{
	while (t->len > 0) {
		ssize_t n = write(t->fd, t->buf, t->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		memmove(t->buf, t->buf + n, t->len - (size_t)n);
		t->len -= (size_t)n;
	}
	return 0;
}

static void trace_close(struct trace *t)
{
	close(t->fd);
	free(t->buf);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

/* Connections: total, owed a reply, and a count per peer uid. */
static json_t *trace_conns(struct daemon *d)
{
	uid_t uids[TRACE_MAX_UIDS];
	json_int_t counts[TRACE_MAX_UIDS], other = 0, pending = 0;
	int nu = 0;
	json_t *by = json_object();
	char key[16];

	for (size_t i = 0; i < d->nconns; i++) {
		const struct conn *c = d->conns[i];
		int k;
		pending += c->pending;
		for (k = 0; k < nu && uids[k] != c->peer.uid; k++)
			;
		if (k == nu && nu < TRACE_MAX_UIDS) {
			uids[nu] = c->peer.uid;
			counts[nu++] = 0;
		}
		if (k < nu)
			counts[k]++;
		else
			other++;
	}
	for (int k = 0; k < nu; k++) {
		snprintf(key, sizeof(key), "%u", (unsigned)uids[k]);
		json_object_set_new(by, key, json_integer(counts[k]));
	}
	if (other)
		json_object_set_new(by, "other", json_integer(other));
	return json_pack("{s:I, s:I, s:o}", "open", (json_int_t)d->nconns, "pending", pending,
	                 "by_uid", by);
}

/* Per-op deltas against base (counts and the latency histogram); NULL if nothing happened. */
static json_t *trace_ops_delta(struct daemon *d, const struct op_stats *base, int with_lat)
{
	size_t n;
	const struct op_def *tab = ops_table(&n);
	json_t *ops = json_object();

	for (size_t i = 0; i < n && i < DAEMON_MAX_OPS; i++) {
		const struct op_stats *now = &d->stats[i], *b = &base[i];
		json_t *o, *lat;
		if (now->count == b->count)
			continue;
		o = json_pack("{s:I, s:I, s:I}", "count", (json_int_t)(now->count - b->count),
		              "errors", (json_int_t)(now->errors - b->errors), "refused",
		              (json_int_t)(now->refused - b->refused));
		if (with_lat) {
			lat = json_array();
			for (int k = 0; k < DAEMON_LAT_BUCKETS; k++)
				json_array_append_new(
				    lat, json_integer((json_int_t)(now->lat[k] - b->lat[k])));
			json_object_set_new(o, "lat", lat);
		}
		json_object_set_new(ops, tab[i].name, o);
	}
	if (json_object_size(ops) == 0) {
		json_decref(ops);
		return NULL;
	}
	return ops;
}

/* The refresh-related part of status.policy. */
static json_t *trace_policy(struct daemon *d)
{
	static const char *const keep[] = {
	    "version",         "expired",           "refreshing",   "refreshes",
	    "last_refresh_ms", "max_refresh_ms",    "last_outcome", "last_error",
	    "last_success_at", "next_refresh_in_s", "age_s",        NULL};
	json_t *st = json_object(), *p, *out = json_object();

	modules_status(d, st);
	p = json_object_get(st, "policy");
	for (int i = 0; keep[i] != NULL; i++) {
		json_t *v = json_object_get(p, keep[i]);
		if (v != NULL)
			json_object_set(out, keep[i], v);
	}
	json_decref(st);
	return out;
}

static void trace_policy_line(struct daemon *d, struct trace *t, long long now, int force)
{
	json_t *p = trace_policy(d);
	json_int_t refreshes = json_integer_value(json_object_get(p, "refreshes"));
	bool refreshing = json_is_true(json_object_get(p, "refreshing"));

	if (!force && refreshes == t->pol_refreshes && refreshing == t->pol_refreshing) {
		json_decref(p);
		return;
	}
	t->pol_refreshes = refreshes;
	t->pol_refreshing = refreshing;
	trace_emit(t, json_pack("{s:s, s:I, s:o}", "type", "policy", "t_ms",
	                        (json_int_t)(now - t->start_ms), "policy", p));
}

static void trace_audit_lines(struct daemon *d, struct trace *t, long long now)
{
	unsigned fresh = d->audit_next - t->audit_seen;

	if (fresh > AUDIT_RING) {
		trace_emit(t, json_pack("{s:s, s:I, s:I}", "type", "audit_lost", "t_ms",
		                        (json_int_t)(now - t->start_ms), "count",
		                        (json_int_t)(fresh - AUDIT_RING)));
		t->audit_seen = d->audit_next - AUDIT_RING;
	}
	for (; t->audit_seen != d->audit_next; t->audit_seen++)
		trace_emit(t, json_pack("{s:s, s:I, s:s}", "type", "audit", "t_ms",
		                        (json_int_t)(now - t->start_ms), "line",
		                        d->audit_ring[t->audit_seen % AUDIT_RING]));
}

/* One interval: daemon counters, op deltas, policy if it moved, new audit lines. */
static void trace_interval(struct daemon *d, struct trace *t, long long now)
{
	json_t *ops = trace_ops_delta(d, t->prev, 1);

	trace_emit(
	    t, json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:I, s:i, s:I}", "type", "tick", "t_ms",
	                 (json_int_t)(now - t->start_ms), "interval_ms",
	                 (json_int_t)(now - t->last_ms), "connections", trace_conns(d), "accepted",
	                 (json_int_t)(d->accepted - t->prev_accepted), "dropped_idle",
	                 (json_int_t)(d->dropped_idle - t->prev_dropped_idle), "refused_busy",
	                 (json_int_t)(d->refused_busy - t->prev_refused_busy), "rss_kib",
	                 (int)status_rss_kib(), "dropped_lines", (json_int_t)t->dropped));
	if (ops != NULL)
		trace_emit(t, json_pack("{s:s, s:I, s:o}", "type", "ops", "t_ms",
		                        (json_int_t)(now - t->start_ms), "ops", ops));
	trace_policy_line(d, t, now, 0);
	trace_audit_lines(d, t, now);
	memcpy(t->prev, d->stats, sizeof(t->prev));
	t->prev_accepted = d->accepted;
	t->prev_dropped_idle = d->dropped_idle;
	t->prev_refused_busy = d->refused_busy;
	t->last_ms = now;
}

static void trace_finish(struct daemon *d, struct trace *t, long long now, const char *reason)
{
	json_t *tot = trace_ops_delta(d, t->first, 0);

	/* lines counts the end line itself; dropped is final unless the end line is dropped */
	trace_emit(t, json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "type", "end", "reason", reason,
	                        "t_ms", (json_int_t)(now - t->start_ms), "lines",
	                        (json_int_t)t->lines + 1, "dropped_lines", (json_int_t)t->dropped,
	                        "ops", tot ? tot : json_object()));
	t->ending = true;
	t->drain_until_ms = now + TRACE_DRAIN_MS;
}

static void trace_step(struct daemon *d, struct trace *t, long long now)
{
	if (!t->ending) {
		if (d->stopping) {
			trace_finish(d, t, now, "daemon stopping");
		} else if (now >= t->end_ms) {
			trace_interval(d, t, now);
			trace_finish(d, t, now, "done");
		} else if (now >= t->next_ms) {
			trace_interval(d, t, now);
			t->next_ms += TRACE_INTERVAL_MS;
			if (t->next_ms <= now)
				t->next_ms = now + TRACE_INTERVAL_MS;
		}
	}
	if (trace_flush(t) < 0) {
		log_info("diag.trace %u: reader went away; trace stopped", t->id);
		trace_close(t);
		return;
	}
	if (t->ending && (t->len == 0 || now >= t->drain_until_ms)) {
		if (t->len > 0)
			log_info("diag.trace %u: %zu bytes not taken by the reader were dropped",
			         t->id, t->len);
		trace_close(t);
	}
}

static void trace_on_timer(struct daemon *d, int fd, short revents, void *arg)
{
	struct trace_state *s = d->trace;
	long long now = daemon_now_ms();
	int active = 0;

	(void)revents;
	(void)arg;
	trace_timer_ack(fd);
	for (int i = 0; i < TRACE_MAX; i++) {
		if (s->t[i].used)
			trace_step(d, &s->t[i], now);
		active += s->t[i].used;
	}
	if (active == 0) {
		daemon_watch_del(d, s->timer_fd);
		close(s->timer_fd);
		s->timer_fd = -1;
	}
}

static struct trace_state *trace_state(struct daemon *d)
{
	struct trace_state *s = d->trace;

	if (s == NULL && (s = calloc(1, sizeof(*s))) != NULL) {
		s->timer_fd = -1;
		for (int i = 0; i < TRACE_MAX; i++)
			s->t[i].fd = -1;
		d->trace = s;
	}
	return s;
}

/* The fd must be the write end of a pipe: never a file or a tty that could block us. */
static int trace_check_fd(int fd, struct rp_err *err)
{
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return rp_seterr(err, "E_ARGS",
		                 "diag.trace needs the write end of a pipe (not a file, tty or "
		                 "socket); nothing was started");
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
		return rp_seterr(err, "E_ARGS",
		                 "the pipe end sent with diag.trace is not writable; send the "
		                 "write end");
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return rp_seterr(err, "E_INTERNAL", "fcntl on the trace pipe: %s", strerror(errno));
	return 0;
}

static int trace_arm_timer(struct daemon *d, struct trace_state *s, struct rp_err *err)
{
	if (s->timer_fd >= 0)
		return 0;
	if ((s->timer_fd = trace_timer_open()) < 0)
		return rp_seterr(err, "E_INTERNAL", "cannot create the trace timer: %s",
		                 strerror(errno));
	if (daemon_watch_add(d, s->timer_fd, POLLIN, trace_on_timer, NULL) < 0) {
		close(s->timer_fd);
		s->timer_fd = -1;
		return rp_seterr(err, "E_BUSY", "no room to watch another timer; try later");
	}
	return 0;
}

static json_t *trace_start_line(const struct trace *t, long long seconds)
{
	size_t n;
	const struct op_def *tab = ops_table(&n);
	json_t *names = json_array(), *bounds = json_array();
	char ts[32];

	for (size_t i = 0; i < n; i++)
		json_array_append_new(names, json_string(tab[i].name));
	/* bucket k holds latencies below 2^k us (and at least 2^(k-1)); the last is open */
	for (int k = 0; k < DAEMON_LAT_BUCKETS; k++)
		json_array_append_new(bounds, k < DAEMON_LAT_BUCKETS - 1 ? json_integer(1LL << k)
		                                                         : json_null());
	trace_time(ts, sizeof(ts));
	return json_pack("{s:s, s:i, s:s, s:i, s:s, s:I, s:i, s:o, s:o}", "type", "start", "trace",
	                 (int)t->id, "version", RAMPART_VERSION, "pid", (int)getpid(), "time", ts,
	                 "seconds", (json_int_t)seconds, "interval_ms", TRACE_INTERVAL_MS,
	                 "lat_upper_us", bounds, "ops", names);
}

int op_diag_trace(struct op_ctx *ctx)
{
	static const char *const known[] = {"seconds", NULL};
	struct daemon *d = ctx->d;
	struct trace_state *s;
	struct trace *t = NULL;
	long long seconds = 10, now = daemon_now_ms();

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_int(ctx->args, "seconds", 0, 1, 300, &seconds, &ctx->err) < 0 ||
	    trace_check_fd(ctx->in_fd, &ctx->err) < 0)
		return OP_ERR;
	if ((s = trace_state(d)) == NULL)
		return rp_seterr(&ctx->err, "E_INTERNAL", "out of memory");
	for (int i = 0; i < TRACE_MAX && t == NULL; i++)
		if (!s->t[i].used)
			t = &s->t[i];
	if (t == NULL)
		return rp_seterr(&ctx->err, "E_BUSY", "%d traces are already running; try later",
		                 TRACE_MAX);
	if (trace_arm_timer(d, s, &ctx->err) < 0)
		return OP_ERR;
	if ((t->buf = malloc(TRACE_BUF)) == NULL)
		return rp_seterr(&ctx->err, "E_INTERNAL", "out of memory");
	t->used = true;
	t->fd = ctx->in_fd;
	ctx->in_fd = -1;
	t->id = ++s->next_id;
	t->start_ms = t->last_ms = now;
	t->next_ms = now + TRACE_INTERVAL_MS;
	t->end_ms = now + seconds * 1000;
	memcpy(t->first, d->stats, sizeof(t->first));
	memcpy(t->prev, d->stats, sizeof(t->prev));
	t->prev_accepted = d->accepted;
	t->prev_dropped_idle = d->dropped_idle;
	t->prev_refused_busy = d->refused_busy;
	t->audit_seen = d->audit_next;
	trace_emit(t, trace_start_line(t, seconds));
	trace_policy_line(d, t, now, 1);
	(void)trace_flush(t); /* the reader sees the header at once; errors show next tick */
	ctx->result = json_pack("{s:b, s:i, s:I}", "started", 1, "trace", (int)t->id, "seconds",
	                        (json_int_t)seconds);
	return OP_OK;
}

/* --- diag.audit ---------------------------------------------------------------------------- */

int op_diag_audit(struct op_ctx *ctx)
{
	static const char *const known[] = {"max", NULL};
	struct daemon *d = ctx->d;
	long long max = AUDIT_RING;
	unsigned have = d->audit_next < AUDIT_RING ? d->audit_next : AUDIT_RING, first;
	json_t *lines;

	if (args_only(ctx->args, known, &ctx->err) < 0 ||
	    args_int(ctx->args, "max", 0, 1, AUDIT_RING, &max, &ctx->err) < 0)
		return OP_ERR;
	if (have > (unsigned)max)
		have = (unsigned)max;
	first = d->audit_next - have;
	lines = json_array();
	for (unsigned i = first; i != d->audit_next; i++)
		json_array_append_new(lines, json_string(d->audit_ring[i % AUDIT_RING]));
	ctx->result =
	    json_pack("{s:o, s:I, s:s}", "lines", lines, "total", (json_int_t)d->audit_next, "log",
	              d->cfg.audit_log[0] ? "file" : "syslog");
	return OP_OK;
}
