/* SPDX-License-Identifier: ISC */
/*
 * rampart-authz: Docker Engine authorization plugin (docs/enforcement.md,
 * rampart-authz(8)).  Started by root (systemd socket activation or by hand)
 * it takes its listening socket, opens the audit log and syslog, drops to
 * enforce.docker.user and only then reads requests; started unprivileged it
 * just runs.  It trusts the root-owned config and the policy DB rampartd
 * writes; every request on the socket is untrusted input.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "authz.h"
#include "authz_http.h"
#include "authz_wire.h"
#include "compat.h"
#include "config.h"
#include "log.h"

static volatile sig_atomic_t authz_stop, authz_hup;

struct authz_args {
	const char *config, *socket, *db, *mode, *audit_log, *stats_file, *user;
	int check, verbose, use_syslog;
};

static void authz_on_signal(int sig)
{
	if (sig == SIGHUP)
		authz_hup = 1;
	else
		authz_stop = 1;
}

static void authz_usage(FILE *f)
{
	fprintf(f,
	        "usage: rampart-authz [-c CONFIG] [--socket PATH] [--db PATH] [--mode MODE]\n"
	        "                     [--audit-log PATH] [--stats-file PATH] [--user NAME]\n"
	        "                     [--syslog] [-v] [--check-config]\n"
	        "       rampart-authz daemon-json add|remove FILE\n\n"
	        "Docker Engine authorization plugin \"rampart\": refuses pulls, container\n"
	        "creates and plugin pulls of images the signed registry policy does not allow.\n\n"
	        "  -c, --config PATH    rampartd.json to read (default %s)\n"
	        "  --socket PATH        listen here (default: enforce.docker.socket)\n"
	        "  --db PATH            policy store (default: from the config)\n"
	        "  --mode MODE          off, warn or enforce (default: enforce.mode)\n"
	        "  --audit-log PATH     audit lines here (default: enforce.docker.audit_log)\n"
	        "  --stats-file PATH    counters for rampart status (enforce.docker.stats_file)\n"
	        "  --user NAME          user to run as when started as root (enforce.docker.user)\n"
	        "  --syslog             log to syslog instead of stderr\n"
	        "  --check-config       validate the config and exit\n"
	        "  daemon-json add|remove FILE\n"
	        "                       add \"rampart\" to / remove it from authorization-plugins\n"
	        "                       in dockerd's daemon.json, keeping every other byte\n"
	        "See rampart-authz(8) and docs/enforcement.md.\n",
	        CONFIG_DEFAULT_PATH);
}

static enum authz_mode authz_mode_parse(const char *s)
{
	return strcmp(s, "enforce") == 0 ? AUTHZ_MODE_ENFORCE
	       : strcmp(s, "warn") == 0  ? AUTHZ_MODE_WARN
	                                 : AUTHZ_MODE_OFF;
}

static int authz_load_config(const struct authz_args *a, struct config *c, struct rp_err *err)
{
	config_defaults(c);
	if (config_load(c, a->config ? a->config : CONFIG_DEFAULT_PATH, true, err) < 0)
		return -1;
	if (a->socket &&
	    rp_strlcpy(c->enforce.docker.socket, a->socket, sizeof(c->enforce.docker.socket)) >=
	        sizeof(c->enforce.docker.socket))
		return rp_seterr(err, "E_ARGS", "--socket path is too long");
	if (a->db)
		rp_strlcpy(c->db_path, a->db, sizeof(c->db_path));
	if (a->mode) {
		if (config_enforce_mode_from_name(a->mode, &c->enforce.mode) < 0)
			return rp_seterr(err, "E_ARGS", "--mode must be off, warn or enforce");
	}
	if (a->audit_log)
		rp_strlcpy(c->enforce.docker.audit_log, a->audit_log,
		           sizeof(c->enforce.docker.audit_log));
	if (a->stats_file)
		rp_strlcpy(c->enforce.docker.stats_file, a->stats_file,
		           sizeof(c->enforce.docker.stats_file));
	if (a->user)
		rp_strlcpy(c->enforce.docker.user, a->user, sizeof(c->enforce.docker.user));
	return 0;
}

/* systemd socket activation: exactly one listening AF_UNIX stream socket on fd 3. */
static int authz_activated_fd(void)
{
	const char *pid = getenv("LISTEN_PID"), *env_fds = getenv("LISTEN_FDS");
	int type = 0, listening = 0;
	socklen_t l = sizeof(type);
	char fds[16];

	if (pid == NULL || env_fds == NULL || strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	rp_strlcpy(fds, env_fds, sizeof(fds)); /* unsetenv may free it */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (strcmp(fds, "1") != 0)
		fatalx("socket activation passed %s sockets; expected exactly one", fds);
	if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_STREAM ||
	    getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l) < 0 || !listening)
		fatalx("fd 3 from socket activation is not a listening stream socket");
	return 3;
}

/* A stale socket file is removed only if nobody answers on it. */
static void authz_unlink_stale(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISSOCK(st.st_mode))
		fatalx("%s exists and is not a socket; not removing it", path);
	rp_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	if ((fd = rp_socket_cloexec(AF_UNIX, SOCK_STREAM, 0)) < 0)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		fatalx("%s is in use by another process (another rampart-authz?)", path);
	close(fd);
	if (unlink(path) < 0)
		fatal("unlink stale socket %s", path);
}

static int authz_listen(const struct config *c)
{
	const char *path = c->enforce.docker.socket, *grp = c->enforce.docker.socket_group;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)];
	mode_t old;
	int fd;

	if (rp_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)) >= sizeof(sa.sun_path))
		fatalx("socket path %s is too long", path);
	rp_strlcpy(dir, path, sizeof(dir));
	if (mkdir(dirname(dir), 0755) < 0 && errno != EEXIST)
		fatal("mkdir %s", dir);
	authz_unlink_stale(path);
	if ((fd = rp_socket_cloexec(AF_UNIX, SOCK_STREAM, 0)) < 0)
		fatal("socket");
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fatal("bind %s", path);
	umask(old);
	if (*grp) {
		struct group *g = getgrnam(grp);
		if (g == NULL)
			fatalx("enforce.docker.socket_group \"%s\" does not exist", grp);
		if (chown(path, (uid_t)-1, g->gr_gid) < 0 || chmod(path, 0660) < 0)
			fatal("chown/chmod %s", path);
	}
	if (listen(fd, 128) < 0)
		fatal("listen %s", path);
	return fd;
}

/* Root only: the stats file's directory, owned by the plugin user. */
static void authz_stats_dir(const char *stats, uid_t uid, gid_t gid)
{
	char dir[4096];
	struct stat st;

	if (*stats == '\0')
		return;
	rp_strlcpy(dir, stats, sizeof(dir));
	dirname(dir);
	if (mkdir(dir, 0755) == 0) {
		if (chown(dir, uid, gid) < 0)
			fatal("chown %s", dir);
	} else if (errno != EEXIST || lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fatal("stats directory %s", dir);
	}
}

static void authz_drop(const char *user, const char *stats)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		fatalx("enforce.docker.user \"%s\" does not exist", user);
	if (pw->pw_uid == 0)
		fatalx("enforce.docker.user must not be root");
	authz_stats_dir(stats, pw->pw_uid, pw->pw_gid);
	if (rp_set_all_ids(pw->pw_uid, pw->pw_gid) < 0)
		fatal("dropping privileges to %s", user);
	if (rp_ids_are(pw->pw_uid, pw->pw_gid) != 1 || setuid(0) == 0)
		fatalx("privileges were not dropped");
}

static void authz_write_stats(struct authz_server *srv, const struct config *c, int64_t started)
{
	const struct authz_stats *st = authz_audit_stats(srv->audit);
	struct authz_wire w;

	if (c->enforce.docker.stats_file[0] == '\0')
		return;
	memset(&w, 0, sizeof(w));
	w.magic = AUTHZ_WIRE_MAGIC;
	w.size = sizeof(w);
	w.pid = getpid();
	w.started_at = started;
	w.updated_at = (int64_t)time(NULL);
	w.policy_version = rampart_policy_version(srv->policy);
	w.mode = (uint32_t)srv->opts.mode;
	w.block_load = srv->opts.block_load;
	_Static_assert(AUTHZ_WIRE_KINDS == AUTHZ_NKINDS, "wire kinds");
	memcpy(w.allowed, st->allowed, sizeof(w.allowed));
	memcpy(w.denied, st->denied, sizeof(w.denied));
	memcpy(w.warned, st->warned, sizeof(w.warned));
	w.errors = st->errors;
	w.audit_suppressed = st->audit_suppressed;
	rp_strlcpy(w.socket, c->enforce.docker.socket, sizeof(w.socket));
	if (authz_wire_write(c->enforce.docker.stats_file, &w) < 0) {
		if (!srv->stats_failing)
			log_warn("writing %s (counters not visible in rampart status until it "
			         "works again)",
			         c->enforce.docker.stats_file);
		srv->stats_failing = true;
	} else {
		if (srv->stats_failing)
			log_info("writing %s works again", c->enforce.docker.stats_file);
		srv->stats_failing = false;
	}
	srv->dirty = false;
}

/* SIGHUP: mode and block_load follow the config; socket, user and logs need a restart. */
static void authz_reload(const struct authz_args *a, struct config *c, struct authz_server *srv)
{
	struct config n;
	struct rp_err err;

	if (authz_load_config(a, &n, &err) < 0) {
		log_warnx("reload refused, config kept: %s", err.msg);
		return;
	}
	c->enforce.mode = n.enforce.mode;
	c->enforce.docker.block_load = n.enforce.docker.block_load;
	srv->opts.mode = authz_mode_parse(config_enforce_mode_name(c->enforce.mode));
	srv->opts.block_load = c->enforce.docker.block_load;
	srv->dirty = true;
	log_info("reloaded: mode %s, block_load %s", config_enforce_mode_name(c->enforce.mode),
	         srv->opts.block_load ? "on" : "off");
}

static void authz_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = authz_on_signal; /* no SA_RESTART: the wait returns on a signal */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int authz_serve(const struct authz_args *a, struct config *c, int lfd,
                       struct authz_audit *audit)
{
	struct authz_server srv = {.audit = audit};
	struct MHD_Daemon *d;
	char err[512];
	int64_t started = (int64_t)time(NULL), last = 0, now;

	if (rampart_policy_open(c->db_path,
	                        c->policy.allow_when_no_policy ? RAMPART_POLICY_ALLOW_WHEN_NO_POLICY
	                                                       : 0,
	                        &srv.policy, err, sizeof(err)) < 0)
		fatalx("policy store %s: %s", c->db_path, err);
	srv.opts.mode = authz_mode_parse(config_enforce_mode_name(c->enforce.mode));
	srv.opts.block_load = c->enforce.docker.block_load;
	d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, authz_http_handler,
	                     &srv, MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_NOTIFY_COMPLETED,
	                     authz_http_completed, NULL, MHD_OPTION_CONNECTION_LIMIT, 256u,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_SIGPIPE_HANDLED_BY_APP,
	                     1, MHD_OPTION_END);
	if (d == NULL)
		fatalx("libmicrohttpd could not start on %s", c->enforce.docker.socket);
	log_info("serving %s (mode %s, policy v%lld, %s)", c->enforce.docker.socket,
	         config_enforce_mode_name(c->enforce.mode),
	         (long long)rampart_policy_version(srv.policy), c->db_path);
	authz_write_stats(&srv, c, started);
	while (!authz_stop) {
		if (MHD_run_wait(d, 1000) != MHD_YES && errno != EINTR)
			log_warnx("libmicrohttpd wait failed");
		if (authz_hup) {
			authz_hup = 0;
			authz_reload(a, c, &srv);
		}
		now = (int64_t)time(NULL);
		if (now != last) {
			last = now;
			authz_audit_tick(srv.audit, now, false);
			if (srv.dirty)
				authz_write_stats(&srv, c, started);
		}
	}
	MHD_stop_daemon(d);
	authz_audit_tick(srv.audit, (int64_t)time(NULL), true);
	authz_write_stats(&srv, c, started);
	authz_audit_close(srv.audit);
	rampart_policy_close(srv.policy);
	log_info("stopped");
	return 0;
}

int authz_daemonjson_main(int argc, char **argv);

int main(int argc, char **argv)
{
	enum { O_SOCKET = 256, O_DB, O_MODE, O_AUDIT, O_STATS, O_USER, O_CHECK, O_SYSLOG };
	static const struct option lopts[] = {{"config", required_argument, NULL, 'c'},
	                                      {"socket", required_argument, NULL, O_SOCKET},
	                                      {"db", required_argument, NULL, O_DB},
	                                      {"mode", required_argument, NULL, O_MODE},
	                                      {"audit-log", required_argument, NULL, O_AUDIT},
	                                      {"stats-file", required_argument, NULL, O_STATS},
	                                      {"user", required_argument, NULL, O_USER},
	                                      {"check-config", no_argument, NULL, O_CHECK},
	                                      {"syslog", no_argument, NULL, O_SYSLOG},
	                                      {"verbose", no_argument, NULL, 'v'},
	                                      {"version", no_argument, NULL, 'V'},
	                                      {"help", no_argument, NULL, 'h'},
	                                      {NULL, 0, NULL, 0}};
	struct authz_args a = {0};
	static struct config c;
	struct authz_audit *audit;
	struct rp_err err;
	int ch, lfd;

	if (argc > 1 && strcmp(argv[1], "daemon-json") == 0)
		return authz_daemonjson_main(argc - 1, argv + 1);
	while ((ch = getopt_long(argc, argv, "c:vVh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a.config = optarg;
			break;
		case O_SOCKET:
			a.socket = optarg;
			break;
		case O_DB:
			a.db = optarg;
			break;
		case O_MODE:
			a.mode = optarg;
			break;
		case O_AUDIT:
			a.audit_log = optarg;
			break;
		case O_STATS:
			a.stats_file = optarg;
			break;
		case O_USER:
			a.user = optarg;
			break;
		case O_CHECK:
			a.check = 1;
			break;
		case O_SYSLOG:
			a.use_syslog = 1;
			break;
		case 'v':
			a.verbose = 1;
			break;
		case 'V':
			printf("rampart-authz %s\n", RAMPART_VERSION);
			return 0;
		case 'h':
			authz_usage(stdout);
			return 0;
		default:
			authz_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		authz_usage(stderr);
		return 2;
	}
	log_init("rampart-authz", !a.use_syslog, a.verbose);
	if (authz_load_config(&a, &c, &err) < 0) {
		log_warnx("%s: %s", err.code, err.msg);
		return 1;
	}
	if (a.check) {
		printf("%s: ok (mode %s, socket %s)\n", c.path,
		       config_enforce_mode_name(c.enforce.mode), c.enforce.docker.socket);
		return 0;
	}
	authz_signals();
	if ((lfd = authz_activated_fd()) < 0)
		lfd = authz_listen(&c);
	/* socket, syslog and audit log are opened before the drop and kept */
	openlog("rampart-authz", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	if ((audit = authz_audit_open(c.enforce.docker.audit_log)) == NULL)
		fatalx("out of memory");
	if (geteuid() == 0)
		authz_drop(c.enforce.docker.user, c.enforce.docker.stats_file);
	if (rp_harden_after_drop() < 0) /* no_new_privs, not dumpable (Linux) */
		fatal("no_new_privs");
	return authz_serve(&a, &c, lfd, audit);
}
