/*
 * fuzz.h - helpers shared by the fuzz targets (header-only, static).
 *
 * Targets get bytes; parsers of text want them NUL-terminated, some want
 * several fields, and some need fixed companions (a real quote, Intel's
 * collateral) that are read once from tests/data.
 */
#ifndef CL_FUZZ_H
#define CL_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated malloc'd copy of the input (embedded NULs stay). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * Split a copy of the input at newlines into at most n fields, the last
 * taking the rest; fields that are not there are NULL.  *copy is to be
 * freed.
 */
static inline void fuzz_fields(const uint8_t *data, size_t size, char **fields, size_t n,
                               char **copy)
{
    char *s = fuzz_text(data, size), *p = s;

    *copy = s;
    for (size_t i = 0; i < n; i++) {
        fields[i] = p;
        if (p == NULL || i == n - 1)
            continue;
        char *nl = memchr(p, '\n', size - (size_t)(p - s));
        if (nl != NULL) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p = NULL;
        }
    }
}

/* A file of tests/data, whole and NUL-terminated; aborts when missing. */
static inline uint8_t *fuzz_data_file(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    uint8_t *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", FUZZ_DATA_DIR, name);
    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        perror(path);
        abort();
    }
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

#endif
