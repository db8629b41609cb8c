/* Tests for lib/error.c: the code table, messages and field errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "error.h"

static void test_every_status_in_api_md_has_a_code(void **state)
{
    /* API.md's table of statuses */
    static const int statuses[] = { 400, 401, 403, 404, 405, 409, 412, 413, 415,
                                    422, 429, 500, 503 };
    (void)state;

    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        int code = cl_error_from_status(statuses[i]);
        const cl_error_info *info = cl_error_lookup(code);

        assert_int_equal(info->status, statuses[i]);
        assert_true(strlen(info->slug) > 0);
        assert_true(strlen(info->title) > 0);
        if (statuses[i] != 500)
            assert_int_not_equal(code, CL_ERROR);
    }
}

static void test_codes_map_to_statuses(void **state)
{
    (void)state;
    assert_int_equal(cl_error_lookup(CL_ENOTFOUND)->status, 404);
    assert_string_equal(cl_error_lookup(CL_ENOTFOUND)->slug, "not-found");
    assert_int_equal(cl_error_lookup(CL_EMALFORMED)->status, 400);
    assert_int_equal(cl_error_lookup(CL_ETOOBIG)->status, 413);
    assert_int_equal(cl_error_lookup(CL_EMEDIATYPE)->status, 415);
    assert_int_equal(cl_error_lookup(CL_EUNAVAILABLE)->status, 503);
    /* unknown and internal-only codes are 500s */
    assert_int_equal(cl_error_lookup(-999)->status, 500);
    assert_int_equal(cl_error_lookup(CL_ERETRY)->status, 500);
}

static void test_slugs_are_unique(void **state)
{
    static const int codes[] = { CL_ERROR, CL_EMALFORMED, CL_EUNAUTHORIZED, CL_EFORBIDDEN,
        CL_ENOTFOUND, CL_EMETHOD, CL_ECONFLICT, CL_EPRECONDITION, CL_ETOOBIG,
        CL_EMEDIATYPE, CL_EINVALID, CL_ERATELIMIT, CL_EUNAVAILABLE };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    (void)state;

    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(cl_error_lookup(codes[i])->slug,
                                    cl_error_lookup(codes[j])->slug);
}

static void test_set_returns_code_and_truncates_visibly(void **state)
{
    char long_name[2000];
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(cl_error_set(&err, CL_ENOTFOUND, "app \"%s\" not found", "web"),
                     CL_ENOTFOUND);
    assert_string_equal(err.message, "app \"web\" not found");
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    cl_error_set(&err, CL_EINVALID, "%s", long_name);
    assert_int_equal(strlen(err.message), CL_ERROR_MSG_MAX - 1);
    assert_string_equal(err.message + CL_ERROR_MSG_MAX - 4, "...");
    assert_int_equal(cl_error_set(NULL, CL_ECONFLICT, "ignored"), CL_ECONFLICT);
    cl_error_clear(&err);
}

static void test_field_errors_collect(void **state)
{
    cl_error err = { 0 };
    json_t *list;
    (void)state;

    assert_int_equal(cl_error_field(&err, "enclave_size", "must be a power of two"),
                     CL_EINVALID);
    cl_error_field(&err, "threads", "must be at least %d", 1);
    assert_int_equal(err.code, CL_EINVALID);
    list = json_object_get(err.ext, "errors");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "field")),
                        "threads");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "message")),
                        "must be at least 1");
    cl_error_clear(&err);
    assert_null(err.ext);
    assert_int_equal(err.code, CL_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_in_api_md_has_a_code),
        cmocka_unit_test(test_codes_map_to_statuses),
        cmocka_unit_test(test_slugs_are_unique),
        cmocka_unit_test(test_set_returns_code_and_truncates_visibly),
        cmocka_unit_test(test_field_errors_collect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
