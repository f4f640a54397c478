/* SPDX-License-Identifier: ISC */
/*
 * Benchmark for in-process policy lookups (issue 5): bare SQLite point
 * lookups on the policy store (the baseline) against rampart_policy_check()
 * on the same hosts, with the default one stat() per check and with
 * RAMPART_POLICY_COARSE_RELOAD (at most one stat() per millisecond).  Prints one JSON line.  Reads
 * only the DB it is given (or, with --create, writes a synthetic one at a path the caller chose).
 *
 *   bench_lookup DB [SECONDS]        measure (default 3 s per contender)
 *   bench_lookup --create DB [N]     write a synthetic N-entry policy (default 10000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include <rampart/policy.h>

#include "store.h"

#define BL_CHUNK 256 /* operations between clock reads */
#define BL_ROUNDS 20 /* time slices per contender */

struct bl_hosts {
	char **host; /* as stored */
	char **ref;  /* an image reference on that registry */
	size_t n;
};

static double bl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "*.x" -> "a.x/team/app:1.0"; "h" or "h:p" -> "h[:p]/team/app:1.0". */
static char *bl_ref_for(const char *host)
{
	size_t n = strlen(host) + 32;
	char *r = malloc(n);

	if (r == NULL)
		return NULL;
	if (strncmp(host, "*.", 2) == 0)
		snprintf(r, n, "a.%s/team/app:1.0", host + 2);
	else
		snprintf(r, n, "%s/team/app:1.0", host);
	return r;
}

static sqlite3 *bl_open(const char *db_path)
{
	char *uri = sqlite3_mprintf("file:%s?mode=ro&immutable=1", db_path);
	sqlite3 *db = NULL;

	if (uri == NULL ||
	    sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		fprintf(stderr, "bench_lookup: cannot open %s: %s\n", db_path,
		        db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		db = NULL;
	}
	sqlite3_free(uri);
	return db;
}

static int bl_load_hosts(sqlite3 *db, struct bl_hosts *h)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc = -1;

	if (sqlite3_prepare_v2(db, "SELECT host FROM registries", -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *host = (const char *)sqlite3_column_text(st, 0);
		if (h->n == cap) {
			cap = cap != 0 ? cap * 2 : 1024;
			h->host = realloc(h->host, cap * sizeof(*h->host));
			h->ref = realloc(h->ref, cap * sizeof(*h->ref));
			if (h->host == NULL || h->ref == NULL)
				goto out;
		}
		h->host[h->n] = strdup(host != NULL ? host : "");
		h->ref[h->n] = bl_ref_for(host != NULL ? host : "");
		if (h->host[h->n] == NULL || h->ref[h->n] == NULL)
			goto out;
		h->n++;
	}
	rc = h->n > 0 ? 0 : -1;
out:
	if (rc != 0)
		fprintf(stderr, "bench_lookup: cannot read registries: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

/* Totals for one contender over all its time slices. */
struct bl_meter {
	long ops, hits;
	double secs;
	size_t i; /* next host */
};

/* (a) baseline: prepared point lookups, one row read per host. */
static void bl_sqlite_slice(sqlite3_stmt *st, const struct bl_hosts *h, double secs,
                            struct bl_meter *m)
{
	double t0 = bl_now(), t;

	do {
		for (int k = 0; k < BL_CHUNK; k++, m->ops++) {
			sqlite3_bind_text(st, 1, h->host[m->i], -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 1) >= 0)
				m->hits++;
			sqlite3_reset(st);
			m->i = m->i + 1 < h->n ? m->i + 1 : 0;
		}
		t = bl_now();
	} while (t - t0 < secs);
	m->secs += t - t0;
}

/* (b) rampart_policy_check on a reference for each host. */
static void bl_check_slice(struct rampart_policy *p, const struct bl_hosts *h, double secs,
                           struct bl_meter *m)
{
	struct rampart_decision d;
	double t0 = bl_now(), t;

	do {
		for (int k = 0; k < BL_CHUNK; k++, m->ops++) {
			if (rampart_policy_check(p, h->ref[m->i], &d) == 0 && d.allowed)
				m->hits++;
			m->i = m->i + 1 < h->n ? m->i + 1 : 0;
		}
		t = bl_now();
	} while (t - t0 < secs);
	m->secs += t - t0;
}

/*
 * The contenders take turns in short slices so that a noisy, shared machine
 * slows them alike; the ratios are what we track.
 */
static int bl_run(sqlite3 *db, struct rampart_policy *p, struct rampart_policy *pc,
                  const struct bl_hosts *h, double secs, struct bl_meter m[3])
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, "SELECT nickname, kind FROM registries WHERE host=?", -1, &st,
	                       NULL) != SQLITE_OK)
		return -1;
	memset(m, 0, 3 * sizeof(*m));
	for (int r = 0; r < BL_ROUNDS; r++) {
		bl_sqlite_slice(st, h, secs / BL_ROUNDS, &m[0]);
		bl_check_slice(p, h, secs / BL_ROUNDS, &m[1]);
		bl_check_slice(pc, h, secs / BL_ROUNDS, &m[2]);
	}
	sqlite3_finalize(st);
	return 0;
}

/* --create: a synthetic policy of n entries (80% exact, 10% host:port, 10% wildcard). */
static int bl_create(const char *db_path, size_t n)
{
	struct policy p;
	struct store_meta m;
	struct rp_err e;
	char buf[64];
	int rc;

	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	p.registries = calloc(n, sizeof(*p.registries));
	if (p.registries == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		struct policy_registry *r = &p.registries[i];
		if (i % 10 == 8) {
			snprintf(buf, sizeof(buf), "reg-%05zu.example.com:%zu", i,
			         1024 + i % 60000);
			r->kind = POLICY_PORT;
		} else if (i % 10 == 9) {
			snprintf(buf, sizeof(buf), "*.zone-%05zu.example.net", i);
			r->kind = POLICY_WILDCARD;
		} else {
			snprintf(buf, sizeof(buf), "reg-%05zu.example.com", i);
			r->kind = POLICY_EXACT;
		}
		r->host = strdup(buf);
		r->nickname = strdup("bench");
		p.n_registries++;
		if (r->host == NULL || r->nickname == NULL)
			return 1;
	}
	p.org = strdup("bench");
	p.version = 1;
	p.issued_at = (int64_t)time(NULL);
	p.expires_at = p.issued_at + 86400;
	m.source = (char *)"";
	m.etag = (char *)"";
	m.signers = (char *)"";
	memset(m.payload_sha256, '0', 64);
	rc = store_commit(db_path, &p, &m, "{}", 2, &e);
	if (rc != 0)
		fprintf(stderr, "bench_lookup: %s: %s\n", e.code, e.msg);
	policy_free(&p);
	return rc != 0;
}

static int bl_measure(const char *db_path, double secs)
{
	struct bl_hosts h = {NULL, NULL, 0};
	struct rampart_policy *p = NULL, *pc = NULL;
	sqlite3 *db = bl_open(db_path);
	struct bl_meter m[3];
	char err[512];
	double rate[3];
	int rc = 1;

	if (db == NULL || bl_load_hosts(db, &h) != 0)
		goto out;
	/* p: the default handle (reload check at most once per ms); pc: strict, a
	 * stat() on every check.  Reported as "check" and "check_strict". */
	if (rampart_policy_open(db_path, 0, &p, err, sizeof(err)) != 0 ||
	    rampart_policy_open(db_path, RAMPART_POLICY_STRICT_RELOAD, &pc, err, sizeof(err)) !=
	        0) {
		fprintf(stderr, "bench_lookup: %s\n", err);
		goto out;
	}
	if (bl_run(db, p, pc, &h, secs, m) != 0)
		goto out;
	for (int k = 0; k < 3; k++)
		rate[k] = (double)m[k].ops / m[k].secs;
	printf("{\"bench\":\"lookup\",\"entries\":%zu,\"seconds\":%.1f,"
	       "\"sqlite_ops_per_s\":%.0f,\"check_ops_per_s\":%.0f,\"ratio\":%.2f,"
	       "\"check_strict_ops_per_s\":%.0f,\"ratio_strict\":%.2f,"
	       "\"sqlite_found\":%.3f,\"check_allowed\":%.3f,\"check_strict_allowed\":%.3f}\n",
	       h.n, secs, rate[0], rate[1], rate[1] / rate[0], rate[2], rate[2] / rate[0],
	       (double)m[0].hits / (double)m[0].ops, (double)m[1].hits / (double)m[1].ops,
	       (double)m[2].hits / (double)m[2].ops);
	rc = 0;
out:
	rampart_policy_close(p);
	rampart_policy_close(pc);
	sqlite3_close(db);
	for (size_t i = 0; i < h.n; i++) {
		free(h.host[i]);
		free(h.ref[i]);
	}
	free(h.host);
	free(h.ref);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--create") == 0)
		return bl_create(argv[2], argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 10000);
	if (argc < 2 || argc > 3 || argv[1][0] == '-') {
		fprintf(stderr, "usage: bench_lookup DB [SECONDS]\n"
		                "       bench_lookup --create DB [ENTRIES]\n");
		return 2;
	}
	return bl_measure(argv[1], argc == 3 ? atof(argv[2]) : 3.0);
}
