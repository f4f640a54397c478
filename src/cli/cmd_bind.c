/* SPDX-License-Identifier: ISC */
/*
 * rampart bind: ask rampartd for a privileged port, then exec a command with
 * the socket as fd 3 and LISTEN_FDS=1 LISTEN_PID=<pid> (the systemd socket
 * activation convention), so any activation-aware server runs unprivileged.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char bind_help[] =
    "usage: rampart bind [--udp] [--addr ADDR] [--backlog N] [--v6only] PORT -- CMD [ARGS...]\n"
    "\n"
    "Ask rampartd (as root, or the configured owner user/group) to bind PORT (< 1024)\n"
    "and run CMD with the socket as fd 3, LISTEN_FDS=1 and LISTEN_PID set, as for\n"
    "systemd socket activation.  ADDR defaults to 127.0.0.1; use ::1 for IPv6.\n"
    "\n"
    "  --udp         a UDP socket instead of a listening TCP socket\n"
    "  --addr ADDR   IPv4 or IPv6 literal: loopback, or the any-address if allowed\n"
    "  --backlog N   listen() backlog for TCP (default 128)\n"
    "  --v6only      set IPV6_V6ONLY on an IPv6 socket\n";

int cmd_bind(struct cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"udp", no_argument, NULL, 'u'},           {"addr", required_argument, NULL, 'a'},
	    {"backlog", required_argument, NULL, 'b'}, {"v6only", no_argument, NULL, '6'},
	    {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
	const char *addr = NULL;
	int udp = 0, backlog = 0, v6only = 0, ch, fd = -1, rc;
	long port;
	char *end, pidbuf[32];
	json_t *args;

	while ((ch = getopt_long(argc, argv, "+ua:b:6h", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
			udp = 1;
			break;
		case 'a':
			addr = optarg;
			break;
		case 'b': {
			char *e;
			long v = strtol(optarg, &e, 10);
			if (*optarg == '\0' || *e != '\0' || v < 1 || v > 4096)
				return cli_usage_error(cli, "bind: --backlog must be 1 to 4096");
			backlog = (int)v;
			break;
		}
		case '6':
			v6only = 1;
			break;
		case 'h':
			fputs(bind_help, stdout);
			return 0;
		default:
			if (cli->json)
				return cli_usage_error(
				    cli, "bind: unknown option (see rampart bind --help)");
			fputs(bind_help, stderr);
			return RAMPART_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "bind: missing PORT (see rampart bind --help)");
	errno = 0;
	port = strtol(argv[optind], &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return cli_usage_error(cli, "bind: \"%s\" is not a port number", argv[optind]);
	optind++;
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return cli_usage_error(cli, "bind: missing the command to run (PORT -- CMD ...)");
	args = json_pack("{s:s, s:I, s:i}", "proto", udp ? "udp" : "tcp", "port", (json_int_t)port,
	                 "backlog", backlog);
	if (addr)
		json_object_set_new(args, "addr", json_string(addr));
	if (v6only)
		json_object_set_new(args, "v6only", json_true());
	if ((rc = cli_call(cli, "port.bind", args, -1, NULL, &fd)) != 0)
		return rc;
	if (fd < 0) {
		return cli_emit_error(cli, "bind", "E_PROTO", "the daemon replied without a socket",
		                      RAMPART_EXIT_REFUSED);
	}
	if (fd != 3) {
		if (dup2(fd, 3) < 0) {
			char msg[512];
			snprintf(msg, sizeof(msg),
			         "cannot move the socket to fd 3: %s; %s was not run",
			         strerror(errno), argv[optind]);
			return cli_emit_error(cli, "bind", "E_EXEC", msg, RAMPART_EXIT_REFUSED);
		}
		close(fd);
	}
	fcntl(3, F_SETFD, 0); /* the exec'd program inherits it */
	snprintf(pidbuf, sizeof(pidbuf), "%ld", (long)getpid());
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_PID", pidbuf, 1);
	unsetenv("LISTEN_FDNAMES");
	execvp(argv[optind], argv + optind);
	{
		char msg[512];
		snprintf(msg, sizeof(msg),
		         "cannot run %s: %s (the port was bound and is closed "
		         "again)",
		         argv[optind], strerror(errno));
		return cli_emit_error(cli, "bind", "E_EXEC", msg, RAMPART_EXIT_REFUSED);
	}
}
