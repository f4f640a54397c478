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
	char command[48]; /* "policy check": the envelope's "command" */
};

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli *cli, int argc, char **argv);
	const char *summary;
	int has_sub; /* "policy show": the command is named with its subcommand */
};

/*
 * Calls op with args (stolen reference, may be NULL).  On success stores the
 * result (new reference) in *result if non-NULL and returns 0.  Otherwise
 * prints the error (or a JSON error object with --json) and returns the exit
 * code: 1 refused/failed, 3 unreachable.
 */
int cli_call(struct cli *cli, const char *op, json_t *args, int send_fd, json_t **result,
             int *recv_fd);
/* Prints a JSON value pretty. */
void cli_print_json(json_t *v);

/* output.c: the --json envelope (schema/cli-output.schema.json). */
void cli_set_command(struct cli *cli, const char *top, const char *sub);
/* Removes every "--json" before a "--" from argv (sets cli->json); returns the new argc. */
int cli_strip_json_flag(struct cli *cli, int argc, char **argv);
/* {"ok": true, "command", "result": result} on stdout (result borrowed; NULL: {}). */
void cli_emit_ok(struct cli *cli, json_t *result);
/*
 * With --json {"ok": false, "command", "error": {"code", "message", "hint"}} on
 * stdout, else "rampart: WHAT: message (CODE)" on stderr.  Returns exit_code.
 */
int cli_emit_error(struct cli *cli, const char *what, const char *code, const char *message,
                   int exit_code);
/* A once-a-second "waiting... N s" on stderr while a long op runs, only on a terminal. */
void progress_start(struct cli *cli);
void progress_stop(void);
/* "a,b,c" as a JSON array of strings (empty string: []). */
json_t *cli_split_list(const char *s);
/* 1 if argv has -h/--help (before any "--"). */
int cli_wants_help(int argc, char **argv);
/* Prints "rampart: <msg>" to stderr (with --json an E_USAGE envelope) and returns 2. */
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
void status_print_docker(json_t *p); /* cmd_core.c: the Docker plugin's point */
void status_print_proxy(json_t *p);  /* cmd_core.c: rampart-proxy's point */

#endif
