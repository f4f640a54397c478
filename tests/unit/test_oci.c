/* SPDX-License-Identifier: ISC */
/*
 * oci:// URLs, the artifact manifest checks and the registry credentials
 * file: what is accepted, and that every refusal names its reason.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fetch.h"
#include "oci_ref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_url_accepted(void **state)
{
	struct oci_ref r;
	struct rp_err e;

	(void)state;
	assert_int_equal(oci_ref_parse("oci://Registry.Example.com/acme/policy:current", &r, &e),
	                 0);
	assert_string_equal(r.host, "registry.example.com");
	assert_int_equal(r.port, 0);
	assert_string_equal(r.repo, "acme/policy");
	assert_string_equal(r.tag, "current");
	assert_string_equal(r.digest, "");
	assert_int_equal(oci_ref_parse("oci://127.0.0.1:5000/a/b-c/d__e/f.g@sha256:" D64, &r, &e),
	                 0);
	assert_int_equal(r.port, 5000);
	assert_string_equal(r.repo, "a/b-c/d__e/f.g");
	assert_string_equal(r.digest, "sha256:" D64);
	assert_string_equal(r.tag, "");
	assert_int_equal(oci_ref_parse("oci://[::1]:443/x/y:V1.2_rc-1", &r, &e), 0);
	assert_string_equal(r.host, "[::1]");
	assert_string_equal(r.tag, "V1.2_rc-1");
	assert_true(oci_is_url("OCI://h/a:b"));
	assert_false(oci_is_url("https://h/a:b"));
}

static void test_url_refused(void **state)
{
	static const struct {
		const char *url, *why;
	} bad[] = {
	    {"oci://h/acme/policy", "tag or digest is missing"},
	    {"oci://h/Acme/policy:x", "lower-case"},
	    {"oci://h/acme//policy:x", "lower-case"},
	    {"oci://h/acme/policy/:x", "lower-case"},
	    {"oci://h/a..b:x", "lower-case"},
	    {"oci://h/a._b:x", "lower-case"},
	    {"oci://h/-a:x", "lower-case"},
	    {"oci://u:p@h/a:x", "user name or password"},
	    {"oci://h/a@sha256:abc", "64 lower-case hex"},
	    {"oci://h/a@sha256:" D64 "0", "64 lower-case hex"},
	    {"oci://h/a@sha512:" D64, "64 lower-case hex"},
	    {"oci://h:0/a:x", "port"},
	    {"oci://h:65536/a:x", "port"},
	    {"oci://h:/a:x", "port"},
	    {"oci://h/a:-x", "tag must be"},
	    {"oci://h/a:", "tag must be"},
	    {"oci:///a:x", "host"},
	    {"oci://h", "no repository"},
	    {"oci://h/a:x?y=1", "queries"},
	    {"oci://h/a:x#f", "queries"},
	    {"oci://h/a:x y", "spaces"},
	    {"oci://[::1%25lo]/a:x", "queries"},
	    {"oci://[zz]/a:x", "IPv6"},
	    {"https://h/a:x", "does not start with oci://"},
	};
	struct oci_ref r;
	struct rp_err e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&e, 0, sizeof(e));
		if (oci_ref_parse(bad[i].url, &r, &e) == 0 || strstr(e.msg, bad[i].why) == NULL) {
			fprintf(stderr, "%s: %s\n", bad[i].url, e.msg);
			fail();
		}
		assert_string_equal(e.code, "E_OCI_URL");
	}
}

#define LAYER(mt, dg, sz) "{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":" sz "}"
#define POLICY_LAYER LAYER(OCI_MT_POLICY, "sha256:" D64, "10")
#define MANIFEST(at, layers, repo)                                                                 \
	"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\",\"artifactType\":\"" at        \
	"\",\"config\":{\"mediaType\":\"" OCI_MT_EMPTY "\",\"digest\":\"sha256:" D64               \
	"\",\"size\":2},\"layers\":[" layers "],\"annotations\":{\"" OCI_ANN_REPOSITORY            \
	"\":\"" repo "\"}}"

static int parse(const char *m, const char *ct, struct oci_layer *l, struct rp_err *e)
{
	memset(e, 0, sizeof(*e));
	return oci_manifest_parse((const unsigned char *)m, strlen(m), ct, "acme/policy", 1000, l,
	                          e);
}

static void test_manifest_accepted(void **state)
{
	struct oci_layer l;
	struct rp_err e;

	(void)state;
	assert_int_equal(
	    parse(MANIFEST(OCI_ARTIFACT_TYPE, POLICY_LAYER, "acme/policy"), "", &l, &e), 0);
	assert_string_equal(l.digest, "sha256:" D64);
	assert_int_equal(l.size, 10);
	/* other layers (a root chain, later) are skipped */
	assert_int_equal(parse(MANIFEST(OCI_ARTIFACT_TYPE,
	                                LAYER("application/vnd.rampart.root+json", "sha256:" D64,
	                                      "5") "," POLICY_LAYER,
	                                "acme/policy"),
	                       OCI_MT_MANIFEST, &l, &e),
	                 0);
	assert_int_equal(l.size, 10);
}

static void test_manifest_refused(void **state)
{
	static const struct {
		const char *m, *ct, *code;
	} bad[] = {
	    {MANIFEST(OCI_ARTIFACT_TYPE, POLICY_LAYER, "acme/other"), "", "E_OCI_REPOSITORY"},
	    {MANIFEST("application/x", POLICY_LAYER, "acme/policy"), "", "E_OCI_MEDIA_TYPE"},
	    {MANIFEST(OCI_ARTIFACT_TYPE, LAYER("application/x", "sha256:" D64, "1"), "acme/policy"),
	     "", "E_OCI_MEDIA_TYPE"},
	    {MANIFEST(OCI_ARTIFACT_TYPE, POLICY_LAYER "," POLICY_LAYER, "acme/policy"), "",
	     "E_OCI_MANIFEST"},
	    {MANIFEST(OCI_ARTIFACT_TYPE, LAYER(OCI_MT_POLICY, "sha256:" D64, "1001"),
	              "acme/policy"),
	     "", "E_FETCH_TOO_LARGE"},
	    {MANIFEST(OCI_ARTIFACT_TYPE, LAYER(OCI_MT_POLICY, "sha256:" D64, "0"), "acme/policy"),
	     "", "E_OCI_MANIFEST"},
	    {MANIFEST(OCI_ARTIFACT_TYPE, LAYER(OCI_MT_POLICY, "sha256:XYZ", "3"), "acme/policy"),
	     "", "E_OCI_MANIFEST"},
	    {"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":[]}", "",
	     "E_OCI_INDEX"},
	    {"{\"schemaVersion\":2,\"manifests\":[]}", OCI_MT_DOCKER_LIST, "E_OCI_INDEX"},
	    {"{\"schemaVersion\":1}", "", "E_OCI_MANIFEST"},
	    {"[]", "", "E_OCI_MANIFEST"},
	    {"{\"a\":1,\"a\":2}", "", "E_OCI_MANIFEST"},
	};
	struct oci_layer l;
	struct rp_err e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].m, bad[i].ct, &l, &e) == 0 || strcmp(e.code, bad[i].code) != 0) {
			fprintf(stderr, "case %zu: %s %s\n", i, e.code, e.msg);
			fail();
		}
		assert_true(e.msg[0] != '\0');
	}
}

static void write_cred(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_credentials_file(void **state)
{
	char dir[] = "/tmp/rampart-oci-cred-XXXXXX", path[64];
	char *cred = NULL;
	struct rp_err e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cred", dir);
	write_cred(path, "robot:hunter2-secret\n", 0600);
	assert_int_equal(oci_read_credentials(path, &cred, &e), 0);
	assert_string_equal(cred, "robot:hunter2-secret");
	free(cred);
	write_cred(path, "robot:hunter2-secret\n", 0640); /* group can read: refused */
	assert_int_equal(oci_read_credentials(path, &cred, &e), -1);
	assert_string_equal(e.code, "E_FETCH_CREDENTIALS");
	assert_null(strstr(e.msg, "hunter2"));
	write_cred(path, "robot:hunter2-secret\n", 0604);
	assert_int_equal(oci_read_credentials(path, &cred, &e), -1);
	write_cred(path, "no-colon-hunter2\n", 0600);
	assert_int_equal(oci_read_credentials(path, &cred, &e), -1);
	assert_null(strstr(e.msg, "hunter2"));
	write_cred(path, "robot:two\nlines-hunter2\n", 0600);
	assert_int_equal(oci_read_credentials(path, &cred, &e), -1);
	assert_null(strstr(e.msg, "hunter2"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_accepted),      cmocka_unit_test(test_url_refused),
	    cmocka_unit_test(test_manifest_accepted), cmocka_unit_test(test_manifest_refused),
	    cmocka_unit_test(test_credentials_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
