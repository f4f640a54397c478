/* SPDX-License-Identifier: ISC */
/*
 * rampart: the command-line client.  Runs unprivileged; every decision is
 * the daemon's (or, for offline policy commands, made from the read-only
 * policy DB).  Exit codes: 0 ok, 1 refused/denied/failed, 2 usage or invalid
 * input, 3 daemon unreachable.
 */
#include <curl/curlver.h> /* LIBCURL_VERSION only: nothing of libcurl is linked */
#include <getopt.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "err.h"

static const struct cli_cmd commands[] = {
    {"ping", cmd_ping, "check that rampartd answers", 0},
    {"status", cmd_status, "daemon status: uptime, policy, trust, counters", 0},
    {"reload", cmd_reload, "re-read the daemon's config (admin)", 0},
    {"policy", cmd_policy, "show, check, refresh, verify the registry policy", 1},
    {"bind", cmd_bind, "bind a privileged port and run a command with it", 0},
    {"links", cmd_links, "install or remove the CLI links in the bin dir", 1},
    {"hosts", cmd_hosts, "ensure or remove rampart's /etc/hosts entries", 1},
    {"socket-link", cmd_socketlink, "point the system engine socket at the owner's", 1},
    {"enforce", cmd_enforce, "engine enforcement: status, apply", 1},
    {"diag", cmd_diag, "diagnostics: trace, bundle, audit", 1},
    {"helper", cmd_helper, "helper lifecycle: uninstall", 1},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: rampart [--socket PATH] [--json] [--timeout MS] COMMAND [ARGS...]\n\n"
	           "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
	        "\nGlobal options:\n"
	        "  --socket PATH   daemon socket (default $RAMPART_SOCKET or %s)\n"
	        "  --json          one JSON object on stdout, for every command and error\n"
	        "                  ({\"ok\", \"command\", \"result\" | \"error\"}); anywhere on\n"
	        "                  the line (before a \"--\")\n"
	        "  --timeout MS    give up on the daemon after MS milliseconds (default 30000)\n"
	        "  --version       print versions\n"
	        "\n'rampart COMMAND --help' describes each command.\n"
	        "Exit status: 0 ok, 1 refused/denied/failed, 2 usage or invalid input,\n"
	        "3 daemon unreachable.  See rampart(1).\n",
	        RAMPART_DEFAULT_SOCKET);
}

static void version(struct cli *cli)
{
	if (cli->json) {
		json_t *v =
		    json_pack("{s:s, s:s, s:s, s:s, s:s}", "rampart", RAMPART_VERSION, "openssl",
		              OpenSSL_version(OPENSSL_VERSION_STRING), "libcurl", LIBCURL_VERSION,
		              "sqlite", sqlite3_libversion(), "jansson", jansson_version_str());
		cli_emit_ok(cli, v);
		json_decref(v);
		return;
	}
	printf("rampart %s\nOpenSSL %s\nlibcurl %s (compiled against; used by rampart-fetch)\n"
	       "SQLite %s\njansson %s\n",
	       RAMPART_VERSION, OpenSSL_version(OPENSSL_VERSION_STRING), LIBCURL_VERSION,
	       sqlite3_libversion(), jansson_version_str());
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli->json)
		return cli_emit_error(cli, NULL, "E_USAGE", msg, RAMPART_EXIT_USAGE);
	fprintf(stderr, "%s: %s\n", cli->prog, msg);
	return RAMPART_EXIT_USAGE;
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

void cli_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (s) {
		puts(s);
		free(s);
	}
}

int cli_call(struct cli *cli, const char *op, json_t *args, int send_fd, json_t **result,
             int *recv_fd)
{
	struct rampart_client *c = NULL;
	struct rampart_error err;
	char *argstr = NULL, *reply = NULL;
	int rc;

	if (result)
		*result = NULL;
	if (args != NULL) {
		argstr = json_dumps(args, JSON_COMPACT);
		json_decref(args);
	}
	if (rampart_connect(cli->socket, cli->timeout_ms, &c, &err) < 0) {
		rc = RAMPART_EXIT_UNREACHABLE;
		goto fail;
	}
	rc = rampart_request(c, op, argstr, send_fd, &reply, recv_fd, &err);
	rampart_close(c);
	if (rc == 0) {
		json_t *r = json_loads(reply, 0, NULL);
		if (result)
			*result = json_incref(json_object_get(r, "result"));
		json_decref(r);
		free(reply);
		free(argstr);
		return 0;
	}
	rc = rc < 0 ? RAMPART_EXIT_UNREACHABLE : rp_errcode_exit(err.code);
fail:
	cli_emit_error(cli, op, err.code, err.message, rc);
	free(reply);
	free(argstr);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
	    {"socket", required_argument, NULL, 's'},  {"json", no_argument, NULL, 'j'},
	    {"timeout", required_argument, NULL, 't'}, {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	struct cli cli = {.socket = getenv("RAMPART_SOCKET"),
	                  .timeout_ms = 30000,
	                  .prog = "rampart",
	                  .command = "rampart"};
	int ch;

	argc = cli_strip_json_flag(&cli, argc, argv); /* --json anywhere on the line */
	while ((ch = getopt_long(argc, argv, "+s:jt:Vh", lopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			cli.socket = optarg;
			break;
		case 'j':
			cli.json = 1;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v <= 0 || v > 3600000)
				return cli_usage_error(&cli,
				                       "--timeout needs milliseconds from 1 to "
				                       "3600000, not \"%s\"",
				                       optarg);
			cli.timeout_ms = (int)v;
			break;
		}
		case 'V':
			version(&cli);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			if (cli.json)
				return cli_usage_error(&cli, "unknown option \"%s\"",
				                       argv[optind - 1]);
			usage(stderr);
			return RAMPART_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		if (cli.json)
			return cli_usage_error(&cli, "no command given (see rampart --help)");
		usage(stderr);
		return RAMPART_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub = optind;
			cli_set_command(&cli, commands[i].name,
			                commands[i].has_sub && optind + 1 < argc ? argv[optind + 1]
			                                                         : NULL);
			optind = 0; /* GNU getopt: 0 reinitialises for the subcommand */
			return commands[i].fn(&cli, argc - sub, argv + sub);
		}
	}
	return cli_usage_error(&cli, "unknown command \"%s\" (see rampart --help)", argv[optind]);
}
