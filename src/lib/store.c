/* SPDX-License-Identifier: ISC */
/*
 * Policy store: every commit builds a complete new SQLite file next to the
 * live one and renames it into place, so the live file is never modified and
 * readers (mode=ro&immutable=1, no locks) can never see a torn policy.  The
 * loader trusts nothing in the file: every value is range-checked.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

#define STORE_TMP_INFIX ".tmp."
#define STORE_MAX_TEXT 65536 /* source URL, signer list */
#define STORE_LOAD_RETRIES 5

#ifndef SQLITE_OPEN_NOFOLLOW
#define SQLITE_OPEN_NOFOLLOW 0
#endif
#ifndef SQLITE_OPEN_EXRESCODE
#define SQLITE_OPEN_EXRESCODE 0
#endif

/* A reader's budget of SQLite VM steps per load: reading a 10,000-entry store
 * takes well under a million; a hostile file (a recursive view, say) stops here. */
#define STORE_MAX_VM_STEPS (20LL * 1000 * 1000)
#define STORE_PROGRESS_EVERY 1000

/*
 * The store formats, in one place (PRAGMA user_version and meta
 * "schema_version" say which).  Format 1: allow rules only.  Format 2 (policy
 * schema 2): registries gains action (0 allow, 1 deny) and mode (0 enforce,
 * 1 warn), the primary key becomes (host, action), meta gains
 * "policy_schema", and the table "roots" keeps the verified root chain.
 * Format 3 (policy schema 2 with companion hosts) adds the table
 * "companions": (rule, pos, host), rule the 0-based index of an allow rule in
 * registries' rowid order, pos the companion's place in its signed list.
 * This code writes the oldest format that holds the policy (3 only when a
 * rule has companions, so an older rampart still reads every other store)
 * and reads 1 to 3 (a format-1 file reads as action 0, mode 0, policy
 * schema 1, no roots; formats 1 and 2 have no companions).
 */
#define STORE_SQL_META "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID"
#define STORE_SQL_REGISTRIES_V1                                                                    \
	"CREATE TABLE registries(host TEXT PRIMARY KEY NOT NULL, nickname TEXT NOT NULL,"          \
	" kind INTEGER NOT NULL)"
#define STORE_SQL_REGISTRIES_V2                                                                    \
	"CREATE TABLE registries(host TEXT NOT NULL, nickname TEXT NOT NULL,"                      \
	" kind INTEGER NOT NULL, action INTEGER NOT NULL, mode INTEGER NOT NULL,"                  \
	" PRIMARY KEY(host, action))"
#define STORE_SQL_ENVELOPE "CREATE TABLE envelope(raw BLOB NOT NULL)"
#define STORE_SQL_COMPANIONS                                                                       \
	"CREATE TABLE companions(rule INTEGER NOT NULL, pos INTEGER NOT NULL,"                     \
	" host TEXT NOT NULL, PRIMARY KEY(rule, pos)) WITHOUT ROWID"
#define STORE_SQL_ROOTS                                                                            \
	"CREATE TABLE roots(version INTEGER PRIMARY KEY NOT NULL, raw BLOB NOT NULL)"

static const char store_schema_sql_v2[] =
    STORE_SQL_META ";" STORE_SQL_REGISTRIES_V2 ";" STORE_SQL_ENVELOPE ";" STORE_SQL_ROOTS ";";
static const char store_schema_sql_v3[] =
    STORE_SQL_META ";" STORE_SQL_REGISTRIES_V2 ";" STORE_SQL_ENVELOPE ";" STORE_SQL_ROOTS
                   ";" STORE_SQL_COMPANIONS ";";
static const char store_select_rules_v1[] =
    "SELECT host, nickname, kind, 0, 0 FROM registries ORDER BY rowid";
static const char store_select_rules_v2[] =
    "SELECT host, nickname, kind, action, mode FROM registries ORDER BY rowid";
#define STORE_SCHEMA_OLDEST 1 /* the oldest format this code reads */

/* Every object of a store rampartd wrote, per format, in sqlite_schema's name
 * order: no views, no triggers, no extra tables or indexes, each with exactly
 * the SQL we wrote. */
struct store_object {
	const char *type, *name, *tbl, *sql; /* sql NULL: an automatic index */
};
static const struct store_object store_objects_v1[] = {
    {"table", "envelope", "envelope", STORE_SQL_ENVELOPE},
    {"table", "meta", "meta", STORE_SQL_META},
    {"table", "registries", "registries", STORE_SQL_REGISTRIES_V1},
    {"index", "sqlite_autoindex_registries_1", "registries", NULL},
};
static const struct store_object store_objects_v2[] = {
    {"table", "envelope", "envelope", STORE_SQL_ENVELOPE},
    {"table", "meta", "meta", STORE_SQL_META},
    {"table", "registries", "registries", STORE_SQL_REGISTRIES_V2},
    {"table", "roots", "roots", STORE_SQL_ROOTS},
    {"index", "sqlite_autoindex_registries_1", "registries", NULL},
};
static const struct store_object store_objects_v3[] = {
    {"table", "companions", "companions", STORE_SQL_COMPANIONS},
    {"table", "envelope", "envelope", STORE_SQL_ENVELOPE},
    {"table", "meta", "meta", STORE_SQL_META},
    {"table", "registries", "registries", STORE_SQL_REGISTRIES_V2},
    {"table", "roots", "roots", STORE_SQL_ROOTS},
    {"index", "sqlite_autoindex_registries_1", "registries", NULL},
};

/* The format a commit of p writes: 3 only when a rule has companions. */
static int store_format_for(const struct policy *p)
{
	for (size_t i = 0; i < p->n_registries; i++)
		if (p->registries[i].n_companions > 0)
			return 3;
	return 2;
}

void store_meta_free(struct store_meta *m)
{
	if (m == NULL)
		return;
	free(m->source);
	free(m->etag);
	free(m->signers);
	for (size_t i = 0; i < m->n_roots; i++)
		free(m->roots[i].raw);
	free(m->roots);
	memset(m, 0, sizeof(*m));
}

/* ---- shared helpers ---------------------------------------------------- */

static int store_errno_err(struct rp_err *err, int e, const char *what, const char *path)
{
	if (e == ENOSPC || e == EDQUOT)
		return rp_seterr(err, "E_STORE_DISK_FULL",
		                 "disk full while %s %s; the previous policy was kept; free space "
		                 "on that file system and retry",
		                 what, path);
	return rp_seterr(err, "E_STORE_IO", "%s %s failed: %s; the previous policy was kept", what,
	                 path, strerror(e));
}

static int store_sqlite_err(struct rp_err *err, sqlite3 *db, int rc, const char *what,
                            const char *path)
{
	int prim = rc & 0xff;
	int sys = db != NULL ? sqlite3_system_errno(db) : 0;

	if (prim == SQLITE_FULL || (prim == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT)))
		return rp_seterr(err, "E_STORE_DISK_FULL",
		                 "disk full while %s %s; the previous policy was kept; free space "
		                 "on that file system and retry",
		                 what, path);
	if (prim == SQLITE_NOMEM)
		return rp_seterr(err, "E_STORE_NOMEM", "out of memory while %s %s", what, path);
	return rp_seterr(err, "E_STORE_IO", "%s %s failed: %s; the previous policy was kept", what,
	                 path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int store_valid_text(const char *s, size_t max, int allow_empty)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, max + 1);
	if (n > max || (n == 0 && !allow_empty))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

static int store_valid_host(const char *h)
{
	if (!store_valid_text(h, POLICY_MAX_RULE, 0))
		return 0;
	for (const char *c = h; *c != '\0'; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '-' || *c == ':' || *c == '*' || *c == '_' || *c == '[' || *c == ']' ||
		      *c == '/'))
			return 0;
	}
	return 1;
}

static int store_valid_sha256(const char *s)
{
	if (strlen(s) != 64)
		return 0;
	for (int i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

/* Companions: allow rules only, at most POLICY_MAX_COMPANIONS each, host[:port] text. */
static int store_check_companions(const struct policy_registry *r, size_t *total)
{
	if (r->n_companions == 0)
		return 0;
	if (r->action != POLICY_ALLOW || r->n_companions > POLICY_MAX_COMPANIONS ||
	    r->companions == NULL || (*total += r->n_companions) > POLICY_MAX_COMPANIONS_TOTAL)
		return -1;
	for (size_t c = 0; c < r->n_companions; c++) {
		const char *h = r->companions[c];
		if (!store_valid_text(h, POLICY_MAX_COMPANION, 0) ||
		    strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789-.:") != strlen(h))
			return -1;
	}
	return 0;
}

/* The same limits for writing and reading: a commit never writes what a load refuses. */
static int store_check_policy(const struct policy *p, struct rp_err *err, const char *code)
{
	size_t total = 0;

	if (!store_valid_text(p->org, POLICY_MAX_ORG, 0))
		return rp_seterr(err, code,
		                 "policy org is missing, too long or has control "
		                 "characters");
	if (p->version < 0 || p->issued_at < 0 || p->expires_at < 0)
		return rp_seterr(err, code, "policy version or timestamps are negative");
	if (p->n_registries > POLICY_MAX_REGISTRIES)
		return rp_seterr(err, code, "policy has %zu registries (at most %d)",
		                 p->n_registries, POLICY_MAX_REGISTRIES);
	if (p->n_registries > 0 && p->registries == NULL)
		return rp_seterr(err, code, "policy registry list is missing");
	for (size_t i = 0; i < p->n_registries; i++) {
		const struct policy_registry *r = &p->registries[i];
		if (!store_valid_host(r->host))
			return rp_seterr(err, code,
			                 "registries[%zu].host is empty, too long or "
			                 "has characters a host cannot have",
			                 i);
		if (!store_valid_text(r->nickname, POLICY_MAX_NICKNAME, 1))
			return rp_seterr(err, code,
			                 "registries[%zu].nickname is missing, too "
			                 "long or has control characters",
			                 i);
		if (r->kind != POLICY_EXACT && r->kind != POLICY_PORT &&
		    r->kind != POLICY_WILDCARD && r->kind != POLICY_PREFIX)
			return rp_seterr(err, code, "registries[%zu].kind %d is unknown", i,
			                 (int)r->kind);
		if ((r->action != POLICY_ALLOW && r->action != POLICY_DENY) ||
		    (r->mode != POLICY_ENFORCE && r->mode != POLICY_WARN))
			return rp_seterr(err, code, "registries[%zu] has an unknown action or mode",
			                 i);
		if (store_check_companions(r, &total) < 0)
			return rp_seterr(
			    err, code,
			    "registries[%zu] has companions that are not allowed: on a "
			    "deny rule, too many, or not host[:port] names",
			    i);
	}
	if (p->schema_version < 0 || p->schema_version > POLICY_SCHEMA_MAX) /* 0 reads as 1 */
		return rp_seterr(err, code, "policy schema_version %d is unknown",
		                 p->schema_version);
	return 0;
}

static int store_check_meta(const struct store_meta *m, struct rp_err *err, const char *code)
{
	if (!store_valid_text(m->source, STORE_MAX_TEXT, 1))
		return rp_seterr(err, code,
		                 "meta source is missing, too long or has control "
		                 "characters");
	if (!store_valid_text(m->etag, STORE_MAX_ETAG, 1))
		return rp_seterr(err, code,
		                 "meta etag is missing, longer than %d bytes or "
		                 "has control characters",
		                 STORE_MAX_ETAG);
	if (!store_valid_text(m->signers, STORE_MAX_TEXT, 1))
		return rp_seterr(err, code,
		                 "meta signers is missing, too long or has control "
		                 "characters");
	if (!store_valid_sha256(m->payload_sha256))
		return rp_seterr(err, code, "meta payload_sha256 is not 64 lowercase hex digits");
	if (m->n_roots > STORE_MAX_ROOTS || (m->n_roots > 0 && m->roots == NULL))
		return rp_seterr(err, code, "the root chain has %zu roots (at most %d)", m->n_roots,
		                 STORE_MAX_ROOTS);
	for (size_t i = 0; i < m->n_roots; i++)
		if (m->roots[i].version < 1 || m->roots[i].len > STORE_MAX_ROOT_BYTES ||
		    (i > 0 && m->roots[i].version != m->roots[i - 1].version + 1))
			return rp_seterr(err, code,
			                 "root %zu of the chain is out of range or out of "
			                 "order",
			                 i);
	return 0;
}

/* Splits db_path into its directory (malloc'd) and base name (points into db_path). */
static int store_split(const char *db_path, char **dir, const char **base, struct rp_err *err)
{
	const char *slash;

	if (db_path == NULL || db_path[0] == '\0')
		return rp_seterr(err, "E_STORE_ARG", "no policy store path given");
	slash = strrchr(db_path, '/');
	*base = slash != NULL ? slash + 1 : db_path;
	if (**base == '\0' || strlen(db_path) >= PATH_MAX - 16)
		return rp_seterr(err, "E_STORE_ARG", "policy store path %s is not a file path",
		                 db_path);
	if (slash == NULL)
		*dir = strdup(".");
	else if (slash == db_path)
		*dir = strdup("/");
	else
		*dir = strndup(db_path, (size_t)(slash - db_path));
	if (*dir == NULL)
		return rp_seterr(err, "E_STORE_NOMEM", "out of memory");
	return 0;
}

/* ---- commit ------------------------------------------------------------ */

static int store_exec(sqlite3 *db, const char *sql, const char *tmp, struct rp_err *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return store_sqlite_err(err, db, rc, "writing", tmp);
	return 0;
}

/* Runs a pragma that answers with one text row and checks the answer. */
static int store_pragma_expect(sqlite3 *db, const char *sql, const char *want, const char *tmp,
                               struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_err(err, db, rc, "configuring", tmp);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW || sqlite3_column_text(st, 0) == NULL ||
	    strcmp((const char *)sqlite3_column_text(st, 0), want) != 0) {
		rp_seterr(err, "E_STORE_IO", "could not set \"%s\" on %s; nothing was changed", sql,
		          tmp);
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_step_done(sqlite3 *db, sqlite3_stmt *st, const char *tmp, struct rp_err *err)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		return store_sqlite_err(err, db, rc, "writing", tmp);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return 0;
}

static int store_put_int(sqlite3 *db, sqlite3_stmt *st, const char *key, int64_t v, const char *tmp,
                         struct rp_err *err)
{
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, v);
	return store_step_done(db, st, tmp, err);
}

static int store_put_text(sqlite3 *db, sqlite3_stmt *st, const char *key, const char *v,
                          const char *tmp, struct rp_err *err)
{
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
	return store_step_done(db, st, tmp, err);
}

static int store_write_meta(sqlite3 *db, const struct policy *p, const struct store_meta *m,
                            int format, const char *tmp, struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?1, ?2)", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_err(err, db, rc, "writing", tmp);
		goto out;
	}
	if (store_put_int(db, st, "schema_version", format, tmp, err) < 0 ||
	    store_put_text(db, st, "org", p->org, tmp, err) < 0 ||
	    store_put_int(db, st, "version", p->version, tmp, err) < 0 ||
	    store_put_int(db, st, "issued_at", p->issued_at, tmp, err) < 0 ||
	    store_put_int(db, st, "expires_at", p->expires_at, tmp, err) < 0 ||
	    store_put_int(db, st, "allow_docker_hub", p->allow_docker_hub ? 1 : 0, tmp, err) < 0 ||
	    store_put_int(db, st, "fetched_at", m->fetched_at, tmp, err) < 0 ||
	    store_put_text(db, st, "source", m->source, tmp, err) < 0 ||
	    store_put_text(db, st, "etag", m->etag, tmp, err) < 0 ||
	    store_put_text(db, st, "signers", m->signers, tmp, err) < 0 ||
	    store_put_text(db, st, "payload_sha256", m->payload_sha256, tmp, err) < 0 ||
	    store_put_int(db, st, "policy_schema", p->schema_version > 0 ? p->schema_version : 1,
	                  tmp, err) < 0)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_write_registries(sqlite3 *db, const struct policy *p, const char *tmp,
                                  struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db,
	                        "INSERT INTO registries(host, nickname, kind, action, mode) "
	                        "VALUES(?1, ?2, ?3, ?4, ?5)",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_err(err, db, rc, "writing", tmp);
		goto out;
	}
	for (size_t i = 0; i < p->n_registries; i++) {
		const struct policy_registry *r = &p->registries[i];
		sqlite3_bind_text(st, 1, r->host, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r->nickname, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, (int)r->kind);
		sqlite3_bind_int(st, 4, (int)r->action);
		sqlite3_bind_int(st, 5, (int)r->mode);
		rc = sqlite3_step(st);
		if ((rc & 0xff) == SQLITE_CONSTRAINT) {
			rp_seterr(err, "E_STORE_ARG",
			          "registry host %s appears twice in the "
			          "policy; the previous policy was kept",
			          r->host);
			goto out;
		}
		if (rc != SQLITE_DONE) {
			store_sqlite_err(err, db, rc, "writing", tmp);
			goto out;
		}
		sqlite3_reset(st);
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_write_companions(sqlite3 *db, const struct policy *p, const char *tmp,
                                  struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db, "INSERT INTO companions(rule, pos, host) VALUES(?1, ?2, ?3)",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_err(err, db, rc, "writing", tmp);
		goto out;
	}
	for (size_t i = 0; i < p->n_registries; i++)
		for (size_t c = 0; c < p->registries[i].n_companions; c++) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
			sqlite3_bind_int64(st, 2, (sqlite3_int64)c);
			sqlite3_bind_text(st, 3, p->registries[i].companions[c], -1, SQLITE_STATIC);
			if (store_step_done(db, st, tmp, err) < 0)
				goto out;
		}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_write_roots(sqlite3 *db, const struct store_meta *m, const char *tmp,
                             struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc =
	    sqlite3_prepare_v2(db, "INSERT INTO roots(version, raw) VALUES(?1, ?2)", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_err(err, db, rc, "writing", tmp);
		goto out;
	}
	for (size_t i = 0; i < m->n_roots; i++) {
		sqlite3_bind_int64(st, 1, m->roots[i].version);
		sqlite3_bind_blob64(st, 2, m->roots[i].len > 0 ? m->roots[i].raw : "",
		                    (sqlite3_uint64)m->roots[i].len, SQLITE_STATIC);
		if (store_step_done(db, st, tmp, err) < 0)
			goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_write_envelope(sqlite3 *db, const char *env, size_t len, const char *tmp,
                                struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db, "INSERT INTO envelope(raw) VALUES(?1)", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_err(err, db, rc, "writing", tmp);
		goto out;
	}
	rc = sqlite3_bind_blob64(st, 1, len > 0 ? env : "", (sqlite3_uint64)len, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		store_sqlite_err(err, db, rc, "writing", tmp);
		goto out;
	}
	if (store_step_done(db, st, tmp, err) < 0)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* Fills the (empty, private) temp file with the whole store in one transaction. */
static int store_write_db(const char *tmp, const struct policy *p, const struct store_meta *m,
                          const char *env, size_t env_len, struct rp_err *err)
{
	sqlite3 *db = NULL;
	char pragmas[160];
	int rc, ret = -1, format = store_format_for(p);

	rc = sqlite3_open_v2(
	    tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		store_sqlite_err(err, db, rc, "opening", tmp);
		goto out;
	}
	if (store_pragma_expect(db, "PRAGMA journal_mode=OFF", "off", tmp, err) < 0)
		goto out;
	/* cache_size: a 10,000-entry store is ~2.3 MB, more than the default 2 MB page
	 * cache, which made SQLite spill and rewrite pages inside the one transaction
	 * (store step 35 -> 24 ms, bench_refresh stages); the writer is a short-lived
	 * worker, and the cache only grows as far as the file does */
	snprintf(pragmas, sizeof(pragmas),
	         "PRAGMA synchronous=OFF; PRAGMA cache_size=-16384; PRAGMA application_id=%d; "
	         "PRAGMA user_version=%d;",
	         STORE_APPLICATION_ID, format);
	if (store_exec(db, pragmas, tmp, err) < 0 || store_exec(db, "BEGIN", tmp, err) < 0 ||
	    store_exec(db, format >= 3 ? store_schema_sql_v3 : store_schema_sql_v2, tmp, err) < 0 ||
	    store_write_meta(db, p, m, format, tmp, err) < 0 ||
	    store_write_registries(db, p, tmp, err) < 0 ||
	    (format >= 3 && store_write_companions(db, p, tmp, err) < 0) ||
	    store_write_envelope(db, env, env_len, tmp, err) < 0 ||
	    store_write_roots(db, m, tmp, err) < 0 || store_exec(db, "COMMIT", tmp, err) < 0)
		goto out;
	ret = 0;
out:
	rc = sqlite3_close(db);
	if (ret == 0 && rc != SQLITE_OK)
		ret = store_sqlite_err(err, NULL, rc, "closing", tmp);
	return ret;
}

static int store_fsync(int fd)
{
#ifdef F_FULLFSYNC
	if (fcntl(fd, F_FULLFSYNC) == 0)
		return 0;
#endif
	return fsync(fd);
}

static int store_sync_dir(const char *dir, struct rp_err *err)
{
	int fd, ret = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return rp_seterr(err, "E_STORE_IO",
		                 "opening directory %s to sync it failed: "
		                 "%s; the new policy is in place but may not "
		                 "survive a crash",
		                 dir, strerror(errno));
	if (store_fsync(fd) < 0 && errno != EINVAL)
		ret = rp_seterr(err, "E_STORE_IO",
		                "syncing directory %s failed: %s; the new "
		                "policy is in place but may not survive a "
		                "crash",
		                dir, strerror(errno));
	close(fd);
	return ret;
}

static int store_check_commit_args(const struct policy *p, const struct store_meta *m,
                                   const char *env, size_t env_len, struct rp_err *err)
{
	if (p == NULL || m == NULL || (env == NULL && env_len > 0))
		return rp_seterr(err, "E_STORE_ARG",
		                 "store_commit needs a policy, its meta and "
		                 "the envelope");
	if (env_len > (size_t)INT32_MAX)
		return rp_seterr(err, "E_STORE_ARG",
		                 "envelope of %zu bytes is too large to "
		                 "store",
		                 env_len);
	if (store_check_policy(p, err, "E_STORE_ARG") < 0 ||
	    store_check_meta(m, err, "E_STORE_ARG") < 0)
		return -1;
	return 0;
}

int store_commit(const char *db_path, const struct policy *p, const struct store_meta *m,
                 const char *envelope, size_t envelope_len, struct rp_err *err)
{
	char *dir = NULL, tmp[PATH_MAX];
	const char *base;
	int fd = -1, ret = -1;

	tmp[0] = '\0';
	if (store_split(db_path, &dir, &base, err) < 0 ||
	    store_check_commit_args(p, m, envelope, envelope_len, err) < 0)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s%sXXXXXX", db_path, STORE_TMP_INFIX);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		store_errno_err(err, errno, "creating temp file", tmp);
		tmp[0] = '\0';
		goto out;
	}
	if (store_write_db(tmp, p, m, envelope, envelope_len, err) < 0)
		goto out;
	if (store_fsync(fd) < 0) {
		store_errno_err(err, errno, "syncing", tmp);
		goto out;
	}
	if (fchmod(fd, 0644) < 0) {
		store_errno_err(err, errno, "setting mode 0644 on", tmp);
		goto out;
	}
	if (rename(tmp, db_path) < 0) {
		store_errno_err(err, errno, "renaming the new store over", db_path);
		goto out;
	}
	tmp[0] = '\0';
	ret = store_sync_dir(dir, err);
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	free(dir);
	return ret;
}

int store_clean_temps(const char *db_path, struct rp_err *err)
{
	char *dir = NULL, prefix[NAME_MAX + 8];
	const char *base;
	DIR *d = NULL;
	struct dirent *de;
	struct stat sb;
	size_t plen;
	int n = 0, ret = -1;

	if (store_split(db_path, &dir, &base, err) < 0)
		goto out;
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s%s", base, STORE_TMP_INFIX);
	if (plen >= sizeof(prefix)) {
		rp_seterr(err, "E_STORE_ARG", "policy store name %s is too long", base);
		goto out;
	}
	d = opendir(dir);
	if (d == NULL) {
		rp_seterr(err, "E_STORE_IO", "cannot list %s to remove leftover temp files: %s",
		          dir, strerror(errno));
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, plen) != 0 || de->d_name[plen] == '\0')
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			rp_seterr(err, "E_STORE_IO", "cannot remove leftover temp file %s/%s: %s",
			          dir, de->d_name, strerror(errno));
			goto out;
		}
		n++;
	}
	ret = n;
out:
	if (d != NULL)
		closedir(d);
	free(dir);
	return ret;
}

/* ---- load -------------------------------------------------------------- */

int store_stat(const char *db_path, struct store_stat *st, struct rp_err *err)
{
	struct stat sb;

	if (db_path == NULL || db_path[0] == '\0')
		return rp_seterr(err, "E_STORE_ARG", "no policy store path given");
	if (stat(db_path, &sb) < 0) {
		if (errno == ENOENT)
			return 1;
		return rp_seterr(err, "E_STORE_IO", "cannot stat policy store %s: %s", db_path,
		                 strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return rp_seterr(err, "E_STORE_CORRUPT", "policy store %s is not a regular file",
		                 db_path);
	if (st != NULL) {
		st->dev = (uint64_t)sb.st_dev;
		st->ino = (uint64_t)sb.st_ino;
		st->uid = sb.st_uid;
		st->gid = sb.st_gid;
		st->mode = sb.st_mode;
		st->size = (int64_t)sb.st_size;
		st->mtime = (int64_t)sb.st_mtime;
	}
	return 0;
}

/* "file:" URI for path with every byte outside [A-Za-z0-9/._~-] percent-encoded. */
static char *store_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char query[] = "?mode=ro&immutable=1";
	size_t n = strlen(path);
	char *uri, *o;

	uri = malloc(8 + 3 * n + sizeof(query));
	if (uri == NULL)
		return NULL;
	o = uri;
	memcpy(o, path[0] == '/' ? "file://" : "file:", path[0] == '/' ? 7 : 5);
	o += path[0] == '/' ? 7 : 5;
	for (const unsigned char *c = (const unsigned char *)path; *c != '\0'; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || *c == '/' || *c == '.' || *c == '_' || *c == '~' ||
		    *c == '-') {
			*o++ = (char)*c;
		} else {
			*o++ = '%';
			*o++ = hex[*c >> 4];
			*o++ = hex[*c & 15];
		}
	}
	memcpy(o, query, sizeof(query));
	return uri;
}

static int store_load_err(struct rp_err *err, sqlite3 *db, int rc, const char *path)
{
	int prim = rc & 0xff;

	if (prim == SQLITE_NOMEM)
		return rp_seterr(err, "E_STORE_NOMEM", "out of memory reading %s", path);
	if (prim == SQLITE_INTERRUPT)
		return rp_seterr(err, "E_STORE_CORRUPT",
		                 "reading %s took more than the reader's work limit; it is not a "
		                 "store rampartd wrote (refresh the policy as root to rebuild it)",
		                 path);
	if (prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT || prim == SQLITE_ERROR ||
	    prim == SQLITE_MISMATCH || prim == SQLITE_RANGE || prim == SQLITE_FORMAT)
		return rp_seterr(err, "E_STORE_CORRUPT",
		                 "%s is not a readable rampart policy store (%s); refresh the "
		                 "policy as root to rebuild it",
		                 path, db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return rp_seterr(err, "E_STORE_IO", "reading policy store %s failed: %s", path,
	                 db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static int store_corrupt(struct rp_err *err, const char *path, const char *what)
{
	return rp_seterr(err, "E_STORE_CORRUPT",
	                 "policy store %s is damaged or foreign: %s; refresh the policy as root "
	                 "to rebuild it",
	                 path, what);
}

/* Opens path read-only and immutable; 1 when it does not exist.  Fills *id. */
static int store_open_ro(const char *path, sqlite3 **db, struct store_stat *id, struct rp_err *err)
{
	struct store_stat after;
	char *uri = NULL;
	int rc, ret = -1;

	for (int tries = 0; tries < STORE_LOAD_RETRIES; tries++) {
		rc = store_stat(path, id, err);
		if (rc != 0)
			return rc;
		free(uri);
		uri = store_uri(path);
		if (uri == NULL) {
			rp_seterr(err, "E_STORE_NOMEM", "out of memory");
			goto out;
		}
		rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
		if (rc != SQLITE_OK) {
			store_load_err(err, *db, rc, path);
			sqlite3_close(*db);
			*db = NULL;
			if (store_stat(path, NULL, NULL) == 1)
				ret = 1;
			goto out;
		}
		/* The file was opened by sqlite3_open_v2: same inode before and after? */
		if (store_stat(path, &after, NULL) == 0 && after.dev == id->dev &&
		    after.ino == id->ino) {
			ret = 0;
			goto out;
		}
		sqlite3_close(*db);
		*db = NULL;
	}
	rp_seterr(err, "E_STORE_IO", "policy store %s kept changing while it was opened; retry",
	          path);
out:
	free(uri);
	return ret;
}

/*
 * A reader runs no SQL the file brings: the schema must be exactly ours, and
 * the connection refuses views, triggers and schema-defined functions anyway
 * (trusted_schema off, defensive on), with a VM-step budget per load.
 */
static int store_progress(void *arg)
{
	long long *left = arg;

	*left -= STORE_PROGRESS_EVERY;
	return *left < 0;
}

static void store_harden(sqlite3 *db, long long *budget)
{
	*budget = STORE_MAX_VM_STEPS;
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)NULL);
	sqlite3_progress_handler(db, STORE_PROGRESS_EVERY, store_progress, budget);
}

static int store_same_text(const unsigned char *got, const char *want)
{
	return want == NULL ? got == NULL : got != NULL && strcmp((const char *)got, want) == 0;
}

static int store_check_schema(sqlite3 *db, const char *path, int format, struct rp_err *err)
{
	const struct store_object *objs = format < 2   ? store_objects_v1
	                                  : format < 3 ? store_objects_v2
	                                               : store_objects_v3;
	const size_t n = format < 2   ? sizeof(store_objects_v1) / sizeof(store_objects_v1[0])
	                 : format < 3 ? sizeof(store_objects_v2) / sizeof(store_objects_v2[0])
	                              : sizeof(store_objects_v3) / sizeof(store_objects_v3[0]);
	sqlite3_stmt *st = NULL;
	size_t i = 0;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(
	    db, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY name", -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (i == n || !store_same_text(sqlite3_column_text(st, 0), objs[i].type) ||
		    !store_same_text(sqlite3_column_text(st, 1), objs[i].name) ||
		    !store_same_text(sqlite3_column_text(st, 2), objs[i].tbl) ||
		    !store_same_text(sqlite3_column_text(st, 3), objs[i].sql)) {
			store_corrupt(err, path,
			              "its schema is not the one rampartd writes (an extra "
			              "or changed table, index, view or trigger)");
			goto out;
		}
		i++;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		store_load_err(err, db, rc, path);
		goto out;
	}
	if (i != n) {
		store_corrupt(err, path, "a table is missing");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_check_app_id(sqlite3 *db, const char *path, int *format, struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;
	int64_t app = 0, uver = 0;

	rc = sqlite3_prepare_v2(db, "SELECT * FROM pragma_application_id, pragma_user_version", -1,
	                        &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		store_load_err(err, db, rc, path);
		goto out;
	}
	app = sqlite3_column_int64(st, 0);
	uver = sqlite3_column_int64(st, 1);
	if (app != STORE_APPLICATION_ID) {
		store_corrupt(err, path, "it is not a rampart policy store (application_id)");
		goto out;
	}
	if (uver > STORE_SCHEMA_VERSION) {
		rp_seterr(err, "E_STORE_SCHEMA",
		          "policy store %s has format %lld, this rampart reads format %d; "
		          "upgrade rampart",
		          path, (long long)uver, STORE_SCHEMA_VERSION);
		goto out;
	}
	if (uver < STORE_SCHEMA_OLDEST) {
		store_corrupt(err, path, "unknown store format (user_version)");
		goto out;
	}
	*format = (int)uver;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* Copies a TEXT column; refuses other types and embedded NULs. */
static int store_col_text(sqlite3_stmt *st, int col, size_t max, char **out)
{
	const unsigned char *t;
	int n;

	if (sqlite3_column_type(st, col) != SQLITE_TEXT)
		return -1;
	t = sqlite3_column_text(st, col);
	n = sqlite3_column_bytes(st, col);
	if (t == NULL || n < 0 || (size_t)n > max || strlen((const char *)t) != (size_t)n)
		return -1;
	*out = strndup((const char *)t, (size_t)n);
	return *out == NULL ? -2 : 0;
}

enum store_key {
	K_SCHEMA,
	K_ORG,
	K_VERSION,
	K_ISSUED,
	K_EXPIRES,
	K_HUB,
	K_FETCHED,
	K_SOURCE,
	K_ETAG,
	K_SIGNERS,
	K_SHA,
	K_POLICY_SCHEMA, /* format 2 on */
	K_N
};

static const char *const store_keys[K_N] = {
    "schema_version", "org",    "version", "issued_at", "expires_at",     "allow_docker_hub",
    "fetched_at",     "source", "etag",    "signers",   "payload_sha256", "policy_schema"};

/* One meta row into p/m; returns 0, -1 (bad value), -2 (no memory). */
static int store_meta_row(sqlite3_stmt *st, int k, int format, struct policy *p,
                          struct store_meta *m)
{
	char *sha = NULL;
	int64_t v;
	int rc;

	switch (k) {
	case K_ORG:
		return store_col_text(st, 1, POLICY_MAX_ORG, &p->org);
	case K_SOURCE:
		return store_col_text(st, 1, STORE_MAX_TEXT, &m->source);
	case K_ETAG:
		return store_col_text(st, 1, STORE_MAX_ETAG, &m->etag);
	case K_SIGNERS:
		return store_col_text(st, 1, STORE_MAX_TEXT, &m->signers);
	case K_SHA:
		rc = store_col_text(st, 1, 64, &sha);
		if (rc == 0)
			rp_strlcpy(m->payload_sha256, sha, sizeof(m->payload_sha256));
		free(sha);
		return rc;
	default:
		break;
	}
	if (sqlite3_column_type(st, 1) != SQLITE_INTEGER)
		return -1;
	v = sqlite3_column_int64(st, 1);
	switch (k) {
	case K_SCHEMA:
		return v == format ? 0 : -1;
	case K_POLICY_SCHEMA:
		if (format < 2 || v < POLICY_SCHEMA_MIN || v > POLICY_SCHEMA_MAX)
			return -1;
		p->schema_version = (int)v;
		break;
	case K_VERSION:
		p->version = v;
		break;
	case K_ISSUED:
		p->issued_at = v;
		break;
	case K_EXPIRES:
		p->expires_at = v;
		break;
	case K_HUB:
		if (v != 0 && v != 1)
			return -1;
		p->allow_docker_hub = v == 1;
		break;
	case K_FETCHED:
		m->fetched_at = v;
		break;
	default:
		return -1;
	}
	return 0;
}

static int store_read_meta(sqlite3 *db, const char *path, int format, struct policy *p,
                           struct store_meta *m, struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int seen[K_N] = {0};
	int rc, ret = -1, k;

	rc = sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		for (k = 0; key != NULL && k < K_N; k++)
			if (strcmp(key, store_keys[k]) == 0)
				break;
		if (key == NULL || k == K_N) {
			rc = SQLITE_OK; /* unknown keys from a compatible future writer */
			continue;
		}
		if (seen[k]++) {
			store_corrupt(err, path, "a meta key appears twice");
			goto out;
		}
		rc = store_meta_row(st, k, format, p, m);
		if (rc == -2) {
			rp_seterr(err, "E_STORE_NOMEM", "out of memory reading %s", path);
			goto out;
		}
		if (rc < 0) {
			char what[96];
			snprintf(what, sizeof(what), "meta %s has a bad value", store_keys[k]);
			store_corrupt(err, path, what);
			goto out;
		}
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		store_load_err(err, db, rc, path);
		goto out;
	}
	if (format < 2)
		p->schema_version = 1;
	for (k = 0; k < K_N; k++) {
		if (!seen[k] && !(k == K_POLICY_SCHEMA && format < 2)) {
			char what[96];
			snprintf(what, sizeof(what), "meta %s is missing", store_keys[k]);
			store_corrupt(err, path, what);
			goto out;
		}
	}
	if (store_check_policy(p, NULL, "E_STORE_CORRUPT") < 0 ||
	    store_check_meta(m, NULL, "E_STORE_CORRUPT") < 0) {
		store_corrupt(err, path, "a meta value is out of range");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_count_registries(sqlite3 *db, const char *path, size_t *n, struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;
	int64_t c;

	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM registries", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		store_load_err(err, db, rc, path);
		goto out;
	}
	c = sqlite3_column_int64(st, 0);
	if (c < 0 || c > POLICY_MAX_REGISTRIES) {
		store_corrupt(err, path, "too many registries");
		goto out;
	}
	*n = (size_t)c;
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_registry_row(sqlite3_stmt *st, struct policy_registry *r)
{
	int rc;
	int64_t kind, action, mode;

	rc = store_col_text(st, 0, POLICY_MAX_RULE, &r->host);
	if (rc == 0)
		rc = store_col_text(st, 1, POLICY_MAX_NICKNAME, &r->nickname);
	if (rc != 0)
		return rc;
	if (sqlite3_column_type(st, 2) != SQLITE_INTEGER)
		return -1;
	kind = sqlite3_column_int64(st, 2);
	if (kind < POLICY_EXACT || kind > POLICY_PREFIX)
		return -1;
	r->kind = (enum policy_kind)kind;
	if (sqlite3_column_type(st, 3) != SQLITE_INTEGER ||
	    sqlite3_column_type(st, 4) != SQLITE_INTEGER)
		return -1;
	action = sqlite3_column_int64(st, 3);
	mode = sqlite3_column_int64(st, 4);
	if ((action != POLICY_ALLOW && action != POLICY_DENY) ||
	    (mode != POLICY_ENFORCE && mode != POLICY_WARN))
		return -1;
	r->action = (enum policy_action)action;
	r->mode = (enum policy_mode)mode;
	return 0;
}

/* Reads the registries in the order they were signed (rowid order). */
static int store_read_registries(sqlite3 *db, const char *path, int format, struct policy *p,
                                 size_t n, struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	p->registries = calloc(n > 0 ? n : 1, sizeof(*p->registries));
	if (p->registries == NULL) {
		rp_seterr(err, "E_STORE_NOMEM", "out of memory reading %s", path);
		goto out;
	}
	rc = sqlite3_prepare_v2(db, format < 2 ? store_select_rules_v1 : store_select_rules_v2, -1,
	                        &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (p->n_registries == n) {
			store_corrupt(err, path, "registry count changed while reading");
			goto out;
		}
		/* count first so policy_free() releases a half-filled row */
		rc = store_registry_row(st, &p->registries[p->n_registries++]);
		if (rc == -2) {
			rp_seterr(err, "E_STORE_NOMEM", "out of memory reading %s", path);
			goto out;
		}
		if (rc < 0) {
			char what[96];
			snprintf(what, sizeof(what), "registry row %zu has a bad value",
			         p->n_registries - 1);
			store_corrupt(err, path, what);
			goto out;
		}
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		store_load_err(err, db, rc, path);
		goto out;
	}
	if (p->n_registries != n || store_check_policy(p, NULL, "E_STORE_CORRUPT") < 0) {
		store_corrupt(err, path, "a registry row is out of range");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* One companions row: it must continue its rule's list (rows come by rule, pos). */
static int store_companion_row(sqlite3_stmt *st, struct policy *p)
{
	struct policy_registry *r;
	int64_t rule, pos;
	char **grown, *host = NULL;
	int rc;

	if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
	    sqlite3_column_type(st, 1) != SQLITE_INTEGER)
		return -1;
	rule = sqlite3_column_int64(st, 0);
	pos = sqlite3_column_int64(st, 1);
	if (rule < 0 || (uint64_t)rule >= p->n_registries)
		return -1;
	r = &p->registries[rule];
	if (pos != (int64_t)r->n_companions || r->n_companions >= POLICY_MAX_COMPANIONS)
		return -1;
	if ((rc = store_col_text(st, 2, POLICY_MAX_COMPANION, &host)) != 0)
		return rc;
	grown = realloc(r->companions, (r->n_companions + 1) * sizeof(*r->companions));
	if (grown == NULL) {
		free(host);
		return -2;
	}
	r->companions = grown;
	r->companions[r->n_companions++] = host;
	return 0;
}

/* The companion hosts (format 3), into the rules already read. */
static int store_read_companions(sqlite3 *db, const char *path, struct policy *p,
                                 struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db, "SELECT rule, pos, host FROM companions ORDER BY rule, pos", -1,
	                        &st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = store_companion_row(st, p);
		if (rc == -2) {
			rp_seterr(err, "E_STORE_NOMEM", "out of memory reading %s", path);
			goto out;
		}
		if (rc < 0) {
			store_corrupt(err, path, "a companions row has a bad value");
			goto out;
		}
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		store_load_err(err, db, rc, path);
		goto out;
	}
	if (store_check_policy(p, NULL, "E_STORE_CORRUPT") < 0) {
		store_corrupt(err, path, "a companion host is out of range");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

static int store_read_envelope(sqlite3 *db, const char *path, char **env, size_t *len,
                               struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1, n;
	const void *b;

	rc = sqlite3_prepare_v2(db, "SELECT raw FROM envelope", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			store_corrupt(err, path, "the envelope is missing");
		else
			store_load_err(err, db, rc, path);
		goto out;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_BLOB) {
		store_corrupt(err, path, "the envelope is not a blob");
		goto out;
	}
	b = sqlite3_column_blob(st, 0);
	n = sqlite3_column_bytes(st, 0);
	*env = malloc((size_t)n + 1);
	if (*env == NULL) {
		rp_seterr(err, "E_STORE_NOMEM", "out of memory reading %s", path);
		goto out;
	}
	if (n > 0)
		memcpy(*env, b, (size_t)n);
	(*env)[n] = '\0';
	*len = (size_t)n;
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_corrupt(err, path, "more than one envelope");
		free(*env);
		*env = NULL;
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(st);
	return ret;
}

/* The root chain (format 2 on), oldest first; refuses gaps, size and count excess. */
static int store_read_roots(sqlite3 *db, const char *path, struct store_meta *m, struct rp_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc, ret = -1;

	rc = sqlite3_prepare_v2(db, "SELECT version, raw FROM roots ORDER BY version", -1, &st,
	                        NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_root *r, *grown;
		int n = sqlite3_column_bytes(st, 1);
		if (m->n_roots >= STORE_MAX_ROOTS || sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
		    sqlite3_column_type(st, 1) != SQLITE_BLOB || n < 0 ||
		    (size_t)n > STORE_MAX_ROOT_BYTES) {
			store_corrupt(err, path, "a root row has a bad value");
			goto out;
		}
		grown = realloc(m->roots, (m->n_roots + 1) * sizeof(*m->roots));
		if (grown == NULL)
			goto nomem;
		m->roots = grown;
		r = &m->roots[m->n_roots];
		r->version = sqlite3_column_int64(st, 0);
		r->len = (size_t)n;
		if ((r->raw = malloc((size_t)n + 1)) == NULL)
			goto nomem;
		m->n_roots++;
		if (n > 0)
			memcpy(r->raw, sqlite3_column_blob(st, 1), (size_t)n);
		r->raw[n] = '\0';
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		store_load_err(err, db, rc, path);
		goto out;
	}
	if (store_check_meta(m, NULL, "E_STORE_CORRUPT") < 0) {
		store_corrupt(err, path, "the root chain is out of range or out of order");
		goto out;
	}
	ret = 0;
	goto out;
nomem:
	rp_seterr(err, "E_STORE_NOMEM", "out of memory reading %s", path);
out:
	sqlite3_finalize(st);
	return ret;
}

/* Reads everything asked for into locals; the caller's outputs are set only on success. */
static int store_load_all(const char *db_path, int want_regs, struct policy *p,
                          struct store_meta *m, char **env, size_t *env_len, struct rp_err *err)
{
	sqlite3 *db = NULL;
	long long budget;
	int rc, ret = -1, format = 0;

	rc = store_open_ro(db_path, &db, &m->file, err);
	if (rc != 0) {
		ret = rc;
		goto out;
	}
	store_harden(db, &budget);
	if (store_check_app_id(db, db_path, &format, err) < 0 ||
	    store_check_schema(db, db_path, format, err) < 0 ||
	    store_read_meta(db, db_path, format, p, m, err) < 0 ||
	    store_count_registries(db, db_path, &m->n_registries, err) < 0)
		goto out;
	if (want_regs && store_read_registries(db, db_path, format, p, m->n_registries, err) < 0)
		goto out;
	if (want_regs && format >= 3 && store_read_companions(db, db_path, p, err) < 0)
		goto out;
	if (format >= 2 && store_read_roots(db, db_path, m, err) < 0) /* small: always */
		goto out;
	if (env != NULL && store_read_envelope(db, db_path, env, env_len, err) < 0)
		goto out;
	ret = 0;
out:
	sqlite3_close(db);
	return ret;
}

int store_load(const char *db_path, struct policy *p, struct store_meta *m, char **envelope,
               size_t *envelope_len, struct rp_err *err)
{
	struct policy lp = {0};
	struct store_meta lm = {0};
	char *env = NULL;
	size_t env_len = 0;
	int ret;

	ret = store_load_all(db_path, p != NULL, &lp, &lm, envelope != NULL ? &env : NULL, &env_len,
	                     err);
	if (ret != 0)
		goto out;
	if (p != NULL) {
		*p = lp;
		memset(&lp, 0, sizeof(lp));
	}
	if (m != NULL) {
		*m = lm;
		memset(&lm, 0, sizeof(lm));
	}
	if (envelope != NULL) {
		*envelope = env;
		env = NULL;
	}
	if (envelope_len != NULL)
		*envelope_len = env_len;
out:
	policy_free(&lp);
	store_meta_free(&lm);
	free(env);
	return ret;
}

int store_load_meta(const char *db_path, struct policy *p, struct store_meta *m, struct rp_err *err)
{
	struct policy lp = {0};
	struct store_meta lm = {0};
	int ret;

	ret = store_load_all(db_path, 0, &lp, &lm, NULL, NULL, err);
	if (ret != 0)
		goto out;
	if (p != NULL) {
		*p = lp;
		memset(&lp, 0, sizeof(lp));
	}
	if (m != NULL) {
		*m = lm;
		memset(&lm, 0, sizeof(lm));
	}
out:
	policy_free(&lp);
	store_meta_free(&lm);
	return ret;
}
