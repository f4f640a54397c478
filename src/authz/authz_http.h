/* SPDX-License-Identifier: ISC */
/* rampart-authz's libmicrohttpd callbacks and the state they share (one thread). */
#ifndef RAMPART_AUTHZ_HTTP_H
#define RAMPART_AUTHZ_HTTP_H

#include <microhttpd.h>
#include <stdbool.h>

#include "authz.h"

struct authz_server {
	struct rampart_policy *policy;
	struct authz_opts opts;
	struct authz_audit *audit;
	bool dirty;         /* counters changed since the stats file was written */
	bool stats_failing; /* the last write of the stats file failed (logged once) */
};

enum MHD_Result authz_http_handler(void *cls, struct MHD_Connection *c, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_size, void **con_cls);
void authz_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                          enum MHD_RequestTerminationCode toe);

#endif
