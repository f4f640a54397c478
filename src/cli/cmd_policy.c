/* SPDX-License-Identifier: ISC */
/*
 * rampart policy show|check|refresh|verify|import.  check and show ask the
 * daemon unless --db is given, in which case they read the policy DB
 * in-process, read-only (install --user mode, auditors).  verify and import
 * never need the daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "cli.h"
#include "keys.h"
#include "policy_payload.h"
#include "rampart/policy.h"
#include "refresh.h"

#define DEFAULT_DB RP_DEFAULT_STATE_DIR "/policy.db"

static const char policy_help[] =
    "usage: rampart policy COMMAND [ARGS...]\n"
    "\n"
    "  show [--db PATH] [--json]        the cached policy: org, version, signers, entries\n"
    "  check [--db PATH] [--json] REF...  may these images be pulled? (exit 0 all allowed,\n"
    "                                   1 any denied, 2 any invalid)\n"
    "  refresh                          fetch and apply the policy now (root/admin group)\n"
    "  verify [--db PATH] --keys DIR [--threshold N]\n"
    "                                   re-verify the stored policy offline, as any user\n"
    "  import --db PATH --keys DIR --org ORG [--threshold N] ENVELOPE\n"
    "                                   verify a signed envelope and store it (no daemon;\n"
    "                                   needs write access to the DB directory)\n"
    "\n"
    "With --db, show and check read the DB directly (read-only) instead of asking rampartd.\n";

/* Options shared by the subcommands. */
struct popts {
	const char *db, *keys, *org;
	int threshold;
};

static int policy_opts(struct cli *cli, int argc, char **argv, struct popts *o)
{
	static const struct option lo[] = {{"db", required_argument, NULL, 'd'},
					   {"keys", required_argument, NULL, 'k'},
					   {"org", required_argument, NULL, 'o'},
					   {"threshold", required_argument, NULL, 't'},
					   {"json", no_argument, NULL, 'j'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	int ch;

	memset(o, 0, sizeof(*o));
	o->threshold = 1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+d:k:o:t:jh", lo, NULL)) != -1) {
		switch (ch) {
		case 'd': o->db = optarg; break;
		case 'k': o->keys = optarg; break;
		case 'o': o->org = optarg; break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 16)
				return cli_usage_error(cli, "--threshold must be a number from 1 to 16");
			o->threshold = (int)v;
			break;
		}
		case 'j': cli->json = 1; break;
		case 'h': fputs(policy_help, stdout); return -1;
		default: fputs(policy_help, stderr); return RAMPART_EXIT_USAGE;
		}
	}
	return 0;
}

static void print_decision(struct cli *cli, const char *ref, json_t *d)
{
	const char *err = json_string_value(json_object_get(d, "error"));
	const char *rule = json_string_value(json_object_get(d, "rule"));
	(void)cli;
	if (err)
		printf("INVALID %s: %s\n", ref, json_string_value(json_object_get(d, "reason")));
	else
		printf("%s %s -> %s (rule: %s; policy v%lld): %s\n",
		       json_is_true(json_object_get(d, "allowed")) ? "ALLOW" : "DENY ", ref,
		       json_string_value(json_object_get(d, "normalized")), rule ? rule : "none",
		       json_integer_value(json_object_get(d, "policy_version")),
		       json_string_value(json_object_get(d, "reason")));
}

static json_t *check_local(struct cli *cli, const char *db, char **refs, int n, int *rc)
{
	struct rampart_policy *h = NULL;
	char eb[512];
	json_t *arr = json_array();

	if (rampart_policy_open(db, 0, &h, eb, sizeof(eb)) < 0) {
		fprintf(stderr, "%s: policy check: %s\n", cli->prog, eb);
		*rc = RAMPART_EXIT_REFUSED;
		json_decref(arr);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		struct rampart_decision dc;
		memset(&dc, 0, sizeof(dc));
		if (rampart_policy_check(h, refs[i], &dc) < 0)
			json_array_append_new(arr, json_pack("{s:b, s:n, s:s, s:s, s:s}", "allowed", 0,
							     "rule", "normalized", dc.normalized,
							     "error", dc.code[0] ? dc.code : "E_REF",
							     "reason", dc.reason));
		else
			json_array_append_new(
			    arr, json_pack("{s:b, s:s?, s:s, s:I, s:s, s:b, s:b}", "allowed",
					   dc.allowed, "rule", dc.rule[0] ? dc.rule : NULL,
					   "normalized", dc.normalized, "policy_version",
					   (json_int_t)dc.policy_version, "reason", dc.reason,
					   "expired", dc.expired, "policy_cached", dc.policy_cached));
	}
	rampart_policy_close(h);
	return arr;
}

static int policy_check(struct cli *cli, int argc, char **argv)
{
	struct popts o;
	json_t *res = NULL, *arr, *args, *d;
	int rc = policy_opts(cli, argc, argv, &o), worst = 0;
	size_t i;

	if (rc)
		return rc < 0 ? 0 : rc;
	if (optind >= argc)
		return cli_usage_error(cli, "policy check: give at least one image reference");
	if (argc - optind > 256)
		return cli_usage_error(cli, "policy check: at most 256 references at once");
	if (o.db) {
		arr = check_local(cli, o.db, argv + optind, argc - optind, &rc);
		if (arr == NULL)
			return rc;
	} else {
		args = json_pack("{s:[]}", "refs");
		for (int k = optind; k < argc; k++)
			json_array_append_new(json_object_get(args, "refs"), json_string(argv[k]));
		if ((rc = cli_call(cli, "policy.check", args, -1, &res, NULL)) != 0)
			return rc;
		arr = json_incref(json_object_get(res, "results"));
		json_decref(res);
	}
	json_array_foreach(arr, i, d) {
		int r = json_object_get(d, "error") ? 2 : json_is_true(json_object_get(d, "allowed")) ? 0 : 1;
		if (r > worst)
			worst = r;
		if (!cli->json)
			print_decision(cli, argv[optind + (int)i], d);
	}
	if (cli->json)
		cli_print_json(arr);
	json_decref(arr);
	return worst;
}

static int policy_show_remote(struct cli *cli)
{
	json_t *all = NULL, *r = NULL, *e;
	long long off = 0, total = 0;
	size_t i;
	int rc;

	do {
		if ((rc = cli_call(cli, "policy.show", json_pack("{s:I}", "offset", off), -1, &r,
				   NULL)) != 0) {
			json_decref(all);
			return rc;
		}
		if (!json_is_true(json_object_get(r, "cached"))) {
			if (cli->json)
				cli_print_json(r);
			else
				printf("no policy cached\n");
			json_decref(r);
			return 0;
		}
		total = json_integer_value(json_object_get(r, "total"));
		if (all == NULL) {
			all = json_deep_copy(r);
		} else {
			json_array_extend(json_object_get(all, "registries"),
					  json_object_get(r, "registries"));
		}
		off += (long long)json_array_size(json_object_get(r, "registries"));
		json_decref(r);
	} while (off < total && off > 0);
	json_object_del(all, "offset");
	json_object_del(all, "limit");
	if (cli->json) {
		cli_print_json(all);
	} else {
		printf("org:        %s\nversion:    %lld\nissued:     %s\nexpires:    %s%s\n"
		       "fetched:    %s\nsource:     %s\nsigners:    %s\nsha256:     %s\n"
		       "docker hub: %s\nregistries: %lld\n",
		       json_string_value(json_object_get(all, "org")),
		       json_integer_value(json_object_get(all, "version")),
		       json_string_value(json_object_get(all, "issued_at")),
		       json_string_value(json_object_get(all, "expires_at")),
		       json_is_true(json_object_get(all, "expired")) ? " (EXPIRED, still enforced)" : "",
		       json_string_value(json_object_get(all, "fetched_at")),
		       json_string_value(json_object_get(all, "source")),
		       json_string_value(json_object_get(all, "signers")),
		       json_string_value(json_object_get(all, "payload_sha256")),
		       json_is_true(json_object_get(all, "allow_docker_hub")) ? "allowed" : "denied",
		       total);
		json_array_foreach(json_object_get(all, "registries"), i, e) {
			const char *nick = json_string_value(json_object_get(e, "nickname"));
			printf("  %-40s %-8s %s\n", json_string_value(json_object_get(e, "host")),
			       json_string_value(json_object_get(e, "kind")), nick ? nick : "");
		}
	}
	json_decref(all);
	return 0;
}

static int policy_show_local(struct cli *cli, const char *db)
{
	struct rampart_policy *h = NULL;
	struct rampart_policy_info info;
	char eb[512], iss[32], exp[32];

	if (rampart_policy_open(db, 0, &h, eb, sizeof(eb)) < 0) {
		fprintf(stderr, "%s: policy show: %s\n", cli->prog, eb);
		return RAMPART_EXIT_REFUSED;
	}
	memset(&info, 0, sizeof(info));
	rampart_policy_info(h, &info);
	rampart_policy_close(h);
	if (!info.cached) {
		printf("no policy cached at %s\n", db);
		return 0;
	}
	policy_payload_format_time(info.issued_at, iss, sizeof(iss));
	policy_payload_format_time(info.expires_at, exp, sizeof(exp));
	if (cli->json) {
		json_t *j = json_pack("{s:b, s:s, s:I, s:s, s:s, s:b, s:b, s:I}", "cached", 1, "org",
				      info.org, "version", (json_int_t)info.version, "issued_at", iss,
				      "expires_at", exp, "expired", info.expired, "allow_docker_hub",
				      info.allow_docker_hub, "total", (json_int_t)info.n_registries);
		cli_print_json(j);
		json_decref(j);
	} else {
		printf("org:        %s\nversion:    %lld\nissued:     %s\nexpires:    %s%s\n"
		       "docker hub: %s\nregistries: %zu\n(use 'rampart policy verify' to re-check "
		       "signatures)\n",
		       info.org, (long long)info.version, iss, exp,
		       info.expired ? " (EXPIRED, still enforced)" : "",
		       info.allow_docker_hub ? "allowed" : "denied", info.n_registries);
	}
	return 0;
}

static int policy_show(struct cli *cli, int argc, char **argv)
{
	struct popts o;
	int rc = policy_opts(cli, argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (optind < argc)
		return cli_usage_error(cli, "policy show takes no arguments");
	return o.db ? policy_show_local(cli, o.db) : policy_show_remote(cli);
}

static int policy_refresh(struct cli *cli, int argc, char **argv)
{
	struct popts o;
	json_t *r;
	int rc = policy_opts(cli, argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (optind < argc)
		return cli_usage_error(cli, "policy refresh takes no arguments");
	if (!cli->json && isatty(STDERR_FILENO))
		fprintf(stderr, "refreshing the policy (this may take up to the fetch timeout)...\n");
	if ((rc = cli_call(cli, "policy.refresh", NULL, -1, &r, NULL)) != 0)
		return rc;
	if (cli->json)
		cli_print_json(r);
	else
		printf("%s\n", json_string_value(json_object_get(r, "message")));
	json_decref(r);
	return 0;
}

static int policy_trust(struct cli *cli, const struct popts *o, struct trust_set *t)
{
	struct rp_err e;
	struct stat st;

	keys_trust_init(t);
	if (o->keys == NULL)
		return cli_usage_error(cli, "--keys DIR (or a .pem file) is required");
	if (stat(o->keys, &st) == 0 && S_ISDIR(st.st_mode) ? keys_trust_add_dir(t, o->keys, 0, &e)
							   : keys_trust_add_file(t, o->keys, 0, &e)) {
		fprintf(stderr, "%s: trusted keys: %s\n", cli->prog, e.msg);
		return RAMPART_EXIT_USAGE;
	}
	if (keys_trust_set_threshold(t, o->threshold, &e) < 0) {
		fprintf(stderr, "%s: %s\n", cli->prog, e.msg);
		return RAMPART_EXIT_USAGE;
	}
	return 0;
}

static int policy_verify(struct cli *cli, int argc, char **argv)
{
	struct popts o;
	struct trust_set t;
	struct verify_report rep;
	struct rp_err e;
	char fa[32], ea[32];
	int rc = policy_opts(cli, argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = policy_trust(cli, &o, &t)) != 0)
		return rc;
	if (refresh_verify_store(o.db ? o.db : DEFAULT_DB, &t, (int64_t)time(NULL), &rep, &e) <
	    0) {
		keys_trust_free(&t);
		if (cli->json) {
			json_t *j = json_pack("{s:b, s:s, s:s}", "verified", 0, "code", e.code,
					      "message", e.msg);
			cli_print_json(j);
			json_decref(j);
		} else {
			fprintf(stderr, "%s: policy verify FAILED: %s (%s)\n", cli->prog, e.msg, e.code);
		}
		return RAMPART_EXIT_REFUSED;
	}
	keys_trust_free(&t);
	policy_payload_format_time(rep.fetched_at, fa, sizeof(fa));
	policy_payload_format_time(rep.expires_at, ea, sizeof(ea));
	if (cli->json) {
		json_t *j = json_pack("{s:b, s:s, s:I, s:s, s:I, s:s, s:s, s:b}", "verified", 1,
				      "org", rep.org, "version", (json_int_t)rep.version, "signers",
				      rep.signers, "registries", (json_int_t)rep.n_registries,
				      "fetched_at", fa, "expires_at", ea, "expired", rep.expired);
		cli_print_json(j);
		json_decref(j);
	} else {
		printf("verified: org %s, version %lld, %zu registries, signed by %s\n"
		       "fetched %s, expires %s%s\nthe DB rows match the signed payload, the file is "
		       "root-owned and not writable by others\n",
		       rep.org, (long long)rep.version, rep.n_registries, rep.signers, fa, ea,
		       rep.expired ? " (EXPIRED, still enforced)" : "");
	}
	return 0;
}

static int policy_import(struct cli *cli, int argc, char **argv)
{
	struct popts o;
	struct trust_set t;
	struct refresh_out out;
	struct rp_err e;
	unsigned char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = policy_opts(cli, argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (o.db == NULL || o.org == NULL || optind + 1 != argc)
		return cli_usage_error(cli, "usage: rampart policy import --db PATH --keys DIR "
					    "--org ORG [--threshold N] ENVELOPE");
	if ((rc = policy_trust(cli, &o, &t)) != 0)
		return rc;
	if ((f = fopen(argv[optind], "rb")) == NULL) {
		keys_trust_free(&t);
		fprintf(stderr, "%s: %s: %s\n", cli->prog, argv[optind], strerror(errno));
		return RAMPART_EXIT_USAGE;
	}
	buf = malloc((1 << 24) + 1);
	if (buf)
		len = fread(buf, 1, (1 << 24) + 1, f);
	fclose(f);
	struct refresh_in in = {.envelope = buf, .len = len, .max_bytes = 1 << 24, .trust = &t,
				.org = o.org, .now = (int64_t)time(NULL), .db_path = o.db,
				.source = argv[optind], .etag = ""};
	rc = refresh_apply(&in, &out, &e);
	free(buf);
	keys_trust_free(&t);
	printf("%s\n", out.message);
	return rc == 0 ? 0 : RAMPART_EXIT_REFUSED;
}

int cmd_policy(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
	} sub[] = {{"show", policy_show},	 {"check", policy_check},
		   {"refresh", policy_refresh}, {"verify", policy_verify},
		   {"import", policy_import}};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(policy_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? RAMPART_EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (strcmp(argv[1], sub[i].name) == 0)
			return sub[i].fn(cli, argc - 1, argv + 1);
	return cli_usage_error(cli, "policy: unknown command \"%s\" (see rampart policy --help)",
			       argv[1]);
}
