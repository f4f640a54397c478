/* SPDX-License-Identifier: ISC */
/*
 * IPC benchmark.  "echo PATH" runs a raw UNIX-socket echo server (the
 * baseline: no JSON, no dispatch, one poll loop like rampartd's).  "client
 * PATH SECONDS NCLIENTS" forks NCLIENTS clients that send the same framed
 * request (a ping, or a policy.check with --check REF) and wait for each
 * reply, then prints one JSON line: round trips/s, p50 and p99 in µs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXLAT 2000000

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	for (int i = 0; i < 200; i++) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		usleep(10000);
	}
	perror("connect");
	exit(1);
}

static int rd(int fd, uint8_t *b, size_t n)
{
	size_t o = 0;
	while (o < n) {
		ssize_t r = read(fd, b + o, n - o);
		if (r <= 0)
			return -1;
		o += (size_t)r;
	}
	return 0;
}

static int echo_server(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct pollfd p[64];
	uint8_t buf[70000];
	int n = 1;
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	unlink(path);
	if (bind(ls, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(ls, 64) < 0) {
		perror("bind");
		return 1;
	}
	p[0] = (struct pollfd){.fd = ls, .events = POLLIN};
	for (;;) {
		if (poll(p, (nfds_t)n, -1) < 0)
			continue;
		if ((p[0].revents & POLLIN) && n < 64) {
			int c = accept(ls, NULL, NULL);
			if (c >= 0)
				p[n++] = (struct pollfd){.fd = c, .events = POLLIN};
		}
		for (int i = 1; i < n; i++) {
			uint32_t len;
			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			if (rd(p[i].fd, buf, 4) < 0 ||
			    (len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
			           (uint32_t)buf[2] << 8 | buf[3]) > 65536 ||
			    rd(p[i].fd, buf + 4, len) < 0 || write(p[i].fd, buf, 4 + len) < 0) {
				close(p[i].fd);
				p[i--] = p[--n];
			}
		}
	}
}

static int cmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

/* One client: round trips for `secs`; latencies (µs) into lat[], count returned. */
static long client_loop(const char *path, const char *req, double secs, unsigned *lat, long max)
{
	uint8_t buf[70000];
	size_t n = strlen(req);
	long count = 0;
	int fd = connect_to(path);
	long long end = now_ns() + (long long)(secs * 1e9);

	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	memcpy(buf + 4, req, n);
	while (count < max) {
		long long t0 = now_ns();
		uint8_t rb[70000];
		uint32_t len;
		if (t0 > end)
			break;
		if (write(fd, buf, 4 + n) != (ssize_t)(4 + n) || rd(fd, rb, 4) < 0)
			return -1;
		len = (uint32_t)rb[0] << 24 | (uint32_t)rb[1] << 16 | (uint32_t)rb[2] << 8 | rb[3];
		if (len > 65536 || rd(fd, rb + 4, len) < 0)
			return -1;
		if (memmem(rb + 4, len, "\"ok\":false", 10) != NULL) {
			fprintf(stderr, "error reply: %.*s\n", (int)len, rb + 4);
			return -1;
		}
		lat[count++] = (unsigned)((now_ns() - t0) / 1000);
	}
	close(fd);
	return count;
}

static int client_main(const char *path, double secs, int nclients, const char *req)
{
	long per = MAXLAT / nclients;
	unsigned *lat = mmap(NULL, sizeof(unsigned) * MAXLAT, PROT_READ | PROT_WRITE,
	                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long *counts = mmap(NULL, sizeof(long) * 64, PROT_READ | PROT_WRITE,
	                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long total = 0;
	unsigned *all;

	for (int i = 0; i < nclients; i++) {
		if (fork() == 0) {
			counts[i] = client_loop(path, req, secs, lat + per * i, per);
			_exit(counts[i] < 0);
		}
	}
	for (int i = 0; i < nclients; i++) {
		int st;
		wait(&st);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "client failed\n");
			return 1;
		}
	}
	all = malloc(sizeof(unsigned) * MAXLAT);
	for (int i = 0; i < nclients; i++) {
		memcpy(all + total, lat + per * i, sizeof(unsigned) * (size_t)counts[i]);
		total += counts[i];
	}
	qsort(all, (size_t)total, sizeof(unsigned), cmp);
	printf("{\"clients\": %d, \"round_trips\": %ld, \"rate\": %.0f, \"p50_us\": %u, "
	       "\"p99_us\": %u}\n",
	       nclients, total, (double)total / secs, all[total / 2], all[(total * 99) / 100]);
	free(all);
	return 0;
}

int main(int argc, char **argv)
{
	char req[512];
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		return echo_server(argv[2]);
	if (argc >= 5 && strcmp(argv[1], "client") == 0) {
		if (argc == 7 && strcmp(argv[5], "--check") == 0)
			snprintf(req, sizeof(req),
			         "{\"op\":\"policy.check\",\"id\":1,\"args\":{\"refs\":[\"%s\"]}}",
			         argv[6]);
		else
			snprintf(req, sizeof(req), "{\"op\":\"ping\",\"id\":1}");
		return client_main(argv[2], atof(argv[3]), atoi(argv[4]), req);
	}
	fprintf(stderr, "usage: bench_ipc echo PATH | client PATH SECONDS N [--check REF]\n");
	return 2;
}
