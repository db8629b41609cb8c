/* Tests for lib/config.c: sources in order, validation, and help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

typedef struct {
    char *name;
    long long count;
    long long size;
    int flag;
} settings;

static const cl_config_setting table[] = {
    { "name", CL_CFG_STRING, offsetof(settings, name), "default", 0, 0, "a name" },
    { "count", CL_CFG_INT, offsetof(settings, count), "4", 1, 100, "a count" },
    { "max-size", CL_CFG_SIZE, offsetof(settings, size), "1K", 0, 1LL << 40, "a size" },
    { "flag", CL_CFG_BOOL, offsetof(settings, flag), "false", 0, 0, "a switch" },
};
#define N (sizeof(table) / sizeof(table[0]))

static char file_path[64];

static int setup(void **state)
{
    (void)state;
    unsetenv("CLOISTER_NAME");
    unsetenv("CLOISTER_COUNT");
    unsetenv("CLOISTER_MAX_SIZE");
    unsetenv("CLOISTER_FLAG");
    unsetenv("CLOISTER_CONFIG");
    return 0;
}

static const char *write_file(const char *text)
{
    int fd;

    snprintf(file_path, sizeof(file_path), "/tmp/cl-config-XXXXXX");
    fd = mkstemp(file_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return file_path;
}

static int load(settings *s, cl_error *err, int argc, char **argv)
{
    memset(s, 0, sizeof(*s));
    memset(err, 0, sizeof(*err));
    return cl_config_load(s, table, N, argc, argv, err);
}

static void test_defaults(void **state)
{
    settings s;
    cl_error err;
    (void)state;

    assert_int_equal(load(&s, &err, 0, NULL), 0);
    assert_string_equal(s.name, "default");
    assert_int_equal(s.count, 4);
    assert_int_equal(s.size, 1024);
    assert_int_equal(s.flag, 0);
    cl_config_free(&s, table, N);
}

static void test_layers_file_env_flags(void **state)
{
    const char *path = write_file("{\"name\": \"file\", \"count\": 7, \"max-size\": \"2M\","
                                  " \"flag\": true}");
    char *argv[] = { "--config", (char *)path, "--count=9", NULL };
    settings s;
    cl_error err;
    (void)state;

    setenv("CLOISTER_COUNT", "8", 1);
    setenv("CLOISTER_NAME", "env", 1);
    assert_int_equal(load(&s, &err, 3, argv), 0);
    assert_string_equal(s.name, "env");          /* env over file */
    assert_int_equal(s.count, 9);                /* flag over env */
    assert_int_equal(s.size, 2 * 1024 * 1024);   /* file over default */
    assert_int_equal(s.flag, 1);
    cl_config_free(&s, table, N);
    unlink(path);
}

static void test_config_from_environment(void **state)
{
    const char *path = write_file("{\"name\": \"from-file\"}");
    settings s;
    cl_error err;
    (void)state;

    setenv("CLOISTER_CONFIG", path, 1);
    assert_int_equal(load(&s, &err, 0, NULL), 0);
    assert_string_equal(s.name, "from-file");
    cl_config_free(&s, table, N);
    unlink(path);
}

static void test_flag_forms(void **state)
{
    char *argv[] = { "--name", "two words", "--flag", "--max-size=64k", NULL };
    settings s;
    cl_error err;
    (void)state;

    assert_int_equal(load(&s, &err, 4, argv), 0);
    assert_string_equal(s.name, "two words");
    assert_int_equal(s.flag, 1);
    assert_int_equal(s.size, 65536);
    cl_config_free(&s, table, N);
}

static void expect_error(int argc, char **argv, const char *fragment)
{
    settings s;
    cl_error err;

    assert_int_equal(load(&s, &err, argc, argv), CL_EINVALID);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("\"%s\" does not mention \"%s\"", err.message, fragment);
    cl_config_free(&s, table, N);
}

static void test_bad_flags(void **state)
{
    (void)state;
    expect_error(1, (char *[]){ "--nope=1" }, "unknown option \"--nope\"");
    expect_error(1, (char *[]){ "--count=0" }, "between 1 and 100");
    expect_error(1, (char *[]){ "--count=12abc" }, "must be an integer");
    expect_error(1, (char *[]){ "--count=99999999999999999999" }, "must be an integer");
    expect_error(1, (char *[]){ "--max-size=1T" }, "a size");
    expect_error(1, (char *[]){ "--flag=maybe" }, "true or false");
    expect_error(1, (char *[]){ "--count" }, "needs a value");
    expect_error(1, (char *[]){ "stray" }, "unexpected argument");
}

static void test_bad_env_and_file(void **state)
{
    (void)state;
    setenv("CLOISTER_COUNT", "-3", 1);
    expect_error(0, NULL, "CLOISTER_COUNT");
    unsetenv("CLOISTER_COUNT");

    const char *path = write_file("{\"colour\": \"blue\"}");
    expect_error(2, (char *[]){ "--config", (char *)path }, "unknown setting \"colour\"");
    unlink(path);
    path = write_file("{\"name\": ");
    expect_error(2, (char *[]){ "--config", (char *)path }, "line 1");
    unlink(path);
    path = write_file("[1]");
    expect_error(2, (char *[]){ "--config", (char *)path }, "JSON object");
    unlink(path);
    path = write_file("{\"name\": [1]}");
    expect_error(2, (char *[]){ "--config", (char *)path }, "string, integer or boolean");
    unlink(path);
    expect_error(1, (char *[]){ "--config=/nonexistent/cloister.json" }, "could not open");
}

static void test_parse_size(void **state)
{
    long long v;
    (void)state;

    assert_int_equal(cl_config_parse_size("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cl_config_parse_size("4G", &v), 0);
    assert_int_equal(v, 4LL << 30);
    assert_int_equal(cl_config_parse_size("256MB", &v), 0);
    assert_int_equal(v, 256LL << 20);
    assert_int_equal(cl_config_parse_size("-1", &v), CL_EINVALID);
    assert_int_equal(cl_config_parse_size("", &v), CL_EINVALID);
    assert_int_equal(cl_config_parse_size("9223372036854775807G", &v), CL_EINVALID);
}

static void test_help_lists_every_setting(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    (void)state;

    cl_config_help(f, table, N);
    fclose(f);
    for (size_t i = 0; i < N; i++)
        assert_non_null(strstr(text, table[i].name));
    assert_non_null(strstr(text, "CLOISTER_MAX_SIZE"));
    assert_non_null(strstr(text, "default 1K"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, setup),
        cmocka_unit_test_setup(test_layers_file_env_flags, setup),
        cmocka_unit_test_setup(test_config_from_environment, setup),
        cmocka_unit_test_setup(test_flag_forms, setup),
        cmocka_unit_test_setup(test_bad_flags, setup),
        cmocka_unit_test_setup(test_bad_env_and_file, setup),
        cmocka_unit_test_setup(test_parse_size, setup),
        cmocka_unit_test_setup(test_help_lists_every_setting, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
