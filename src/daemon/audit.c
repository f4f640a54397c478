/* SPDX-License-Identifier: ISC */
/*
 * The audit log: one line per privileged op (and per refusal), to syslog
 * (LOG_AUTHPRIV) or to an append-only file.  Client-supplied text is escaped
 * so a request can never start a line of its own.  The last lines are kept in
 * memory for diag.trace and diag bundles.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "safefs.h"

void audit_open(struct daemon *d)
{
	if (d->audit_fd >= 0) {
		close(d->audit_fd);
		d->audit_fd = -1;
	}
	if (d->cfg.audit_log[0] == '\0')
		return;
	d->audit_fd = open(d->cfg.audit_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			   0640);
	if (d->audit_fd < 0)
		log_warn("audit log %s (falling back to syslog)", d->cfg.audit_log);
}

void audit_log(struct daemon *d, const char *op, const struct peer *p, const char *result,
	       const char *code, const char *detail)
{
	char esc[300], ts[32], line[512];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_escape(esc, sizeof(esc), detail ? detail : "", detail ? strlen(detail) : 0);
	n = snprintf(line, sizeof(line), "time=%s op=%s uid=%u gid=%u pid=%ld result=%s%s%s%s%s%s",
		     ts, op, (unsigned)p->uid, (unsigned)p->gid, (long)p->pid, result,
		     code && *code ? " code=" : "", code ? code : "",
		     *esc ? " detail=\"" : "", esc, *esc ? "\"" : "");
	if (n < 0)
		return;
	rp_strlcpy(d->audit_ring[d->audit_next % AUDIT_RING], line, sizeof(d->audit_ring[0]));
	d->audit_next++;
	if (d->audit_fd >= 0) {
		size_t len = strlen(line);
		line[len] = '\n';
		if (safefs_write_all(d->audit_fd, line, len + 1) < 0)
			log_warn("audit write");
		line[len] = '\0';
	} else {
		syslog(LOG_AUTHPRIV | LOG_NOTICE, "%s", line);
	}
}
