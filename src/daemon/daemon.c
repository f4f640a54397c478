/* SPDX-License-Identifier: ISC */
/*
 * The daemon's configuration life cycle: loading the root-owned config file,
 * re-applying command-line overrides, and daemon_reload(), the one reload
 * sequence SIGHUP and daemon.reload share.  Trusts only the config file
 * (checked by config_load) and the flags rampartd was started with.
 */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "fetch.h"
#include "keys.h"
#include "log.h"
#include "module.h"

static void overrides_apply(const struct overrides *ov, struct config *c)
{
	if (ov->socket_path)
		rp_strlcpy(c->socket_path, ov->socket_path, sizeof(c->socket_path));
	if (ov->state_dir)
		config_set_state_dir(c, ov->state_dir);
	if (ov->db_path)
		rp_strlcpy(c->db_path, ov->db_path, sizeof(c->db_path));
	if (ov->audit_log)
		rp_strlcpy(c->audit_log, ov->audit_log, sizeof(c->audit_log));
	if (ov->hosts_file)
		rp_strlcpy(c->hosts.file, ov->hosts_file, sizeof(c->hosts.file));
	if (ov->bin_dir)
		rp_strlcpy(c->links.bin_dir, ov->bin_dir, sizeof(c->links.bin_dir));
	if (ov->app_dir)
		rp_strlcpy(c->links.app_dir, ov->app_dir, sizeof(c->links.app_dir));
}

int daemon_load_config(struct daemon *d, struct config *out, struct rp_err *err)
{
	if (d->load_config != NULL)
		return d->load_config(d, out, err);
	config_defaults(out);
	if (d->config_loaded && config_load(out, d->config_path, d->check_owner, err) < 0)
		return -1;
	overrides_apply(&d->ov, out);
	if (strlen(d->ov.socket_path ? d->ov.socket_path : out->socket_path) >=
	    sizeof(out->socket_path))
		return rp_seterr(
		    err, "E_CONFIG",
		    "socket path is longer than %zu bytes (the UNIX socket limit); use "
		    "a shorter path",
		    sizeof(out->socket_path) - 1);
	return 0;
}

/*
 * Reads the config again and, when it is valid, puts it in force: the audit
 * log is reopened and every module reloads, then sees a commit (the store
 * path or the trusted keys may have changed).  An invalid file changes
 * nothing: the running config stays and err says why.  The socket path cannot
 * change while running; note (may be NULL) then says so.
 */
int daemon_check_trust(const struct config *c, struct rp_err *err)
{
	struct trust_set t;
	struct rp_err e;
	int ret = -1;

	keys_trust_init(&t);
	for (int i = 0; i < c->policy.n_keys; i++)
		if (keys_trust_add_file(&t, c->policy.keys[i], KEYS_CHECK_OWNER, &e) < 0) {
			rp_seterr(err, "E_CONFIG", "policy.keys[%d]: %s", i, e.msg);
			goto out;
		}
	if (c->policy.n_keys > 0 && keys_trust_set_threshold(&t, c->policy.threshold, &e) < 0) {
		rp_seterr(err, "E_CONFIG", "policy.threshold: %s", e.msg);
		goto out;
	}
	if (fetch_check_trust_files(c->policy.ca_file, c->policy.pinned_pubkey, err) < 0)
		goto out;
	ret = 0;
out:
	keys_trust_free(&t);
	return ret;
}

int daemon_reload(struct daemon *d, char *note, size_t notelen, struct rp_err *err)
{
	struct config nc;

	if (note != NULL && notelen > 0)
		note[0] = '\0';
	if (daemon_load_config(d, &nc, err) < 0 || daemon_check_trust(&nc, err) < 0) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n,
		         "; reload refused, the running configuration stays in force");
		return -1;
	}
	if (strcmp(nc.socket_path, d->cfg.socket_path) != 0) {
		if (note != NULL)
			snprintf(note, notelen,
			         "socket path change needs a restart; still serving %s",
			         d->cfg.socket_path);
		rp_strlcpy(nc.socket_path, d->cfg.socket_path, sizeof(nc.socket_path));
	}
	d->cfg = nc;
	audit_open(d);
	modules_reload(d);
	modules_commit(d, DAEMON_COMMIT_RELOAD);
	log_info("configuration reloaded from %s", d->config_loaded ? d->config_path : "defaults");
	return 0;
}
