/* SPDX-License-Identifier: ISC */
/*
 * Containers policy.json compile benchmark: the cached policy (read once from
 * the store) compiled into policy.json text -- rule list, sort, render --
 * against jansson building and dumping an object with the same scopes (sorted
 * keys, indented), in the same run, alternating.
 *   usage: bench_cpolicy DB_PATH OUT_POLICY_JSON [ITERATIONS]
 * Prints one JSON line; writes the compiled text to OUT_POLICY_JSON (for the
 * skopeo timing in scripts/bench).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "containers_policy.h"
#include "store.h"

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

static size_t bench_jansson(const struct cpol_model *m)
{
	json_t *root = json_object(), *tr = json_object(), *docker = json_object();
	char *s;
	size_t n;

	json_object_set_new(root, "default", json_pack("[{s:s}]", "type", "reject"));
	for (size_t i = 0; i < m->n_rules; i++)
		json_object_set_new(docker, m->rules[i].scope,
		                    json_pack("[{s:s}]", "type", "insecureAcceptAnything"));
	json_object_set_new(tr, "docker", docker);
	json_object_set_new(root, "transports", tr);
	s = json_dumps(root, JSON_INDENT(4) | JSON_SORT_KEYS);
	n = s ? strlen(s) : 0;
	free(s);
	json_decref(root);
	return n;
}

int main(int argc, char **argv)
{
	struct policy p;
	struct rp_err e;
	struct cpol_opts o = {true, false};
	struct cpol_model m;
	int n = argc > 3 ? atoi(argv[3]) : 21;
	double *tc = calloc((size_t)n, sizeof(double)), *tj = calloc((size_t)n, sizeof(double));
	char *text = NULL;
	size_t len = 0, jlen = 0;
	FILE *f;

	if (argc < 3 || n < 1 || tc == NULL || tj == NULL) {
		fprintf(stderr, "usage: bench_cpolicy DB_PATH OUT_POLICY_JSON [ITERATIONS]\n");
		return 2;
	}
	memset(&p, 0, sizeof(p));
	if (store_load(argv[1], &p, NULL, NULL, NULL, &e) != 0) {
		fprintf(stderr, "bench_cpolicy: %s: cannot load the policy\n", argv[1]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		double t0 = now_s();
		if (cpol_model_build(&p, &o, &m, &e) != 0 ||
		    cpol_render(&m, &text, &len, &e) != 0) {
			fprintf(stderr, "bench_cpolicy: %s\n", e.msg);
			return 1;
		}
		tc[i] = now_s() - t0;
		t0 = now_s();
		jlen = bench_jansson(&m); /* the same scopes, built from the model */
		tj[i] = now_s() - t0;
		if (i + 1 < n) {
			free(text);
			cpol_model_free(&m);
		}
	}
	if ((f = fopen(argv[2], "w")) == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	qsort(tc, (size_t)n, sizeof(double), cmpd);
	qsort(tj, (size_t)n, sizeof(double), cmpd);
	printf("{\"bench\":\"containers_policy_compile\",\"entries\":%zu,\"scopes\":%zu,"
	       "\"iterations\":%d,\"bytes\":%zu,\"jansson_bytes\":%zu,"
	       "\"compile_ms_median\":%.2f,\"jansson_dump_ms_median\":%.2f,\"ratio\":%.2f}\n",
	       p.n_registries, m.n_rules, n, len, jlen, tc[n / 2] * 1e3, tj[n / 2] * 1e3,
	       tc[n / 2] / tj[n / 2]);
	free(text);
	cpol_model_free(&m);
	policy_free(&p);
	free(tc);
	free(tj);
	return 0;
}
