/* SPDX-License-Identifier: ISC */
/*
 * One error convention for every module: a stable machine code (E_...) and a
 * sentence for people.  Functions that can fail take a `struct rp_err *` (may
 * be NULL) and return -1 after filling it.
 */
#ifndef RAMPART_ERR_H
#define RAMPART_ERR_H

#include <stddef.h>

struct rp_err {
	char code[40];
	char msg[512];
};

/* Sets code and a printf-style message; returns -1 so callers can `return rp_seterr(...)`. */
int rp_seterr(struct rp_err *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rp_clearerr(struct rp_err *e);

/* The registry (errcodes.h): 1 if code is registered, else 0. */
int rp_errcode_known(const char *code);
/* The CLI's exit status for a daemon error reply with this code (1 if unknown). */
int rp_errcode_exit(const char *code);

/* Safe string copy: always NUL-terminates, returns strlen(src). */
size_t rp_strlcpy(char *dst, const char *src, size_t size);

/*
 * Escapes untrusted bytes for a log line: printable ASCII except '\\' and '"'
 * is kept, everything else becomes \xNN.  Output is always NUL-terminated and
 * truncated with "..." if it does not fit.  Returns dst.
 */
char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
