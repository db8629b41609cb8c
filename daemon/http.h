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

/*
 * Route flags.  Authorization happens in one place (daemon/auth.c), before
 * the handler runs, from these flags alone:
 *
 *   CL_PUBLIC          no credentials needed
 *   CL_AUTH            any signed-in person or API key
 *   CL_SESSION         a person's session only, not an API key
 *   CL_INSTANCE_ADMIN  a person who is an instance administrator
 *   CL_ROLE_*          a role in the account the caller is acting in:
 *                      READ (admin, operator, auditor), WRITE (admin,
 *                      operator), AUDIT (admin, auditor), ADMIN (admin)
 *   CL_JOIN_TOKEN      a node's join token ("Authorization: JoinToken
 *                      <secret>", API.md) may call it too; on no other
 *                      route is one accepted
 *   CL_NODE_SIGNED     an enrolled node may call it with a request signed
 *                      by its key (RFC 9421, lib/httpsig.h); on no other
 *                      route is a node's signature accepted
 *
 * Requests authenticated by the session cookie must also send X-CSRF-Token
 * unless the method is GET or HEAD.
 */
enum {
    CL_PUBLIC         = 1 << 0,
    CL_JSON_BODY      = 1 << 1,  /* takes an application/json body */
    CL_AUTH           = 1 << 2,
    CL_SESSION        = 1 << 3,
    CL_INSTANCE_ADMIN = 1 << 4,
    CL_ROLE_READ      = 1 << 5,
    CL_ROLE_WRITE     = 1 << 6,
    CL_ROLE_AUDIT     = 1 << 7,
    CL_ROLE_ADMIN     = 1 << 8,
    CL_IDEMPOTENT     = 1 << 9,  /* a create that honours Idempotency-Key */
    CL_JSON_OPTIONAL  = 1 << 10, /* may take an application/json body */
    CL_JOIN_TOKEN     = 1 << 11, /* a node's join token may call it */
    CL_NODE_SIGNED    = 1 << 12, /* an enrolled node's signed request may call it */
};

#define CL_ROLE_ANY (CL_ROLE_READ | CL_ROLE_WRITE | CL_ROLE_AUDIT | CL_ROLE_ADMIN)

typedef enum {
    CL_PRINCIPAL_NONE,
    CL_PRINCIPAL_SESSION,
    CL_PRINCIPAL_API_KEY,
    CL_PRINCIPAL_JOIN_TOKEN,
    CL_PRINCIPAL_NODE,
} cl_principal_kind;

/* Who is calling; strings are owned by the request's arena. */
typedef struct cl_principal {
    cl_principal_kind kind;
    const char *actor;          /* for audit: "user:<uuid>", "api_key:<uuid>",
                                   "node_token:<uuid>" or "node:<uuid>" */
    const char *user_id;        /* sessions */
    const char *email;          /* sessions */
    const char *session_id;     /* sessions */
    const char *csrf_token;     /* sessions */
    const char *api_key_id;     /* API keys */
    const char *join_token_id;  /* join tokens (the account is the token's) */
    const char *node_id;        /* nodes (the account is the node's) */
    const char *account_id;     /* the account acted in; NULL when none */
    const char *role;           /* "admin", "operator", "auditor"; NULL when none */
    int instance_admin;
} cl_principal;

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

/* The caller, once authenticated (never NULL; kind NONE on public routes). */
const cl_principal *cl_req_principal(cl_req *r);
cl_principal *cl_req_principal_mut(cl_req *r);

/* Call fn for each query parameter, in order. */
typedef void (*cl_query_fn)(void *ctx, const char *key, const char *value);
void cl_req_query_each(cl_req *r, cl_query_fn fn, void *ctx);

/* The value of a cookie; NULL when absent. */
const char *cl_req_cookie(cl_req *r, const char *name);

/* The client's address as text ("127.0.0.1", "::1").  Behind a TLS proxy
 * (--behind-tls-proxy) it is the last address of X-Forwarded-For, the one
 * the proxy in front saw, when that is an address; else the peer's. */
const char *cl_req_client(cl_req *r);

/* The parsed body of a CL_JSON_BODY route (borrowed). */
json_t *cl_req_body(cl_req *r);

/* The request body's bytes as received (len 0: none), for signatures. */
const void *cl_req_raw_body(cl_req *r, size_t *len);

/* A database connection for this request, borrowed until the response is
 * sent; CL_EUNAVAILABLE (a 503) when the database cannot be reached. */
int cl_req_db(cl_req *r, cl_pg **out);

/* The Idempotency-Key the request reserved (idempotency.h), or NULL. */
struct cl_idem *cl_req_idem(cl_req *r);

/* Response status (default 200) and extra headers (copied). */
void cl_req_status(cl_req *r, int status);
int cl_req_set_header(cl_req *r, const char *name, const char *value);

/* A response header set so far, or NULL. */
const char *cl_req_response_header(cl_req *r, const char *name);

/* Answer with a non-JSON body: data is borrowed for the life of the request
 * (arena memory or static data). */
void cl_req_send(cl_req *r, const char *content_type, const void *data, size_t len);

/*
 * Answer with a stream of unknown length (Server-Sent Events): next(ctx,
 * buf, max) is called each time the client can take more, from the
 * server's threads; it returns the bytes written to buf (at least one: a
 * comment line keeps an idle stream alive), 0 to end the stream, or -1 on
 * error.  It may block briefly (it holds one of the server's threads).
 * ctx must live as long as the request (arena memory).
 */
typedef long (*cl_stream_fn)(void *ctx, char *buf, size_t max);

/* CL_EUNAVAILABLE (a 503) when as many streams are open as the server can
 * hold without starving other requests (one fewer than its threads). */
int cl_req_stream(cl_req *r, const char *content_type, cl_stream_fn next, void *ctx);

/* Answer with the open file fd (the server closes it) of size len. */
void cl_req_send_file(cl_req *r, const char *content_type, int fd, size_t len);

/* Fail with code and a message; returns code. */
int cl_req_fail(cl_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
