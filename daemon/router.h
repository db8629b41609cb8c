/*
 * router.h - joins the resources' route tables and matches requests.
 *
 * Routes are numbered in the order they are joined; the number is what
 * metrics and logs use to name a route.  Matching is by path segment:
 * a literal segment matches itself, {name} matches any one non-empty
 * segment and binds it.  A path that matches some routes but none with the
 * request's method is a 405, and the router says which methods would do.
 */
#ifndef CL_ROUTER_H
#define CL_ROUTER_H

#include "arena.h"
#include "http.h"

#include <stddef.h>

#define CL_ROUTE_MAX_PARAMS 8

typedef struct cl_router cl_router;

typedef struct cl_route_match {
    const cl_route *route;
    int index;                              /* -1 when nothing matched */
    size_t nparams;
    const char *names[CL_ROUTE_MAX_PARAMS]; /* into the pattern: "id}/..." */
    char *values[CL_ROUTE_MAX_PARAMS];      /* owned by the arena */
    char allow[64];                         /* for 405: "GET, HEAD, POST" */
} cl_route_match;

/* Join NULL-terminated route tables (each ends with a row whose method is
 * NULL).  CL_EINVALID names a malformed pattern or a duplicate route. */
int cl_router_new(cl_router **out, const cl_route *const *tables, cl_error *err);
void cl_router_free(cl_router *rt);

size_t cl_router_count(const cl_router *rt);
const cl_route *cl_router_get(const cl_router *rt, size_t index);

/* 0 with m filled, CL_ENOTFOUND, or CL_EMETHOD with m->allow filled. */
int cl_router_match(const cl_router *rt, const char *method, const char *path,
                    cl_arena *a, cl_route_match *m);

/* All the route tables of the daemon, NULL-terminated (daemon/routes.c). */
extern const cl_route *const cl_route_tables[];

#endif
