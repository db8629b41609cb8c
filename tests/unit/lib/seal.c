/* Tests for lib/seal.c: round trip, and every way a sealed value must not open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "seal.h"

static const unsigned char key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
                                       31, 32 };

static void test_round_trip(void **state)
{
    char *sealed, *again, *opened;
    size_t len;
    (void)state;

    assert_int_equal(cl_seal(&sealed, key, "hunter2", 7, "registry:1", NULL), 0);
    assert_non_null(strstr(sealed, "v1:"));
    assert_null(strstr(sealed, "hunter2"));
    assert_int_equal(cl_seal(&again, key, "hunter2", 7, "registry:1", NULL), 0);
    assert_string_not_equal(sealed, again);           /* a fresh nonce each time */
    assert_int_equal(cl_unseal(&opened, &len, key, sealed, "registry:1", NULL), 0);
    assert_int_equal(len, 7);
    assert_string_equal(opened, "hunter2");
    free(opened);
    free(sealed);
    free(again);
}

static void test_refusals(void **state)
{
    unsigned char other[32];
    char *sealed, *opened;
    size_t len;
    cl_error err = { 0 };
    (void)state;

    memcpy(other, key, 32);
    other[0] ^= 1;
    assert_int_equal(cl_seal(&sealed, key, "secret", 6, "registry:1", NULL), 0);
    assert_int_equal(cl_unseal(&opened, &len, other, sealed, "registry:1", &err), CL_EINVALID);
    assert_int_equal(cl_unseal(&opened, &len, key, sealed, "registry:2", &err), CL_EINVALID);
    assert_null(opened);
    sealed[10] = sealed[10] == 'A' ? 'B' : 'A';       /* altered */
    assert_int_equal(cl_unseal(&opened, &len, key, sealed, "registry:1", &err), CL_EINVALID);
    assert_int_equal(cl_unseal(&opened, &len, key, "v1:!!", "registry:1", &err), CL_EINVALID);
    assert_int_equal(cl_unseal(&opened, &len, key, "plain", "registry:1", &err), CL_EINVALID);
    assert_int_equal(cl_unseal(&opened, &len, key, "v1:AAAA", "registry:1", &err), CL_EINVALID);
    free(sealed);
    assert_int_equal(cl_seal(&sealed, key, "x", CL_SEAL_MAX + 1, "a", &err), CL_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
