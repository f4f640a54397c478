/* SPDX-License-Identifier: ISC */
/*
 * Error helpers shared by the library, the daemon and the tools.  Trusts
 * nothing about message length: every write is bounded.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "errcodes.h"

static const struct {
	const char *code;
	int exit;
} err_registry[] = {
#define X(code, exit, sentence) {#code, exit},
    RP_ERRCODES(X)
#undef X
};

static int err_find(const char *code)
{
	for (size_t i = 0; code != NULL && i < sizeof(err_registry) / sizeof(err_registry[0]); i++)
		if (strcmp(err_registry[i].code, code) == 0)
			return (int)i;
	return -1;
}

int rp_errcode_known(const char *code)
{
	return err_find(code) >= 0;
}

int rp_errcode_exit(const char *code)
{
	int i = err_find(code);

	return i < 0 ? 1 : err_registry[i].exit;
}

int rp_seterr(struct rp_err *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	rp_strlcpy(e->code, code, sizeof(e->code));
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void rp_clearerr(struct rp_err *e)
{
	if (e != NULL) {
		e->code[0] = '\0';
		e->msg[0] = '\0';
	}
}

size_t rp_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

char *log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstlen == 0)
		return dst;
	for (size_t i = 0; i < srclen; i++) {
		unsigned char c = (unsigned char)src[i];
		size_t need = (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') ? 1 : 4;
		if (o + need + 4 > dstlen) {
			if (o + 4 <= dstlen) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
