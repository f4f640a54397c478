/* SPDX-License-Identifier: ISC */
/*
 * Policy download in a forked, unprivileged child (see docs/store.md).  The
 * child drops root, then execs the separate rampart-fetch helper, which alone
 * links libcurl (https only, size-capped, time-bounded) and sends a fixed
 * header plus the raw body over a pipe; nobody on that side parses the
 * policy.  The parent side is poll()-friendly and never loads libcurl.
 */
#ifndef RAMPART_FETCH_H
#define RAMPART_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "fetch_wire.h" /* FETCH_MAX_ETAG, FETCH_MAX_REDIRECTS */

#define FETCH_DEFAULT_MAX_BYTES (1u << 20)
#define FETCH_DEFAULT_CONNECT_MS 10000
#define FETCH_DEFAULT_TOTAL_MS 60000
#define FETCH_DEFAULT_LOW_SPEED_BYTES 1024
#define FETCH_DEFAULT_LOW_SPEED_S 15
#define FETCH_DEFAULT_USER "nobody"
#define FETCH_HELPER_NAME "rampart-fetch"

/*
 * What to fetch and how.  Strings may be NULL or "" for "not set".  Zero
 * numbers mean the defaults above; low_speed_bytes < 0 turns the low-speed
 * abort off.
 */
struct fetch_opts {
	const char *url;           /* https://...; http://127.0.0.1 or [::1] only with the flag */
	const char *etag;          /* sent as If-None-Match */
	const char *ca_file;       /* PEM bundle replacing the system CAs (read as root) */
	const char *pinned_pubkey; /* "sha256//<base64>[;sha256//...]" or a PEM/DER key file */
	const char *proxy;         /* explicit proxy; NULL/"" = none (environment ignored) */
	const char *user;          /* unprivileged user for the child; default "nobody" */
	const char *fetch_helper;  /* rampart-fetch, absolute; NULL/"" = fetch_helper_path() */
	size_t max_bytes;          /* body cap, enforced while downloading */
	long connect_timeout_ms;   /* TCP + TLS handshake */
	long total_timeout_ms;     /* whole transfer incl. redirects */
	long low_speed_bytes;      /* abort when slower than this many bytes/s ... */
	long low_speed_time_s;     /* ... for this many seconds */
	bool allow_insecure_loopback; /* allow http://127.0.0.1 and http://[::1] (tests) */
	const char *redirect_hosts;   /* comma-separated hosts redirects may go to besides the
	                                 URL's own; NULL/"" = the URL's host only */
	/* oci:// sources only */
	const char *registry_credentials; /* root-only file "user:password"; NULL = anonymous */
	const char *blob_redirect_hosts;  /* hosts a blob may be redirected to, ',' joined */
};

enum fetch_status {
	FETCH_OK = 0,           /* 200 with a body */
	FETCH_NOT_MODIFIED = 1, /* 304 to our If-None-Match */
};

struct fetch_result {
	enum fetch_status status;
	long http_code;
	unsigned char *body; /* malloc'd, NUL-terminated (not counted); NULL if not modified */
	size_t body_len;
	char etag[FETCH_MAX_ETAG + 1]; /* ETag of the response, "" if none or unusable */
	uid_t child_uid;               /* credentials the helper ran libcurl with */
	gid_t child_gid;
	unsigned requests;           /* HTTP requests the helper made */
	unsigned long long bytes_in; /* header + body bytes it received */
};

/*
 * One fetch in progress.  A zeroed or fetch_job_init()ed job is idle;
 * fetch_finish() and fetch_abort() make it idle again.  fetch_start() must
 * only be given an idle job (it does not stop a running child).
 */
struct fetch_job {
	pid_t pid;             /* child, -1 when none */
	int fd;                /* non-blocking read end: poll for POLLIN; -1 when none */
	long long deadline_ms; /* CLOCK_MONOTONIC backstop, see fetch_timeout_ms() */
	size_t max_bytes;
	char *helper;       /* path of the helper, for messages */
	unsigned char *hdr; /* fixed-size wire header being read */
	size_t hdr_got;
	unsigned char *body;
	size_t body_len, body_got;
	int state; /* internal */
	int read_errno;
};

void fetch_job_init(struct fetch_job *job);

/*
 * Reads and parses what a fetch will need before one is due, as fetch_start
 * does: ca_file must hold a PEM certificate, pinned_pubkey must be a pin or a
 * key file (either may be NULL or "").  For --check-config and reload, so a
 * missing file is refused there rather than at the next refresh.  0, or -1
 * with E_CONFIG naming the field.
 */
int fetch_check_trust_files(const char *ca_file, const char *pinned_pubkey, struct rp_err *err);

/*
 * Validates opts (URL scheme and host, ETag), reads the CA file and pinned
 * key as the caller (root), looks up the user, opens and checks the helper
 * (regular file, owned by root, not writable by group or others: else
 * E_FETCH_HELPER), writes the options record and forks the child, which drops
 * privileges and execs that very file.  On success job->fd is ready for
 * poll().  Returns 0 or -1 (err filled, nothing left running).  The caller
 * keeps o's strings only until this returns.
 */
int fetch_start(const struct fetch_opts *o, struct fetch_job *job, struct rp_err *err);

/*
 * Call when job->fd is readable (or on POLLHUP/POLLERR).  Reads what is
 * there, never more than the header plus max_bytes.  Returns 0 when more is
 * to come, 1 when the child is done (call fetch_finish), -1 on a read error
 * or malformed output (call fetch_finish for the reason).
 */
int fetch_on_readable(struct fetch_job *job);

/*
 * Milliseconds until the parent-side backstop deadline (total timeout plus a
 * grace period), 0 when it has passed: then call fetch_abort().
 */
int fetch_timeout_ms(const struct fetch_job *job);

/*
 * Reaps the child and decodes its answer.  Returns 0 with res->status
 * FETCH_OK (body) or FETCH_NOT_MODIFIED, or -1 with err: E_FETCH_TIMEOUT,
 * E_FETCH_TOO_LARGE, E_FETCH_HTTP, E_FETCH_TLS, E_FETCH_PROTOCOL (redirect to
 * a refused scheme), E_FETCH_REDIRECT, E_FETCH_CONNECT, E_FETCH_NETWORK,
 * E_FETCH_PRIV, E_FETCH_HELPER (the helper could not be executed),
 * E_FETCH_URL (libcurl in the helper reads the URL differently),
 * E_FETCH_CHILD, and for oci:// sources E_OCI_MANIFEST, E_OCI_INDEX,
 * E_OCI_MEDIA_TYPE, E_OCI_DIGEST, E_OCI_PIN, E_OCI_REPOSITORY, E_OCI_AUTH,
 * E_OCI_REDIRECT, E_OCI_HTTP (fetch_wire.h).  The job is released either way.  On failure
 * res->http_code still holds the server's status code (0 when none was received).
 */
int fetch_finish(struct fetch_job *job, struct fetch_result *res, struct rp_err *err);

/*
 * The two halves of the answer parser without a child, for the fuzz harness
 * (tests/fuzz): fetch_job_read_from() makes job read an answer from fd (which
 * it then owns; no child to reap), and fetch_finish_status() is
 * fetch_finish() with the child's wait status st given instead of reaped.
 * fetch_job_read_from returns 0, or -1 out of memory (fd not taken).
 */
int fetch_job_read_from(struct fetch_job *job, int fd, size_t max_bytes);
int fetch_finish_status(struct fetch_job *job, int st, struct fetch_result *res,
                        struct rp_err *err);

/* Kills and reaps the child and releases the job.  Safe on an idle job. */
void fetch_abort(struct fetch_job *job);

/* Blocking fetch_start + poll loop + fetch_finish, for tools and tests. */
int fetch_run(const struct fetch_opts *o, struct fetch_result *res, struct rp_err *err);

void fetch_result_free(struct fetch_result *res);

/*
 * Checks a policy URL: https with a host, or http whose host is exactly
 * 127.0.0.1 or [::1] when allow_insecure_loopback; no user info, no spaces,
 * host a plain name or a bracketed IPv6 literal, port 1-65535.  A narrow
 * parser of our own (the daemon has no libcurl); the helper re-parses the URL
 * with libcurl and refuses if scheme or host differ.  Returns 0 or -1 with
 * E_FETCH_URL.
 */
int fetch_check_url(const char *url, bool allow_insecure_loopback, struct rp_err *err);

/*
 * The helper fetch_start() runs: configured if not NULL/"", else the first
 * that exists of "<directory of the running executable>/rampart-fetch" (a
 * build tree) and "<that directory>/../libexec/rampart/rampart-fetch" (an
 * install under any prefix or staging root), else the compiled-in
 * RAMPART_LIBEXECDIR "/rampart/rampart-fetch".  Only resolves the path; the
 * checks happen in fetch_start().
 */
void fetch_helper_path(const char *configured, char *out, size_t size);

/*
 * The child's privilege drop, exposed for tests: setgroups(0), setresgid,
 * setresuid to uid/gid (never 0), then verifies real/effective/saved ids,
 * no supplementary groups, and that setuid(0)/setgid(0) fail; sets
 * no_new_privs and non-dumpable where available.  Returns 0 or -1 (E_FETCH_PRIV).
 * Irreversible: call only in a child.
 */
int fetch_drop_privileges(uid_t uid, gid_t gid, struct rp_err *err);

#endif
