/* SPDX-License-Identifier: ISC */
/* rampart ping | status | reload. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "policy_payload.h"

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
		cli_emit_ok(cli, r);
	else
		printf("pong from rampartd %s\n", json_string_value(json_object_get(r, "version")));
	json_decref(r);
	return 0;
}

/* "3d 4h", "2h 5m", "5m", "12s" */
static void status_span(long long s, char *buf, size_t len)
{
	if (s < 0)
		s = -s;
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm", s / 60);
	else
		snprintf(buf, len, "%llds", s);
}

static const char *status_str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v != NULL ? v : "";
}

/* "2099-12-31T23:59:59Z (in 27000d 3h)" or "(3d ago)" */
static void status_when(json_t *o, const char *k, char *buf, size_t len)
{
	int64_t t;
	char span[32];
	long long d;

	if (policy_payload_parse_time(status_str(o, k), &t) < 0) {
		snprintf(buf, len, "unknown");
		return;
	}
	d = (long long)(t - (int64_t)time(NULL));
	status_span(d, span, sizeof(span));
	snprintf(buf, len, "%s (%s%s%s)", status_str(o, k), d >= 0 ? "in " : "", span,
		 d >= 0 ? "" : " ago");
}

/* The health of the policy: what is enforced, how old, how refreshes go. */
static void status_policy(json_t *pol)
{
	json_t *ver = json_object_get(pol, "version"), *v;
	char a[96], b[96];

	if (json_is_integer(ver)) {
		status_when(pol, "expires_at", a, sizeof(a));
		status_when(pol, "issued_at", b, sizeof(b));
		printf("policy: org %s, version %lld, %s%s\n  issued %s, expires %s\n",
		       status_str(pol, "org"), json_integer_value(ver),
		       json_is_true(json_object_get(pol, "expired")) ? "EXPIRED (still enforced)"
								      : "valid",
		       json_is_true(json_object_get(pol, "stale")) ? ", STALE (not refreshed in time)"
								    : "",
		       b, a);
	} else {
		printf("policy: none cached\n");
	}
	if (json_is_integer(v = json_object_get(pol, "age_s"))) {
		status_span(json_integer_value(v), a, sizeof(a));
		printf("  last successful refresh %s ago", a);
	} else {
		printf("  no successful refresh since the daemon started");
	}
	if (json_is_integer(v = json_object_get(pol, "next_refresh_in_s"))) {
		status_span(json_integer_value(v), a, sizeof(a));
		printf("; next in %s", a);
	}
	printf("\n  refreshes: %lld, failed: %lld (%lld in a row)\n",
	       json_integer_value(json_object_get(pol, "refreshes")),
	       json_integer_value(json_object_get(pol, "failures")),
	       json_integer_value(json_object_get(pol, "failures_in_a_row")));
	if (*status_str(pol, "last_error"))
		printf("  last error (%s): %s\n", status_str(pol, "last_error_at"),
		       status_str(pol, "last_error"));
	if (*status_str(pol, "keys_error"))
		printf("trusted keys unusable: %s\n", status_str(pol, "keys_error"));
}

static void status_trust(json_t *t)
{
	json_t *k;
	size_t i;

	if (!json_is_object(t))
		return;
	printf("trust: %lld of %zu key(s) must sign\n",
	       json_integer_value(json_object_get(t, "threshold")),
	       json_array_size(json_object_get(t, "keys")));
	json_array_foreach(json_object_get(t, "keys"), i, k)
		printf("  %s %-12s %s\n", status_str(k, "keyid"), status_str(k, "algorithm"),
		       status_str(k, "source"));
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
		status_policy(pol);
		status_trust(json_object_get(pol, "trust"));
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
			     "usage: rampart status [--json]\n\nShow daemon uptime, connections, the "
			     "cached policy (version, issue and expiry\ndates, age, refresh "
			     "failures, the last error), the trusted keys and threshold,\neach "
			     "engine enforcement point (mode, file, the policy version it was\n"
			     "compiled from) and per-op counters.\n");
	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = cli_call(cli, "status", NULL, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json)
		cli_emit_ok(cli, r);
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
		cli_emit_ok(cli, r);
	} else {
		note = json_string_value(json_object_get(r, "note"));
		printf("configuration reloaded%s%s\n", note && *note ? "; " : "", note ? note : "");
	}
	json_decref(r);
	return 0;
}
