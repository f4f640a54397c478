/* SPDX-License-Identifier: ISC */
/*
 * Enforcement in the containers/image engines (podman, skopeo, buildah,
 * cri-o): after every policy commit, at start and at reload, the cached
 * policy is compiled into the configured policy.json (enforce), beside it
 * (warn), or rampart's file is taken out again (off).  Trusts the verified
 * policy store and the root-owned config; the file found at the target path
 * is data (src/enforce/enforce_file.c).  A row of the module table
 * (enforce_module: init, reload, status, commit, fini), helper.uninstall's
 * enforce_module_uninstall, and the enforce.* ops.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "containers_policy.h"
#include "daemon.h"
#include "enforce_file.h"
#include "log.h"
#include "module.h"
#include "op_handlers.h"
#include "store.h"

#define ENFORCE_STATE_NAME "containers-policy.state"

struct enforce_state {
	char path[4096];       /* the file last managed (to restore it when the path changes) */
	char state_path[4096]; /* its record in the state dir */
	enum config_enforce_mode mode;
	bool compiled;   /* a compile has succeeded in this mode */
	int64_t version; /* policy version compiled from (0: none cached) */
	bool have_policy;
	bool accept_all; /* no policy and allow_when_no_policy: every docker pull */
	size_t allow, reject, omitted;
	size_t omitted_by[CPOL_OMIT_N];
	char result[32]; /* efile_result_name of the last run */
	char code[40], error[512];
	int64_t last_at;
	uint64_t runs, writes, failures;
	unsigned long long ino;
	char sha256[65];
	double last_ms;
};

static struct enforce_state *est(struct daemon *d)
{
	return d->enforce;
}

static void enforce_target(struct daemon *d, const char *path, struct efile_target *t)
{
	struct enforce_state *s = est(d);

	snprintf(s->state_path, sizeof(s->state_path), "%s/%s", d->cfg.state_dir,
	         ENFORCE_STATE_NAME);
	t->path = path;
	t->state_path = s->state_path;
	t->uid = geteuid() == 0 ? 0 : (uid_t)-1;
	t->gid = geteuid() == 0 ? 0 : (gid_t)-1;
}

/* The cached policy as the compiler's model (an unreadable store compiles to reject-all). */
static int enforce_compile(struct daemon *d, struct cpol_model *m, char **text, size_t *len,
                           struct rp_err *err)
{
	struct cpol_opts o = {d->cfg.enforce.wildcard_scopes, d->cfg.policy.allow_when_no_policy};
	struct policy p;
	int r, rc;

	memset(&p, 0, sizeof(p));
	r = store_load(d->cfg.db_path, &p, NULL, NULL, NULL, err);
	if (r < 0) {
		log_warnx("enforce: %s; compiling a reject-all policy", err->msg);
		o.allow_when_no_policy = false; /* as policy.check: refused until readable */
	}
	rc = cpol_model_build(r == 0 ? &p : NULL, &o, m, err);
	policy_free(&p);
	if (rc == 0 && (rc = cpol_render(m, text, len, err)) < 0)
		cpol_model_free(m);
	return rc;
}

static void enforce_note(struct daemon *d, const struct cpol_model *m,
                         const struct efile_report *rep)
{
	struct enforce_state *s = est(d);

	s->compiled = true;
	s->have_policy = m->have_policy;
	s->accept_all = m->docker_accept_all;
	s->version = m->version;
	s->allow = cpol_model_count(m, CPOL_ALLOW);
	s->reject = cpol_model_count(m, CPOL_REJECT);
	s->omitted = 0;
	for (int i = 0; i < CPOL_OMIT_N; i++)
		s->omitted += (s->omitted_by[i] = m->omitted[i]);
	s->ino = (unsigned long long)rep->ino;
	rp_strlcpy(s->sha256, rep->sha256, sizeof(s->sha256));
}

static void enforce_audit(struct daemon *d, const char *what, const char *path, bool ok,
                          const struct rp_err *e)
{
	struct enforce_state *s = est(d);
	char detail[700];

	if (ok)
		snprintf(detail, sizeof(detail),
		         "mode=%s path=%s version=%lld scopes=%zu reject_scopes=%zu omitted=%zu "
		         "result=%s",
		         config_enforce_mode_name(s->mode), path, (long long)s->version, s->allow,
		         s->reject, s->omitted, s->result);
	else
		snprintf(detail, sizeof(detail), "mode=%s path=%s: %s",
		         config_enforce_mode_name(s->mode), path, e->msg);
	audit_log(d, what, &(struct peer){0, 0, (pid_t)0}, ok ? s->result : "error",
	          ok ? "" : e->code, detail);
}

/* One run in the configured mode; 0 or -1 with err (also kept for status). */
static int enforce_run(struct daemon *d, struct rp_err *err)
{
	struct enforce_state *s = est(d);
	struct cpol_model m;
	struct efile_target t;
	struct efile_report rep;
	char *text = NULL;
	size_t len = 0;
	long long t0 = daemon_now_ms();
	int rc = -1;

	memset(&m, 0, sizeof(m));
	memset(&rep, 0, sizeof(rep));
	s->mode = d->cfg.enforce.mode;
	enforce_target(d, d->cfg.enforce.containers_policy, &t);
	if (s->mode == ENFORCE_OFF) {
		rc = efile_restore(&t, &rep, err);
	} else if (enforce_compile(d, &m, &text, &len, err) == 0) {
		rc = s->mode == ENFORCE_ON ? efile_install(&t, text, len, &rep, err)
		                           : efile_stage(&t, text, len, &rep, err);
	}
	s->runs++;
	s->last_at = (int64_t)time(NULL);
	s->last_ms = (double)(daemon_now_ms() - t0);
	rp_strlcpy(s->path, d->cfg.enforce.containers_policy, sizeof(s->path));
	if (rc == 0) {
		rp_strlcpy(s->result, efile_result_name(rep.result), sizeof(s->result));
		s->code[0] = s->error[0] = '\0';
		if (rep.result != EFILE_UNCHANGED && rep.result != EFILE_NOTHING)
			s->writes++;
		if (s->mode != ENFORCE_OFF)
			enforce_note(d, &m, &rep);
		else
			s->compiled = false;
	} else {
		s->failures++;
		rp_strlcpy(s->code, err->code, sizeof(s->code));
		rp_strlcpy(s->error, err->msg, sizeof(s->error));
		log_warnx("enforce (%s): %s", t.path, err->msg);
	}
	if (rc != 0 || s->mode != ENFORCE_OFF || rep.result != EFILE_NOTHING)
		enforce_audit(d, "enforce.compile", t.path, rc == 0, err);
	cpol_model_free(&m);
	free(text);
	return rc;
}

/* The first compile is the commit hook's (DAEMON_COMMIT_START, right after init). */
static void enforce_init(struct daemon *d)
{
	if ((d->enforce = calloc(1, sizeof(struct enforce_state))) == NULL)
		fatal("calloc");
}

/* A new config: if the path moved, rampart's file leaves the old one (the commit
 * hook that follows, DAEMON_COMMIT_RELOAD, compiles into the new one). */
static void enforce_reload(struct daemon *d)
{
	struct enforce_state *s = est(d);
	struct efile_target t;
	struct efile_report rep;
	struct rp_err e;

	if (s == NULL)
		return;
	if (s->path[0] && strcmp(s->path, d->cfg.enforce.containers_policy) != 0) {
		enforce_target(d, s->path, &t); /* the path moved: take ours out of the old one */
		if (efile_restore(&t, &rep, &e) < 0)
			log_warnx("enforce: restoring %s: %s", s->path, e.msg);
	}
}

/* Every commit (start, refresh, import, reload): compile in the configured mode. */
static void enforce_commit(struct daemon *d, const struct daemon_commit *c)
{
	struct rp_err e;

	(void)c;
	if (est(d) != NULL)
		enforce_run(d, &e);
}

static void enforce_fini(struct daemon *d)
{
	free(d->enforce);
	d->enforce = NULL;
}

static json_t *enforce_status_json(struct daemon *d)
{
	struct enforce_state *s = est(d);
	const struct config *c = &d->cfg;
	json_t *o = json_object(), *om = json_object();
	char next[4200];
	static const char *const omit_names[CPOL_OMIT_N] = {"invalid", "ipv6", "wildcard",
	                                                    "too_long", "warn"};

	snprintf(next, sizeof(next), "%s%s", c->enforce.containers_policy, EFILE_NEXT_SUFFIX);
	for (int i = 0; i < CPOL_OMIT_N; i++)
		json_object_set_new(om, omit_names[i], json_integer((json_int_t)s->omitted_by[i]));
	json_object_set_new(o, "engines",
	                    json_pack("[s,s,s,s]", "podman", "skopeo", "buildah", "cri-o"));
	json_object_set_new(o, "mode", json_string(config_enforce_mode_name(c->enforce.mode)));
	json_object_set_new(o, "file", json_string(c->enforce.containers_policy));
	json_object_set_new(o, "written_file",
	                    c->enforce.mode == ENFORCE_ON
	                        ? json_string(c->enforce.containers_policy)
	                    : c->enforce.mode == ENFORCE_WARN ? json_string(next)
	                                                      : json_null());
	json_object_set_new(o, "compiled_version",
	                    s->compiled && s->have_policy ? json_integer(s->version) : json_null());
	json_object_set_new(o, "accept_all", json_boolean(s->compiled && s->accept_all));
	json_object_set_new(o, "scopes", json_integer((json_int_t)s->allow));
	json_object_set_new(o, "reject_scopes", json_integer((json_int_t)s->reject));
	json_object_set_new(o, "omitted", om);
	json_object_set_new(o, "last_result", json_string(s->result));
	json_object_set_new(o, "last_error", json_string(s->error));
	json_object_set_new(o, "last_code", json_string(s->code));
	json_object_set_new(o, "last_run_ms", json_real(s->last_ms));
	json_object_set_new(o, "runs", json_integer((json_int_t)s->runs));
	json_object_set_new(o, "writes", json_integer((json_int_t)s->writes));
	json_object_set_new(o, "failures", json_integer((json_int_t)s->failures));
	json_object_set_new(o, "sha256", json_string(s->sha256));
	/* containers/image cannot report its decisions back: no allow/deny counters */
	json_object_set_new(o, "counters", json_null());
	return o;
}

static void enforce_status(struct daemon *d, json_t *status)
{
	if (est(d) == NULL)
		return;
	json_object_set_new(status, "enforce",
	                    json_pack("{s:o}", "containers", enforce_status_json(d)));
}

const struct module_def enforce_module = {.name = "enforce",
                                          .init = enforce_init,
                                          .reload = enforce_reload,
                                          .status = enforce_status,
                                          .commit = enforce_commit,
                                          .fini = enforce_fini};

/* helper.uninstall: take rampart's policy.json out whatever the mode. */
int enforce_module_uninstall(struct daemon *d, char *result, size_t size, struct rp_err *err)
{
	struct efile_target t;
	struct efile_report rep;

	if (est(d) == NULL)
		return 0;
	enforce_target(d, d->cfg.enforce.containers_policy, &t);
	if (efile_restore(&t, &rep, err) < 0)
		return -1;
	rp_strlcpy(result, efile_result_name(rep.result), size);
	return rep.result == EFILE_NOTHING && !rep.removed_next ? 0 : 1;
}

/* --- ops ------------------------------------------------------------------- */

int op_enforce_status(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};

	if (args_only(ctx->args, known, &ctx->err) < 0)
		return OP_ERR;
	if (est(ctx->d) == NULL)
		return rp_seterr(&ctx->err, "E_INTERNAL", "the enforcement module is not running");
	ctx->result = json_pack("{s:o}", "containers", enforce_status_json(ctx->d));
	return OP_OK;
}

int op_enforce_apply(struct op_ctx *ctx)
{
	static const char *const known[] = {NULL};

	if (args_only(ctx->args, known, &ctx->err) < 0)
		return OP_ERR;
	if (est(ctx->d) == NULL)
		return rp_seterr(&ctx->err, "E_INTERNAL", "the enforcement module is not running");
	if (enforce_run(ctx->d, &ctx->err) < 0)
		return OP_ERR;
	ctx->result = json_pack("{s:o}", "containers", enforce_status_json(ctx->d));
	return OP_OK;
}
