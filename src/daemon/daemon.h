/* SPDX-License-Identifier: ISC */
/*
 * rampartd's state: configuration, the listening socket, connections,
 * counters, and the fds modules register with the loop.  Modules are rows of
 * the module table (module.h), ops rows of the op table (ops.h).
 */
#ifndef RAMPART_DAEMON_H
#define RAMPART_DAEMON_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "ops.h"

#define DAEMON_MAX_GROUPS 64
#define DAEMON_MAX_WATCH 8
#define DAEMON_MAX_OPS 48
#define DAEMON_LAT_BUCKETS 16 /* latency histogram: <1us*2^i ... */
#define AUDIT_RING 64

/* Command-line overrides; re-applied after every config reload. */
struct overrides {
	const char *socket_path;
	const char *state_dir;
	const char *db_path;
	const char *audit_log;
	const char *hosts_file;
	const char *bin_dir;
	const char *app_dir;
};

struct conn {
	uint64_t id;
	int fd;
	struct peer peer;
	gid_t groups[DAEMON_MAX_GROUPS];
	int ngroups;    /* -1: supplementary groups unknown */
	uid_t slot_uid; /* charged to this uid's per-uid cap (slots.c) */
	bool slot_priv; /* root, owner or admin: may use the reserved slots */
	uint8_t *rbuf;
	size_t rlen, rcap;
	int in_fd;
	uint8_t *wbuf;
	size_t wlen, woff;
	int out_fd;
	long long last_ms;        /* last progress (bytes in or out) */
	long long frame_start_ms; /* first byte of the request being read, 0 if none */
	bool pending;             /* an async op owes this connection a reply */
	bool close_after_write;
	bool dead;
};

struct op_stats {
	uint64_t count, errors, refused;
	uint64_t lat[DAEMON_LAT_BUCKETS];
};

struct rampart_policy;

typedef void (*watch_cb)(struct daemon *d, int fd, short revents, void *arg);

struct watch {
	int fd;
	short events;
	watch_cb cb;
	void *arg;
};

struct daemon {
	struct config cfg;
	char config_path[4096];
	bool config_loaded; /* false: running on built-in defaults + flags */
	bool check_owner;
	struct overrides ov;
	int listen_fd;
	bool own_socket; /* we created the socket path: unlink it at exit */
	long long started_ms;
	time_t started_wall;
	struct conn **conns;
	size_t nconns, capconns;
	uint64_t next_conn_id;
	struct op_stats stats[DAEMON_MAX_OPS];
	uint64_t accepted, dropped_idle, refused_busy;
	int sigpipe[2];
	bool stopping;
	long long accept_paused_until_ms; /* out of fds: listen socket not polled until then */
	bool exit_after_flush;            /* helper.uninstall: exit once replies are written */
	struct watch watches[DAEMON_MAX_WATCH];
	int audit_fd;
	char audit_ring[AUDIT_RING][512];
	unsigned audit_next;
	void *audit_state; /* refusal coalescing, owned by audit.c */
	/* NULL: daemon_load_config reads config_path; tests supply a config here */
	int (*load_config)(struct daemon *d, struct config *out, struct rp_err *err);
	void *policy;                  /* struct policy_state *, owned by refresher.c */
	struct rampart_policy *reader; /* the daemon's policy reader, owned by refresher.c */
	void *trace;                   /* struct trace_state *, owned by op_diag.c */
	void *enforce;                 /* struct enforce_state *, owned by op_enforce.c */
	void *slots;                   /* struct slots_state *, owned by slots.c */
	bool stale_audited;            /* policy_stale.c: "stale" audited for this policy */
	long long stale_checked_ms;    /* policy_stale.c: last look */
};

/* helper.uninstall (op_enforce.c): takes rampart's engine policy files out.
 * 1 if something was restored or removed (result names it), 0 if nothing, -1 error. */
int enforce_module_uninstall(struct daemon *d, char *result, size_t size, struct rp_err *err);

/* Monotonic milliseconds. */
static inline long long daemon_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* loop.c: extra fds polled by the loop (fetch pipes, worker pipes, trace timers).
 * A callback runs in the loop; it may queue replies, never write them. */
int daemon_watch_add(struct daemon *d, int fd, short events, watch_cb cb, void *arg);
void daemon_watch_del(struct daemon *d, int fd);
void loop_signals_setup(struct daemon *d);
/* Runs until SIGTERM/SIGINT (replies owed are finished) or helper.uninstall. */
int loop_run(struct daemon *d);

/* server.c: queues the reply an OP_PENDING handler owes (result or err, one of
 * them); the loop writes it on its next pass. */
void server_complete(struct daemon *d, uint64_t conn_id, json_t *req_id, json_t *result,
                     const struct rp_err *err);

/* audit.c: one line per privileged op; detail is escaped here. */
void audit_open(struct daemon *d);
void audit_log(struct daemon *d, const char *op, const struct peer *p, const char *result,
               const char *code, const char *detail);
/* Writes the summaries of refusal windows that have ended (called by the loop). */
void audit_tick(struct daemon *d);
/* Writes every pending summary now (at exit). */
void audit_flush(struct daemon *d);

/* daemon.c: loads (or reloads) the config file and applies overrides; 0 or
 * -1 + err.  d->load_config, when set (tests, fuzzers), supplies it instead. */
int daemon_load_config(struct daemon *d, struct config *out, struct rp_err *err);
/* The one reload sequence (SIGHUP and daemon.reload): 0, or -1 + err with the
 * running config unchanged.  note (may be NULL) gets what could not change. */
int daemon_reload(struct daemon *d, char *note, size_t notelen, struct rp_err *err);
/*
 * What a refresh will need, loaded now: every trusted key file (with the
 * daemon's ownership checks) and the threshold, the CA file and the pin.  So
 * --check-config and a reload refuse a missing or broken file instead of
 * saying OK and failing at the next refresh.  0, or -1 with E_CONFIG naming
 * the field.
 */
int daemon_check_trust(const struct config *c, struct rp_err *err);

/* Sets status.enforce.NAME to o (taken; NULL: nothing), making "enforce" if needed. */
void enforce_status_put(json_t *status, const char *name, json_t *o);
/* status.enforce.docker: rampart-authz's counters record (enforce_docker.c). */
void enforce_docker_status(struct daemon *d, json_t *status);
/* status.enforce.proxy: rampart-proxy's stats file (enforce_proxy.c). */
void enforce_proxy_status(struct daemon *d, json_t *status);
/* Its parser (a fuzz target): fills o from the file's text, every string printable
 * ASCII, every counter >= 0; 0, or -1 with E_PROXY_STATS and o without counters. */
int enforce_proxy_parse(json_t *o, const char *path, const char *text, struct rp_err *err);

#endif
