/* Tests for lib/buf.c: growth up to the bound, and freeing on overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"

static void test_append_within_bound(void **state)
{
    cl_buf b;
    (void)state;

    cl_buf_init(&b, 10);
    assert_int_equal(cl_buf_append(&b, "hello", 5), 0);
    assert_int_equal(cl_buf_appendf(&b, "%d", 12345), 0);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "hello12345");
    cl_buf_free(&b);
}

static void test_overflow_frees_and_reports(void **state)
{
    cl_buf b;
    (void)state;

    cl_buf_init(&b, 8);
    assert_int_equal(cl_buf_append(&b, "12345", 5), 0);
    assert_int_equal(cl_buf_append(&b, "6789", 4), CL_ETOOBIG);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(cl_buf_appendf(&b, "%s", "far too long for it"), CL_ETOOBIG);
    cl_buf_free(&b);
}

static void test_large_formatted_append(void **state)
{
    char big[1000];
    cl_buf b;
    (void)state;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    cl_buf_init(&b, 4096);
    assert_int_equal(cl_buf_appendf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '[');
    assert_int_equal(b.data[1000], ']');
    cl_buf_free(&b);
}

static void test_take_hands_over(void **state)
{
    cl_buf b;
    size_t len;
    char *p;
    (void)state;

    cl_buf_init(&b, 100);
    cl_buf_append(&b, "abc", 3);
    p = cl_buf_take(&b, &len);
    assert_string_equal(p, "abc");
    assert_int_equal(len, 3);
    assert_null(b.data);
    free(p);
    p = cl_buf_take(&b, &len);      /* empty: still a string */
    assert_string_equal(p, "");
    assert_int_equal(len, 0);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_within_bound),
        cmocka_unit_test(test_overflow_frees_and_reports),
        cmocka_unit_test(test_large_formatted_append),
        cmocka_unit_test(test_take_hands_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
