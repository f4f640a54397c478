/* SPDX-License-Identifier: ISC */
/*
 * rampart-authz: the Docker Engine authorization plugin (docs/enforcement.md).
 * dockerd sends every API request it serves as an AuthZReq; this program
 * decides the ones that bring an image onto the machine against the signed
 * policy, in process, with librampart.  Everything that arrives here is
 * treated as untrusted input: the JSON, the URI, the headers and the body.
 */
#ifndef RAMPART_AUTHZ_H
#define RAMPART_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rampart/policy.h>

#include "err.h"

/* Largest plugin request body accepted (dockerd sends bodies < 1 MiB, base64). */
#define AUTHZ_MAX_REQUEST (4u << 20)
#define AUTHZ_MAX_URI 8192
#define AUTHZ_MAX_REF 1024

/* One request dockerd asks about (AuthZReq or AuthZRes), as parsed. */
struct authz_req {
	char method[16];
	char *uri;               /* RequestURI, NUL-terminated, owned */
	char content_type[256];  /* RequestHeaders["Content-Type"] (dockerd keeps the last value) */
	char content_length[32]; /* RequestHeaders["Content-Length"] */
	bool has_content_type, has_content_length;
	unsigned char *body; /* RequestBody, base64-decoded, owned; NULL if absent */
	size_t body_len;
	char user[256]; /* User (TLS client name), "" for a UNIX socket */
};

/* Parses the JSON dockerd posts.  Returns 0, or -1 with E_AUTHZ_* in err. */
int authz_req_parse(const char *json, size_t len, struct authz_req *out, struct rp_err *err);
void authz_req_free(struct authz_req *r);

/*
 * Splits a RequestURI into its cleaned, percent-decoded path (leading
 * "/vX.Y" API version removed) and its raw query, the way Go's net/http and
 * gorilla/mux see them.  Returns 0 or -1 (E_AUTHZ_URI).
 */
int authz_uri_split(const char *uri, char *path, size_t pathlen, const char **query,
                    struct rp_err *err);

/*
 * Value of query parameter key (decoded as Go's url.ParseQuery does, '+' is a
 * space).  Returns 1 and fills val when present once, 0 when absent, -1
 * (E_AUTHZ_QUERY) when present twice, undecodable, too long, or the query
 * uses ';' (which Go versions split differently).
 */
int authz_query_get(const char *query, const char *key, char *val, size_t vallen,
                    struct rp_err *err);

/* Which kind of request was decided (audit and counters). */
enum authz_kind {
	AUTHZ_OTHER = 0, /* not an image source: allowed without a decision */
	AUTHZ_PULL,      /* images/create?fromImage= */
	AUTHZ_CREATE,    /* containers/create */
	AUTHZ_PLUGIN,    /* plugins/pull, plugins/{name}/upgrade */
	AUTHZ_LOAD,      /* images/load, images/create?fromSrc= (import) */
	AUTHZ_NKINDS
};

enum authz_mode { AUTHZ_MODE_OFF, AUTHZ_MODE_WARN, AUTHZ_MODE_ENFORCE };

struct authz_opts {
	enum authz_mode mode;
	bool block_load;
	const char *org; /* configured org, for messages when no policy is cached */
};

/* The answer to one AuthZReq, and what the audit line needs. */
struct authz_verdict {
	bool allow;      /* what dockerd is told */
	bool would_deny; /* the policy refused (in warn mode allow is still true) */
	bool is_err;     /* answer with "Err" (malformed request) rather than "Msg" */
	bool rule_warn;  /* allowed, but a policy rule in mode warn would deny it: audited */
	enum authz_kind kind;
	char msg[2048];                          /* Msg or Err text */
	char ref[AUTHZ_MAX_REF + 1];             /* the reference as requested */
	char normalized[RAMPART_NORMALIZED_MAX]; /* "" if it did not parse */
	char rule[RAMPART_RULE_MAX];
	int64_t policy_version;
};

/* Decides one parsed AuthZReq.  Never fails: anything it cannot read is refused. */
void authz_decide(struct rampart_policy *pol, const struct authz_opts *o, const struct authz_req *r,
                  struct authz_verdict *v);

/* Parses and decides a raw AuthZReq body (the fuzz entry point). */
void authz_decide_raw(struct rampart_policy *pol, const struct authz_opts *o, const char *json,
                      size_t len, struct authz_verdict *v);

/* Writes the JSON answer for v into buf ({"Allow":...,"Msg"|"Err":...}); returns its length. */
size_t authz_answer_json(const struct authz_verdict *v, char *buf, size_t size);

const char *authz_kind_name(enum authz_kind k);
const char *authz_mode_name(enum authz_mode m);

/* --- audit lines and counters (authz_audit.c) ----------------------------- */

struct authz_stats {
	uint64_t allowed[AUTHZ_NKINDS]; /* decided and allowed ([AUTHZ_OTHER]: not decided) */
	uint64_t denied[AUTHZ_NKINDS];  /* refused (policy or malformed) */
	uint64_t warned[AUTHZ_NKINDS];  /* would have been refused, allowed in warn mode */
	uint64_t errors;                /* malformed requests (counted in denied too) */
	uint64_t audit_suppressed;      /* identical lines coalesced */
};

struct authz_audit;

/* path "" = syslog.  Returns NULL (and logs) only when memory runs out. */
struct authz_audit *authz_audit_open(const char *path);
/* Counts v and writes (or coalesces) its audit line when it was refused or warned. */
void authz_audit_record(struct authz_audit *a, const struct authz_verdict *v, enum authz_mode mode,
                        int64_t now);
/* Flushes coalesced lines older than the window; call about once a second and at exit. */
void authz_audit_tick(struct authz_audit *a, int64_t now, bool final);
const struct authz_stats *authz_audit_stats(const struct authz_audit *a);
void authz_audit_close(struct authz_audit *a);

/* --- the stats file rampartd reads for status (authz_stats.h) -------------- */

/* --- daemon.json editing for install/uninstall (authz_daemonjson.c) -------- */

/*
 * Adds "rampart" to the top-level "authorization-plugins" array of the JSON
 * text in (creating the key), or removes it (dropping the key when the array
 * becomes empty).  Every other byte of the document is kept.  Returns 0 and a
 * malloc'd result in *out (NULL when nothing changes), or -1 with err.
 */
int authz_daemonjson_edit(const char *in, size_t len, bool add, char **out, struct rp_err *err);

#endif
