/* SPDX-License-Identifier: ISC */
/*
 * librampart client: talk to rampartd over its UNIX socket.
 *
 * A request is {"op": NAME, "id": N, "args": {...}}; a reply is
 * {"ok": true, "id": N, "result": {...}} or
 * {"ok": false, "id": N, "error": {"code": "E_...", "message": "..."}}.
 * Frames are a 4-byte big-endian length followed by the JSON text (max 64 KiB).
 * The ops, their arguments, replies and who may call each are in docs/ops.md.
 *
 * Authorisation: the daemon decides from the kernel-reported credentials of
 * the connecting process (uid, gid, groups), fixed when the connection is
 * accepted.  Nothing a client sends can claim another identity.
 *
 * Errors: every function that can fail fills a caller-provided struct
 * rampart_error (err may be NULL when the caller does not want the text).
 * Codes are stable strings: E_UNREACHABLE (no daemon, or the connection
 * broke), E_PROTO (the reply was not valid rampart framing/JSON), E_NOMEM,
 * E_ARGS, E_TOO_BIG, or the daemon's own code (E_PERM, E_PORT_DENIED, ...).
 *
 * Memory: a struct rampart_client is owned by the caller from
 * rampart_connect() until rampart_close().  Reply text returned by
 * rampart_request() is malloc'd and must be freed with free().  File
 * descriptors received from the daemon belong to the caller.
 *
 * Thread-safety: a struct rampart_client is not thread-safe; use one per
 * thread or serialise calls.  Distinct clients may be used from distinct
 * threads at the same time.  No function keeps global state.
 *
 * Signals: the library never installs signal handlers.  Writes use
 * MSG_NOSIGNAL where the platform has it (SO_NOSIGPIPE elsewhere), so a
 * daemon that goes away gives E_UNREACHABLE, not SIGPIPE.
 */
#ifndef RAMPART_CLIENT_H
#define RAMPART_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "policy.h" /* struct rampart_decision */

#define RAMPART_DEFAULT_SOCKET "/var/run/rampart.sock"

/* Exit codes used by the rampart CLI (and a good convention for callers). */
enum rampart_exit {
	RAMPART_EXIT_OK = 0,
	RAMPART_EXIT_REFUSED = 1,     /* refused, denied, or the op failed */
	RAMPART_EXIT_USAGE = 2,       /* bad command line or invalid input */
	RAMPART_EXIT_UNREACHABLE = 3, /* daemon not reachable */
};

struct rampart_error {
	char code[40];     /* stable code, e.g. "E_PERM", "E_UNREACHABLE" */
	char message[512]; /* a sentence for people */
};

struct rampart_client;

/*
 * Connects to the daemon's socket.
 *   socket_path: NULL for RAMPART_DEFAULT_SOCKET (the rampart CLI also
 *                honours $RAMPART_SOCKET; the library does not read the
 *                environment)
 *   timeout_ms:  bounds each later rampart_request() on this client, from
 *                sending the request to the last byte of the reply
 *                (<= 0: 30000 ms).  connect() itself is not bounded by it
 *                (it can wait while the daemon's listen backlog is full).
 *   out:         must not be NULL; receives the new client.
 * Returns 0, or -1 with *out NULL and err set: E_UNREACHABLE (path too long
 * for a UNIX socket, no such socket, nobody listening, permission denied on
 * the path) or E_NOMEM.  Nothing is left open on failure.
 * Memory: the client is the caller's; release it with rampart_close().
 * Thread-safety: safe to call from any thread.
 */
RAMPART_API int rampart_connect(const char *socket_path, int timeout_ms,
                                struct rampart_client **out, struct rampart_error *err);
/*
 * Closes the connection and frees c.  NULL-safe.  A request still being
 * handled by the daemon runs to completion there; its reply is discarded.
 * Must not race with another call on the same client.
 */
RAMPART_API void rampart_close(struct rampart_client *c);

/*
 * Sends one request and waits (at most the client's timeout) for its reply.
 *   c:         a connected client (must not be NULL)
 *   op:        op name, e.g. "ping", "policy.check" (see docs/ops.md)
 *   args_json: JSON object text, e.g. "{\"ref\":\"alpine\"}", or NULL for {}.
 *              Parsed and re-encoded here; duplicate keys are refused.
 *   send_fd:   fd to pass with the request (SCM_RIGHTS), or -1.  Only ops
 *              that take one accept it (diag.trace); the caller keeps its
 *              own copy and still owns send_fd afterwards.
 *   reply:     NULL, or receives the whole reply JSON text when the return
 *              value is 0 or 1 (malloc'd, NUL-terminated; free() it).  On
 *              -1 it is set to NULL.
 *   recv_fd:   NULL, or receives the fd the daemon passed with the reply
 *              (port.bind), else -1.  The fd is the caller's to close.  When
 *              recv_fd is NULL a received fd is closed here.
 * Returns
 *    0  the daemon answered {"ok": true}; the result is in *reply.
 *    1  the daemon answered {"ok": false}: err has its code and message
 *       (E_PERM, E_ARGS, E_UNKNOWN_OP, ...); the connection stays usable.
 *   -1  nothing usable came back: E_ARGS (args_json is not a JSON object),
 *       E_TOO_BIG (request over 64 KiB), E_UNREACHABLE (timeout, or the
 *       daemon closed the connection, or sent more than one fd),
 *       E_PROTO (bad frame length, JSON or id), E_NOMEM.  After -1 the
 *       connection must not be used again: close it and reconnect.
 * Thread-safety: not on the same client (see above).
 */
RAMPART_API int rampart_request(struct rampart_client *c, const char *op, const char *args_json,
                                int send_fd, char **reply, int *recv_fd, struct rampart_error *err);

/*
 * Round trip of the "ping" op (any user may call it): checks that the
 * daemon answers.  Returns 0, or -1 with err set (either a transport error
 * as for rampart_request, or the daemon's own error code).
 */
RAMPART_API int rampart_ping(struct rampart_client *c, struct rampart_error *err);

/*
 * Asks the daemon to bind a privileged port for the caller ("port.bind",
 * class user: root or the configured owner user/group).
 *   proto:   "tcp" or "udp" (NULL: "tcp")
 *   addr:    IPv4 or IPv6 literal, or NULL for 127.0.0.1.  Loopback
 *            (127.0.0.0/8, ::1) always; the any-address (0.0.0.0, ::) only
 *            when the daemon's config sets ports.allow_any_address.
 *   port:    1..1023, inside ports.allow and not in ports.deny
 *   backlog: listen() backlog for TCP, 0..4096 (0: 128); ignored for UDP
 * Returns a bound (and for TCP listening) socket fd with FD_CLOEXEC set,
 * owned by the caller (close it when done), or -1 with err set: E_PERM,
 * E_PORT_DENIED, E_ADDR_DENIED, E_ARGS, the bind(2) errno by name
 * (EADDRINUSE, EADDRNOTAVAIL, EACCES, ...), E_PROTO (ok reply without a
 * socket), or a transport error as for rampart_request.
 * Thread-safety: not on the same client.
 */
RAMPART_API int rampart_bind_port(struct rampart_client *c, const char *proto, const char *addr,
                                  int port, int backlog, struct rampart_error *err);

/*
 * Typed calls: what a backend needs, with the request built and the reply
 * parsed inside the library (any reference is escaped correctly; nothing to
 * parse on the caller's side).  rampart_request() stays for everything else.
 */

#define RAMPART_CHECK_MAX 256 /* references per rampart_client_check_many() */

/*
 * "policy.check" for one reference (class any).  out is filled as
 * rampart_policy_check() fills it: allowed, rule ("" for none), normalized,
 * policy_version, reason, expired, policy_cached, and code "E_REF" for an
 * invalid reference.  Returns 0 (decided: look at out->allowed), 1 (the
 * reference is invalid: out->allowed is false, out->reason says why), or -1
 * with err set (transport error as for rampart_request, or the daemon's
 * error, e.g. E_STORE; out is zeroed: treat as deny).
 * Thread-safety: not on the same client.
 */
RAMPART_API int rampart_client_check(struct rampart_client *c, const char *ref,
                                     struct rampart_decision *out, struct rampart_error *err);

/*
 * The batch form: n (1..RAMPART_CHECK_MAX) references decided from one
 * policy in one round trip; out must have room for n decisions, filled in
 * order.  Returns 0 (all decided), 1 (at least one was invalid; see each
 * out[i].code), or -1 with err set (nothing decided: treat all as deny).
 */
RAMPART_API int rampart_client_check_many(struct rampart_client *c, const char *const *refs,
                                          size_t n, struct rampart_decision *out,
                                          struct rampart_error *err);

/* What "status" says about the daemon and its policy (times in unix seconds, 0: none). */
struct rampart_status {
	char daemon_version[32];
	long pid;
	int64_t uptime_s;
	bool policy_cached;     /* false: no policy cached, checks use the default */
	int64_t policy_version; /* 0 when none */
	char org[RAMPART_ORG_MAX];
	int64_t issued_at, expires_at;
	bool expired; /* past expires_at: still enforced, refresh it */
	bool stale;   /* the daemon reports it overdue for a refresh */
	int64_t last_success_at, last_error_at;
	char last_error[512]; /* "" after a success */
	uint64_t refreshes, refresh_failures;
	int trust_threshold; /* signatures needed; 0 when the keys are unusable */
	size_t trust_keys;   /* trusted keys loaded */
	bool trust_usable;
};

/*
 * "status" (class any) into out.  Returns 0, or -1 with err set (out zeroed).
 * Thread-safety: not on the same client.
 */
RAMPART_API int rampart_client_status(struct rampart_client *c, struct rampart_status *out,
                                      struct rampart_error *err);

#endif
