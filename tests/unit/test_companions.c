/* SPDX-License-Identifier: ISC */
/*
 * Companion hosts (policy schema 2, docs/policy.md "Companion hosts"): every
 * refusal of the validator, the store's format 3 (and format 2 when there are
 * none), the matcher's answer (only while the rule is an enforced allow in
 * force, a deny of the host wins, ports, Docker Hub's list), librampart after
 * a refresh that removes the rule, and rampart-proxy's decisions and messages.
 * Payloads go through policy_payload_parse, as on every machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "policy_match.h"
#include "policy_payload.h"
#include "proxy_decide.h"
#include "store.h"

#define HEAD                                                                                       \
	"{\"schema_version\":2,\"org\":\"acme\",\"version\":%d,"                                   \
	"\"issued_at\":\"2025-01-01T00:00:00Z\",\"expires_at\":\"2099-01-01T00:00:00Z\","          \
	"\"allow_docker_hub\":%s,\"registries\":[%s],\"deny\":[%s]}"

struct fixture {
	char dir[64];
	char db[PATH_MAX];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rampart-comp-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/policy.db", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

/* Parses a schema-2 payload; returns 0 or -1 (err filled). */
static int parse2(int version, const char *hub, const char *regs, const char *deny,
                  struct policy *p, struct rp_err *err)
{
	char *buf = malloc(256 * 1024);
	int rc;

	assert_non_null(buf);
	snprintf(buf, 256 * 1024, HEAD, version, hub, regs, deny);
	rc = policy_payload_parse(buf, strlen(buf), p, err);
	free(buf);
	return rc;
}

static void parse_ok(const char *regs, const char *deny, struct policy *p)
{
	struct rp_err e;

	if (parse2(3, "false", regs, deny, p, &e) != 0)
		fail_msg("refused: %s %s", e.code, e.msg);
}

static void refused(const char *regs, const char *deny, const char *why)
{
	struct policy p;
	struct rp_err e;

	if (parse2(3, "false", regs, deny, &p, &e) == 0)
		fail_msg("accepted: %s / %s", regs, deny);
	assert_string_equal(e.code, "E_PAYLOAD");
	if (strstr(e.msg, why) == NULL)
		fail_msg("message %s lacks \"%s\"", e.msg, why);
	assert_null(p.registries);
}

static void test_validator_accepts(void **st)
{
	struct policy p;

	(void)st;
	parse_ok("{\"host\":\"ghcr.io\",\"companions\":[\"pkg-containers.githubusercontent.com\","
	         "\"blobs.example.com:8443\"]},{\"host\":\"quay.io/acme/\",\"mode\":\"warn\","
	         "\"companions\":[\"cdn01.quay.io\"]},{\"host\":\"reg.example\",\"companions\":[]}",
	         "{\"host\":\"ghcr.io/bad/\"}", &p);
	assert_int_equal(p.n_registries, 4);
	assert_int_equal(p.registries[0].n_companions, 2);
	assert_string_equal(p.registries[0].companions[0], "pkg-containers.githubusercontent.com");
	assert_string_equal(p.registries[0].companions[1], "blobs.example.com:8443");
	assert_int_equal(p.registries[1].n_companions, 1);
	assert_int_equal(p.registries[2].n_companions, 0);
	assert_int_equal(p.registries[3].n_companions, 0);
	policy_free(&p);
}

/* Each refusal, with the reason people read. */
static void test_validator_refuses(void **st)
{
	static const struct {
		const char *companion, *why;
	} bad[] = {
	    {"\"*.githubusercontent.com\"", "cannot be wildcards"},
	    {"\"10.0.0.5\"", "cannot be IP addresses"},
	    {"\"10.0.0.5:443\"", "cannot be IP addresses"},
	    {"\"[::1]:443\"", "cannot be IP literals"},
	    {"\"auth\"", "has no dot"},
	    {"\"Auth.example.com\"", "lower-case hostname"},
	    {"\"https://auth.example.com\"", "not a URL or a path"},
	    {"\"auth.example.com/token\"", "not a URL or a path"},
	    {"\"auth.example.com:0\"", "port"},
	    {"\"auth.example.com:65536\"", "port"},
	    {"\"auth.example.com:\"", "port"},
	    {"\"auth..example.com\"", "empty label"},
	    {"\"-a.example.com\"", "starts or ends with '-'"},
	    {"\"registry-1.docker.io\"", "Docker Hub itself"},
	    {"\"docker.io:443\"", "Docker Hub itself"},
	    {"\"\"", "it is empty"},
	    {"5", "must be a string"},
	};
	char regs[512];

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(regs, sizeof(regs), "{\"host\":\"ghcr.io\",\"companions\":[%s]}",
		         bad[i].companion);
		refused(regs, "", bad[i].why);
	}
	refused("{\"host\":\"ghcr.io\",\"companions\":[\"a.example.com\",\"a.example.com\"]}", "",
	        "registries[0].companions[1]: \"a.example.com\" is listed twice");
	refused("{\"host\":\"ghcr.io\",\"companions\":\"a.example.com\"}", "", "must be an array");
	refused("{\"host\":\"ghcr.io\"}",
	        "{\"host\":\"quay.io\",\"companions\":[\"a.example.com\"]}",
	        "deny[0].companions: a deny rule allows nothing");
}

static void test_validator_limits(void **st)
{
	char *regs = malloc(200 * 1024);
	size_t n = 0;
	struct policy p;

	(void)st;
	assert_non_null(regs);
	/* 33 on one rule */
	n = (size_t)sprintf(regs, "{\"host\":\"ghcr.io\",\"companions\":[");
	for (int i = 0; i < 33; i++)
		n += (size_t)sprintf(regs + n, "%s\"c%d.example.com\"", i ? "," : "", i);
	sprintf(regs + n, "]}");
	refused(regs, "", "at most 32 companions");
	/* 32 on 32 rules = 1024 is the limit; one more rule with one is refused */
	n = 0;
	for (int r = 0; r < 33; r++) {
		n += (size_t)sprintf(regs + n, "%s{\"host\":\"r%d.example\",\"companions\":[",
		                     r ? "," : "", r);
		for (int i = 0; i < (r < 32 ? 32 : 1); i++)
			n += (size_t)sprintf(regs + n, "%s\"c%d.r%d.example\"", i ? "," : "", i, r);
		n += (size_t)sprintf(regs + n, "]}");
	}
	refused(regs, "", "more than 1024 companion hosts");
	regs[n - (strlen(",{\"host\":\"r32.example\",\"companions\":[\"c0.r32.example\"]}"))] =
	    '\0';
	parse_ok(regs, "", &p);
	assert_int_equal(p.n_registries, 32);
	policy_free(&p);
	free(regs);
}

/* Schema 1 knows no companions: refused as an unknown field, naming schema 2. */
static void test_v1_refused(void **st)
{
	const char *v1 =
	    "{\"org\":\"acme\",\"version\":1,\"issued_at\":\"2025-01-01T00:00:00Z\","
	    "\"expires_at\":\"2099-01-01T00:00:00Z\",\"allow_docker_hub\":false,"
	    "\"registries\":[{\"host\":\"ghcr.io\",\"companions\":[\"a.example.com\"]}]}";
	struct policy p;
	struct rp_err e;

	(void)st;
	assert_int_equal(policy_payload_parse(v1, strlen(v1), &p, &e), -1);
	assert_string_equal(e.code, "E_PAYLOAD");
	assert_non_null(strstr(e.msg, "registries[0].companions: unknown field; \"companions\" "
	                              "needs \"schema_version\": 2"));
}

static void commit(const char *db, const struct policy *p)
{
	struct store_meta m;
	struct rp_err e;

	memset(&m, 0, sizeof(m));
	m.fetched_at = 2;
	m.source = (char *)"";
	m.etag = (char *)"";
	m.signers = (char *)"";
	memset(m.payload_sha256, 'a', 64);
	if (store_commit(db, p, &m, "{}", 2, &e) != 0)
		fail_msg("store_commit: %s %s", e.code, e.msg);
}

static int64_t user_version(const char *db)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void tamper(const char *db, const char *sql)
{
	sqlite3 *h = NULL;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	if (sqlite3_exec(h, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(h));
	sqlite3_close(h);
}

static void load_refused(const char *db, const char *sql)
{
	struct policy q;
	struct rp_err e;
	char copy[PATH_MAX + 8], cmd[3 * PATH_MAX];

	snprintf(copy, sizeof(copy), "%s.t", db);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", db, copy);
	assert_int_equal(system(cmd), 0);
	tamper(copy, sql);
	memset(&q, 0, sizeof(q));
	if (store_load(copy, &q, NULL, NULL, NULL, &e) != -1)
		fail_msg("loaded after %s", sql);
	assert_string_equal(e.code, "E_STORE_CORRUPT");
	unlink(copy);
}

static const char regs_ghcr[] =
    "{\"host\":\"ghcr.io\",\"companions\":[\"pkg-containers.githubusercontent.com\","
    "\"blobs.example.com:8443\"]},{\"host\":\"quay.io\"},{\"host\":\"quay.io/acme/\","
    "\"companions\":[\"cdn.quay.example\"]}";

/* Format 3 round-trips in signed order; a policy without companions stays format 2. */
static void test_store_formats(void **state)
{
	struct fixture *fx = *state;
	struct policy p, q;
	struct rp_err e;

	parse_ok(regs_ghcr, "", &p);
	commit(fx->db, &p);
	assert_int_equal(user_version(fx->db), 3);
	memset(&q, 0, sizeof(q));
	assert_int_equal(store_load(fx->db, &q, NULL, NULL, NULL, &e), 0);
	assert_int_equal(q.n_registries, 3);
	assert_int_equal(q.registries[0].n_companions, 2);
	assert_string_equal(q.registries[0].companions[0], "pkg-containers.githubusercontent.com");
	assert_string_equal(q.registries[0].companions[1], "blobs.example.com:8443");
	assert_int_equal(q.registries[1].n_companions, 0);
	assert_string_equal(q.registries[2].companions[0], "cdn.quay.example");
	policy_free(&q);
	/* the cheap load reads no companions and needs none */
	memset(&q, 0, sizeof(q));
	assert_int_equal(store_load_meta(fx->db, &q, NULL, &e), 0);
	policy_free(&q);

	/* what a reader refuses in a format-3 file */
	load_refused(fx->db, "INSERT INTO companions VALUES(7, 0, 'x.example')");   /* no rule 7 */
	load_refused(fx->db, "INSERT INTO companions VALUES(0, 5, 'x.example')");   /* a gap */
	load_refused(fx->db, "INSERT INTO companions VALUES(1, 0, 'X Y')");         /* not a host */
	load_refused(fx->db, "UPDATE companions SET host=x'612e6578' WHERE pos=0"); /* a blob */
	load_refused(fx->db, "UPDATE registries SET action=1, mode=0 WHERE host='ghcr.io'");
	load_refused(fx->db, "CREATE INDEX ci ON companions(host)"); /* schema */
	load_refused(fx->db, "DROP TABLE companions");               /* missing */
	policy_free(&p);

	parse_ok("{\"host\":\"ghcr.io\"}", "", &p);
	commit(fx->db, &p);
	assert_int_equal(user_version(fx->db), 2);
	/* a format-2 file that says 3 lacks the companions table */
	load_refused(fx->db, "PRAGMA user_version=3; UPDATE meta SET value=3 WHERE "
	                     "key='schema_version'");
	policy_free(&p);
}

static struct policy_index *index_of(const char *hub, const char *regs, const char *deny)
{
	struct policy p;
	struct policy_index *idx = NULL;
	struct rp_err e;

	if (parse2(3, hub, regs, deny, &p, &e) != 0)
		fail_msg("refused: %s", e.msg);
	assert_int_equal(policy_index_build(&p, &idx, &e), 0);
	policy_free(&p);
	return idx;
}

static void want(const struct policy_index *idx, const char *host, unsigned port, unsigned dflt,
                 bool allowed, const char *rule, const char *reason)
{
	struct rampart_companion c;

	assert_int_equal(policy_companion(idx, host, port, dflt, &c), 0);
	if (c.allowed != allowed || strcmp(c.rule, rule) != 0 || strstr(c.reason, reason) == NULL)
		fail_msg("%s:%u: allowed %d rule \"%s\" reason \"%s\"; want %d \"%s\" \"%s\"", host,
		         port, c.allowed, c.rule, c.reason, allowed, rule, reason);
}

static void test_matcher(void **st)
{
	struct policy_index *idx;
	struct rampart_companion c;

	(void)st;
	idx = index_of("false", regs_ghcr, "{\"host\":\"quay.io/acme/\",\"mode\":\"warn\"}");
	want(idx, "pkg-containers.githubusercontent.com", 443, 443, true, "ghcr.io",
	     "companion host of allow rule ghcr.io");
	want(idx, "PKG-Containers.GitHubUserContent.com", 443, 443, true, "ghcr.io", "ghcr.io");
	/* without a port: the default port only; with one: that port only */
	want(idx, "pkg-containers.githubusercontent.com", 8443, 443, false, "", "not a companion");
	want(idx, "blobs.example.com", 8443, 443, true, "ghcr.io", "blobs.example.com:8443");
	want(idx, "blobs.example.com", 443, 443, false, "", "not a companion");
	want(idx, "pkg-containers.githubusercontent.com", 80, 80, true, "ghcr.io", "ghcr.io");
	/* a companion is never a wildcard: subdomains are not companions */
	want(idx, "x.pkg-containers.githubusercontent.com", 443, 443, false, "", "not a companion");
	/* an allow rule with a warn deny of the same rule is in force */
	want(idx, "cdn.quay.example", 443, 443, true, "quay.io/acme/", "quay.io/acme/");
	/* Docker Hub's list needs allow_docker_hub */
	want(idx, "auth.docker.io", 443, 443, false, "", "not a companion");
	assert_int_equal(policy_companion(idx, "", 443, 443, &c), -1);
	assert_string_equal(c.code, "E_INVAL");
	assert_int_equal(policy_companion(idx, "a.example", 0, 443, &c), -1);
	assert_int_equal(policy_companion(idx, NULL, 443, 443, &c), -1);
	want(idx, "10.0.0.5", 443, 443, false, "", "not a host name");
	policy_index_free(idx);

	/* a rule in mode warn brings no companions, and the answer says why */
	idx = index_of(
	    "false",
	    "{\"host\":\"ghcr.io\",\"mode\":\"warn\",\"companions\":[\"cdn.ghcr.example\"]}", "");
	want(idx, "cdn.ghcr.example", 443, 443, false, "ghcr.io", "mode warn");
	policy_index_free(idx);

	/* an enforced deny matching the companion host itself wins */
	idx = index_of("false",
	               "{\"host\":\"ghcr.io\",\"companions\":[\"pkg.githubusercontent.com\"]}",
	               "{\"host\":\"*.githubusercontent.com\"}");
	want(idx, "pkg.githubusercontent.com", 443, 443, false, "*.githubusercontent.com",
	     "a deny wins");
	policy_index_free(idx);

	/* no policy: never */
	want(NULL, "auth.docker.io", 443, 443, false, "", "no policy cached");

	/* allow_docker_hub brings Docker Hub's list through the same table */
	idx = index_of("true", "{\"host\":\"ghcr.io\"}", "");
	for (size_t i = 0; policy_hub_companions[i] != NULL; i++) {
		assert_int_equal(policy_companion(idx, policy_hub_companions[i], 443, 443, &c), 0);
		assert_true(c.allowed && c.hub);
		assert_string_equal(c.rule, POLICY_HUB_RULE);
		assert_non_null(strstr(c.reason, "list version 1"));
	}
	assert_int_equal(policy_index_companions(idx), 3);
	policy_index_free(idx);
}

/* An enforced deny of the same rule overrides it (refused when signing; the index
 * still does not rely on that): built directly, as a tampered store would be. */
static void test_matcher_shadowed(void **st)
{
	struct policy p;
	struct policy_index *idx = NULL;
	struct rp_err e;
	char *comps[] = {(char *)"cdn.ghcr.example"};
	struct policy_registry regs[] = {
	    {(char *)"ghcr.io", (char *)"", POLICY_EXACT, POLICY_ALLOW, POLICY_ENFORCE, comps, 1},
	    {(char *)"ghcr.io", (char *)"", POLICY_EXACT, POLICY_DENY, POLICY_ENFORCE, NULL, 0},
	};

	(void)st;
	memset(&p, 0, sizeof(p));
	p.org = (char *)"acme";
	p.version = 1;
	p.expires_at = 4102444800LL;
	p.schema_version = 2;
	p.registries = regs;
	p.n_registries = 2;
	assert_int_equal(policy_index_build(&p, &idx, &e), 0);
	want(idx, "cdn.ghcr.example", 443, 443, false, "ghcr.io", "overrides");
	policy_index_free(idx);
	/* an address or an upper-case name a tampered store might hold is never indexed */
	comps[0] = (char *)"10.0.0.5";
	regs[1].action = POLICY_ALLOW;
	regs[1].host = (char *)"quay.io";
	assert_int_equal(policy_index_build(&p, &idx, &e), 0);
	assert_int_equal(policy_index_companions(idx), 0);
	assert_int_equal(policy_index_skipped(idx), 1);
	policy_index_free(idx);
	comps[0] = (char *)"CDN.example";
	assert_int_equal(policy_index_build(&p, &idx, &e), 0);
	assert_int_equal(policy_index_companions(idx), 0);
	policy_index_free(idx);
}

struct lint_seen {
	char msgs[1024];
	int n;
};

static void lint_cb(void *arg, size_t entry, const char *companion, const char *msg)
{
	struct lint_seen *s = arg;
	size_t l = strlen(s->msgs);

	(void)entry;
	(void)companion;
	snprintf(s->msgs + l, sizeof(s->msgs) - l, "%s|", msg);
	s->n++;
}

static void test_lint(void **st)
{
	struct policy p;
	struct policy_index *idx = NULL;
	struct rp_err e;
	struct lint_seen s = {"", 0};

	(void)st;
	parse_ok("{\"host\":\"ghcr.io\",\"companions\":[\"quay.io\",\"pkg.githubusercontent.com\","
	         "\"fine.example.com\"]},{\"host\":\"quay.io\"}",
	         "{\"host\":\"*.githubusercontent.com\"}", &p);
	assert_int_equal(policy_index_build(&p, &idx, &e), 0);
	policy_companion_lint(idx, &p, lint_cb, &s);
	assert_int_equal(s.n, 2);
	assert_non_null(
	    strstr(s.msgs, "companion quay.io of ghcr.io changes nothing: rule quay.io"));
	assert_non_null(strstr(s.msgs, "pkg.githubusercontent.com of ghcr.io is never allowed: "
	                               "deny rule *.githubusercontent.com"));
	policy_index_free(idx);
	policy_free(&p);
}

static void commit_json(const char *db, int version, const char *regs)
{
	struct policy p;
	struct rp_err e;

	if (parse2(version, "false", regs, "", &p, &e) != 0)
		fail_msg("refused: %s", e.msg);
	commit(db, &p);
	policy_free(&p);
}

static void decide(struct rampart_policy *h, const char *head, struct proxy_verdict *v)
{
	struct proxy_head ph;

	assert_int_equal(proxy_head_parse(head, strlen(head), &ph), PROXY_HEAD_OK);
	proxy_decide(h, &ph, v);
}

/* The proxy allows a companion while its rule is there, and not after a refresh
 * that removes the rule; a registry pull on a companion host is decided by the rules. */
static void test_proxy_and_refresh(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h = NULL;
	struct proxy_verdict v;
	struct rampart_companion c;
	char err[512];

	commit_json(fx->db, 3, regs_ghcr);
	assert_int_equal(
	    rampart_policy_open(fx->db, RAMPART_POLICY_STRICT_RELOAD, &h, err, sizeof(err)), 0);
	decide(h, "CONNECT pkg-containers.githubusercontent.com:443 HTTP/1.1\r\n\r\n", &v);
	assert_true(v.allowed && v.companion && v.host_level);
	assert_string_equal(v.rule, "ghcr.io");
	assert_string_equal(v.companion_host, "pkg-containers.githubusercontent.com");
	decide(h,
	       "GET http://pkg-containers.githubusercontent.com/ghcr1/blobs/sha256:1 "
	       "HTTP/1.1\r\n\r\n",
	       &v);
	assert_true(v.allowed && v.companion);
	/* a registry API path on a companion host is an image pull: the rules decide */
	decide(h,
	       "GET http://pkg-containers.githubusercontent.com/v2/x/manifests/1 "
	       "HTTP/1.1\r\n\r\n",
	       &v);
	assert_false(v.allowed);
	assert_false(v.companion);
	assert_non_null(strstr(v.message, "no rule matches registry "
	                                  "pkg-containers.githubusercontent.com"));
	/* an unlisted port */
	decide(h, "CONNECT pkg-containers.githubusercontent.com:8443 HTTP/1.1\r\n\r\n", &v);
	assert_false(v.allowed);
	assert_non_null(strstr(v.message, "denied by policy acme v3"));
	decide(h, "CONNECT blobs.example.com:8443 HTTP/1.1\r\n\r\n", &v);
	assert_true(v.allowed && v.companion);
	assert_string_equal(v.companion_host, "blobs.example.com:8443");

	/* the refresh removes ghcr.io: its companions go with it */
	commit_json(fx->db, 4, "{\"host\":\"quay.io\"}");
	decide(h, "CONNECT pkg-containers.githubusercontent.com:443 HTTP/1.1\r\n\r\n", &v);
	assert_false(v.allowed);
	assert_non_null(strstr(v.message, "rampart: pkg-containers.githubusercontent.com denied "
	                                  "by policy acme v4: no rule matches registry"));
	assert_int_equal(
	    rampart_policy_companion(h, "pkg-containers.githubusercontent.com", 443, 443, &c), 0);
	assert_false(c.allowed);
	assert_int_equal(c.policy_version, 4);

	/* the rule back in mode warn: refused, and the message names the rule */
	commit_json(fx->db, 5,
	            "{\"host\":\"ghcr.io\",\"mode\":\"warn\",\"companions\":[\"pkg-containers."
	            "githubusercontent.com\"]}");
	decide(h, "CONNECT pkg-containers.githubusercontent.com:443 HTTP/1.1\r\n\r\n", &v);
	assert_false(v.allowed);
	assert_true(v.companion);
	assert_string_equal(v.rule, "ghcr.io");
	assert_non_null(strstr(v.message, "v5: pkg-containers.githubusercontent.com is a companion "
	                                  "host of allow rule ghcr.io, which is in mode warn"));
	assert_int_equal(rampart_policy_companion(NULL, "a.example", 443, 443, &c), -1);
	assert_int_equal(rampart_policy_companion(h, "a.example", 443, 443, NULL), -1);
	rampart_policy_close(h);
}

/* Docker Hub's hosts through the proxy: allowed exactly with allow_docker_hub. */
static void test_proxy_hub(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h = NULL;
	struct proxy_verdict v;
	struct policy p;
	struct rp_err e;
	char err[512];

	assert_int_equal(parse2(1, "true", "", "", &p, &e), 0);
	commit(fx->db, &p);
	policy_free(&p);
	assert_int_equal(
	    rampart_policy_open(fx->db, RAMPART_POLICY_STRICT_RELOAD, &h, err, sizeof(err)), 0);
	decide(h, "CONNECT auth.docker.io:443 HTTP/1.1\r\n\r\n", &v);
	assert_true(v.allowed && v.companion);
	assert_string_equal(v.rule, POLICY_HUB_RULE);
	assert_int_equal(parse2(2, "false", "{\"host\":\"ghcr.io\"}", "", &p, &e), 0);
	commit(fx->db, &p);
	policy_free(&p);
	decide(h, "CONNECT auth.docker.io:443 HTTP/1.1\r\n\r\n", &v);
	assert_false(v.allowed);
	assert_non_null(strstr(v.message, "denied by policy acme v2"));
	rampart_policy_close(h);
}

/* Registry level (a TLS tunnel): a repository allow rule makes its host reachable. */
static void reg_want(const struct policy_index *idx, const char *registry, bool allowed,
                     const char *rule)
{
	struct rampart_decision d;

	assert_int_equal(policy_check_registry(idx, false, registry, 0, &d), 0);
	if (d.allowed != allowed || strcmp(d.rule, rule) != 0)
		fail_msg("%s: allowed %d rule \"%s\" (%s); want %d \"%s\"", registry, d.allowed,
		         d.rule, d.reason, allowed, rule);
}

static void test_registry_level(void **st)
{
	struct policy_index *idx;
	struct rampart_decision d;

	idx = index_of("false", "{\"host\":\"quay.io/acme/\"},{\"host\":\"ghcr.io\"}",
	               "{\"host\":\"quay.io/acme/legacy/\"}");
	reg_want(idx, "quay.io", true, "quay.io/acme/");
	assert_int_equal(policy_check_registry(idx, false, "QUAY.io", 0, &d), 0);
	assert_non_null(strstr(d.reason, "rule quay.io/acme/ allows a repository on it"));
	reg_want(idx, "quay.io:5000", false, "");
	reg_want(idx, "quay.io.evil.example", false, "");
	reg_want(idx, "ghcr.io", true, "ghcr.io");
	reg_want(idx, "docker.io", false, "");
	assert_int_equal(policy_check_registry(idx, false, "quay.io/acme", 0, &d), -1);
	policy_index_free(idx);
	/* more specific than a deny of the whole host */
	idx = index_of("false", "{\"host\":\"quay.io/acme/\"}", "{\"host\":\"quay.io\"}");
	reg_want(idx, "quay.io", true, "quay.io/acme/");
	policy_index_free(idx);
	/* a rule in mode warn allows nothing */
	idx = index_of("false", "{\"host\":\"quay.io/acme/\",\"mode\":\"warn\"}", "");
	reg_want(idx, "quay.io", false, "");
	policy_index_free(idx);
	/* Docker Hub's spellings fold to docker.io, and a port is part of the registry */
	idx = index_of("false",
	               "{\"host\":\"docker.io/library/\"},{\"host\":\"r.example:5000/a/\"}", "");
	reg_want(idx, "registry-1.docker.io", true, "docker.io/library/");
	reg_want(idx, "r.example:5000", true, "r.example:5000/a/");
	reg_want(idx, "r.example", false, "");
	policy_index_free(idx);
}

/* rampart-proxy on repository rules: the tunnel by host, plain HTTP by repository;
 * and a refusal's audit version is the policy's. */
static void test_proxy_repository_rules(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h = NULL;
	struct proxy_verdict v;
	char err[512];

	commit_json(fx->db, 3, "{\"host\":\"quay.io/acme/\"}");
	assert_int_equal(
	    rampart_policy_open(fx->db, RAMPART_POLICY_STRICT_RELOAD, &h, err, sizeof(err)), 0);
	decide(h, "CONNECT quay.io:443 HTTP/1.1\r\n\r\n", &v);
	assert_true(v.allowed && v.host_level && !v.companion);
	assert_string_equal(v.rule, "quay.io/acme/");
	decide(h, "GET http://quay.io/v2/acme/app/manifests/1 HTTP/1.1\r\n\r\n", &v);
	assert_true(v.allowed && !v.host_level);
	decide(h, "GET http://quay.io/v2/acme-evil/app/manifests/1 HTTP/1.1\r\n\r\n", &v);
	assert_false(v.allowed);
	decide(h, "CONNECT quay.io:8443 HTTP/1.1\r\n\r\n", &v);
	assert_false(v.allowed);
	assert_int_equal(v.version, 3);
	commit_json(fx->db, 4, "{\"host\":\"ghcr.io\"}");
	decide(h, "CONNECT quay.io:443 HTTP/1.1\r\n\r\n", &v);
	assert_false(v.allowed);
	assert_int_equal(v.version, 4);
	assert_non_null(strstr(v.message, "rampart: quay.io denied by policy acme v4"));
	decide(h, "CONNECT nodot:443 HTTP/1.1\r\n\r\n", &v);
	assert_false(v.allowed);
	assert_int_equal(v.version, 4);

	/* plain HTTP on a repository rule: the ping and that repository, nothing the
	 * registry could decode or clean into another one, no other path */
	commit_json(fx->db, 5, "{\"host\":\"localhost:5000/acme/\"}");
	decide(h, "GET http://localhost:5000/v2/ HTTP/1.1\r\n\r\n", &v);
	assert_true(v.allowed);
	decide(h, "GET http://localhost:5000/v2/acme/app/manifests/sha256:ab?x=1 HTTP/1.1\r\n\r\n",
	       &v);
	assert_true(v.allowed);
	static const char *const refused_paths[] = {"/v2/evil/app/manifests%2Flatest",
	                                            "/v2/evil/app/%6Danifests/1",
	                                            "/v2/acme/../evil/app/manifests/1",
	                                            "/v2/acme/./../evil/blobs/x",
	                                            "/v2//evil/manifests/1",
	                                            "/v2/_catalog",
	                                            "/v2/evil",
	                                            "/evil/app",
	                                            "/token"};
	for (size_t i = 0; i < sizeof(refused_paths) / sizeof(refused_paths[0]); i++) {
		char head[256];
		snprintf(head, sizeof(head), "GET http://localhost:5000%s HTTP/1.1\r\n\r\n",
		         refused_paths[i]);
		decide(h, head, &v);
		if (v.allowed)
			fail_msg("allowed: %s", refused_paths[i]);
	}
	decide(h, "CONNECT localhost:5000 HTTP/1.1\r\n\r\n", &v);
	assert_true(v.allowed);

	/* the host allowed, one repository denied: an escape must not slip past the deny */
	{
		struct policy p;
		struct rp_err e;
		static const char *const escaped[] = {
		    "/v2/evil/app/manifests%2F1", "/v2/evil/app/%6Danifests/1",
		    "/v2/good/../evil/app/manifests/1", "/v2/good/x/..//evil/app/blobs/sha256:1"};

		if (parse2(6, "false", "{\"host\":\"localhost:5000\"}",
		           "{\"host\":\"localhost:5000/evil/\"}", &p, &e) != 0)
			fail_msg("refused: %s", e.msg);
		commit(fx->db, &p);
		policy_free(&p);
		decide(h, "GET http://localhost:5000/v2/good/app/manifests/1 HTTP/1.1\r\n\r\n", &v);
		assert_true(v.allowed);
		decide(h, "GET http://localhost:5000/v2/evil/app/manifests/1 HTTP/1.1\r\n\r\n", &v);
		assert_false(v.allowed);
		for (size_t i = 0; i < sizeof(escaped) / sizeof(escaped[0]); i++) {
			char head[256];
			snprintf(head, sizeof(head), "GET http://localhost:5000%s HTTP/1.1\r\n\r\n",
			         escaped[i]);
			decide(h, head, &v);
			if (v.allowed)
				fail_msg("allowed: %s", escaped[i]);
		}
	}
	rampart_policy_close(h);
}

/* Docker Hub allowed, its official images denied: the tunnel to Hub stays open. */
static void test_proxy_hub_with_library_denied(void **state)
{
	struct fixture *fx = *state;
	struct rampart_policy *h = NULL;
	struct proxy_verdict v;
	struct policy p;
	struct rp_err e;
	char err[512];

	if (parse2(3, "true", "", "{\"host\":\"docker.io/library/\"}", &p, &e) != 0)
		fail_msg("refused: %s", e.msg);
	commit(fx->db, &p);
	policy_free(&p);
	assert_int_equal(
	    rampart_policy_open(fx->db, RAMPART_POLICY_STRICT_RELOAD, &h, err, sizeof(err)), 0);
	decide(h, "CONNECT registry-1.docker.io:443 HTTP/1.1\r\n\r\n", &v);
	if (!v.allowed)
		fail_msg("refused: %s", v.message);
	rampart_policy_close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_validator_accepts),
	    cmocka_unit_test(test_validator_refuses),
	    cmocka_unit_test(test_validator_limits),
	    cmocka_unit_test(test_v1_refused),
	    cmocka_unit_test_setup_teardown(test_store_formats, setup, teardown),
	    cmocka_unit_test(test_matcher),
	    cmocka_unit_test(test_matcher_shadowed),
	    cmocka_unit_test(test_lint),
	    cmocka_unit_test_setup_teardown(test_proxy_and_refresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proxy_hub, setup, teardown),
	    cmocka_unit_test(test_registry_level),
	    cmocka_unit_test_setup_teardown(test_proxy_repository_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proxy_hub_with_library_denied, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
