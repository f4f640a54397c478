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
#include "store.h"

#define DEFAULT_DB RP_DEFAULT_STATE_DIR "/policy.db"

static const char policy_help[] =
    "usage: rampart policy COMMAND [ARGS...]\n"
    "\n"
    "  show [--db PATH] [--json]        the cached policy: org, version, signers, entries\n"
    "                                   (with --db read offline from the file)\n"
    "  check [--db PATH] [--json] REF...  may these images be pulled? (exit 0 all allowed,\n"
    "                                   1 any denied, 2 any invalid)\n"
    "  check --payload FILE [--json] REF...\n"
    "                                   the same under an unsigned draft payload (or the\n"
    "                                   payload of an envelope, signatures not checked)\n"
    "  diff [--json] OLD NEW [REF...]   what NEW allows or denies that OLD did not: rules\n"
    "                                   added, removed and changed, and each REF's decision\n"
    "                                   under both (exit 0 same, 1 changed, 2 bad input)\n"
    "  refresh                          fetch and apply the policy now (root/admin group)\n"
    "  verify [--db PATH] --keys DIR|FILE [--threshold N]\n"
    "                                   re-verify the stored policy offline, as any user\n"
    "  verify [--db PATH] --root FIRST.root.json\n"
    "                                   prove it from the pinned first root alone: the\n"
    "                                   stored root chain, then the policy's signatures\n"
    "  import --db PATH (--keys DIR [--threshold N] | --root FIRST.root.json) --org ORG\n"
    "         ENVELOPE                  (with --root, N.root.json are read next to it)\n"
    "                                   verify a signed envelope and store it (no daemon;\n"
    "                                   needs write access to the DB directory)\n"
    "\n"
    "With --db, show and check read the DB directly (read-only) instead of asking rampartd.\n"
    "--keys DIR trusts every *.pem and *.pub public key in DIR.\n"
    "--json (anywhere): one {\"ok\", \"command\", \"result\" | \"error\"} object on stdout.\n";

static const struct {
	const char *name, *help;
} policy_sub_help[] = {
    {"show", "usage: rampart policy show [--db PATH] [--json]\n\n"
             "The cached policy: org, version, issue/expiry/fetch times, source, signer keyids,\n"
             "payload SHA-256, Docker Hub, and every registry entry.  Asks rampartd, or with\n"
             "--db reads the policy DB offline (read-only, no daemon, any user).\n"},
    {"check", "usage: rampart policy check [--db PATH] [--json] REF...\n\n"
              "May these images (up to 256) be pulled?  One line per reference: ALLOW, DENY or\n"
              "INVALID, the normalised name, the rule that decided and the policy version.\n"
              "Exit 0 all allowed, 1 any denied, 2 any invalid.  --db decides in-process from\n"
              "that file (a missing file is an error, E_NO_POLICY).\n"},
    {"refresh", "usage: rampart policy refresh [--json]\n\n"
                "Fetch the policy from policy.url now, verify and store it (root or the admin\n"
                "group).  Prints \"updated 41 -> 42\", \"unchanged: version 42\", or the refusal\n"
                "with its code and what to do.  On a terminal, shows progress while it waits.\n"},
    {"verify",
     "usage: rampart policy verify [--db PATH] --keys DIR|FILE [--threshold N] [--json]\n\n"
     "Re-verify the stored policy offline, as any user: file and directory root-owned\n"
     "and not writable by others, the envelope verifies with N distinct keys from DIR\n"
     "(every *.pem and *.pub) or FILE, and every DB row matches the signed payload.\n"},
    {"import", "usage: rampart policy import --db PATH --keys DIR|FILE --org ORG [--threshold N]\n"
               "                             [--json] ENVELOPE\n\n"
               "Verify a signed envelope with the checks of a refresh (size, signatures, payload,\n"
               "org, expiry, version) and store it in PATH without the daemon (installers).\n"},
};

static const char *policy_help_for(const char *sub)
{
	for (size_t i = 0; i < sizeof(policy_sub_help) / sizeof(policy_sub_help[0]); i++)
		if (strcmp(sub, policy_sub_help[i].name) == 0)
			return policy_sub_help[i].help;
	return policy_help;
}

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
		case 'p':
			o->payload = optarg;
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'd':
			o->db = optarg;
			break;
		case 'k':
			o->keys = optarg;
			break;
		case 'o':
			o->org = optarg;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 16)
				return cli_usage_error(cli,
				                       "--threshold must be a number from 1 to 16");
			o->threshold = (int)v;
			break;
		}
		case 'j':
			cli->json = 1;
			break;
		case 'h':
			fputs(policy_help_for(argv[0]), stdout);
			return -1;
		default:
			if (cli->json)
				return cli_usage_error(cli,
				                       "policy %s: unknown option (see rampart "
				                       "policy %s --help)",
				                       argv[0], argv[0]);
			fputs(policy_help_for(argv[0]), stderr);
			return RAMPART_EXIT_USAGE;
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

/* One decision as the CLI prints it: the op's fields plus the reference asked about. */
static json_t *decision_json(const char *ref, const struct rampart_decision *dc, int rc)
{
	json_t *j = cli_decision_json(dc, rc);

	if (j != NULL)
		json_object_set_new(j, "ref", json_string(ref));
	return j;
}

/* "E_CODE: sentence" from librampart's errbuf, as code and message. */
static int local_fail(struct cli *cli, const char *what, const char *eb)
{
	char code[40] = "E_STORE";
	const char *colon = strstr(eb, ": ");

	if (colon != NULL && (size_t)(colon - eb) < sizeof(code) && eb[0] == 'E') {
		memcpy(code, eb, (size_t)(colon - eb));
		code[colon - eb] = '\0';
		eb = colon + 2;
	}
	return cli_emit_error(cli, what, code, eb, RAMPART_EXIT_REFUSED);
}

static json_t *check_local(struct cli *cli, const char *db, char **refs, int n, int *rc)
{
	struct rampart_policy *h = NULL;
	char eb[512];
	json_t *arr;

	/* a mistyped --db must not quietly deny everything: a missing file is an error */
	if (rampart_policy_open(db, RAMPART_POLICY_REQUIRE_STORE, &h, eb, sizeof(eb)) < 0) {
		*rc = local_fail(cli, "policy check", eb);
		return NULL;
	}
	arr = json_array();
	for (int i = 0; i < n; i++) {
		struct rampart_decision dc;
		memset(&dc, 0, sizeof(dc));
		json_array_append_new(
		    arr, decision_json(refs[i], &dc, rampart_policy_check(h, refs[i], &dc)));
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
		json_array_foreach (arr, i, d) /* the daemon's reply, with the ref asked about */
			json_object_set_new(d, "ref", json_string(argv[optind + (int)i]));
	}
	json_array_foreach (arr, i, d) {
		int r = json_object_get(d, "error")                   ? 2
		        : json_is_true(json_object_get(d, "allowed")) ? 0
		                                                      : 1;
		if (r > worst)
			worst = r;
		if (!cli->json)
			print_decision(cli, argv[optind + (int)i], d);
	}
	if (cli->json) {
		json_t *r = json_pack("{s:O, s:b}", "results", arr, "all_allowed", worst == 0);
		cli_emit_ok(cli, r);
		json_decref(r);
	}
	json_decref(arr);
	return worst;
}

static void show_print(json_t *all);

static int policy_show_remote(struct cli *cli)
{
	json_t *all = NULL, *r = NULL;
	long long off = 0, total = 0;
	int rc;

	do {
		if ((rc = cli_call(cli, "policy.show", json_pack("{s:I}", "offset", off), -1, &r,
		                   NULL)) != 0) {
			json_decref(all);
			return rc;
		}
		if (!json_is_true(json_object_get(r, "cached"))) {
			if (cli->json)
				cli_emit_ok(cli, r);
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
	json_object_set_new(all, "signers",
	                    cli_split_list(json_string_value(json_object_get(all, "signers"))));
	if (cli->json) {
		cli_emit_ok(cli, all);
	} else {
		show_print(all);
	}
	json_decref(all);
	return 0;
}

static void show_print(json_t *all)
{
	json_t *e;
	size_t i;
	char *signers = NULL;

	{
		size_t n = 0;
		json_array_foreach (json_object_get(all, "signers"), i, e)
			n += strlen(json_string_value(e)) + 1;
		if ((signers = calloc(1, n + 1)) != NULL)
			json_array_foreach (json_object_get(all, "signers"), i, e) {
				if (i > 0)
					strcat(signers, ",");
				strcat(signers, json_string_value(e));
			}
	}
	{
		printf("org:        %s\nversion:    %lld\nissued:     %s\nexpires:    %s%s\n"
		       "fetched:    %s\nsource:     %s\nsigners:    %s\nsha256:     %s\n"
		       "docker hub: %s\nschema:     %lld\nrules:      %lld\n",
		       json_string_value(json_object_get(all, "org")),
		       json_integer_value(json_object_get(all, "version")),
		       json_string_value(json_object_get(all, "issued_at")),
		       json_string_value(json_object_get(all, "expires_at")),
		       json_is_true(json_object_get(all, "expired")) ? " (EXPIRED, still enforced)"
		                                                     : "",
		       json_string_value(json_object_get(all, "fetched_at")),
		       json_string_value(json_object_get(all, "source")), signers ? signers : "",
		       json_string_value(json_object_get(all, "payload_sha256")),
		       json_is_true(json_object_get(all, "allow_docker_hub")) ? "allowed"
		                                                              : "denied",
		       json_integer_value(json_object_get(all, "schema_version")),
		       json_integer_value(json_object_get(all, "total")));
		json_array_foreach (json_object_get(all, "registries"), i, e) {
			const char *nick = json_string_value(json_object_get(e, "nickname"));
			const char *act = json_string_value(json_object_get(e, "action"));
			const char *mode = json_string_value(json_object_get(e, "mode"));
			json_t *c;
			size_t k;
			printf("  %-5s %-40s %-8s %-7s %s\n", act ? act : "allow",
			       json_string_value(json_object_get(e, "host")),
			       json_string_value(json_object_get(e, "kind")),
			       mode ? mode : "enforce", nick ? nick : "");
			json_array_foreach (json_object_get(e, "companions"), k, c)
				printf("        companion %s%s\n", json_string_value(c),
				       mode != NULL && strcmp(mode, "warn") == 0
				           ? " (not in force while the rule is in mode warn)"
				           : "");
		}
	}
	free(signers);
}

static const char *show_kind(enum policy_kind k)
{
	return k == POLICY_WILDCARD ? "wildcard"
	       : k == POLICY_PORT   ? "port"
	       : k == POLICY_PREFIX ? "prefix"
	                            : "exact";
}

static void show_time(json_t *o, const char *key, int64_t t)
{
	char buf[32];

	policy_payload_format_time(t, buf, sizeof(buf));
	json_object_set_new(o, key, t > 0 ? json_string(buf) : json_null());
}

/* The whole store, offline: the same document as the daemon's policy.show. */
static int policy_show_local(struct cli *cli, const char *db)
{
	struct policy p;
	struct store_meta m;
	struct rp_err e;
	json_t *all, *ents;
	int r;

	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	r = store_load(db, &p, &m, NULL, NULL, &e);
	if (r == 1) {
		char msg[4200];
		snprintf(msg, sizeof(msg),
		         "there is no policy DB at %s (check --db; rampartd "
		         "creates it at its first successful refresh)",
		         db);
		return cli_emit_error(cli, "policy show", "E_NO_POLICY", msg, RAMPART_EXIT_REFUSED);
	}
	if (r < 0)
		return cli_emit_error(cli, "policy show", e.code, e.msg, RAMPART_EXIT_REFUSED);
	ents = json_array();
	for (size_t i = 0; i < p.n_registries; i++) {
		const struct policy_registry *g = &p.registries[i];
		json_t *c = json_array();
		for (size_t k = 0; c != NULL && k < g->n_companions; k++)
			json_array_append_new(c, json_string(g->companions[k]));
		json_array_append_new(
		    ents, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o*}", "host", g->host, "nickname",
		                    g->nickname, "kind", show_kind(g->kind), "action",
		                    g->action == POLICY_DENY ? "deny" : "allow", "mode",
		                    g->mode == POLICY_WARN ? "warn" : "enforce", "companions", c));
	}
	all = json_pack(
	    "{s:b, s:s, s:I, s:b, s:b, s:s, s:o, s:s, s:I, s:o, s:s}", "cached", 1, "org", p.org,
	    "version", (json_int_t)p.version, "allow_docker_hub", p.allow_docker_hub, "expired",
	    (int64_t)time(NULL) >= p.expires_at, "source", m.source ? m.source : "", "signers",
	    cli_split_list(m.signers ? m.signers : ""), "payload_sha256", m.payload_sha256, "total",
	    (json_int_t)p.n_registries, "registries", ents, "db", db);
	json_object_set_new(all, "schema_version", json_integer(p.schema_version));
	show_time(all, "issued_at", p.issued_at);
	show_time(all, "expires_at", p.expires_at);
	show_time(all, "fetched_at", m.fetched_at);
	policy_free(&p);
	store_meta_free(&m);
	if (cli->json)
		cli_emit_ok(cli, all);
	else
		show_print(all);
	json_decref(all);
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
		return cli_usage_error(cli,
		                       "policy diff: give OLD and NEW payload (or envelope) files");
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
	progress_start(cli);
	rc = cli_call(cli, "policy.refresh", NULL, -1, &r, NULL);
	progress_stop();
	if (rc != 0)
		return rc;
	if (cli->json)
		cli_emit_ok(cli, r);
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
		return cli_usage_error(cli, "--keys DIR (or a .pem/.pub file) is required");
	if (stat(o->keys, &st) == 0 && S_ISDIR(st.st_mode)
	        ? keys_trust_add_dir(t, o->keys, 0, &e)
	        : keys_trust_add_file(t, o->keys, 0, &e)) {
		keys_trust_free(t);
		return cli_emit_error(cli, "trusted keys", e.code, e.msg, RAMPART_EXIT_USAGE);
	}
	if (keys_trust_set_threshold(t, o->threshold, &e) < 0) {
		keys_trust_free(t);
		return cli_emit_error(cli, "trusted keys", e.code, e.msg, RAMPART_EXIT_USAGE);
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
		json_t *j = json_pack("{s:b, s:s, s:I, s:s, s:I, s:I}", "verified", 1, "org",
		                      rep.org, "version", (json_int_t)rep.version, "signers",
		                      rep.signers, "registries", (json_int_t)rep.n_registries,
		                      "root_version", (json_int_t)rv);
		cli_print_json(j);
		json_decref(j);
	} else {
		printf(
		    "verified from the pinned root %s: root chain up to version %lld, then policy "
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
	if (refresh_verify_store(o.db ? o.db : DEFAULT_DB, &t, (int64_t)time(NULL), &rep, &e) < 0) {
		keys_trust_free(&t);
		return cli_emit_error(cli, "policy verify FAILED", e.code, e.msg,
		                      RAMPART_EXIT_REFUSED);
	}
	keys_trust_free(&t);
	policy_payload_format_time(rep.fetched_at, fa, sizeof(fa));
	policy_payload_format_time(rep.expires_at, ea, sizeof(ea));
	if (cli->json) {
		json_t *j = json_pack("{s:b, s:s, s:I, s:o, s:I, s:s, s:s, s:b}", "verified", 1,
		                      "org", rep.org, "version", (json_int_t)rep.version, "signers",
		                      cli_split_list(rep.signers), "registries",
		                      (json_int_t)rep.n_registries, "fetched_at", fa, "expires_at",
		                      ea, "expired", rep.expired);
		cli_emit_ok(cli, j);
		json_decref(j);
	} else {
		printf(
		    "verified: org %s, version %lld, %zu registries, signed by %s\n"
		    "fetched %s, expires %s%s\nthe DB rows match the signed payload, the file is "
		    "root-owned and not writable by others\n",
		    rep.org, (long long)rep.version, rep.n_registries, rep.signers, fa, ea,
		    rep.expired ? " (EXPIRED, still enforced)" : "");
	}
	return 0;
}

/* import --root: N.root.json from the directory of the first root's file. */
static int policy_import_root_fetch(void *arg, int64_t version, unsigned char **buf, size_t *len,
                                    struct rp_err *err)
{
	const char *first = arg, *slash = strrchr(first, '/');
	char path[4200];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%.*s%lld.root.json", slash ? (int)(slash - first + 1) : 0,
	         first, (long long)version);
	if ((f = fopen(path, "rb")) == NULL)
		return errno == ENOENT ? 1
		                       : rp_seterr(err, "E_INPUT", "%s: %s", path, strerror(errno));
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
		return cli_usage_error(
		    cli, "usage: rampart policy import --db PATH (--keys DIR "
		         "[--threshold N] | --root FIRST.root.json) --org ORG ENVELOPE");
	keys_trust_init(&t);
	if (o.root == NULL && (rc = policy_trust(cli, &o, &t)) != 0)
		return rc;
	struct refresh_root root = {.fetch = policy_import_root_fetch,
	                            .fetch_arg = (void *)o.root,
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
		char msg[600];
		keys_trust_free(&t);
		snprintf(msg, sizeof(msg), "cannot open %s: %s; nothing was imported", argv[optind],
		         strerror(errno));
		return cli_emit_error(cli, "policy import", "E_INPUT", msg, RAMPART_EXIT_USAGE);
	}
	buf = malloc((1 << 24) + 1);
	if (buf)
		len = fread(buf, 1, (1 << 24) + 1, f);
	fclose(f);
	struct refresh_in in = {.envelope = buf,
	                        .len = len,
	                        .max_bytes = 1 << 24,
	                        .trust = &t,
	                        .org = o.org,
	                        .now = (int64_t)time(NULL),
	                        .db_path = o.db,
	                        .source = argv[optind],
	                        .etag = "",
	                        .root = o.root != NULL ? &root : NULL};
	rc = refresh_apply(&in, &out, &e);
	free(buf);
	free((void *)root.pinned);
	keys_trust_free(&t);
	if (rc != 0)
		return cli_emit_error(cli, "policy import", e.code, out.message,
		                      RAMPART_EXIT_REFUSED);
	if (cli->json) {
		json_t *j =
		    json_pack("{s:s, s:s, s:I, s:I}", "outcome", refresh_outcome_name(out.outcome),
		              "message", out.message, "old_version", (json_int_t)out.old_version,
		              "new_version", (json_int_t)out.new_version);
		cli_emit_ok(cli, j);
		json_decref(j);
	} else {
		printf("%s\n", out.message);
	}
	return 0;
}

int cmd_policy(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *, int, char **);
	} sub[] = {{"show", policy_show},       {"check", policy_check},
	           {"refresh", policy_refresh}, {"verify", policy_verify},
	           {"import", policy_import},   {"diff", policy_diff}};

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc < 2 && cli->json)
			return cli_usage_error(
			    cli, "policy: give a command (see rampart policy --help)");
		fputs(policy_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? RAMPART_EXIT_USAGE : 0;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (strcmp(argv[1], sub[i].name) == 0)
			return sub[i].fn(cli, argc - 1, argv + 1);
	return cli_usage_error(cli, "policy: unknown command \"%s\" (see rampart policy --help)",
	                       argv[1]);
}
