/* SPDX-License-Identifier: ISC */
/*
 * The plugin's HTTP side: libmicrohttpd parses HTTP on the UNIX socket, this
 * file routes the three plugin endpoints and collects each request body up
 * to AUTHZ_MAX_REQUEST.  The peer is dockerd (the socket is 0600/0660), but
 * its requests carry client-controlled data, so a body that is too large or
 * unreadable is answered with a refusal, never a crash.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz.h"
#include "authz_http.h"
#include "log.h"

#define PLUGIN_CT "application/vnd.docker.plugins.v1.2+json"

struct http_body {
	char *buf;
	size_t len, cap;
	bool too_big;
};

static enum MHD_Result http_send(struct MHD_Connection *c, unsigned status, const char *json,
                                 size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)json, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, PLUGIN_CT);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static int body_append(struct http_body *b, const char *data, size_t n)
{
	size_t cap;
	char *p;

	if (b->too_big || n > AUTHZ_MAX_REQUEST - b->len) {
		b->too_big = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((p = realloc(b->buf, cap)) == NULL) {
			b->too_big = true;
			return 0;
		}
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
	return 0;
}

static enum MHD_Result http_authz_req(struct authz_server *s, struct MHD_Connection *c,
                                      struct http_body *b)
{
	struct authz_verdict v;
	char out[sizeof(v.msg) * 12 + 64];
	size_t n;

	if (b->too_big) {
		memset(&v, 0, sizeof(v));
		v.would_deny = v.is_err = true;
		v.allow = s->opts.mode != AUTHZ_MODE_ENFORCE;
		snprintf(v.msg, sizeof(v.msg),
		         "rampart: E_AUTHZ_SIZE: request is larger than %u "
		         "bytes",
		         AUTHZ_MAX_REQUEST);
	} else {
		authz_decide_raw(s->policy, &s->opts, b->buf ? b->buf : "", b->len, &v);
	}
	if (s->opts.mode != AUTHZ_MODE_OFF)
		authz_audit_record(s->audit, &v, s->opts.mode, (int64_t)time(NULL));
	s->dirty = true;
	n = authz_answer_json(&v, out, sizeof(out));
	return http_send(c, 200, out, n);
}

/* The response phase decides nothing (the request phase did); it must still be JSON. */
static enum MHD_Result http_authz_res(struct MHD_Connection *c, struct http_body *b)
{
	static const char allow[] = "{\"Allow\":true}";
	static const char bad[] = "{\"Allow\":false,\"Err\":\"rampart: E_AUTHZ_JSON: the "
	                          "response phase request is not a JSON object\"}";
	json_t *root = NULL;

	if (!b->too_big)
		root = json_loadb(b->buf ? b->buf : "", b->len, 0, NULL);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return http_send(c, 200, bad, sizeof(bad) - 1);
	}
	json_decref(root);
	return http_send(c, 200, allow, sizeof(allow) - 1);
}

static enum MHD_Result http_route(struct authz_server *s, struct MHD_Connection *c, const char *url,
                                  const char *method, struct http_body *b)
{
	static const char activate[] = "{\"Implements\":[\"authz\"]}";
	static const char notfound[] = "{\"Err\":\"rampart-authz: unknown endpoint\"}";

	if (strcmp(method, "POST") != 0)
		return http_send(c, 405, notfound, sizeof(notfound) - 1);
	if (strcmp(url, "/Plugin.Activate") == 0)
		return http_send(c, 200, activate, sizeof(activate) - 1);
	if (strcmp(url, "/AuthZPlugin.AuthZReq") == 0)
		return http_authz_req(s, c, b);
	if (strcmp(url, "/AuthZPlugin.AuthZRes") == 0)
		return http_authz_res(c, b);
	return http_send(c, 404, notfound, sizeof(notfound) - 1);
}

enum MHD_Result authz_http_handler(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_size, void **con_cls)
{
	struct http_body *b = *con_cls;

	(void)version;
	if (b == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		body_append(b, upload_data, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return http_route(cls, c, url, method, b);
}

void authz_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
	struct http_body *b = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (b != NULL) {
		free(b->buf);
		free(b);
		*con_cls = NULL;
	}
}
