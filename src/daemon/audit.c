/* SPDX-License-Identifier: ISC */
/*
 * The audit log: one line per privileged op (and per refusal), to syslog
 * (LOG_AUTHPRIV) or to an append-only file.  Client-supplied text is escaped
 * so a request can never start a line of its own.  The last lines are kept in
 * memory for diag.trace and diag bundles.
 *
 * Refusals and errors are client-triggered, so they are coalesced: the first
 * line of a kind (uid, op, result, code) is written, repeats within
 * AUDIT_WINDOW_S are only counted and summed up in one "repeated=N" line;
 * one uid gets at most AUDIT_UID_KEYS kinds per window, and all clients
 * together at most AUDIT_RATE first lines a second (AUDIT_BURST at once).
 * What is folded is counted, never silently lost.  Lines of successful
 * operations ("ok", "started", refresh outcomes) are always written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "module.h"
#include "safefs.h"

#define AUDIT_WINDOW_S 10
#define AUDIT_KINDS 128
#define AUDIT_UID_KEYS 8
#define AUDIT_RATE 10
#define AUDIT_BURST 100

struct audit_kind {
	bool used;
	struct peer peer; /* of the first line */
	char op[40], result[16], code[40];
	time_t first, last;
	uint64_t repeated; /* lines not written since the first */
};

struct audit_state {
	struct audit_kind k[AUDIT_KINDS];
	struct audit_kind over; /* folded by the global rate cap: uid "*" */
	double tokens;
	time_t tokens_at, ticked;
};

void audit_open(struct daemon *d)
{
	if (d->audit_fd >= 0) {
		close(d->audit_fd);
		d->audit_fd = -1;
	}
	if (d->cfg.audit_log[0] == '\0')
		return;
	d->audit_fd =
	    open(d->cfg.audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (d->audit_fd < 0)
		log_warn("audit log %s (falling back to syslog)", d->cfg.audit_log);
}

static void audit_time(time_t t, char *ts, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Writes one finished line to the ring and the log. */
static void audit_emit(struct daemon *d, char *line)
{
	size_t len = strlen(line);

	rp_strlcpy(d->audit_ring[d->audit_next % AUDIT_RING], line, sizeof(d->audit_ring[0]));
	d->audit_next++;
	if (d->audit_fd >= 0) {
		line[len] = '\n';
		if (safefs_write_all(d->audit_fd, line, len + 1) < 0)
			log_warn("audit write");
		line[len] = '\0';
	} else {
		syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", line);
	}
}

static void audit_write(struct daemon *d, time_t now, const char *op, const struct peer *p,
                        const char *result, const char *code, const char *detail)
{
	char esc[300], ts[32], line[600];

	audit_time(now, ts, sizeof(ts));
	log_escape(esc, sizeof(esc), detail ? detail : "", detail ? strlen(detail) : 0);
	if (snprintf(line, sizeof(line) - 1,
	             "time=%s op=%s uid=%u gid=%u pid=%ld result=%s%s%s%s%s%s", ts, op,
	             (unsigned)p->uid, (unsigned)p->gid, (long)p->pid, result,
	             code && *code ? " code=" : "", code ? code : "", *esc ? " detail=\"" : "", esc,
	             *esc ? "\"" : "") < 0)
		return;
	audit_emit(d, line);
}

/* The summary of a kind's window, if anything was folded into it; frees the slot. */
static void audit_close_kind(struct daemon *d, struct audit_kind *k, bool all_uids)
{
	char ts[32], first[32], last[32], uid[16], line[600];

	if (k->used && k->repeated > 0) {
		audit_time(time(NULL), ts, sizeof(ts));
		audit_time(k->first, first, sizeof(first));
		audit_time(k->last, last, sizeof(last));
		snprintf(uid, sizeof(uid), "%u", (unsigned)k->peer.uid);
		snprintf(line, sizeof(line) - 1,
		         "time=%s op=%s uid=%s result=%s%s%s repeated=%llu first=%s last=%s", ts,
		         k->op, all_uids ? "*" : uid, k->result, *k->code ? " code=" : "", k->code,
		         (unsigned long long)k->repeated, first, last);
		audit_emit(d, line);
	}
	memset(k, 0, sizeof(*k));
}

static struct audit_state *audit_st(struct daemon *d)
{
	if (d->audit_state == NULL)
		d->audit_state = calloc(1, sizeof(struct audit_state));
	return d->audit_state;
}

static void audit_fold(struct audit_kind *k, const char *op, const struct peer *p,
                       const char *result, const char *code, time_t now)
{
	if (!k->used) {
		k->used = true;
		k->peer = *p;
		rp_strlcpy(k->op, op, sizeof(k->op));
		rp_strlcpy(k->result, result, sizeof(k->result));
		rp_strlcpy(k->code, code ? code : "", sizeof(k->code));
		k->first = now;
	}
	k->repeated++;
	k->last = now;
}

/* 1 if a first line may be written now (global token bucket). */
static int audit_take_token(struct audit_state *s, time_t now)
{
	if (s->tokens_at == 0)
		s->tokens = AUDIT_BURST;
	else if (now > s->tokens_at)
		s->tokens += (double)(now - s->tokens_at) * AUDIT_RATE;
	if (s->tokens > AUDIT_BURST)
		s->tokens = AUDIT_BURST;
	s->tokens_at = now;
	if (s->tokens < 1)
		return 0;
	s->tokens -= 1;
	return 1;
}

/* A refusal or error: write it, count it as a repeat, or fold it. */
static void audit_coalesce(struct daemon *d, struct audit_state *s, time_t now, const char *op,
                           const struct peer *p, const char *result, const char *code,
                           const char *detail)
{
	struct audit_kind *free_k = NULL, *oldest = NULL, *over = NULL;
	int same_uid = 0;

	code = code ? code : "";
	for (int i = 0; i < AUDIT_KINDS; i++) {
		struct audit_kind *k = &s->k[i];
		if (k->used && now - k->first >= AUDIT_WINDOW_S)
			audit_close_kind(d, k, false);
		if (!k->used) {
			free_k = free_k ? free_k : k;
			continue;
		}
		if (k->peer.uid != p->uid)
			goto age;
		if (strcmp(k->op, "*") == 0)
			over = k;
		else
			same_uid++;
		if (strcmp(k->op, op) == 0 && strcmp(k->result, result) == 0 &&
		    strcmp(k->code, code) == 0) {
			audit_fold(k, op, p, result, code, now);
			return;
		}
	age:
		if (oldest == NULL || k->first < oldest->first)
			oldest = k;
	}
	if (same_uid >= AUDIT_UID_KEYS) { /* this uid's kinds for the window are used up */
		if (over == NULL) {
			over = free_k ? free_k : oldest;
			audit_close_kind(d, over, false);
		}
		audit_fold(over, "*", p, "suppressed", "", now);
		return;
	}
	if (!audit_take_token(s, now)) {
		audit_fold(&s->over, "*", p, "suppressed", "", now);
		return;
	}
	if (free_k == NULL) {
		free_k = oldest;
		audit_close_kind(d, free_k, false);
	}
	audit_fold(free_k, op, p, result, code, now);
	free_k->repeated = 0; /* this first line is written */
	audit_write(d, now, op, p, result, code, detail);
}

void audit_log(struct daemon *d, const char *op, const struct peer *p, const char *result,
               const char *code, const char *detail)
{
	struct audit_state *s = audit_st(d);
	time_t now = time(NULL);

	if (s != NULL && (strcmp(result, "refused") == 0 || strcmp(result, "error") == 0)) {
		audit_coalesce(d, s, now, op, p, result, code, detail);
		return;
	}
	audit_write(d, now, op, p, result, code, detail);
}

void audit_tick(struct daemon *d)
{
	struct audit_state *s = d->audit_state;
	time_t now = time(NULL);

	if (s == NULL || now == s->ticked)
		return;
	s->ticked = now;
	for (int i = 0; i < AUDIT_KINDS; i++)
		if (s->k[i].used && now - s->k[i].first >= AUDIT_WINDOW_S)
			audit_close_kind(d, &s->k[i], false);
	if (s->over.used && now - s->over.first >= AUDIT_WINDOW_S)
		audit_close_kind(d, &s->over, true);
}

void audit_flush(struct daemon *d)
{
	struct audit_state *s = d->audit_state;

	if (s == NULL)
		return;
	for (int i = 0; i < AUDIT_KINDS; i++)
		audit_close_kind(d, &s->k[i], false);
	audit_close_kind(d, &s->over, true);
	free(s);
	d->audit_state = NULL;
}

static void audit_module_tick(struct daemon *d, long long now_ms, long long *next_ms)
{
	audit_tick(d);
	if (d->audit_state != NULL && now_ms + 1000 < *next_ms)
		*next_ms = now_ms + 1000; /* summaries are due once a second at the latest */
}

const struct module_def audit_module = {
    .name = "audit", .tick = audit_module_tick, .fini = audit_flush};
