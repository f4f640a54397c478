/* SPDX-License-Identifier: ISC */
/*
 * rampart-sign publish: pushes a signed envelope to an OCI registry as a
 * rampart policy artifact (blob uploads, then the manifest PUT), so an admin
 * needs no other tool.  Runs as the invoking user; trusts the files named on
 * the command line and nothing the registry sends (its Location headers are
 * followed only on the same host).  The registry is transport: rampartd
 * verifies the signatures, so publishing cannot widen a policy.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "dsse.h"
#include "fetch_wire.h"
#include "oci_client.h"
#include "publish.h"

#define PUB_MAX_ENVELOPE (16u << 20)

struct pub_opts {
	const char *file, *url, *cred_file, *ca_file;
	bool insecure, quiet;
};

static void pub_usage(FILE *f)
{
	fprintf(
	    f, "usage: rampart-sign publish [--credentials FILE] [--ca-file PEM] "
	       "[--insecure-loopback]\n"
	       "                            ENVELOPE.json oci://HOST[:PORT]/REPOSITORY:TAG\n"
	       "\n"
	       "Pushes a signed policy envelope to an OCI registry as an artifact\n"
	       "(artifactType " OCI_ARTIFACT_TYPE ", one layer " OCI_MT_POLICY ")\n"
	       "and prints the manifest digest and the pinned oci:// URL.\n"
	       "\n"
	       "  -u, --credentials FILE   one line USER:PASSWORD (basic auth or the token realm)\n"
	       "      --ca-file PEM        CA bundle for the registry instead of the system CAs\n"
	       "      --insecure-loopback  plain http to 127.0.0.1 or [::1] (tests only)\n"
	       "  -q, --quiet              print only the digest\n"
	       "  -h, --help               this text\n"
	       "\n"
	       "Exit status: 0 published, 1 failure (message on stderr), 2 usage error.\n"
	       "See docs/fleet.md (and the same push with plain curl).\n");
}

static int pub_err(const char *code, const char *msg)
{
	fprintf(stderr, "rampart-sign publish: %s: %s\n", code, msg);
	return 1;
}

static int pub_read(const char *path, size_t max, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n;

	if (f == NULL)
		return -1;
	if ((b = malloc(max + 1)) != NULL) {
		n = fread(b, 1, max + 1, f);
		if (!ferror(f) && n <= max && n > 0) {
			b[n] = '\0';
			*buf = b;
			*len = n;
			fclose(f);
			return 0;
		}
	}
	free(b);
	fclose(f);
	return -1;
}

/* The manifest: deterministic bytes, so the same envelope always has the same digest. */
static char *pub_manifest(const struct oci_ref *ref, const char *layer_digest, size_t layer_len,
                          const char *cfg_digest)
{
	json_t *m =
	    json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:i}, s:[{s:s, s:s, s:I}], s:{s:s}}",
	              "schemaVersion", 2, "mediaType", OCI_MT_MANIFEST, "artifactType",
	              OCI_ARTIFACT_TYPE, "config", "mediaType", OCI_MT_EMPTY, "digest", cfg_digest,
	              "size", 2, "layers", "mediaType", OCI_MT_POLICY, "digest", layer_digest,
	              "size", (json_int_t)layer_len, "annotations", OCI_ANN_REPOSITORY, ref->repo);
	char *s = m != NULL ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(m);
	return s;
}

/* Same-host upload URLs only: the Location must not take our credentials elsewhere. */
static int pub_upload_path(struct oci_session *s, const char *loc, char *out, size_t size)
{
	size_t bl = strlen(s->base);
	const char *p = loc;

	if (strncasecmp(loc, s->base, bl) == 0 && loc[bl] == '/')
		p = loc + bl;
	else if (loc[0] != '/' || loc[1] == '/')
		return oci_fail(s, FWO_REDIRECT,
		                "the registry's upload Location is on another host; not followed");
	if (strlen(p) + 80 >= size)
		return oci_fail(s, FWO_REDIRECT, "the upload Location is too long");
	memcpy(out, p, strlen(p) + 1);
	return 0;
}

/* HEAD the blob; upload it (POST, then PUT ?digest=) when the registry lacks it. */
static int pub_blob(struct oci_session *s, const void *buf, size_t len, const char *digest)
{
	char path[OCI_MAX_LOCATION + 128];
	struct oci_resp r = {0};
	struct curl_slist *h = NULL;
	int ret = -1;

	snprintf(path, sizeof(path), "/v2/%s/blobs/%s", s->ref.repo, digest);
	if (oci_call(s, "HEAD", path, NULL, NULL, 0, 0, &r) < 0)
		goto out;
	if (r.status == 200) {
		ret = 0;
		goto out;
	}
	snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", s->ref.repo);
	if (oci_call(s, "POST", path, NULL, "", 0, 64 * 1024, &r) < 0)
		goto out;
	if (r.status != 202 || r.location[0] == '\0') {
		oci_fail(s, FWO_HTTP, "starting the upload: HTTP %ld (want 202 with a Location)",
		         r.status);
		goto out;
	}
	if (pub_upload_path(s, r.location, path, sizeof(path)) < 0)
		goto out;
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "%sdigest=%s",
	         strchr(path, '?') ? "&" : "?", digest);
	h = curl_slist_append(NULL, "Content-Type: application/octet-stream");
	if (oci_call(s, "PUT", path, h, buf, len, 64 * 1024, &r) < 0)
		goto out;
	if (r.status != 201) {
		oci_fail(s, FWO_HTTP, "uploading blob %s: HTTP %ld (want 201)", digest, r.status);
		goto out;
	}
	ret = 0;
out:
	curl_slist_free_all(h);
	oci_resp_free(&r);
	return ret;
}

static int pub_manifest_put(struct oci_session *s, const char *man, char *digest)
{
	char path[OCI_MAX_REPO + OCI_MAX_TAG + 32];
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: " OCI_MT_MANIFEST);
	struct oci_resp r = {0};
	int ret = -1;

	oci_sha256(man, strlen(man), digest);
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", s->ref.repo,
	         s->ref.tag[0] ? s->ref.tag : s->ref.digest);
	if (oci_call(s, "PUT", path, h, man, strlen(man), 64 * 1024, &r) < 0)
		goto out;
	if (r.status != 201)
		oci_fail(s, FWO_HTTP, "putting the manifest: HTTP %ld (want 201)", r.status);
	else if (r.digest[0] != '\0' && strcmp(r.digest, digest) != 0)
		oci_fail(s, FWO_DIGEST, "the registry stored the manifest as %s, we sent %s",
		         r.digest, digest);
	else
		ret = 0;
out:
	curl_slist_free_all(h);
	oci_resp_free(&r);
	return ret;
}

static int pub_push(const struct pub_opts *o, const struct oci_ref *ref, struct oci_net *net,
                    const char *env, size_t env_len)
{
	static const char empty[] = "{}";
	char ldig[OCI_DIGEST_LEN + 1], cdig[OCI_DIGEST_LEN + 1], mdig[OCI_DIGEST_LEN + 1];
	struct oci_session s;
	char *man = NULL;
	int ret = 1;

	oci_sha256(env, env_len, ldig);
	oci_sha256(empty, 2, cdig);
	if ((man = pub_manifest(ref, ldig, env_len, cdig)) == NULL)
		return pub_err("E_NOMEM", "out of memory");
	if (oci_session_init(&s, ref, net, "pull,push") < 0 || pub_blob(&s, empty, 2, cdig) < 0 ||
	    pub_blob(&s, env, env_len, ldig) < 0 || pub_manifest_put(&s, man, mdig) < 0) {
		pub_err(s.fwo >= 0 ? fetch_wire_oci_code[s.fwo] : "E_FETCH_NETWORK", s.text);
		goto out;
	}
	if (o->quiet) {
		printf("%s\n", mdig);
	} else {
		char port[16] = "";
		if (ref->port > 0)
			snprintf(port, sizeof(port), ":%d", ref->port);
		printf("published %s (%zu bytes, layer %s)\npinned: oci://%s%s/%s@%s\n", mdig,
		       env_len, ldig, ref->host, port, ref->repo, mdig);
	}
	ret = 0;
out:
	oci_session_free(&s);
	free(man);
	return ret;
}

static int pub_args(int argc, char **argv, struct pub_opts *o)
{
	static const struct option lopts[] = {
	    {"credentials", required_argument, NULL, 'u'},
	    {"ca-file", required_argument, NULL, 'C'},
	    {"insecure-loopback", no_argument, NULL, 'I'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "u:qh", lopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			o->cred_file = optarg;
			break;
		case 'C':
			o->ca_file = optarg;
			break;
		case 'I':
			o->insecure = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			pub_usage(stdout);
			return 1;
		default:
			return -1;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "rampart-sign publish: needs ENVELOPE.json and an oci:// URL "
		                "(see rampart-sign publish --help)\n");
		return -1;
	}
	o->file = argv[optind];
	o->url = argv[optind + 1];
	return 0;
}

/* The envelope must at least be one: a DSSE envelope rampartd could verify. */
static int pub_check_envelope(const char *buf, size_t len)
{
	struct dsse_envelope env;
	struct rp_err e;

	if (dsse_parse(buf, len, &env, &e) < 0)
		return pub_err(e.code, e.msg);
	dsse_envelope_free(&env);
	return 0;
}

static int pub_net(const struct pub_opts *o, const struct oci_ref *ref, struct oci_net *n,
                   char **cred, char **ca)
{
	struct rp_err e;
	size_t ca_len = 0;

	memset(n, 0, sizeof(*n));
	n->insecure = o->insecure;
	if (o->insecure && strcmp(ref->host, "127.0.0.1") != 0 && strcmp(ref->host, "[::1]") != 0)
		return pub_err("E_OCI_URL",
		               "--insecure-loopback is only for 127.0.0.1 and [::1]; use https");
	if (o->cred_file != NULL && oci_read_credentials(o->cred_file, cred, &e) < 0)
		return pub_err(e.code, e.msg);
	if (o->ca_file != NULL && pub_read(o->ca_file, 4u << 20, ca, &ca_len) < 0)
		return pub_err("E_INPUT", "cannot read the --ca-file");
	n->cred = *cred;
	n->ca = *ca;
	n->ca_len = ca_len;
	n->connect_ms = 10000;
	n->total_ms = 120000;
	n->user_agent = "rampart-sign/" RAMPART_VERSION;
	return 0;
}

int publish_main(int argc, char **argv)
{
	struct pub_opts o = {0};
	struct oci_ref ref;
	struct oci_net net;
	struct rp_err e;
	char *env = NULL, *cred = NULL, *ca = NULL;
	size_t env_len = 0;
	int rc;

	if ((rc = pub_args(argc, argv, &o)) != 0)
		return rc > 0 ? 0 : 2;
	if (oci_ref_parse(o.url, &ref, &e) < 0)
		return pub_err(e.code, e.msg);
	if (ref.tag[0] == '\0')
		return pub_err("E_OCI_URL", "publish needs a tag (oci://HOST/REPO:TAG); a digest "
		                            "is what publishing prints");
	if (pub_read(o.file, PUB_MAX_ENVELOPE, &env, &env_len) < 0) {
		fprintf(stderr, "rampart-sign publish: E_INPUT: cannot read %s: %s\n", o.file,
		        errno ? strerror(errno) : "empty or too large");
		return 1;
	}
	rc = pub_check_envelope(env, env_len);
	if (rc == 0)
		rc = pub_net(&o, &ref, &net, &cred, &ca);
	if (rc == 0) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = pub_push(&o, &ref, &net, env, env_len);
	}
	if (cred != NULL) {
		oci_wipe(cred, strlen(cred));
		free(cred);
	}
	free(ca);
	free(env);
	return rc;
}
