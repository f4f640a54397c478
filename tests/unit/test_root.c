/* SPDX-License-Identifier: ISC */
/*
 * The signed root and key rotation, through refresh_apply() against a real
 * store: root keys rotated three times and policy keys twice, and every
 * attack of issue 18 refused with the last good policy and root kept and the
 * reason recorded — a root signed only by the new keys, only by the old
 * keys, a skipped version, a rolled-back root, an expired root, a policy
 * signed by a revoked key with a higher version, a new policy with an old
 * root, an endless chain (count cap), a huge root (size cap), a changed pin,
 * and kill -9 during a root update.  The offline proof from the pinned root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "dsse.h"
#include "refresh.h"
#include "root.h"
#include "store.h"

#define NOW 1800000000LL
#define ORG "Example Corp"
#define REPO_MAX 16

/* Root keys R[0..4] (R[4] a stranger), policy keys P[0..2]. */
static struct rp_key R[5], P[3];
static char Rpem[5][256], Ppem[3][256];

/* The "server": roots by version, NULL = 404. */
static char *repo[REPO_MAX + 1];
static size_t repo_len[REPO_MAX + 1];
static bool endless; /* every version exists (valid signatures from max_new on) */

static char dir[256], db[300];

static void key_gen(struct rp_key *k, char *pem, size_t len)
{
	EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	BIO *b = BIO_new(BIO_s_mem());
	struct rp_err e;
	char *p;
	long n;

	assert_non_null(pk);
	assert_int_equal(keys_from_pkey(k, pk, true, "test", &e), 0);
	assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
	n = BIO_get_mem_data(b, &p);
	assert_true(n > 0 && (size_t)n < len);
	memcpy(pem, p, (size_t)n);
	pem[n] = '\0';
	BIO_free(b);
	EVP_PKEY_free(pk);
}

static void json_pem(char *out, size_t len, const char *pem)
{
	size_t o = 0;

	out[o++] = '"';
	for (const char *c = pem; *c && o + 3 < len; c++) {
		if (*c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
}

/* A root payload: version, expiry, one root key and one policy key. */
static char *root_payload(int64_t version, const char *expires, int rk, int pk)
{
	char rj[400], pj[400], *b = malloc(2000);

	json_pem(rj, sizeof(rj), Rpem[rk]);
	json_pem(pj, sizeof(pj), Ppem[pk]);
	snprintf(b, 2000,
	         "{\"version\":%lld,\"expires_at\":\"%s\",\"org\":\"" ORG "\",\"root_keys\":[%s],"
	         "\"root_threshold\":1,\"policy_keys\":[%s],\"policy_threshold\":1}",
	         (long long)version, expires, rj, pj);
	return b;
}

static char *sign_with(const char *payload, const char *type, const struct rp_key *k1,
                       const struct rp_key *k2)
{
	struct rp_key ks[2];
	struct rp_err e;
	char *env = NULL;
	size_t n = 0;

	if (k1)
		ks[n++] = *k1;
	if (k2)
		ks[n++] = *k2;
	if (dsse_sign(payload, strlen(payload), type, ks, n, &env, &e) != 0)
		fail_msg("sign: %s", e.msg);
	return env;
}

/* Root `version` with root key rk and policy key pk, signed by keys s1 (and s2). */
static char *root_env(int64_t version, const char *expires, int rk, int pk, int s1, int s2)
{
	char *pl = root_payload(version, expires, rk, pk);
	char *env = sign_with(pl, ROOT_TYPE, &R[s1], s2 >= 0 ? &R[s2] : NULL);

	free(pl);
	return env;
}

static void publish(int64_t slot, char *env)
{
	free(repo[slot]);
	repo[slot] = env;
	repo_len[slot] = env ? strlen(env) : 0;
}

static char *policy_env(int64_t version, int pk)
{
	char pl[400];

	snprintf(pl, sizeof(pl),
	         "{\"org\":\"" ORG "\",\"version\":%lld,\"issued_at\":\"2026-01-01T00:00:00Z\","
	         "\"expires_at\":\"2030-01-01T00:00:00Z\",\"allow_docker_hub\":false,"
	         "\"registries\":[{\"host\":\"v%lld.example\"}]}",
	         (long long)version, (long long)version);
	return sign_with(pl, DSSE_POLICY_TYPE, &P[pk], NULL);
}

static int fetch_repo(void *arg, int64_t version, unsigned char **buf, size_t *len,
                      struct rp_err *err)
{
	(void)arg;
	(void)err;
	if (endless && version > 4) {
		/* a valid, endless chain: the cap must stop it */
		char *e = root_env(version, "2030-01-01T00:00:00Z", 3, 2, 3, -1);
		*buf = (unsigned char *)e;
		*len = strlen(e);
		return 0;
	}
	if (version < 1 || version > REPO_MAX || repo[version] == NULL)
		return 1;
	*buf = malloc(repo_len[version] + 1);
	memcpy(*buf, repo[version], repo_len[version] + 1);
	*len = repo_len[version];
	return 0;
}

static struct refresh_root rootcfg;

/* One refresh with the given policy envelope (NULL = not modified). */
static int refresh(const char *policy, struct refresh_out *out, struct rp_err *e)
{
	struct trust_set none;
	struct refresh_in in;

	keys_trust_init(&none);
	memset(&in, 0, sizeof(in));
	in.envelope = (const unsigned char *)policy;
	in.len = policy ? strlen(policy) : 0;
	in.max_bytes = 1 << 20;
	in.trust = &none;
	in.root = &rootcfg;
	in.org = ORG;
	in.now = NOW;
	in.db_path = db;
	in.source = "";
	in.etag = "";
	return refresh_apply(&in, out, e);
}

/* The stored policy version and root chain length. */
static void stored(int64_t *version, size_t *n_roots)
{
	struct policy p;
	struct store_meta m;
	struct rp_err e;

	memset(&p, 0, sizeof(p));
	memset(&m, 0, sizeof(m));
	assert_int_equal(store_load_meta(db, &p, &m, &e), 0);
	*version = p.version;
	*n_roots = m.n_roots;
	policy_free(&p);
	store_meta_free(&m);
}

/* An attack: refused with code, and the stored policy and root untouched. */
static void expect_refused(const char *policy, const char *code)
{
	struct refresh_out out;
	struct rp_err e;
	int64_t v0, v1;
	size_t n0, n1;

	stored(&v0, &n0);
	if (refresh(policy, &out, &e) == 0)
		fail_msg("accepted (%s); expected %s", out.message, code);
	if (strcmp(e.code, code) != 0)
		fail_msg("refused with %s (%s); expected %s", e.code, e.msg, code);
	assert_int_equal(out.outcome, REFRESH_REFUSED);
	assert_non_null(strstr(out.message, "refused"));
	stored(&v1, &n1);
	assert_int_equal(v0, v1);
	assert_int_equal(n0, n1);
}

static void expect_ok(const char *policy, int64_t version, int64_t root_version, size_t n_roots,
                      int untrusted)
{
	struct refresh_out out;
	struct rp_err e;
	int64_t v;
	size_t n;

	if (refresh(policy, &out, &e) != 0)
		fail_msg("refused: %s: %s", e.code, out.message);
	assert_int_equal(out.root_version, root_version);
	assert_int_equal(out.stored_untrusted, untrusted);
	stored(&v, &n);
	assert_int_equal(v, version);
	assert_int_equal(n, n_roots);
}

static int rm_one(const char *p, const struct stat *s, int f, struct FTW *w)
{
	(void)s;
	(void)f;
	(void)w;
	return remove(p);
}

static int setup(void **st)
{
	(void)st;
	for (int i = 0; i < 5; i++)
		key_gen(&R[i], Rpem[i], sizeof(Rpem[i]));
	for (int i = 0; i < 3; i++)
		key_gen(&P[i], Ppem[i], sizeof(Ppem[i]));
	snprintf(dir, sizeof(dir), "/tmp/rampart-test-root.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/policy.db", dir);
	memset(&rootcfg, 0, sizeof(rootcfg));
	publish(1, root_env(1, "2030-01-01T00:00:00Z", 0, 0, 0, -1));
	rootcfg.pinned = (const unsigned char *)repo[1];
	rootcfg.pinned_len = repo_len[1];
	rootcfg.fetch = fetch_repo;
	rootcfg.max_new = 8;
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	for (int i = 0; i < 5; i++)
		keys_free(&R[i]);
	for (int i = 0; i < 3; i++)
		keys_free(&P[i]);
	for (int i = 0; i <= REPO_MAX; i++)
		free(repo[i]);
	return 0;
}

/* kill -9 at random points of a root update: the store is old or new, never torn. */
static void kill9_root_update(const char *policy)
{
	char backup[1000];
	int landed_old = 0, landed_new = 0;

	snprintf(backup, sizeof(backup), "cp %s %s.bak", db, db);
	assert_int_equal(system(backup), 0);
	int kills = getenv("RAMPART_UNDER_VALGRIND") != NULL ? 8 : 30;

	for (int i = 0; i < kills; i++) {
		struct timespec ts = {0, (long)i * 5000000L * (30 / kills)};
		int64_t v;
		size_t n;
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct refresh_out out;
			struct rp_err e;
			_exit(refresh(policy, &out, &e) == 0 ? 0 : 3);
		}
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		stored(&v, &n); /* always loads */
		assert_true(n == 4 || n == 5);
		if (n == 4)
			landed_old++;
		else
			landed_new++;
		snprintf(backup, sizeof(backup), "cp %s.bak %s && rm -f %s.tmp.*", db, db, db);
		assert_int_equal(system(backup), 0);
	}
	print_message("kill -9 during root update: %d kills before the rename, %d after\n",
	              landed_old, landed_new);
}

static void test_rotation_and_attacks(void **st)
{
	char *pol;
	int64_t rv;
	struct verify_report rep;
	struct rp_err e;

	(void)st;
	/* root 1 (R0, policy key P0) is pinned */
	expect_ok(pol = policy_env(1, 0), 1, 1, 1, 0);
	free(pol);

	/* root rotation 1 -> 2 (R0 -> R1): the attacks first */
	publish(2, root_env(2, "2030-01-01T00:00:00Z", 1, 0, 1, -1)); /* only the new key */
	expect_refused(pol = policy_env(2, 0), "E_ROOT_SIGNATURE");
	free(pol);
	publish(2, root_env(2, "2030-01-01T00:00:00Z", 1, 0, 0, -1)); /* only the old key */
	expect_refused(pol = policy_env(2, 0), "E_ROOT_SIGNATURE");
	free(pol);
	publish(2, root_env(3, "2030-01-01T00:00:00Z", 1, 0, 0, 1)); /* skips a version */
	expect_refused(pol = policy_env(2, 0), "E_ROOT_VERSION");
	free(pol);
	publish(2, root_env(2, "2030-01-01T00:00:00Z", 4, 0, 4, -1)); /* a stranger's root */
	expect_refused(pol = policy_env(2, 0), "E_ROOT_SIGNATURE");
	free(pol);
	publish(2, root_env(2, "2030-01-01T00:00:00Z", 1, 0, 0, 1)); /* the real one */
	expect_ok(pol = policy_env(2, 0), 2, 2, 2, 0);
	free(pol);

	/* rotation 2 -> 3 (R1 -> R2, policy P0 -> P1) */
	publish(3, root_env(2, "2030-01-01T00:00:00Z", 1, 0, 1, -1)); /* root 2 again: rollback */
	expect_refused(pol = policy_env(3, 0), "E_ROOT_VERSION");
	free(pol);
	publish(3, root_env(3, "2020-01-01T00:00:00Z", 2, 1, 1, 2)); /* expired */
	expect_refused(pol = policy_env(3, 1), "E_ROOT_EXPIRED");
	free(pol);
	publish(3, root_env(3, "2030-01-01T00:00:00Z", 2, 1, 1, 2));
	/* the chain moves on; policy 2 (signed by P0) is flagged, still enforced */
	expect_ok(NULL, 2, 3, 3, 1);
	expect_refused(pol = policy_env(3, 0), "E_SIGNATURE"); /* P0 is revoked from root 3 on */
	free(pol);
	assert_true(repo[3] != NULL);
	expect_ok(pol = policy_env(3, 1), 3, 3, 3, 0);
	free(pol);
	expect_refused(pol = policy_env(10, 0), "E_SIGNATURE"); /* revoked key, higher version */
	free(pol);

	/* a new policy (signed by root 4's policy key P2) while root 4 is withheld */
	expect_refused(pol = policy_env(4, 2), "E_SIGNATURE");
	free(pol);

	/* rotation 3 -> 4 (R2 -> R3, P1 -> P2) while the policy has not changed: the
	 * chain is stored with the old policy, which is flagged and still enforced */
	publish(4, root_env(4, "2030-01-01T00:00:00Z", 3, 2, 2, 3));
	expect_ok(NULL, 3, 4, 4, 1);
	expect_refused(pol = policy_env(5, 1), "E_SIGNATURE"); /* P1 now revoked too */
	free(pol);

	/* endless chain: the cap refuses, root 4 stays */
	endless = true;
	rootcfg.max_new = 3;
	expect_refused(NULL, "E_ROOT_CHAIN");
	endless = false;
	rootcfg.max_new = 8;
	/* huge root */
	{
		char *huge = malloc(ROOT_MAX_BYTES + 2);
		assert_non_null(huge);
		memset(huge, 'x', ROOT_MAX_BYTES + 1);
		huge[ROOT_MAX_BYTES + 1] = '\0';
		publish(5, huge); /* filled first: publish takes its length */
	}
	expect_refused(NULL, "E_ROOT_TOO_BIG");
	publish(5, NULL);

	/* policy for root 4, then kill -9 during the update to root 5 */
	expect_ok(pol = policy_env(4, 2), 4, 4, 4, 0);
	free(pol);
	publish(5, root_env(5, "2030-01-01T00:00:00Z", 3, 2, 3, -1));
	kill9_root_update(NULL);
	expect_ok(NULL, 4, 5, 5, 0);

	/* offline: the policy in force follows from the pinned first root alone */
	if (geteuid() == 0) {
		assert_int_equal(
		    refresh_verify_store_root(db, repo[1], repo_len[1], ORG, NOW, &rep, &rv, &e),
		    0);
		assert_int_equal(rv, 5);
		assert_int_equal(rep.version, 4);
		/* another first root proves nothing */
		pol = root_env(1, "2030-01-01T00:00:00Z", 4, 2, 4, -1);
		assert_int_equal(
		    refresh_verify_store_root(db, pol, strlen(pol), ORG, NOW, &rep, &rv, &e), -1);
		assert_string_equal(e.code, "E_TAMPERED");
		free(pol);
	}
	/* a changed pin: the stored chain is not trusted, the walk restarts at the pin */
	pol = root_env(1, "2030-01-01T00:00:00Z", 4, 2, 4, -1);
	rootcfg.pinned = (const unsigned char *)pol;
	rootcfg.pinned_len = strlen(pol);
	expect_refused(NULL, "E_ROOT_SIGNATURE"); /* root 2 is not signed by R4 */
	rootcfg.pinned = (const unsigned char *)repo[1];
	rootcfg.pinned_len = repo_len[1];
	free(pol);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_rotation_and_attacks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
