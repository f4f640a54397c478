/* SPDX-License-Identifier: ISC */
/*
 * rampartd: the privileged helper.  Parses flags, loads and validates the
 * config (refusing one that anyone but root could have written), opens the
 * socket, and runs the event loop until SIGTERM.  Trusts only root-owned
 * configuration; everything from clients goes through the op table.
 */
#include <curl/curlver.h> /* LIBCURL_VERSION only: nothing of libcurl is linked */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "daemon.h"
#include "log.h"
#include "module.h"
#include "server.h"

#define EXIT_CONFIG 78 /* sysexits EX_CONFIG */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: rampartd [options]\n"
	        "\n"
	        "The rampart privileged helper.  Normally started by systemd or launchd.\n"
	        "\n"
	        "  -c, --config FILE     configuration file (default %s;\n"
	        "                        built-in defaults if that file does not exist)\n"
	        "      --check-config    validate the configuration, and load every key, CA and\n"
	        "                        pin file it names, then exit (0 valid, 78 not)\n"
	        "      --check-syntax    validate the configuration file only (installers, before\n"
	        "                        the keys are in place)\n"
	        "      --socket PATH     listening socket (overrides config \"socket\")\n"
	        "      --state-dir DIR   directory holding policy.db (overrides \"state_dir\")\n"
	        "      --db PATH         policy database (overrides \"db\")\n"
	        "      --audit-log FILE  append audit lines to FILE instead of syslog\n"
	        "      --hosts-file F    hosts file edited by hosts.* (overrides hosts.file)\n"
	        "      --bin-dir DIR     directory for CLI links (overrides links.bin_dir)\n"
	        "      --app-dir DIR     directory link targets live in (links.app_dir)\n"
	        "      --syslog          log to syslog instead of stderr\n"
	        "  -v, --verbose         debug logging\n"
	        "  -V, --version         print versions and exit\n"
	        "  -h, --help            this help\n"
	        "\n"
	        "Exit status: 0 clean exit (SIGTERM), 1 runtime failure, 2 usage, 78 bad config.\n"
	        "Signals: SIGTERM/SIGINT finish replies and exit; SIGHUP reloads the config.\n"
	        "See rampartd(8) and rampartd.json(5).\n",
	        CONFIG_DEFAULT_PATH);
}

static void version(void)
{
	printf("rampartd %s\nOpenSSL %s\nlibcurl %s (compiled against; used by rampart-fetch)\n"
	       "SQLite %s\njansson %s\n",
	       RAMPART_VERSION, OpenSSL_version(OPENSSL_VERSION_STRING), LIBCURL_VERSION,
	       sqlite3_libversion(), jansson_version_str());
}

enum {
	O_CHECK_SYNTAX = 255,
	O_CHECK = 256,
	O_SOCKET,
	O_STATE,
	O_DB,
	O_AUDIT,
	O_HOSTS,
	O_BIN,
	O_APP,
	O_SYSLOG
};

int main(int argc, char **argv)
{
	static const struct option lopts[] = {{"config", required_argument, NULL, 'c'},
	                                      {"check-config", no_argument, NULL, O_CHECK},
	                                      {"check-syntax", no_argument, NULL, O_CHECK_SYNTAX},
	                                      {"socket", required_argument, NULL, O_SOCKET},
	                                      {"state-dir", required_argument, NULL, O_STATE},
	                                      {"db", required_argument, NULL, O_DB},
	                                      {"audit-log", required_argument, NULL, O_AUDIT},
	                                      {"hosts-file", required_argument, NULL, O_HOSTS},
	                                      {"bin-dir", required_argument, NULL, O_BIN},
	                                      {"app-dir", required_argument, NULL, O_APP},
	                                      {"syslog", no_argument, NULL, O_SYSLOG},
	                                      {"verbose", no_argument, NULL, 'v'},
	                                      {"version", no_argument, NULL, 'V'},
	                                      {"help", no_argument, NULL, 'h'},
	                                      {NULL, 0, NULL, 0}};
	static struct daemon d;
	struct rp_err err;
	const char *cfgpath = NULL;
	int ch, check = 0, use_syslog = 0, verbose = 0;
	struct stat st;

	memset(&d, 0, sizeof(d));
	d.listen_fd = d.audit_fd = -1;
	d.check_owner = true;
	while ((ch = getopt_long(argc, argv, "c:vVh", lopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfgpath = optarg;
			break;
		case O_CHECK:
			check = 1;
			break;
		case O_CHECK_SYNTAX:
			check = 2;
			break;
		case O_SOCKET:
			d.ov.socket_path = optarg;
			break;
		case O_STATE:
			d.ov.state_dir = optarg;
			break;
		case O_DB:
			d.ov.db_path = optarg;
			break;
		case O_AUDIT:
			d.ov.audit_log = optarg;
			break;
		case O_HOSTS:
			d.ov.hosts_file = optarg;
			break;
		case O_BIN:
			d.ov.bin_dir = optarg;
			break;
		case O_APP:
			d.ov.app_dir = optarg;
			break;
		case O_SYSLOG:
			use_syslog = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			version();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rampartd: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("rampartd", !use_syslog, verbose);
	umask(022);
	if (cfgpath == NULL && stat(CONFIG_DEFAULT_PATH, &st) == 0)
		cfgpath = CONFIG_DEFAULT_PATH;
	if (cfgpath != NULL) {
		rp_strlcpy(d.config_path, cfgpath, sizeof(d.config_path));
		d.config_loaded = true;
	}
	if (daemon_load_config(&d, &d.cfg, &err) < 0) {
		fprintf(stderr, "rampartd: invalid configuration: %s\n", err.msg);
		return EXIT_CONFIG;
	}
	if (check == 1 && daemon_check_trust(&d.cfg, &err) < 0) {
		fprintf(stderr, "rampartd: invalid configuration: %s\n", err.msg);
		return EXIT_CONFIG;
	}
	if (check) {
		printf("configuration OK: %s\n",
		       d.config_loaded ? d.config_path : "(built-in defaults)");
		return 0;
	}
	if (geteuid() != 0)
		log_warnx("not running as root: privileged ops will fail");
	{ /* each connection may hold a socket and one passed fd */
		struct rlimit rl;
		rlim_t need = (rlim_t)d.cfg.limits.max_connections * 2 + 64;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need)
			log_warnx(
			    "open-file limit %llu is below the %llu that limits.max_connections "
			    "%d may need; raise it (LimitNOFILE=) or lower max_connections",
			    (unsigned long long)rl.rlim_cur, (unsigned long long)need,
			    d.cfg.limits.max_connections);
	}
	/* libcurl (and the TLS stack under it) is initialised only in the fetch child */
	loop_signals_setup(&d);
	audit_open(&d);
	if (server_listen(&d, &err) < 0) {
		log_warnx("%s", err.msg);
		return 1;
	}
	d.started_ms = daemon_now_ms();
	d.started_wall = time(NULL);
	modules_init(&d);
	modules_commit(&d, DAEMON_COMMIT_START);
	log_info("rampartd %s serving %s", RAMPART_VERSION, d.cfg.socket_path);
	loop_run(&d);
	modules_fini(&d);
	server_shutdown(&d);
	log_info("exiting");
	return 0;
}
