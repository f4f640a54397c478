/* SPDX-License-Identifier: ISC */
/*
 * /etc/hosts editing: make sure localhost and a few configured names resolve
 * to loopback, keeping every byte of the user's own lines.  Our lines live in
 * one "# BEGIN rampart" / "# END rampart" block.  See docs/ops.md.
 */
#ifndef RAMPART_HOSTS_H
#define RAMPART_HOSTS_H

#include <stddef.h>

#include "err.h"

#define HOSTS_MAX_INPUT (1024 * 1024) /* bigger files are refused */
#define HOSTS_MAX_NAMES 32            /* extra names in one hosts_want */
#define HOSTS_MAX_ITEMS (HOSTS_MAX_NAMES + 2)
#define HOSTS_MAX_KEPT 64 /* names re-added from lines HOSTS_FIX_LOCALHOST disabled */

#define HOSTS_BEGIN "# BEGIN rampart"
#define HOSTS_END "# END rampart"
#define HOSTS_DISABLED "# rampart-disabled: " /* prefix of a user line we commented out */

/* hosts_edit flags */
#define HOSTS_FIX_LOCALHOST 0x1u /* comment out user lines mapping localhost elsewhere */

struct hosts_name {
	const char *name; /* a hostname: <= 253 bytes, labels of [A-Za-z0-9-] <= 63 */
	const char *addr; /* IPv4 or IPv6 literal (inet_pton) */
};

/* What to ensure besides localhost -> 127.0.0.1 and ::1 (always ensured). */
struct hosts_want {
	const struct hosts_name *names;
	size_t n_names; /* <= HOSTS_MAX_NAMES */
};

enum hosts_item_state {
	HOSTS_ITEM_PRESENT,  /* a line of the user's already maps it: not added */
	HOSTS_ITEM_ADDED,    /* in our block */
	HOSTS_ITEM_CONFLICT, /* the user maps the name to another address of the same
	                        family: not added, user's line left alone (report it) */
	HOSTS_ITEM_FIXED,    /* localhost conflict fixed (HOSTS_FIX_LOCALHOST): the user's
	                        line(s) commented out, ours in the block */
};

struct hosts_item {
	char name[254];
	char addr[46]; /* canonical form (inet_ntop) */
	enum hosts_item_state state;
	unsigned line; /* 1-based input line of the user's mapping or first conflict; 0 = none */
};

struct hosts_report {
	int changed;            /* output differs from the input (file rewritten) */
	int localhost_conflict; /* a user line maps localhost to an address other than ours */
	int had_block;          /* the input had our block */
	int has_block;          /* the output has our block */
	size_t n_disabled;      /* user lines commented out by this call */
	size_t n_restored;      /* commented-out lines restored (hosts_remove) */
	size_t n_items;
	struct hosts_item items[HOSTS_MAX_ITEMS];
};

/*
 * Pure in-memory edit of a hosts file.  On success *out is a malloc'd copy
 * (caller frees; not NUL-terminated) and rep says what happened.  On error
 * (-1) *out is NULL and err has E_HOSTS_TOO_BIG, E_HOSTS_INPUT (NUL byte),
 * E_HOSTS_MARKERS (missing, duplicate or out-of-order markers), E_HOSTS_NAME,
 * E_HOSTS_ADDR or E_HOSTS_NOMEM.
 */
int hosts_edit(const char *in, size_t len, const struct hosts_want *want, unsigned flags,
               char **out, size_t *outlen, struct hosts_report *rep, struct rp_err *err);

/* Removes our block and restores the lines HOSTS_FIX_LOCALHOST commented out. */
int hosts_remove(const char *in, size_t len, char **out, size_t *outlen, struct hosts_report *rep,
                 struct rp_err *err);

/*
 * Reads the absolute `path` (a regular file, not a link; its directory
 * opened with safefs, links only where root placed them), edits it, and if
 * the result differs writes a temp file in the same directory with the
 * original's owner and mode, fsyncs it, renames it over path and fsyncs the
 * directory.  Byte-identical result: nothing written, rep->changed = 0.
 * Extra errors: E_FS_* from safefs, E_HOSTS_OPEN, E_HOSTS_RACE (the file
 * changed while we edited it; nothing written).
 */
int hosts_apply_file(const char *path, const struct hosts_want *want, unsigned flags,
                     struct hosts_report *rep, struct rp_err *err);
int hosts_remove_file(const char *path, struct hosts_report *rep, struct rp_err *err);

/* 1 if name is a valid hostname as above (no trailing dot, no '_'). */
int hosts_name_ok(const char *name);

#endif
