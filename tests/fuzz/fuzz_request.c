/* SPDX-License-Identifier: ISC */
/*
 * Fuzzes a request as rampartd's dispatcher sees it, without a socket: one
 * frame's JSON goes to server_dispatch() for a fake connection whose peer is
 * picked by the first input byte (root, owner, nobody, admin group).  The
 * daemon runs on a private temp dir (config, state, hosts file, link dirs)
 * and may bind no port.  Checked: every request gets exactly one well-formed
 * reply frame echoing its id, and an unauthorised peer only ever gets E_PERM.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"
#include "dispatch.h"
#include "frame.h"
#include "fuzz.h"
#include "log.h"
#include "module.h"
#include "op_handlers.h"
#include "store.h"

/* daemon.reload keeps the config set up below (the real one re-reads a file). */
static int fuzz_req_load_config(struct daemon *d, struct config *out, struct rp_err *err)
{
	(void)err;
	*out = d->cfg;
	return 0;
}

#define FUZZ_OWNER_UID 4242
#define FUZZ_OWNER_GID 4242
#define FUZZ_ADMIN_GID 4343
#define FUZZ_NOBODY 65534

struct fuzz_req_state {
	struct daemon d;
	char dir[200]; /* a short mkdtemp path: every configured path derives from it */
	uint64_t next_id;
};

static struct fuzz_req_state *fuzz_rs;

static void fuzz_req_die(const char *what)
{
	fuzz_fail("request", what);
}

static void fuzz_req_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		fuzz_req_die("cannot write a setup file");
}

static void fuzz_req_mkdir(const char *dir, const char *name, char *out, size_t len)
{
	if (snprintf(out, len, "%s/%s", dir, name) >= (int)len || mkdir(out, 0755) < 0)
		fuzz_req_die("cannot make a setup directory");
}

/* A small committed policy so policy.check and policy.show have data. */
static void fuzz_req_policy(const char *db)
{
	static struct policy_registry regs[] = {
	    {"ghcr.io", "GitHub", POLICY_EXACT, POLICY_ALLOW, POLICY_ENFORCE, NULL, 0},
	    {"*.corp.example", "corp", POLICY_WILDCARD, POLICY_ALLOW, POLICY_ENFORCE, NULL, 0},
	    {"reg.example.com:5000", "", POLICY_PORT, POLICY_ALLOW, POLICY_ENFORCE, NULL, 0},
	};
	struct policy p = {.org = "fuzz",
	                   .version = 7,
	                   .issued_at = 1700000000,
	                   .expires_at = 4102444800,
	                   .allow_docker_hub = true,
	                   .schema_version = 1,
	                   .n_registries = 3,
	                   .registries = regs};
	struct store_meta m;
	struct rp_err e;

	memset(&m, 0, sizeof(m));
	m.fetched_at = 1700000000;
	m.source = (char *)"";
	m.etag = (char *)"";
	m.signers = (char *)"";
	memset(m.payload_sha256, 'a', 64);
	if (store_commit(db, &p, &m, "{}", 2, &e) < 0)
		fuzz_req_die(e.msg);
}

/* Every path an op may touch lies in our temp dir: never the real system's. */
static void fuzz_req_confined(const struct fuzz_req_state *s)
{
	const struct config *c = &s->d.cfg;
	const char *paths[] = {c->socket_path,      c->state_dir,     c->db_path,
	                       c->links.bin_dir,    c->links.app_dir, c->hosts.file,
	                       c->socket_link.path, c->helper.binary};
	size_t n = strlen(s->dir);

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strncmp(paths[i], s->dir, n) != 0 || paths[i][n] != '/')
			fuzz_req_die("a configured path lies outside the fuzz temp dir");
	if (c->helper.n_unit_files != 0)
		fuzz_req_die("unit files configured");
}

static void fuzz_req_config(struct fuzz_req_state *s)
{
	char path[256], sub[256], json[4096];
	const char *dir = s->dir;
	struct rp_err e;

	fuzz_req_mkdir(dir, "state", sub, sizeof(sub));
	fuzz_req_mkdir(dir, "bin", sub, sizeof(sub));
	fuzz_req_mkdir(dir, "app", sub, sizeof(sub));
	snprintf(path, sizeof(path), "%s/hosts", dir);
	fuzz_req_write(path, "127.0.0.1 localhost\n::1 localhost\n");
	snprintf(json, sizeof(json),
	         "{\"socket\": \"%s/s\", \"state_dir\": \"%s/state\", \"audit_log\": \"/dev/null\","
	         " \"links\": {\"bin_dir\": \"%s/bin\", \"app_dir\": \"%s/app\", \"names\": "
	         "[\"docker\"]}, \"hosts\": {\"file\": \"%s/hosts\", \"names\": {\"rampart.test\":"
	         " \"127.0.0.1\"}}, \"socket_link\": {\"path\": \"%s/docker.sock\","
	         " \"home\": \"%s/home\", \"previous\": []}, \"helper\": {\"binary\":"
	         " \"%s/no-such-binary\", \"unit_files\": []}, \"enforce\": {\"mode\": \"enforce\","
	         " \"containers_policy\": \"%s/policy.json\"}}",
	         dir, dir, dir, dir, dir, dir, dir, dir, dir);
	snprintf(path, sizeof(path), "%s/rampartd.json", dir);
	fuzz_req_write(path, json);
	config_defaults(&s->d.cfg);
	if (config_load(&s->d.cfg, path, false, &e) < 0)
		fuzz_req_die(e.msg);
	s->d.cfg.owner_uid = FUZZ_OWNER_UID;
	s->d.cfg.owner_gid = FUZZ_OWNER_GID;
	s->d.cfg.admin_gid = FUZZ_ADMIN_GID;
	s->d.cfg.ports.n_allow = 0; /* port.bind parses everything, binds nothing */
	s->d.cfg.policy.url[0] = '\0';
	fuzz_req_confined(s);
}

static struct fuzz_req_state *fuzz_req_get(void)
{
	struct fuzz_req_state *s;

	if (fuzz_rs != NULL)
		return fuzz_rs;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		abort();
	rp_strlcpy(s->dir, "/tmp/rampart-fuzz-XXXXXX", sizeof(s->dir));
	if (mkdtemp(s->dir) == NULL || chmod(s->dir, 0755) < 0)
		fuzz_req_die("mkdtemp");
	fuzz_rs = s;
	atexit(fuzz_request_cleanup);
	log_init("fuzz_request", 1, 0);
	s->d.listen_fd = s->d.audit_fd = -1;
	s->d.sigpipe[0] = s->d.sigpipe[1] = -1;
	s->d.load_config = fuzz_req_load_config;
	fuzz_req_config(s);
	fuzz_req_policy(s->d.cfg.db_path);
	audit_open(&s->d);
	modules_init(&s->d);
	return s;
}

static int fuzz_req_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fuzz_request_cleanup(void)
{
	struct fuzz_req_state *s = fuzz_rs;

	if (s == NULL)
		return;
	fuzz_rs = NULL;
	modules_fini(&s->d);
	if (s->d.audit_fd >= 0)
		close(s->d.audit_fd);
	nftw(s->dir, fuzz_req_rm, 16, FTW_DEPTH | FTW_PHYS);
	free(s);
}

/* The peer for this input: root, the owner, nobody or a member of the admin group. */
static void fuzz_req_peer(struct conn *c, uint8_t sel)
{
	static const struct peer peers[] = {
	    {0, 0, 1},
	    {FUZZ_OWNER_UID, FUZZ_OWNER_GID, 2},
	    {FUZZ_NOBODY, FUZZ_NOBODY, 3},
	    {5000, FUZZ_ADMIN_GID, 4},
	};

	c->peer = peers[sel & 3];
	c->ngroups = 0;
}

/* What the request asked for, as far as the dispatcher's rules go. */
struct fuzz_req_view {
	json_t *req;
	json_t *id;              /* valid id (integer or string) or NULL */
	const struct op_def *op; /* known op with well-formed envelope, or NULL */
};

static void fuzz_req_view(const uint8_t *d, size_t n, struct fuzz_req_view *v)
{
	json_t *id, *op, *args;

	memset(v, 0, sizeof(*v));
	v->req = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(v->req))
		return;
	id = json_object_get(v->req, "id");
	if (id != NULL && !json_is_integer(id) && !json_is_string(id))
		return;
	v->id = id;
	op = json_object_get(v->req, "op");
	args = json_object_get(v->req, "args");
	if (json_is_string(op) && (args == NULL || json_is_object(args)))
		v->op = ops_lookup(json_string_value(op));
}

static bool fuzz_req_allowed(const struct op_def *op, const struct peer *p)
{
	if (op->cls == OP_ANY || p->uid == 0)
		return true;
	if (op->cls == OP_USER)
		return p->uid == FUZZ_OWNER_UID || p->gid == FUZZ_OWNER_GID;
	return p->gid == FUZZ_ADMIN_GID;
}

/* Exactly one reply frame, a JSON object with "ok", the request's id, E_PERM if refused. */
static void fuzz_req_reply(const struct conn *c, const struct fuzz_req_view *v)
{
	json_t *r, *ok, *err;
	size_t plen;

	if (c->wbuf == NULL || c->wlen < FRAME_HDR + 2)
		fuzz_req_die("no reply frame was queued");
	plen = frame_length(c->wbuf);
	if (plen != c->wlen - FRAME_HDR || plen > FRAME_MAX)
		fuzz_req_die("reply frame length is wrong");
	r = json_loadb((const char *)c->wbuf + FRAME_HDR, plen, JSON_REJECT_DUPLICATES, NULL);
	ok = json_object_get(r, "ok");
	err = json_object_get(r, "error");
	if (!json_is_object(r) || !json_is_boolean(ok))
		fuzz_req_die("reply is not an object with a boolean \"ok\"");
	if (json_is_false(ok) &&
	    (!json_is_string(json_object_get(err, "code")) ||
	     strncmp(json_string_value(json_object_get(err, "code")), "E_", 2) != 0 ||
	     !json_is_string(json_object_get(err, "message"))))
		fuzz_req_die("error reply without code or message");
	if (v->op != NULL && v->id != NULL && !json_equal(v->id, json_object_get(r, "id")))
		fuzz_req_die("reply does not echo the request id");
	/* a malformed request (an unknown top-level key) is refused before authorisation */
	if (v->op != NULL && !fuzz_req_allowed(v->op, &c->peer) &&
	    (json_is_true(ok) ||
	     (strcmp(json_string_value(json_object_get(err, "code")), "E_PERM") != 0 &&
	      strcmp(json_string_value(json_object_get(err, "code")), "E_BAD_REQUEST") != 0)))
		fuzz_req_die("an unauthorised peer got something other than E_PERM");
	json_decref(r);
}

int fuzz_request(const uint8_t *d, size_t n)
{
	struct fuzz_req_state *s;
	struct fuzz_req_view v;
	struct conn c;

	if (n < 1 || n > FRAME_MAX + 1)
		return 0;
	s = fuzz_req_get();
	memset(&c, 0, sizeof(c));
	c.fd = c.in_fd = c.out_fd = -1;
	c.id = ++s->next_id;
	fuzz_req_peer(&c, d[0]);
	if (d[0] & 0x10) /* an fd beside the frame, as diag.trace wants */
		c.in_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	fuzz_req_view(d + 1, n - 1, &v);
	server_dispatch(&s->d, &c, d + 1, n - 1);
	if (c.pending)
		fuzz_req_die("a request was left pending (no async op can start here)");
	fuzz_req_reply(&c, &v);
	json_decref(v.req);
	free(c.wbuf);
	free(c.rbuf);
	if (c.out_fd >= 0)
		close(c.out_fd);
	if (c.in_fd >= 0)
		close(c.in_fd);
	s->d.exit_after_flush = false;
	return 0;
}
