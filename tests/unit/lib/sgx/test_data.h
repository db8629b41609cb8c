/* test_data.h - reading a file of tests/data/ whole, for the SGX tests
 * (CL_TEST_DATA is set by tests/unit/CMakeLists.txt). */
#ifndef CL_TEST_DATA_H
#define CL_TEST_DATA_H

#include <stdio.h>
#include <stdlib.h>

/* The bytes of CL_TEST_DATA/name (malloc'd, NUL after them); fails the test
 * when the file cannot be read. */
static uint8_t *slurp(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    uint8_t *buf;

    snprintf(path, sizeof(path), "%s/%s", CL_TEST_DATA, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

#endif
