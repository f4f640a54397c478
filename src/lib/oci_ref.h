/* SPDX-License-Identifier: ISC */
/*
 * oci://HOST[:PORT]/REPO:TAG and oci://HOST[:PORT]/REPO@sha256:HEX, the OCI
 * registry form of policy.url, and the two OCI manifests rampart reads: the
 * artifact manifest that names the signed policy layer, and nothing else.
 * Pure parsing, no I/O: shared by rampartd (config and URL check), the
 * unprivileged rampart-fetch helper and rampart-sign publish.
 */
#ifndef RAMPART_OCI_REF_H
#define RAMPART_OCI_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define OCI_SCHEME "oci://"
#define OCI_MAX_HOST 255
#define OCI_MAX_REPO 255
#define OCI_MAX_TAG 128
#define OCI_DIGEST_LEN 71 /* "sha256:" + 64 hex */
#define OCI_MAX_MANIFEST (64u * 1024)
#define OCI_MAX_CRED 1024 /* "user:password" */

#define OCI_MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MT_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define OCI_MT_EMPTY "application/vnd.oci.empty.v1+json"
#define OCI_ARTIFACT_TYPE "application/vnd.rampart.policy"
#define OCI_MT_POLICY "application/vnd.rampart.policy.dsse+json"
/* The manifest names the repository it was published to (see docs/fleet.md). */
#define OCI_ANN_REPOSITORY "vnd.rampart.policy.repository"

struct oci_ref {
	char host[OCI_MAX_HOST + 1]; /* name, IPv4 or [IPv6], without the port */
	int port;                    /* 0 = default (443) */
	char repo[OCI_MAX_REPO + 1];
	char tag[OCI_MAX_TAG + 1];       /* "" when pinned by digest */
	char digest[OCI_DIGEST_LEN + 1]; /* "" when by tag */
};

/* 1 if url starts with "oci://" (any case for the scheme). */
bool oci_is_url(const char *url);

/*
 * Parses an oci:// URL.  REPO is lower-case path components of [a-z0-9] joined
 * by '.', '_', '__' or '-' runs and separated by '/' (the distribution spec's
 * grammar); TAG is [A-Za-z0-9_][A-Za-z0-9._-]{0,127}; a digest is sha256:
 * followed by 64 lower-case hex digits.  No user info, query or fragment.
 * Returns 0 or -1 with E_OCI_URL and a sentence saying what is wrong.
 */
int oci_ref_parse(const char *url, struct oci_ref *r, struct rp_err *err);

/* 1 if s is "sha256:" + 64 lower-case hex digits. */
bool oci_digest_valid(const char *s);

/* Clears a secret so the compiler cannot drop the stores (macOS has no explicit_bzero). */
void oci_wipe(void *p, size_t n);

/*
 * Reads a registry credentials file (src/lib/oci_cred.c): a regular file owned
 * by root or the caller's euid that neither group nor others can read or
 * write, holding one line "user:password".  Errors (E_FETCH_CREDENTIALS)
 * never quote the contents.  *out is malloc'd; oci_wipe and free it.
 */
int oci_read_credentials(const char *path, char **out, struct rp_err *err);

/* What oci_manifest_parse() found: the one policy layer. */
struct oci_layer {
	char digest[OCI_DIGEST_LEN + 1];
	unsigned long long size;
};

/*
 * Checks an artifact manifest (untrusted bytes from the registry) and selects
 * the policy layer: an OCI image manifest (schemaVersion 2) whose artifactType
 * (or config.mediaType) is application/vnd.rampart.policy, with exactly one
 * layer of media type application/vnd.rampart.policy.dsse+json, a valid
 * sha256 digest and a size of 1..max_size, and whose repository annotation
 * names repo.  content_type is the response's Content-Type ("" if none).
 * Errors: E_OCI_INDEX (a manifest list or image index), E_OCI_MANIFEST
 * (malformed, another manifest type, ambiguous layers), E_OCI_MEDIA_TYPE
 * (not a rampart policy artifact, no policy layer), E_OCI_REPOSITORY (the
 * manifest names another repository), E_FETCH_TOO_LARGE (layer above max_size).
 */
int oci_manifest_parse(const unsigned char *buf, size_t len, const char *content_type,
                       const char *repo, unsigned long long max_size, struct oci_layer *out,
                       struct rp_err *err);

#endif
