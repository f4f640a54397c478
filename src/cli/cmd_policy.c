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
#include "cmd_policy_draft.h"
#include "keys.h"
#include "policy_payload.h"
#include "rampart/policy.h"
#include "refresh.h"
#include "root.h"

#define DEFAULT_DB RP_DEFAULT_STATE_DIR "/policy.db"

static const char policy_help[] =
    "usage: rampart policy COMMAND [ARGS...]\n"
    "\n"
    "  show [--db PATH] [--json]        the cached policy: org, version, signers, entries\n"
    "  check [--db PATH] [--json] REF...  may these images be pulled? (exit 0 all allowed,\n"
    "                                   1 any denied, 2 any invalid)\n"
    "  check --payload FILE [--json] REF...\n"
    "                                   the same under an unsigned draft payload (or the\n"
    "                                   payload of an envelope, signatures not checked)\n"
    "  diff [--json] OLD NEW [REF...]   what NEW allows or denies that OLD did not: rules\n"
    "                                   added, removed and changed, and each REF's decision\n"
    "                                   under both (exit 0 same, 1 changed, 2 bad input)\n"
    "  refresh                          fetch and apply the policy now (root/admin group)\n"
    "  verify [--db PATH] --keys DIR [--threshold N]\n"
    "                                   re-verify the stored policy offline, as any user\n"
    "  verify [--db PATH] --root FIRST.root.json\n"
    "                                   prove it from the pinned first root alone: the\n"
    "                                   stored root chain, then the policy's signatures\n"
    "  import --db PATH (--keys DIR [--threshold N] | --root FIRST.root.json) --org ORG\n"
    "         ENVELOPE                  (with --root, N.root.json are read next to it)\n"
    "                                   verify a signed envelope and store it (no daemon;\n"
    "                                   needs write access to the DB directory)\n"
    "\n"
    "With --db, show and check read the DB directly (read-only) instead of asking rampartd.\n";

/* Options shared by the subcommands. */
struct popts {
	const char *db, *keys, *org, *payload, *root;
	int threshold;
};

static int policy_opts(struct cli *cli, int argc, char **argv, struct popts *o)
{
	static const struct option lo[] = {{"db", required_argument, NULL, 'd'},
					   {"keys", required_argument, NULL, 'k'},
					   {"org", required_argument, NULL, 'o'},
					   {"threshold", required_argument, NULL, 't'},
					   {"payload", required_argument, NULL, 'p'},
					   {"root", required_argument, NULL, 'r'},
					   {"json", no_argument, NULL, 'j'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	int ch;

	memset(o, 0, sizeof(*o));
	o->threshold = 1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+d:k:o:t:p:r:jh", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': o->payload = optarg; break;
		case 'r': o->root = optarg; break;
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
		json_array_append_new(arr, cli_decision_json(&dc, rampart_policy_check(h, refs[i], &dc)));
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
	if (o.payload && o.db)
		return cli_usage_error(cli, "policy check: give --payload or --db, not both");
	if (o.payload)
		return cli_policy_check_payload(cli, o.payload, argv + optind, argc - optind);
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
		       "docker hub: %s\nschema:     %lld\nrules:      %lld\n",
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
		       json_integer_value(json_object_get(all, "schema_version")), total);
		json_array_foreach(json_object_get(all, "registries"), i, e) {
			const char *nick = json_string_value(json_object_get(e, "nickname"));
			const char *act = json_string_value(json_object_get(e, "action"));
			const char *mode = json_string_value(json_object_get(e, "mode"));
			printf("  %-5s %-40s %-8s %-7s %s\n", act ? act : "allow",
			       json_string_value(json_object_get(e, "host")),
			       json_string_value(json_object_get(e, "kind")), mode ? mode : "enforce",
			       nick ? nick : "");
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
		json_t *j = json_pack("{s:b, s:s, s:I, s:s, s:s, s:b, s:b, s:I, s:i, s:I, s:I}",
				      "cached", 1, "org", info.org, "version", (json_int_t)info.version,
				      "issued_at", iss, "expires_at", exp, "expired", info.expired,
				      "allow_docker_hub", info.allow_docker_hub, "total",
				      (json_int_t)info.n_registries, "schema_version",
				      info.schema_version, "deny", (json_int_t)info.n_deny, "warn",
				      (json_int_t)info.n_warn);
		cli_print_json(j);
		json_decref(j);
	} else {
		printf("org:        %s\nversion:    %lld\nissued:     %s\nexpires:    %s%s\n"
		       "docker hub: %s\nschema:     %d\nrules:      %zu (%zu deny, %zu in mode warn)\n"
		       "(use 'rampart policy verify' to re-check signatures)\n",
		       info.org, (long long)info.version, iss, exp,
		       info.expired ? " (EXPIRED, still enforced)" : "",
		       info.allow_docker_hub ? "allowed" : "denied", info.schema_version,
		       info.n_registries, info.n_deny, info.n_warn);
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

static int policy_diff(struct cli *cli, int argc, char **argv)
{
	struct popts o;
	int rc = policy_opts(cli, argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (argc - optind < 2)
		return cli_usage_error(cli, "policy diff: give OLD and NEW payload (or envelope) files");
	if (argc - optind > 258)
		return cli_usage_error(cli, "policy diff: at most 256 references at once");
	return cli_policy_diff(cli, argv[optind], argv[optind + 1], argv + optind + 2,
			       argc - optind - 2);
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

/* verify --root: the chain from the pinned first root, then the policy. */
static int policy_verify_root(struct cli *cli, const struct popts *o)
{
	struct verify_report rep;
	struct rp_err e;
	unsigned char *pin = NULL;
	size_t n = 0;
	int64_t rv = 0;
	FILE *f = fopen(o->root, "rb");
	int rc = RAMPART_EXIT_REFUSED;

	if (f != NULL) {
		pin = malloc(ROOT_MAX_BYTES + 1);
		n = pin ? fread(pin, 1, ROOT_MAX_BYTES + 1, f) : 0;
		fclose(f);
	}
	if (n == 0 || n > ROOT_MAX_BYTES) {
		fprintf(stderr, "%s: policy verify: cannot read %s (at most %u bytes)\n", cli->prog,
			o->root, ROOT_MAX_BYTES);
		goto out;
	}
	if (refresh_verify_store_root(o->db ? o->db : DEFAULT_DB, pin, n, NULL, (int64_t)time(NULL),
				      &rep, &rv, &e) < 0) {
		fprintf(stderr, "%s: policy verify FAILED: %s (%s)\n", cli->prog, e.msg, e.code);
		goto out;
	}
	if (cli->json) {
		json_t *j = json_pack("{s:b, s:s, s:I, s:s, s:I, s:I}", "verified", 1, "org", rep.org,
				      "version", (json_int_t)rep.version, "signers", rep.signers,
				      "registries", (json_int_t)rep.n_registries, "root_version",
				      (json_int_t)rv);
		cli_print_json(j);
		json_decref(j);
	} else {
		printf("verified from the pinned root %s: root chain up to version %lld, then policy "
		       "version %lld of org %s (%zu rules) signed by %s%s\n",
		       o->root, (long long)rv, (long long)rep.version, rep.org, rep.n_registries,
		       rep.signers, rep.expired ? " (EXPIRED, still enforced)" : "");
	}
	rc = 0;
out:
	free(pin);
	return rc;
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
	if (o.root != NULL)
		return policy_verify_root(cli, &o);
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

/* import --root: N.root.json from the directory of the first root's file. */
static int policy_import_root_fetch(void *arg, int64_t version, unsigned char **buf,
				    size_t *len, struct rp_err *err)
{
	const char *first = arg, *slash = strrchr(first, '/');
	char path[4200];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%.*s%lld.root.json", slash ? (int)(slash - first + 1) : 0,
		 first, (long long)version);
	if ((f = fopen(path, "rb")) == NULL)
		return errno == ENOENT ? 1 : rp_seterr(err, "E_INPUT", "%s: %s", path, strerror(errno));
	*buf = malloc(ROOT_MAX_BYTES + 2);
	n = *buf ? fread(*buf, 1, ROOT_MAX_BYTES + 1, f) : 0;
	fclose(f);
	if (*buf == NULL)
		return rp_seterr(err, "E_NOMEM", "out of memory");
	(*buf)[n] = '\0';
	*len = n;
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
		return cli_usage_error(cli, "usage: rampart policy import --db PATH (--keys DIR "
					    "[--threshold N] | --root FIRST.root.json) --org ORG ENVELOPE");
	keys_trust_init(&t);
	if (o.root == NULL && (rc = policy_trust(cli, &o, &t)) != 0)
		return rc;
	struct refresh_root root = {.fetch = policy_import_root_fetch, .fetch_arg = (void *)o.root,
				    .max_new = ROOT_DEFAULT_MAX_NEW};
	if (o.root != NULL) {
		size_t n = 0;
		unsigned char *pin = NULL;
		if ((f = fopen(o.root, "rb")) != NULL) {
			pin = malloc(ROOT_MAX_BYTES + 2);
			n = pin ? fread(pin, 1, ROOT_MAX_BYTES + 1, f) : 0;
			fclose(f);
		}
		if (pin == NULL || n == 0) {
			free(pin);
			fprintf(stderr, "%s: %s: cannot read the first root\n", cli->prog, o.root);
			return RAMPART_EXIT_USAGE;
		}
		root.pinned = pin;
		root.pinned_len = n;
	}
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
				.source = argv[optind], .etag = "",
				.root = o.root != NULL ? &root : NULL};
	rc = refresh_apply(&in, &out, &e);
	free(buf);
	free((void *)root.pinned);
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
		   {"import", policy_import},	 {"diff", policy_diff}};

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
