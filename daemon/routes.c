/*
 * routes.c - the daemon's routes: one table per api/<resource>.c, joined
 * here.  A new resource adds its table to this list and nothing else.
 */
#include "router.h"

extern const cl_route cl_health_routes[];
extern const cl_route cl_openapi_routes[];

const cl_route *const cl_route_tables[] = {
    cl_health_routes,
    cl_openapi_routes,
    NULL,
};
