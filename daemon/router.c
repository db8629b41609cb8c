/*
 * router.c - route matching; see router.h.
 *
 * Routes are few (tens) and matching is a linear scan comparing segments in
 * place, without copying the path; only bound parameters are copied into the
 * request's arena.  Patterns are checked once when the tables are joined, so
 * matching can trust them.
 */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl_router {
    const cl_route **routes;
    size_t count;
};

static int valid_pattern(const char *p)
{
    size_t params = 0;

    if (p[0] != '/')
        return 0;
    while (*p == '/') {
        const char *seg = ++p;
        size_t len = strcspn(seg, "/");

        if (len == 0)
            return 0;   /* no empty segments, no trailing slash */
        if (seg[0] == '{') {
            if (len < 3 || seg[len - 1] != '}' || memchr(seg + 1, '{', len - 1) != NULL)
                return 0;
            if (++params > CL_ROUTE_MAX_PARAMS)
                return 0;
        } else if (memchr(seg, '{', len) != NULL || memchr(seg, '}', len) != NULL) {
            return 0;
        }
        p = seg + len;
    }
    return *p == '\0';
}

int cl_router_new(cl_router **out, const cl_route *const *tables, cl_error *err)
{
    cl_router *rt = calloc(1, sizeof(*rt));
    size_t total = 0;

    *out = NULL;
    if (rt == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    for (size_t t = 0; tables[t] != NULL; t++)
        for (const cl_route *r = tables[t]; r->method != NULL; r++)
            total++;
    rt->routes = calloc(total ? total : 1, sizeof(*rt->routes));
    if (rt->routes == NULL) {
        free(rt);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    for (size_t t = 0; tables[t] != NULL; t++) {
        for (const cl_route *r = tables[t]; r->method != NULL; r++) {
            if (!valid_pattern(r->pattern) || r->handler == NULL) {
                cl_router_free(rt);
                return cl_error_set(err, CL_EINVALID, "route %s \"%s\" is malformed",
                                    r->method, r->pattern);
            }
            for (size_t i = 0; i < rt->count; i++)
                if (strcmp(rt->routes[i]->method, r->method) == 0 &&
                    strcmp(rt->routes[i]->pattern, r->pattern) == 0) {
                    cl_router_free(rt);
                    return cl_error_set(err, CL_EINVALID, "route %s \"%s\" is declared twice",
                                        r->method, r->pattern);
                }
            rt->routes[rt->count++] = r;
        }
    }
    *out = rt;
    return 0;
}

void cl_router_free(cl_router *rt)
{
    if (rt == NULL)
        return;
    free(rt->routes);
    free(rt);
}

size_t cl_router_count(const cl_router *rt)
{
    return rt->count;
}

const cl_route *cl_router_get(const cl_router *rt, size_t index)
{
    return index < rt->count ? rt->routes[index] : NULL;
}

/* Does path match pattern?  If so and m is not NULL, bind the parameters. */
static int match_path(const char *pattern, const char *path, cl_arena *a,
                      cl_route_match *m)
{
    size_t n = 0;

    while (*pattern == '/' && *path == '/') {
        const char *ps = ++pattern, *s = ++path;
        size_t plen = strcspn(ps, "/"), slen = strcspn(s, "/");

        if (slen == 0)
            return 0;
        if (ps[0] == '{') {
            if (m != NULL) {
                m->names[n] = ps + 1;  /* compared with its length below */
                m->values[n] = cl_arena_strndup(a, s, slen);
                if (m->values[n] == NULL)
                    return 0;
            }
            n++;
        } else if (plen != slen || memcmp(ps, s, slen) != 0) {
            return 0;
        }
        pattern = ps + plen;
        path = s + slen;
    }
    if (*pattern != '\0' || *path != '\0')
        return 0;
    if (m != NULL)
        m->nparams = n;
    return 1;
}

static void allow_add(char *allow, size_t size, const char *method)
{
    size_t len = strlen(allow);

    if (strstr(allow, method) != NULL)
        return;
    snprintf(allow + len, size - len, "%s%s", len ? ", " : "", method);
}

int cl_router_match(const cl_router *rt, const char *method, const char *path,
                    cl_arena *a, cl_route_match *m)
{
    const char *want = strcmp(method, "HEAD") == 0 ? "GET" : method;
    int path_known = 0;

    memset(m, 0, sizeof(*m));
    m->index = -1;
    for (size_t i = 0; i < rt->count; i++) {
        const cl_route *r = rt->routes[i];

        if (!match_path(r->pattern, path, NULL, NULL))
            continue;
        path_known = 1;
        allow_add(m->allow, sizeof(m->allow), r->method);
        if (strcmp(r->method, "GET") == 0)
            allow_add(m->allow, sizeof(m->allow), "HEAD");
        if (strcmp(r->method, want) == 0 && m->route == NULL) {
            m->route = r;
            m->index = (int)i;
        }
    }
    if (m->route != NULL) {
        match_path(m->route->pattern, path, a, m);
        return 0;
    }
    return path_known ? CL_EMETHOD : CL_ENOTFOUND;
}
