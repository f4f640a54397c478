/* SPDX-License-Identifier: ISC */
/*
 * rampart diag trace|bundle|audit and rampart helper uninstall.  trace gives
 * the daemon the write end of a private pipe and copies what comes out to
 * stdout, so the daemon never opens a path and never changes the flags of
 * our stdout.  bundle collects what a support ticket needs and strips
 * credentials from URLs; everything it prints came from the daemon or libc.
 */
#include <curl/curlver.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char diag_help[] =
    "usage: rampart diag COMMAND [ARGS...]\n"
    "\n"
    "  trace [--seconds N]   stream the daemon's activity as JSON lines to stdout for N\n"
    "                        seconds (1..300, default 10): per-op counts and latency\n"
    "                        histograms, refresh timings, connections, audit lines\n"
    "                        (root or the admin group)\n"
    "  bundle                one JSON document for a support ticket: status, policy\n"
    "                        summary, recent audit lines (if you may read them),\n"
    "                        versions; credentials in URLs are removed\n"
    "  audit [--max N]       the daemon's most recent audit lines (admin)\n";

static const char diag_trace_help[] =
    "usage: rampart diag trace [--seconds N] [--json]\n"
    "\n"
    "Stream the daemon's activity as JSON lines to stdout for N seconds (1..300,\n"
    "default 10): per-op counts and latency histograms, refresh timings,\n"
    "connections, audit lines.  With --json, one envelope at the end holds every\n"
    "line in result.lines.  Root or the admin group.\n";

static const char diag_bundle_help[] =
    "usage: rampart diag bundle [--json]\n"
    "\n"
    "One JSON document for a support ticket: client versions, the daemon's status\n"
    "(trust and refresh health included), the policy summary and, for admins,\n"
    "recent audit lines.  User names, passwords, queries and fragments are removed\n"
    "from URLs.  Exit status 3 (client part only) when the daemon is unreachable.\n";

static const char diag_audit_help[] =
    "usage: rampart diag audit [--max N] [--json]\n"
    "\n"
    "The daemon's last N (1..64, default 64) audit lines.  Root or the admin group.\n";

static const char helper_help[] =
    "usage: rampart helper uninstall [--purge]\n"
    "\n"
    "Ask rampartd (root or the admin group) to remove itself: its CLI links\n"
    "(only links into the app directory), its /etc/hosts block, the engine socket\n"
    "link if it is ours, its unit files and binary as configured, and its socket.\n"
    "The daemon then exits.  The policy DB is kept unless --purge is given.\n"
    "The configuration file is never removed by the daemon (scripts/uninstall\n"
    "--purge does that).  Exit status 0 when everything went, 1 when something\n"
    "could not be removed (listed).\n";

/* --- trace ---------------------------------------------------------------------------------- */

static long long diag_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Remembers the last complete line, to tell whether the trace ended properly. */
struct tail {
	char cur[8192], last[8192];
	size_t n;
	json_t *lines; /* --json: every line, for one envelope at the end */
};

static void tail_feed(struct tail *t, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			t->cur[t->n < sizeof(t->cur) ? t->n : sizeof(t->cur) - 1] = '\0';
			memcpy(t->last, t->cur, sizeof(t->last));
			if (t->lines != NULL) {
				json_t *l = json_loads(t->cur, 0, NULL);
				json_array_append_new(t->lines,
				                      l != NULL ? l : json_string(t->cur));
			}
			t->n = 0;
		} else if (t->n + 1 < sizeof(t->cur)) {
			t->cur[t->n++] = buf[i];
		}
	}
}

/* Copies rfd to stdout until EOF or the deadline.  0 on EOF, 1 on timeout or error. */
static int trace_relay(struct cli *cli, int rfd, long long deadline, struct tail *tl)
{
	char buf[16384];

	for (;;) {
		struct pollfd p = {.fd = rfd, .events = POLLIN};
		long long left = deadline - diag_now_ms();
		ssize_t n;
		int r;

		if (left <= 0)
			return cli_emit_error(cli, "diag trace", "E_TIMEOUT",
			                      "the daemon did not finish the trace in time", 1);
		r = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno != EINTR)
			return 1;
		if (r <= 0)
			continue;
		n = read(rfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? 0 : 1;
		tail_feed(tl, buf, (size_t)n);
		if (cli->json)
			continue; /* printed as one envelope at the end */
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n || fflush(stdout) != 0) {
			fprintf(stderr, "%s: diag trace: writing the output: %s\n", cli->prog,
			        strerror(errno));
			return 1;
		}
	}
}

static int diag_trace(struct cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {{"seconds", required_argument, NULL, 's'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {NULL, 0, NULL, 0}};
	struct tail *tl = NULL;
	long long seconds = 10;
	json_t *r = NULL;
	int ch, p[2] = {-1, -1}, rc;
	char *end;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+s:h", lo, NULL)) != -1) {
		switch (ch) {
		case 's':
			seconds = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || seconds < 1 || seconds > 300)
				return cli_usage_error(cli, "--seconds must be 1..300");
			break;
		case 'h':
			fputs(diag_trace_help, stdout);
			return 0;
		default:
			if (cli->json)
				return cli_usage_error(cli, "diag trace: unknown option");
			fputs(diag_trace_help, stderr);
			return RAMPART_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return cli_usage_error(cli, "diag trace: unexpected argument \"%s\"", argv[optind]);
	if (pipe(p) < 0 || fcntl(p[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(p[1], F_SETFD, FD_CLOEXEC) < 0) {
		rc = cli_emit_error(cli, "diag trace", "E_INTERNAL", strerror(errno),
		                    RAMPART_EXIT_REFUSED);
		goto out;
	}
	rc = cli_call(cli, "diag.trace", json_pack("{s:I}", "seconds", (json_int_t)seconds), p[1],
	              &r, NULL);
	close(p[1]); /* the daemon holds its own copy; EOF comes when it closes it */
	p[1] = -1;
	if (rc != 0)
		goto out;
	if ((tl = calloc(1, sizeof(*tl))) == NULL) {
		rc = RAMPART_EXIT_REFUSED;
		goto out;
	}
	if (cli->json)
		tl->lines = json_array();
	rc = trace_relay(cli, p[0], diag_now_ms() + (seconds + 15) * 1000, tl);
	if (rc == 0 && strstr(tl->last, "\"type\":\"end\"") == NULL) {
		rc = cli_emit_error(cli, "diag trace", "E_TRACE_CUT",
		                    "the trace stopped without its end line (the daemon stopped, "
		                    "or lines were dropped)",
		                    RAMPART_EXIT_REFUSED);
	} else if (rc == 0 && cli->json) {
		json_t *res = json_pack("{s:O}", "lines", tl->lines);
		cli_emit_ok(cli, res);
		json_decref(res);
	}
out:
	if (tl != NULL)
		json_decref(tl->lines);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	free(tl);
	json_decref(r);
	return rc;
}

/* --- bundle --------------------------------------------------------------------------------- */

/* Calls op without printing anything; the result or {"error": {...}}.  *unreachable set on -1. */
static json_t *diag_quiet_call(struct cli *cli, const char *op, const char *args, int *unreachable)
{
	struct rampart_client *c = NULL;
	struct rampart_error err;
	char *reply = NULL;
	json_t *out = NULL, *r;
	int rc;

	memset(&err, 0, sizeof(err));
	if (rampart_connect(cli->socket, cli->timeout_ms, &c, &err) < 0) {
		rc = -1;
	} else {
		rc = rampart_request(c, op, args, -1, &reply, NULL, &err);
		rampart_close(c);
	}
	if (rc == 0 && (r = json_loads(reply, 0, NULL)) != NULL) {
		out = json_incref(json_object_get(r, "result"));
		json_decref(r);
	}
	free(reply);
	if (rc < 0)
		*unreachable = 1;
	if (out == NULL)
		out =
		    json_pack("{s:{s:s, s:s}}", "error", "code", err.code, "message", err.message);
	return out;
}

/* The last '@' in [p, end), or NULL. */
static const char *diag_last_at(const char *p, const char *end)
{
	const char *at = NULL;
	for (; p < end; p++)
		if (*p == '@')
			at = p;
	return at;
}

/*
 * s with the user:password@, query and fragment of every URL in it removed
 * ("scheme://user:pw@host/p?q#f" -> "scheme://host/p"); NULL if nothing was removed.
 * A URL ends at white space, a quote or angle bracket.
 */
static json_t *diag_redact_url(const char *s)
{
	const char *p = s, *u;
	size_t o = 0;
	int changed = 0;
	json_t *out = NULL;
	char *buf;

	if (strstr(s, "://") == NULL || (buf = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	while ((u = strstr(p, "://")) != NULL) {
		const char *host = u + 3, *end = host + strcspn(host, " \t\r\n\"'<>");
		const char *auth = host + strcspn(host, "/?#"), *at, *q;

		if (auth > end)
			auth = end;
		memcpy(buf + o, p, (size_t)(host - p));
		o += (size_t)(host - p);
		if ((at = diag_last_at(host, auth)) != NULL) {
			host = at + 1;
			changed = 1;
		}
		q = host + strcspn(host, "?#");
		if (q < end)
			changed = 1;
		else
			q = end;
		memcpy(buf + o, host, (size_t)(q - host));
		o += (size_t)(q - host);
		p = end;
	}
	memcpy(buf + o, p, strlen(p) + 1);
	if (changed)
		out = json_string(buf);
	free(buf);
	return out;
}

/* Walks v, replacing URLs that carry userinfo, a query or a fragment. */
static void diag_redact(json_t *v)
{
	const char *k;
	json_t *e, *nv;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach (v, k, e) {
			if (json_is_string(e) && (nv = diag_redact_url(json_string_value(e))))
				json_object_set_new(v, k, nv);
			else
				diag_redact(e);
		}
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, e) {
			if (json_is_string(e) && (nv = diag_redact_url(json_string_value(e))))
				json_array_set_new(v, i, nv);
			else
				diag_redact(e);
		}
	}
}

static json_t *diag_versions(void)
{
	struct utsname u;
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s}", "rampart", RAMPART_VERSION, "openssl",
	                      OpenSSL_version(OPENSSL_VERSION_STRING), "libcurl",
	                      LIBCURL_VERSION " (compiled against; used by rampart-fetch)",
	                      "sqlite", sqlite3_libversion(), "jansson", jansson_version_str());

	/* no nodename: the host's name is not needed to debug rampart */
	if (v != NULL && uname(&u) == 0)
		json_object_set_new(v, "system",
		                    json_pack("{s:s, s:s, s:s}", "sysname", u.sysname, "release",
		                              u.release, "machine", u.machine));
	return v;
}

static int diag_bundle(struct cli *cli, int argc, char **argv)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	json_t *doc, *pol;
	int unreachable = 0;

	if (cli_wants_help(argc, argv)) {
		fputs(diag_bundle_help, stdout);
		return 0;
	}
	if (argc > 1)
		return cli_usage_error(cli, "diag bundle takes no arguments");
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pol = diag_quiet_call(cli, "policy.show", "{\"limit\":1}", &unreachable);
	json_object_del(pol, "registries"); /* the summary; the count stays in "total" */
	json_object_del(pol, "offset");
	json_object_del(pol, "limit");
	doc = json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o}", "bundle", 1, "generated_at", ts,
	                "socket", cli->socket ? cli->socket : RAMPART_DEFAULT_SOCKET, "client",
	                diag_versions(), "status",
	                diag_quiet_call(cli, "status", NULL, &unreachable), "policy", pol, "audit",
	                diag_quiet_call(cli, "diag.audit", NULL, &unreachable));
	diag_redact(doc);
	if (cli->json)
		cli_emit_ok(cli, doc); /* exit status 3 still says the daemon was not reached */
	else
		cli_print_json(doc);
	json_decref(doc);
	if (unreachable)
		fprintf(stderr,
		        "%s: diag bundle: the daemon could not be reached; the bundle "
		        "has the client side only\n",
		        cli->prog);
	return unreachable ? RAMPART_EXIT_UNREACHABLE : 0;
}

/* --- audit ---------------------------------------------------------------------------------- */

static int diag_audit(struct cli *cli, int argc, char **argv)
{
	json_t *r = NULL, *args = json_object(), *l;
	size_t i;
	int rc;

	for (int k = 1; k < argc; k++) {
		char *end;
		long long m;
		if (strcmp(argv[k], "--max") == 0 && k + 1 < argc) {
			m = strtoll(argv[++k], &end, 10);
			if (*end != '\0' || m < 1 || m > 64) {
				json_decref(args);
				return cli_usage_error(cli, "--max must be 1..64");
			}
			json_object_set_new(args, "max", json_integer(m));
		} else if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
			json_decref(args);
			fputs(diag_audit_help, stdout);
			return 0;
		} else {
			json_decref(args);
			return cli_usage_error(cli, "diag audit: unexpected argument \"%s\"",
			                       argv[k]);
		}
	}
	if ((rc = cli_call(cli, "diag.audit", args, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json)
		cli_emit_ok(cli, r);
	else
		json_array_foreach (json_object_get(r, "lines"), i, l)
			puts(json_string_value(l));
	json_decref(r);
	return 0;
}

int cmd_diag(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 && cli->json)
		return cli_usage_error(cli, "diag: give a command (see rampart diag --help)");
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(diag_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? RAMPART_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "trace") == 0)
		return diag_trace(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "bundle") == 0)
		return diag_bundle(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "audit") == 0)
		return diag_audit(cli, argc - 1, argv + 1);
	return cli_usage_error(cli, "diag: unknown command \"%s\" (see rampart diag --help)",
	                       argv[1]);
}

/* --- helper uninstall ----------------------------------------------------------------------- */

static void helper_print_list(json_t *arr, const char *verb)
{
	json_t *e;
	size_t i;

	json_array_foreach (arr, i, e) {
		const char *why = json_string_value(json_object_get(e, "reason"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		printf("%-8s %-12s %s%s%s\n", verb, json_string_value(json_object_get(e, "what")),
		       json_string_value(json_object_get(e, "path")), why || msg ? ": " : "",
		       why   ? why
		       : msg ? msg
		             : "");
	}
}

int cmd_helper(struct cli *cli, int argc, char **argv)
{
	json_t *r = NULL, *args;
	int rc, purge = 0;

	if (argc < 2 && cli->json)
		return cli_usage_error(cli, "helper: give a command (see rampart helper --help)");
	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(helper_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? RAMPART_EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "uninstall") != 0)
		return cli_usage_error(cli,
		                       "helper: unknown command \"%s\" (see rampart helper "
		                       "--help)",
		                       argv[1]);
	for (int k = 2; k < argc; k++) {
		if (strcmp(argv[k], "--purge") == 0)
			purge = 1;
		else
			return cli_usage_error(cli, "helper uninstall: unexpected argument \"%s\"",
			                       argv[k]);
	}
	args = json_pack("{s:b}", "purge", purge);
	if ((rc = cli_call(cli, "helper.uninstall", args, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json) {
		cli_emit_ok(cli, r);
	} else {
		helper_print_list(json_object_get(r, "removed"), "removed");
		helper_print_list(json_object_get(r, "kept"), "kept");
		helper_print_list(json_object_get(r, "errors"), "FAILED");
		printf("rampartd is exiting%s\n",
		       purge ? "; the policy DB was removed" : "; the policy DB was kept");
	}
	rc = json_is_true(json_object_get(r, "complete")) ? 0 : RAMPART_EXIT_REFUSED;
	json_decref(r);
	return rc;
}
