/* SPDX-License-Identifier: ISC */
/*
 * librampart client: talk to rampartd over its UNIX socket.
 *
 * A request is {"op": NAME, "id": N, "args": {...}}; a reply is
 * {"ok": true, "id": N, "result": {...}} or
 * {"ok": false, "id": N, "error": {"code": "E_...", "message": "..."}}.
 * Frames are a 4-byte big-endian length followed by the JSON text (max 64 KiB).
 *
 * Thread-safety: a struct rampart_client is not thread-safe; use one per
 * thread or serialise calls.  Functions that take no client are thread-safe.
 */
#ifndef RAMPART_CLIENT_H
#define RAMPART_CLIENT_H

#include <stddef.h>

#include "common.h"

#define RAMPART_DEFAULT_SOCKET "/var/run/rampart.sock"

/* Exit codes used by the rampart CLI (and a good convention for callers). */
enum rampart_exit {
	RAMPART_EXIT_OK = 0,
	RAMPART_EXIT_REFUSED = 1,  /* refused, denied, or the op failed */
	RAMPART_EXIT_USAGE = 2,    /* bad command line or invalid input */
	RAMPART_EXIT_UNREACHABLE = 3, /* daemon not reachable */
};

struct rampart_error {
	char code[40];     /* stable code, e.g. "E_PERM", "E_UNREACHABLE" */
	char message[512]; /* a sentence for people */
};

struct rampart_client;

/*
 * Connects to socket_path (NULL: RAMPART_DEFAULT_SOCKET).  timeout_ms bounds
 * every later call (0: 30 s).  On failure returns -1, *out is NULL and err
 * (may be NULL) has E_UNREACHABLE.  Free with rampart_close().
 */
RAMPART_API int rampart_connect(const char *socket_path, int timeout_ms,
				struct rampart_client **out, struct rampart_error *err);
RAMPART_API void rampart_close(struct rampart_client *c);

/*
 * Sends one request and waits for its reply.
 *   op:        op name, e.g. "ping"
 *   args_json: JSON object text, or NULL for {}
 *   send_fd:   fd to pass with the request (SCM_RIGHTS), or -1
 *   reply:     receives the whole reply JSON text (malloc'd; caller frees), or NULL
 *   recv_fd:   receives an fd passed with the reply or -1; may be NULL, in
 *              which case a received fd is closed
 * Returns 0 when the daemon answered ok:true, 1 when it answered ok:false
 * (err has the daemon's code and message; *reply still set), -1 on a
 * transport or protocol failure (err set; the connection is unusable).
 */
RAMPART_API int rampart_request(struct rampart_client *c, const char *op, const char *args_json,
				int send_fd, char **reply, int *recv_fd,
				struct rampart_error *err);

/* Round trip of the "ping" op.  Returns 0 or -1 (err set). */
RAMPART_API int rampart_ping(struct rampart_client *c, struct rampart_error *err);

/*
 * Asks the daemon to bind a privileged port for the caller ("port.bind").
 *   proto: "tcp" or "udp"; addr: IPv4/IPv6 literal or NULL for loopback;
 *   backlog: listen() backlog for TCP (0: default).
 * Returns a bound (and for TCP listening) socket fd owned by the caller, or
 * -1 with err set (e.g. E_PERM, E_PORT_DENIED, EADDRINUSE).
 */
RAMPART_API int rampart_bind_port(struct rampart_client *c, const char *proto, const char *addr,
				  int port, int backlog, struct rampart_error *err);

#endif
