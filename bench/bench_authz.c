/* SPDX-License-Identifier: ISC */
/*
 * Benchmark for rampart-authz (issue 14): decisions per second and latency
 * over its UNIX socket, against a baseline of the same libmicrohttpd, set up
 * the same way (external epoll loop, same options), answering a constant
 * {"Allow":true} without looking at the request.
 *
 *   bench_authz allow SOCK                  the baseline server (until killed)
 *   bench_authz client SOCK SECS REF [N]    N (default 1) keep-alive clients posting
 *                                           dockerd's AuthZReq for "docker pull REF";
 *                                           prints {"rate":..,"p50_us":..,"p99_us":..}
 *   bench_authz pair BASE SOCK SECS REF [BASE_PID PLUGIN_PID]
 *                                           one client alternating request by request
 *                                           between the baseline and the plugin, so
 *                                           load from elsewhere hits both alike; rate is
 *                                           requests per second of service time; with
 *                                           the pids, also each server's CPU time per
 *                                           request (/proc/PID/schedstat, ns on CPU)
 *
 * Input is our own; the client checks every answer is a 200 with a JSON body.
 */
#include <errno.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BA_MAX_LAT 4000000

static enum MHD_Result ba_allow(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *data,
                                size_t *size, void **ctx)
{
	static const char ans[] = "{\"Allow\":true}";
	static int first;
	struct MHD_Response *r;
	enum MHD_Result ret;

	(void)cls, (void)url, (void)method, (void)version, (void)data;
	if (*ctx == NULL) {
		*ctx = &first;
		return MHD_YES;
	}
	if (*size > 0) {
		*size = 0;
		return MHD_YES;
	}
	r = MHD_create_response_from_buffer(sizeof(ans) - 1, (void *)ans, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "application/vnd.docker.plugins.v1.2+json");
	ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static int ba_listen(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

static int ba_server(const char *path)
{
	int fd = ba_listen(path);
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, ba_allow, NULL,
	                     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 256u,
	                     MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_SIGPIPE_HANDLED_BY_APP,
	                     1, MHD_OPTION_END);

	signal(SIGPIPE, SIG_IGN);
	if (d == NULL)
		return 1;
	for (;;)
		MHD_run_wait(d, 1000);
}

static double ba_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int ba_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* One request/answer on a keep-alive connection; -1 on a bad answer. */
static int ba_roundtrip(int fd, const char *req, size_t len)
{
	char buf[8192];
	size_t have = 0;
	char *end, *cl;
	long body;

	if (write(fd, req, len) != (ssize_t)len)
		return -1;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		if (strncmp(buf, "HTTP/1.1 200", 12) != 0 ||
		    (cl = strcasestr(buf, "Content-Length:")) == NULL)
			return -1;
		body = strtol(cl + 15, NULL, 10);
		if ((size_t)(end + 4 - buf) + (size_t)body <= have)
			return end[4] == '{' ? 0 : -1;
	}
}

static int ba_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int ba_fill_req(char *req, size_t size, const char *ref)
{
	char body[2048];

	snprintf(body, sizeof(body),
	         "{\"User\":\"\",\"UserAuthNMethod\":\"\",\"RequestMethod\":\"POST\","
	         "\"RequestUri\":\"/v1.41/images/create?fromImage=%s&tag=1\",\"RequestHeaders\":"
	         "{\"Content-Length\":\"0\",\"Content-Type\":\"text/plain\",\"User-Agent\":"
	         "\"Docker-Client/20.10.24 (linux)\"}}",
	         ref);
	return snprintf(req, size,
	                "POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plugin\r\nContent-Type: "
	                "application/json\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n"
	                "Content-Length: %zu\r\n\r\n%s",
	                strlen(body), body);
}

/*
 * rate: requests per second of service time over the fastest 99% (the slowest
 * 1% on this shared machine are other tenants' scheduling stalls, and they
 * would decide a mean); rate_all counts every request.
 */
static void ba_print(const char *name, double *lat, size_t n)
{
	double sum = 0, sum99 = 0;
	size_t k = n - n / 100;

	qsort(lat, n, sizeof(double), ba_cmp);
	for (size_t i = 0; i < n; i++) {
		sum += lat[i];
		if (i < k)
			sum99 += lat[i];
	}
	printf("\"%s\": {\"rate\": %.0f, \"rate_all\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
	       "\"n\": %zu}",
	       name, (double)k / (sum99 / 1e6), (double)n / (sum / 1e6), lat[n / 2],
	       lat[(size_t)((double)n * 0.99)], n);
}

/* Nanoseconds pid has run on a CPU (/proc/PID/schedstat), or -1. */
static double ba_cpu_ns(long pid)
{
	char path[64];
	double ns = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%lf", &ns) != 1)
		ns = -1;
	fclose(f);
	return ns;
}

static int ba_pair(const char *base, const char *sock, double secs, const char *ref, long pa,
                   long pb)
{
	static double la[BA_MAX_LAT / 2], lb[BA_MAX_LAT / 2];
	char req[4096];
	int fa = ba_connect(base), fb = ba_connect(sock), len = ba_fill_req(req, sizeof(req), ref);
	size_t n = 0;
	double start = ba_now(), t, ca = ba_cpu_ns(pa), cb = ba_cpu_ns(pb);

	while (ba_now() - start < secs && n < BA_MAX_LAT / 2) {
		t = ba_now();
		if (ba_roundtrip(fa, req, (size_t)len) < 0)
			return 1;
		la[n] = (ba_now() - t) * 1e6;
		t = ba_now();
		if (ba_roundtrip(fb, req, (size_t)len) < 0)
			return 1;
		lb[n++] = (ba_now() - t) * 1e6;
	}
	ca = ca >= 0 ? (ba_cpu_ns(pa) - ca) / 1e3 / (double)n : -1;
	cb = cb >= 0 ? (ba_cpu_ns(pb) - cb) / 1e3 / (double)n : -1;
	printf("{\"base_cpu_us\": %.2f, \"plugin_cpu_us\": %.2f, ", ca, cb);
	ba_print("base", la, n);
	printf(", ");
	ba_print("plugin", lb, n);
	printf("}\n");
	return 0;
}

/* One client for secs seconds; writes its latencies (µs) to fd out. */
static void ba_client_run(const char *path, double secs, const char *ref, int out)
{
	char body[2048], req[4096];
	static double lat[BA_MAX_LAT];
	size_t n = 0;
	int fd = ba_connect(path), len;
	double start = ba_now(), t;

	snprintf(body, sizeof(body),
	         "{\"User\":\"\",\"UserAuthNMethod\":\"\",\"RequestMethod\":\"POST\","
	         "\"RequestUri\":\"/v1.41/images/create?fromImage=%s&tag=1\",\"RequestHeaders\":"
	         "{\"Content-Length\":\"0\",\"Content-Type\":\"text/plain\",\"User-Agent\":"
	         "\"Docker-Client/20.10.24 (linux)\"}}",
	         ref);
	len = snprintf(req, sizeof(req),
	               "POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plugin\r\nContent-Type: "
	               "application/json\r\nAccept: application/vnd.docker.plugins.v1.2+json\r\n"
	               "Content-Length: %zu\r\n\r\n%s",
	               strlen(body), body);
	while ((t = ba_now()) - start < secs && n < BA_MAX_LAT) {
		if (ba_roundtrip(fd, req, (size_t)len) < 0) {
			fprintf(stderr, "bench_authz: bad answer from %s\n", path);
			exit(1);
		}
		lat[n++] = (ba_now() - t) * 1e6;
	}
	if (write(out, lat, n * sizeof(double)) < 0)
		exit(1);
	exit(0);
}

static int ba_client(const char *path, double secs, const char *ref, int nclients)
{
	static double all[BA_MAX_LAT];
	size_t n = 0;
	int p[64][2];
	double t0 = ba_now(), el;

	if (nclients < 1 || nclients > 64)
		return 2;
	for (int i = 0; i < nclients; i++) {
		if (pipe(p[i]) < 0)
			return 1;
		if (fork() == 0) {
			close(p[i][0]);
			ba_client_run(path, secs, ref, p[i][1]);
		}
		close(p[i][1]);
	}
	for (int i = 0; i < nclients; i++) {
		ssize_t r;
		while ((r = read(p[i][0], (char *)all + n * sizeof(double),
		                 (BA_MAX_LAT - n) * sizeof(double))) > 0)
			n += (size_t)r / sizeof(double);
		close(p[i][0]);
	}
	el = ba_now() - t0;
	while (wait(NULL) > 0)
		;
	if (n == 0)
		return 1;
	qsort(all, n, sizeof(double), ba_cmp);
	printf("{\"rate\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"n\": %zu}\n", (double)n / el,
	       all[n / 2], all[(size_t)((double)n * 0.99)], n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "allow") == 0)
		return ba_server(argv[2]);
	if ((argc == 6 || argc == 8) && strcmp(argv[1], "pair") == 0)
		return ba_pair(argv[2], argv[3], atof(argv[4]), argv[5],
		               argc == 8 ? atol(argv[6]) : 0, argc == 8 ? atol(argv[7]) : 0);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "client") == 0)
		return ba_client(argv[2], atof(argv[3]), argv[4], argc == 6 ? atoi(argv[5]) : 1);
	fprintf(stderr, "usage: bench_authz allow SOCK | client SOCK SECS REF [N] | "
	                "pair BASE SOCK SECS REF\n");
	return 2;
}
