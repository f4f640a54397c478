/* SPDX-License-Identifier: ISC */
/*
 * Policy store: one SQLite file that is never modified in place.  A new
 * policy is written to a temp file in the same directory and renamed over the
 * live one (see DESIGN.md "Store").  Readers open it mode=ro&immutable=1.
 */
#ifndef RAMPART_STORE_H
#define RAMPART_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "policy_model.h"

struct store_meta {
	int64_t fetched_at;      /* unix seconds */
	char *source;            /* URL the envelope came from ("" if local) */
	char *etag;              /* HTTP ETag of that response, may be "" */
	char *signers;           /* comma-separated keyids that verified */
	char payload_sha256[65]; /* lowercase hex of the verified payload bytes */
};

void store_meta_free(struct store_meta *m);

/*
 * Writes p + meta + the raw envelope to a fresh temp file next to db_path,
 * fsyncs, chmods 0644, renames over db_path and fsyncs the directory.
 * Returns 0 or -1 (err filled, live file untouched, temp removed).
 */
int store_commit(const char *db_path, const struct policy *p, const struct store_meta *m,
		 const char *envelope, size_t envelope_len, struct rp_err *err);

/* Removes leftover "<db>.tmp.*" files in db's directory; returns count removed or -1. */
int store_clean_temps(const char *db_path, struct rp_err *err);

/*
 * Reads the whole store (file:PATH?mode=ro&immutable=1).  Any out pointer may
 * be NULL.  Returns 0 ok, 1 no store file (nothing filled), -1 error.
 * *envelope is malloc'd (caller frees).
 */
int store_load(const char *db_path, struct policy *p, struct store_meta *m, char **envelope,
	       size_t *envelope_len, struct rp_err *err);

#endif
