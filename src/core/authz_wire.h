/* SPDX-License-Identifier: ISC */
/*
 * The counters file rampart-authz (unprivileged) writes and rampartd (root)
 * reads for `rampart status`.  A fixed binary record: magic, exact size,
 * every field range-checked by the reader, no parser.  rampartd trusts
 * nothing in it beyond "these are the numbers the plugin reported"; it never
 * decides anything from them.
 */
#ifndef RAMPART_AUTHZ_WIRE_H
#define RAMPART_AUTHZ_WIRE_H

#include <stdint.h>

#include "err.h"

#define AUTHZ_WIRE_MAGIC 0x72615a31u /* "raZ1" */
#define AUTHZ_WIRE_KINDS 5           /* other, pull, create, plugin, load */

struct authz_wire {
	uint32_t magic;
	uint32_t size; /* sizeof(struct authz_wire) */
	int64_t pid;
	int64_t started_at; /* unix seconds */
	int64_t updated_at;
	int64_t policy_version; /* -1: no policy cached */
	uint32_t mode;          /* 0 off, 1 warn, 2 enforce */
	uint32_t block_load;    /* 0 or 1 */
	uint64_t allowed[AUTHZ_WIRE_KINDS];
	uint64_t denied[AUTHZ_WIRE_KINDS];
	uint64_t warned[AUTHZ_WIRE_KINDS];
	uint64_t errors;
	uint64_t audit_suppressed;
	char socket[108]; /* NUL-terminated */
};

/* Writes w to path atomically (temp file beside it, then rename).  0 or -1 (errno). */
int authz_wire_write(const char *path, const struct authz_wire *w);

/*
 * Reads and checks the record at path (no symlink, regular file, exact size,
 * magic, mode range, NUL in socket).  0, or -1 with E_AUTHZ_STATS in err.
 */
int authz_wire_read(const char *path, struct authz_wire *w, struct rp_err *err);

#endif
