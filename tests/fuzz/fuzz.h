/* SPDX-License-Identifier: ISC */
/*
 * Fuzz entry points, one per parser.  The libFuzzer drivers (fuzz_main.c) and
 * the replay test (tests/unit/test_fuzz_regressions.c) call the same
 * functions, so every crash input found once is checked by the normal suite.
 */
#ifndef RAMPART_FUZZ_H
#define RAMPART_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 0; a broken property aborts (via fuzz_fail) so libFuzzer records it. */
int fuzz_frame(const uint8_t *d, size_t n);     /* frame decoder, whole and streamed */
int fuzz_request(const uint8_t *d, size_t n);   /* byte 0 picks the peer, rest is the JSON */
int fuzz_dsse(const uint8_t *d, size_t n);      /* envelope parse + verify, base64 */
int fuzz_payload(const uint8_t *d, size_t n);   /* payload validator + decision index */
int fuzz_reference(const uint8_t *d, size_t n); /* ref_normalize, idempotence */
int fuzz_hosts(const uint8_t *d, size_t n);     /* byte 0 flags, rest is a hosts file */
int fuzz_fetch(const uint8_t *d, size_t n);     /* byte 0 status + limit, rest the child's answer */
int fuzz_cpolicy(const uint8_t *d, size_t n);   /* byte 0 flags, rest policy entries: policy.json */
int fuzz_authz(const uint8_t *d, size_t n);     /* byte 0 mode, rest an AuthZReq or daemon.json */
int fuzz_root(const uint8_t *d, size_t n);      /* root payload, or 0x01 + envelope as root 2 */
int fuzz_oci(const uint8_t *d, size_t n);       /* byte 0 odd: oci:// URL, even: a manifest */
int fuzz_proxy_stats(const uint8_t *d, size_t n); /* rampart-proxy's stats file, read by rampartd */

/* Frees what fuzz_request set up (temp dir, fake daemon); safe to call twice. */
void fuzz_request_cleanup(void);

/* Name of the input being replayed (printed by fuzz_fail), or NULL. */
extern const char *fuzz_current_input;

/* Reports a broken property and aborts. */
void fuzz_fail(const char *target, const char *what) __attribute__((noreturn));

#endif
