/*
 * http_server.h - starting and stopping the HTTP server (daemon/http.c).
 * Handlers see http.h; only main() sees this.
 */
#ifndef CL_HTTP_SERVER_H
#define CL_HTTP_SERVER_H

#include "error.h"

typedef struct cl_http cl_http;
typedef struct cl_daemon cl_daemon;

/* Listen on d->cfg.listen and serve d's routes; d must outlive the server. */
int cl_http_start(cl_http **out, cl_daemon *d, cl_error *err);

/* The port actually bound (useful with ":0"). */
int cl_http_port(const cl_http *h);

/* Stop accepting, let in-flight requests finish for up to timeout_s
 * seconds, then stop.  NULL is a no-op. */
void cl_http_stop(cl_http *h, int timeout_s);

#endif
