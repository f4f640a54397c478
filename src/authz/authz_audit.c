/* SPDX-License-Identifier: ISC */
/*
 * rampart-authz's audit trail: one line per refusal (and per would-be refusal
 * in warn mode), counters for everything else.  Identical lines within a
 * minute are coalesced: the first is written at once, the rest are counted
 * and written as one line with repeated=N when the minute is over, so a loop
 * of refused pulls cannot flood the log.  Every field that came from the
 * request is escaped (log_escape), so a request can never start a line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "log.h"

#define AUDIT_SLOTS 64
#define AUDIT_WINDOW_S 60
#define AUDIT_LINE_MAX 4096

struct audit_slot {
	uint64_t hash;     /* of the line without time and count; 0 = free */
	int64_t first;     /* when the line was last written */
	uint64_t repeated; /* identical decisions since, not yet written */
	char line[AUDIT_LINE_MAX];
};

struct authz_audit {
	int fd; /* -1: syslog */
	struct authz_stats st;
	struct audit_slot slot[AUDIT_SLOTS];
};

struct authz_audit *authz_audit_open(const char *path)
{
	struct authz_audit *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->fd = -1;
	if (*path &&
	    (a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640)) < 0)
		log_warn("audit log %s (falling back to syslog)", path);
	return a;
}

void authz_audit_close(struct authz_audit *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	free(a);
}

const struct authz_stats *authz_audit_stats(const struct authz_audit *a)
{
	return &a->st;
}

static uint64_t audit_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h ? h : 1;
}

static void audit_emit(struct authz_audit *a, int64_t when, const char *body, uint64_t repeated)
{
	char ts[32], line[AUDIT_LINE_MAX + 96];
	time_t t = (time_t)when;
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (repeated)
		n = snprintf(line, sizeof(line), "time=%s %s repeated=%llu", ts, body,
		             (unsigned long long)repeated);
	else
		n = snprintf(line, sizeof(line), "time=%s %s", ts, body);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	if (a->fd >= 0) {
		line[n] = '\n';
		if (write(a->fd, line, (size_t)n + 1) < 0)
			log_warn("audit write");
	} else {
		syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", line);
	}
}

/* denied; warn (refused, allowed by mode warn); warn-rule (allowed, a warn rule would deny) */
static const char *audit_result(const struct authz_verdict *v)
{
	if (!v->allow)
		return "denied";
	return v->would_deny ? "warn" : "warn-rule";
}

/* "engine=docker op=pull result=denied ..." without time: the coalescing key. */
static void audit_body(char *dst, size_t size, const struct authz_verdict *v, enum authz_mode mode)
{
	char ref[AUTHZ_MAX_REF + 8], msg[1100];

	log_escape(ref, sizeof(ref), v->ref, strlen(v->ref));
	log_escape(msg, sizeof(msg), v->msg, strlen(v->msg));
	snprintf(dst, size,
	         "engine=docker op=%s result=%s mode=%s ref=\"%s\" normalized=\"%s\" rule=\"%s\" "
	         "policy_version=%lld%s msg=\"%s\"",
	         authz_kind_name(v->kind), audit_result(v), authz_mode_name(mode), ref,
	         v->normalized, v->rule, (long long)v->policy_version, v->is_err ? " error=1" : "",
	         msg);
}

static void audit_slot_flush(struct authz_audit *a, struct audit_slot *s, int64_t now)
{
	if (s->hash != 0 && s->repeated > 0)
		audit_emit(a, now, s->line, s->repeated);
	s->hash = 0;
	s->repeated = 0;
}

static void audit_line(struct authz_audit *a, const char *body, int64_t now)
{
	uint64_t h = audit_hash(body);
	struct audit_slot *s, *oldest = &a->slot[0];

	for (size_t i = 0; i < AUDIT_SLOTS; i++) {
		s = &a->slot[i];
		if (s->hash == h && strcmp(s->line, body) == 0 && now - s->first < AUDIT_WINDOW_S) {
			s->repeated++;
			a->st.audit_suppressed++;
			return;
		}
		if (oldest->hash == 0)
			continue; /* a free slot is taken before any used one */
		if (s->hash == 0 || s->first < oldest->first)
			oldest = s;
	}
	audit_slot_flush(a, oldest, now);
	audit_emit(a, now, body, 0);
	oldest->hash = h;
	oldest->first = now;
	rp_strlcpy(oldest->line, body, sizeof(oldest->line));
}

void authz_audit_record(struct authz_audit *a, const struct authz_verdict *v, enum authz_mode mode,
                        int64_t now)
{
	char body[AUDIT_LINE_MAX];
	unsigned k = (unsigned)v->kind < AUTHZ_NKINDS ? (unsigned)v->kind : 0;

	if (v->is_err)
		a->st.errors++;
	if (!v->would_deny) {
		a->st.allowed[k]++;
		if (v->rule_warn) { /* allowed; a rule in mode warn would deny it */
			audit_body(body, sizeof(body), v, mode);
			audit_line(a, body, now);
		}
		return;
	}
	if (v->allow)
		a->st.warned[k]++;
	else
		a->st.denied[k]++;
	audit_body(body, sizeof(body), v, mode);
	audit_line(a, body, now);
}

void authz_audit_tick(struct authz_audit *a, int64_t now, bool final)
{
	for (size_t i = 0; i < AUDIT_SLOTS; i++) {
		struct audit_slot *s = &a->slot[i];
		if (s->hash != 0 && (final || now - s->first >= AUDIT_WINDOW_S))
			audit_slot_flush(a, s, now);
	}
}
