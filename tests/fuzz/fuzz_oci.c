/* SPDX-License-Identifier: ISC */
/*
 * Fuzz target for the OCI parsers: the oci:// URL (config) and the artifact
 * manifest (untrusted registry bytes, parsed in rampart-fetch).  Byte 0 picks
 * the parser; properties: a parsed URL has a valid repository and exactly one
 * of tag or digest, and prints back to an equivalent URL; an accepted
 * manifest names a valid sha256 digest and a size within the cap.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "oci_ref.h"

#define FUZZ_OCI_CHECK(cond)                                                                       \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail("oci", #cond);                                                   \
	} while (0)

static void fuzz_oci_url(const uint8_t *d, size_t n)
{
	struct oci_ref a, b;
	struct rp_err e;
	char *s = malloc(n + 1), again[1024];

	if (s == NULL)
		return;
	memcpy(s, d, n);
	s[n] = '\0';
	if (oci_ref_parse(s, &a, &e) == 0) {
		FUZZ_OCI_CHECK((a.tag[0] != '\0') != (a.digest[0] != '\0'));
		FUZZ_OCI_CHECK(a.repo[0] != '\0' && a.host[0] != '\0');
		FUZZ_OCI_CHECK(a.digest[0] == '\0' || oci_digest_valid(a.digest));
		if (a.port > 0)
			snprintf(again, sizeof(again), "oci://%s:%d/%s%s%s", a.host, a.port, a.repo,
			         a.tag[0] ? ":" : "@", a.tag[0] ? a.tag : a.digest);
		else
			snprintf(again, sizeof(again), "oci://%s/%s%s%s", a.host, a.repo,
			         a.tag[0] ? ":" : "@", a.tag[0] ? a.tag : a.digest);
		FUZZ_OCI_CHECK(oci_ref_parse(again, &b, &e) == 0);
		FUZZ_OCI_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	} else {
		FUZZ_OCI_CHECK(strcmp(e.code, "E_OCI_URL") == 0 && e.msg[0] != '\0');
	}
	free(s);
}

static void fuzz_oci_manifest(const uint8_t *d, size_t n, unsigned long long max)
{
	static const char *const codes[] = {"E_OCI_INDEX", "E_OCI_MANIFEST", "E_OCI_MEDIA_TYPE",
	                                    "E_OCI_REPOSITORY", "E_FETCH_TOO_LARGE"};
	struct oci_layer l;
	struct rp_err e;
	bool known = false;

	if (oci_manifest_parse(d, n, "", "acme/policy", max, &l, &e) == 0) {
		FUZZ_OCI_CHECK(oci_digest_valid(l.digest));
		FUZZ_OCI_CHECK(l.size >= 1 && l.size <= max);
		return;
	}
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		known |= strcmp(e.code, codes[i]) == 0;
	FUZZ_OCI_CHECK(known && e.msg[0] != '\0');
}

int fuzz_oci(const uint8_t *d, size_t n)
{
	if (n < 1 || n > OCI_MAX_MANIFEST + 1)
		return 0;
	if (d[0] & 1)
		fuzz_oci_url(d + 1, n - 1);
	else
		fuzz_oci_manifest(d + 1, n - 1, 1u << 20);
	return 0;
}
