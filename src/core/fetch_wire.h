/* SPDX-License-Identifier: ISC */
/*
 * The two records exchanged between rampartd (src/core/fetch.c, root) and
 * the exec'd fetch helper (src/fetch/rampart_fetch.c, unprivileged): the
 * options the parent writes to fd 4 before the fork, and the answer the
 * helper writes to fd 3.  Both ends are built from this header in the same
 * build, so the records are plain fixed-size structs; the helper trusts the
 * options (they come from root), the parent checks every field of the answer.
 */
#ifndef RAMPART_FETCH_WIRE_H
#define RAMPART_FETCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define FETCH_WIRE_FD 3              /* answer: helper -> parent (pipe) */
#define FETCH_OPTS_FD 4              /* options: parent -> helper (memfd or unlinked temp file) */
#define FETCH_WIRE_MAGIC 0x72706633u /* "rpf3": oci fields and redirect hosts */
#define FETCH_OPTS_MAGIC 0x72706f34u /* "rpo4": redirect hosts after the oci fields */
#define FETCH_HELPER_ARG "--fetch-child" /* argv[1] of the exec'd helper */

#define FETCH_MAX_REDIRECTS 3
#define FETCH_MAX_ETAG 255
#define FETCH_MAX_URL 8192
#define FETCH_MAX_HOST 1024
#define FETCH_MAX_CA_FILE (4u << 20)
#define FETCH_MAX_PIN 1024
#define FETCH_MAX_CRED 1024       /* "user:password" from policy.registry_credentials */
#define FETCH_MAX_BLOB_HOSTS 2048 /* policy.blob_redirect_hosts, joined by ',' */
#define FETCH_MAX_OPTS (FETCH_MAX_CA_FILE + 5 * FETCH_MAX_URL)

/* Outcome reported by the helper (or by the forked child before the exec). */
enum fetch_wire_kind {
	FW_OK = 1,
	FW_NOT_MODIFIED,
	FW_HTTP,      /* unexpected HTTP status */
	FW_TOO_LARGE, /* body cap hit */
	FW_CURL,      /* libcurl error: curl_code, err_class + text */
	FW_PRIV,      /* privilege drop failed, or the helper found itself privileged */
	FW_SETUP,     /* libcurl could not be set up, or the options record was bad */
	FW_EXEC,      /* the helper could not be executed */
	FW_URL,       /* libcurl reads the URL differently from the parent's check */
	FW_OCI,       /* the registry's answer was refused: err_class is a fetch_wire_oci */
	FW_KIND_MAX
};

/* What a libcurl error means, decided in the helper (the parent has no curl.h). */
enum fetch_wire_class {
	FWC_NETWORK = 0,
	FWC_TIMEOUT,
	FWC_PROTOCOL,      /* refused scheme (redirect to http:, file:, ...) */
	FWC_REDIRECT,      /* too many redirects */
	FWC_CONNECT,       /* resolve / connect failed */
	FWC_TLS,           /* certificate, pin or handshake */
	FWC_REDIRECT_HOST, /* a redirect to a host neither the URL's nor listed */
	FWC_MAX
};

/*
 * Why an OCI registry's answer was refused (FW_OCI), and the stable code the
 * parent reports for it.  The helper picks the row; the text it sends is made
 * of fixed sentences and values it validated (digests, status codes), never
 * of server text or credentials.
 */
enum fetch_wire_oci {
	FWO_MANIFEST = 0, /* malformed or unsupported manifest */
	FWO_INDEX,        /* a manifest list / image index */
	FWO_MEDIA_TYPE,   /* not a rampart policy artifact, no policy layer */
	FWO_DIGEST,       /* blob or manifest bytes do not match their digest */
	FWO_PIN,          /* the manifest is not the pinned digest */
	FWO_REPOSITORY,   /* the manifest names another repository */
	FWO_AUTH,         /* credentials needed, refused, or an auth loop */
	FWO_REDIRECT,     /* a redirect the config does not allow */
	FWO_HTTP,         /* unexpected HTTP status from the registry */
	FWO_TOO_LARGE,    /* the layer is above policy.max_bytes */
	FWO_MAX
};

static const char *const fetch_wire_oci_code[FWO_MAX] = {
    [FWO_MANIFEST] = "E_OCI_MANIFEST",
    [FWO_INDEX] = "E_OCI_INDEX",
    [FWO_MEDIA_TYPE] = "E_OCI_MEDIA_TYPE",
    [FWO_DIGEST] = "E_OCI_DIGEST",
    [FWO_PIN] = "E_OCI_PIN",
    [FWO_REPOSITORY] = "E_OCI_REPOSITORY",
    [FWO_AUTH] = "E_OCI_AUTH",
    [FWO_REDIRECT] = "E_OCI_REDIRECT",
    [FWO_HTTP] = "E_OCI_HTTP",
    [FWO_TOO_LARGE] = "E_FETCH_TOO_LARGE",
};

struct fetch_wire {
	uint32_t magic;
	uint32_t kind;
	int32_t http_code;
	int32_t curl_code;
	uint32_t uid, gid; /* effective ids the answer was produced with */
	uint64_t body_len; /* this many body bytes follow, then EOF */
	uint32_t err_class;
	uint32_t requests; /* HTTP requests made (each redirect hop and auth step counts) */
	uint64_t bytes_in; /* header + body bytes received over all of them */
	char etag[FETCH_MAX_ETAG + 1];
	char text[256];
};

/* FOS_REDIRECT: hosts redirects may lead to besides the URL's own, comma-separated */
enum fetch_opts_str {
	FOS_URL = 0,
	FOS_HOST,
	FOS_ETAG,
	FOS_PROXY,
	FOS_CA,
	FOS_PIN,
	FOS_CRED,       /* oci: "user:password", for basic auth or the token realm */
	FOS_BLOB_HOSTS, /* oci: hosts a blob may be redirected to, joined by ',' */
	FOS_REDIRECT,
	FOS_N
};

#define FETCH_OPT_INSECURE 1u /* http:// to a literal loopback address (tests) */
#define FETCH_OPT_OCI 2u      /* FOS_URL is oci://: speak the distribution API */

/*
 * The options record: this header, then the FOS_N strings back to back
 * (len[i] bytes each, no terminators; 0 = not set).  The record is exactly
 * sizeof(header) + sum(len) bytes.
 */
struct fetch_wire_opts {
	uint32_t magic;
	uint32_t flags;
	uint64_t max_bytes;
	int64_t connect_ms, total_ms, low_bytes, low_s;
	uint32_t len[FOS_N];
	uint32_t reserved;
};

static const uint32_t fetch_opts_max_len[FOS_N] = {
    [FOS_URL] = FETCH_MAX_URL,      [FOS_HOST] = FETCH_MAX_HOST,
    [FOS_ETAG] = FETCH_MAX_ETAG,    [FOS_PROXY] = FETCH_MAX_URL,
    [FOS_CA] = FETCH_MAX_CA_FILE,   [FOS_PIN] = FETCH_MAX_PIN,
    [FOS_CRED] = FETCH_MAX_CRED,    [FOS_BLOB_HOSTS] = FETCH_MAX_BLOB_HOSTS,
    [FOS_REDIRECT] = FETCH_MAX_URL,
};

/* 1 if s[0..n) is printable ASCII (0x20..0x7e) and n <= max. */
static inline int fetch_wire_printable(const char *s, size_t n, size_t max)
{
	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

#endif
