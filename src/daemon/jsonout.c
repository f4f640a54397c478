/* SPDX-License-Identifier: ISC */
/*
 * Compact JSON output for replies.  Values come from the daemon's own json_t
 * trees (strings already valid UTF-8), so the writer only escapes and never
 * validates; every append is bounds-checked and growth is geometric.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"

#define JSONOUT_MAX_DEPTH 64

static int jbuf_grow(struct jbuf *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->err)
		return -1;
	while (cap < b->len + need)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->err = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void jbuf_put(struct jbuf *b, const char *s, size_t n)
{
	if (jbuf_grow(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void jbuf_str(struct jbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF"; /* as jansson writes it */
	size_t i, run = 0;

	jbuf_put(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;
		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		jbuf_put(b, s + i - run, run);
		run = 0;
		esc[0] = '\\';
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		jbuf_put(b, esc, elen);
	}
	jbuf_put(b, s + n - run, run);
	jbuf_put(b, "\"", 1);
}

void jbuf_int(struct jbuf *b, long long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[--i] = '-';
	jbuf_put(b, tmp + i, sizeof(tmp) - i);
}

static void jbuf_real(struct jbuf *b, double d)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%.17g", d);

	if (n <= 0 || (size_t)n >= sizeof(tmp) || strpbrk(tmp, "ni") != NULL) {
		b->err = 1; /* inf/nan are not JSON */
		return;
	}
	jbuf_put(b, tmp, (size_t)n);
	if (strpbrk(tmp, ".e") == NULL)
		jbuf_put(b, ".0", 2);
}

static void jbuf_any(struct jbuf *b, json_t *v, int depth)
{
	const char *k;
	json_t *x;
	size_t i, first = 1;

	if (depth > JSONOUT_MAX_DEPTH) {
		b->err = 1;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jbuf_put(b, "{", 1);
		json_object_foreach (v, k, x) {
			if (!first)
				jbuf_put(b, ",", 1);
			first = 0;
			jbuf_str(b, k, strlen(k));
			jbuf_put(b, ":", 1);
			jbuf_any(b, x, depth + 1);
		}
		jbuf_put(b, "}", 1);
		break;
	case JSON_ARRAY:
		jbuf_put(b, "[", 1);
		json_array_foreach (v, i, x) {
			if (i)
				jbuf_put(b, ",", 1);
			jbuf_any(b, x, depth + 1);
		}
		jbuf_put(b, "]", 1);
		break;
	case JSON_STRING:
		jbuf_str(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		jbuf_int(b, (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		jbuf_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		jbuf_put(b, "true", 4);
		break;
	case JSON_FALSE:
		jbuf_put(b, "false", 5);
		break;
	case JSON_NULL:
		jbuf_put(b, "null", 4);
		break;
	default:
		b->err = 1;
	}
}

void jbuf_value(struct jbuf *b, json_t *v)
{
	if (v == NULL) {
		b->err = 1;
		return;
	}
	jbuf_any(b, v, 0);
}

/* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
int jbuf_utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = u[i];
		size_t k;
		unsigned cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((u[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (u[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

void jbuf_string(struct jbuf *b, const char *s, size_t n)
{
	if (s == NULL || !jbuf_utf8_valid(s, n)) {
		b->err = 1;
		return;
	}
	jbuf_str(b, s, n);
}

void jbuf_bool(struct jbuf *b, int v)
{
	if (v)
		jbuf_put(b, "true", 4);
	else
		jbuf_put(b, "false", 5);
}
