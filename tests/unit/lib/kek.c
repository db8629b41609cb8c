/* Tests for lib/kek.c: accepted shapes, refused permissions and sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kek.h"

static char path[64];

static void write_key(const void *data, size_t len, mode_t mode)
{
    int fd;

    snprintf(path, sizeof(path), "/tmp/cl-kek-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

static int load(unsigned char key[CL_KEK_SIZE], cl_error *err)
{
    int rc = cl_kek_load(key, path, err);

    unlink(path);
    return rc;
}

static void test_hex_and_raw(void **state)
{
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    unsigned char raw[CL_KEK_SIZE], key[CL_KEK_SIZE];
    cl_error err = { 0 };
    (void)state;

    for (int i = 0; i < CL_KEK_SIZE; i++)
        raw[i] = (unsigned char)i;
    write_key(hex, strlen(hex), 0600);
    assert_int_equal(load(key, &err), 0);
    assert_memory_equal(key, raw, CL_KEK_SIZE);

    memset(key, 0, sizeof(key));
    write_key(raw, sizeof(raw), 0400);
    assert_int_equal(load(key, &err), 0);
    assert_memory_equal(key, raw, CL_KEK_SIZE);
}

static void test_refusals(void **state)
{
    unsigned char key[CL_KEK_SIZE];
    cl_error err = { 0 };
    char hex[65];
    (void)state;

    memset(hex, 'a', 64);
    hex[64] = '\0';
    write_key(hex, 64, 0644);
    assert_int_equal(load(key, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "chmod 600"));

    write_key("short", 5, 0600);
    assert_int_equal(load(key, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "32 bytes or 64 hex digits"));

    hex[10] = 'z';
    write_key(hex, 64, 0600);
    assert_int_equal(load(key, &err), CL_EINVALID);

    assert_int_equal(cl_kek_load(key, NULL, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "--kek-file"));
    assert_int_equal(cl_kek_load(key, "/nonexistent/kek", &err), CL_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_and_raw),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
