/* SPDX-License-Identifier: ISC */
/*
 * Policy download.  The parent (root) validates the request, reads the CA and
 * pinned-key files, and forks; the child drops to an unprivileged user before
 * touching the network, runs libcurl (https only, capped, time-bounded) and
 * writes one fixed header plus the body to a pipe.  The parent trusts nothing
 * the child sends: every length and string in the header is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "fetch.h"
#include "log.h"

#define FETCH_WIRE_MAGIC 0x72706631u /* "rpf1" */
#define FETCH_MAX_URL 8192
#define FETCH_MAX_CA_FILE (4u << 20)
#define FETCH_MAX_PIN 1024
#define FETCH_HARD_MAX_BYTES (64u << 20)
#define FETCH_GRACE_MS 5000
#define FETCH_WIRE_FD 3

/* What the child reports.  Same binary on both ends, so a plain struct. */
enum fetch_wire_kind {
	FW_OK = 1,
	FW_NOT_MODIFIED,
	FW_HTTP,      /* unexpected HTTP status */
	FW_TOO_LARGE, /* body cap hit */
	FW_CURL,      /* libcurl error: curl_code + text */
	FW_PRIV,      /* privilege drop failed: nothing fetched */
	FW_SETUP,     /* curl could not be set up */
	FW_KIND_MAX
};

struct fetch_wire {
	uint32_t magic;
	uint32_t kind;
	int32_t http_code;
	int32_t curl_code;
	uint32_t uid, gid;
	uint64_t body_len;
	char etag[FETCH_MAX_ETAG + 1];
	char text[256];
};

enum { JS_IDLE = 0, JS_READING, JS_DONE, JS_BAD };

/* Everything the child needs, prepared by the parent before fork(). */
struct fetch_plan {
	char *url;     /* normalised by the URL parser */
	bool insecure; /* http://127.0.0.1 or http://[::1] */
	char *etag;
	char *ca; /* CA bundle contents */
	size_t ca_len;
	char *pin; /* "sha256//..." */
	char *proxy;
	uid_t uid;
	gid_t gid;
	size_t max_bytes;
	long connect_ms, total_ms, low_bytes, low_s;
};

struct fetch_body {
	unsigned char *buf;
	size_t len, cap, max;
	bool too_large;
	char etag[FETCH_MAX_ETAG + 1];
};

static long long fetch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- request validation (parent) --------------------------------------- */

static int fetch_printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static int fetch_url_part(CURLU *u, CURLUPart part, char **out)
{
	*out = NULL;
	return curl_url_get(u, part, out, 0) == CURLUE_OK;
}

/* Parses and checks url; on success *norm (may be NULL) gets the normalised URL. */
static int fetch_check_url2(const char *url, bool allow_loopback, char **norm, bool *insecure,
                            struct rp_err *err)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL, *tmp = NULL;
	int ret = -1;

	if (url == NULL || url[0] == '\0')
		return rp_seterr(err, "E_FETCH_URL", "no policy URL is configured");
	if (!fetch_printable(url, FETCH_MAX_URL))
		return rp_seterr(err, "E_FETCH_URL",
		                 "the policy URL is too long or has control "
		                 "characters");
	u = curl_url();
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    !fetch_url_part(u, CURLUPART_SCHEME, &scheme) ||
	    !fetch_url_part(u, CURLUPART_HOST, &host) || host[0] == '\0') {
		rp_seterr(err, "E_FETCH_URL",
		          "the policy URL %s cannot be parsed; use "
		          "https://host/path",
		          url);
		goto out;
	}
	if (fetch_url_part(u, CURLUPART_USER, &tmp)) {
		rp_seterr(err, "E_FETCH_URL",
		          "the policy URL carries a user name or password; "
		          "credentials in URLs are refused");
		goto out;
	}
	*insecure = strcmp(scheme, "http") == 0;
	if (strcmp(scheme, "https") != 0 && !*insecure) {
		rp_seterr(err, "E_FETCH_URL",
		          "the policy URL scheme \"%s\" is refused; only "
		          "https is allowed",
		          scheme);
		goto out;
	}
	if (*insecure && !allow_loopback) {
		rp_seterr(err, "E_FETCH_URL",
		          "http:// policy URLs are refused; use https "
		          "(allow_insecure_loopback permits http only to "
		          "127.0.0.1 and [::1], for tests)");
		goto out;
	}
	curl_free(tmp);
	tmp = NULL;
	if (*insecure && ((strcmp(host, "127.0.0.1") != 0 && strcmp(host, "[::1]") != 0) ||
	                  fetch_url_part(u, CURLUPART_ZONEID, &tmp))) {
		rp_seterr(err, "E_FETCH_URL",
		          "http:// is allowed only to the literal addresses "
		          "127.0.0.1 and [::1], not to \"%s\"; use https",
		          host);
		goto out;
	}
	curl_free(tmp);
	tmp = NULL;
	if (norm != NULL && !fetch_url_part(u, CURLUPART_URL, &tmp)) {
		rp_seterr(err, "E_FETCH_URL", "the policy URL %s cannot be normalised", url);
		goto out;
	}
	if (norm != NULL && (*norm = strdup(tmp)) == NULL) {
		rp_seterr(err, "E_FETCH_NOMEM", "out of memory");
		goto out;
	}
	ret = 0;
out:
	curl_free(tmp);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ret;
}

int fetch_check_url(const char *url, bool allow_insecure_loopback, struct rp_err *err)
{
	bool insecure;

	return fetch_check_url2(url, allow_insecure_loopback, NULL, &insecure, err);
}

static int fetch_read_file(const char *path, size_t max, char **buf, size_t *len,
                           struct rp_err *err)
{
	struct stat sb;
	ssize_t n;
	size_t got = 0;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return rp_seterr(err, "E_FETCH_CONFIG", "cannot open %s: %s", path,
		                 strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    (size_t)sb.st_size > max) {
		rp_seterr(err, "E_FETCH_CONFIG", "%s is not a regular file of 1 to %zu bytes", path,
		          max);
		goto out;
	}
	*buf = malloc((size_t)sb.st_size + 1);
	if (*buf == NULL) {
		rp_seterr(err, "E_FETCH_NOMEM", "out of memory");
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		n = read(fd, *buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rp_seterr(err, "E_FETCH_CONFIG", "cannot read %s: %s", path,
			          n < 0 ? strerror(errno) : "file shrank");
			free(*buf);
			*buf = NULL;
			goto out;
		}
		got += (size_t)n;
	}
	(*buf)[got] = '\0';
	*len = got;
	ret = 0;
out:
	close(fd);
	return ret;
}

/* "sha256//<base64 of SHA-256 of the DER SubjectPublicKeyInfo>" of a PEM or DER key file. */
static int fetch_pin_from_file(const char *path, char **pin, struct rp_err *err)
{
	char *raw = NULL;
	size_t raw_len = 0;
	const unsigned char *p;
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH];
	unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
	EVP_PKEY *k = NULL;
	BIO *bio = NULL;
	int der_len, ret = -1;

	if (fetch_read_file(path, 64 * 1024, &raw, &raw_len, err) < 0)
		return -1;
	bio = BIO_new_mem_buf(raw, (int)raw_len);
	if (bio != NULL)
		k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (k == NULL) {
		p = (const unsigned char *)raw;
		k = d2i_PUBKEY(NULL, &p, (long)raw_len);
	}
	der_len = k != NULL ? i2d_PUBKEY(k, &der) : -1;
	if (der_len <= 0) {
		rp_seterr(err, "E_FETCH_CONFIG",
		          "pinned_pubkey %s is not a PEM or DER public key "
		          "(SubjectPublicKeyInfo)",
		          path);
		goto out;
	}
	SHA256(der, (size_t)der_len, md);
	EVP_EncodeBlock(b64, md, SHA256_DIGEST_LENGTH);
	if (asprintf(pin, "sha256//%s", (const char *)b64) < 0) {
		*pin = NULL;
		rp_seterr(err, "E_FETCH_NOMEM", "out of memory");
		goto out;
	}
	ret = 0;
out:
	OPENSSL_free(der);
	EVP_PKEY_free(k);
	BIO_free(bio);
	free(raw);
	return ret;
}

static int fetch_pin(const char *spec, char **pin, struct rp_err *err)
{
	if (strncmp(spec, "sha256//", 8) != 0)
		return fetch_pin_from_file(spec, pin, err);
	if (strlen(spec) > FETCH_MAX_PIN ||
	    strspn(spec, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=;") !=
	        strlen(spec))
		return rp_seterr(err, "E_FETCH_CONFIG",
		                 "pinned_pubkey must be "
		                 "\"sha256//<base64>\" (several joined by "
		                 "';') or a key file");
	*pin = strdup(spec);
	return *pin == NULL ? rp_seterr(err, "E_FETCH_NOMEM", "out of memory") : 0;
}

static int fetch_user(const char *name, uid_t *uid, gid_t *gid, struct rp_err *err)
{
	struct passwd *pw;

	if (name == NULL || name[0] == '\0')
		name = FETCH_DEFAULT_USER;
	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL)
		return rp_seterr(err, "E_FETCH_PRIV",
		                 "fetch user \"%s\" does not exist; nothing "
		                 "was fetched",
		                 name);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return rp_seterr(err, "E_FETCH_PRIV",
		                 "fetch user \"%s\" has uid or gid 0; the "
		                 "fetch never runs as root",
		                 name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static void fetch_plan_free(struct fetch_plan *pl)
{
	free(pl->url);
	free(pl->etag);
	free(pl->ca);
	free(pl->pin);
	free(pl->proxy);
	memset(pl, 0, sizeof(*pl));
}

static int fetch_plan_numbers(const struct fetch_opts *o, struct fetch_plan *pl, struct rp_err *err)
{
	pl->max_bytes = o->max_bytes ? o->max_bytes : FETCH_DEFAULT_MAX_BYTES;
	pl->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : FETCH_DEFAULT_CONNECT_MS;
	pl->total_ms = o->total_timeout_ms ? o->total_timeout_ms : FETCH_DEFAULT_TOTAL_MS;
	pl->low_bytes = o->low_speed_bytes ? o->low_speed_bytes : FETCH_DEFAULT_LOW_SPEED_BYTES;
	pl->low_s = o->low_speed_time_s ? o->low_speed_time_s : FETCH_DEFAULT_LOW_SPEED_S;
	if (pl->max_bytes > FETCH_HARD_MAX_BYTES)
		return rp_seterr(err, "E_FETCH_CONFIG", "max_bytes %zu is above the limit of %u",
		                 pl->max_bytes, FETCH_HARD_MAX_BYTES);
	if (pl->connect_ms < 0 || pl->total_ms < 0 || pl->total_ms > 24L * 3600 * 1000 ||
	    pl->low_s < 0)
		return rp_seterr(err, "E_FETCH_CONFIG",
		                 "fetch timeouts must be positive and "
		                 "under a day");
	return 0;
}

static int fetch_dup_opt(const char *s, char **out, struct rp_err *err)
{
	*out = NULL;
	if (s == NULL || s[0] == '\0')
		return 0;
	*out = strdup(s);
	return *out == NULL ? rp_seterr(err, "E_FETCH_NOMEM", "out of memory") : 0;
}

static int fetch_plan_make(const struct fetch_opts *o, struct fetch_plan *pl, struct rp_err *err)
{
	memset(pl, 0, sizeof(*pl));
	if (o == NULL)
		return rp_seterr(err, "E_FETCH_CONFIG", "no fetch options given");
	if (o->etag != NULL && !fetch_printable(o->etag, FETCH_MAX_ETAG))
		return rp_seterr(err, "E_FETCH_CONFIG",
		                 "the stored ETag is longer than %d bytes "
		                 "or has control characters",
		                 FETCH_MAX_ETAG);
	if (o->proxy != NULL && !fetch_printable(o->proxy, FETCH_MAX_URL))
		return rp_seterr(err, "E_FETCH_CONFIG", "the proxy setting has control characters");
	if (fetch_plan_numbers(o, pl, err) < 0 ||
	    fetch_check_url2(o->url, o->allow_insecure_loopback, &pl->url, &pl->insecure, err) <
	        0 ||
	    fetch_user(o->user, &pl->uid, &pl->gid, err) < 0 ||
	    fetch_dup_opt(o->etag, &pl->etag, err) < 0 ||
	    fetch_dup_opt(pl->insecure ? NULL : o->proxy, &pl->proxy, err) < 0)
		return -1;
	if (o->ca_file != NULL && o->ca_file[0] != '\0' &&
	    fetch_read_file(o->ca_file, FETCH_MAX_CA_FILE, &pl->ca, &pl->ca_len, err) < 0)
		return -1;
	if (o->pinned_pubkey != NULL && o->pinned_pubkey[0] != '\0' &&
	    fetch_pin(o->pinned_pubkey, &pl->pin, err) < 0)
		return -1;
	return 0;
}

/* ---- the child --------------------------------------------------------- */

#ifdef __APPLE__
/* No setresuid/getresuid: setgid/setuid as root set real, effective and saved ids. */
static int fetch_setids(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
		return -1;
	return 0;
}

static int fetch_ids_are(uid_t uid, gid_t gid)
{
	return getuid() == uid && geteuid() == uid && getgid() == gid && getegid() == gid;
}
#else
static int fetch_setids(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -1;
	return 0;
}

static int fetch_ids_are(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return 0;
	return ru == uid && eu == uid && su == uid && rg == gid && eg == gid && sg == gid &&
	       getgroups(0, NULL) == 0;
}
#endif

int fetch_drop_privileges(uid_t uid, gid_t gid, struct rp_err *err)
{
	if (uid == 0 || gid == 0)
		return rp_seterr(err, "E_FETCH_PRIV", "refusing to drop to uid/gid 0");
	if (fetch_setids(uid, gid) < 0)
		return rp_seterr(err, "E_FETCH_PRIV",
		                 "dropping privileges to uid %u gid %u failed: "
		                 "%s; nothing was fetched",
		                 (unsigned)uid, (unsigned)gid, strerror(errno));
	if (!fetch_ids_are(uid, gid))
		return rp_seterr(err, "E_FETCH_PRIV",
		                 "privilege drop did not take effect; nothing "
		                 "was fetched");
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setegid(0) == 0)
		return rp_seterr(err, "E_FETCH_PRIV",
		                 "root could be regained after the drop; "
		                 "nothing was fetched");
#ifdef __linux__
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return rp_seterr(err, "E_FETCH_PRIV", "prctl(no_new_privs/dumpable) failed: %s",
		                 strerror(errno));
#endif
	return 0;
}

static void fetch_child_signals(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2};
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* stdin/out/err on /dev/null, the pipe on fd 3, everything else closed. */
static int fetch_child_fds(int wfd)
{
	int hi, nul;

	hi = fcntl(wfd, F_DUPFD_CLOEXEC, 10);
	if (hi < 0)
		return -1;
	nul = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3; fd++)
		if (nul >= 0 && nul != fd)
			dup2(nul, fd);
	if (dup2(hi, FETCH_WIRE_FD) != FETCH_WIRE_FD)
		return -1;
#if defined(__linux__) && defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
	if (close_range(FETCH_WIRE_FD + 1, ~0U, 0) == 0)
		return 0;
#endif
	{
		long max = sysconf(_SC_OPEN_MAX);
		if (max < 0 || max > 65536)
			max = 65536;
		for (int fd = FETCH_WIRE_FD + 1; fd < max; fd++)
			close(fd);
	}
	return 0;
}

static int fetch_write_all(int fd, const void *buf, size_t len)
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

static _Noreturn void fetch_child_reply(struct fetch_wire *w, const struct fetch_body *b)
{
	w->magic = FETCH_WIRE_MAGIC;
	w->uid = (uint32_t)geteuid();
	w->gid = (uint32_t)getegid();
	if (w->kind != FW_OK)
		w->body_len = 0;
	if (fetch_write_all(FETCH_WIRE_FD, w, sizeof(*w)) < 0 ||
	    (w->body_len > 0 && fetch_write_all(FETCH_WIRE_FD, b->buf, w->body_len) < 0))
		_exit(3);
	_exit(0);
}

static size_t fetch_write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct fetch_body *b = ud;
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

/* Keeps the ETag of the last response (a status line starts a new one). */
static size_t fetch_header_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct fetch_body *b = ud;
	size_t n = size * nmemb, vlen;
	const char *v, *end;

	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		b->etag[0] = '\0';
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
	if (vlen > 0 && vlen <= FETCH_MAX_ETAG) {
		memcpy(b->etag, v, vlen);
		b->etag[vlen] = '\0';
		if (!fetch_printable(b->etag, FETCH_MAX_ETAG))
			b->etag[0] = '\0';
	}
	return n;
}

static int fetch_child_setopts(CURL *h, const struct fetch_plan *pl, struct fetch_body *b,
                               char *errbuf, struct curl_slist **hdrs)
{
	char line[FETCH_MAX_ETAG + 32];
	int bad = 0;

#define SET(opt, val) bad |= curl_easy_setopt(h, opt, val) != CURLE_OK
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_URL, pl->url);
	SET(CURLOPT_PROTOCOLS_STR, pl->insecure ? "http" : "https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_FOLLOWLOCATION, pl->insecure ? 0L : 1L);
	SET(CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
	SET(CURLOPT_DISALLOW_USERNAME_IN_URL, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, pl->connect_ms);
	SET(CURLOPT_TIMEOUT_MS, pl->total_ms);
	if (pl->low_bytes > 0 && pl->low_s > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, pl->low_bytes);
		SET(CURLOPT_LOW_SPEED_TIME, pl->low_s);
	}
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)pl->max_bytes);
	SET(CURLOPT_WRITEFUNCTION, fetch_write_cb);
	SET(CURLOPT_WRITEDATA, b);
	SET(CURLOPT_HEADERFUNCTION, fetch_header_cb);
	SET(CURLOPT_HEADERDATA, b);
	SET(CURLOPT_PROXY, pl->proxy != NULL ? pl->proxy : "");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_USERAGENT, "rampartd/" RAMPART_VERSION);
	if (pl->ca != NULL) {
		struct curl_blob blob = {pl->ca, pl->ca_len, CURL_BLOB_COPY};
		SET(CURLOPT_CAINFO_BLOB, &blob);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	if (pl->pin != NULL)
		SET(CURLOPT_PINNEDPUBLICKEY, pl->pin);
	if (pl->etag != NULL) {
		snprintf(line, sizeof(line), "If-None-Match: %s", pl->etag);
		*hdrs = curl_slist_append(NULL, line);
		bad |= *hdrs == NULL;
		SET(CURLOPT_HTTPHEADER, *hdrs);
	}
#undef SET
	return bad ? -1 : 0;
}

/* Runs the transfer and fills w; returns nothing, the caller replies. */
static void fetch_child_transfer(const struct fetch_plan *pl, struct fetch_body *b,
                                 struct fetch_wire *w)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURL *h = NULL;
	CURLcode rc;
	long code = 0;

	w->kind = FW_SETUP;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (h = curl_easy_init()) == NULL) {
		rp_strlcpy(w->text, "libcurl could not be initialised", sizeof(w->text));
		return;
	}
	if (fetch_child_setopts(h, pl, b, errbuf, &hdrs) < 0) {
		rp_strlcpy(w->text, "libcurl refused an option (too old a libcurl?)",
		           sizeof(w->text));
		return;
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	w->http_code = (int32_t)code;
	w->curl_code = (int32_t)rc;
	rp_strlcpy(w->etag, b->etag, sizeof(w->etag));
	rp_strlcpy(w->text, errbuf[0] ? errbuf : curl_easy_strerror(rc), sizeof(w->text));
	if ((rc == CURLE_WRITE_ERROR && b->too_large) || rc == CURLE_FILESIZE_EXCEEDED)
		w->kind = FW_TOO_LARGE;
	else if (rc != CURLE_OK)
		w->kind = FW_CURL;
	else if (code == 200)
		w->kind = FW_OK;
	else if (code == 304 && pl->etag != NULL)
		w->kind = FW_NOT_MODIFIED;
	else
		w->kind = FW_HTTP;
	w->body_len = w->kind == FW_OK ? b->len : 0;
	/* h and hdrs are left to _exit(): the child ends right after replying */
}

static _Noreturn void fetch_child(const struct fetch_plan *pl, int wfd)
{
	struct fetch_wire w;
	struct fetch_body b;
	struct rlimit zero = {0, 0};
	struct rp_err err = {{0}, {0}};

	memset(&w, 0, sizeof(w));
	memset(&b, 0, sizeof(b));
	b.max = pl->max_bytes;
	fetch_child_signals();
	if (fetch_child_fds(wfd) < 0)
		_exit(2);
	if (chdir("/") < 0)
		_exit(2);
	setrlimit(RLIMIT_CORE, &zero);
	setrlimit(RLIMIT_FSIZE, &zero); /* the child writes no files; the pipe is exempt */
	if (fetch_drop_privileges(pl->uid, pl->gid, &err) < 0) {
		w.kind = FW_PRIV;
		rp_strlcpy(w.text, err.msg, sizeof(w.text));
		fetch_child_reply(&w, &b);
	}
	clearenv(); /* no proxy, SSLKEYLOGFILE, OPENSSL_CONF or CURL_* from the daemon */
	alarm((unsigned)(pl->total_ms / 1000 + 10));
	fetch_child_transfer(pl, &b, &w);
	fetch_child_reply(&w, &b);
}

/* ---- parent side ------------------------------------------------------- */

void fetch_job_init(struct fetch_job *job)
{
	memset(job, 0, sizeof(*job));
	job->pid = -1;
	job->fd = -1;
}

static void fetch_job_release(struct fetch_job *job)
{
	if (job->fd >= 0)
		close(job->fd);
	free(job->hdr);
	free(job->body);
	fetch_job_init(job);
}

int fetch_start(const struct fetch_opts *o, struct fetch_job *job, struct rp_err *err)
{
	struct fetch_plan pl;
	int p[2] = {-1, -1}, ret = -1;
	pid_t pid;

	fetch_job_init(job);
	if (fetch_plan_make(o, &pl, err) < 0)
		goto out;
	job->hdr = calloc(1, sizeof(struct fetch_wire));
	if (job->hdr == NULL) {
		rp_seterr(err, "E_FETCH_NOMEM", "out of memory");
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		rp_seterr(err, "E_FETCH_CHILD", "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rp_seterr(err, "E_FETCH_CHILD", "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(p[0]);
		fetch_child(&pl, p[1]);
	}
	close(p[1]);
	p[1] = -1;
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		rp_seterr(err, "E_FETCH_CHILD", "fcntl: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	job->pid = pid;
	job->fd = p[0];
	p[0] = -1;
	job->max_bytes = pl.max_bytes;
	job->deadline_ms = fetch_now_ms() + pl.total_ms + FETCH_GRACE_MS;
	job->state = JS_READING;
	ret = 0;
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (ret < 0)
		fetch_job_release(job);
	fetch_plan_free(&pl);
	return ret;
}

/* Where the next bytes go: header, then exactly body_len bytes, then nothing. */
static int fetch_next_dst(struct fetch_job *job, unsigned char **dst, size_t *want)
{
	const struct fetch_wire *w = (const struct fetch_wire *)job->hdr;

	if (job->hdr_got < sizeof(*w)) {
		*dst = job->hdr + job->hdr_got;
		*want = sizeof(*w) - job->hdr_got;
		return 0;
	}
	if (job->body == NULL) {
		if (w->magic != FETCH_WIRE_MAGIC || w->body_len > job->max_bytes ||
		    (w->kind != FW_OK && w->body_len != 0))
			return -1;
		job->body_len = (size_t)w->body_len;
		job->body = malloc(job->body_len + 1);
		if (job->body == NULL)
			return -1;
	}
	*dst = job->body + job->body_got;
	*want = job->body_len - job->body_got;
	return 0;
}

int fetch_on_readable(struct fetch_job *job)
{
	unsigned char *dst, extra;
	size_t want;
	ssize_t n;

	if (job->state != JS_READING)
		return job->state == JS_DONE ? 1 : -1;
	for (;;) {
		if (fetch_next_dst(job, &dst, &want) < 0) {
			job->state = JS_BAD;
			return -1;
		}
		if (want == 0) { /* everything expected is here: only EOF may follow */
			dst = &extra;
			want = 1;
		}
		n = read(job->fd, dst, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			job->read_errno = errno;
			job->state = JS_BAD;
			return -1;
		}
		if (n == 0) {
			job->state = JS_DONE;
			return 1;
		}
		if (dst == &extra) {
			job->state = JS_BAD; /* more than the header announced */
			return -1;
		}
		if (job->hdr_got < sizeof(struct fetch_wire))
			job->hdr_got += (size_t)n;
		else
			job->body_got += (size_t)n;
	}
}

int fetch_timeout_ms(const struct fetch_job *job)
{
	long long left = job->deadline_ms - fetch_now_ms();

	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Reaps the child; a child still alive shortly after EOF is killed. */
static int fetch_reap(pid_t pid)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	int st = 0;

	for (int i = 0; i < 20; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

void fetch_abort(struct fetch_job *job)
{
	if (job->state != JS_IDLE && job->pid > 0) {
		kill(job->pid, SIGKILL);
		while (waitpid(job->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	fetch_job_release(job);
}

static int fetch_curl_err(const struct fetch_wire *w, const char *text, struct rp_err *err)
{
	const char *code = "E_FETCH_NETWORK", *what = "network error";

	switch (w->curl_code) {
	case CURLE_OPERATION_TIMEDOUT:
		code = "E_FETCH_TIMEOUT";
		what = "timed out (connect, total or low-speed limit)";
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		code = "E_FETCH_PROTOCOL";
		what = "refused a URL or redirect to a scheme other than https";
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		code = "E_FETCH_REDIRECT";
		what = "too many redirects";
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		code = "E_FETCH_CONNECT";
		what = "could not connect";
		break;
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
		code = "E_FETCH_TLS";
		what = "TLS error (certificate, pinned key or handshake)";
		break;
	default:
		break;
	}
	return rp_seterr(err, code, "policy fetch failed: %s (curl %d: %s)", what,
	                 (int)w->curl_code, text);
}

static int fetch_decode(const struct fetch_wire *w, struct fetch_job *job, struct fetch_result *res,
                        struct rp_err *err)
{
	char text[300];

	log_escape(text, sizeof(text), w->text, strnlen(w->text, sizeof(w->text)));
	switch (w->kind) {
	case FW_OK:
		res->status = FETCH_OK;
		res->body = job->body;
		res->body[job->body_len] = '\0';
		res->body_len = job->body_len;
		job->body = NULL;
		return 0;
	case FW_NOT_MODIFIED:
		res->status = FETCH_NOT_MODIFIED;
		return 0;
	case FW_HTTP:
		return rp_seterr(err, "E_FETCH_HTTP",
		                 "policy server answered HTTP %d, expected "
		                 "200%s",
		                 (int)w->http_code,
		                 w->http_code >= 300 && w->http_code < 400
		                     ? " (redirects are not followed for http:// loopback URLs)"
		                     : "");
	case FW_TOO_LARGE:
		return rp_seterr(err, "E_FETCH_TOO_LARGE",
		                 "policy is larger than the %zu-byte "
		                 "limit; download aborted",
		                 job->max_bytes);
	case FW_CURL:
		return fetch_curl_err(w, text, err);
	case FW_PRIV:
		return rp_seterr(err, "E_FETCH_PRIV", "fetch child: %s", text);
	default:
		return rp_seterr(err, "E_FETCH_CHILD", "fetch child: %s", text);
	}
}

static int fetch_child_status_err(int st, struct rp_err *err)
{
	if (st >= 0 && WIFSIGNALED(st))
		return rp_seterr(err, "E_FETCH_CHILD", "fetch child was killed by signal %d%s",
		                 WTERMSIG(st), WTERMSIG(st) == SIGALRM ? " (watchdog)" : "");
	return rp_seterr(err, "E_FETCH_CHILD",
	                 "fetch child ended without a complete answer "
	                 "(exit status %d)",
	                 st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int fetch_finish(struct fetch_job *job, struct fetch_result *res, struct rp_err *err)
{
	struct fetch_wire w;
	int st, ret = -1;

	memset(res, 0, sizeof(*res));
	if (job->state == JS_IDLE)
		return rp_seterr(err, "E_FETCH_CHILD", "no fetch in progress");
	if (job->state == JS_READING) {
		fetch_abort(job);
		return rp_seterr(err, "E_FETCH_CHILD", "fetch finished before the child answered");
	}
	close(job->fd);
	job->fd = -1;
	st = fetch_reap(job->pid);
	job->pid = -1;
	if (job->state == JS_BAD) {
		rp_seterr(err, "E_FETCH_CHILD", "fetch child sent a malformed answer%s%s",
		          job->read_errno ? ": " : "",
		          job->read_errno ? strerror(job->read_errno) : "");
		goto out;
	}
	memcpy(&w, job->hdr, sizeof(w));
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || job->hdr_got != sizeof(w) ||
	    job->body_got != job->body_len || w.kind == 0 || w.kind >= FW_KIND_MAX) {
		fetch_child_status_err(st, err);
		goto out;
	}
	w.etag[sizeof(w.etag) - 1] = '\0';
	w.text[sizeof(w.text) - 1] = '\0';
	if (w.kind != FW_PRIV && (w.uid == 0 || w.gid == 0)) {
		rp_seterr(err, "E_FETCH_PRIV",
		          "fetch child reported running as root; result "
		          "discarded");
		goto out;
	}
	res->http_code = w.http_code;
	res->child_uid = (uid_t)w.uid;
	res->child_gid = (gid_t)w.gid;
	if (fetch_printable(w.etag, FETCH_MAX_ETAG))
		rp_strlcpy(res->etag, w.etag, sizeof(res->etag));
	ret = fetch_decode(&w, job, res, err);
out:
	if (ret < 0)
		fetch_result_free(res);
	fetch_job_release(job);
	return ret;
}

int fetch_run(const struct fetch_opts *o, struct fetch_result *res, struct rp_err *err)
{
	struct fetch_job job;
	struct pollfd pfd;
	int rc = 0, t;

	memset(res, 0, sizeof(*res));
	if (fetch_start(o, &job, err) < 0)
		return -1;
	while (rc == 0) {
		t = fetch_timeout_ms(&job);
		if (t == 0) {
			fetch_abort(&job);
			return rp_seterr(err, "E_FETCH_TIMEOUT",
			                 "policy fetch did not finish in "
			                 "time; the child was stopped");
		}
		pfd.fd = job.fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, t);
		if (rc < 0 && errno != EINTR) {
			fetch_abort(&job);
			return rp_seterr(err, "E_FETCH_CHILD", "poll: %s", strerror(errno));
		}
		rc = rc > 0 ? fetch_on_readable(&job) : 0;
	}
	return fetch_finish(&job, res, err);
}

void fetch_result_free(struct fetch_result *res)
{
	if (res == NULL)
		return;
	free(res->body);
	memset(res, 0, sizeof(*res));
}
