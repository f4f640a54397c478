/* SPDX-License-Identifier: ISC */
/*
 * The proxy's byte pump: moves an allowed connection's bytes between the
 * client and the upstream server once the decision is made.  Both peers are
 * untrusted; the pump only copies, never parses.  One event loop, level
 * triggered; a peer that stops reading pauses the other one's reads (at
 * most one chunk is held per direction), so memory per connection is
 * bounded.  On Linux the bytes go through a pipe with splice(2) and never
 * enter user space; elsewhere (or when a pipe cannot be had) through one
 * buffer per direction, allocated on the first byte.
 *
 * libevent 2.1's bufferevents read at most 4 KiB per call whatever
 * bufferevent_set_max_single_read() says (EVBUFFER_MAX_READ), which made a
 * 256 MiB blob cost 65,000 read callbacks: docs/design-notes.md.
 */
#ifndef RAMPART_PROXY_PUMP_H
#define RAMPART_PROXY_PUMP_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#define PUMP_CHUNK (256 * 1024) /* bytes moved per read or splice */

struct proxy_pump;

enum pump_mode {
	PUMP_TUNNEL, /* both ways; the client's EOF half-closes the upstream */
	PUMP_REPLY,  /* upstream to client only; the client's bytes are read and dropped */
};

struct pump_limits {
	int idle_s;     /* nothing moved either way this long: closed */
	int write_s;    /* a peer that does not take bytes this long: closed */
	bool no_splice; /* copy through buffers even where splice(2) exists */
};

/*
 * Starts pumping between client and up (non-blocking sockets; the pump
 * owns and closes them from now on).  to_client / to_up are bytes already
 * due to each peer (a "200 Connection established", the origin request, a
 * TLS hello that came with the CONNECT head), written before anything
 * else.  done(arg) runs once, from the loop, when the pump has finished
 * (upstream EOF flushed, an error or a timeout); the caller then calls
 * pump_free().  NULL with nothing started (fds still the caller's) on
 * allocation failure.
 */
struct proxy_pump *pump_start(struct event_base *base, int client, int up, enum pump_mode mode,
                              const struct pump_limits *lim, const void *to_client,
                              size_t to_client_len, const void *to_up, size_t to_up_len,
                              void (*done)(void *arg), void *arg);

/* Stops the pump and closes both sockets and its pipes.  NULL is a no-op. */
void pump_free(struct proxy_pump *p);

/* Bytes moved so far towards the client (for stats). */
unsigned long long pump_bytes_to_client(const struct proxy_pump *p);

#endif
