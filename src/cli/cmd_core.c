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
		       json_is_true(json_object_get(pol, "stale"))
		           ? ", STALE (not refreshed in time)"
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
	json_array_foreach (json_object_get(t, "keys"), i, k)
		printf("  %s %-12s %s\n", status_str(k, "keyid"), status_str(k, "algorithm"),
		       status_str(k, "source"));
}

static long long kinds_sum(json_t *k)
{
	const char *n;
	json_t *v;
	long long s = 0;

	json_object_foreach (k, n, v)
		s += json_integer_value(v);
	return s;
}

/* status.enforce.docker (src/daemon/enforce_docker.c) */
void status_print_docker(json_t *p)
{
	json_t *c = json_object_get(p, "counters"), *ver = json_object_get(p, "serving_version");
	json_t *al = json_object_get(c, "allowed");
	const char *e = json_string_value(json_object_get(p, "error"));
	const char *mode = json_string_value(json_object_get(p, "mode"));

	if (mode != NULL && strcmp(mode, "off") == 0 && !json_is_object(c))
		return; /* not set up: --json still has it */
	printf("enforce docker: mode %s, socket %s", json_string_value(json_object_get(p, "mode")),
	       json_string_value(json_object_get(p, "socket")));
	if (json_is_integer(json_object_get(p, "pid")))
		printf(" (rampart-authz pid %lld%s, mode %s, %s%lld)",
		       json_integer_value(json_object_get(p, "pid")),
		       json_is_true(json_object_get(p, "running")) ? "" : ", not running",
		       json_string_value(json_object_get(p, "plugin_mode")),
		       json_is_integer(ver) ? "serving policy v" : "no policy cached",
		       json_is_integer(ver) ? json_integer_value(ver) : 0LL);
	printf("\n");
	if (json_is_object(c))
		printf(
		    "  allowed %lld (pull %lld, create %lld, plugin %lld, load %lld), denied %lld, "
		    "warned %lld, malformed %lld; %lld other requests undecided\n",
		    kinds_sum(al), json_integer_value(json_object_get(al, "pull")),
		    json_integer_value(json_object_get(al, "create")),
		    json_integer_value(json_object_get(al, "plugin")),
		    json_integer_value(json_object_get(al, "load")),
		    kinds_sum(json_object_get(c, "denied")),
		    kinds_sum(json_object_get(c, "warned")),
		    json_integer_value(json_object_get(c, "malformed")),
		    json_integer_value(json_object_get(c, "undecided")));
	if (e != NULL && *e)
		printf("  %s\n", e);
}

static long long pair_of(json_t *c, const char *kind, const char *what)
{
	return json_integer_value(json_object_get(json_object_get(c, kind), what));
}

/* status.enforce.proxy (src/daemon/enforce_proxy.c): shown once it has counters. */
void status_print_proxy(json_t *p)
{
	json_t *c = json_object_get(p, "counters"), *ver = json_object_get(p, "serving_version");
	json_t *last = json_object_get(p, "last_refusal");
	const char *e = json_string_value(json_object_get(p, "error"));

	if (!json_is_object(c))
		return; /* no stats file: not installed or never started (--json has why) */
	printf("enforce proxy: listen %s (rampart-proxy %s, pid %lld%s, %s%lld)\n",
	       json_string_value(json_object_get(p, "listen")),
	       json_string_value(json_object_get(p, "version")),
	       json_integer_value(json_object_get(p, "pid")),
	       json_is_true(json_object_get(p, "running")) ? "" : ", not running",
	       json_is_integer(ver) ? "serving policy v" : "no policy cached",
	       json_is_integer(ver) ? json_integer_value(ver) : 0LL);
	printf("  CONNECT allowed %lld, refused %lld; HTTP allowed %lld, refused %lld; "
	       "%lld tunnel(s) open, %lld closed by a policy change, %lld bad request(s), "
	       "%lld turned away (busy)\n",
	       pair_of(c, "connect", "allowed"), pair_of(c, "connect", "denied"),
	       pair_of(c, "http", "allowed"), pair_of(c, "http", "denied"),
	       json_integer_value(json_object_get(c, "tunnels_open")),
	       json_integer_value(json_object_get(c, "revoked")),
	       json_integer_value(json_object_get(c, "bad_requests")),
	       json_integer_value(json_object_get(c, "refused_busy")));
	if (json_is_object(last)) {
		time_t at = (time_t)json_integer_value(json_object_get(last, "at"));
		char ts[32] = "?";
		struct tm tm;
		if (gmtime_r(&at, &tm) != NULL)
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("  last refusal %s: %s\n", ts,
		       json_string_value(json_object_get(last, "message")));
	} else if (json_is_string(last)) {
		printf("  last refusal: %s\n", json_string_value(last));
	}
	if (e != NULL && *e)
		printf("  %s\n", e);
}

static void status_print(json_t *r)
{
	json_t *pol = json_object_get(r, "policy"), *ops = json_object_get(r, "ops"), *v;
	const char *k;

	printf("rampartd %s, pid %lld, up %llds\n",
	       json_string_value(json_object_get(r, "version")),
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
	json_object_foreach (json_object_get(r, "enforce"), k, v)
		enforce_print_point(k, v);
	if (json_is_string(json_object_get(r, "details"))) { /* not an admin: totals only */
		printf("  %-18s %6lld calls, %lld errors, %lld refused\n", "all ops",
		       json_integer_value(json_object_get(ops, "count")),
		       json_integer_value(json_object_get(ops, "errors")),
		       json_integer_value(json_object_get(ops, "refused")));
		printf("(%s)\n", json_string_value(json_object_get(r, "details")));
		return;
	}
	json_object_foreach (ops, k, v) {
		printf("  %-18s %6lld calls, %lld errors, %lld refused\n", k,
		       json_integer_value(json_object_get(v, "count")),
		       json_integer_value(json_object_get(v, "errors")),
		       json_integer_value(json_object_get(v, "refused")));
	}
}

int cmd_status(struct cli *cli, int argc, char **argv)
{
	json_t *r;
	int rc =
	    core_noargs(cli, argc, argv,
	                "usage: rampart status [--json]\n\nShow daemon uptime, connections, the "
	                "cached policy (version, issue and expiry\ndates, age, refresh "
	                "failures, the last error), the trusted keys and threshold,\neach "
	                "engine enforcement point (mode, file, the policy version it was\n"
	                "compiled from), rampart-proxy's counters and version, and per-op\n"
	                "counters.\n");
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
	int rc =
	    core_noargs(cli, argc, argv,
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
