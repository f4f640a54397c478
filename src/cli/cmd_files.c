/* SPDX-License-Identifier: ISC */
/*
 * rampart links | hosts | socket-link: ask the daemon to write (or remove)
 * the system files of the desktop user.  Paths come from the daemon's config;
 * the CLI can only ask for --force (root) or --fix-localhost.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct fcmd {
	const char *verb, *op;
	const char *flag, *arg; /* optional boolean flag and its JSON argument */
};

static int files_run(struct cli *cli, int argc, char **argv, const char *help,
                     const struct fcmd *cmds, size_t n, void (*print)(json_t *))
{
	const struct fcmd *c = NULL;
	json_t *args, *r;
	int rc;

	if (argc < 2 && cli->json)
		return cli_usage_error(cli, "%s: give a command (see rampart %s --help)", argv[0],
		                       argv[0]);
	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(help, argc < 2 ? stderr : stdout);
		return argc < 2 ? RAMPART_EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(argv[1], cmds[i].verb) == 0)
			c = &cmds[i];
	if (c == NULL)
		return cli_usage_error(cli, "%s: unknown command \"%s\" (see rampart %s --help)",
		                       argv[0], argv[1], argv[0]);
	args = json_object();
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			cli->json = 1;
		} else if (c->flag && strcmp(argv[i], c->flag) == 0) {
			json_object_set_new(args, c->arg, json_true());
		} else {
			json_decref(args);
			return cli_usage_error(cli, "%s %s: unexpected argument \"%s\"", argv[0],
			                       argv[1], argv[i]);
		}
	}
	if ((rc = cli_call(cli, c->op, args, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json)
		cli_emit_ok(cli, r);
	else
		print(r);
	/* a partial result (e.g. a user's file kept in place of a link) exits 1 */
	rc = json_object_get(r, "incomplete") ? RAMPART_EXIT_REFUSED : 0;
	json_decref(r);
	return rc;
}

static void links_print(json_t *r)
{
	json_t *e;
	size_t i;
	json_array_foreach (json_object_get(r, "links"), i, e) {
		const char *why = json_string_value(json_object_get(e, "reason"));
		printf("%-24s %s%s%s\n", json_string_value(json_object_get(e, "name")),
		       json_string_value(json_object_get(e, "state")), why && *why ? ": " : "",
		       why ? why : "");
	}
	if (json_is_string(json_object_get(r, "incomplete")))
		printf("%s\n", json_string_value(json_object_get(r, "incomplete")));
	if (json_is_true(json_object_get(r, "force_ignored")))
		printf("note: --force is honoured only for root; nothing foreign was replaced\n");
}

int cmd_links(struct cli *cli, int argc, char **argv)
{
	static const struct fcmd cmds[] = {{"install", "links.install", "--force", "force"},
	                                   {"remove", "links.remove", NULL, NULL}};
	static const char help[] =
	    "usage: rampart links install [--force] | remove\n\n"
	    "Install (or remove) links in the configured bin dir (links.bin_dir) to the tool's\n"
	    "CLIs in links.app_dir.  Only links pointing into app_dir are ever replaced or\n"
	    "removed; a user's own file is kept unless root passes --force.\n"
	    "Needs root or the configured owner user/group.\n";
	return files_run(cli, argc, argv, help, cmds, 2, links_print);
}

static void hosts_print(json_t *r)
{
	json_t *e;
	size_t i;
	json_array_foreach (json_object_get(r, "items"), i, e) {
		long long line = json_integer_value(json_object_get(e, "line"));
		printf("%-32s %-16s %s", json_string_value(json_object_get(e, "name")),
		       json_string_value(json_object_get(e, "addr")),
		       json_string_value(json_object_get(e, "state")));
		if (line)
			printf(" (your line %lld)", line);
		printf("\n");
	}
	if (json_is_true(json_object_get(r, "localhost_conflict")))
		printf("warning: your hosts file maps localhost to a non-loopback address; "
		       "run 'rampart hosts ensure --fix-localhost' to fix it\n");
	printf("%s\n", json_is_true(json_object_get(r, "changed")) ? "hosts file updated"
	                                                           : "hosts file unchanged");
}

int cmd_hosts(struct cli *cli, int argc, char **argv)
{
	static const struct fcmd cmds[] = {
	    {"ensure", "hosts.ensure", "--fix-localhost", "fix_localhost"},
	    {"remove", "hosts.remove", NULL, NULL}};
	static const char help[] =
	    "usage: rampart hosts ensure [--fix-localhost] | remove\n\n"
	    "Make sure localhost resolves to 127.0.0.1 and ::1 and the configured tool names\n"
	    "(e.g. kubernetes.docker.internal) are in the hosts file, inside a\n"
	    "'# BEGIN rampart' / '# END rampart' block.  Your own lines are kept byte for\n"
	    "byte.  If you map localhost elsewhere it is reported; --fix-localhost comments\n"
	    "your line out (remove restores it).  Needs root or the configured owner.\n";
	return files_run(cli, argc, argv, help, cmds, 2, hosts_print);
}

static void socketlink_print(json_t *r)
{
	const char *note = json_string_value(json_object_get(r, "note"));
	const char *was = json_string_value(json_object_get(r, "was"));
	printf("%s: %s -> %s (found: %s%s%s)\n", json_string_value(json_object_get(r, "state")),
	       json_string_value(json_object_get(r, "link")),
	       json_string_value(json_object_get(r, "target")),
	       json_string_value(json_object_get(r, "found")), was && *was ? " -> " : "",
	       was ? was : "");
	if (note && *note)
		printf("note: %s\n", note);
}

int cmd_socketlink(struct cli *cli, int argc, char **argv)
{
	static const struct fcmd cmds[] = {{"ensure", "socketlink.ensure", "--force", "force"},
	                                   {"remove", "socketlink.remove", NULL, NULL},
	                                   {"status", "socketlink.status", NULL, NULL}};
	static const char help[] =
	    "usage: rampart socket-link ensure [--force] | remove | status\n\n"
	    "Point the system engine socket (socket_link.path, e.g. /var/run/docker.sock) at\n"
	    "the owner's engine socket (socket_link.target under the owner's home).  The\n"
	    "target comes from the daemon's config, never from the caller.  ensure is\n"
	    "idempotent ('unchanged' when already right); a file or socket that is not our\n"
	    "link is kept unless root passes --force; remove only removes our link.\n";
	return files_run(cli, argc, argv, help, cmds, 3, socketlink_print);
}
