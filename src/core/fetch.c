/* SPDX-License-Identifier: ISC */
/*
 * Policy download, parent side.  The parent (root) validates the request,
 * reads the CA and pinned-key files, writes the options to a memfd, and forks;
 * the child drops to an unprivileged user and only then execs the separate
 * rampart-fetch helper (src/fetch/), which alone links libcurl.  The parent
 * trusts nothing the helper sends: every length and string in the answer is
 * checked.  No libcurl header or library is used here.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "compat.h"
#include "fetch.h"
#include "oci_ref.h"
#include "safefs.h"
#include "fetch_wire.h"
#include "log.h"

#ifndef RAMPART_LIBEXECDIR
#define RAMPART_LIBEXECDIR "/usr/local/libexec"
#endif

#define FETCH_HARD_MAX_BYTES (64u << 20)
#define FETCH_GRACE_MS 5000
_Static_assert(OCI_MAX_CRED == FETCH_MAX_CRED, "one credentials limit");

#define FETCH_HELPER_FD 5 /* the checked helper binary, close-on-exec, for fexecve */

enum { JS_IDLE = 0, JS_READING, JS_DONE, JS_BAD };

/* Everything the child needs, prepared by the parent before fork(). */
struct fetch_plan {
	const char *url; /* checked; the caller's string */
	bool insecure;   /* http://127.0.0.1 or http://[::1] */
	char host[FETCH_MAX_HOST + 1];
	char *etag;
	char *ca; /* CA bundle contents */
	size_t ca_len;
	char *pin; /* "sha256//..." */
	char *proxy;
	char *redirect; /* extra redirect hosts, comma-separated */
	bool oci;       /* an oci:// source: the helper speaks the distribution API */
	char *cred;     /* "user:password" from policy.registry_credentials, wiped after use */
	char *blob_hosts;
	uid_t uid;
	gid_t gid;
	size_t max_bytes;
	long connect_ms, total_ms, low_bytes, low_s;
	char helper[PATH_MAX];
	int helper_fd; /* opened and checked; -1 when none */
	int opts_fd;   /* the options record; -1 when none */
};

static long long fetch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fetch_printable(const char *s, size_t max)
{
	return fetch_wire_printable(s, strnlen(s, max + 1), max);
}

/* ---- URL check (parent, no libcurl) ------------------------------------ */

/*
 * A deliberately narrow reading of RFC 3986: scheme "://" authority, where
 * the authority is a host (a name of letters, digits, '-', '.', '_', or a
 * bracketed IPv6 literal with an optional %25 zone) and an optional port.
 * The helper parses the same string again with libcurl's URL API and refuses
 * to fetch if libcurl sees another scheme or host (FW_URL).
 */
struct fetch_url {
	bool oci;
	bool insecure;
	bool zone;
	char host[FETCH_MAX_HOST + 1];
};

static int fetch_url_bad(const char *url, struct rp_err *err)
{
	return rp_seterr(err, "E_FETCH_URL",
	                 "the policy URL %s cannot be parsed; use https://host/path", url);
}

static int fetch_url_scheme(const char *url, struct fetch_url *u, const char **rest,
                            struct rp_err *err)
{
	size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
	char scheme[33];

	if (n == 0 || n >= sizeof(scheme) || strncmp(url + n, "://", 3) != 0 ||
	    !((url[0] | 0x20) >= 'a' && (url[0] | 0x20) <= 'z'))
		return fetch_url_bad(url, err);
	for (size_t i = 0; i < n; i++)
		scheme[i] = (char)((url[i] >= 'A' && url[i] <= 'Z') ? url[i] | 0x20 : url[i]);
	scheme[n] = '\0';
	u->insecure = strcmp(scheme, "http") == 0;
	if (strcmp(scheme, "https") != 0 && !u->insecure)
		return rp_seterr(err, "E_FETCH_URL",
		                 "the policy URL scheme \"%s\" is refused; only https is allowed",
		                 scheme);
	*rest = url + n + 3;
	return 0;
}

/* "[v6]" with an optional "%25zone"; returns the length up to and including ']' or 0. */
static size_t fetch_url_v6(const char *a, size_t alen, bool *zone)
{
	const char *close = memchr(a, ']', alen), *p = a + 1, *z;
	size_t n;

	if (close == NULL)
		return 0;
	n = strspn(p, "0123456789abcdefABCDEF:.");
	if (n == 0 || memchr(p, ':', n) == NULL)
		return 0;
	p += n;
	*zone = *p == '%';
	if (*zone) {
		if (strncmp(p, "%25", 3) != 0)
			return 0;
		z = p + 3;
		p = z +
		    strspn(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~");
		if (p == z)
			return 0;
	}
	return p == close ? (size_t)(close - a) + 1 : 0;
}

static int fetch_url_authority(const char *url, const char *a, struct fetch_url *u,
                               struct rp_err *err)
{
	size_t alen = strcspn(a, "/?#"), hlen;
	const char *port;

	if (memchr(a, '@', alen) != NULL)
		return rp_seterr(err, "E_FETCH_URL",
		                 "the policy URL carries a user name or password; "
		                 "credentials in URLs are refused");
	if (a[0] == '[') {
		hlen = fetch_url_v6(a, alen, &u->zone);
	} else {
		hlen =
		    strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._");
		if (hlen > alen)
			hlen = alen;
	}
	if (hlen == 0 || hlen > FETCH_MAX_HOST)
		return fetch_url_bad(url, err);
	port = a + hlen;
	if (port < a + alen) {
		size_t digits = strspn(port + 1, "0123456789");
		long v = digits > 0 && digits <= 5 ? strtol(port + 1, NULL, 10) : 0;
		if (*port != ':' || 1 + digits != alen - hlen || v < 1 || v > 65535)
			return fetch_url_bad(url, err);
	}
	memcpy(u->host, a, hlen);
	u->host[hlen] = '\0';
	return 0;
}

/* oci://: https to the registry; http only to a loopback literal with the test flag. */
static int fetch_url_oci(const char *url, bool allow_loopback, struct fetch_url *u,
                         struct rp_err *err)
{
	struct oci_ref r;

	if (oci_ref_parse(url, &r, err) < 0)
		return -1;
	u->oci = true;
	u->insecure =
	    allow_loopback && (strcmp(r.host, "127.0.0.1") == 0 || strcmp(r.host, "[::1]") == 0);
	rp_strlcpy(u->host, r.host, sizeof(u->host));
	return 0;
}

static int fetch_url_parse(const char *url, bool allow_loopback, struct fetch_url *u,
                           struct rp_err *err)
{
	const char *rest = NULL;

	memset(u, 0, sizeof(*u));
	if (url == NULL || url[0] == '\0')
		return rp_seterr(err, "E_FETCH_URL", "no policy URL is configured");
	if (!fetch_printable(url, FETCH_MAX_URL))
		return rp_seterr(err, "E_FETCH_URL",
		                 "the policy URL is too long or has control characters");
	if (strpbrk(url, " \\") != NULL) /* libcurl refuses spaces; '\\' is read as '/' by some */
		return fetch_url_bad(url, err);
	if (oci_is_url(url))
		return fetch_url_oci(url, allow_loopback, u, err);
	if (fetch_url_scheme(url, u, &rest, err) < 0 || fetch_url_authority(url, rest, u, err) < 0)
		return -1;
	if (u->insecure && !allow_loopback)
		return rp_seterr(err, "E_FETCH_URL",
		                 "http:// policy URLs are refused; use https "
		                 "(allow_insecure_loopback permits http only to "
		                 "127.0.0.1 and [::1], for tests)");
	if (u->insecure && strcmp(u->host, "127.0.0.1") != 0 && strcmp(u->host, "[::1]") != 0)
		return rp_seterr(err, "E_FETCH_URL",
		                 "http:// is allowed only to the literal addresses "
		                 "127.0.0.1 and [::1], not to \"%s\"; use https",
		                 u->host);
	return 0;
}

int fetch_check_url(const char *url, bool allow_insecure_loopback, struct rp_err *err)
{
	struct fetch_url u;

	return fetch_url_parse(url, allow_insecure_loopback, &u, err);
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

/* At least one PEM certificate in bytes [b, b+len). */
static int fetch_has_cert(const char *b, size_t len)
{
	BIO *bio = BIO_new_mem_buf(b, (int)len);
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int ok = x != NULL;

	X509_free(x);
	BIO_free(bio);
	return ok;
}

int fetch_check_trust_files(const char *ca_file, const char *pinned_pubkey, struct rp_err *err)
{
	char *ca = NULL, *pin = NULL;
	size_t ca_len = 0;
	struct rp_err e;
	int ret = -1;

	if (ca_file != NULL && *ca_file != '\0') {
		if (fetch_read_file(ca_file, FETCH_MAX_CA_FILE, &ca, &ca_len, &e) < 0) {
			rp_seterr(err, "E_CONFIG", "policy.ca_file: %s", e.msg);
			goto out;
		}
		if (!fetch_has_cert(ca, ca_len)) {
			rp_seterr(
			    err, "E_CONFIG",
			    "policy.ca_file %s holds no PEM certificate (\"-----BEGIN "
			    "CERTIFICATE-----\"); give the CA certificate that signed the policy "
			    "server's certificate",
			    ca_file);
			goto out;
		}
	}
	if (pinned_pubkey != NULL && *pinned_pubkey != '\0' &&
	    fetch_pin(pinned_pubkey, &pin, &e) < 0) {
		rp_seterr(err, "E_CONFIG", "policy.pinned_pubkey: %s", e.msg);
		goto out;
	}
	ret = 0;
out:
	free(ca);
	free(pin);
	return ret;
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

/* ---- the helper binary (parent, root) ---------------------------------- */

/* Directory of the running executable, or -1. */
static int fetch_self_dir(char *dir, size_t size)
{
	return rp_self_exe_dir(dir, size);
}

/* 0 if "dir/rel" fits in out and exists. */
static int fetch_helper_try(const char *dir, const char *rel, char *out, size_t size)
{
	struct stat sb;
	int n = snprintf(out, size, "%s/%s", dir, rel);

	return n > 0 && (size_t)n < size && stat(out, &sb) == 0 ? 0 : -1;
}

void fetch_helper_path(const char *configured, char *out, size_t size)
{
	char dir[PATH_MAX];

	if (configured != NULL && configured[0] != '\0') {
		rp_strlcpy(out, configured, size);
		return;
	}
	/* a build tree (next to rampartd), then an install under any prefix (sbin/../libexec) */
	if (fetch_self_dir(dir, sizeof(dir)) == 0 &&
	    (fetch_helper_try(dir, FETCH_HELPER_NAME, out, size) == 0 ||
	     fetch_helper_try(dir, "../libexec/rampart/" FETCH_HELPER_NAME, out, size) == 0))
		return;
	snprintf(out, size, "%s/rampart/%s", RAMPART_LIBEXECDIR, FETCH_HELPER_NAME);
}

/*
 * A helper the fetch user may read is refused: exec of a file its user cannot
 * read is what makes the kernel start the child non-dumpable (not ptrace-able
 * by other processes of that user from its first instruction; PR_SET_DUMPABLE
 * before the exec does not survive it).  Yama is not relied on: many kernels
 * have none.  Only a tree built with RAMPART_READABLE_FETCH_HELPER (valgrind
 * must read what it runs; scripts/check-deep) accepts one.
 */
static int fetch_helper_readable(const struct stat *sb)
{
#ifdef RAMPART_READABLE_FETCH_HELPER
	(void)sb;
	return 0;
#else
	return (sb->st_mode & (S_IRGRP | S_IROTH)) != 0;
#endif
}

/*
 * Opens the helper and checks the opened file: a regular file owned by root
 * that neither group nor others can write or read.  The child execs this very fd
 * (fexecve), so the file checked is the file run, whatever happens to the
 * path afterwards.
 */
static int fetch_helper_open(const char *path, int *fdp, struct rp_err *err)
{
	struct stat sb;
	int fd;

	*fdp = -1;
	if (path[0] != '/')
		return rp_seterr(err, "E_FETCH_HELPER",
		                 "the fetch helper path \"%s\" is not absolute; set "
		                 "policy.fetch_helper to the full path of rampart-fetch",
		                 path);
#ifdef O_PATH
	fd = open(path, O_PATH | O_CLOEXEC);
#else
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
#endif
	if (fd < 0)
		return rp_seterr(err, "E_FETCH_HELPER",
		                 "cannot open the fetch helper %s: %s; nothing was fetched "
		                 "(install rampart-fetch there or set policy.fetch_helper)",
		                 path, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_uid != 0 ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		return rp_seterr(err, "E_FETCH_HELPER",
		                 "refusing the fetch helper %s: it must be a regular file owned "
		                 "by root and not writable by group or others (it has owner uid "
		                 "%u, mode %04o); nothing was fetched",
		                 path, (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777));
	}
	if (fetch_helper_readable(&sb)) {
		close(fd);
		return rp_seterr(
		    err, "E_FETCH_HELPER",
		    "refusing the fetch helper %s: group or others can read it (mode "
		    "%04o), so the kernel would start it ptrace-able by other processes "
		    "of the fetch user, who could read its options and forge its "
		    "answer; nothing was fetched (fix with: chmod 0711 %s)",
		    path, (unsigned)(sb.st_mode & 07777), path);
	}
	*fdp = fd;
	return 0;
}

/* ---- the plan and the options record (parent, root) -------------------- */

static void fetch_plan_free(struct fetch_plan *pl)
{
	free(pl->etag);
	free(pl->ca);
	free(pl->pin);
	free(pl->proxy);
	free(pl->redirect);
	free(pl->blob_hosts);
	if (pl->cred != NULL) {
		oci_wipe(pl->cred, strlen(pl->cred));
		free(pl->cred);
	}
	if (pl->helper_fd >= 0)
		close(pl->helper_fd);
	if (pl->opts_fd >= 0)
		close(pl->opts_fd);
	memset(pl, 0, sizeof(*pl));
	pl->helper_fd = pl->opts_fd = -1;
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
	struct fetch_url u;

	memset(pl, 0, sizeof(*pl));
	pl->helper_fd = pl->opts_fd = -1;
	if (o == NULL)
		return rp_seterr(err, "E_FETCH_CONFIG", "no fetch options given");
	if (o->etag != NULL && !fetch_printable(o->etag, FETCH_MAX_ETAG))
		return rp_seterr(err, "E_FETCH_CONFIG",
		                 "the stored ETag is longer than %d bytes "
		                 "or has control characters",
		                 FETCH_MAX_ETAG);
	if (o->proxy != NULL && !fetch_printable(o->proxy, FETCH_MAX_URL))
		return rp_seterr(err, "E_FETCH_CONFIG", "the proxy setting has control characters");
	if (o->redirect_hosts != NULL && !fetch_printable(o->redirect_hosts, FETCH_MAX_URL))
		return rp_seterr(err, "E_FETCH_CONFIG",
		                 "policy.redirect_hosts is too long or has control characters");
	if (fetch_plan_numbers(o, pl, err) < 0 ||
	    fetch_url_parse(o->url, o->allow_insecure_loopback, &u, err) < 0 ||
	    fetch_user(o->user, &pl->uid, &pl->gid, err) < 0 ||
	    fetch_dup_opt(o->etag, &pl->etag, err) < 0 ||
	    fetch_dup_opt(u.insecure ? NULL : o->proxy, &pl->proxy, err) < 0 ||
	    fetch_dup_opt(o->redirect_hosts, &pl->redirect, err) < 0)
		return -1;
	pl->url = o->url;
	pl->insecure = u.insecure;
	pl->oci = u.oci;
	if (u.oci && (fetch_dup_opt(o->blob_redirect_hosts, &pl->blob_hosts, err) < 0 ||
	              (o->registry_credentials != NULL && o->registry_credentials[0] != '\0' &&
	               oci_read_credentials(o->registry_credentials, &pl->cred, err) < 0)))
		return -1;
	if (pl->blob_hosts != NULL && !fetch_printable(pl->blob_hosts, FETCH_MAX_BLOB_HOSTS))
		return rp_seterr(err, "E_FETCH_CONFIG", "policy.blob_redirect_hosts is too long");
	rp_strlcpy(pl->host, u.host, sizeof(pl->host));
	if (o->ca_file != NULL && o->ca_file[0] != '\0' &&
	    fetch_read_file(o->ca_file, FETCH_MAX_CA_FILE, &pl->ca, &pl->ca_len, err) < 0)
		return -1;
	if (o->pinned_pubkey != NULL && o->pinned_pubkey[0] != '\0' &&
	    fetch_pin(o->pinned_pubkey, &pl->pin, err) < 0)
		return -1;
	fetch_helper_path(o->fetch_helper, pl->helper, sizeof(pl->helper));
	return fetch_helper_open(pl->helper, &pl->helper_fd, err);
}

/* An anonymous file only this process (and the child it forks) can reach. */
static int fetch_opts_file(void)
{
	return rp_anon_file("rampart-fetch-opts");
}

/* Writes the options record (see fetch_wire.h) to pl->opts_fd. */
static int fetch_opts_write(struct fetch_plan *pl, struct rp_err *err)
{
	struct fetch_wire_opts h;
	const char *s[FOS_N] = {pl->url, pl->host, pl->etag,       pl->proxy,   pl->ca,
	                        pl->pin, pl->cred, pl->blob_hosts, pl->redirect};
	int bad = 0;

	memset(&h, 0, sizeof(h));
	h.magic = FETCH_OPTS_MAGIC;
	h.flags = (pl->insecure ? FETCH_OPT_INSECURE : 0u) | (pl->oci ? FETCH_OPT_OCI : 0u);
	h.max_bytes = pl->max_bytes;
	h.connect_ms = pl->connect_ms;
	h.total_ms = pl->total_ms;
	h.low_bytes = pl->low_bytes;
	h.low_s = pl->low_s;
	for (int i = 0; i < FOS_N; i++)
		h.len[i] = s[i] == NULL ? 0 : (uint32_t)(i == FOS_CA ? pl->ca_len : strlen(s[i]));
	pl->opts_fd = fetch_opts_file();
	if (pl->opts_fd < 0)
		return rp_seterr(err, "E_FETCH_CHILD", "cannot create the options file: %s",
		                 strerror(errno));
	bad |= safefs_write_all(pl->opts_fd, &h, sizeof(h));
	for (int i = 0; i < FOS_N; i++)
		if (h.len[i] > 0)
			bad |= safefs_write_all(pl->opts_fd, s[i], h.len[i]);
	if (bad || lseek(pl->opts_fd, 0, SEEK_SET) != 0)
		return rp_seterr(err, "E_FETCH_CHILD", "cannot write the fetch options: %s",
		                 strerror(errno));
	return 0;
}

/* ---- the forked child, up to the exec ---------------------------------- */

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

/*
 * stdin/out/err on /dev/null, the answer pipe on fd 3, the options on fd 4,
 * the helper binary on fd 5 (close-on-exec), everything else closed.
 */
static int fetch_child_fds(int wfd, int ofd, int hfd)
{
	int src[3] = {wfd, ofd, hfd}, hi[3], nul;

	for (int i = 0; i < 3; i++)
		if ((hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10)) < 0)
			return -1;
	nul = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 3; fd++)
		if (nul >= 0 && nul != fd)
			dup2(nul, fd);
	for (int i = 0; i < 3; i++)
		if (dup2(hi[i], FETCH_WIRE_FD + i) != FETCH_WIRE_FD + i)
			return -1;
	if (fcntl(FETCH_HELPER_FD, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	rp_close_from(FETCH_HELPER_FD + 1);
	return 0;
}

/* The child's own answer when it cannot get as far as the helper. */
static _Noreturn void fetch_child_reply(uint32_t kind, const char *text)
{
	struct fetch_wire w;

	memset(&w, 0, sizeof(w));
	w.magic = FETCH_WIRE_MAGIC;
	w.kind = kind;
	w.uid = (uint32_t)geteuid();
	w.gid = (uint32_t)getegid();
	rp_strlcpy(w.text, text, sizeof(w.text));
	if (safefs_write_all(FETCH_WIRE_FD, &w, sizeof(w)) < 0)
		_exit(3);
	_exit(0);
}

/* compat.c: setgroups + setres[ug]id (macOS: setgid/setuid as root set all three). */
static int fetch_setids(uid_t uid, gid_t gid)
{
	return rp_set_all_ids(uid, gid);
}

static int fetch_ids_are(uid_t uid, gid_t gid)
{
	return rp_ids_are(uid, gid);
}

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
	/* Linux: no_new_privs + not dumpable; macOS has neither (compat.h) */
	if (rp_harden_after_drop() < 0)
		return rp_seterr(err, "E_FETCH_PRIV", "prctl(no_new_privs/dumpable) failed: %s",
		                 strerror(errno));
	return 0;
}

/*
 * Sandbox, drop root, then replace this copy of the daemon with the helper:
 * a fresh address space that inherits none of the daemon's memory, with an
 * empty environment, fds 0-4 as above and nothing else.
 */
static _Noreturn void fetch_child(const struct fetch_plan *pl, int wfd)
{
	static char *const envp[] = {NULL};
	char *const argv[] = {(char *)FETCH_HELPER_NAME, (char *)FETCH_HELPER_ARG, NULL};
	char text[128];
	struct rlimit zero = {0, 0};
	struct rp_err err = {{0}, {0}};

	fetch_child_signals();
	if (fetch_child_fds(wfd, pl->opts_fd, pl->helper_fd) < 0)
		_exit(2);
	if (chdir("/") < 0)
		_exit(2);
	setrlimit(RLIMIT_CORE, &zero);
	setrlimit(RLIMIT_FSIZE, &zero); /* the helper writes no files; the pipe is exempt */
	if (fetch_drop_privileges(pl->uid, pl->gid, &err) < 0)
		fetch_child_reply(FW_PRIV, err.msg);
	alarm((unsigned)(pl->total_ms / 1000 + 10));         /* survives the exec: the watchdog */
	rp_exec_fd(FETCH_HELPER_FD, pl->helper, argv, envp); /* fexecve on Linux */
	snprintf(text, sizeof(text), "exec as uid %u: %s", (unsigned)pl->uid, strerror(errno));
	fetch_child_reply(FW_EXEC, text);
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
	free(job->helper);
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
	if (fetch_plan_make(o, &pl, err) < 0 || fetch_opts_write(&pl, err) < 0)
		goto out;
	job->hdr = calloc(1, sizeof(struct fetch_wire));
	if (job->hdr == NULL) {
		rp_seterr(err, "E_FETCH_NOMEM", "out of memory");
		goto out;
	}
	if (rp_pipe_cloexec(p, false) < 0) {
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
	job->helper = strdup(pl.helper); /* for messages only; NULL is fine */
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
	static const struct {
		const char *code, *what;
	} cls[FWC_MAX] = {
	    [FWC_NETWORK] = {"E_FETCH_NETWORK", "network error"},
	    [FWC_TIMEOUT] = {"E_FETCH_TIMEOUT", "timed out (connect, total or low-speed limit)"},
	    [FWC_PROTOCOL] = {"E_FETCH_PROTOCOL",
	                      "refused a URL or redirect to a scheme other than https"},
	    [FWC_REDIRECT] = {"E_FETCH_REDIRECT", "too many redirects"},
	    [FWC_CONNECT] = {"E_FETCH_CONNECT", "could not connect"},
	    [FWC_TLS] = {"E_FETCH_TLS", "TLS error (certificate, pinned key or handshake)"},
	    [FWC_REDIRECT_HOST] = {"E_FETCH_REDIRECT",
	                           "refused a redirect to another host (redirects stay on the "
	                           "policy URL's host unless policy.redirect_hosts lists others)"},
	};
	uint32_t c = w->err_class < FWC_MAX ? w->err_class : FWC_NETWORK;

	return rp_seterr(err, cls[c].code, "policy fetch failed: %s (curl %d: %s)", cls[c].what,
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
	case FW_EXEC:
		return rp_seterr(err, "E_FETCH_HELPER",
		                 "the fetch helper %s could not be executed (%s); nothing was "
		                 "fetched",
		                 job->helper != NULL ? job->helper : "?", text);
	case FW_URL:
		return rp_seterr(err, "E_FETCH_URL", "fetch helper: %s; nothing was fetched", text);
	case FW_OCI:
		return rp_seterr(err,
		                 w->err_class < FWO_MAX ? fetch_wire_oci_code[w->err_class]
		                                        : "E_FETCH_CHILD",
		                 "registry answer refused: %s", text);
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

int fetch_job_read_from(struct fetch_job *job, int fd, size_t max_bytes)
{
	fetch_job_init(job);
	if ((job->hdr = calloc(1, sizeof(struct fetch_wire))) == NULL)
		return -1;
	job->fd = fd;
	job->max_bytes = max_bytes;
	job->deadline_ms = fetch_now_ms() + 60000;
	job->state = JS_READING;
	return 0;
}

int fetch_finish(struct fetch_job *job, struct fetch_result *res, struct rp_err *err)
{
	int st;

	memset(res, 0, sizeof(*res));
	if (job->state == JS_IDLE)
		return rp_seterr(err, "E_FETCH_CHILD", "no fetch in progress");
	if (job->state == JS_READING) {
		fetch_abort(job);
		return rp_seterr(err, "E_FETCH_CHILD", "fetch finished before the child answered");
	}
	close(job->fd); /* first: a child still writing gets EPIPE, not a wait */
	job->fd = -1;
	st = fetch_reap(job->pid);
	job->pid = -1;
	return fetch_finish_status(job, st, res, err);
}

int fetch_finish_status(struct fetch_job *job, int st, struct fetch_result *res, struct rp_err *err)
{
	struct fetch_wire w;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (job->state == JS_IDLE || job->state == JS_READING) {
		fetch_job_release(job);
		return rp_seterr(err, "E_FETCH_CHILD", "fetch finished before the child answered");
	}
	if (job->fd >= 0)
		close(job->fd);
	job->fd = -1;
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
	res->requests = w.requests;
	res->bytes_in = w.bytes_in;
	if (fetch_printable(w.etag, FETCH_MAX_ETAG))
		rp_strlcpy(res->etag, w.etag, sizeof(res->etag));
	ret = fetch_decode(&w, job, res, err);
out:
	if (ret < 0) {
		long code = res->http_code; /* kept: a 404 ends the root chain walk */
		fetch_result_free(res);
		res->http_code = code;
	}
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
