/* Tests for lib/json.c: the nesting bound and where malformed input broke. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "json.h"

static char *nested(size_t depth)
{
    char *s = malloc(2 * depth + 1);

    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

static void test_depth_counts_brackets_outside_strings(void **state)
{
    (void)state;
    assert_int_equal(cl_json_depth("{}", 2, 10), 1);
    assert_int_equal(cl_json_depth("{\"a\":[1,{\"b\":2}]}", 17, 10), 3);
    assert_int_equal(cl_json_depth("{\"a\":\"[[[[\"}", 12, 10), 1);
    assert_int_equal(cl_json_depth("[\"\\\"[[\"]", 8, 10), 1);
    assert_int_equal(cl_json_depth("[[[[[]]]]]", 10, 3), 4); /* stops past the bound */
}

static void test_parse_accepts_within_bound(void **state)
{
    char *text = nested(32);
    cl_error err = { 0 };
    json_t *v;
    (void)state;

    assert_int_equal(cl_json_parse(&v, text, strlen(text), 32, &err), 0);
    assert_true(json_is_array(v));
    json_decref(v);
    free(text);
}

static void test_parse_refuses_deep_nesting_before_parsing(void **state)
{
    char *text = nested(100000);
    cl_error err = { 0 };
    json_t *v = (json_t *)1;
    (void)state;

    assert_int_equal(cl_json_parse(&v, text, strlen(text), 32, &err), CL_EMALFORMED);
    assert_null(v);
    assert_non_null(strstr(err.message, "nested more than 32 levels"));
    cl_error_clear(&err);
    free(text);
}

static void test_malformed_says_where(void **state)
{
    const char *text = "{\n  \"name\": \"web\",\n  \"threads\": 4,,\n}";
    cl_error err = { 0 };
    json_t *v, *where;
    (void)state;

    assert_int_equal(cl_json_parse(&v, text, strlen(text), 32, &err), CL_EMALFORMED);
    where = json_object_get(err.ext, "where");
    assert_non_null(where);
    assert_int_equal(json_integer_value(json_object_get(where, "line")), 3);
    assert_true(json_integer_value(json_object_get(where, "column")) > 0);
    assert_non_null(strstr(err.message, "line 3"));
    cl_error_clear(&err);
}

static void test_refuses_trailing_garbage_nul_and_duplicates(void **state)
{
    cl_error err = { 0 };
    json_t *v;
    (void)state;

    assert_int_equal(cl_json_parse(&v, "{} x", 4, 32, &err), CL_EMALFORMED);
    cl_error_clear(&err);
    assert_int_equal(cl_json_parse(&v, "{\"a\":\"\\u0000\"}", 14, 32, &err), CL_EMALFORMED);
    cl_error_clear(&err);
    assert_int_equal(cl_json_parse(&v, "{\"a\":1}\0", 8, 32, &err), CL_EMALFORMED);
    cl_error_clear(&err);
    assert_int_equal(cl_json_parse(&v, "{\"a\":1,\"a\":2}", 13, 32, &err), CL_EMALFORMED);
    cl_error_clear(&err);
    assert_int_equal(cl_json_parse(&v, "", 0, 32, &err), CL_EMALFORMED);
    cl_error_clear(&err);
}

static void test_canonical_sorts_and_compacts(void **state)
{
    json_t *v = json_pack("{s:i, s:s, s:[i,i]}", "b", 1, "a", "x", "c", 1, 2);
    char *text = cl_json_canonical(v);
    (void)state;

    assert_string_equal(text, "{\"a\":\"x\",\"b\":1,\"c\":[1,2]}");
    free(text);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth_counts_brackets_outside_strings),
        cmocka_unit_test(test_parse_accepts_within_bound),
        cmocka_unit_test(test_parse_refuses_deep_nesting_before_parsing),
        cmocka_unit_test(test_malformed_says_where),
        cmocka_unit_test(test_refuses_trailing_garbage_nul_and_duplicates),
        cmocka_unit_test(test_canonical_sorts_and_compacts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
