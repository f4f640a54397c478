/* SPDX-License-Identifier: ISC */
/*
 * librampart's in-process policy API (include/rampart/policy.h): a handle
 * that reads the policy store written by rampartd and answers checks without
 * a socket round trip.  It trusts the store file (root-owned, replaced only
 * by atomic rename) and nothing about the references it is asked about.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rampart/policy.h>

#include "compat.h"
#include "policy_match.h"
#include "store.h"

#define PA_RETRY_SECONDS 1     /* a store file that failed to load is retried this often */
#define PA_COARSE_NS 1000000LL /* RAMPART_POLICY_COARSE_RELOAD: stat at most once per ms */
#define PA_FLAGS                                                                                   \
	(RAMPART_POLICY_ALLOW_WHEN_NO_POLICY | RAMPART_POLICY_COARSE_RELOAD |                      \
	 RAMPART_POLICY_STRICT_RELOAD | RAMPART_POLICY_MANUAL_RELOAD |                             \
	 RAMPART_POLICY_REQUIRE_STORE)

/*
 * Identity of the file a policy was loaded from.  dev+ino say "replaced";
 * size, mtime and ctime guard against the file system handing a freed inode
 * number to the next replacement while we were not looking.
 */
struct pa_key {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct rampart_policy {
	pthread_mutex_t mu;
	char *path;
	unsigned flags;
	struct policy_index *idx; /* NULL: no policy cached */
	bool have_key;            /* key names the file idx (or the failure) came from */
	struct pa_key key;
	bool load_failed; /* the file at key exists but could not be loaded */
	time_t retry_at;
	int64_t next_stat_ns; /* COARSE_RELOAD: monotonic time of the next stat() */
	struct rp_err load_err;
	int64_t max_age_s; /* 0: never stale */
};

static void pa_key_of(const struct stat *st, struct pa_key *k)
{
	memset(k, 0, sizeof(*k));
	k->dev = st->st_dev;
	k->ino = st->st_ino;
	k->size = st->st_size;
	k->mtime = rp_stat_mtime(st);
	k->ctime = rp_stat_ctime(st);
}

static bool pa_key_eq(const struct pa_key *a, const struct pa_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* The store is gone: forget the policy (checks answer "no policy cached"). */
static void pa_drop(struct rampart_policy *h)
{
	policy_index_free(h->idx);
	h->idx = NULL;
	h->have_key = false;
	h->load_failed = false;
}

/* Loads the file identified by st; on failure keeps the last good policy. */
static void pa_load(struct rampart_policy *h, const struct stat *st)
{
	struct policy p;
	struct policy_index *idx = NULL;
	int rc;

	memset(&p, 0, sizeof(p));
	rc = store_load(h->path, &p, NULL, NULL, NULL, &h->load_err);
	if (rc == 1) {
		pa_drop(h); /* removed between stat() and open */
		goto out;
	}
	pa_key_of(st, &h->key);
	h->have_key = true;
	if (rc == 0 && policy_index_build(&p, &idx, &h->load_err) == 0) {
		policy_index_free(h->idx);
		h->idx = idx;
		h->load_failed = false;
		rp_clearerr(&h->load_err);
		goto out;
	}
	h->load_failed = true;
	h->retry_at = time(NULL) + PA_RETRY_SECONDS;
out:
	policy_free(&p);
}

/* Unless STRICT_RELOAD, true if the store was stat()ed less than 1 ms ago. */
static bool pa_fresh_enough(struct rampart_policy *h)
{
	struct timespec ts;
	int64_t now;

	if (h->flags & RAMPART_POLICY_STRICT_RELOAD)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	if (now < h->next_stat_ns)
		return true;
	h->next_stat_ns = now + PA_COARSE_NS;
	return false;
}

/* One stat() per call (or per ms, or only when forced); reloads when the store
 * file was replaced. */
static void pa_refresh_if(struct rampart_policy *h, bool force)
{
	struct stat st;
	struct pa_key k;

	if (!force && ((h->flags & RAMPART_POLICY_MANUAL_RELOAD) || pa_fresh_enough(h)))
		return;
	if (stat(h->path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR) {
			pa_drop(h);
		} else if (h->idx == NULL) {
			h->load_failed = true;
			rp_seterr(&h->load_err, "E_STORE",
			          "Cannot stat the policy store %s: %s; every check is denied "
			          "until it can be read.",
			          h->path, strerror(errno));
		}
		return;
	}
	pa_key_of(&st, &k);
	if (h->have_key && pa_key_eq(&k, &h->key) && (!h->load_failed || time(NULL) < h->retry_at))
		return;
	pa_load(h, &st);
}

static void pa_refresh(struct rampart_policy *h)
{
	pa_refresh_if(h, false);
}

RAMPART_API int rampart_policy_reload(struct rampart_policy *h)
{
	if (h == NULL)
		return -1;
	pthread_mutex_lock(&h->mu);
	pa_refresh_if(h, true);
	pthread_mutex_unlock(&h->mu);
	return 0;
}

/* A store file exists but nothing could be loaded from it: deny. */
static void pa_unreadable(const struct rampart_policy *h, struct rampart_decision *out)
{
	out->allowed = false;
	snprintf(out->reason, sizeof(out->reason),
	         "the policy store %s could not be read (%s); "
	         "denied",
	         h->path, h->load_err.msg);
}

static void pa_errbuf(char *buf, size_t len, const char *code, const char *msg)
{
	if (buf != NULL && len > 0)
		snprintf(buf, len, "%s: %s", code, msg);
}

/*
 * A path that cannot name a store: its directory is missing (a typo; rampartd
 * creates the file, never the directory), or, with REQUIRE_STORE, the file
 * itself.  0 when the path may be opened.
 */
static int pa_check_path(const char *path, unsigned flags, char *errbuf, size_t errlen)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int dlen = slash == NULL ? 1 : slash == path ? 1 : (int)(slash - path);

	if (!(flags & RAMPART_POLICY_REQUIRE_STORE) || stat(path, &st) == 0 ||
	    (errno != ENOENT && errno != ENOTDIR))
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", dlen, slash == NULL ? "." : path);
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen,
			         "E_STORE_PATH: The policy store %s cannot exist: its directory %s "
			         "is missing. Check the path (rampartd's state_dir, e.g. "
			         "/var/lib/rampart/policy.db).",
			         path, dir);
		return -1;
	}
	{
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen,
			         "E_NO_POLICY: There is no policy store at %s. Check the path; "
			         "rampartd creates the file at its first successful refresh.",
			         path);
		return -1;
	}
	return 0;
}

int rampart_policy_open(const char *db_path, unsigned flags, struct rampart_policy **out,
                        char *errbuf, size_t errlen)
{
	struct rampart_policy *h = NULL;
	int rc = -1;

	if (out != NULL)
		*out = NULL;
	if (db_path == NULL || db_path[0] == '\0' || out == NULL || (flags & ~PA_FLAGS) != 0) {
		pa_errbuf(errbuf, errlen, "E_INVAL",
		          "rampart_policy_open needs a DB path, an out "
		          "pointer and only known flags.");
		return -1;
	}
	if (pa_check_path(db_path, flags, errbuf, errlen) < 0)
		return -1;
	if ((h = calloc(1, sizeof(*h))) == NULL || (h->path = strdup(db_path)) == NULL) {
		pa_errbuf(errbuf, errlen, "E_NOMEM", "Out of memory opening the policy store.");
		goto out;
	}
	pthread_mutex_init(&h->mu, NULL);
	h->flags = flags;
	pa_refresh_if(h, true);
	if (h->load_failed && h->idx == NULL) {
		pa_errbuf(errbuf, errlen, h->load_err.code, h->load_err.msg);
		goto out;
	}
	*out = h;
	h = NULL;
	rc = 0;
out:
	rampart_policy_close(h);
	return rc;
}

static bool pa_stale(const struct rampart_policy *h, int64_t now)
{
	return h->idx != NULL && h->max_age_s > 0 &&
	       now - policy_index_issued_at(h->idx) > h->max_age_s;
}

static void pa_stale_reason(const struct rampart_policy *h, struct rampart_decision *out)
{
	size_t n = strlen(out->reason);

	out->stale = true;
	snprintf(out->reason + n, sizeof(out->reason) - n,
	         "; policy is stale (issued %lld s ago, more than the %lld s allowed); still "
	         "enforced",
	         (long long)((int64_t)time(NULL) - policy_index_issued_at(h->idx)),
	         (long long)h->max_age_s);
}

int rampart_policy_set_max_age(struct rampart_policy *h, int64_t max_age_s)
{
	if (h == NULL || max_age_s < 0)
		return -1;
	pthread_mutex_lock(&h->mu);
	h->max_age_s = max_age_s;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

typedef int (*pa_decide_fn)(const struct policy_index *idx, bool allow_when_no_policy,
                            const char *subject, int64_t now, struct rampart_decision *out);

/* One decision on the current policy: reload if replaced, decide, add staleness. */
static int pa_check(struct rampart_policy *h, const char *subject, pa_decide_fn decide,
                    const char *usage, struct rampart_decision *out)
{
	int64_t now;
	int rc;

	if (out == NULL)
		return -1;
	if (h == NULL || subject == NULL) {
		memset(out, 0, sizeof(*out));
		rp_strlcpy(out->code, "E_INVAL", sizeof(out->code));
		rp_strlcpy(out->reason, usage, sizeof(out->reason));
		return -1;
	}
	pthread_mutex_lock(&h->mu);
	pa_refresh(h);
	now = (int64_t)time(NULL);
	rc = decide(h->idx, (h->flags & RAMPART_POLICY_ALLOW_WHEN_NO_POLICY) != 0, subject, now,
	            out);
	out->stale = false;
	if (rc == 0 && h->idx == NULL && h->load_failed)
		pa_unreadable(h, out);
	if (rc == 0 && pa_stale(h, now))
		pa_stale_reason(h, out);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int rampart_policy_check(struct rampart_policy *h, const char *ref, struct rampart_decision *out)
{
	return pa_check(h, ref, policy_check,
	                "rampart_policy_check needs a handle and a reference.", out);
}

int rampart_policy_check_registry(struct rampart_policy *h, const char *registry,
                                  struct rampart_decision *out)
{
	return pa_check(h, registry, policy_check_registry,
	                "rampart_policy_check_registry needs a handle and a registry.", out);
}

int rampart_policy_companion(struct rampart_policy *h, const char *host, unsigned port,
                             unsigned default_port, struct rampart_companion *out)
{
	int rc;

	if (out == NULL)
		return -1;
	if (h == NULL)
		return policy_companion(NULL, NULL, 0, 0, out);
	pthread_mutex_lock(&h->mu);
	pa_refresh(h);
	rc = policy_companion(h->idx, host, port, default_port, out);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int rampart_policy_info(struct rampart_policy *h, struct rampart_policy_info *out)
{
	if (h == NULL || out == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&h->mu);
	pa_refresh(h);
	if (h->idx != NULL) {
		out->cached = true;
		out->version = policy_index_version(h->idx);
		out->issued_at = policy_index_issued_at(h->idx);
		out->expires_at = policy_index_expires_at(h->idx);
		out->expired = (int64_t)time(NULL) >= out->expires_at;
		out->stale = pa_stale(h, (int64_t)time(NULL));
		out->allow_docker_hub = policy_index_allow_docker_hub(h->idx);
		out->n_registries = policy_index_entries(h->idx);
		out->n_deny = policy_index_deny(h->idx);
		out->n_warn = policy_index_warn(h->idx);
		out->schema_version = policy_index_schema(h->idx);
		rp_strlcpy(out->org, policy_index_org(h->idx), sizeof(out->org));
	}
	pthread_mutex_unlock(&h->mu);
	return 0;
}

int64_t rampart_policy_version(struct rampart_policy *h)
{
	struct rampart_policy_info i;

	if (rampart_policy_info(h, &i) != 0 || !i.cached)
		return -1;
	return i.version;
}

int64_t rampart_policy_expires_at(struct rampart_policy *h)
{
	struct rampart_policy_info i;

	if (rampart_policy_info(h, &i) != 0 || !i.cached)
		return -1;
	return i.expires_at;
}

int rampart_policy_org(struct rampart_policy *h, char *buf, size_t len)
{
	struct rampart_policy_info i;

	if (buf == NULL || len == 0)
		return -1;
	buf[0] = '\0';
	if (rampart_policy_info(h, &i) != 0)
		return -1;
	if (!i.cached)
		return 1;
	return rp_strlcpy(buf, i.org, len) < len ? 0 : -1;
}

void rampart_policy_close(struct rampart_policy *h)
{
	if (h == NULL)
		return;
	if (h->path != NULL)
		pthread_mutex_destroy(&h->mu);
	policy_index_free(h->idx);
	free(h->path);
	free(h);
}
