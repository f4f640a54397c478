/* SPDX-License-Identifier: ISC */
/*
 * rampartd configuration (JSON file, see docs/man/rampartd.json.5).  The file
 * and its directory must be writable only by root; every value is validated
 * before the daemon uses any of it.
 */
#ifndef RAMPART_CONFIG_H
#define RAMPART_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "compat.h"
#include "err.h"

#define CONFIG_DEFAULT_PATH RP_DEFAULT_CONFIG_PATH /* compat.h: per platform */
#define CONFIG_MAX_KEYS 16
#define CONFIG_MAX_NAMES 32
#define CONFIG_MAX_RANGES 32

struct port_range {
	int lo, hi;
};

struct host_entry {
	char name[254];
	char addr[64];
};

struct config {
	char path[4096];       /* file it was read from */
	char socket_path[108]; /* sun_path limit */
	char state_dir[4000];  /* policy.db lives here */
	char db_path[4096];    /* state_dir + "/policy.db" unless "db" set */
	char audit_log[4096];  /* "" = syslog */

	/* owner: the desktop user allowed the "user" ops */
	char owner_user[64];
	char owner_group[64];
	char admin_group[64];
	uid_t owner_uid; /* (uid_t)-1 if none */
	gid_t owner_gid; /* (gid_t)-1 if none */
	gid_t admin_gid; /* (gid_t)-1 if none */

	struct {
		int max_connections;
		int max_per_uid;
		int idle_timeout_ms;
		int max_frame;
		int reserved;          /* slots only root, the owner and admins may take */
		char subid_file[4096]; /* /etc/subuid: a user's subordinate uids count as theirs */
	} limits;

	struct {
		char org[129];
		char url[2048];
		char keys[CONFIG_MAX_KEYS][4096];
		int n_keys;
		int threshold;
		int refresh_interval_s; /* 0 = no periodic refresh */
		int jitter_s;
		int max_bytes;
		int connect_timeout_s;
		int total_timeout_s;
		int low_speed_bytes;  /* abort if slower than this ... */
		int low_speed_time_s; /* ... for this long */
		char ca_file[4096];
		char pinned_pubkey[1024];
		char proxy[1024];
		bool allow_insecure_loopback;
		char fetch_user[64];
		char fetch_helper[4096]; /* rampart-fetch; "" = next to rampartd, else libexec */
		bool allow_when_no_policy;
		bool refresh_on_start;
		int max_age_s; /* 0 = off; else stale when issued_at is older than this */
		char redirect_hosts[1024]; /* extra hosts redirects may go to, comma-separated */
		char root[4096];           /* pinned first root (envelope file); "" = none */
		char root_sha256[65];      /* or its sha256 (then fetched as 1.root.json) */
		char root_url[2048];    /* "" = the policy URL's directory; N.root.json appended */
		int max_root_rotations; /* new roots accepted in one refresh */
		/* oci:// sources (docs/fleet.md) */
		char
		    registry_credentials[4096]; /* root-only "user:password" file; "" = anonymous */
		char blob_redirect_hosts[2048]; /* hosts a blob may redirect to, ',' joined */
	} policy;

	struct {
		struct port_range allow[CONFIG_MAX_RANGES];
		int n_allow;
		int deny[CONFIG_MAX_NAMES];
		int n_deny;
		bool allow_any_address;
		bool allow_udp; /* a bound UDP socket can also send from the privileged port */
	} ports;

	struct {
		char bin_dir[4096];
		char app_dir[4096];
		char names[CONFIG_MAX_NAMES][256];
		int n_names;
	} links;

	struct {
		char file[4096];
		struct host_entry names[CONFIG_MAX_NAMES];
		int n_names;
	} hosts;

	struct {
		char path[4096];   /* system link, e.g. /var/run/docker.sock */
		char target[1024]; /* relative to the owner's home */
		char home[4096];   /* override of the owner's home (tests, demo); "" = getpwnam */
		char previous[8][4096]; /* targets we linked to before: may be replaced/removed */
		int n_previous;
		bool on_start;
	} socket_link;

	/* Engine enforcement (docs/enforcement.md). */
	struct {
		enum config_enforce_mode {
			ENFORCE_OFF = 0, /* rampart manages no engine file (restores its own) */
			ENFORCE_WARN =
			    1,          /* compiled file written beside the engine's, for review */
			ENFORCE_ON = 2, /* the engine's file is the compiled policy */
		} mode;
		char containers_policy[4096]; /* containers/image policy.json */
		bool wildcard_scopes;         /* "*.domain" scopes (they also match any port) */
		/* The Docker authorization plugin rampart-authz (src/authz/). */
		struct {
			char socket[108];      /* dockerd looks in /run/docker/plugins/NAME.sock */
			char socket_group[64]; /* "" = socket 0600, else 0660 with this group */
			char user[64];         /* dropped to when started as root */
			char audit_log[4096];  /* "" = syslog (LOG_AUTHPRIV) */
			char stats_file[4096]; /* counters for rampart status; "" = none */
			bool block_load;       /* refuse images/load and docker import */
		} docker;
		/* The engines' forward proxy rampart-proxy (src/proxy/, docs/proxy.md). */
		struct {
			char listen[64];       /* loopback ADDR:PORT; the drop-ins' HTTP_PROXY */
			char stats_file[4096]; /* its counters for rampart status; "" = none */
		} proxy;
	} enforce;

	struct {
		char unit_files[CONFIG_MAX_NAMES][4096]; /* removed by helper.uninstall */
		int n_unit_files;
		char binary[4096];
	} helper;
};

/* "off", "warn" or "enforce". */
const char *config_enforce_mode_name(enum config_enforce_mode m);
/* The mode named s ("off", "warn", "enforce"): 0, or -1 for any other name. */
int config_enforce_mode_from_name(const char *s, enum config_enforce_mode *out);

/*
 * Parses a proxy listen address "A.B.C.D:PORT" (127.0.0.0/8) or "[::1]:PORT"
 * into ss/len.  Numeric loopback only: a name or any other address is -1.
 */
struct sockaddr_storage;
int config_loopback_addr(const char *s, struct sockaddr_storage *ss, int *len);

/* Fills c with built-in defaults (DESIGN.md paths). */
void config_defaults(struct config *c);

/*
 * Loads and validates path over the defaults.  check_owner: refuse if the
 * file or its directory is writable by anyone but root (off only in unit
 * tests).  Returns 0 or -1 with err naming the file and the field.
 */
int config_load(struct config *c, const char *path, bool check_owner, struct rp_err *err);

/* True when a signed root is configured (policy.root or policy.root_sha256). */
bool config_has_root(const struct config *c);

/* Sets state_dir and derives db_path = state_dir/policy.db. */
void config_set_state_dir(struct config *c, const char *dir);

/* Re-resolves owner/admin names to ids (called by config_load). */
int config_resolve_ids(struct config *c, struct rp_err *err);

#endif
