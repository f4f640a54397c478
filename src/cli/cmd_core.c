/* SPDX-License-Identifier: ISC */
/* rampart ping | status | reload. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int core_noargs(struct cli *cli, int argc, char **argv, const char *help)
{
	if (cli_wants_help(argc, argv)) {
		fputs(help, stdout);
		return -1;
	}
	if (argc > 1) {
		cli_usage_error(cli, "%s takes no arguments", argv[0]);
		fputs(help, stderr);
		return RAMPART_EXIT_USAGE;
	}
	return 0;
}

int cmd_ping(struct cli *cli, int argc, char **argv)
{
	json_t *r;
	int rc = core_noargs(cli, argc, argv,
			     "usage: rampart ping\n\nCheck that rampartd answers on its socket.\n");
	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = cli_call(cli, "ping", NULL, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json)
		cli_print_json(r);
	else
		printf("pong from rampartd %s\n", json_string_value(json_object_get(r, "version")));
	json_decref(r);
	return 0;
}

static void status_print(json_t *r)
{
	json_t *pol = json_object_get(r, "policy"), *ops = json_object_get(r, "ops"), *v;
	const char *k;

	printf("rampartd %s, pid %lld, up %llds\n", json_string_value(json_object_get(r, "version")),
	       json_integer_value(json_object_get(r, "pid")),
	       json_integer_value(json_object_get(r, "uptime_s")));
	printf("connections: %lld (max %lld), rss: %lld KiB\n",
	       json_integer_value(json_object_get(r, "connections")),
	       json_integer_value(json_object_get(r, "max_connections")),
	       json_integer_value(json_object_get(r, "rss_kib")));
	if (json_is_object(pol)) {
		json_t *ver = json_object_get(pol, "version");
		if (json_is_integer(ver))
			printf("policy: org %s, version %lld, %s%s\n",
			       json_string_value(json_object_get(pol, "org")),
			       json_integer_value(ver),
			       json_is_true(json_object_get(pol, "expired")) ? "EXPIRED (still enforced)"
									      : "valid",
			       "");
		else
			printf("policy: none cached\n");
		v = json_object_get(pol, "last_error");
		if (json_is_string(v) && *json_string_value(v))
			printf("policy last error: %s\n", json_string_value(v));
		v = json_object_get(pol, "keys_error");
		if (json_is_string(v) && *json_string_value(v))
			printf("trusted keys unusable: %s\n", json_string_value(v));
	}
	json_object_foreach(json_object_get(r, "enforce"), k, v) enforce_print_point(k, v);
	json_object_foreach(ops, k, v) {
		printf("  %-18s %6lld calls, %lld errors, %lld refused\n", k,
		       json_integer_value(json_object_get(v, "count")),
		       json_integer_value(json_object_get(v, "errors")),
		       json_integer_value(json_object_get(v, "refused")));
	}
}

int cmd_status(struct cli *cli, int argc, char **argv)
{
	json_t *r;
	int rc = core_noargs(cli, argc, argv,
			     "usage: rampart status\n\nShow daemon uptime, connections, the cached "
			     "policy, each engine enforcement point (mode, file, the policy "
			     "version\nit was compiled from) and per-op counters.  --json for "
			     "all of it.\n");
	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = cli_call(cli, "status", NULL, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json)
		cli_print_json(r);
	else
		status_print(r);
	json_decref(r);
	return 0;
}

int cmd_reload(struct cli *cli, int argc, char **argv)
{
	json_t *r;
	const char *note;
	int rc = core_noargs(cli, argc, argv,
			     "usage: rampart reload\n\nAsk rampartd to re-read its configuration "
			     "(root or the admin group).\nAn invalid file is refused and the running "
			     "configuration is kept.\n");
	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = cli_call(cli, "daemon.reload", NULL, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json) {
		cli_print_json(r);
	} else {
		note = json_string_value(json_object_get(r, "note"));
		printf("configuration reloaded%s%s\n", note && *note ? "; " : "", note ? note : "");
	}
	json_decref(r);
	return 0;
}
