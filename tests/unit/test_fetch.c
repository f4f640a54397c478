/* SPDX-License-Identifier: ISC */
/*
 * Tests for the unprivileged fetch child against a local test server
 * (tests/integration/helpers/policy_server.py on 127.0.0.1 with a throwaway
 * self-signed certificate): https only, size caps both ways, timeouts,
 * redirects, TLS failures, ETags, and the child's credentials.  Needs root
 * (the privilege drop); every wait is bounded.  The child execs the
 * rampart-fetch helper from $RAMPART_BUILD; this program doubles as a
 * misbehaving helper (main() with FETCH_HELPER_ARG) to show that the parent
 * trusts nothing the helper answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "config.h"
#include "fetch.h"
#include "fetch_wire.h"

extern char **environ;

static const char policy_body[] =
    "{\"org\":\"example-org\",\"version\":1,\"note\":\"not parsed by the fetch child\"}\n";

static struct {
	bool ok; /* server running and we are root */
	char dir[64];
	char ca[PATH_MAX];
	char log[PATH_MAX];
	char helper[PATH_MAX]; /* $RAMPART_BUILD/rampart-fetch */
	char bin[128];         /* dir/bin: copies of this program and of the helper */
	char fake[PATH_MAX];   /* dir/bin/test_fetch: this program as a fake helper */
	char copy[PATH_MAX];   /* dir/bin/rampart-fetch */
	pid_t pid;
	int stdin_fd;
	int https, http, garbage, hang, http6; /* http6: 0 when there is no ::1 */
	uid_t nobody_uid;
	gid_t nobody_gid;
} srv = {.pid = -1, .stdin_fd = -1};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int json_port(const char *line, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(line, pat);
	return p != NULL ? atoi(p + strlen(pat)) : 0;
}

static int write_file(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return -1;
	if (fwrite(buf, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

/* Reads one line from fd within timeout_ms. */
static int read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t got = 0;
	long long end = now_ms() + timeout_ms;

	while (got + 1 < size) {
		struct pollfd pfd = {fd, POLLIN, 0};
		long long left = end - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = read(fd, buf + got, 1);
		if (n <= 0)
			return -1;
		if (buf[got] == '\n')
			break;
		got++;
	}
	buf[got] = '\0';
	return 0;
}

/*
 * scripts/check-deep runs this under valgrind, which must open and read every
 * program before its process may exec it (natively fexecve() needs neither the
 * path nor read permission).  There the helpers are readable and the temp dir
 * searchable, and the non-dumpable check (a consequence of 0711) is skipped.
 */
static bool under_valgrind(void)
{
	return getenv("RAMPART_UNDER_VALGRIND") != NULL;
}

static mode_t helper_mode(void)
{
	return under_valgrind() ? 0755 : 0711;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, ret = -1;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			goto out;
	ret = n == 0 && fchmod(out, mode) == 0 ? 0 : -1;
out:
	close(in);
	if (out >= 0 && close(out) < 0)
		ret = -1;
	return ret;
}

static int start_server(void)
{
	const char *py = getenv("RAMPART_PYTHON"), *src = getenv("RAMPART_SRC");
	char script[PATH_MAX], body[PATH_MAX + 16], line[1024];
	int in[2], out[2];

	if (py == NULL || src == NULL)
		return -1;
	snprintf(script, sizeof(script), "%s/tests/integration/helpers/policy_server.py", src);
	snprintf(body, sizeof(body), "%s/policy.json", srv.dir);
	snprintf(srv.log, sizeof(srv.log), "%s/requests.log", srv.dir);
	if (write_file(body, policy_body, sizeof(policy_body) - 1) < 0)
		return -1;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	srv.pid = fork();
	if (srv.pid < 0)
		return -1;
	if (srv.pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl(py, py, "-B", script, "--root", srv.dir, "--cert-dir", srv.dir, "--log",
		      srv.log, "--ipv6", "--exit-on-eof", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	srv.stdin_fd = in[1];
	if (read_line(out[0], line, sizeof(line), 60000) < 0) {
		close(out[0]);
		return -1;
	}
	close(out[0]);
	srv.https = json_port(line, "https");
	srv.http = json_port(line, "http");
	srv.garbage = json_port(line, "garbage");
	srv.hang = json_port(line, "hang");
	srv.http6 = json_port(line, "http6");
	snprintf(srv.ca, sizeof(srv.ca), "%s/cert.pem", srv.dir);
	return srv.https > 0 && srv.http > 0 && srv.garbage > 0 && srv.hang > 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	struct passwd *pw;

	(void)state;
	snprintf(srv.dir, sizeof(srv.dir), "/tmp/rampart-fetch-XXXXXX");
	if (mkdtemp(srv.dir) == NULL)
		return -1;
	if (under_valgrind() && chmod(srv.dir, 0755) < 0)
		return -1;
	if (getenv("RAMPART_BUILD") != NULL)
		snprintf(srv.helper, sizeof(srv.helper), "%s/%s", getenv("RAMPART_BUILD"),
		         FETCH_HELPER_NAME);
	else
		fetch_helper_path(NULL, srv.helper, sizeof(srv.helper));
	snprintf(srv.bin, sizeof(srv.bin), "%s/bin", srv.dir);
	snprintf(srv.fake, sizeof(srv.fake), "%s/test_fetch", srv.bin);
	snprintf(srv.copy, sizeof(srv.copy), "%s/%s", srv.bin, FETCH_HELPER_NAME);
	if (mkdir(srv.bin, 0755) < 0 || copy_file("/proc/self/exe", srv.fake, helper_mode()) < 0 ||
	    copy_file(srv.helper, srv.copy, helper_mode()) < 0) {
		fprintf(stderr, "test_fetch: cannot copy this program or %s (RAMPART_BUILD?)\n",
		        srv.helper);
		return geteuid() == 0 ? -1 : 0; /* as root the helper must be there */
	}
	pw = getpwnam("nobody");
	if (geteuid() != 0 || pw == NULL)
		return 0; /* every server test skips */
	srv.nobody_uid = pw->pw_uid;
	srv.nobody_gid = pw->pw_gid;
	if (start_server() < 0) {
		fprintf(stderr, "test_fetch: could not start policy_server.py\n");
		return 0;
	}
	srv.ok = true;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	if (srv.stdin_fd >= 0)
		close(srv.stdin_fd); /* the server exits on EOF */
	if (srv.pid > 0) {
		kill(srv.pid, SIGTERM);
		waitpid(srv.pid, NULL, 0);
	}
	nftw(srv.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

#define NEED_SERVER()                                                                              \
	do {                                                                                       \
		if (!srv.ok)                                                                       \
			skip();                                                                    \
	} while (0)

static void opts_for(struct fetch_opts *o, char *url, size_t urlsz, const char *scheme, int port,
                     const char *path)
{
	memset(o, 0, sizeof(*o));
	snprintf(url, urlsz, "%s://127.0.0.1:%d%s", scheme, port, path);
	o->url = url;
	o->fetch_helper = srv.helper;
	o->ca_file = srv.ca;
	o->connect_timeout_ms = 2000;
	o->total_timeout_ms = 4000;
}

/* Runs a fetch expected to fail with code; returns the elapsed milliseconds. */
static long long expect_fail(const struct fetch_opts *o, const char *code)
{
	struct fetch_result res;
	struct rp_err err = {{0}, {0}};
	long long t0 = now_ms();

	assert_int_equal(fetch_run(o, &res, &err), -1);
	if (strcmp(err.code, code) != 0)
		fprintf(stderr, "expected %s, got %s: %s\n", code, err.code, err.msg);
	assert_string_equal(err.code, code);
	assert_true(strlen(err.msg) > 10);
	assert_null(res.body);
	return now_ms() - t0;
}

static void expect_ok(const struct fetch_opts *o, struct fetch_result *res)
{
	struct rp_err err = {{0}, {0}};

	if (fetch_run(o, res, &err) != 0)
		fprintf(stderr, "unexpected failure %s: %s\n", err.code, err.msg);
	assert_int_equal(res->status, FETCH_OK);
	assert_int_equal(res->http_code, 200);
}

/* ---- URL rules (no server, no root) ------------------------------------ */

static void test_check_url(void **state)
{
	static const struct {
		const char *url;
		int plain, loopback; /* expected result without / with allow_insecure_loopback */
	} cases[] = {
	    {"https://policy.example.com/p.json", 0, 0},
	    {"HTTPS://Policy.Example.com/p.json", 0, 0},
	    {"https://127.0.0.1:8443/p", 0, 0},
	    {"http://policy.example.com/p.json", -1, -1},
	    {"http://127.0.0.1:8080/p", -1, 0},
	    {"http://[::1]:8080/p", -1, 0},
	    {"http://localhost:8080/p", -1, -1},
	    {"http://127.0.0.2/p", -1, -1},
	    {"http://127.0.0.1.nip.io/p", -1, -1},
	    {"http://127.0.0.1@evil.example/p", -1, -1},
	    {"http://127.0.0.1:80@evil.example/p", -1, -1},
	    {"http://user:pw@127.0.0.1/p", -1, -1},
	    {"https://user@policy.example.com/p", -1, -1},
	    {"http://[::1%25lo]:8080/p", -1, -1},
	    {"file:///etc/passwd", -1, -1},
	    {"ftp://policy.example.com/p", -1, -1},
	    {"gopher://127.0.0.1/p", -1, -1},
	    {"policy.example.com/p", -1, -1},
	    {"https://", -1, -1},
	    {"https://policy.example.com/p\r\nX: y", -1, -1},
	    {"", -1, -1},
	    /* our own parser (the daemon has no libcurl): ports, literals, odd characters */
	    {"https://policy.example.com:8443/p?x=1#f", 0, 0},
	    {"https://[::1]:8443/p", 0, 0},
	    {"https://[fe80::1%25eth0]/p", 0, 0},
	    {"http://[::1]/p", -1, 0},
	    {"HTTP://127.0.0.1/p", -1, 0},
	    {"https://policy.example.com:0/p", -1, -1},
	    {"https://policy.example.com:65536/p", -1, -1},
	    {"https://policy.example.com:/p", -1, -1},
	    {"https://policy.example.com:84a3/p", -1, -1},
	    {"https://[::1/p", -1, -1},
	    {"https://[]/p", -1, -1},
	    {"https://[127.0.0.1]/p", -1, -1},
	    {"https://[::1]x/p", -1, -1},
	    {"https://[fe80::1%eth0]/p", -1, -1},
	    {"https://[fe80::1%25]/p", -1, -1},
	    {"https://pol icy.example.com/p", -1, -1},
	    {"https://policy.example.com/a b", -1, -1},
	    {"https://evil.example\\@policy.example.com/p", -1, -1},
	    {"https://policy.example.com\\x/p", -1, -1},
	    {"https://%70olicy.example.com/p", -1, -1},
	    {"https://:443/p", -1, -1},
	    {"https:/policy.example.com/p", -1, -1},
	    {"1https://policy.example.com/p", -1, -1},
	    {"https://poli\xc3\xa7y.example.com/p", -1, -1},
	    {"http://127.0.0.1:8080@127.0.0.1/p", -1, -1},
	};
	struct rp_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int a = fetch_check_url(cases[i].url, false, &err);
		int b = fetch_check_url(cases[i].url, true, &err);
		if (a != cases[i].plain || b != cases[i].loopback)
			fprintf(stderr, "url case %zu (%s): %d/%d\n", i, cases[i].url, a, b);
		assert_int_equal(a, cases[i].plain);
		assert_int_equal(b, cases[i].loopback);
		if (b < 0)
			assert_string_equal(err.code, "E_FETCH_URL");
	}
	assert_int_equal(fetch_check_url(NULL, true, &err), -1);
}

/* ---- privilege drop ---------------------------------------------------- */

static int drop_child(uid_t uid, gid_t gid)
{
	struct rp_err err;
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (fetch_drop_privileges(uid, gid, &err) < 0)
		return 10;
	if (getresuid(&r, &e, &s) < 0 || r != uid || e != uid || s != uid)
		return 11;
	if (getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid || sg != gid)
		return 12;
	if (getgroups(0, NULL) != 0)
		return 13;
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return 14;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return 15;
	/* once dropped, a second drop to someone else must fail */
	if (fetch_drop_privileges(1, 1, &err) == 0 || strcmp(err.code, "E_FETCH_PRIV") != 0)
		return 16;
	return 0;
}

static void test_drop_privileges(void **state)
{
	struct rp_err err;
	struct passwd *pw = getpwnam("nobody");
	pid_t pid;
	int st;

	(void)state;
	if (geteuid() != 0 || pw == NULL)
		skip();
	assert_int_equal(fetch_drop_privileges(0, 0, &err), -1); /* never "drop" to root */
	assert_string_equal(err.code, "E_FETCH_PRIV");
	assert_int_equal(fetch_drop_privileges(pw->pw_uid, 0, &err), -1);
	assert_int_equal(geteuid(), 0); /* refusals happen before anything changes */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(drop_child(pw->pw_uid, pw->pw_gid));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* Without root the drop fails, and so does the whole fetch: nothing is fetched. */
static void test_fetch_without_root_fails(void **state)
{
	struct passwd *pw = getpwnam("nobody");
	pid_t pid;
	int st;

	(void)state;
	NEED_SERVER();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct fetch_opts o;
		struct fetch_result res;
		struct rp_err err = {{0}, {0}};
		char url[128];

		if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			_exit(10);
		opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json");
		o.ca_file = NULL; /* /tmp dir is 0700: nobody could not read it anyway */
		if (fetch_run(&o, &res, &err) != -1)
			_exit(11);
		if (strcmp(err.code, "E_FETCH_PRIV") != 0) {
			fprintf(stderr, "got %s: %s\n", err.code, err.msg);
			_exit(12);
		}
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_bad_user_refused(void **state)
{
	struct fetch_opts o;
	char url[128];

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json");
	o.user = "root";
	expect_fail(&o, "E_FETCH_PRIV");
	o.user = "no-such-user-rampart";
	expect_fail(&o, "E_FETCH_PRIV");
}

/* ---- successful fetches ------------------------------------------------ */

static void test_fetch_ok(void **state)
{
	struct fetch_opts o;
	struct fetch_result res;
	char url[128];

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json");
	expect_ok(&o, &res);
	assert_int_equal(res.body_len, sizeof(policy_body) - 1);
	assert_memory_equal(res.body, policy_body, res.body_len);
	assert_int_equal(res.body[res.body_len], '\0');
	assert_int_equal(strlen(res.etag), 34); /* "<32 hex>" */
	assert_int_equal(res.etag[0], '"');
	/* the child ran libcurl as nobody, not root */
	assert_int_equal(res.child_uid, srv.nobody_uid);
	assert_int_equal(res.child_gid, srv.nobody_gid);
	fetch_result_free(&res);
}

static int log_count(const char *needle)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(srv.log, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

static void test_etag_not_modified(void **state)
{
	struct fetch_opts o;
	struct fetch_result res, res2;
	struct rp_err err = {{0}, {0}};
	char url[128], etag[FETCH_MAX_ETAG + 1];

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json?x=etag");
	expect_ok(&o, &res);
	rp_strlcpy(etag, res.etag, sizeof(etag));
	fetch_result_free(&res);

	o.etag = etag;
	assert_int_equal(fetch_run(&o, &res2, &err), 0);
	assert_int_equal(res2.status, FETCH_NOT_MODIFIED);
	assert_int_equal(res2.http_code, 304);
	assert_null(res2.body);
	assert_string_equal(res2.etag, etag);
	assert_true(log_count("\"if_none_match\": \"\\\"") >= 1); /* the header was sent */
	fetch_result_free(&res2);

	o.etag = "\"some-other-version\"";
	expect_ok(&o, &res);
	assert_int_equal(res.body_len, sizeof(policy_body) - 1);
	fetch_result_free(&res);

	/* a stored ETag that would inject a header is refused before any fetch */
	o.etag = "\"x\"\r\nX-Injected: 1";
	expect_fail(&o, "E_FETCH_CONFIG");
}

static void test_bad_etag_from_server_dropped(void **state)
{
	struct fetch_opts o;
	struct fetch_result res;
	char url[700], path[600];

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json?etag=%22a%01b%22");
	expect_ok(&o, &res);
	assert_string_equal(res.etag, ""); /* control character: not kept */
	fetch_result_free(&res);

	memset(path, 0, sizeof(path));
	strcpy(path, "/p/policy.json?etag=");
	memset(path + strlen(path), 'a', 300); /* longer than FETCH_MAX_ETAG */
	opts_for(&o, url, sizeof(url), "https", srv.https, path);
	expect_ok(&o, &res);
	assert_string_equal(res.etag, "");
	fetch_result_free(&res);
}

static void test_redirect_https_followed(void **state)
{
	struct fetch_opts o;
	struct fetch_result res;
	char url[128];

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "https", srv.https, "/redirect?to=/p/policy.json");
	expect_ok(&o, &res);
	assert_int_equal(res.body_len, sizeof(policy_body) - 1);
	fetch_result_free(&res);
}

/*
 * Redirects stay on the policy URL's host (issue 16): libcurl would follow one
 * to any https host.  The refusal comes before any connection to the other
 * host; policy.redirect_hosts (here: o.redirect_hosts) lists exceptions.
 */
static void test_redirect_other_host_refused(void **state)
{
	struct fetch_opts o;
	struct rp_err err;
	struct fetch_result res;
	char url[256], path[160];

	(void)state;
	NEED_SERVER();
	snprintf(path, sizeof(path), "/redirect?to=https://[::1]:%d/p/policy.json", srv.https);
	opts_for(&o, url, sizeof(url), "https", srv.https, path);
	assert_int_equal(fetch_run(&o, &res, &err), -1);
	assert_string_equal(err.code, "E_FETCH_REDIRECT");
	assert_non_null(strstr(err.msg, "[::1]"));
	/* relative and same-host absolute redirects are still followed */
	snprintf(path, sizeof(path), "/redirect?to=https://127.0.0.1:%d/p/policy.json", srv.https);
	opts_for(&o, url, sizeof(url), "https", srv.https, path);
	expect_ok(&o, &res);
	fetch_result_free(&res);
	/* listed: followed (to wherever it leads: the server may not listen on ::1) */
	snprintf(path, sizeof(path), "/redirect?to=https://[::1]:%d/p/policy.json", srv.https);
	opts_for(&o, url, sizeof(url), "https", srv.https, path);
	o.redirect_hosts = "example.invalid,[::1]";
	if (fetch_run(&o, &res, &err) == 0)
		fetch_result_free(&res);
	else
		assert_string_not_equal(err.code, "E_FETCH_REDIRECT");
}

/* ---- TLS --------------------------------------------------------------- */

static char *pin_of_cert(const char *cert_path, const char *key_out)
{
	FILE *f = fopen(cert_path, "r"), *k;
	X509 *x;
	EVP_PKEY *pk;
	unsigned char *der = NULL, md[SHA256_DIGEST_LENGTH], b64[64];
	int len;
	char *pin = NULL;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	pk = X509_get0_pubkey(x);
	len = i2d_PUBKEY(pk, &der);
	assert_true(len > 0);
	SHA256(der, (size_t)len, md);
	EVP_EncodeBlock(b64, md, SHA256_DIGEST_LENGTH);
	assert_true(asprintf(&pin, "sha256//%s", (char *)b64) > 0);
	k = fopen(key_out, "w");
	assert_non_null(k);
	assert_int_equal(PEM_write_PUBKEY(k, pk), 1);
	fclose(k);
	OPENSSL_free(der);
	X509_free(x);
	return pin;
}

static void test_tls_failures(void **state)
{
	struct fetch_opts o;
	struct fetch_result res;
	char url[128], keyfile[PATH_MAX + 16], *pin;

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json");
	o.ca_file = NULL; /* self-signed: not trusted by the system store */
	expect_fail(&o, "E_FETCH_TLS");

	snprintf(keyfile, sizeof(keyfile), "%s/server-pub.pem", srv.dir);
	pin = pin_of_cert(srv.ca, keyfile);
	o.ca_file = srv.ca;
	o.pinned_pubkey = pin; /* right pin as sha256// */
	expect_ok(&o, &res);
	fetch_result_free(&res);
	o.pinned_pubkey = keyfile; /* right pin as a key file */
	expect_ok(&o, &res);
	fetch_result_free(&res);
	o.pinned_pubkey = "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; /* wrong pin */
	expect_fail(&o, "E_FETCH_TLS");
	o.pinned_pubkey = srv.log; /* not a key */
	expect_fail(&o, "E_FETCH_CONFIG");
	free(pin);

	o.pinned_pubkey = NULL;
	o.ca_file = "/nonexistent/ca.pem";
	expect_fail(&o, "E_FETCH_CONFIG");

	/* plain-text bytes on the TLS connection */
	opts_for(&o, url, sizeof(url), "https", srv.garbage, "/p/policy.json");
	expect_fail(&o, "E_FETCH_TLS");
}

/* ---- scheme restrictions ----------------------------------------------- */

static void test_http_refused(void **state)
{
	struct fetch_opts o;
	struct fetch_result res;
	char url[128];

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "http", srv.http, "/p/policy.json");
	expect_fail(&o, "E_FETCH_URL");
	o.allow_insecure_loopback = true; /* literal 127.0.0.1 + flag: allowed */
	expect_ok(&o, &res);
	assert_int_equal(res.body_len, sizeof(policy_body) - 1);
	assert_int_equal(res.child_uid, srv.nobody_uid);
	fetch_result_free(&res);

	if (srv.http6 > 0) { /* the other literal loopback address */
		snprintf(url, sizeof(url), "http://[::1]:%d/p/policy.json", srv.http6);
		expect_ok(&o, &res);
		assert_int_equal(res.body_len, sizeof(policy_body) - 1);
		fetch_result_free(&res);
	}

	snprintf(url, sizeof(url), "http://localhost:%d/p/policy.json", srv.http);
	expect_fail(&o, "E_FETCH_URL"); /* a name, not the literal address */

	/* http loopback mode follows no redirects at all */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect?to=/p/policy.json", srv.http);
	expect_fail(&o, "E_FETCH_HTTP");

	o.url = "file:///etc/passwd";
	expect_fail(&o, "E_FETCH_URL");
}

static void test_redirect_to_http_refused(void **state)
{
	struct fetch_opts o;
	char url[128];
	int before;

	(void)state;
	NEED_SERVER();
	before = log_count("\"port\": ");
	opts_for(&o, url, sizeof(url), "https", srv.https, "/redirect-http?path=/p/policy.json");
	expect_fail(&o, "E_FETCH_PROTOCOL");
	o.allow_insecure_loopback = true; /* the flag never allows a downgrade by redirect */
	expect_fail(&o, "E_FETCH_PROTOCOL");
	/* only the two redirecting requests reached the server, never the http port */
	assert_int_equal(log_count("\"port\": ") - before, 2);

	opts_for(&o, url, sizeof(url), "https", srv.https, "/redirect?to=file:///etc/passwd");
	expect_fail(&o, "E_FETCH_PROTOCOL");
}

static void test_redirect_loop(void **state)
{
	struct fetch_opts o;
	char url[128];
	int before;

	(void)state;
	NEED_SERVER();
	before = log_count("\"path\": \"/loop\"");
	opts_for(&o, url, sizeof(url), "https", srv.https, "/loop");
	expect_fail(&o, "E_FETCH_REDIRECT");
	assert_int_equal(log_count("\"path\": \"/loop\"") - before, 1 + FETCH_MAX_REDIRECTS);
}

/* ---- size caps --------------------------------------------------------- */

static void test_oversize(void **state)
{
	static const char *const paths[] = {"/big", "/big-chunked", "/big-close"};
	struct fetch_opts o;
	struct fetch_result res;
	char url[128], path[64];

	(void)state;
	NEED_SERVER();
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s?n=%d", paths[i], 4096);
		opts_for(&o, url, sizeof(url), "https", srv.https, path);
		o.max_bytes = 4096; /* exactly the cap: fine */
		expect_ok(&o, &res);
		assert_int_equal(res.body_len, 4096);
		fetch_result_free(&res);

		snprintf(path, sizeof(path), "%s?n=%d", paths[i], 4097);
		opts_for(&o, url, sizeof(url), "https", srv.https, path);
		o.max_bytes = 4096;
		expect_fail(&o, "E_FETCH_TOO_LARGE");

		snprintf(path, sizeof(path), "%s?n=%d", paths[i],
		         50 << 20); /* 50 MiB: aborted early */
		opts_for(&o, url, sizeof(url), "https", srv.https, path);
		o.max_bytes = 4096;
		assert_true(expect_fail(&o, "E_FETCH_TOO_LARGE") < 3000);
	}
}

/* ---- time limits ------------------------------------------------------- */

static void test_timeouts(void **state)
{
	struct fetch_opts o;
	char url[128];
	long long ms;

	(void)state;
	NEED_SERVER();
	/* slow drip: total timeout */
	opts_for(&o, url, sizeof(url), "https", srv.https, "/drip?delay=0.1");
	o.total_timeout_ms = 1500;
	o.low_speed_bytes = -1;
	ms = expect_fail(&o, "E_FETCH_TIMEOUT");
	assert_true(ms >= 1400 && ms < 3500);

	/* slow drip: low-speed limit trips before the total timeout */
	opts_for(&o, url, sizeof(url), "https", srv.https, "/drip?delay=0.3");
	o.total_timeout_ms = 20000;
	o.low_speed_bytes = 1000;
	o.low_speed_time_s = 1;
	ms = expect_fail(&o, "E_FETCH_TIMEOUT");
	assert_true(ms < 4000);

	/* answer never comes */
	opts_for(&o, url, sizeof(url), "https", srv.https, "/hang");
	o.total_timeout_ms = 1000;
	ms = expect_fail(&o, "E_FETCH_TIMEOUT");
	assert_true(ms < 3000);

	/* TCP accepted, TLS handshake never answered: the connect timeout covers it */
	opts_for(&o, url, sizeof(url), "https", srv.hang, "/p/policy.json");
	o.connect_timeout_ms = 1000;
	o.total_timeout_ms = 20000;
	ms = expect_fail(&o, "E_FETCH_TIMEOUT");
	assert_true(ms < 3000);
}

/* ---- other server misbehaviour ----------------------------------------- */

static void test_server_errors(void **state)
{
	struct fetch_opts o;
	char url[128];
	struct rp_err err;
	struct fetch_result res;

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "https", srv.https, "/reset");
	expect_fail(&o, "E_FETCH_NETWORK");

	opts_for(&o, url, sizeof(url), "https", srv.https, "/status?code=404");
	assert_int_equal(fetch_run(&o, &res, &err), -1);
	assert_string_equal(err.code, "E_FETCH_HTTP");
	assert_non_null(strstr(err.msg, "404"));

	/* 304 without our If-None-Match is not "not modified" */
	opts_for(&o, url, sizeof(url), "https", srv.https, "/status?code=304");
	expect_fail(&o, "E_FETCH_HTTP");

	/* nothing listens on port 1 */
	opts_for(&o, url, sizeof(url), "https", 1, "/p/policy.json");
	expect_fail(&o, "E_FETCH_CONNECT");
}

/* ---- the poll() API and the child's sandbox ---------------------------- */

static int proc_status_field(pid_t pid, const char *field, char *out, size_t outsz)
{
	char path[64], line[256];
	FILE *f;
	int found = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, strlen(field)) == 0) {
			rp_strlcpy(out, line + strlen(field), outsz);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static int proc_exe(pid_t pid, char *out, size_t size)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, out, size - 1);
	if (n <= 0)
		return -1;
	out[n] = '\0';
	return 0;
}

/* 1 if the file at path (e.g. /proc/PID/maps) contains needle. */
static int file_has(const char *path, const char *needle)
{
	char line[1024];
	int found = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static int has_socket(pid_t pid)
{
	char dir[64], link[PATH_MAX + 80], target[PATH_MAX];
	struct dirent *de;
	int found = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		ssize_t n;
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		found = n > 7 && strncmp(target, "socket:", 7) == 0;
	}
	closedir(d);
	return found;
}

/*
 * The exec'd helper: argv is fixed, the environment is empty, it is not
 * dumpable (its /proc files stay root's), and libcurl is mapped there but not
 * in this process, which links rampart_core exactly like rampartd.
 */
static void check_exec_image(pid_t pid)
{
	static const char want_cmdline[] = FETCH_HELPER_NAME "\0" FETCH_HELPER_ARG;
	char path[64], buf[256];
	struct stat sb;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	for (int i = 0; i < 100; i++) { /* empty for a moment while the exec sets up the stack */
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n != 0)
			break;
		usleep(10000);
	}
	assert_int_equal(n, sizeof(want_cmdline));
	assert_memory_equal(buf, want_cmdline, sizeof(want_cmdline));
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 0);
	close(fd);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_int_equal(stat(path, &sb), 0);
	/* non-dumpable although it runs as nobody, from the exec on: the helper is mode
	 * 0711 (build and install), so the kernel starts it non-dumpable */
	if (!under_valgrind())
		assert_int_equal(sb.st_uid, 0);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	/* the dynamic loader maps libcurl just after the exec: wait for it, bounded */
	for (int i = 0; i < 200 && !file_has(path, "libcurl"); i++)
		usleep(10000);
	assert_true(file_has(path, "libcurl"));
	assert_false(file_has("/proc/self/maps", "libcurl"));
}

/* Every fd of the child: 0-2 are /dev/null, 3 is the pipe, the rest are sockets. */
static void check_child_fds(pid_t pid)
{
	char dir[64], link[PATH_MAX + 80], target[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		ssize_t n;
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		assert_true(n > 0);
		target[n] = '\0';
		if (fd <= 2)
			assert_string_equal(target, "/dev/null");
		else if (fd == 3)
			assert_non_null(strstr(target, "pipe:"));
		else
			assert_true(strncmp(target, "socket:", 7) == 0 ||
			            strncmp(target, "anon_inode:", 11) == 0);
	}
	closedir(d);
}

static void test_poll_api_and_sandbox(void **state)
{
	struct fetch_opts o;
	struct fetch_job job;
	struct fetch_result res;
	struct rp_err err = {{0}, {0}};
	char url[128], uid[128], val[128], exe[PATH_MAX], helper[PATH_MAX];
	int secret, rc = 0;
	long long t0;

	(void)state;
	NEED_SERVER();
	/* an fd the daemon holds (no O_CLOEXEC) must not reach the child */
	secret = open(srv.log, O_RDONLY);
	assert_true(secret >= 0);
	opts_for(&o, url, sizeof(url), "https", srv.https, "/hang");
	o.total_timeout_ms = 10000;
	assert_int_equal(fetch_start(&o, &job, &err), 0);
	assert_true(job.fd >= 0);
	assert_true(fcntl(job.fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(fetch_on_readable(&job), 0); /* nothing yet, and no blocking */
	assert_true(fetch_timeout_ms(&job) > 9000);

	/* wait (bounded) until the child has dropped root and exec'd the helper */
	t0 = now_ms();
	snprintf(uid, sizeof(uid), "\t%u\t%u\t%u\t%u\n", (unsigned)srv.nobody_uid,
	         (unsigned)srv.nobody_uid, (unsigned)srv.nobody_uid, (unsigned)srv.nobody_uid);
	assert_non_null(realpath(srv.helper, helper));
	while (now_ms() - t0 < 3000 &&
	       (proc_status_field(job.pid, "Uid:", val, sizeof(val)) < 0 || strcmp(val, uid) != 0 ||
	        proc_exe(job.pid, exe, sizeof(exe)) < 0 || strcmp(exe, helper) != 0))
		usleep(20000);
	assert_string_equal(exe, helper); /* a fresh image: rampart-fetch, not a daemon copy */
	assert_string_equal(val, uid);
	check_exec_image(job.pid);
	assert_int_equal(proc_status_field(job.pid, "Groups:", val, sizeof(val)), 0);
	assert_true(strspn(val, " \t\n") == strlen(val)); /* no supplementary groups */
	assert_int_equal(proc_status_field(job.pid, "NoNewPrivs:", val, sizeof(val)), 0);
	assert_int_equal(atoi(val), 1);
	assert_int_equal(proc_status_field(job.pid, "CapEff:", val, sizeof(val)), 0);
	assert_int_equal(strtoull(val, NULL, 16), 0);
	/* let curl connect so its socket is there too (and the options fd is closed) */
	t0 = now_ms();
	while (now_ms() - t0 < 3000 && !has_socket(job.pid))
		usleep(20000);
	assert_true(has_socket(job.pid));
	check_child_fds(job.pid);
	close(secret);

	/* fetch_abort kills and reaps at once */
	{
		pid_t pid = job.pid;
		t0 = now_ms();
		fetch_abort(&job);
		assert_true(now_ms() - t0 < 1000);
		assert_int_equal(kill(pid, 0), -1);
		assert_int_equal(errno, ESRCH);
		assert_int_equal(job.fd, -1);
		fetch_abort(&job); /* idempotent */
	}

	/* a full fetch driven by our own poll loop */
	opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json");
	assert_int_equal(fetch_start(&o, &job, &err), 0);
	while (rc == 0) {
		struct pollfd pfd = {job.fd, POLLIN, 0};
		int t = fetch_timeout_ms(&job);
		assert_true(t > 0);
		assert_true(poll(&pfd, 1, t) >= 0);
		rc = fetch_on_readable(&job);
	}
	assert_int_equal(rc, 1);
	assert_int_equal(fetch_finish(&job, &res, &err), 0);
	assert_int_equal(res.status, FETCH_OK);
	assert_memory_equal(res.body, policy_body, res.body_len);
	fetch_result_free(&res);
	assert_int_equal(fetch_finish(&job, &res, &err), -1); /* job was released */
}

/* ---- the helper: where it is, which file may run, what it may answer ---- */

/* Runs `ldd path`; returns 1 if its output mentions libcurl, 0 if not, -1 if ldd failed. */
static int ldd_has_curl(const char *path)
{
	char cmd[PATH_MAX + 32], line[1024];
	int found = 0, lines = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ldd '%s' 2>&1", path);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL) {
		lines++;
		found |= strstr(line, "libcurl") != NULL;
	}
	if (pclose(p) != 0 || lines < 2)
		return -1;
	return found;
}

/* rampartd and librampart do not load libcurl at all; rampart-fetch does. */
static void test_daemon_without_libcurl(void **state)
{
	const char *build = getenv("RAMPART_BUILD");
	char path[PATH_MAX];

	(void)state;
	if (build == NULL || (access("/usr/bin/ldd", X_OK) != 0 && access("/bin/ldd", X_OK) != 0))
		skip();
	snprintf(path, sizeof(path), "%s/%s", build, FETCH_HELPER_NAME);
	assert_int_equal(ldd_has_curl(path), 1); /* the check can see libcurl */
	snprintf(path, sizeof(path), "%s/rampartd", build);
	assert_int_equal(ldd_has_curl(path), 0);
	snprintf(path, sizeof(path), "%s/librampart.so", build);
	assert_int_equal(ldd_has_curl(path), 0);
	/* this program links rampart_core (fetch.c included) like rampartd */
	assert_false(file_has("/proc/self/maps", "libcurl"));
}

/* Runs a copy of this program from dir and returns what fetch_helper_path(NULL) says there. */
static void helper_path_from(const char *exe, char *out, size_t size)
{
	int p[2], st;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		execl(exe, exe, "--print-helper-path", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	assert_int_equal(read_line(p[0], out, size, 10000), 0);
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_helper_default_path(void **state)
{
	char out[PATH_MAX], want[PATH_MAX + 64], moved[PATH_MAX + 16];

	(void)state;
	if (srv.copy[0] == '\0' || access(srv.copy, F_OK) != 0)
		skip();
	fetch_helper_path("/opt/x/rampart-fetch", out, sizeof(out)); /* configured: as given */
	assert_string_equal(out, "/opt/x/rampart-fetch");
	/* next to the running executable when it exists there ... */
	helper_path_from(srv.fake, out, sizeof(out));
	assert_string_equal(out, srv.copy);
	/* ... else in ../libexec/rampart/ (an install under any prefix) ... */
	snprintf(moved, sizeof(moved), "%s.moved", srv.copy);
	assert_int_equal(rename(srv.copy, moved), 0);
	snprintf(want, sizeof(want), "%s/libexec", srv.dir);
	assert_int_equal(mkdir(want, 0755), 0);
	snprintf(want, sizeof(want), "%s/libexec/rampart", srv.dir);
	assert_int_equal(mkdir(want, 0755), 0);
	snprintf(want, sizeof(want), "%s/libexec/rampart/%s", srv.dir, FETCH_HELPER_NAME);
	assert_int_equal(copy_file(moved, want, helper_mode()), 0);
	helper_path_from(srv.fake, out, sizeof(out));
	snprintf(want, sizeof(want), "%s/../libexec/rampart/%s", srv.bin, FETCH_HELPER_NAME);
	assert_string_equal(out, want);
	/* ... else the compiled-in libexec directory */
	assert_int_equal(unlink(want), 0);
	helper_path_from(srv.fake, out, sizeof(out));
	assert_int_equal(rename(moved, srv.copy), 0);
	assert_true(strncmp(out, srv.dir, strlen(srv.dir)) != 0);
	assert_true(out[0] == '/');
	assert_non_null(strstr(out, "/rampart/" FETCH_HELPER_NAME));
}

/*
 * Only a regular file owned by root that neither group nor others can write
 * may run; anything else is refused before the fork, with nothing fetched.
 */
static void test_helper_checks(void **state)
{
	struct fetch_opts o;
	struct fetch_result res;
	char url[128], link[PATH_MAX + 16], plain[PATH_MAX + 16];
	int before;

	(void)state;
	NEED_SERVER();
	opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json?x=helper");
	o.fetch_helper = srv.copy; /* a root-owned 0711 copy works */
	expect_ok(&o, &res);
	assert_int_equal(res.child_uid, srv.nobody_uid);
	fetch_result_free(&res);
	before = log_count("x=helper");

	assert_int_equal(chmod(srv.copy, 0771), 0); /* group-writable */
	expect_fail(&o, "E_FETCH_HELPER");
	assert_int_equal(chmod(srv.copy, 0713), 0); /* writable by others */
	expect_fail(&o, "E_FETCH_HELPER");
#ifndef RAMPART_READABLE_FETCH_HELPER
	/* readable by the fetch user: it would start ptrace-able (issue 16) */
	assert_int_equal(chmod(srv.copy, 0755), 0);
	expect_fail(&o, "E_FETCH_HELPER");
	assert_int_equal(chmod(srv.copy, 0751), 0);
	expect_fail(&o, "E_FETCH_HELPER");
	assert_int_equal(chmod(srv.copy, 0714), 0);
	expect_fail(&o, "E_FETCH_HELPER");
#endif
	assert_int_equal(chmod(srv.copy, helper_mode()), 0);
	assert_int_equal(chown(srv.copy, srv.nobody_uid, 0), 0); /* not root's */
	expect_fail(&o, "E_FETCH_HELPER");
	assert_int_equal(chown(srv.copy, 0, 0), 0);
	o.fetch_helper = srv.bin; /* a directory */
	expect_fail(&o, "E_FETCH_HELPER");
	o.fetch_helper = FETCH_HELPER_NAME; /* relative */
	expect_fail(&o, "E_FETCH_HELPER");
	snprintf(link, sizeof(link), "%s/missing", srv.bin);
	o.fetch_helper = link;
	expect_fail(&o, "E_FETCH_HELPER");
	/* root-owned but not executable by the fetch user: the exec fails, reported as such */
	snprintf(plain, sizeof(plain), "%s/plain", srv.bin);
	assert_int_equal(copy_file(srv.copy, plain, 0700), 0);
	o.fetch_helper = plain;
	expect_fail(&o, "E_FETCH_HELPER");
	assert_int_equal(log_count("x=helper"), before); /* none of these reached the server */

	/* a symlink is followed, and the file it leads to is what gets checked and run */
	snprintf(link, sizeof(link), "%s/link", srv.bin);
	assert_int_equal(symlink(srv.copy, link), 0);
	o.fetch_helper = link;
	expect_ok(&o, &res);
	fetch_result_free(&res);
	assert_int_equal(chmod(srv.copy, 0771), 0);
	expect_fail(&o, "E_FETCH_HELPER");
	assert_int_equal(chmod(srv.copy, helper_mode()), 0);
	unlink(link);
	unlink(plain);
}

/* rampart-fetch itself refuses to fetch with root ids (say, run by hand or by a broken parent). */
static void test_helper_refuses_root(void **state)
{
	struct fetch_wire_opts h;
	struct fetch_wire w;
	char url[128];
	int p[2], ofd, st, before;
	pid_t pid;

	(void)state;
	NEED_SERVER();
	before = log_count("x=asroot");
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/p/policy.json?x=asroot", srv.https);
	memset(&h, 0, sizeof(h));
	h.magic = FETCH_OPTS_MAGIC;
	h.max_bytes = 4096;
	h.connect_ms = h.total_ms = 2000;
	h.len[FOS_URL] = (uint32_t)strlen(url);
	h.len[FOS_HOST] = 9;
	ofd = memfd_create("opts", 0);
	assert_true(ofd >= 0);
	assert_int_equal(write(ofd, &h, sizeof(h)), sizeof(h));
	assert_int_equal(write(ofd, url, strlen(url)), (ssize_t)strlen(url));
	assert_int_equal(write(ofd, "127.0.0.1", 9), 9);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char *const argv[] = {(char *)FETCH_HELPER_NAME, (char *)FETCH_HELPER_ARG, NULL};
		char *const envp[] = {NULL};
		int a = fcntl(p[1], F_DUPFD, 10), b = fcntl(ofd, F_DUPFD, 10);
		dup2(a, FETCH_WIRE_FD);
		dup2(b, FETCH_OPTS_FD);
		execve(srv.helper, argv, envp); /* as root, no drop */
		_exit(127);
	}
	close(p[1]);
	close(ofd);
	assert_int_equal(read(p[0], &w, sizeof(w)), sizeof(w));
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(w.magic, FETCH_WIRE_MAGIC);
	assert_int_equal(w.kind, FW_PRIV);
	assert_int_equal(w.body_len, 0);
	assert_non_null(strstr(w.text, "root"));
	assert_int_equal(log_count("x=asroot"), before);
}

/* The parent's URL check and libcurl's must agree on the host, or nothing is fetched. */
static void test_url_read_twice(void **state)
{
	struct fetch_opts o;
	char url[128];
	int before;

	(void)state;
	NEED_SERVER();
	before = log_count("x=twice");
	/* rampartd sees the name "0x7f.1"; libcurl reads 127.0.0.1 */
	opts_for(&o, url, sizeof(url), "https", srv.https, "/p/policy.json?x=twice");
	snprintf(url, sizeof(url), "https://0x7f.1:%d/p/policy.json?x=twice", srv.https);
	assert_int_equal(fetch_check_url(url, false, &(struct rp_err){{0}, {0}}), 0);
	expect_fail(&o, "E_FETCH_URL");
	assert_int_equal(log_count("x=twice"), before);
}

/* ---- a misbehaving helper: the parent trusts nothing it answers --------- */

static void fake_expect(const char *mode, const char *code)
{
	struct fetch_opts o;
	char url[128];

	opts_for(&o, url, sizeof(url), "https", 1, "/fake/");
	rp_strlcpy(url + strlen(url), mode, sizeof(url) - strlen(url));
	o.fetch_helper = srv.fake;
	o.max_bytes = 4096;
	expect_fail(&o, code);
}

static void test_untrusted_answers(void **state)
{
	struct fetch_opts o;
	struct fetch_result res;
	struct rp_err err = {{0}, {0}};
	char url[128];

	(void)state;
	NEED_SERVER();
	/* the well-behaved fake: also checks its own exec environment from inside */
	opts_for(&o, url, sizeof(url), "https", 1, "/fake/probe");
	o.fetch_helper = srv.fake;
	o.etag = "\"e\"";
	if (fetch_run(&o, &res, &err) != 0)
		fprintf(stderr, "probe: %s: %s\n", err.code, err.msg);
	assert_int_equal(res.status, FETCH_OK);
	assert_int_equal(res.body_len, 8);
	assert_memory_equal(res.body, "probe ok", 8);
	assert_int_equal(res.child_uid, srv.nobody_uid);
	fetch_result_free(&res);

	fake_expect("uid0", "E_FETCH_PRIV");     /* claims to have fetched as root */
	fake_expect("magic", "E_FETCH_CHILD");   /* wrong magic */
	fake_expect("toolong", "E_FETCH_CHILD"); /* announces (and sends) more than the cap */
	fake_expect("extra", "E_FETCH_CHILD");   /* sends more than it announced */
	fake_expect("short", "E_FETCH_CHILD");   /* sends less */
	fake_expect("kind", "E_FETCH_CHILD");    /* unknown outcome */
	fake_expect("notmod", "E_FETCH_CHILD");  /* a body with "not modified" */
	fake_expect("exit1", "E_FETCH_CHILD");   /* good answer, bad exit status */
	fake_expect("silent", "E_FETCH_CHILD");  /* nothing at all */
	fake_expect("class", "E_FETCH_NETWORK"); /* unknown error class; text escaped */
	opts_for(&o, url, sizeof(url), "https", 1, "/fake/class");
	o.fetch_helper = srv.fake;
	assert_int_equal(fetch_run(&o, &res, &err), -1);
	assert_null(strchr(err.msg, '\x1b'));
	assert_null(strchr(err.msg, '\n'));
}

/* ---- the config key ----------------------------------------------------- */

static int write_str(const char *path, const char *s)
{
	return write_file(path, s, strlen(s));
}

static void test_config_fetch_helper(void **state)
{
	char path[PATH_MAX + 16];
	struct config c;
	struct rp_err err = {{0}, {0}};

	(void)state;
	snprintf(path, sizeof(path), "%s/cfg.json", srv.dir);
	config_defaults(&c);
	assert_string_equal(c.policy.fetch_helper, ""); /* default: next to rampartd, or libexec */
	assert_int_equal(write_str(path, "{\"policy\":{\"fetch_helper\":\"rampart-fetch\"}}"), 0);
	assert_int_equal(config_load(&c, path, false, &err), -1);
	assert_string_equal(err.code, "E_CONFIG");
	assert_non_null(strstr(err.msg, "fetch_helper"));
	assert_int_equal(
	    write_str(path, "{\"policy\":{\"fetch_helper\":\"/opt/r/rampart-fetch\"}}"), 0);
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, false, &err), 0);
	assert_string_equal(c.policy.fetch_helper, "/opt/r/rampart-fetch");
	unlink(path);
}

/* ---- this program as a fake helper (exec'd by fetch_start) -------------- */

static int fake_write(const void *buf, size_t n)
{
	return write(FETCH_WIRE_FD, buf, n) == (ssize_t)n ? 0 : -1;
}

/* What a helper finds when it starts: returns NULL or what is wrong. */
static const char *fake_probe(void)
{
	struct stat sb;
	uid_t r, e, su;
	gid_t rg, eg, sg;

	if (getresuid(&r, &e, &su) < 0 || r == 0 || e == 0 || su == 0 || r != e || e != su)
		return "uids";
	if (getresgid(&rg, &eg, &sg) < 0 || rg == 0 || eg == 0 || sg == 0)
		return "gids";
	if (getgroups(0, NULL) != 0)
		return "groups";
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return "no_new_privs";
	if (environ != NULL && environ[0] != NULL)
		return "environment not empty";
	for (int fd = 0; fd < 3; fd++)
		if (fstat(fd, &sb) < 0 || !S_ISCHR(sb.st_mode))
			return "stdio not /dev/null";
	if (fstat(FETCH_WIRE_FD, &sb) < 0 || !S_ISFIFO(sb.st_mode))
		return "fd 3 not a pipe";
	if (fstat(FETCH_OPTS_FD, &sb) < 0 || !S_ISREG(sb.st_mode))
		return "fd 4 not the options";
	for (int fd = FETCH_OPTS_FD + 1; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			return "an extra fd is open";
	if (getcwd((char[PATH_MAX]){0}, PATH_MAX) == NULL)
		return "cwd";
	return NULL;
}

#define FETCH_HARD_CAP_TEST (64 * 1024) /* largest body the fake sends */

/* Reads the URL from the options record and answers as its last path component says. */
static _Noreturn void fake_helper(void)
{
	struct fetch_wire_opts h;
	struct fetch_wire w;
	char url[FETCH_MAX_URL + 1] = "";
	const char *mode, *why;
	size_t body = 0;

	if (pread(FETCH_OPTS_FD, &h, sizeof(h), 0) != sizeof(h) || h.len[FOS_URL] > FETCH_MAX_URL ||
	    pread(FETCH_OPTS_FD, url, h.len[FOS_URL], sizeof(h)) != (ssize_t)h.len[FOS_URL])
		_exit(5);
	mode = strrchr(url, '/') != NULL ? strrchr(url, '/') + 1 : "";
	memset(&w, 0, sizeof(w));
	w.magic = FETCH_WIRE_MAGIC;
	w.kind = FW_OK;
	w.uid = (uint32_t)geteuid();
	w.gid = (uint32_t)getegid();
	w.http_code = 200;
	if (strcmp(mode, "probe") == 0) {
		why = fake_probe();
		if (why != NULL) {
			w.kind = FW_SETUP;
			rp_strlcpy(w.text, why, sizeof(w.text));
		}
		w.body_len = why == NULL ? 8 : 0;
		if (fake_write(&w, sizeof(w)) < 0 || (why == NULL && fake_write("probe ok", 8) < 0))
			_exit(6);
		_exit(0);
	}
	if (strcmp(mode, "silent") == 0)
		_exit(0);
	w.body_len = 4;
	body = 4;
	if (strcmp(mode, "uid0") == 0)
		w.uid = w.gid = 0;
	else if (strcmp(mode, "magic") == 0)
		w.magic ^= 1;
	else if (strcmp(mode, "toolong") == 0) {
		/* announces more than the cap and sends every byte of it, so only the
		 * parent's cap on the announced size can refuse it (issue 16) */
		static char big[FETCH_HARD_CAP_TEST];
		w.body_len = h.max_bytes + 1;
		if (w.body_len > sizeof(big))
			_exit(7);
		memset(big, 'a', sizeof(big));
		if (fake_write(&w, sizeof(w)) < 0 || fake_write(big, (size_t)w.body_len) < 0)
			_exit(6);
		_exit(0);
	} else if (strcmp(mode, "extra") == 0)
		body = 5;
	else if (strcmp(mode, "short") == 0)
		w.body_len = 10;
	else if (strcmp(mode, "kind") == 0)
		w.kind = 99;
	else if (strcmp(mode, "notmod") == 0)
		w.kind = FW_NOT_MODIFIED;
	else if (strcmp(mode, "class") == 0) {
		w.kind = FW_CURL;
		w.err_class = 77;
		w.body_len = body = 0;
		rp_strlcpy(w.text, "evil\x1b[31m\nX-Injected: 1", sizeof(w.text));
	}
	if (fake_write(&w, sizeof(w)) < 0 || (body > 0 && fake_write("abcde", body) < 0))
		_exit(6);
	_exit(strcmp(mode, "exit1") == 0 ? 1 : 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_url),
	    cmocka_unit_test(test_drop_privileges),
	    cmocka_unit_test(test_fetch_without_root_fails),
	    cmocka_unit_test(test_bad_user_refused),
	    cmocka_unit_test(test_fetch_ok),
	    cmocka_unit_test(test_etag_not_modified),
	    cmocka_unit_test(test_bad_etag_from_server_dropped),
	    cmocka_unit_test(test_redirect_https_followed),
	    cmocka_unit_test(test_redirect_other_host_refused),
	    cmocka_unit_test(test_tls_failures),
	    cmocka_unit_test(test_http_refused),
	    cmocka_unit_test(test_redirect_to_http_refused),
	    cmocka_unit_test(test_redirect_loop),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_timeouts),
	    cmocka_unit_test(test_server_errors),
	    cmocka_unit_test(test_poll_api_and_sandbox),
	    cmocka_unit_test(test_daemon_without_libcurl),
	    cmocka_unit_test(test_helper_default_path),
	    cmocka_unit_test(test_helper_checks),
	    cmocka_unit_test(test_helper_refuses_root),
	    cmocka_unit_test(test_url_read_twice),
	    cmocka_unit_test(test_untrusted_answers),
	    cmocka_unit_test(test_config_fetch_helper),
	};

	if (argc == 2 && strcmp(argv[1], FETCH_HELPER_ARG) == 0)
		fake_helper();
	if (argc == 2 && strcmp(argv[1], "--print-helper-path") == 0) {
		char out[PATH_MAX];
		fetch_helper_path(NULL, out, sizeof(out));
		printf("%s\n", out);
		return 0;
	}

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
