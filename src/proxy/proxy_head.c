/* SPDX-License-Identifier: ISC */
/*
 * HTTP/1.x forward-proxy request heads.  Input is client-controlled: the head
 * must end within PROXY_HEAD_MAX bytes, lines end in CRLF only (a bare LF or
 * CR is refused, so no two parsers can disagree on where a line ends), field
 * lines are never folded, and the only targets served are CONNECT
 * host:port and absolute-form http:// URLs.
 */
#include <string.h>

#include "proxy_head.h"

static bool ph_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool ph_hostchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* ASCII case-insensitive prefix test (no locale). */
static bool ph_prefix_ci(const char *s, const char *prefix, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char a = s[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != prefix[i])
			return false;
	}
	return true;
}

static int ph_bad(struct proxy_head *h, int rc, const char *why)
{
	h->why = why;
	return rc;
}

/* Length of the head up to and including CRLFCRLF, 0 if not there yet, -1 on a bare CR/LF. */
static long ph_find_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return -1;
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n')
			return -1;
		if (buf[i] == '\n' && i >= 3 && buf[i - 2] == '\n')
			return (long)(i + 1);
	}
	return 0;
}

/* "host:port" or "[v6]:port" (need_port) or with an optional port; fills h. */
static int ph_authority(struct proxy_head *h, const char *s, size_t n, bool need_port)
{
	size_t hl = 0, i = 0;
	unsigned long port = 0;

	if (n > 0 && s[0] == '[') {
		while (i < n && s[i] != ']') {
			unsigned char c = (unsigned char)s[i];
			if (i > 0 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			               (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
				return ph_bad(h, PROXY_HEAD_BAD,
				              "invalid IPv6 literal in the target");
			i++;
		}
		if (i == n)
			return ph_bad(h, PROXY_HEAD_BAD, "unterminated IPv6 literal in the target");
		hl = ++i;
	} else {
		while (i < n && s[i] != ':') {
			if (!ph_hostchar((unsigned char)s[i]))
				return ph_bad(h, PROXY_HEAD_BAD,
				              "invalid character in the target host");
			i++;
		}
		hl = i;
	}
	if (hl == 0 || hl >= sizeof(h->host))
		return ph_bad(h, PROXY_HEAD_BAD, "empty or overlong host in the target");
	memcpy(h->host, s, hl);
	h->host[hl] = '\0';
	h->port_given = i < n;
	if (i < n) {
		if (s[i] != ':' || i + 1 == n || n - i - 1 > 5)
			return ph_bad(h, PROXY_HEAD_BAD, "invalid port in the target");
		for (i++; i < n; i++) {
			if (s[i] < '0' || s[i] > '9')
				return ph_bad(h, PROXY_HEAD_BAD, "invalid port in the target");
			port = port * 10 + (unsigned long)(s[i] - '0');
		}
		if (port == 0 || port > 65535)
			return ph_bad(h, PROXY_HEAD_BAD, "port out of range in the target");
	} else if (need_port) {
		return ph_bad(h, PROXY_HEAD_BAD, "CONNECT needs host:port");
	}
	h->port = h->port_given ? (unsigned)port : 80;
	return PROXY_HEAD_OK;
}

/* "http://authority/path": the only non-CONNECT form a forward proxy serves. */
static int ph_absolute(struct proxy_head *h, const char *t, size_t n)
{
	static const char scheme[] = "http://";
	size_t sl = sizeof(scheme) - 1, a;
	int rc;

	if (n < sl || !ph_prefix_ci(t, scheme, sl)) {
		if (n > 0 && t[0] == '/')
			return ph_bad(h, PROXY_HEAD_METHOD,
			              "this is a proxy: send an absolute http:// URL or CONNECT");
		return ph_bad(h, PROXY_HEAD_METHOD,
		              "only http:// URLs and CONNECT are served (use CONNECT for https)");
	}
	t += sl;
	n -= sl;
	for (a = 0; a < n && t[a] != '/' && t[a] != '?'; a++)
		if (t[a] == '@')
			return ph_bad(h, PROXY_HEAD_BAD, "user information in the URL is refused");
	if ((rc = ph_authority(h, t, a, false)) != PROXY_HEAD_OK)
		return rc;
	if (a == n) {
		memcpy(h->path, "/", 2);
		return PROXY_HEAD_OK;
	}
	if (t[a] != '/' || n - a >= sizeof(h->path))
		return ph_bad(h, PROXY_HEAD_BAD, "the URL path is missing or too long");
	for (size_t i = a; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f || t[i] == '#')
			return ph_bad(h, PROXY_HEAD_BAD, "invalid character in the URL path");
	memcpy(h->path, t + a, n - a);
	h->path[n - a] = '\0';
	return PROXY_HEAD_OK;
}

/* METHOD SP target SP HTTP/1.x */
static int ph_request_line(struct proxy_head *h, const char *l, size_t n)
{
	const char *sp1 = memchr(l, ' ', n), *sp2;
	size_t ml, tl;

	if (sp1 == NULL || (sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - l))) == NULL)
		return ph_bad(h, PROXY_HEAD_BAD, "malformed request line");
	ml = (size_t)(sp1 - l);
	tl = (size_t)(sp2 - sp1 - 1);
	if (ml == 0 || ml >= sizeof(h->method) || tl == 0)
		return ph_bad(h, PROXY_HEAD_BAD, "malformed request line");
	for (size_t i = 0; i < ml; i++)
		if (l[i] < 'A' || l[i] > 'Z')
			return ph_bad(h, PROXY_HEAD_BAD, "invalid method");
	memcpy(h->method, l, ml);
	h->method[ml] = '\0';
	if ((size_t)(l + n - sp2 - 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return ph_bad(h, PROXY_HEAD_BAD, "only HTTP/1.0 and HTTP/1.1 are served");
	h->minor = sp2[8] - '0';
	h->connect = strcmp(h->method, "CONNECT") == 0;
	if (h->connect)
		return ph_authority(h, sp1 + 1, tl, true);
	return ph_absolute(h, sp1 + 1, tl);
}

static int ph_field(struct proxy_head *h, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n);
	struct proxy_field *f;
	size_t vs, ve;

	if (l[0] == ' ' || l[0] == '\t')
		return ph_bad(h, PROXY_HEAD_BAD, "folded header lines are refused");
	if (colon == NULL || colon == l)
		return ph_bad(h, PROXY_HEAD_BAD, "malformed header line");
	for (const char *p = l; p < colon; p++)
		if (!ph_tchar((unsigned char)*p))
			return ph_bad(h, PROXY_HEAD_BAD, "invalid header name");
	if (h->nfields == PROXY_HEAD_MAX_FIELDS)
		return ph_bad(h, PROXY_HEAD_TOO_BIG, "too many header fields");
	vs = (size_t)(colon - l) + 1;
	ve = n;
	while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
		vs++;
	while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
		ve--;
	for (size_t i = vs; i < ve; i++) {
		unsigned char c = (unsigned char)l[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return ph_bad(h, PROXY_HEAD_BAD, "control character in a header value");
	}
	f = &h->fields[h->nfields++];
	f->name = l;
	f->name_len = (size_t)(colon - l);
	f->value = l + vs;
	f->value_len = ve - vs;
	return PROXY_HEAD_OK;
}

int proxy_head_parse(const char *buf, size_t len, struct proxy_head *h)
{
	long end;
	size_t pos = 0;
	int rc;

	memset(h, 0, sizeof(*h));
	end = ph_find_end(buf, len < PROXY_HEAD_MAX ? len : PROXY_HEAD_MAX);
	if (end < 0)
		return ph_bad(h, PROXY_HEAD_BAD, "lines must end in CRLF");
	if (end == 0)
		return len >= PROXY_HEAD_MAX
		           ? ph_bad(h, PROXY_HEAD_TOO_BIG, "request head over 8 KiB")
		           : PROXY_HEAD_PARTIAL;
	h->head_len = (size_t)end;
	while (pos + 2 < (size_t)end) {
		const char *l = buf + pos;
		const char *crlf = memchr(l, '\r', (size_t)end - pos);
		size_t n = (size_t)(crlf - l);

		if (n == 0)
			return ph_bad(h, PROXY_HEAD_BAD, "empty line inside the head");
		rc = pos == 0 ? ph_request_line(h, l, n) : ph_field(h, l, n);
		if (rc != PROXY_HEAD_OK)
			return rc;
		pos += n + 2;
	}
	if (pos == 0)
		return ph_bad(h, PROXY_HEAD_BAD, "no request line");
	return PROXY_HEAD_OK;
}

bool proxy_field_is(const struct proxy_field *f, const char *name)
{
	size_t n = strlen(name);

	if (f->name_len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = f->name[i], b = name[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}
