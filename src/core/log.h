/* SPDX-License-Identifier: ISC */
/* Small logging helpers in the OpenBSD style, plus the audit log. */
#ifndef RAMPART_LOG_H
#define RAMPART_LOG_H

#include <stddef.h>

/* to_stderr: log to stderr (foreground/tests) instead of syslog. */
void log_init(const char *ident, int to_stderr, int verbose);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)". */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* For startup and impossible states only; never for client input. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* log_escape() (escaping untrusted bytes for a log line) is in err.h. */
#include "err.h"

#endif
