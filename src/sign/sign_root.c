/* SPDX-License-Identifier: ISC */
/*
 * rampart-sign root: writes a root payload from public key files, checks
 * one, signs it (type application/vnd.rampart.root+json) and verifies a root
 * as the next one after a previous root, exactly as rampartd's chain walk
 * does (src/core/root.c).  Trusts only the files named on its command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dsse.h"
#include "keys.h"
#include "policy_payload.h"
#include "root.h"
#include "sign_root.h"

#define SR_FAIL 1
#define SR_USAGE 2

static const char sr_help[] =
    "usage: rampart-sign root new --org ORG --version N --expires YYYY-MM-DDTHH:MM:SSZ\n"
    "           --root-key PUB.pem [...] [--root-threshold N]\n"
    "           --policy-key PUB.pem [...] [--policy-threshold N] > root.json\n"
    "       rampart-sign root check ROOT.json\n"
    "       rampart-sign root sign --key KEY.pem [--key KEY2.pem ...] ROOT.json > N.root.json\n"
    "       rampart-sign root verify [--prev PREV.root.json] N.root.json\n"
    "\n"
    "Root N+1 must be signed by a threshold of root N's root keys AND a threshold of\n"
    "its own root keys: sign it with old and new root keys.  verify --prev checks\n"
    "exactly what rampartd checks; without --prev it checks a first root (self-signed).\n"
    "Thresholds default to 1.  Exit status: 0 success, 1 failure, 2 usage error.\n";

struct sr_opts {
	const char *org, *expires, *prev;
	long long version;
	const char *root_keys[KEYS_MAX_TRUSTED], *policy_keys[KEYS_MAX_TRUSTED],
	    *keys[DSSE_MAX_SIGNATURES];
	size_t n_root, n_policy, n_keys;
	int root_threshold, policy_threshold;
};

static int sr_fail(const struct rp_err *e)
{
	fprintf(stderr, "rampart-sign: root: %s: %s\n", e->code, e->msg);
	return SR_FAIL;
}

static int sr_usage(const char *msg)
{
	fprintf(stderr, "rampart-sign: root: %s (see rampart-sign root --help)\n", msg);
	return SR_USAGE;
}

/* A JSON array of the PEM texts of the given public key files (checked as keys). */
static json_t *sr_pems(const char *const *files, size_t n, struct rp_err *err)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++) {
		struct rp_key k;
		char *buf = NULL;
		size_t len = 0;
		if (sign_read(files[i], KEYS_MAX_FILE, &buf, &len, err) < 0 ||
		    keys_load_public_mem(&k, buf, len, files[i], err) < 0) {
			free(buf);
			json_decref(a);
			return NULL;
		}
		keys_free(&k);
		json_array_append_new(a, json_stringn(buf, len));
		free(buf);
	}
	return a;
}

static int sr_new(const struct sr_opts *o)
{
	struct rp_err e;
	struct root r;
	json_t *rk, *pk, *doc;
	char *text;
	int64_t t;

	if (!o->org || !o->expires || o->version < 1 || o->n_root == 0 || o->n_policy == 0)
		return sr_usage("new needs --org, --version >= 1, --expires, --root-key and "
		                "--policy-key");
	if (policy_payload_parse_time(o->expires, &t) < 0)
		return sr_usage("--expires must look like 2027-01-31T12:00:00Z");
	if ((rk = sr_pems(o->root_keys, o->n_root, &e)) == NULL)
		return sr_fail(&e);
	if ((pk = sr_pems(o->policy_keys, o->n_policy, &e)) == NULL) {
		json_decref(rk);
		return sr_fail(&e);
	}
	doc = json_pack("{s:I, s:s, s:s, s:o, s:i, s:o, s:i}", "version", (json_int_t)o->version,
	                "expires_at", o->expires, "org", o->org, "root_keys", rk, "root_threshold",
	                o->root_threshold, "policy_keys", pk, "policy_threshold",
	                o->policy_threshold);
	text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	/* never write what rampartd would refuse */
	if (root_parse_payload(text, strlen(text), &r, &e) < 0) {
		free(text);
		return sr_fail(&e);
	}
	root_free(&r);
	printf("%s\n", text);
	free(text);
	return 0;
}

static void sr_summary(const struct root *r, const char *what)
{
	char when[32];

	policy_payload_format_time(r->expires_at, when, sizeof(when));
	fprintf(stderr,
	        "rampart-sign: root: %s: version %lld for org \"%s\", expires %s, %zu root key%s "
	        "(threshold %d), %zu policy key%s (threshold %d)\n",
	        what, (long long)r->version, r->org, when, r->root_keys.n_keys,
	        r->root_keys.n_keys == 1 ? "" : "s", r->root_keys.threshold, r->policy_keys.n_keys,
	        r->policy_keys.n_keys == 1 ? "" : "s", r->policy_keys.threshold);
	for (size_t i = 0; i < r->policy_keys.n_keys; i++)
		fprintf(stderr, "  policy key %s\n", r->policy_keys.keys[i].keyid);
}

static int sr_check(const char *file)
{
	struct rp_err e;
	struct root r;
	char *buf = NULL;
	size_t len = 0;
	int rc = SR_FAIL;

	if (sign_read(file, ROOT_MAX_BYTES, &buf, &len, &e) < 0 ||
	    root_parse_payload(buf, len, &r, &e) < 0) {
		sr_fail(&e);
		goto out;
	}
	sr_summary(&r, "valid payload");
	root_free(&r);
	rc = 0;
out:
	free(buf);
	return rc;
}

static int sr_sign(const struct sr_opts *o, const char *file)
{
	struct rp_key keys[DSSE_MAX_SIGNATURES];
	struct rp_err e;
	struct root r;
	char *buf = NULL, *env = NULL;
	size_t len = 0, n = 0;
	int rc = SR_FAIL;

	if (o->n_keys == 0)
		return sr_usage("sign needs at least one --key");
	if (sign_read(file, ROOT_MAX_BYTES, &buf, &len, &e) < 0 ||
	    root_parse_payload(buf, len, &r, &e) < 0) {
		sr_fail(&e);
		goto out;
	}
	root_free(&r);
	for (n = 0; n < o->n_keys; n++)
		if (keys_load_private(&keys[n], o->keys[n], &e) < 0) {
			sr_fail(&e);
			goto out;
		}
	if (dsse_sign(buf, len, ROOT_TYPE, keys, n, &env, &e) < 0) {
		sr_fail(&e);
		goto out;
	}
	printf("%s\n", env);
	rc = fflush(stdout) == 0 ? 0 : SR_FAIL;
out:
	for (size_t i = 0; i < n; i++)
		keys_free(&keys[i]);
	free(env);
	free(buf);
	return rc;
}

static int sr_verify(const struct sr_opts *o, const char *file)
{
	struct rp_err e;
	struct root prev, r;
	char *a = NULL, *b = NULL;
	size_t la = 0, lb = 0;
	int rc = SR_FAIL;

	memset(&prev, 0, sizeof(prev));
	memset(&r, 0, sizeof(r));
	if (sign_read(file, ROOT_MAX_BYTES, &b, &lb, &e) < 0)
		goto fail;
	if (o->prev == NULL) {
		if (root_trust_first(b, lb, NULL, o->org, &r, &e) < 0)
			goto fail;
		sr_summary(&r, "a valid first root");
	} else {
		if (sign_read(o->prev, ROOT_MAX_BYTES, &a, &la, &e) < 0 ||
		    root_trust_first(a, la, NULL, o->org, &prev, &e) < 0 ||
		    root_verify_next(&prev, b, lb, &r, &e) < 0)
			goto fail;
		sr_summary(&r, "a valid next root");
	}
	printf("%s\n", r.sha256);
	rc = 0;
	goto out;
fail:
	sr_fail(&e);
out:
	root_free(&prev);
	root_free(&r);
	free(a);
	free(b);
	return rc;
}

static int sr_add(const char **v, size_t *n, size_t max, const char *s)
{
	if (*n >= max)
		return -1;
	v[(*n)++] = s;
	return 0;
}

static int sr_parse(int argc, char **argv, struct sr_opts *o)
{
	static const struct option lo[] = {{"org", required_argument, NULL, 'o'},
	                                   {"version", required_argument, NULL, 'v'},
	                                   {"expires", required_argument, NULL, 'e'},
	                                   {"root-key", required_argument, NULL, 'r'},
	                                   {"policy-key", required_argument, NULL, 'p'},
	                                   {"root-threshold", required_argument, NULL, 'R'},
	                                   {"policy-threshold", required_argument, NULL, 'P'},
	                                   {"key", required_argument, NULL, 'k'},
	                                   {"prev", required_argument, NULL, 'x'},
	                                   {"help", no_argument, NULL, 'h'},
	                                   {NULL, 0, NULL, 0}};
	int c, bad = 0;

	optind = 2; /* argv[0] "root", argv[1] the command */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->org = optarg;
			break;
		case 'v':
			o->version = strtoll(optarg, NULL, 10);
			break;
		case 'e':
			o->expires = optarg;
			break;
		case 'r':
			bad |= sr_add(o->root_keys, &o->n_root, KEYS_MAX_TRUSTED, optarg);
			break;
		case 'p':
			bad |= sr_add(o->policy_keys, &o->n_policy, KEYS_MAX_TRUSTED, optarg);
			break;
		case 'k':
			bad |= sr_add(o->keys, &o->n_keys, DSSE_MAX_SIGNATURES, optarg);
			break;
		case 'R':
			o->root_threshold = atoi(optarg);
			break;
		case 'P':
			o->policy_threshold = atoi(optarg);
			break;
		case 'x':
			o->prev = optarg;
			break;
		case 'h':
			fputs(sr_help, stdout);
			return 1;
		default:
			return -1;
		}
	}
	return bad ? -1 : 0;
}

int sign_root_main(int argc, char **argv)
{
	struct sr_opts o;
	const char *cmd = argc > 1 ? argv[1] : "";
	int r;

	memset(&o, 0, sizeof(o));
	o.root_threshold = o.policy_threshold = 1;
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(sr_help, stdout);
		return 0;
	}
	if ((r = sr_parse(argc, argv, &o)) != 0)
		return r > 0 ? 0 : sr_usage("bad option, or too many keys (at most 16)");
	if (strcmp(cmd, "new") == 0)
		return optind == argc ? sr_new(&o) : sr_usage("new takes no file");
	if (optind != argc - 1)
		return sr_usage("give exactly one file");
	if (strcmp(cmd, "check") == 0)
		return sr_check(argv[optind]);
	if (strcmp(cmd, "sign") == 0)
		return sr_sign(&o, argv[optind]);
	if (strcmp(cmd, "verify") == 0)
		return sr_verify(&o, argv[optind]);
	return sr_usage("unknown command (new, check, sign, verify)");
}
