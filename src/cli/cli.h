/* SPDX-License-Identifier: ISC */
/* Shared pieces of the rampart CLI: global options, calling the daemon, exit codes. */
#ifndef RAMPART_CLI_H
#define RAMPART_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "rampart/client.h"

struct cli {
	const char *socket;
	int json;
	int timeout_ms;
	const char *prog;
};

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *summary;
};

/*
 * Calls op with args (stolen reference, may be NULL).  On success stores the
 * result (new reference) in *result if non-NULL and returns 0.  Otherwise
 * prints the error (or a JSON error object with --json) and returns the exit
 * code: 1 refused/failed, 3 unreachable.
 */
int cli_call(struct cli *cli, const char *op, json_t *args, int send_fd, json_t **result,
	     int *recv_fd);
/* Prints a JSON value pretty (for --json). */
void cli_print_json(json_t *v);
/* 1 if argv has -h/--help (before any "--"). */
int cli_wants_help(int argc, char **argv);
/* Prints "rampart: <msg>" to stderr and returns 2. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int cmd_ping(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);
int cmd_reload(struct cli *cli, int argc, char **argv);
int cmd_policy(struct cli *cli, int argc, char **argv);
int cmd_bind(struct cli *cli, int argc, char **argv);
int cmd_links(struct cli *cli, int argc, char **argv);
int cmd_hosts(struct cli *cli, int argc, char **argv);
int cmd_socketlink(struct cli *cli, int argc, char **argv);
int cmd_diag(struct cli *cli, int argc, char **argv);
int cmd_helper(struct cli *cli, int argc, char **argv);
int cmd_enforce(struct cli *cli, int argc, char **argv);
/* Prints one enforcement point of status/enforce.status (cmd_enforce.c). */
void enforce_print_point(const char *name, json_t *p);

#endif
