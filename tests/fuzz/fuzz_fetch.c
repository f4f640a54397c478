/* SPDX-License-Identifier: ISC */
/*
 * Fuzzes the one parser in root of bytes from the unprivileged side that had
 * no harness: the fetch child's answer (fetch_on_readable(), then
 * fetch_finish_status(), the part of fetch_finish() after the reap).  Input:
 * byte 0 picks the child's wait status (bits 0-1: exit 0, exit 1, killed by
 * SIGKILL, exit 0) and the body limit (bits 2-3: 16 B, 1 KiB, 64 KiB, 1 MiB);
 * the rest is what the child wrote on its pipe (at most 60,000 bytes, so it
 * fits the pipe before the read).  Checked: a success is only a clean exit
 * with a whole, exact, in-limit answer from a non-root child, its body is the
 * bytes that followed the header, NUL-terminated; a failure carries a
 * registered E_FETCH_* (or, for a registry answer, E_OCI_*) code and a
 * message without control bytes; the job is released either way.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "fetch.h"
#include "fetch_wire.h"
#include "fuzz.h"

#define FUZZ_FETCH_MAX_IN 60000

#define FETCH_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail("fetch", #cond);                                                 \
	} while (0)

static int fuzz_fetch_status(uint8_t sel)
{
	switch (sel & 3) {
	case 1:
		return 1 << 8; /* exit 1, as W_EXITCODE(1, 0) */
	case 2:
		return SIGKILL; /* killed */
	default:
		return 0; /* exit 0 */
	}
}

static void fuzz_fetch_check_ok(const struct fetch_result *res, const uint8_t *s, size_t n,
                                size_t max, int st)
{
	struct fetch_wire hdr, *w = &hdr; /* a copy: the input need not be aligned */

	FETCH_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	FETCH_CHECK(n >= sizeof(*w));
	memcpy(&hdr, s, sizeof(hdr));
	FETCH_CHECK(w->magic == FETCH_WIRE_MAGIC);
	FETCH_CHECK(w->uid != 0 && w->gid != 0);
	FETCH_CHECK(res->child_uid == w->uid && res->child_gid == w->gid);
	if (res->status == FETCH_NOT_MODIFIED) {
		FETCH_CHECK(w->kind == FW_NOT_MODIFIED && res->body == NULL && n == sizeof(*w));
		return;
	}
	FETCH_CHECK(res->status == FETCH_OK && w->kind == FW_OK);
	FETCH_CHECK(res->body_len <= max && res->body_len == w->body_len);
	FETCH_CHECK(n == sizeof(*w) + res->body_len);
	FETCH_CHECK(memcmp(res->body, s + sizeof(*w), res->body_len) == 0);
	FETCH_CHECK(res->body[res->body_len] == '\0');
	FETCH_CHECK(strlen(res->etag) <= FETCH_MAX_ETAG);
}

static void fuzz_fetch_check_err(const struct rp_err *e)
{
	FETCH_CHECK((strncmp(e->code, "E_FETCH_", 8) == 0 || strncmp(e->code, "E_OCI_", 6) == 0) &&
	            rp_errcode_known(e->code));
	for (const char *p = e->msg; *p; p++)
		FETCH_CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

int fuzz_fetch(const uint8_t *d, size_t n)
{
	static const size_t limits[4] = {16, 1024, 64 * 1024, 1024 * 1024};
	struct fetch_job job;
	struct fetch_result res;
	struct rp_err e;
	size_t max, len;
	int p[2], st, r = 0, rounds = 0;

	if (n < 1)
		return 0;
	st = fuzz_fetch_status(d[0]);
	max = limits[(d[0] >> 2) & 3];
	len = n - 1 > FUZZ_FETCH_MAX_IN ? FUZZ_FETCH_MAX_IN : n - 1;
	if (pipe2(p, O_CLOEXEC) < 0)
		fuzz_fail("fetch", "pipe");
	if (len > 0 && write(p[1], d + 1, len) != (ssize_t)len)
		fuzz_fail("fetch", "cannot fill the pipe");
	close(p[1]);
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) < 0 || fetch_job_read_from(&job, p[0], max) < 0)
		fuzz_fail("fetch", "cannot set up the job");
	while (r == 0 && rounds++ < 100000)
		r = fetch_on_readable(&job);
	FETCH_CHECK(r != 0); /* the write end is closed: EOF must end it */
	memset(&e, 0, sizeof(e));
	if (fetch_finish_status(&job, st, &res, &e) == 0)
		fuzz_fetch_check_ok(&res, d + 1, len, max, st);
	else
		fuzz_fetch_check_err(&e);
	FETCH_CHECK(job.fd == -1 && job.hdr == NULL && job.body == NULL);
	fetch_result_free(&res);
	return 0;
}
