/* Tests for lib/migrate.c: file names, loading order and checksums.
 * Applying against PostgreSQL is tested in tests/integration/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "digest.h"
#include "migrate.h"

static char dir[64];

static void put(const char *name, const char *text)
{
    char p[256];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/cl-migrate-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int remove_dir(void **state)
{
    char cmd[128];
    (void)state;

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

static void test_parse_name(void **state)
{
    (void)state;
    assert_int_equal(cl_migrate_parse_name("0001_core.sql"), 1);
    assert_int_equal(cl_migrate_parse_name("0042_add_jobs_2.sql"), 42);
    assert_int_equal(cl_migrate_parse_name("001_core.sql"), -1);
    assert_int_equal(cl_migrate_parse_name("0001-core.sql"), -1);
    assert_int_equal(cl_migrate_parse_name("0001_Core.sql"), -1);
    assert_int_equal(cl_migrate_parse_name("0001_.sql"), -1);
    assert_int_equal(cl_migrate_parse_name("0001_core.sql.bak"), -1);
    assert_int_equal(cl_migrate_parse_name("abcd_core.sql"), -1);
}

static void test_load_orders_and_hashes(void **state)
{
    cl_migration_set set;
    cl_error err = { 0 };
    char expect[CL_SHA256_HEX_LEN + 1];
    (void)state;

    put("0002_second.sql", "SELECT 2;\n");
    put("0001_first.sql", "SELECT 1;\n");
    put("0010_tenth.sql", "SELECT 10;\n");
    put("README.md", "not a migration");
    assert_int_equal(cl_migrate_load(&set, dir, &err), 0);
    assert_int_equal(set.count, 3);
    assert_string_equal(set.items[0].name, "0001_first.sql");
    assert_string_equal(set.items[1].name, "0002_second.sql");
    assert_int_equal(set.items[2].version, 10);
    assert_string_equal(set.items[0].sql, "SELECT 1;\n");
    cl_sha256_hex(expect, "SELECT 1;\n", 10);
    assert_string_equal(set.items[0].checksum, expect);
    /* a changed byte changes the checksum */
    assert_string_not_equal(set.items[0].checksum, set.items[1].checksum);
    cl_migrate_free(&set);
}

static void test_load_refuses_bad_sets(void **state)
{
    cl_migration_set set;
    cl_error err = { 0 };
    (void)state;

    put("0001_first.sql", "SELECT 1;");
    put("0001_again.sql", "SELECT 1;");
    assert_int_equal(cl_migrate_load(&set, dir, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "share version 0001"));
    assert_int_equal(set.count, 0);

    char p[256];
    snprintf(p, sizeof(p), "%s/0001_again.sql", dir);
    unlink(p);
    put("1_badly_named.sql", "SELECT 1;");
    assert_int_equal(cl_migrate_load(&set, dir, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "1_badly_named.sql"));

    assert_int_equal(cl_migrate_load(&set, "/nonexistent/migrations", &err), CL_ERROR);
}

static void test_sha256_known_answer(void **state)
{
    char hex[CL_SHA256_HEX_LEN + 1];
    (void)state;

    cl_sha256_hex(hex, "abc", 3);
    assert_string_equal(hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_name),
        cmocka_unit_test_setup_teardown(test_load_orders_and_hashes, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_load_refuses_bad_sets, make_dir, remove_dir),
        cmocka_unit_test(test_sha256_known_answer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
