/* SPDX-License-Identifier: ISC */
/*
 * The one output format of `rampart --json` (schema/cli-output.schema.json):
 *   {"ok": true,  "command": "policy check", "result": {...}}
 *   {"ok": false, "command": "policy check", "error": {"code", "message", "hint"}}
 * for every command, usage errors included.  Text mode prints sentences on
 * stdout and "rampart: ...: message (CODE)" on stderr.  Everything printed
 * here came from the daemon, the policy DB or this process; it is printed,
 * never interpreted.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "refresh.h"

void cli_set_command(struct cli *cli, const char *top, const char *sub)
{
	if (sub != NULL && sub[0] != '-')
		snprintf(cli->command, sizeof(cli->command), "%s %s", top, sub);
	else
		snprintf(cli->command, sizeof(cli->command), "%s", top);
}

int cli_strip_json_flag(struct cli *cli, int argc, char **argv)
{
	int o = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) { /* bind: what follows is the command's */
			while (i < argc)
				argv[o++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0)
			cli->json = 1;
		else
			argv[o++] = argv[i];
	}
	argv[o] = NULL;
	return o;
}

/* What to do, for people: the message's own "to fix: ..." part, else by code. */
static json_t *cli_hint(const char *code, const char *message)
{
	static const char *const marks[] = {"to fix: ", "Fix with: ", "fix with: "};
	const char *h;

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		if ((h = strstr(message, marks[i])) != NULL) {
			const char *s = h + strlen(marks[i]);
			size_t n = strlen(s);
			if (n > 0 && s[n - 1] == ')' && memchr(s, '(', n) == NULL)
				n--; /* "... (fix with: chmod go-w X)" */
			return json_stringn(s, n);
		}
	}
	if ((h = refresh_hint(code)) != NULL)
		return json_string(h);
	if (strcmp(code, "E_UNREACHABLE") == 0)
		return json_string("is rampartd running? check the socket path (--socket, "
		                   "$RAMPART_SOCKET) and 'systemctl status rampartd.socket'");
	if (strcmp(code, "E_USAGE") == 0)
		return json_string("see 'rampart COMMAND --help' or rampart(1)");
	return json_null();
}

void cli_emit_ok(struct cli *cli, json_t *result)
{
	json_t *r = result != NULL ? json_incref(result) : json_object();
	json_t *env = json_pack("{s:b, s:s, s:o}", "ok", 1, "command", cli->command, "result", r);

	cli_print_json(env);
	json_decref(env);
}

int cli_emit_error(struct cli *cli, const char *what, const char *code, const char *message,
                   int exit_code)
{
	if (cli->json) {
		json_t *env = json_pack("{s:b, s:s, s:{s:s, s:s, s:o}}", "ok", 0, "command",
		                        cli->command, "error", "code", code, "message", message,
		                        "hint", cli_hint(code, message));
		cli_print_json(env);
		json_decref(env);
	} else if (what != NULL) {
		fprintf(stderr, "%s: %s: %s (%s)\n", cli->prog, what, message, code);
	} else {
		fprintf(stderr, "%s: %s (%s)\n", cli->prog, message, code);
	}
	return exit_code;
}

json_t *cli_split_list(const char *s)
{
	json_t *a = json_array();
	const char *p = s;

	while (p != NULL && *p != '\0') {
		size_t n = strcspn(p, ",");
		if (n > 0)
			json_array_append_new(a, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	return a;
}

/* --- progress on a terminal ----------------------------------------------------- */

static pthread_t progress_thread;
static int progress_running, progress_shown;

/* Once a second: "waiting for rampartd: 7 s" on stderr, rewritten in place. */
static void *progress_main(void *arg)
{
	struct timespec one = {1, 0};
	char line[96];
	int n;

	(void)arg;
	for (long s = 1;; s++) {
		nanosleep(&one, NULL); /* a cancellation point */
		n = snprintf(line, sizeof(line),
		             "\rrefreshing: waiting for the policy server via rampartd... %ld s",
		             s);
		if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
			break;
	}
	return NULL;
}

void progress_start(struct cli *cli)
{
	if (cli->json || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "refreshing the policy (at most policy.total_timeout_s)...");
	fflush(stderr);
	progress_shown = 1;
	progress_running = pthread_create(&progress_thread, NULL, progress_main, NULL) == 0;
}

void progress_stop(void)
{
	static const char clear[] = "\r\033[K";

	if (progress_running) {
		pthread_cancel(progress_thread);
		pthread_join(progress_thread, NULL);
		progress_running = 0;
	}
	if (progress_shown) /* a terminal: erase the progress line */
		(void)!write(STDERR_FILENO, clear, sizeof(clear) - 1);
	progress_shown = 0;
}
