/* SPDX-License-Identifier: ISC */
/*
 * The module table: beside the op table (ops.c), the single place a daemon
 * module is added.  One X(name) line per module; the module's own file
 * defines name_module (a struct module_def, module.h).  Order matters: the
 * policy module comes first, so its reader is open before any other
 * module's init or commit hook runs.  Trusts the rows: they are our code.
 */
#include <stddef.h>

#include "daemon.h"
#include "module.h"

#define MODULE_LIST(X)                                                                             \
	X(policy)                                                                                  \
	X(files)                                                                                   \
	X(enforce)                                                                                 \
	X(stale)                                                                                   \
	X(audit)

#define X(name) extern const struct module_def name##_module;
MODULE_LIST(X)
#undef X

#define X(name) &name##_module,
static const struct module_def *const module_table[] = {MODULE_LIST(X)};
#undef X

#define MODULE_N (sizeof(module_table) / sizeof(module_table[0]))

void modules_init(struct daemon *d)
{
	for (size_t i = 0; i < MODULE_N; i++)
		if (module_table[i]->init != NULL)
			module_table[i]->init(d);
}

void modules_reload(struct daemon *d)
{
	for (size_t i = 0; i < MODULE_N; i++)
		if (module_table[i]->reload != NULL)
			module_table[i]->reload(d);
}

void modules_status(struct daemon *d, json_t *status)
{
	for (size_t i = 0; i < MODULE_N; i++)
		if (module_table[i]->status != NULL)
			module_table[i]->status(d, status);
}

void modules_commit(struct daemon *d, enum daemon_commit_why why)
{
	static const char *const names[] = {"start", "refresh", "import", "reload"};
	struct daemon_commit c = {why, names[why], d->cfg.db_path, d->reader};

	for (size_t i = 0; i < MODULE_N; i++)
		if (module_table[i]->commit != NULL)
			module_table[i]->commit(d, &c);
}

void modules_tick(struct daemon *d, long long now_ms, long long *next_ms)
{
	for (size_t i = 0; i < MODULE_N; i++)
		if (module_table[i]->tick != NULL)
			module_table[i]->tick(d, now_ms, next_ms);
}

void modules_fini(struct daemon *d)
{
	for (size_t i = MODULE_N; i-- > 0;)
		if (module_table[i]->fini != NULL)
			module_table[i]->fini(d);
}
