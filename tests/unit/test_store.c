/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the policy store: atomic commit by rename, read-only
 * immutable loads, temp-file cleanup, and refusal (never a crash) of damaged
 * or foreign files.  Every test works in its own mkdtemp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

/*
 * fsync() and rename() are interposed for this program (store.c's calls bind
 * here) so a test can see their order; they pass through to the kernel and
 * record only while order_log is on.
 */
#include <sys/syscall.h>
#define ORDER_MAX 16
static bool order_log;
static int order_n;
static char order_ev[ORDER_MAX][PATH_MAX + 16];

static void order_note(const char *what, const char *path)
{
	if (order_log && order_n < ORDER_MAX)
		snprintf(order_ev[order_n++], sizeof(order_ev[0]), "%s %s", what, path);
}

int fsync(int fd)
{
	char link[64], path[PATH_MAX] = "?";
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) >= 0)
		path[n] = '\0';
	order_note("fsync", path);
	return (int)syscall(SYS_fsync, fd);
}

int rename(const char *from, const char *to)
{
	char path[PATH_MAX];

	order_note("rename", realpath(from, path) ? path : from);
	return renameat(AT_FDCWD, from, AT_FDCWD, to);
}

static const char sha_a[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char sha_b[] = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

struct fixture {
	char dir[64];
	char db[PATH_MAX];
};

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/rampart-store-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/policy.db", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* A policy with n registries cycling through the three kinds. */
static void make_policy(struct policy *p, size_t n, int64_t version)
{
	char buf[300];

	memset(p, 0, sizeof(*p));
	p->org = strdup("example-org");
	p->version = version;
	p->issued_at = 1700000000;
	p->expires_at = 1900000000 + version;
	p->allow_docker_hub = (version % 2) == 1;
	p->registries = calloc(n > 0 ? n : 1, sizeof(*p->registries));
	assert_non_null(p->registries);
	p->n_registries = n;
	for (size_t i = 0; i < n; i++) {
		struct policy_registry *r = &p->registries[i];
		r->kind = (enum policy_kind)(i % 3);
		if (r->kind == POLICY_EXACT)
			snprintf(buf, sizeof(buf), "r%zu-v%lld.example.com", i, (long long)version);
		else if (r->kind == POLICY_PORT)
			snprintf(buf, sizeof(buf), "r%zu-v%lld.example.com:5000", i,
			         (long long)version);
		else
			snprintf(buf, sizeof(buf), "*.r%zu-v%lld.example.com", i,
			         (long long)version);
		r->host = strdup(buf);
		snprintf(buf, sizeof(buf), i % 5 == 0 ? "" : "nick %zu", i);
		r->nickname = strdup(buf);
	}
}

static void make_meta(struct store_meta *m, const char *sha)
{
	memset(m, 0, sizeof(*m));
	m->fetched_at = 1700000123;
	m->source = strdup("https://policy.example.com/p.json");
	m->etag = strdup("W/\"abc-123\"");
	m->signers = strdup("aa11,bb22");
	rp_strlcpy(m->payload_sha256, sha, sizeof(m->payload_sha256));
}

static const char envelope_a[] = "{\"payloadType\":\"x\",\"payload\":\"AAAA\",\"signatures\":[]}";

static void commit_ok(const char *db, size_t n, int64_t version)
{
	struct policy p;
	struct store_meta m;
	struct rp_err err = {0};

	make_policy(&p, n, version);
	make_meta(&m, version % 2 ? sha_a : sha_b);
	assert_int_equal(store_commit(db, &p, &m, envelope_a, sizeof(envelope_a) - 1, &err), 0);
	policy_free(&p);
	store_meta_free(&m);
}

/* Number of directory entries whose name starts with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void assert_same_policy(const struct policy *a, const struct policy *b)
{
	assert_string_equal(a->org, b->org);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->issued_at, b->issued_at);
	assert_int_equal(a->expires_at, b->expires_at);
	assert_int_equal(a->allow_docker_hub, b->allow_docker_hub);
	assert_int_equal(a->n_registries, b->n_registries);
	for (size_t i = 0; i < a->n_registries; i++) {
		assert_string_equal(a->registries[i].host, b->registries[i].host);
		assert_string_equal(a->registries[i].nickname, b->registries[i].nickname);
		assert_int_equal(a->registries[i].kind, b->registries[i].kind);
	}
}

static void roundtrip(const char *db, size_t n)
{
	struct policy p, q = {0};
	struct store_meta m, lm = {0};
	struct rp_err err = {0};
	char *env = NULL;
	size_t env_len = 0;
	struct stat sb;

	make_policy(&p, n, 7);
	make_meta(&m, sha_a);
	assert_int_equal(store_commit(db, &p, &m, envelope_a, sizeof(envelope_a) - 1, &err), 0);
	assert_int_equal(store_load(db, &q, &lm, &env, &env_len, &err), 0);
	assert_same_policy(&p, &q);
	assert_int_equal(lm.fetched_at, m.fetched_at);
	assert_string_equal(lm.source, m.source);
	assert_string_equal(lm.etag, m.etag);
	assert_string_equal(lm.signers, m.signers);
	assert_string_equal(lm.payload_sha256, m.payload_sha256);
	assert_int_equal(lm.n_registries, n);
	assert_int_equal(env_len, sizeof(envelope_a) - 1);
	assert_memory_equal(env, envelope_a, env_len);
	assert_int_equal(env[env_len], '\0');
	assert_int_equal(stat(db, &sb), 0);
	assert_int_equal(lm.file.ino, (uint64_t)sb.st_ino);
	assert_int_equal(sb.st_mode & 07777, 0644);
	policy_free(&p);
	policy_free(&q);
	store_meta_free(&m);
	store_meta_free(&lm);
	free(env);
}

static void test_roundtrip_small(void **state)
{
	struct fixture *fx = *state;
	mode_t old = umask(077); /* the file must still be 0644: fchmod, not umask */

	roundtrip(fx->db, 3);
	umask(old);
	assert_int_equal(count_prefix(fx->dir, "policy.db.tmp."), 0);
	assert_int_equal(count_prefix(fx->dir, "policy.db-"), 0); /* no journal, no WAL */
}

static void test_roundtrip_empty_registries(void **state)
{
	struct fixture *fx = *state;

	roundtrip(fx->db, 0);
}

static void test_roundtrip_10000(void **state)
{
	struct fixture *fx = *state;
	struct policy q = {0};
	struct store_meta lm = {0};
	struct rp_err err = {0};

	roundtrip(fx->db, POLICY_MAX_REGISTRIES);
	/* the cheap call reads the count and scalars, not the rows */
	assert_int_equal(store_load_meta(fx->db, &q, &lm, &err), 0);
	assert_int_equal(lm.n_registries, POLICY_MAX_REGISTRIES);
	assert_null(q.registries);
	assert_int_equal(q.n_registries, 0);
	assert_int_equal(q.version, 7);
	assert_string_equal(q.org, "example-org");
	policy_free(&q);
	store_meta_free(&lm);
}

static void test_roundtrip_odd_path(void **state)
{
	struct fixture *fx = *state;
	char db[PATH_MAX * 2], cwd[PATH_MAX];

	/* characters that mean something in a URI must be percent-encoded */
	snprintf(db, sizeof(db), "%s/we?ird#na%%me &x=1.db", fx->dir);
	roundtrip(db, 2);
	/* relative path */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	roundtrip("rel.db", 2);
	assert_int_equal(chdir(cwd), 0);
}

static void test_load_missing(void **state)
{
	struct fixture *fx = *state;
	struct policy q = {0};
	struct store_meta lm = {0};
	struct store_stat st;
	struct rp_err err = {0};

	assert_int_equal(store_load(fx->db, &q, &lm, NULL, NULL, &err), 1);
	assert_null(q.org);
	assert_int_equal(store_load_meta(fx->db, &q, &lm, &err), 1);
	assert_int_equal(store_stat(fx->db, &st, &err), 1);
	assert_int_equal(store_load(NULL, &q, NULL, NULL, NULL, &err), -1);
	assert_string_equal(err.code, "E_STORE_ARG");
}

static void write_file(const char *path, const void *buf, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (n > 0)
		assert_int_equal(fwrite(buf, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void expect_load_error(const char *db, const char *code)
{
	struct policy q = {0};
	struct store_meta lm = {0};
	struct rp_err err = {0};
	char *env = NULL;
	size_t len = 0;

	assert_int_equal(store_load(db, &q, &lm, &env, &len, &err), -1);
	assert_string_equal(err.code, code);
	assert_true(strlen(err.msg) > 10);
	assert_null(q.org);
	assert_null(q.registries);
	assert_null(lm.source);
	assert_null(env);
}

static void test_load_garbage(void **state)
{
	struct fixture *fx = *state;
	char junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	write_file(fx->db, junk, sizeof(junk));
	expect_load_error(fx->db, "E_STORE_CORRUPT");
	write_file(fx->db, "", 0); /* empty file: an empty database, not ours */
	expect_load_error(fx->db, "E_STORE_CORRUPT");
	write_file(fx->db, "SQLite format 3", 16); /* header only */
	expect_load_error(fx->db, "E_STORE_CORRUPT");
}

static void test_load_directory(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mkdir(fx->db, 0755), 0);
	expect_load_error(fx->db, "E_STORE_CORRUPT");
}

/*
 * The new file is fsynced before the rename that publishes it, and the
 * directory after (issue 16): the DB is written with synchronous=OFF, so that
 * fsync is the only durability the new policy has before it replaces the old.
 */
static void test_commit_fsync_before_rename(void **state)
{
	struct fixture *fx = *state;
	char dir[PATH_MAX], tmp[PATH_MAX + 16] = "";
	int f = -1, r = -1, d = -1;

	assert_non_null(realpath(fx->dir, dir));
	order_n = 0;
	order_log = true;
	commit_ok(fx->db, 10, 1);
	order_log = false;
	for (int i = 0; i < order_n; i++) {
		if (strncmp(order_ev[i], "rename ", 7) == 0 && r < 0) {
			r = i;
			snprintf(tmp, sizeof(tmp), "fsync %s", order_ev[i] + 7);
		}
	}
	assert_true(r >= 0);
	assert_non_null(strstr(tmp, ".tmp."));
	for (int i = 0; i < order_n; i++) {
		if (strcmp(order_ev[i], tmp) == 0 && f < 0)
			f = i;
		if (i > r && strncmp(order_ev[i], "fsync ", 6) == 0 &&
		    strcmp(order_ev[i] + 6, dir) == 0)
			d = i;
	}
	if (f < 0 || f > r || d < 0) {
		for (int i = 0; i < order_n; i++)
			fprintf(stderr, "  %d: %s\n", i, order_ev[i]);
		fail_msg("want fsync of the temp file, then its rename, then fsync of %s", dir);
	}
}

/* Runs SQL on a copy of a good store, then expects the load to fail with code. */
static void tamper(const char *db, const char *sql, const char *code)
{
	sqlite3 *h = NULL;

	unlink(db);
	commit_ok(db, 10, 3);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	expect_load_error(db, code);
}

/* Schema 2: deny, warn and prefix rules and a root chain survive a round trip. */
static void test_roundtrip_v2(void **state)
{
	struct fixture *fx = *state;
	struct policy p, q = {0};
	struct store_meta m, lm = {0};
	struct store_root roots[2] = {{1, (char *)"{\"r\":1}", 7}, {2, (char *)"{\"r\":2}", 7}};
	struct rp_err err = {0};

	make_policy(&p, 4, 3);
	p.schema_version = 2;
	free(p.registries[3].host);
	p.registries[3].host = strdup("quay.io/acme/");
	p.registries[3].kind = POLICY_PREFIX;
	p.registries[3].action = POLICY_DENY;
	p.registries[3].mode = POLICY_WARN;
	free(p.registries[2].host);
	p.registries[2].host = strdup("quay.io/acme/"); /* the same host, allowed: (host, action) */
	p.registries[2].kind = POLICY_PREFIX;
	make_meta(&m, sha_a);
	m.roots = roots;
	m.n_roots = 2;
	assert_int_equal(store_commit(fx->db, &p, &m, envelope_a, sizeof(envelope_a) - 1, &err), 0);
	m.roots = NULL;
	m.n_roots = 0;
	assert_int_equal(store_load(fx->db, &q, &lm, NULL, NULL, &err), 0);
	assert_same_policy(&p, &q);
	assert_int_equal(q.schema_version, 2);
	assert_int_equal(q.registries[3].action, POLICY_DENY);
	assert_int_equal(q.registries[3].mode, POLICY_WARN);
	assert_int_equal(q.registries[3].kind, POLICY_PREFIX);
	assert_int_equal(q.registries[2].action, POLICY_ALLOW);
	assert_int_equal(lm.n_roots, 2);
	assert_int_equal(lm.roots[1].version, 2);
	assert_memory_equal(lm.roots[1].raw, "{\"r\":2}", 7);
	/* a chain with a gap is refused before anything is written */
	roots[1].version = 3;
	m.roots = roots;
	m.n_roots = 2;
	assert_int_equal(store_commit(fx->db, &p, &m, envelope_a, sizeof(envelope_a) - 1, &err),
	                 -1);
	assert_string_equal(err.code, "E_STORE_ARG");
	m.roots = NULL;
	m.n_roots = 0;
	policy_free(&p);
	policy_free(&q);
	store_meta_free(&m);
	store_meta_free(&lm);
}

/* A store written by the previous release (format 1) is still read, as schema 1. */
static void test_load_format1(void **state)
{
	struct fixture *fx = *state;
	struct policy p, q = {0};
	struct store_meta lm = {0};
	struct rp_err err = {0};
	sqlite3 *h = NULL;

	commit_ok(fx->db, 6, 5);
	assert_int_equal(sqlite3_open(fx->db, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(
	        h,
	        /* the exact SQL format 1 wrote (readers compare it) */
	        "ALTER TABLE registries RENAME TO r2;"
	        "CREATE TABLE registries(host TEXT PRIMARY KEY NOT NULL, nickname TEXT NOT NULL,"
	        " kind INTEGER NOT NULL);"
	        "INSERT INTO registries SELECT host, nickname, kind FROM r2 ORDER BY rowid;"
	        "DROP TABLE r2;"
	        "DROP TABLE roots; DELETE FROM meta WHERE key='policy_schema';"
	        "UPDATE meta SET value=1 WHERE key='schema_version'; PRAGMA user_version=1;",
	        NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	assert_int_equal(store_load(fx->db, &q, &lm, NULL, NULL, &err), 0);
	make_policy(&p, 6, 5);
	assert_same_policy(&p, &q);
	assert_int_equal(q.schema_version, 1);
	for (size_t i = 0; i < q.n_registries; i++)
		assert_true(q.registries[i].action == POLICY_ALLOW &&
		            q.registries[i].mode == POLICY_ENFORCE);
	assert_int_equal(lm.n_roots, 0);
	policy_free(&p);
	policy_free(&q);
	store_meta_free(&lm);
}

static void test_load_foreign_and_insane(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *h = NULL;

	/* a foreign SQLite database */
	assert_int_equal(sqlite3_open(fx->db, &h), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(h, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	expect_load_error(fx->db, "E_STORE_CORRUPT");

	tamper(fx->db, "PRAGMA user_version=4", "E_STORE_SCHEMA");
	tamper(fx->db, "DROP TABLE registries", "E_STORE_CORRUPT");
	tamper(fx->db, "DELETE FROM meta WHERE key='org'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value='' WHERE key='org'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value='12' WHERE key='version'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value=-1 WHERE key='version'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value=2 WHERE key='allow_docker_hub'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value=1 WHERE key='schema_version'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value=3 WHERE key='policy_schema'", "E_STORE_CORRUPT");
	tamper(fx->db, "DELETE FROM meta WHERE key='policy_schema'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE registries SET action=2 WHERE rowid=1", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE registries SET mode='warn' WHERE rowid=1", "E_STORE_CORRUPT");
	tamper(fx->db, "INSERT INTO roots VALUES(1, x'7b7d'), (3, x'7b7d')", "E_STORE_CORRUPT");
	tamper(fx->db, "INSERT INTO roots VALUES(0, x'7b7d')", "E_STORE_CORRUPT");
	tamper(fx->db, "INSERT INTO roots VALUES(1, zeroblob(65537))", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value='ABC' WHERE key='payload_sha256'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value=x'41' WHERE key='org'", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE meta SET value='a'||char(10)||'b' WHERE key='etag'",
	       "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE registries SET kind=7 WHERE rowid=1", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE registries SET kind='x' WHERE rowid=1", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE registries SET host='Evil Host' WHERE rowid=2", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE registries SET host='a'||char(0)||'b' WHERE rowid=2",
	       "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE registries SET nickname=x'41' WHERE rowid=2", "E_STORE_CORRUPT");
	tamper(fx->db, "DELETE FROM envelope", "E_STORE_CORRUPT");
	tamper(fx->db, "INSERT INTO envelope VALUES(x'00')", "E_STORE_CORRUPT");
	tamper(fx->db, "UPDATE envelope SET raw='text'", "E_STORE_CORRUPT");
}

/* Like tamper(), and the refusal must name the schema (not a later symptom). */
static void tamper_schema(const char *db, const char *sql)
{
	struct policy q = {0};
	struct store_meta lm = {0};
	struct rp_err err = {0};
	sqlite3 *h = NULL;

	unlink(db);
	commit_ok(db, 10, 3);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	assert_int_equal(store_load(db, &q, &lm, NULL, NULL, &err), -1);
	assert_string_equal(err.code, "E_STORE_CORRUPT");
	if (strstr(err.msg, "schema") == NULL)
		fail_msg("%s: %s", sql, err.msg);
	assert_int_equal(store_load_meta(db, &q, &lm, &err), -1);
	assert_string_equal(err.code, "E_STORE_CORRUPT");
}

/*
 * A reader runs no SQL from the file (issue 16): a user-owned DB whose
 * registries is an endless recursive view used to hang `rampart policy check
 * --db`; views, triggers and extra objects are refused before any query.
 */
static void test_load_hostile_schema(void **state)
{
	struct fixture *fx = *state;

	tamper_schema(fx->db, "DROP TABLE registries; CREATE VIEW registries AS WITH RECURSIVE "
	                      "c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT 'a.io' AS "
	                      "host, 'n' AS nickname, 0 AS kind FROM c");
	tamper_schema(fx->db, "CREATE VIEW v AS SELECT * FROM meta");
	tamper_schema(fx->db, "CREATE TRIGGER t AFTER INSERT ON envelope BEGIN SELECT 1; END");
	tamper_schema(fx->db, "CREATE INDEX i ON registries(nickname)");
	tamper_schema(fx->db, "CREATE TABLE extra(x)");
	tamper_schema(fx->db, "DROP TABLE envelope; CREATE TABLE envelope(raw BLOB NOT NULL, "
	                      "x AS (length(raw)))");
}

/* A meta key this version does not know (a compatible future writer) is skipped. */
static void test_load_unknown_meta_key(void **state)
{
	struct fixture *fx = *state;
	struct policy q = {0};
	struct store_meta lm = {0};
	struct rp_err err = {0};
	sqlite3 *h = NULL;

	commit_ok(fx->db, 10, 3);
	assert_int_equal(sqlite3_open(fx->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h,
	                              "INSERT INTO meta VALUES('a_future_key', 1);"
	                              "INSERT INTO meta VALUES('zz_future_key', 'x')",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	if (store_load(fx->db, &q, &lm, NULL, NULL, &err) != 0)
		fail_msg("%s: %s", err.code, err.msg);
	assert_int_equal(q.version, 3);
	assert_int_equal(q.n_registries, 10);
	policy_free(&q);
	store_meta_free(&lm);
}

/* Flips bytes all over a real store: every load must either fail cleanly or succeed. */
static void test_load_bitflips(void **state)
{
	struct fixture *fx = *state;
	unsigned char *buf;
	struct stat sb;
	FILE *f;
	char bad[PATH_MAX + 8];
	int fails = 0;

	commit_ok(fx->db, 500, 5);
	assert_int_equal(stat(fx->db, &sb), 0);
	buf = malloc((size_t)sb.st_size);
	assert_non_null(buf);
	f = fopen(fx->db, "rb");
	assert_non_null(f);
	assert_int_equal(fread(buf, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
	fclose(f);
	snprintf(bad, sizeof(bad), "%s.bad", fx->db);
	for (off_t off = 0; off < sb.st_size; off += 97) {
		struct policy q = {0};
		struct store_meta lm = {0};
		struct rp_err err = {0};
		char *env = NULL;
		size_t len;
		int rc;

		buf[off] ^= 0x5a;
		write_file(bad, buf, (size_t)sb.st_size);
		buf[off] ^= 0x5a;
		rc = store_load(bad, &q, &lm, &env, &len, &err);
		assert_true(rc == 0 || rc == -1);
		if (rc == -1)
			fails++;
		policy_free(&q);
		store_meta_free(&lm);
		free(env);
	}
	/* truncated file */
	write_file(bad, buf, (size_t)sb.st_size / 2);
	expect_load_error(bad, "E_STORE_CORRUPT");
	assert_true(fails > 0);
	free(buf);
}

static void expect_live_version(const char *db, int64_t version, size_t n)
{
	struct policy q = {0};
	struct rp_err err = {0};

	assert_int_equal(store_load(db, &q, NULL, NULL, NULL, &err), 0);
	assert_int_equal(q.version, version);
	assert_int_equal(q.n_registries, n);
	policy_free(&q);
}

static void test_commit_missing_dir(void **state)
{
	struct fixture *fx = *state;
	char db[PATH_MAX + 32];
	struct policy p;
	struct store_meta m;
	struct rp_err err = {0};

	snprintf(db, sizeof(db), "%s/nope/policy.db", fx->dir);
	make_policy(&p, 2, 1);
	make_meta(&m, sha_a);
	assert_int_equal(store_commit(db, &p, &m, envelope_a, sizeof(envelope_a) - 1, &err), -1);
	assert_string_equal(err.code, "E_STORE_IO");
	assert_non_null(strstr(err.msg, "nope"));
	policy_free(&p);
	store_meta_free(&m);
}

/* rename() over a non-empty directory fails after the temp file was fully written. */
static void test_commit_rename_fails_cleans_temp(void **state)
{
	struct fixture *fx = *state;
	char inner[PATH_MAX + 8];
	struct policy p;
	struct store_meta m;
	struct rp_err err = {0};

	assert_int_equal(mkdir(fx->db, 0755), 0);
	snprintf(inner, sizeof(inner), "%s/x", fx->db);
	write_file(inner, "x", 1);
	make_policy(&p, 20, 1);
	make_meta(&m, sha_a);
	assert_int_equal(store_commit(fx->db, &p, &m, envelope_a, sizeof(envelope_a) - 1, &err),
	                 -1);
	assert_string_equal(err.code, "E_STORE_IO");
	assert_int_equal(count_prefix(fx->dir, "policy.db.tmp."), 0);
	policy_free(&p);
	store_meta_free(&m);
}

static void test_commit_bad_input_keeps_live(void **state)
{
	struct fixture *fx = *state;
	struct policy p;
	struct store_meta m;
	struct rp_err err = {0};

	commit_ok(fx->db, 4, 1);

	make_policy(&p, 4, 2);
	make_meta(&m, sha_a);
	free(p.registries[3].host);
	p.registries[3].host = strdup(p.registries[1].host); /* duplicate host */
	assert_int_equal(store_commit(fx->db, &p, &m, envelope_a, 3, &err), -1);
	assert_string_equal(err.code, "E_STORE_ARG");
	assert_non_null(strstr(err.msg, "twice"));
	free(p.registries[3].host);
	p.registries[3].host = strdup("Upper.Example"); /* not lower-cased */
	assert_int_equal(store_commit(fx->db, &p, &m, envelope_a, 3, &err), -1);
	assert_string_equal(err.code, "E_STORE_ARG");
	free(p.registries[3].host);
	p.registries[3].host = strdup("ok.example");
	free(m.etag);
	m.etag = strdup("a\r\nInjected: 1"); /* header injection in a stored ETag */
	assert_int_equal(store_commit(fx->db, &p, &m, envelope_a, 3, &err), -1);
	assert_string_equal(err.code, "E_STORE_ARG");
	free(m.etag);
	m.etag = strdup("");
	m.payload_sha256[0] = 'X';
	assert_int_equal(store_commit(fx->db, &p, &m, envelope_a, 3, &err), -1);
	assert_int_equal(store_commit(fx->db, NULL, &m, envelope_a, 3, &err), -1);
	assert_int_equal(store_commit(fx->db, &p, NULL, envelope_a, 3, &err), -1);

	assert_int_equal(count_prefix(fx->dir, "policy.db.tmp."), 0);
	expect_live_version(fx->db, 1, 4);
	policy_free(&p);
	store_meta_free(&m);
}

/* A write that fails half-way (RLIMIT_FSIZE in a child) leaves no temp and the old policy. */
static void test_commit_write_fails_midway(void **state)
{
	struct fixture *fx = *state;
	pid_t pid;
	int st;

	commit_ok(fx->db, 3, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {65536 + 100, 65536 + 100};
		struct policy p;
		struct store_meta m;
		struct rp_err err = {0};

		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
			_exit(10);
		make_policy(&p, POLICY_MAX_REGISTRIES, 2);
		make_meta(&m, sha_a);
		if (store_commit(fx->db, &p, &m, envelope_a, 3, &err) != -1)
			_exit(11);
		if (strcmp(err.code, "E_STORE_IO") != 0 ||
		    !strstr(err.msg, "previous policy was kept"))
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(count_prefix(fx->dir, "policy.db.tmp."), 0);
	expect_live_version(fx->db, 1, 3);
}

/*
 * A real ENOSPC: a 256 KiB tmpfs in a private mount namespace (root only).
 * The small policy fits, the 10,000-entry one does not.
 */
static int disk_full_child(const char *dir)
{
	char mnt[PATH_MAX], db[PATH_MAX + 16];
	struct policy p;
	struct store_meta m;
	struct rp_err err = {0};
	int rc;

	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	if (mkdir(mnt, 0755) < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=256k") < 0)
		return 77;
	snprintf(db, sizeof(db), "%s/policy.db", mnt);
	commit_ok(db, 3, 1);
	make_policy(&p, POLICY_MAX_REGISTRIES, 2);
	make_meta(&m, sha_a);
	rc = store_commit(db, &p, &m, envelope_a, 3, &err);
	policy_free(&p);
	store_meta_free(&m);
	if (rc != -1)
		return 11;
	if (strcmp(err.code, "E_STORE_DISK_FULL") != 0 || strstr(err.msg, "disk full") == NULL) {
		fprintf(stderr, "got %s: %s\n", err.code, err.msg);
		return 12;
	}
	if (count_prefix(mnt, "policy.db.tmp.") != 0)
		return 13;
	expect_live_version(db, 1, 3);
	return 0;
}

static void test_commit_disk_full(void **state)
{
	struct fixture *fx = *state;
	pid_t pid;
	int st;

	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(disk_full_child(fx->dir));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77)
		skip(); /* no permission to mount (unprivileged container) */
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* An unprivileged user can neither commit into the root-owned dir nor write the DB. */
static void test_unprivileged_cannot_write(void **state)
{
	struct fixture *fx = *state;
	struct passwd *pw;
	pid_t pid;
	int st;

	if (geteuid() != 0)
		skip();
	pw = getpwnam("nobody");
	assert_non_null(pw);
	assert_int_equal(chmod(fx->dir, 0755), 0);
	commit_ok(fx->db, 3, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct policy p;
		struct store_meta m;
		struct rp_err err = {0};

		if (setgroups(0, NULL) < 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			_exit(10);
		if (open(fx->db, O_WRONLY) >= 0 || errno != EACCES)
			_exit(11);
		make_policy(&p, 3, 2);
		make_meta(&m, sha_a);
		if (store_commit(fx->db, &p, &m, envelope_a, 3, &err) != -1 ||
		    strcmp(err.code, "E_STORE_IO") != 0)
			_exit(12);
		if (store_clean_temps(fx->db, &err) != 0)
			_exit(13);
		/* but it can read */
		expect_live_version(fx->db, 1, 3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	expect_live_version(fx->db, 1, 3);
}

static void test_clean_temps(void **state)
{
	struct fixture *fx = *state;
	const char *names[] = {
	    "policy.db.tmp.abc123", "policy.db.tmp.Z",       "policy.db.tmpx",   "policy.db",
	    "other.db.tmp.abc123",  "xpolicy.db.tmp.abc123", "policy.db-journal"};
	char path[PATH_MAX + 64], target[PATH_MAX + 64];
	struct rp_err err = {0};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->dir, names[i]);
		write_file(path, "x", 1);
	}
	snprintf(path, sizeof(path), "%s/policy.db.tmp.dir", fx->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(target, sizeof(target), "%s/target", fx->dir);
	write_file(target, "keep", 4);
	snprintf(path, sizeof(path), "%s/policy.db.tmp.link", fx->dir);
	assert_int_equal(symlink(target, path), 0);

	assert_int_equal(store_clean_temps(fx->db, &err), 2);
	assert_int_equal(count_prefix(fx->dir, "policy.db.tmp.abc123"), 0);
	assert_int_equal(count_prefix(fx->dir, "policy.db.tmp.Z"), 0);
	assert_int_equal(count_prefix(fx->dir, "policy.db.tmpx"), 1);
	assert_int_equal(count_prefix(fx->dir, "policy.db.tmp.dir"), 1);
	assert_int_equal(count_prefix(fx->dir, "policy.db.tmp.link"), 1);
	assert_int_equal(count_prefix(fx->dir, "other.db.tmp.abc123"), 1);
	assert_int_equal(count_prefix(fx->dir, "xpolicy.db.tmp.abc123"), 1);
	assert_int_equal(count_prefix(fx->dir, "policy.db-journal"), 1);
	assert_int_equal(count_prefix(fx->dir, "target"), 1);
	assert_int_equal(access(fx->db, F_OK), 0);
	assert_int_equal(store_clean_temps(fx->db, &err), 0);

	snprintf(path, sizeof(path), "%s/missing/policy.db", fx->dir);
	assert_int_equal(store_clean_temps(path, &err), -1);
	assert_string_equal(err.code, "E_STORE_IO");
}

static int64_t reader_version(sqlite3 *h)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	assert_int_equal(
	    sqlite3_prepare_v2(h, "SELECT value FROM meta WHERE key='version'", -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void reader_check_rows(sqlite3 *h, int64_t version, int n)
{
	sqlite3_stmt *st = NULL;
	char want[64];
	int i = 0;

	assert_int_equal(
	    sqlite3_prepare_v2(h, "SELECT host FROM registries ORDER BY rowid", -1, &st, NULL),
	    SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(want, sizeof(want), "-v%lld.example.com", (long long)version);
		assert_non_null(strstr((const char *)sqlite3_column_text(st, 0), want));
		i++;
	}
	sqlite3_finalize(st);
	assert_int_equal(i, n);
}

/* A reader holding the old file open keeps a consistent old policy across commits. */
static void test_reader_keeps_old_policy(void **state)
{
	struct fixture *fx = *state;
	char uri[PATH_MAX + 64];
	struct store_stat before, after;
	struct rp_err err = {0};
	sqlite3 *h = NULL;

	commit_ok(fx->db, 3000, 1);
	assert_int_equal(store_stat(fx->db, &before, &err), 0);
	snprintf(uri, sizeof(uri), "file://%s?mode=ro&immutable=1", fx->db);
	assert_int_equal(sqlite3_open_v2(uri, &h, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL),
	                 SQLITE_OK);
	assert_int_equal(reader_version(h), 1);
	for (int64_t v = 2; v <= 4; v++) {
		commit_ok(fx->db, 3000, v);
		/* old handle: still the whole old policy, every row */
		assert_int_equal(reader_version(h), 1);
		reader_check_rows(h, 1, 3000);
		/* new loads: the whole new policy */
		expect_live_version(fx->db, v, 3000);
	}
	assert_int_equal(store_stat(fx->db, &after, &err), 0);
	assert_true(after.ino != before.ino);
	assert_int_equal(after.mode & 07777, 0644);
	assert_int_equal(sqlite3_close(h), SQLITE_OK);
	assert_int_equal(count_prefix(fx->dir, "policy.db"), 1);
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Every registry of a loaded policy belongs to the same version as its meta. */
static int consistent(const struct policy *q)
{
	char want[64];

	snprintf(want, sizeof(want), "-v%lld.example.com", (long long)q->version);
	for (size_t i = 0; i < q->n_registries; i++)
		if (strstr(q->registries[i].host, want) == NULL)
			return 0;
	return 1;
}

/* Readers looping during 200 commits never see an error or a mix of two policies. */
static void test_readers_during_commits(void **state)
{
	struct fixture *fx = *state;
	char stop[PATH_MAX + 8];
	pid_t pid;
	int st;

	snprintf(stop, sizeof(stop), "%s/stop", fx->dir);
	commit_ok(fx->db, 300, 1);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int64_t last = 0;
		long loads = 0;

		while (access(stop, F_OK) != 0 && loads < 1000000) {
			struct policy q = {0};
			struct rp_err err = {0};

			if (store_load(fx->db, &q, NULL, NULL, NULL, &err) != 0 ||
			    !consistent(&q) || q.n_registries != 300 || q.version < last)
				_exit(1);
			last = q.version;
			policy_free(&q);
			loads++;
		}
		_exit(loads > 0 && last > 1 ? 0 : 2);
	}
	for (int64_t v = 2; v <= 201; v++)
		commit_ok(fx->db, 300, v);
	usleep(50000);
	write_file(stop, "", 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* kill -9 of a writer at any point leaves the old or the new policy, never a broken one. */
static void test_kill9_during_commit(void **state)
{
	struct fixture *fx = *state;
	int64_t live = 1;
	int leftovers = 0;
	long long t0, full_us;
	struct rp_err err = {0};

	/* how long one full commit takes here, in a forked child as below (sanitizers
	 * and a busy machine make it slower) */
	commit_ok(fx->db, 50, 1);
	t0 = now_us();
	{
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			commit_ok(fx->db, POLICY_MAX_REGISTRIES, 1);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, NULL, 0), pid);
	}
	full_us = now_us() - t0;
	commit_ok(fx->db, 50, 1);
	/* 30 rounds sweep the kill from 0 to 1.5x a commit; on a machine slower than
	 * the measurement, up to 30 more go on (2x .. 8x) until one lands after the
	 * rename, so the test is about the store, not about the scheduler */
	for (int round = 0; round < 60 && (round < 30 || live == 1); round++) {
		struct policy q = {0};
		pid_t pid = fork();
		long long delay =
		    round < 30 ? full_us * 3 / 2 * round / 30 : full_us * (2 + (round - 30) / 5);

		assert_true(pid >= 0);
		if (pid == 0) {
			commit_ok(fx->db, POLICY_MAX_REGISTRIES, live + 1);
			_exit(0);
		}
		usleep((useconds_t)delay);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
		assert_int_equal(store_load(fx->db, &q, NULL, NULL, NULL, &err), 0);
		assert_true(q.version == live || q.version == live + 1);
		assert_true(consistent(&q));
		assert_int_equal(q.n_registries, q.version == 1 ? 50 : POLICY_MAX_REGISTRIES);
		live = q.version;
		policy_free(&q);
		leftovers += store_clean_temps(fx->db, &err);
		assert_int_equal(count_prefix(fx->dir, "policy.db.tmp."), 0);
	}
	/* the rounds must have hit both sides of the rename */
	assert_true(leftovers > 0);
	assert_true(live > 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip_small, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_empty_registries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_10000, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_odd_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roundtrip_v2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_format1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_foreign_and_insane, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_bitflips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_hostile_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_unknown_meta_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_fsync_before_rename, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_missing_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_rename_fails_cleans_temp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_bad_input_keeps_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_write_fails_midway, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_disk_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unprivileged_cannot_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clean_temps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reader_keeps_old_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readers_during_commits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_kill9_during_commit, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
