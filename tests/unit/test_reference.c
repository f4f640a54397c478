/* SPDX-License-Identifier: ISC */
/*
 * Table-driven tests for the Docker image reference normaliser: valid and
 * invalid references derived from the distribution/reference grammar (and
 * our documented stricter rules), plus the property that normalising a
 * normalised reference is the identity.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA "sha256:" H64

struct ok_case {
	const char *in;
	const char *norm;
	const char *domain;
	unsigned port;
	const char *path;
	const char *tag;
	const char *digest;
	bool hub;
};

static const struct ok_case ok_cases[] = {
    /* Docker Hub: no domain, aliases, library/ for one component */
    {"alpine", "docker.io/library/alpine:latest", "docker.io", 0, "library/alpine", "", "", true},
    {"alpine:3.19", "docker.io/library/alpine:3.19", "docker.io", 0, "library/alpine", "3.19", "",
     true},
    {"library/alpine", "docker.io/library/alpine:latest", "docker.io", 0, "library/alpine", "", "",
     true},
    {"docker.io/alpine", "docker.io/library/alpine:latest", "docker.io", 0, "library/alpine", "",
     "", true},
    {"docker.io/library/alpine:edge", "docker.io/library/alpine:edge", "docker.io", 0,
     "library/alpine", "edge", "", true},
    {"index.docker.io/alpine", "docker.io/library/alpine:latest", "docker.io", 0, "library/alpine",
     "", "", true},
    {"registry-1.docker.io/library/alpine:edge", "docker.io/library/alpine:edge", "docker.io", 0,
     "library/alpine", "edge", "", true},
    {"registry-1.docker.io/nginx", "docker.io/library/nginx:latest", "docker.io", 0,
     "library/nginx", "", "", true},
    {"DOCKER.IO/alpine", "docker.io/library/alpine:latest", "docker.io", 0, "library/alpine", "",
     "", true},
    {"Index.Docker.IO/user/app", "docker.io/user/app:latest", "docker.io", 0, "user/app", "", "",
     true},
    {"user/app", "docker.io/user/app:latest", "docker.io", 0, "user/app", "", "", true},
    {"user/app/sub:1", "docker.io/user/app/sub:1", "docker.io", 0, "user/app/sub", "1", "", true},
    {"0/1", "docker.io/0/1:latest", "docker.io", 0, "0/1", "", "", true},
    /* a Hub alias with a port is an ordinary registry */
    {"docker.io:443/alpine", "docker.io:443/alpine:latest", "docker.io", 443, "alpine", "", "",
     false},
    /* other registries: lower-cased host, no library/ */
    {"ghcr.io/org/app", "ghcr.io/org/app:latest", "ghcr.io", 0, "org/app", "", "", false},
    {"GHCR.IO/org/app:v1", "ghcr.io/org/app:v1", "ghcr.io", 0, "org/app", "v1", "", false},
    {"quay.io/app", "quay.io/app:latest", "quay.io", 0, "app", "", "", false},
    {"a.b-c.example/x", "a.b-c.example/x:latest", "a.b-c.example", 0, "x", "", "", false},
    {"xn--bcher-kva.example/x", "xn--bcher-kva.example/x:latest", "xn--bcher-kva.example", 0, "x",
     "", "", false},
    {"1a.example/x", "1a.example/x:latest", "1a.example", 0, "x", "", "", false},
    /* localhost and a first component with ':' */
    {"localhost/app", "localhost/app:latest", "localhost", 0, "app", "", "", false},
    {"localhost:5000/app", "localhost:5000/app:latest", "localhost", 5000, "app", "", "", false},
    {"LOCALHOST/app", "localhost/app:latest", "localhost", 0, "app", "", "", false},
    {"myreg:5000/app", "myreg:5000/app:latest", "myreg", 5000, "app", "", "", false},
    /* one component: a host-looking name is an image on Docker Hub */
    {"localhost", "docker.io/library/localhost:latest", "docker.io", 0, "library/localhost", "", "",
     true},
    {"localhost:5000", "docker.io/library/localhost:5000", "docker.io", 0, "library/localhost",
     "5000", "", true},
    {"example.com", "docker.io/library/example.com:latest", "docker.io", 0, "library/example.com",
     "", "", true},
    {"example.com:8080", "docker.io/library/example.com:8080", "docker.io", 0,
     "library/example.com", "8080", "", true},
    /* upper case in the first component makes it a domain (Docker's rule) */
    {"Foo/bar", "Foo/bar:latest", "foo", 0, "bar", "", "", false},
    {"Foo:5000/bar", "foo:5000/bar:latest", "foo", 5000, "bar", "", "", false},
    {"Library/alpine", "Library/alpine:latest", "library", 0, "alpine", "", "", false},
    /* ports */
    {"reg.example.com:1/a", "reg.example.com:1/a:latest", "reg.example.com", 1, "a", "", "", false},
    {"reg.example.com:65535/a", "reg.example.com:65535/a:latest", "reg.example.com", 65535, "a", "",
     "", false},
    {"reg.example.com:05000/a", "reg.example.com:5000/a:latest", "reg.example.com", 5000, "a", "",
     "", false},
    /* IP literals */
    {"10.0.0.1:5000/app", "10.0.0.1:5000/app:latest", "10.0.0.1", 5000, "app", "", "", false},
    {"192.168.1.1/app", "192.168.1.1/app:latest", "192.168.1.1", 0, "app", "", "", false},
    {"0.0.0.0/a", "0.0.0.0/a:latest", "0.0.0.0", 0, "a", "", "", false},
    {"[::1]:5000/app", "[::1]:5000/app:latest", "[::1]", 5000, "app", "", "", false},
    {"[::1]/app", "[::1]/app:latest", "[::1]", 0, "app", "", "", false},
    {"[0:0:0:0:0:0:0:1]/app", "[::1]/app:latest", "[::1]", 0, "app", "", "", false},
    {"[2001:DB8:0:0:0:0:0:1]:443/app", "[2001:db8::1]:443/app:latest", "[2001:db8::1]", 443, "app",
     "", "", false},
    {"[2001:db8:0:0:1:0:0:1]/x", "[2001:db8::1:0:0:1]/x:latest", "[2001:db8::1:0:0:1]", 0, "x", "",
     "", false},
    {"[2001:db8:1:0:1:1:1:1]/x", "[2001:db8:1:0:1:1:1:1]/x:latest", "[2001:db8:1:0:1:1:1:1]", 0,
     "x", "", "", false},
    {"[::ffff:102:304]/x", "[::ffff:102:304]/x:latest", "[::ffff:102:304]", 0, "x", "", "", false},
    {"[::]:80/x", "[::]:80/x:latest", "[::]", 80, "x", "", "", false},
    /* path separators */
    {"a__b", "docker.io/library/a__b:latest", "docker.io", 0, "library/a__b", "", "", true},
    {"a---b", "docker.io/library/a---b:latest", "docker.io", 0, "library/a---b", "", "", true},
    {"a.b_c-d", "docker.io/library/a.b_c-d:latest", "docker.io", 0, "library/a.b_c-d", "", "",
     true},
    {"a/b.c/d_e", "docker.io/a/b.c/d_e:latest", "docker.io", 0, "a/b.c/d_e", "", "", true},
    /* tags */
    {"app:v1.0-rc_1", "docker.io/library/app:v1.0-rc_1", "docker.io", 0, "library/app", "v1.0-rc_1",
     "", true},
    {"app:_x", "docker.io/library/app:_x", "docker.io", 0, "library/app", "_x", "", true},
    {"app:UPPER", "docker.io/library/app:UPPER", "docker.io", 0, "library/app", "UPPER", "", true},
    {"ghcr.io:8443/o/a:t", "ghcr.io:8443/o/a:t", "ghcr.io", 8443, "o/a", "t", "", false},
    /* digests: kept, no default tag added; tag and digest both kept */
    {"app@" SHA, "docker.io/library/app@" SHA, "docker.io", 0, "library/app", "", SHA, true},
    {"app:v1@" SHA, "docker.io/library/app:v1@" SHA, "docker.io", 0, "library/app", "v1", SHA,
     true},
    {"ghcr.io/org/app@" SHA, "ghcr.io/org/app@" SHA, "ghcr.io", 0, "org/app", "", SHA, false},
    /* 64 hex digits are only refused when they are the whole reference */
    {H64 ":tag", "docker.io/library/" H64 ":tag", "docker.io", 0, "library/" H64, "tag", "", true},
    {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
     "docker.io/library/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde:latest",
     "docker.io", 0, "library/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", "",
     "", true},
};

struct bad_case {
	const char *in;
	const char *msg; /* a word the error sentence must contain */
};

static const struct bad_case bad_cases[] = {
    {"", "empty"},
    {"alp ine", "whitespace"},
    {"alpine\n", "control"},
    {"alp\xc3\xafne", "non-ASCII"},
    {"\talpine", "whitespace"},
    {H64, "image ID"},
    /* upper case in a repository path */
    {"Alpine", "lowercase"},
    {"docker.io/Alpine", "lowercase"},
    {"ghcr.io/Org/app", "lowercase"},
    {"user/App", "lowercase"},
    /* empty components, bad separators, bad characters */
    {"a//b", "empty component"},
    {"a/", "empty component"},
    {"/a", "empty component"},
    {"ghcr.io/", "empty component"},
    {"ghcr.io//a", "empty component"},
    {"a..b", "separator"},
    {"a___b", "separator"},
    {"a._b", "separator"},
    {"a-_b", "separator"},
    {"-a", "start and end"},
    {"a-", "start and end"},
    {".a", "start and end"},
    {"a/.b", "start and end"},
    {"ghcr.io/..", "start and end"},
    {"a$b", "'$'"},
    {"a/b%c", "'%'"},
    /* no name */
    {":tag", "no repository name"},
    {"@" SHA, "no repository name"},
    /* tags */
    {"a:", "tag"},
    {"a:-x", "starts with '-'"},
    {"a:.x", "starts with '.'"},
    {"a:ta!g", "'!'"},
    {"a:b:c", "':'"},
    /* digests */
    {"a@", "empty"},
    {"a@sha256", "malformed"},
    {"a@sha256:0123", "exactly 64"},
    {"a@sha256:" H64 "0", "exactly 64"},
    {"a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "lowercase"},
    {"a@sha256:z123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "hex"},
    {"a@sha512:" H64 H64, "not supported"},
    {"a@md5:0123456789abcdef0123456789abcdef", "not supported"},
    {"a@1sha:" H64, "malformed"},
    {"a@" SHA "@" SHA, "more than one '@'"},
    {"a@" H64, "malformed"},
    /* ports */
    {"reg:0/a", "1 to 65535"},
    {"reg:65536/a", "1 to 65535"},
    {"reg:99999999999999999999/a", "1 to 65535"},
    {"reg:/a", "not a number"},
    {"reg:abc/a", "not a number"},
    {"a:x/y", "not a number"},
    {"reg:50:00/a", "not a number"},
    /* IPv6 literals */
    {"[::1]", "followed by '/'"},
    {"[::1]:5000", "followed by '/'"},
    {"[::1/a", "closing"},
    {"[::g]/a", "'g'"},
    {"[1::2::3]/a", "not a valid IPv6"},
    {"[:]/a", "not a valid IPv6"},
    {"[]/a", "'['"}, /* no '.' or ':': not a domain, so a bad path */
    {"[fe80::1%25eth0]/a", "'%'"},
    {"[::ffff:1.2.3.4]/a", "'.'"},
    {"[::1]x/a", "unexpected text"},
    /* hosts */
    {"10.0.0.256/a", "IPv4"},
    {"1.2.3/a", "IPv4"},
    {"01.2.3.4/a", "IPv4"},
    {"1.2.3.4.5/a", "IPv4"},
    {"123:5000/a", "IPv4"},
    {"-bad.example/a", "starts or ends with '-'"},
    {"bad-.example/a", "starts or ends with '-'"},
    {"a..example/a", "empty label"},
    {".example/a", "empty label"},
    {"example./a", "empty label"},
    {"ex_ample.com/a", "'_'"},
    {"Foo_bar/a", "'_'"},
    {":5000/a", "empty"},
};

static void test_ok_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct ref_parsed r;
		struct rp_err e = {{0}, {0}};

		if (ref_normalize(c->in, &r, &e) != 0)
			fail_msg("'%s' was refused: %s", c->in, e.msg);
		if (strcmp(r.normalized, c->norm) != 0)
			fail_msg("'%s' normalised to '%s', want '%s'", c->in, r.normalized,
			         c->norm);
		assert_string_equal(r.domain, c->domain);
		assert_int_equal(r.port, c->port);
		assert_string_equal(r.path, c->path);
		assert_string_equal(r.tag, c->tag);
		assert_string_equal(r.digest, c->digest);
		if (r.is_docker_hub != c->hub)
			fail_msg("'%s': is_docker_hub %d, want %d", c->in, r.is_docker_hub, c->hub);
	}
}

static void test_bad_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct ref_parsed r;
		struct rp_err e = {{0}, {0}};

		if (ref_normalize(c->in, &r, &e) == 0)
			fail_msg("'%s' was accepted as '%s'", c->in, r.normalized);
		assert_string_equal(e.code, "E_REF");
		if (strstr(e.msg, c->msg) == NULL)
			fail_msg("'%s': error '%s' does not mention '%s'", c->in, e.msg, c->msg);
		assert_true(e.msg[strlen(e.msg) - 1] == '.'); /* a sentence */
		assert_string_equal(r.normalized, "");        /* nothing half-filled */
		assert_string_equal(r.domain, "");
	}
}

/* Property: normalise(normalise(x)) == normalise(x), field by field. */
static void test_identity(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		struct ref_parsed a, b;
		struct rp_err e = {{0}, {0}};

		assert_int_equal(ref_normalize(ok_cases[i].in, &a, &e), 0);
		if (ref_normalize(a.normalized, &b, &e) != 0)
			fail_msg("normalised '%s' was refused: %s", a.normalized, e.msg);
		if (strcmp(a.normalized, b.normalized) != 0)
			fail_msg("'%s' -> '%s' -> '%s'", ok_cases[i].in, a.normalized,
			         b.normalized);
		assert_string_equal(a.domain, b.domain);
		assert_int_equal(a.port, b.port);
		assert_string_equal(a.path, b.path);
		assert_int_equal(a.is_docker_hub, b.is_docker_hub);
	}
}

/* Builds "prefix" + n copies of c + "suffix" in a malloc'd string. */
static char *rep(const char *prefix, char c, size_t n, const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	char *s = malloc(pl + n + sl + 1);

	assert_non_null(s);
	memcpy(s, prefix, pl);
	memset(s + pl, c, n);
	memcpy(s + pl + n, suffix, sl + 1);
	return s;
}

static void expect_ok(char *in, size_t path_len)
{
	struct ref_parsed r, r2;
	struct rp_err e = {{0}, {0}};

	if (ref_normalize(in, &r, &e) != 0)
		fail_msg("refused: %s", e.msg);
	assert_int_equal(strlen(r.path), path_len);
	assert_int_equal(ref_normalize(r.normalized, &r2, &e), 0);
	assert_string_equal(r.normalized, r2.normalized);
	free(in);
}

static void expect_bad(char *in, const char *msg)
{
	struct ref_parsed r;
	struct rp_err e = {{0}, {0}};

	assert_int_equal(ref_normalize(in, &r, &e), -1);
	if (strstr(e.msg, msg) == NULL)
		fail_msg("error '%s' does not mention '%s'", e.msg, msg);
	free(in);
}

/* The 255 limit counts the path after library/ is added, never the domain. */
static void test_lengths(void **state)
{
	char label63[64], host[300];

	(void)state;
	expect_ok(rep("", 'a', 247, ""), 255);               /* library/ + 247 */
	expect_bad(rep("", 'a', 248, ""), "256 characters"); /* library/ + 248 */
	expect_ok(rep("u/", 'a', 253, ""), 255);             /* no library/ */
	expect_bad(rep("u/", 'a', 254, ""), "256 characters");
	expect_ok(rep("ghcr.io/", 'a', 255, ":t"), 255); /* domain not counted */
	expect_bad(rep("ghcr.io/", 'a', 256, ""), "256 characters");
	expect_ok(rep("app:", 'x', 128, ""), 11); /* 128-char tag */
	expect_bad(rep("app:", 'x', 129, ""), "at most 128");
	expect_bad(rep("", 'a', REF_MAX_INPUT + 1, ""), "longer than");
	memset(label63, 'a', 63);
	label63[63] = '\0';
	snprintf(host, sizeof(host), "%s.example/x", label63);
	expect_ok(strdup(host), 1);
	snprintf(host, sizeof(host), "b%s.example/x", label63);
	expect_bad(strdup(host), "longer than 63");
	/* 4 labels of 63 + 3 dots = 255 > 253 */
	snprintf(host, sizeof(host), "%s.%s.%s.%s/x", label63, label63, label63, label63);
	expect_bad(strdup(host), "at most 253");
}

static void test_null_and_errors(void **state)
{
	struct ref_parsed r;
	struct rp_err e = {{0}, {0}};

	(void)state;
	assert_int_equal(ref_normalize(NULL, &r, &e), -1);
	assert_string_equal(e.code, "E_REF");
	assert_int_equal(ref_normalize("a:-x", &r, NULL), -1); /* err may be NULL */
	assert_int_equal(ref_normalize("alpine", &r, NULL), 0);
}

static void test_parse_domain(void **state)
{
	char host[REF_MAX_DOMAIN + 1];
	unsigned port;

	(void)state;
	assert_int_equal(ref_parse_domain("GHCR.io:0443", 12, host, &port, NULL), 0);
	assert_string_equal(host, "ghcr.io");
	assert_int_equal(port, 443);
	assert_int_equal(ref_parse_domain("[0::1]", 6, host, &port, NULL), 0);
	assert_string_equal(host, "[::1]");
	assert_int_equal(port, 0);
	assert_int_equal(ref_parse_domain("a.b:", 4, host, &port, NULL), -1);
	assert_true(ref_is_hub_host("registry-1.docker.io"));
	assert_false(ref_is_hub_host("docker.io.evil.example"));
	assert_true(ref_host_is_ip("10.1.2.3"));
	assert_true(ref_host_is_ip("[::1]"));
	assert_false(ref_host_is_ip("a.b10"));
}

/*
 * Property over generated inputs (fixed seed, so failures reproduce): every
 * accepted string normalises to a fixed point, and nothing crashes.
 */
static void test_identity_generated(void **state)
{
	static const char alphabet[] = "aab0z1.._-:/@[]A:5f";
	static const char *const pieces[] = {"localhost", "docker.io", "[::1]",
	                                     ":5000",     "library/",  "@" SHA,
	                                     ":latest",   "sha256:",   "ghcr.io"};
	unsigned seed = 12345;
	int accepted = 0;

	(void)state;
	for (int iter = 0; iter < 200000; iter++) {
		char in[96];
		size_t n = 0, want = (size_t)(rand_r(&seed) % 40) + 1;
		struct ref_parsed a, b;
		struct rp_err e;

		while (n < want) {
			if (rand_r(&seed) % 8 == 0) {
				const char *p = pieces[rand_r(&seed) % 9];
				size_t l = strlen(p);
				if (n + l >= sizeof(in))
					break;
				memcpy(in + n, p, l);
				n += l;
			} else {
				in[n++] = alphabet[(size_t)rand_r(&seed) % (sizeof(alphabet) - 1)];
			}
		}
		in[n] = '\0';
		if (ref_normalize(in, &a, &e) != 0) {
			assert_string_equal(e.code, "E_REF");
			continue;
		}
		accepted++;
		if (ref_normalize(a.normalized, &b, &e) != 0)
			fail_msg("'%s' -> '%s' refused: %s", in, a.normalized, e.msg);
		if (strcmp(a.normalized, b.normalized) != 0 || strcmp(a.domain, b.domain) != 0 ||
		    a.port != b.port || strcmp(a.path, b.path) != 0)
			fail_msg("'%s' -> '%s' -> '%s'", in, a.normalized, b.normalized);
	}
	assert_true(accepted > 1000); /* the generator does reach valid references */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ok_cases),     cmocka_unit_test(test_bad_cases),
	    cmocka_unit_test(test_identity),     cmocka_unit_test(test_identity_generated),
	    cmocka_unit_test(test_lengths),      cmocka_unit_test(test_null_and_errors),
	    cmocka_unit_test(test_parse_domain),
	};

	printf("# %zu valid and %zu invalid table cases\n", sizeof(ok_cases) / sizeof(ok_cases[0]),
	       sizeof(bad_cases) / sizeof(bad_cases[0]));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
