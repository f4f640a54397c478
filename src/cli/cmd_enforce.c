/* SPDX-License-Identifier: ISC */
/*
 * rampart enforce status | apply: what each engine enforcement point has in
 * force, and (admin) recompile it now.  Everything shown comes from the
 * daemon; nothing here reads or writes the engine files.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char enforce_help[] =
    "usage: rampart enforce status [--json]\n"
    "       rampart enforce apply [--json]\n"
    "\n"
    "status  what each engine enforcement point has in force: mode (off, warn,\n"
    "        enforce), the file rampart manages, the policy version it was compiled\n"
    "        from, scopes written and omitted, the last result (any user)\n"
    "apply   recompile the cached policy into the engine files now, in the\n"
    "        configured mode (root or the admin group); unchanged content is not\n"
    "        rewritten\n"
    "\n"
    "containers (podman, skopeo, buildah, cri-o): enforce.containers_policy in\n"
    "rampartd.json, default /etc/containers/policy.json.  See rampart(1) and\n"
    "docs/enforcement.md.\n";

void enforce_print_point(const char *name, json_t *p)
{
	if (strcmp(name, "docker") == 0) {
		status_print_docker(p);
		return;
	}
	if (strcmp(name, "proxy") == 0) {
		status_print_proxy(p);
		return;
	}
	{
		json_t *ver = json_object_get(p, "compiled_version"),
		       *om = json_object_get(p, "omitted");
		const char *err = json_string_value(json_object_get(p, "last_error"));
		const char *mode = json_string_value(json_object_get(p, "mode"));
		json_int_t omitted = 0, warn = 0;
		const char *k;
		json_t *v;

		json_object_foreach (om, k, v) {
			if (strcmp(k, "warn") == 0)
				warn = json_integer_value(v); /* decide nothing: not denied */
			else
				omitted += json_integer_value(v);
		}
		printf("enforce %s: mode %s, file %s\n", name, mode ? mode : "?",
		       json_string_value(json_object_get(p, "file")));
		if (mode != NULL && strcmp(mode, "off") != 0) {
			if (json_is_integer(ver))
				printf("  compiled from policy version %lld: %lld scope(s), %lld "
				       "reject "
				       "scope(s), %lld entr%s omitted (denied)\n",
				       json_integer_value(ver),
				       json_integer_value(json_object_get(p, "scopes")),
				       json_integer_value(json_object_get(p, "reject_scopes")),
				       (long long)omitted, omitted == 1 ? "y" : "ies");
			if (json_is_integer(ver) && warn > 0)
				printf("  %lld rule%s in mode warn not written (they decide "
				       "nothing)\n",
				       (long long)warn, warn == 1 ? "" : "s");
			else
				printf("  no policy cached: docker pulls %s\n",
				       json_is_true(json_object_get(p, "accept_all"))
				           ? "allowed (policy.allow_when_no_policy)"
				           : "refused");
			printf("  written to %s (last result: %s)\n",
			       json_string_value(json_object_get(p, "written_file")),
			       json_string_value(json_object_get(p, "last_result")));
		}
		if (err != NULL && *err)
			printf("  last error: %s (%s)\n", err,
			       json_string_value(json_object_get(p, "last_code")));
	}
}

int cmd_enforce(struct cli *cli, int argc, char **argv)
{
	json_t *r = NULL;
	const char *op, *k;
	json_t *v;
	int rc;

	if (argc < 2 && cli->json)
		return cli_usage_error(cli, "enforce: give a command (see rampart enforce --help)");
	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(enforce_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? RAMPART_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "status") == 0)
		op = "enforce.status";
	else if (strcmp(argv[1], "apply") == 0)
		op = "enforce.apply";
	else
		return cli_usage_error(cli,
		                       "enforce: unknown command \"%s\" (see rampart enforce "
		                       "--help)",
		                       argv[1]);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") != 0)
			return cli_usage_error(cli, "enforce %s: unexpected argument \"%s\"",
			                       argv[1], argv[i]);
		cli->json = 1;
	}
	if ((rc = cli_call(cli, op, NULL, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json)
		cli_emit_ok(cli, r);
	else
		json_object_foreach (r, k, v)
			enforce_print_point(k, v);
	json_decref(r);
	return 0;
}
