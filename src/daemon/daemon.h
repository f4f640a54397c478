/* SPDX-License-Identifier: ISC */
/*
 * rampartd's state: configuration, the listening socket, connections,
 * counters, and hooks other modules register (extra fds to poll, ticks).
 */
#ifndef RAMPART_DAEMON_H
#define RAMPART_DAEMON_H

#include <jansson.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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
	int ngroups; /* -1: supplementary groups unknown */
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
	bool exit_after_flush; /* helper.uninstall: exit once replies are written */
	struct watch watches[DAEMON_MAX_WATCH];
	int audit_fd;
	char audit_ring[AUDIT_RING][512];
	unsigned audit_next;
	void *policy;  /* struct policy_state *, owned by op_policy.c */
	void *trace;   /* struct trace_state *, owned by op_diag.c */
};

long long daemon_now_ms(void);

/* Extra fds polled by the main loop (fetch pipes, trace timers). */
int daemon_watch_add(struct daemon *d, int fd, short events, watch_cb cb, void *arg);
void daemon_watch_del(struct daemon *d, int fd);

/* Sends the reply an OP_PENDING handler owes.  result or err (one of them). */
void server_complete(struct daemon *d, uint64_t conn_id, json_t *req_id, json_t *result,
		     const struct rp_err *err);

/* Audit: one line per privileged op; detail is escaped here. */
void audit_open(struct daemon *d);
void audit_log(struct daemon *d, const char *op, const struct peer *p, const char *result,
	       const char *code, const char *detail);

/* Loads (or reloads) the config file and applies overrides; 0 or -1 + err. */
int daemon_load_config(struct daemon *d, struct config *out, struct rp_err *err);
/* Counts an error for an op that answered later than its dispatch (OP_PENDING). */
void dispatch_count_error(struct daemon *d, const char *op_name);
/* daemon_load_config, then daemon_check_trust: what reloads use. */
int daemon_load_config_checked(struct daemon *d, struct config *out, struct rp_err *err);
/* Loads the trusted keys, CA file and pin the config names; E_CONFIG names the field. */
int daemon_check_trust(const struct config *c, struct rp_err *err);

int server_listen(struct daemon *d, struct rp_err *err);
int server_run(struct daemon *d);
void server_shutdown(struct daemon *d);

/* Module hooks called by the main loop (defined in op_*.c). */
void policy_module_init(struct daemon *d);
void policy_module_tick(struct daemon *d, long long now_ms, long long *next_ms);
void policy_module_status(struct daemon *d, json_t *status);
void policy_module_fini(struct daemon *d);
void policy_module_reload(struct daemon *d);
void files_on_start(struct daemon *d);

#endif
