/* SPDX-License-Identifier: ISC */
/*
 * The Docker enforcement point in rampartd's status: rampart-authz decides in
 * its own unprivileged process and reports its counters in a fixed record
 * (src/core/authz_wire.h, written to enforce.docker.stats_file).  rampartd
 * reads that record as untrusted input -- exact size, magic, ranges -- and
 * only displays it; nothing is decided from it.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <jansson.h>

#include "authz_wire.h"
#include "daemon.h"

static json_t *enforce_docker_kinds(const uint64_t *v)
{
	return json_pack("{s:I, s:I, s:I, s:I}", "pull", (json_int_t)v[1], "create",
	                 (json_int_t)v[2], "plugin", (json_int_t)v[3], "load", (json_int_t)v[4]);
}

static json_t *enforce_docker_json(const struct config *c)
{
	static const char *const modes[] = {"off", "warn", "enforce"};
	json_t *o = json_pack("{s:[s], s:s, s:s, s:s, s:b}", "engines", "docker", "mode",
	                      config_enforce_mode_name(c->enforce.mode), "socket",
	                      c->enforce.docker.socket, "stats_file", c->enforce.docker.stats_file,
	                      "block_load", c->enforce.docker.block_load);
	struct authz_wire w;
	struct rp_err err;
	bool alive;

	if (o == NULL)
		return NULL;
	if (c->enforce.docker.stats_file[0] == '\0' ||
	    authz_wire_read(c->enforce.docker.stats_file, &w, &err) < 0) {
		json_object_set_new(o, "running", json_false());
		json_object_set_new(o, "error",
		                    json_string(c->enforce.docker.stats_file[0]
		                                    ? err.msg
		                                    : "enforce.docker.stats_file is empty"));
		return o;
	}
	alive = w.pid > 0 && (kill((pid_t)w.pid, 0) == 0 || errno == EPERM);
	json_object_set_new(o, "running", json_boolean(alive));
	json_object_set_new(o, "pid", json_integer((json_int_t)w.pid));
	json_object_set_new(o, "started_at", json_integer((json_int_t)w.started_at));
	json_object_set_new(o, "updated_at", json_integer((json_int_t)w.updated_at));
	json_object_set_new(o, "plugin_mode", json_string(modes[w.mode]));
	json_object_set_new(o, "plugin_socket", json_string(w.socket));
	json_object_set_new(o, "serving_version",
	                    w.policy_version >= 0 ? json_integer((json_int_t)w.policy_version)
	                                          : json_null());
	json_object_set_new(o, "counters",
	                    json_pack("{s:o, s:o, s:o, s:I, s:I, s:I}", "allowed",
	                              enforce_docker_kinds(w.allowed), "denied",
	                              enforce_docker_kinds(w.denied), "warned",
	                              enforce_docker_kinds(w.warned), "undecided",
	                              (json_int_t)w.allowed[0], "malformed", (json_int_t)w.errors,
	                              "audit_suppressed", (json_int_t)w.audit_suppressed));
	json_object_set_new(o, "error",
	                    json_string(alive ? ""
	                                      : "rampart-authz is not running "
	                                        "(counters are from its last run)"));
	return o;
}

void enforce_status_put(json_t *status, const char *name, json_t *o)
{
	json_t *enf = json_object_get(status, "enforce");

	if (o == NULL)
		return;
	if (!json_is_object(enf)) {
		enf = json_object();
		json_object_set_new(status, "enforce", enf);
	}
	json_object_set_new(enf, name, o);
}

void enforce_docker_status(struct daemon *d, json_t *status)
{
	enforce_status_put(status, "docker", enforce_docker_json(&d->cfg));
}
