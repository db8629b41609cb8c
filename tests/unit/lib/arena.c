/* Tests for lib/arena.c: allocation, budget, destructors and their order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "arena.h"

static int order[8];
static int norder;

static void record(void *p)
{
    order[norder++] = *(int *)p;
}

static void test_alloc_is_zeroed_and_aligned(void **state)
{
    cl_arena *a = cl_arena_new(0);
    (void)state;

    for (size_t size = 1; size < 5000; size += 333) {
        unsigned char *p = cl_arena_alloc(a, size);

        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        for (size_t i = 0; i < size; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xab, size);
    }
    cl_arena_free(a);
}

static void test_large_allocation_gets_its_own_chunk(void **state)
{
    cl_arena *a = cl_arena_new(0);
    (void)state;

    char *small = cl_arena_strdup(a, "small");
    char *big = cl_arena_alloc(a, 100000);
    char *after = cl_arena_strdup(a, "after");

    assert_non_null(big);
    memset(big, 1, 100000);
    assert_string_equal(small, "small");
    assert_string_equal(after, "after");
    cl_arena_free(a);
}

static void test_budget_refuses_without_growing(void **state)
{
    cl_arena *a = cl_arena_new(1024);
    (void)state;

    assert_non_null(cl_arena_alloc(a, 512));
    assert_null(cl_arena_alloc(a, 1024));
    assert_non_null(cl_arena_alloc(a, 256));
    assert_true(cl_arena_used(a) <= 1024);
    assert_null(cl_arena_alloc(a, SIZE_MAX));
    cl_arena_free(a);
}

static void test_strings(void **state)
{
    cl_arena *a = cl_arena_new(0);
    (void)state;

    assert_string_equal(cl_arena_printf(a, "%s-%d", "job", 42), "job-42");
    assert_string_equal(cl_arena_strndup(a, "abcdef", 3), "abc");
    assert_string_equal(cl_arena_strndup(a, "ab", 10), "ab");
    assert_null(cl_arena_strdup(a, NULL));
    assert_memory_equal(cl_arena_memdup(a, "x\0y", 3), "x\0y", 3);
    cl_arena_free(a);
}

static void test_destructors_run_newest_first(void **state)
{
    static int values[3] = { 1, 2, 3 };
    cl_arena *a = cl_arena_new(0);
    (void)state;

    norder = 0;
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(cl_arena_defer(a, record, &values[i]), &values[i]);
    assert_null(cl_arena_defer(a, record, NULL));
    assert_int_equal(norder, 0);
    cl_arena_free(a);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 2);
    assert_int_equal(order[2], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_is_zeroed_and_aligned),
        cmocka_unit_test(test_large_allocation_gets_its_own_chunk),
        cmocka_unit_test(test_budget_refuses_without_growing),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_destructors_run_newest_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
