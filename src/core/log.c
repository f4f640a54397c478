/* SPDX-License-Identifier: ISC */
/*
 * Logging to syslog or stderr.  Messages may contain client-supplied strings
 * only after log_escape(), so one request can never forge a second log line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static int log_stderr = 1;
static int log_verbose;
static const char *log_ident = "rampart";

void log_init(const char *ident, int to_stderr, int verbose)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_verbose = verbose;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

__attribute__((format(printf, 2, 0))) static void vlog(int pri, const char *fmt, va_list ap,
                                                       const char *suffix)
{
	char buf[2048];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (log_stderr) {
		fprintf(stderr, "%s: %s%s%s\n", log_ident, buf, suffix ? ": " : "",
		        suffix ? suffix : "");
		fflush(stderr);
	} else if (suffix) {
		syslog(pri, "%s: %s", buf, suffix);
	} else {
		syslog(pri, "%s", buf);
	}
}

void log_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;
	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);
	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, e);
	va_end(ap);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	const char *e = strerror(errno);
	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, e);
	va_end(ap);
	exit(1);
}
