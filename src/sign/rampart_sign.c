/* SPDX-License-Identifier: ISC */
/*
 * rampart-sign: the offline tool for policy authors.  Signs a payload into a
 * DSSE envelope with one or more PEM private keys, prints keyids, checks a
 * policy payload, and verifies envelopes.  It runs as the invoking user and
 * trusts only the files named on its command line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dsse.h"
#include "keys.h"
#include "policy_match.h"
#include "policy_payload.h"
#include "sign_root.h"
#include "refresh.h"
#include "publish.h"

#define SIGN_EXIT_FAIL 1
#define SIGN_EXIT_USAGE 2

enum sign_mode { MODE_SIGN, MODE_VERIFY, MODE_KEYID, MODE_CHECK };

struct sign_opts {
	enum sign_mode mode;
	const char *keys[DSSE_MAX_SIGNATURES];
	size_t n_keys;
	const char *pubs[KEYS_MAX_TRUSTED];
	size_t n_pubs;
	const char *keys_dir;
	int threshold;
	const char *type;
	const char *org; /* --org: refuse a payload for another org, as machines do */
	long warn_days;  /* --warn-days: warn when expires_at is nearer than this */
	bool no_check;
	bool strict; /* rules that change nothing are errors, not warnings */
};

#define SIGN_WARN_DAYS_DEFAULT 7
#define SIGN_OPT_VERIFY 256

static void sign_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: rampart-sign --key KEY.pem [--key KEY2.pem ...] [--type TYPE] [--no-check]\n"
	    "                    [--org ORG] [--warn-days N] PAYLOAD.json > envelope.json\n"
	    "       rampart-sign --verify (--pub PUB.pem ... | --keys DIR) [--threshold N]\n"
	    "                    [--type TYPE] [--no-check] ENVELOPE.json > payload.json\n"
	    "       rampart-sign --keyid KEY.pem [KEY2.pem ...]\n"
	    "       rampart-sign --check [--strict] [--org ORG] [--warn-days N] PAYLOAD.json\n"
	    "       rampart-sign root --help     (root documents for key rotation)\n"
	    "       rampart-sign --version\n"
	    "       rampart-sign publish [options] ENVELOPE.json oci://HOST/REPO:TAG\n"
	    "\n"
	    "Signs a rampart policy (or any payload) into a DSSE envelope, and verifies one.\n"
	    "Keys are PEM files: Ed25519 or ECDSA P-256.  A FILE of \"-\" means stdin.\n"
	    "A policy payload is checked as every machine checks it (the payload rules,\n"
	    "expiry, and the org with --org) before it is signed: what machines would\n"
	    "refuse is never signed.\n"
	    "\n"
	    "  -k, --key FILE       private key to sign with (repeat for more signatures)\n"
	    "  -t, --type TYPE      payloadType (default %s)\n"
	    "      --strict         refuse (E_LINT) rules or companions that change nothing\n"
	    "                       (duplicates and conflicts are always refused)\n"
	    "      --no-check       do not validate a policy payload before signing/after\n"
	    "                       verifying (validation runs only for the default type)\n"
	    "  -o, --org ORG        refuse a policy whose org is not ORG (policy.org on the\n"
	    "                       machines)\n"
	    "  -w, --warn-days N    warn when expires_at is less than N days away (default %d;\n"
	    "                       0: never)\n"
	    "      --verify         verify ENVELOPE; print the verified payload on stdout and\n"
	    "                       the keyids that verified on stderr\n"
	    "  -p, --pub FILE       trusted public key for --verify (repeatable)\n"
	    "  -K, --keys DIR       trust every *.pem and *.pub public key in DIR for --verify\n"
	    "  -n, --threshold N    distinct trusted keys that must verify (default 1)\n"
	    "  -i, --keyid          print the keyid (SHA-256 of the DER public key) of each\n"
	    "                       key file, public or private\n"
	    "  -c, --check          validate a policy payload and print a summary\n"
	    "  -h, --help           this text\n"
	    "      --version        print the version\n"
	    "\n"
	    "Exit status: 0 success, 1 failure (message on stderr), 2 usage error.\n"
	    "See docs/signing.md for signing with plain openssl instead.\n",
	    DSSE_POLICY_TYPE, SIGN_WARN_DAYS_DEFAULT);
}

static int sign_fail(const struct rp_err *err)
{
	fprintf(stderr, "rampart-sign: %s: %s\n", err->code, err->msg);
	return SIGN_EXIT_FAIL;
}

int sign_read(const char *path, size_t max, char **buf, size_t *len, struct rp_err *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *b = NULL;
	size_t n;
	int ret = -1;

	if (f == NULL) {
		rp_seterr(err, "E_INPUT", "cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if ((b = malloc(max + 1)) == NULL) {
		rp_seterr(err, "E_NOMEM", "out of memory reading %s", path);
		goto out;
	}
	n = fread(b, 1, max + 1, f);
	if (ferror(f)) {
		rp_seterr(err, "E_INPUT", "cannot read %s", path);
		goto out;
	}
	if (n > max) {
		rp_seterr(err, "E_INPUT", "%s is larger than %zu bytes", path, max);
		goto out;
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	ret = 0;
out:
	if (f != NULL && f != stdin)
		fclose(f);
	free(b);
	return ret;
}

static int sign_write(const void *buf, size_t len, const char *tail)
{
	if (fwrite(buf, 1, len, stdout) != len || fputs(tail, stdout) == EOF ||
	    fflush(stdout) != 0) {
		fprintf(stderr, "rampart-sign: E_OUTPUT: cannot write to stdout\n");
		return SIGN_EXIT_FAIL;
	}
	return 0;
}

static void sign_summary(const struct policy *p)
{
	char iss[32], exp[32];

	policy_payload_format_time(p->issued_at, iss, sizeof(iss));
	policy_payload_format_time(p->expires_at, exp, sizeof(exp));
	fprintf(stderr,
	        "rampart-sign: policy for org \"%s\", version %lld, %zu registr%s, Docker Hub %s, "
	        "issued %s, expires %s\n",
	        p->org, (long long)p->version, p->n_registries, p->n_registries == 1 ? "y" : "ies",
	        p->allow_docker_hub ? "allowed" : "denied", iss, exp);
	if (p->schema_version >= 2) {
		size_t deny = 0, warn = 0, comp = 0;
		for (size_t i = 0; i < p->n_registries; i++) {
			deny += p->registries[i].action == POLICY_DENY;
			warn += p->registries[i].mode == POLICY_WARN;
			comp += p->registries[i].n_companions;
		}
		fprintf(stderr,
		        "rampart-sign: schema_version 2: %zu of them deny rules, %zu in mode "
		        "warn, %zu companion host%s\n",
		        deny, warn, comp, comp == 1 ? "" : "s");
	}
}

struct sign_lint_ctx {
	const struct policy *p;
	size_t n;
};

static void sign_lint_comp(void *arg, size_t entry, const char *companion, const char *msg)
{
	struct sign_lint_ctx *c = arg;
	char name[48];

	(void)companion;
	policy_payload_rule_name(c->p, entry, name, sizeof(name));
	fprintf(stderr, "rampart-sign: warning: %s.companions: %s\n", name, msg);
	c->n++;
}

static void sign_lint_one(void *arg, size_t entry, const char *msg)
{
	struct sign_lint_ctx *c = arg;
	char name[48];

	policy_payload_rule_name(c->p, entry, name, sizeof(name));
	fprintf(stderr, "rampart-sign: warning: %s.host: %s\n", name, msg);
	c->n++;
}

/* Warns about rules that can never change a decision; with --strict they refuse. */
static int sign_lint(const struct sign_opts *o, const struct policy *p, struct rp_err *err)
{
	struct policy_index *idx = NULL;
	struct sign_lint_ctx c = {p, 0};

	if (policy_index_build(p, &idx, err) < 0)
		return -1;
	policy_lint(idx, sign_lint_one, &c);
	policy_companion_lint(idx, p, sign_lint_comp, &c);
	policy_index_free(idx);
	if (c.n > 0 && o->strict)
		return rp_seterr(err, "E_LINT",
		                 "%zu rule%s or companion%s change%s nothing or can never "
		                 "allow (see the warnings); remove them, or sign without --strict",
		                 c.n, c.n == 1 ? "" : "s", c.n == 1 ? "" : "s",
		                 c.n == 1 ? "s" : "");
	return 0;
}

/* Warns on stderr when the policy expires within warn_days of now. */
static void sign_warn_expiry(const struct policy *p, long warn_days, int64_t now)
{
	char when[32];
	int64_t left = p->expires_at - now;

	if (warn_days <= 0 || left >= (int64_t)warn_days * 86400)
		return;
	policy_payload_format_time(p->expires_at, when, sizeof(when));
	fprintf(stderr,
	        "rampart-sign: warning: the policy expires at %s, in %lld hour(s) (less than "
	        "--warn-days %ld); every machine refuses it from then on, so publish a "
	        "successor before that\n",
	        when, (long long)(left / 3600), warn_days);
}

/*
 * Validates a policy payload when the type is the policy type (and not
 * --no-check) with the daemon's own checks (refresh_check_payload).
 */
static int sign_check_payload(const struct sign_opts *o, const void *buf, size_t len,
                              struct rp_err *err)
{
	struct policy p;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (o->no_check || strcmp(o->type, DSSE_POLICY_TYPE) != 0)
		return 0;
	rc = refresh_check_payload(buf, len, o->org, now, &p, err);
	if (rc == 0) {
		sign_summary(&p);
		sign_warn_expiry(&p, o->warn_days, now);
		if (sign_lint(o, &p, err) < 0)
			rc = -1;
	} else if (strcmp(err->code, "E_EXPIRED") == 0) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n,
		         "; every machine would refuse it: set a later expires_at and re-sign");
	}
	policy_free(&p);
	return rc;
}

static int sign_cmd_sign(const struct sign_opts *o, const char *path)
{
	struct rp_key keys[DSSE_MAX_SIGNATURES];
	struct rp_err err;
	char *buf = NULL, *json = NULL;
	size_t len = 0, n = 0;
	int rc = SIGN_EXIT_FAIL;

	rp_clearerr(&err);
	if (sign_read(path, POLICY_PAYLOAD_MAX, &buf, &len, &err) < 0 ||
	    sign_check_payload(o, buf, len, &err) < 0)
		goto out;
	for (n = 0; n < o->n_keys; n++)
		if (keys_load_private(&keys[n], o->keys[n], &err) < 0)
			goto out;
	if (dsse_sign(buf, len, o->type, keys, n, &json, &err) < 0)
		goto out;
	rc = sign_write(json, strlen(json), "\n");
	if (rc == 0)
		fprintf(stderr, "rampart-sign: signed with %zu key(s)\n", n);
out:
	if (rc == SIGN_EXIT_FAIL && err.code[0] != '\0')
		sign_fail(&err);
	for (size_t i = 0; i < n; i++)
		keys_free(&keys[i]);
	free(json);
	free(buf);
	return rc;
}

static int sign_load_trust(const struct sign_opts *o, struct trust_set *t, struct rp_err *err)
{
	for (size_t i = 0; i < o->n_pubs; i++)
		if (keys_trust_add_file(t, o->pubs[i], 0, err) < 0)
			return -1;
	if (o->keys_dir != NULL && keys_trust_add_dir(t, o->keys_dir, 0, err) < 0)
		return -1;
	return keys_trust_set_threshold(t, o->threshold, err);
}

static int sign_cmd_verify(const struct sign_opts *o, const char *path)
{
	struct dsse_verified v;
	struct trust_set t;
	struct rp_err err;
	char *buf = NULL;
	size_t len = 0;
	int rc = SIGN_EXIT_FAIL;

	rp_clearerr(&err);
	keys_trust_init(&t);
	memset(&v, 0, sizeof(v));
	if (sign_load_trust(o, &t, &err) < 0 ||
	    sign_read(path, DSSE_MAX_ENVELOPE, &buf, &len, &err) < 0 ||
	    dsse_verify(buf, len, o->type, &t, &v, &err) < 0)
		goto out;
	fprintf(stderr, "rampart-sign: verified by %zu of %zu trusted key(s) (threshold %d):\n",
	        v.n_keyids, t.n_keys, t.threshold);
	for (size_t i = 0; i < v.n_keyids; i++)
		fprintf(stderr, "  %s %s\n", v.keyids[i],
		        t.keys[keys_trust_find(&t, v.keyids[i])].source);
	if (sign_check_payload(o, v.payload, v.payload_len, &err) < 0)
		goto out;
	rc = sign_write(v.payload, v.payload_len, "");
out:
	if (rc == SIGN_EXIT_FAIL && err.code[0] != '\0')
		sign_fail(&err);
	dsse_verified_free(&v);
	keys_trust_free(&t);
	free(buf);
	return rc;
}

static int sign_cmd_keyid(char **files, int n)
{
	struct rp_key k;
	struct rp_err err, err2;

	for (int i = 0; i < n; i++) {
		if (keys_load_public(&k, files[i], 0, &err) < 0 &&
		    keys_load_private(&k, files[i], &err2) < 0)
			return sign_fail(strstr(err.msg, "holds a private key") ? &err2 : &err);
		if (n == 1)
			printf("%s\n", k.keyid);
		else
			printf("%s  %s\n", k.keyid, files[i]);
		keys_free(&k);
	}
	return fflush(stdout) == 0 ? 0 : SIGN_EXIT_FAIL;
}

static int sign_cmd_check(const struct sign_opts *o, const char *path)
{
	struct sign_opts co = *o;
	struct rp_err err;
	char *buf = NULL;
	size_t len = 0;
	int rc = SIGN_EXIT_FAIL;

	rp_clearerr(&err);
	co.no_check = false;
	co.type = DSSE_POLICY_TYPE;
	if (sign_read(path, POLICY_PAYLOAD_MAX, &buf, &len, &err) < 0 ||
	    sign_check_payload(&co, buf, len, &err) < 0) {
		sign_fail(&err);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static int sign_usage_error(const char *msg)
{
	fprintf(stderr, "rampart-sign: %s (see rampart-sign --help)\n", msg);
	return SIGN_EXIT_USAGE;
}

static int sign_threshold(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > KEYS_MAX_TRUSTED)
		return -1;
	*out = (int)v;
	return 0;
}

/* Parses argv into o; returns -1 (usage error, message printed), 0, or 1 for --help. */
static int sign_parse_args(int argc, char **argv, struct sign_opts *o)
{
	static const struct option lopts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"type", required_argument, NULL, 't'},
	    {"no-check", no_argument, NULL, 'N'},
	    {"verify", no_argument, NULL, SIGN_OPT_VERIFY},
	    {"pub", required_argument, NULL, 'p'},
	    {"keys", required_argument, NULL, 'K'},
	    {"threshold", required_argument, NULL, 'n'},
	    {"keyid", no_argument, NULL, 'i'},
	    {"check", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"strict", no_argument, NULL, 'S'},
	    {"org", required_argument, NULL, 'o'},
	    {"warn-days", required_argument, NULL, 'w'},
	    {"version", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	opterr = 0; /* every refusal below says what to do instead */
	while ((c = getopt_long(argc, argv, ":k:t:Vp:K:n:ichSo:w:", lopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (o->n_keys == DSSE_MAX_SIGNATURES)
				return sign_usage_error("too many --key options (at most 16)"), -1;
			o->keys[o->n_keys++] = optarg;
			break;
		case 'p':
			if (o->n_pubs == KEYS_MAX_TRUSTED)
				return sign_usage_error("too many --pub options (at most 16)"), -1;
			o->pubs[o->n_pubs++] = optarg;
			break;
		case 't':
			o->type = optarg;
			break;
		case 'N':
			o->no_check = true;
			break;
		case 'S':
			o->strict = true;
			break;
		case SIGN_OPT_VERIFY:
			o->mode = MODE_VERIFY;
			break;
		case 'V':
			/* -V meant --verify once; it means --version to most tools, so it
			 * is refused rather than silently doing either */
			return sign_usage_error("-V is ambiguous; write --verify or --version"), -1;
		case 'v':
			return 2;
		case 'o':
			o->org = optarg;
			break;
		case 'w': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 0 || v > 3650)
				return sign_usage_error("--warn-days needs a number of days from 0 "
				                        "to 3650"),
				       -1;
			o->warn_days = v;
			break;
		}
		case ':':
			return sign_usage_error("an option needs a value"), -1;
		case 'K':
			o->keys_dir = optarg;
			break;
		case 'n':
			if (sign_threshold(optarg, &o->threshold) < 0)
				return sign_usage_error("--threshold needs a number from 1 to 16"),
				       -1;
			break;
		case 'i':
			o->mode = MODE_KEYID;
			break;
		case 'c':
			o->mode = MODE_CHECK;
			break;
		case 'h':
			return 1;
		default:
			return sign_usage_error("unknown option"), -1;
		}
	}
	return 0;
}

static int sign_check_args(const struct sign_opts *o, int nargs)
{
	if (o->mode == MODE_KEYID)
		return nargs >= 1 ? 0
		                  : (sign_usage_error("--keyid needs at least one key file"), -1);
	if (nargs != 1)
		return sign_usage_error("exactly one input file is needed"), -1;
	if (o->mode == MODE_SIGN && o->n_keys == 0)
		return sign_usage_error("signing needs at least one --key"), -1;
	if (o->mode != MODE_SIGN && o->n_keys > 0)
		return sign_usage_error("--key is only for signing"), -1;
	if (o->mode == MODE_VERIFY && o->n_pubs == 0 && o->keys_dir == NULL)
		return sign_usage_error("--verify needs --pub or --keys"), -1;
	if (o->mode != MODE_VERIFY && (o->n_pubs > 0 || o->keys_dir != NULL))
		return sign_usage_error("--pub and --keys are only for --verify"), -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct sign_opts o;
	int r;

	if (argc > 1 && strcmp(argv[1], "root") == 0)
		return sign_root_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "publish") == 0)
		return publish_main(argc - 1, argv + 1);
	memset(&o, 0, sizeof(o));
	o.type = DSSE_POLICY_TYPE;
	o.threshold = 1;
	o.warn_days = SIGN_WARN_DAYS_DEFAULT;
	if ((r = sign_parse_args(argc, argv, &o)) != 0) {
		if (r == 2)
			printf("rampart-sign %s\n", RAMPART_VERSION);
		else if (r > 0)
			sign_usage(stdout);
		return r > 0 ? 0 : SIGN_EXIT_USAGE;
	}
	if (sign_check_args(&o, argc - optind) < 0)
		return SIGN_EXIT_USAGE;
	switch (o.mode) {
	case MODE_SIGN:
		return sign_cmd_sign(&o, argv[optind]);
	case MODE_VERIFY:
		return sign_cmd_verify(&o, argv[optind]);
	case MODE_KEYID:
		return sign_cmd_keyid(argv + optind, argc - optind);
	case MODE_CHECK:
		return sign_cmd_check(&o, argv[optind]);
	}
	return SIGN_EXIT_USAGE;
}
