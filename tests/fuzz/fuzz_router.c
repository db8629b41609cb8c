/*
 * fuzz_router.c - request lines against the daemon's real route tables
 * (daemon/router.c over daemon/routes.c): the input is the method, a
 * newline, and the path as the server hands it over.  A match must bind no
 * more parameters than the route has, each non-empty and without a "/".
 */
#include "arena.h"
#include "error.h"
#include "fuzz.h"
#include "router.h"

#include <stdint.h>

static cl_router *rt;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[2], *copy;
    cl_route_match m;
    cl_error err = { 0 };

    if (rt == NULL && cl_router_new(&rt, cl_route_tables, &err) < 0) {
        fprintf(stderr, "fuzz_router: %s\n", err.message);
        abort();
    }
    if (size > 8192)            /* MHD's default request line bound */
        return 0;
    fuzz_fields(data, size, f, 2, &copy);
    cl_arena *a = cl_arena_new(0);
    if (a != NULL && f[1] != NULL) {
        memset(&m, 0, sizeof(m));
        if (cl_router_match(rt, f[0], f[1], a, &m) == 0) {
            if (m.route == NULL || m.nparams > CL_ROUTE_MAX_PARAMS)
                abort();
            for (size_t i = 0; i < m.nparams; i++)
                if (m.values[i] == NULL || m.values[i][0] == '\0' ||
                    strchr(m.values[i], '/') != NULL)
                    abort();
        }
    }
    cl_arena_free(a);
    free(copy);
    return 0;
}
