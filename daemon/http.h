/*
 * http.h - what a resource handler sees of an HTTP request.
 *
 * Each api/<resource>.c exports a route table: method, path pattern
 * ("/v1/jobs/{id}"), handler and flags.  The daemon joins the tables
 * (daemon/routes.c), and the server (daemon/http.c) does everything around
 * the handler: routing (404, 405 with Allow), body limits (413), content
 * types (415), JSON parsing with a nesting bound (400 with where), the
 * request id, logging, metrics and the response.
 *
 * A handler returns 0 and sets *out to the JSON body (a new reference the
 * server decrefs), or returns a negative CL_E* code after describing the
 * failure in cl_req_err(r); the server turns that into a problem document.
 * A handler that answers with something other than JSON calls
 * cl_req_send() and leaves *out NULL.
 *
 * Memory: everything a request allocates comes from cl_req_arena(r) and is
 * freed when the response has been sent.  Strings returned by accessors are
 * borrowed for the life of the request.
 */
#ifndef CL_HTTP_H
#define CL_HTTP_H

#include "arena.h"
#include "error.h"
#include "pg.h"

#include <jansson.h>
#include <stddef.h>

typedef struct cl_req cl_req;
typedef struct cl_daemon cl_daemon;

typedef int (*cl_handler)(cl_req *r, json_t **out);

enum {
    CL_PUBLIC    = 1 << 0,  /* no credentials needed */
    CL_JSON_BODY = 1 << 1,  /* takes an application/json body */
};

typedef struct cl_route {
    const char *method;     /* "GET", "POST", ...; GET also answers HEAD */
    const char *pattern;    /* literal segments and {name} parameters */
    cl_handler handler;
    unsigned flags;
} cl_route;

cl_arena *cl_req_arena(cl_req *r);
cl_error *cl_req_err(cl_req *r);
cl_daemon *cl_req_daemon(cl_req *r);
const char *cl_req_id(cl_req *r);
const char *cl_req_method(cl_req *r);
const char *cl_req_path(cl_req *r);

/* The value of path parameter {name}, query parameter or request header;
 * NULL when absent. */
const char *cl_req_param(cl_req *r, const char *name);
const char *cl_req_query(cl_req *r, const char *name);
const char *cl_req_header(cl_req *r, const char *name);

/* The parsed body of a CL_JSON_BODY route (borrowed). */
json_t *cl_req_body(cl_req *r);

/* A database connection for this request, borrowed until the response is
 * sent; CL_EUNAVAILABLE (a 503) when the database cannot be reached. */
int cl_req_db(cl_req *r, cl_pg **out);

/* Response status (default 200) and extra headers (copied). */
void cl_req_status(cl_req *r, int status);
int cl_req_set_header(cl_req *r, const char *name, const char *value);

/* Answer with a non-JSON body: data is borrowed for the life of the request
 * (arena memory or static data). */
void cl_req_send(cl_req *r, const char *content_type, const void *data, size_t len);

/* Answer with the open file fd (the server closes it) of size len. */
void cl_req_send_file(cl_req *r, const char *content_type, int fd, size_t len);

/* Fail with code and a message; returns code. */
int cl_req_fail(cl_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
