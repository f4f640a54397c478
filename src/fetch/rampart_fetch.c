/* SPDX-License-Identifier: ISC */
/*
 * rampart-fetch: the only rampart program that links libcurl.  rampartd forks,
 * drops root, and execs it with an empty environment, the options record on
 * fd 4 (trusted: written by root) and the answer pipe on fd 3; it downloads
 * one policy (https only, capped, time-bounded; from an OCI registry through
 * oci_fetch.c) and writes one fixed header plus the body to fd 3.  It refuses to run with any root
 * id, never parses the policy, and writes no files.  See docs/store.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "compat.h"
#include "fetch_child.h"

_Static_assert(FETCH_OPTS_FD == FETCH_WIRE_FD + 1, "fd layout");

static void fx_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int fx_write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The answer: header, then the body when kind is FW_OK.  Ends the process. */
static _Noreturn void fx_reply(struct fetch_wire *w, const struct fx_body *b)
{
	w->magic = FETCH_WIRE_MAGIC;
	w->uid = (uint32_t)geteuid();
	w->gid = (uint32_t)getegid();
	if (w->kind != FW_OK || b == NULL)
		w->body_len = 0;
	if (fx_write_all(FETCH_WIRE_FD, w, sizeof(*w)) < 0 ||
	    (w->body_len > 0 && fx_write_all(FETCH_WIRE_FD, b->buf, w->body_len) < 0))
		_exit(3);
	_exit(0);
}

static _Noreturn void fx_fail(struct fetch_wire *w, uint32_t kind, const char *text)
{
	w->kind = kind;
	fx_strlcpy(w->text, text, sizeof(w->text));
	fx_reply(w, NULL);
}

/* ---- before anything else: are we where rampartd put us? --------------- */

/* Refuses root ids (the daemon drops them before the exec) and a missing no_new_privs. */
static const char *fx_check_unprivileged(void)
{
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0)
		return "rampart-fetch runs only after rampartd has dropped root; refusing to "
		       "fetch with a root uid or gid";
	if (!rp_no_new_privs_set())
		return "rampart-fetch expects no_new_privs to be set by rampartd; refusing to "
		       "fetch";
	if (!rp_ids_are(getuid(), getgid()))
		return "rampart-fetch expects no supplementary groups; refusing to fetch";
	return NULL;
}

/* Reads and checks the options record on FETCH_OPTS_FD, then closes it. */
static const char *fx_read_opts(struct fx_opts *o)
{
	struct stat sb;
	size_t size, off, sum = 0;
	ssize_t n;

	memset(o, 0, sizeof(*o));
	if (fstat(FETCH_OPTS_FD, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (size_t)sb.st_size < sizeof(o->h) || (size_t)sb.st_size > sizeof(o->h) + FETCH_MAX_OPTS)
		return "the options record is missing or has a bad size";
	size = (size_t)sb.st_size;
	if ((o->raw = malloc(size)) == NULL)
		return "out of memory";
	for (off = 0; off < size; off += (size_t)n) {
		n = pread(FETCH_OPTS_FD, o->raw + off, size - off, (off_t)off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			return "the options record cannot be read";
	}
	close(FETCH_OPTS_FD);
	memcpy(&o->h, o->raw, sizeof(o->h));
	if (o->h.magic != FETCH_OPTS_MAGIC)
		return "the options record has a bad magic number";
	for (int i = 0; i < FOS_N; i++) {
		if (o->h.len[i] > fetch_opts_max_len[i])
			return "an option in the options record is too long";
		sum += o->h.len[i];
	}
	if (sum != size - sizeof(o->h))
		return "the options record has inconsistent lengths";
	return NULL;
}

/* NUL-terminated copies of the strings; text ones must be printable. */
static const char *fx_split_opts(struct fx_opts *o)
{
	size_t off = sizeof(o->h);

	for (int i = 0; i < FOS_N; i++) {
		o->len[i] = o->h.len[i];
		if (o->len[i] > 0) {
			if (i != FOS_CA && !fetch_wire_printable((const char *)o->raw + off,
			                                         o->len[i], fetch_opts_max_len[i]))
				return "an option in the options record has control characters";
			if ((o->s[i] = malloc(o->len[i] + 1)) == NULL)
				return "out of memory";
			memcpy(o->s[i], o->raw + off, o->len[i]);
			o->s[i][o->len[i]] = '\0';
		}
		off += o->len[i];
	}
	if (o->s[FOS_URL] == NULL || o->s[FOS_HOST] == NULL || o->h.max_bytes == 0 ||
	    o->h.total_ms <= 0 || o->h.connect_ms < 0)
		return "the options record lacks the URL, host, size cap or timeouts";
	return NULL;
}

/* ---- the URL, read again by libcurl -------------------------------------- */

/* Same host?  Names case-insensitively; IPv6 literals by address (zone ignored). */
static bool fx_same_host(const char *curl_host, const char *ours)
{
	char a[64], b[64];
	unsigned char ab[16], bb[16];

	if (strcasecmp(curl_host, ours) == 0)
		return true;
	if (curl_host[0] != '[' || ours[0] != '[' || strlen(curl_host) >= sizeof(a) ||
	    strlen(ours) >= sizeof(b))
		return false;
	fx_strlcpy(a, curl_host + 1, sizeof(a));
	fx_strlcpy(b, ours + 1, sizeof(b));
	a[strcspn(a, "%]")] = '\0';
	b[strcspn(b, "%]")] = '\0';
	return inet_pton(AF_INET6, a, ab) == 1 && inet_pton(AF_INET6, b, bb) == 1 &&
	       memcmp(ab, bb, sizeof(ab)) == 0;
}

static bool fx_url_has(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	bool has = curl_url_get(u, part, &v, 0) == CURLUE_OK;

	curl_free(v);
	return has;
}

/*
 * The parent checked the URL with its own parser; libcurl must read the same
 * scheme and host, with no credentials (and no zone id for http).  Fills
 * *norm with libcurl's normalised URL, the one that is fetched.
 */
static int fx_url_check(const struct fx_opts *o, char **norm, char *text, size_t size)
{
	bool insecure = (o->h.flags & FETCH_OPT_INSECURE) != 0;
	char *scheme = NULL, *host = NULL, *tmp = NULL;
	CURLU *u = curl_url();
	int ret = -1;

	*norm = NULL;
	if (u == NULL || curl_url_set(u, CURLUPART_URL, o->s[FOS_URL], 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		snprintf(text, size, "libcurl cannot parse the policy URL");
	else if (strcmp(scheme, insecure ? "http" : "https") != 0)
		snprintf(text, size, "libcurl reads the URL scheme as \"%.32s\"", scheme);
	else if (!fx_same_host(host, o->s[FOS_HOST]))
		snprintf(text, size,
		         "libcurl reads the URL host as \"%.80s\", rampartd as \"%.80s\"", host,
		         o->s[FOS_HOST]);
	else if (fx_url_has(u, CURLUPART_USER) || fx_url_has(u, CURLUPART_PASSWORD))
		snprintf(text, size, "libcurl finds credentials in the policy URL");
	else if (insecure && fx_url_has(u, CURLUPART_ZONEID))
		snprintf(text, size, "libcurl finds a zone id in the http:// loopback URL");
	else if (curl_url_get(u, CURLUPART_URL, &tmp, 0) != CURLUE_OK ||
	         (*norm = strdup(tmp)) == NULL)
		snprintf(text, size, "libcurl cannot normalise the policy URL");
	else
		ret = 0;
	curl_free(tmp);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

/* ---- the transfer -------------------------------------------------------- */

static size_t fx_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct fx_body *b = ud;
	size_t n = size * nmemb;

	if (n > b->max - b->len) {
		b->too_large = true;
		return 0; /* abort the transfer now */
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		unsigned char *nb;
		while (cap < b->len + n)
			cap *= 2;
		if (cap > b->max)
			cap = b->max;
		nb = realloc(b->buf, cap);
		if (nb == NULL)
			return 0;
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, ptr, n);
	b->len += n;
	return n;
}

/* 1 if host is the policy URL's host or one listed in FOS_REDIRECT. */
static bool fx_redirect_ok(const struct fx_opts *o, const char *host)
{
	const char *list = o->s[FOS_REDIRECT];
	char one[FETCH_MAX_HOST + 1];

	if (fx_same_host(host, o->s[FOS_HOST]))
		return true;
	while (list != NULL && *list != '\0') {
		size_t n = strcspn(list, ",");
		if (n > 0 && n < sizeof(one)) {
			memcpy(one, list, n);
			one[n] = '\0';
			if (fx_same_host(host, one))
				return true;
		}
		list += n + (list[n] == ',');
	}
	return false;
}

/*
 * A Location: on a redirect, resolved against the URL being fetched: libcurl
 * would follow it to any https host; a host that is neither the policy URL's
 * nor listed stops the transfer here, before any connection to it.
 */
static bool fx_location_ok(struct fx_body *b, const char *v, size_t vlen)
{
	char *cur = NULL, *loc = strndup(v, vlen), *host = NULL;
	CURLU *u = curl_url();
	bool ok = true; /* what libcurl cannot parse it will not follow either */

	if (u != NULL && loc != NULL &&
	    curl_easy_getinfo(b->h, CURLINFO_EFFECTIVE_URL, &cur) == CURLE_OK && cur != NULL &&
	    curl_url_set(u, CURLUPART_URL, cur, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, loc, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		ok = fx_redirect_ok(b->o, host);
		fx_strlcpy(b->redirect_host, host, sizeof(b->redirect_host));
	}
	curl_free(host);
	curl_url_cleanup(u);
	free(loc);
	return ok;
}

/* Trims a header value in place; returns its start, *vlen its length. */
static const char *fx_header_value(const char *ptr, size_t n, size_t skip, size_t *vlen)
{
	const char *v = ptr + skip, *end = ptr + n;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

/* Keeps the ETag of the last response (a status line starts a new one). */
static size_t fx_header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct fx_body *b = ud;
	size_t n = size * nmemb, vlen;
	const char *v, *end;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		const char *sp = memchr(ptr, ' ', n);
		b->etag[0] = '\0';
		b->status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	if (b->status >= 300 && b->status < 400 && n > 9 && strncasecmp(ptr, "location:", 9) == 0) {
		v = fx_header_value(ptr, n, 9, &vlen);
		if (vlen > 0 && !fx_location_ok(b, v, vlen)) {
			b->redirect_refused = true;
			return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
		}
		return n;
	}
	if (n < 5 || strncasecmp(ptr, "etag:", 5) != 0)
		return n;
	v = ptr + 5;
	end = ptr + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	vlen = (size_t)(end - v);
	b->etag[0] = '\0';
	if (vlen > 0 && fetch_wire_printable(v, vlen, FETCH_MAX_ETAG)) {
		memcpy(b->etag, v, vlen);
		b->etag[vlen] = '\0';
	}
	return n;
}

static int fx_setopts(CURL *h, const struct fx_opts *o, const char *url, struct fx_body *b,
                      char *errbuf, struct curl_slist **hdrs)
{
	bool insecure = (o->h.flags & FETCH_OPT_INSECURE) != 0;
	char line[FETCH_MAX_ETAG + 32];
	int bad = 0;

#define SET(opt, val) bad |= curl_easy_setopt(h, opt, val) != CURLE_OK
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, insecure ? "http" : "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, insecure ? 0L : 1L);
	SET(CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
	SET(CURLOPT_DISALLOW_USERNAME_IN_URL, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)o->h.connect_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)o->h.total_ms);
	if (o->h.low_bytes > 0 && o->h.low_s > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, (long)o->h.low_bytes);
		SET(CURLOPT_LOW_SPEED_TIME, (long)o->h.low_s);
	}
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->h.max_bytes);
	SET(CURLOPT_WRITEFUNCTION, fx_write_cb);
	SET(CURLOPT_WRITEDATA, b);
	SET(CURLOPT_HEADERFUNCTION, fx_header_cb);
	SET(CURLOPT_HEADERDATA, b);
	SET(CURLOPT_PROXY, o->s[FOS_PROXY] != NULL && !insecure ? o->s[FOS_PROXY] : "");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_USERAGENT, "rampartd/" RAMPART_VERSION);
	if (o->s[FOS_CA] != NULL) {
		struct curl_blob blob = {o->s[FOS_CA], o->len[FOS_CA], CURL_BLOB_COPY};
		SET(CURLOPT_CAINFO_BLOB, &blob);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	if (o->s[FOS_PIN] != NULL)
		SET(CURLOPT_PINNEDPUBLICKEY, o->s[FOS_PIN]);
	if (o->s[FOS_ETAG] != NULL) {
		snprintf(line, sizeof(line), "If-None-Match: %s", o->s[FOS_ETAG]);
		*hdrs = curl_slist_append(NULL, line);
		bad |= *hdrs == NULL;
		SET(CURLOPT_HTTPHEADER, *hdrs);
	}
#undef SET
	return bad ? -1 : 0;
}

/* What a libcurl error means for the parent (which has no curl.h). */
static uint32_t fx_class(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return FWC_TIMEOUT;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return FWC_PROTOCOL;
	case CURLE_TOO_MANY_REDIRECTS:
		return FWC_REDIRECT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return FWC_CONNECT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_USE_SSL_FAILED:
		return FWC_TLS;
	default:
		return FWC_NETWORK;
	}
}

/* Runs the transfer and fills w; the caller replies. */
static void fx_transfer(const struct fx_opts *o, struct fx_body *b, struct fetch_wire *w)
{
	char errbuf[CURL_ERROR_SIZE] = "", *url = NULL;
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	CURLcode rc;
	long code = 0;

	w->kind = FW_SETUP;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (h = curl_easy_init()) == NULL) {
		fx_strlcpy(w->text, "libcurl could not be initialised", sizeof(w->text));
		return;
	}
	if (o->h.flags & FETCH_OPT_OCI) { /* the distribution API: src/fetch/oci_fetch.c */
		oci_fetch(o, b, w);
		if (w->kind == FW_CURL)
			w->err_class = fx_class((CURLcode)w->curl_code);
		return;
	}
	if (fx_url_check(o, &url, w->text, sizeof(w->text)) < 0) {
		w->kind = FW_URL;
		return;
	}
	if (fx_setopts(h, o, url, b, errbuf, &hdrs) < 0) {
		fx_strlcpy(w->text, "libcurl refused an option (too old a libcurl?)",
		           sizeof(w->text));
		return;
	}
	b->h = h;
	b->o = o;
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	w->http_code = (int32_t)code;
	w->curl_code = (int32_t)rc;
	w->err_class = fx_class(rc);
	fx_strlcpy(w->etag, b->etag, sizeof(w->etag));
	fx_strlcpy(w->text, errbuf[0] ? errbuf : curl_easy_strerror(rc), sizeof(w->text));
	if (b->redirect_refused) {
		w->kind = FW_CURL;
		w->err_class = FWC_REDIRECT_HOST;
		snprintf(w->text, sizeof(w->text), "redirect to host %.120s refused",
		         b->redirect_host[0] ? b->redirect_host : "?");
	} else if ((rc == CURLE_WRITE_ERROR && b->too_large) || rc == CURLE_FILESIZE_EXCEEDED)
		w->kind = FW_TOO_LARGE;
	else if (rc != CURLE_OK)
		w->kind = FW_CURL;
	else if (code == 200)
		w->kind = FW_OK;
	else if (code == 304 && o->s[FOS_ETAG] != NULL)
		w->kind = FW_NOT_MODIFIED;
	else
		w->kind = FW_HTTP;
	w->body_len = w->kind == FW_OK ? b->len : 0;
	{
		curl_off_t dl = 0;
		long hs = 0, hops = 0;
		curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &dl);
		curl_easy_getinfo(h, CURLINFO_HEADER_SIZE, &hs);
		curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &hops);
		w->requests = (uint32_t)(1 + hops);
		w->bytes_in = (uint64_t)dl + (uint64_t)hs;
	}
	/* h, hdrs and url are left to _exit(): the process ends right after replying */
}

static _Noreturn void fx_child(void)
{
	struct fetch_wire w;
	struct fx_body b;
	struct fx_opts o;
	struct stat sb;
	const char *why;

	memset(&w, 0, sizeof(w));
	memset(&b, 0, sizeof(b));
	rp_deny_debugger(); /* Linux: execve made us dumpable again; macOS: PT_DENY_ATTACH */
	signal(SIGPIPE, SIG_IGN);
	if (fstat(FETCH_WIRE_FD, &sb) < 0 || !S_ISFIFO(sb.st_mode)) {
		fprintf(stderr,
		        "rampart-fetch: started by rampartd only (no answer pipe on fd %d)\n",
		        FETCH_WIRE_FD);
		_exit(2);
	}
	if ((why = fx_check_unprivileged()) != NULL)
		fx_fail(&w, FW_PRIV, why);
	if ((why = fx_read_opts(&o)) != NULL || (why = fx_split_opts(&o)) != NULL)
		fx_fail(&w, FW_SETUP, why);
	alarm((unsigned)(o.h.total_ms / 1000 + 10)); /* watchdog, as before the exec */
	b.max = (size_t)o.h.max_bytes;
	fx_transfer(&o, &b, &w);
	fx_reply(&w, &b);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], FETCH_HELPER_ARG) == 0)
		fx_child();
	if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("rampart-fetch %s\n%s\n", RAMPART_VERSION, curl_version());
		return 0;
	}
	fprintf(stderr,
	        "usage: rampart-fetch --version\n"
	        "rampart-fetch is the policy download helper of rampartd; rampartd runs it\n"
	        "unprivileged with its options on fd %d and reads the answer from fd %d.\n",
	        FETCH_OPTS_FD, FETCH_WIRE_FD);
	return 2;
}
