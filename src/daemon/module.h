/* SPDX-License-Identifier: ISC */
/*
 * The module table (modules.c): one row per daemon module with its hooks.
 * The loop, main(), status and daemon_reload() reach modules only through it.
 *
 * Adding a module is one line: define
 *     const struct module_def foo_module = {.name = "foo", .commit = foo_commit};
 * in your src/daemon/foo.c (hooks you do not need stay NULL) and add
 *     X(foo)
 * to MODULE_LIST in modules.c.  Rows run in table order (fini in reverse).
 */
#ifndef RAMPART_MODULE_H
#define RAMPART_MODULE_H

#include <jansson.h>

struct daemon;
struct rampart_policy;

enum daemon_commit_why {
	DAEMON_COMMIT_START,   /* the daemon started: the store as found */
	DAEMON_COMMIT_REFRESH, /* a refresh stored a new policy */
	DAEMON_COMMIT_IMPORT,  /* the store file was replaced by someone else
	                          (rampart policy import); seen within about 1 s */
	DAEMON_COMMIT_RELOAD,  /* daemon.reload or SIGHUP put a new config in force */
};

/* What a commit hook is told.  Everything is borrowed for the call only. */
struct daemon_commit {
	enum daemon_commit_why why;
	const char *why_name;          /* "start", "refresh", "import", "reload" */
	const char *db_path;           /* the store now in force (d->cfg.db_path) */
	struct rampart_policy *policy; /* the daemon's reader, already moved to that
	                                  store; NULL when the store cannot be read */
};

struct module_def {
	const char *name;
	/* after the socket is open, before the first request; may fatal() */
	void (*init)(struct daemon *d);
	/* after daemon_reload() put a new d->cfg in force */
	void (*reload)(struct daemon *d);
	/* adds the module's own member to the status reply */
	void (*status)(struct daemon *d, json_t *status);
	/* after each policy commit (see enum daemon_commit_why); must not block */
	void (*commit)(struct daemon *d, const struct daemon_commit *c);
	/* timers: act when due, lower *next_ms to the next deadline */
	void (*tick)(struct daemon *d, long long now_ms, long long *next_ms);
	/* at exit, after the loop; frees what init made */
	void (*fini)(struct daemon *d);
};

void modules_init(struct daemon *d);
void modules_reload(struct daemon *d);
void modules_status(struct daemon *d, json_t *status);
void modules_commit(struct daemon *d, enum daemon_commit_why why);
void modules_tick(struct daemon *d, long long now_ms, long long *next_ms);
void modules_fini(struct daemon *d);

#endif
