/* SPDX-License-Identifier: ISC */
/*
 * librampart in-process policy lookups: open the cached, signed registry
 * policy that rampartd keeps (read-only, no socket round trip) and ask
 * whether an image reference may be pulled.  The rules are those of the
 * `policy.check` op; see docs/lookups.md.
 *
 * Typical use:
 *
 *	struct rampart_policy *h;
 *	struct rampart_decision d;
 *	char err[512];
 *
 *	if (rampart_policy_open("/var/lib/rampart/policy.db", 0, &h, err, sizeof(err)) != 0)
 *		die(err);
 *	if (rampart_policy_check(h, "ghcr.io/org/app:1.2", &d) != 0)
 *		printf("invalid reference: %s\n", d.reason);
 *	else
 *		printf("%s: %s\n", d.allowed ? "allowed" : "denied", d.reason);
 *	rampart_policy_close(h);
 *
 * Thread-safety: a handle may be shared by any number of threads.  Every
 * function below takes the handle's internal mutex, so concurrent calls on
 * one handle are serialised (they never see a half-swapped policy).  Use one
 * handle per thread if checks must run in parallel.  Handles must not be used
 * after rampart_policy_close(), and close must not race with other calls.
 *
 * Memory: the library owns the handle; every result is copied into
 * caller-provided storage, so the caller never frees anything but the handle
 * (with rampart_policy_close).
 */
#ifndef RAMPART_POLICY_H
#define RAMPART_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rampart/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* rampart_policy_open() flag: with no policy cached, allow instead of deny. */
#define RAMPART_POLICY_ALLOW_WHEN_NO_POLICY 0x1u
/*
 * Reload checks: by default a handle stat()s the DB path at most once per
 * millisecond, so a replaced policy is seen up to 1 ms late and a check costs
 * no system call on the hot path.  RAMPART_POLICY_STRICT_RELOAD stat()s on
 * every check instead (see docs/lookups.md for the measured cost).
 * RAMPART_POLICY_COARSE_RELOAD names the default and is accepted for clarity.
 */
#define RAMPART_POLICY_COARSE_RELOAD 0x2u
#define RAMPART_POLICY_STRICT_RELOAD 0x4u
/*
 * RAMPART_POLICY_REQUIRE_STORE: a missing store file is an error of
 * rampart_policy_open() (E_NO_POLICY, naming the path) instead of "no policy
 * cached", so a mistyped path cannot silently deny (or, with
 * ALLOW_WHEN_NO_POLICY, allow) everything; a path whose directory does not
 * exist is E_STORE_PATH.  Use it unless the caller really starts before
 * rampartd's first refresh.
 */
#define RAMPART_POLICY_REQUIRE_STORE 0x10u
/*
 * RAMPART_POLICY_MANUAL_RELOAD: checks never look at the file; the handle
 * keeps answering from the policy it has until rampart_policy_reload() is
 * called.  For callers that must answer a batch from one policy (rampartd
 * reloads right after each commit it makes).
 */
#define RAMPART_POLICY_MANUAL_RELOAD 0x8u

#define RAMPART_CODE_MAX 40
#define RAMPART_RULE_MAX 528
#define RAMPART_NORMALIZED_MAX 720
#define RAMPART_REASON_MAX 1024
#define RAMPART_ORG_MAX 129

/* The answer to one rampart_policy_check().  Plain data, no pointers. */
struct rampart_decision {
	bool allowed;                /* may this reference be pulled */
	bool expired;                /* the cached policy is past expires_at (still enforced) */
	bool stale;                  /* issued_at is older than the handle's max age (see
	                                rampart_policy_set_max_age; still enforced) */
	bool policy_cached;          /* false: no policy is cached, the open flag decided */
	int64_t policy_version;      /* version of the policy that decided; 0 if none cached */
	char code[RAMPART_CODE_MAX]; /* "" when decided; "E_REF" invalid reference,
	                                "E_INVAL" bad arguments */
	char rule[RAMPART_RULE_MAX]; /* the policy entry that matched, e.g. "ghcr.io",
	                                "*.corp.example", "docker.io (allow_docker_hub)";
	                                "" when none matched (JSON null) */
	char normalized[RAMPART_NORMALIZED_MAX]; /* "docker.io/library/alpine:latest";
	                                            "" for an invalid reference */
	char reason[RAMPART_REASON_MAX];         /* always one sentence for people */
	/* Added with policy schema 2 (deny rules, dry-run rules); zero for schema 1: */
	bool denied_by_rule;              /* a deny rule decided (rule names it), not the default */
	bool warn;                        /* a rule in mode "warn" would have decided otherwise */
	char warn_rule[RAMPART_RULE_MAX]; /* that rule, e.g. "deny quay.io/acme/old/"; "" if none */
	char warn_reason[RAMPART_REASON_MAX]; /* what it would have done; "" if none */
};

/* A consistent snapshot of the cached policy's metadata. */
struct rampart_policy_info {
	bool cached;  /* false: no policy cached (other fields zero) */
	bool expired; /* now > expires_at */
	bool stale;   /* now - issued_at > the handle's max age (0: never) */
	int64_t version;
	int64_t issued_at;  /* unix seconds */
	int64_t expires_at; /* unix seconds */
	bool allow_docker_hub;
	size_t n_registries; /* entries in the signed policy */
	char org[RAMPART_ORG_MAX];
	/* Added with policy schema 2: */
	int schema_version; /* of the signed payload: 1 or 2 */
	size_t n_deny;      /* deny rules among n_registries */
	size_t n_warn;      /* rules in mode "warn" among n_registries */
};

/*
 * The answer to rampart_policy_companion(): is host:port a companion host
 * (a token or blob host a registry sends clients to) of an allow rule in
 * force?  Plain data.  Added with policy schema 2 companions.
 */
#define RAMPART_COMPANION_MAX 260
struct rampart_companion {
	bool allowed;                /* a companion of an enforced allow rule in force */
	bool hub;                    /* from allow_docker_hub's built-in Docker Hub list */
	bool policy_cached;          /* false: no policy cached (never allowed) */
	int64_t policy_version;      /* version of the policy that answered; 0 if none */
	char code[RAMPART_CODE_MAX]; /* "" when answered; "E_INVAL" for bad arguments */
	char rule[RAMPART_RULE_MAX]; /* allowed: the rule that brings it ("ghcr.io",
	                                "docker.io (allow_docker_hub)"); refused: the deny
	                                rule that wins, or the rule not in force; else "" */
	char companion[RAMPART_COMPANION_MAX]; /* the entry that matched ("x.io", "x.io:8443") */
	char reason[RAMPART_REASON_MAX];       /* always one sentence for people */
};

/* Version of the built-in Docker Hub companion list (docs/policy.md). */
#define RAMPART_HUB_COMPANIONS_VERSION 1

struct rampart_policy;

/*
 * Opens the policy store at db_path read-only (SQLite `mode=ro&immutable=1`,
 * so a reader never blocks rampartd and never sees a half-written policy).
 * A missing file is not an error: checks then answer "no policy cached" with
 * the default (deny, or allow with RAMPART_POLICY_ALLOW_WHEN_NO_POLICY) until
 * rampartd writes one.
 *
 * flags: RAMPART_POLICY_ALLOW_WHEN_NO_POLICY, and one of
 * RAMPART_POLICY_COARSE_RELOAD (the default) or RAMPART_POLICY_STRICT_RELOAD.
 *
 * Returns 0 and sets *out (free it with rampart_policy_close), or -1 with
 * *out NULL and "E_CODE: sentence" in errbuf (if errbuf is non-NULL and
 * errlen > 0; truncated to fit) when an argument is invalid (E_INVAL),
 * memory runs out (E_NOMEM, E_STORE_NOMEM), or the file exists but cannot
 * be read as a policy store (E_STORE, E_STORE_IO, E_STORE_CORRUPT,
 * E_STORE_SCHEMA).
 *
 * The file is trusted as found (its signatures are not re-checked here, and
 * its owner is not checked): pass the path rampartd writes, in a root-owned
 * directory, never a path a user controls.  `rampart policy verify` audits a
 * store against the signing keys; see docs/security.md.
 *
 * Thread-safety: may be called from any thread; handles are independent.
 */
RAMPART_API int rampart_policy_open(const char *db_path, unsigned flags,
                                    struct rampart_policy **out, char *errbuf, size_t errlen);

/*
 * Decides whether image reference ref may be pulled, writing the answer to
 * *out.  Before deciding it stat()s the DB path (at most once per
 * millisecond, or every time with RAMPART_POLICY_STRICT_RELOAD) and reloads the policy when
 * the file was replaced (device/inode changed) or removed.  An expired
 * policy is still enforced (out->expired set, and the reason says so).  If
 * a replaced file cannot be read, the last good policy keeps deciding; with
 * none loaded, the check denies (fail closed) whatever the open flags say.
 *
 * Returns 0 when a decision was made (see out->allowed), or -1 when ref is
 * not a valid image reference (out->code "E_REF", out->reason says what is
 * wrong, out->allowed false) or an argument is NULL (out->code "E_INVAL",
 * if out is non-NULL).  Never allows on error.
 */
RAMPART_API int rampart_policy_check(struct rampart_policy *h, const char *ref,
                                     struct rampart_decision *out);

/*
 * Answers whether a connection to host:port may be made as a companion host
 * of the cached policy (what rampart-proxy allows besides the registries the
 * rules allow; docs/policy.md, "Companion hosts").  host is a DNS name as a
 * client wrote it (compared case-insensitively, no brackets, no port); port
 * is the port asked for and default_port the default of the client's scheme
 * (443 for a CONNECT / https, 80 for plain http): an entry without a port
 * matches port == default_port, an entry "host:P" matches port P.
 *
 * Allowed only while the rule that lists it is in force: an enforced allow
 * rule (a rule in mode "warn" brings none), and only when no enforced deny
 * rule matches host itself at host level (exact host or wildcard: the deny
 * wins).  It never decides image references: rampart_policy_check is the
 * answer for those.  With no policy cached the answer is no, whatever the
 * open flags say.  Reloads like rampart_policy_check.
 *
 * Returns 0 when answered (see out->allowed), -1 for a NULL argument, an
 * empty or over-long host, or a port outside 1-65535 (out->code "E_INVAL").
 */
RAMPART_API int rampart_policy_companion(struct rampart_policy *h, const char *host, unsigned port,
                                         unsigned default_port, struct rampart_companion *out);

/*
 * Fills *out with the metadata of the policy the next check would use
 * (reloading first, like rampart_policy_check).  Returns 0, or -1 if an
 * argument is NULL.
 */
RAMPART_API int rampart_policy_info(struct rampart_policy *h, struct rampart_policy_info *out);

/*
 * Version of the cached policy, or -1 when none is cached (or h is NULL).
 * Reloads first, like rampart_policy_check.
 */
RAMPART_API int64_t rampart_policy_version(struct rampart_policy *h);

/*
 * expires_at (unix seconds) of the cached policy, or -1 when none is cached
 * (or h is NULL).  Reloads first, like rampart_policy_check.
 */
RAMPART_API int64_t rampart_policy_expires_at(struct rampart_policy *h);

/*
 * Copies the cached policy's org into buf (always NUL-terminated when
 * len > 0).  Returns 0, 1 when no policy is cached (buf = ""), or -1 when an
 * argument is invalid or buf is too small (buf then holds a truncated copy).
 * RAMPART_ORG_MAX bytes are always enough.  Reloads first.
 */
RAMPART_API int rampart_policy_org(struct rampart_policy *h, char *buf, size_t len);

/*
 * Looks at the DB path now and reloads if the file was replaced or removed,
 * whatever the reload flag.  Returns 0, or -1 when h is NULL.  Thread-safe
 * like rampart_policy_check().
 */
RAMPART_API int rampart_policy_reload(struct rampart_policy *h);

/*
 * Flags decisions and info as stale (still enforced) once the cached
 * policy's signed issued_at is more than max_age_s seconds old; 0, the
 * default, never does.  A feed that keeps answering "not modified" while a
 * newer policy is published is caught this way long before expires_at.
 * Returns 0, or -1 when h is NULL or max_age_s is negative.
 */
RAMPART_API int rampart_policy_set_max_age(struct rampart_policy *h, int64_t max_age_s);

/*
 * Frees the handle and everything it owns.  NULL-safe.  No other call on
 * the same handle may be running or made afterwards.
 */
RAMPART_API void rampart_policy_close(struct rampart_policy *h);

#ifdef __cplusplus
}
#endif

#endif
