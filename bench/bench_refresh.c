/* SPDX-License-Identifier: ISC */
/*
 * Refresh benchmark: the whole accept path for a signed envelope (verify the
 * signature, validate the payload, build a fresh SQLite DB, fsync, rename)
 * against a jansson parse of the same payload alone, in the same run.
 *   usage: bench_refresh ENVELOPE PUBKEY.pem DB_PATH [ITERATIONS]
 * Prints one JSON line.  DB_PATH is left holding the policy (for later benches).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dsse.h"
#include "keys.h"
#include "refresh.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b = malloc(32 << 20);
	if (f == NULL || b == NULL) {
		perror(path);
		exit(1);
	}
	*len = fread(b, 1, 32 << 20, f);
	fclose(f);
	return b;
}

int main(int argc, char **argv)
{
	struct trust_set t;
	struct rp_err e;
	struct dsse_verified v;
	size_t len;
	int n = argc > 4 ? atoi(argv[4]) : 15;
	double *tp = calloc((size_t)n, sizeof(double)), *tr = calloc((size_t)n, sizeof(double));

	if (argc < 4) {
		fprintf(stderr, "usage: bench_refresh ENVELOPE PUBKEY.pem DB_PATH [ITERATIONS]\n");
		return 2;
	}
	unsigned char *env = slurp(argv[1], &len);
	keys_trust_init(&t);
	if (keys_trust_add_file(&t, argv[2], 0, &e) < 0 ||
	    keys_trust_set_threshold(&t, 1, &e) < 0 ||
	    dsse_verify(env, len, DSSE_POLICY_TYPE, &t, &v, &e) < 0) {
		fprintf(stderr, "bench_refresh: %s\n", e.msg);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		/* baseline: parse the verified payload with jansson, nothing else */
		double t0 = now_s();
		json_t *j = json_loadb((const char *)v.payload, v.payload_len, 0, NULL);
		tp[i] = now_s() - t0;
		if (j == NULL)
			return 1;
		json_decref(j);
		/* measured: the whole refresh into an empty store */
		struct refresh_out out;
		struct refresh_in in = {.envelope = env,
		                        .len = len,
		                        .max_bytes = 16 << 20,
		                        .trust = &t,
		                        .org = NULL,
		                        .now = (int64_t)time(NULL),
		                        .db_path = argv[3],
		                        .source = "bench",
		                        .etag = ""};
		json_t *p = json_loadb((const char *)v.payload, v.payload_len, 0, NULL);
		in.org = json_string_value(json_object_get(p, "org"));
		unlink(argv[3]);
		t0 = now_s();
		int rc = refresh_apply(&in, &out, &e);
		tr[i] = now_s() - t0;
		json_decref(p);
		if (rc < 0 || out.outcome != REFRESH_UPDATED) {
			fprintf(stderr, "bench_refresh: %s\n", out.message);
			return 1;
		}
	}
	qsort(tp, (size_t)n, sizeof(double), cmpd);
	qsort(tr, (size_t)n, sizeof(double), cmpd);
	printf("{\"bench\":\"refresh\",\"payload_bytes\":%zu,\"envelope_bytes\":%zu,"
	       "\"iterations\":%d,\"jansson_parse_ms_median\":%.2f,\"refresh_ms_median\":%.2f,"
	       "\"ratio\":%.2f}\n",
	       v.payload_len, len, n, tp[n / 2] * 1e3, tr[n / 2] * 1e3, tr[n / 2] / tp[n / 2]);
	dsse_verified_free(&v);
	keys_trust_free(&t);
	free(env);
	free(tp);
	free(tr);
	return 0;
}
