/* SPDX-License-Identifier: ISC */
/*
 * Tests for the unprivileged fetch child against a local test server
 * (tests/integration/helpers/policy_server.py on 127.0.0.1 with a throwaway
 * self-signed certificate): https only, size caps both ways, timeouts,
 * redirects, TLS failures, ETags, and the child's credentials.  Needs root
 * (the privilege drop); every wait is bounded.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "fetch.h"

static const char policy_body[] =
    "{\"org\":\"example-org\",\"version\":1,\"note\":\"not parsed by the fetch child\"}\n";

static struct {
	bool ok; /* server running and we are root */
	char dir[64];
	char ca[PATH_MAX];
	char log[PATH_MAX];
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
	char url[128], uid[128], val[128];
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

	/* wait (bounded) until the child has dropped root, then inspect it */
	t0 = now_ms();
	snprintf(uid, sizeof(uid), "\t%u\t%u\t%u\t%u\n", (unsigned)srv.nobody_uid,
	         (unsigned)srv.nobody_uid, (unsigned)srv.nobody_uid, (unsigned)srv.nobody_uid);
	while (now_ms() - t0 < 3000 &&
	       (proc_status_field(job.pid, "Uid:", val, sizeof(val)) < 0 || strcmp(val, uid) != 0))
		usleep(20000);
	assert_string_equal(val, uid);
	assert_int_equal(proc_status_field(job.pid, "Groups:", val, sizeof(val)), 0);
	assert_true(strspn(val, " \t\n") == strlen(val)); /* no supplementary groups */
	assert_int_equal(proc_status_field(job.pid, "NoNewPrivs:", val, sizeof(val)), 0);
	assert_int_equal(atoi(val), 1);
	assert_int_equal(proc_status_field(job.pid, "CapEff:", val, sizeof(val)), 0);
	assert_int_equal(strtoull(val, NULL, 16), 0);
	usleep(200000); /* let curl connect so its socket is there too */
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

int main(void)
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
	    cmocka_unit_test(test_tls_failures),
	    cmocka_unit_test(test_http_refused),
	    cmocka_unit_test(test_redirect_to_http_refused),
	    cmocka_unit_test(test_redirect_loop),
	    cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_timeouts),
	    cmocka_unit_test(test_server_errors),
	    cmocka_unit_test(test_poll_api_and_sandbox),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
