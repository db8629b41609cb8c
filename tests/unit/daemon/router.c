/* Tests for daemon/router.c: matching, parameters, 404 and 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "router.h"

static int h(cl_req *r, json_t **out)
{
    (void)r;
    (void)out;
    return 0;
}

static const cl_route apps[] = {
    { "GET",    "/v1/apps",              h, 0 },
    { "POST",   "/v1/apps",              h, CL_JSON_BODY },
    { "GET",    "/v1/apps/{id}",         h, 0 },
    { "DELETE", "/v1/apps/{id}",         h, 0 },
    { "GET",    "/v1/apps/{id}/builds/{build}", h, 0 },
    { NULL, NULL, NULL, 0 },
};
static const cl_route jobs[] = {
    { "POST", "/v1/jobs/{id}/cancel", h, 0 },
    { "GET",  "/v1/jobs/stats",       h, 0 },
    { NULL, NULL, NULL, 0 },
};

static void test_match_and_bind(void **state)
{
    const cl_route *const tables[] = { apps, jobs, NULL };
    cl_router *rt;
    cl_arena *a = cl_arena_new(0);
    cl_route_match m;
    (void)state;

    assert_int_equal(cl_router_new(&rt, tables, NULL), 0);
    assert_int_equal(cl_router_count(rt), 7);

    assert_int_equal(cl_router_match(rt, "GET", "/v1/apps", a, &m), 0);
    assert_ptr_equal(m.route, &apps[0]);
    assert_int_equal(m.index, 0);

    assert_int_equal(cl_router_match(rt, "GET", "/v1/apps/42/builds/7", a, &m), 0);
    assert_ptr_equal(m.route, &apps[4]);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.values[0], "42");
    assert_string_equal(m.values[1], "7");
    assert_memory_equal(m.names[1], "build}", 6);

    assert_int_equal(cl_router_match(rt, "HEAD", "/v1/apps/42", a, &m), 0);
    assert_ptr_equal(m.route, &apps[2]);

    assert_int_equal(cl_router_match(rt, "POST", "/v1/jobs/9/cancel", a, &m), 0);
    assert_int_equal(m.index, 5);

    cl_router_free(rt);
    cl_arena_free(a);
}

static void test_not_found_and_method(void **state)
{
    const cl_route *const tables[] = { apps, NULL };
    cl_router *rt;
    cl_arena *a = cl_arena_new(0);
    cl_route_match m;
    (void)state;

    assert_int_equal(cl_router_new(&rt, tables, NULL), 0);
    assert_int_equal(cl_router_match(rt, "GET", "/v1/apps/", a, &m), CL_ENOTFOUND);
    assert_int_equal(cl_router_match(rt, "GET", "/v1/apps//builds/1", a, &m), CL_ENOTFOUND);
    assert_int_equal(cl_router_match(rt, "GET", "/v1/app", a, &m), CL_ENOTFOUND);
    assert_int_equal(cl_router_match(rt, "GET", "/v1/apps/1/2", a, &m), CL_ENOTFOUND);
    assert_int_equal(m.index, -1);

    assert_int_equal(cl_router_match(rt, "PUT", "/v1/apps/1", a, &m), CL_EMETHOD);
    assert_string_equal(m.allow, "GET, HEAD, DELETE");
    assert_int_equal(cl_router_match(rt, "DELETE", "/v1/apps", a, &m), CL_EMETHOD);
    assert_string_equal(m.allow, "GET, HEAD, POST");
    cl_router_free(rt);
    cl_arena_free(a);
}

static void test_bad_tables_refused(void **state)
{
    static const cl_route trailing[] = { { "GET", "/v1/apps/", h, 0 }, { NULL, NULL, NULL, 0 } };
    static const cl_route brace[] = { { "GET", "/v1/a{id}", h, 0 }, { NULL, NULL, NULL, 0 } };
    static const cl_route empty[] = { { "GET", "/v1//x", h, 0 }, { NULL, NULL, NULL, 0 } };
    const cl_route *const dup[] = { apps, apps, NULL };
    cl_router *rt;
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(cl_router_new(&rt, (const cl_route *const[]){ trailing, NULL }, &err),
                     CL_EINVALID);
    assert_int_equal(cl_router_new(&rt, (const cl_route *const[]){ brace, NULL }, &err),
                     CL_EINVALID);
    assert_int_equal(cl_router_new(&rt, (const cl_route *const[]){ empty, NULL }, &err),
                     CL_EINVALID);
    assert_int_equal(cl_router_new(&rt, dup, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "declared twice"));
}

static void test_daemon_tables_are_valid(void **state)
{
    cl_router *rt;
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(cl_router_new(&rt, cl_route_tables, &err), 0);
    assert_true(cl_router_count(rt) > 0);
    cl_router_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_and_bind),
        cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_bad_tables_refused),
        cmocka_unit_test(test_daemon_tables_are_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
