/* SPDX-License-Identifier: ISC */
/*
 * The daemon's configuration life cycle: loading the root-owned config file,
 * re-applying command-line overrides, and the signal pipe (SIGTERM stops,
 * SIGHUP reloads).  Trusts only the config file (checked by config_load) and
 * the flags rampartd was started with.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static int sig_wfd = -1;

static void sig_handler(int sig)
{
	int e = errno;
	unsigned char b = (unsigned char)sig;
	if (write(sig_wfd, &b, 1) < 0) {
		/* pipe full: a signal of each kind is already queued */
	}
	errno = e;
}

void daemon_signals_setup(struct daemon *d)
{
	struct sigaction sa;

	if (pipe2(d->sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe2");
	sig_wfd = d->sigpipe[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
}



int daemon_handle_signals(struct daemon *d)
{
	unsigned char b[16];
	ssize_t n;

	while ((n = read(d->sigpipe[0], b, sizeof(b))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] == SIGTERM || b[i] == SIGINT) {
				if (!d->stopping)
					log_info("signal %d: finishing replies and exiting", b[i]);
				d->stopping = true;
			} else if (b[i] == SIGHUP) {
				struct config nc;
				struct rp_err e;
				if (daemon_load_config(d, &nc, &e) < 0) {
					log_warnx("SIGHUP: reload refused, keeping the running "
						  "config: %s",
						  e.msg);
				} else {
					rp_strlcpy(nc.socket_path, d->cfg.socket_path,
						   sizeof(nc.socket_path));
					d->cfg = nc;
					audit_open(d);
					policy_module_reload(d);
					log_info("SIGHUP: configuration reloaded");
				}
			}
		}
	}
	return 0;
}

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
		return rp_seterr(err, "E_CONFIG",
				 "socket path is longer than %zu bytes (the UNIX socket limit); use "
				 "a shorter path",
				 sizeof(out->socket_path) - 1);
	return 0;
}

