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
#include <sys/types.h>

#include "err.h"
#include "policy_model.h"

/* Store format written by this code (meta "schema_version"; PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 3 /* newest format read (1 to 3); writes 2 or 3, see store.c */
/* PRAGMA application_id of a rampart store ("rmpt"). */
#define STORE_APPLICATION_ID 0x726d7074
#define STORE_MAX_ETAG 255

/* Identity and ownership of the file at db_path (see store_stat()). */
struct store_stat {
	uint64_t dev;
	uint64_t ino; /* a changed (dev, ino) means a new policy was committed */
	uid_t uid;
	gid_t gid;
	mode_t mode; /* full st_mode */
	int64_t size;
	int64_t mtime; /* unix seconds */
};

/* One verified root document (DSSE envelope), kept so the chain can be re-proved offline. */
struct store_root {
	int64_t version;
	char *raw;
	size_t len;
};

#define STORE_MAX_ROOTS 1024       /* roots kept in one store */
#define STORE_MAX_ROOT_BYTES 65536 /* bytes of one root envelope */

struct store_meta {
	int64_t fetched_at;       /* unix seconds */
	char *source;             /* URL the envelope came from ("" if local) */
	char *etag;               /* HTTP ETag of that response, may be "" */
	char *signers;            /* comma-separated keyids that verified */
	char payload_sha256[65];  /* lowercase hex of the verified payload bytes */
	struct store_root *roots; /* root chain, oldest first; NULL/0 without a root */
	size_t n_roots;
	/* Filled by store_load()/store_load_meta(), ignored by store_commit(): */
	size_t n_registries;    /* rows in the registries table */
	struct store_stat file; /* the file that was actually read */
};

void store_meta_free(struct store_meta *m);

/*
 * Stable error codes: E_STORE_ARG (bad argument or policy fails the model's
 * limits), E_STORE_IO (open/write/fsync/rename failed), E_STORE_DISK_FULL,
 * E_STORE_CORRUPT (not a rampart store, damaged, or insane values),
 * E_STORE_SCHEMA (written by a newer rampart), E_STORE_NOMEM.
 */

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

/*
 * Cheap variant of store_load(): reads only the meta table and the root
 * chain.  p gets org, version, issued_at, expires_at, allow_docker_hub and
 * schema_version (p->registries stays NULL, p->n_registries 0);
 * m->n_registries gets the row count.  Same returns.
 */
int store_load_meta(const char *db_path, struct policy *p, struct store_meta *m,
                    struct rp_err *err);

/*
 * stat() of db_path for readers that reopen when the inode changes and for
 * `policy verify` (owner/mode).  Returns 0, 1 when there is no file, -1 error.
 */
int store_stat(const char *db_path, struct store_stat *st, struct rp_err *err);

#endif
