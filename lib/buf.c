/* buf.c - bounded growing buffer; see buf.h. */
#include "buf.h"
#include "error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cl_buf_init(cl_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void cl_buf_free(cl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void cl_buf_reset(cl_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

int cl_buf_append(cl_buf *b, const void *data, size_t len)
{
    if (len > b->max || b->len > b->max - len) {
        cl_buf_free(b);
        return CL_ETOOBIG;
    }
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->len + len + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        p = realloc(b->data, cap);
        if (p == NULL) {
            cl_buf_free(b);
            return CL_ERROR;
        }
        b->data = p;
        b->cap = cap;
    }
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int cl_buf_appendf(cl_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n, err;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return CL_ERROR;
    if ((size_t)n < sizeof(small))
        return cl_buf_append(b, small, (size_t)n);

    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return CL_ERROR;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    err = cl_buf_append(b, big, (size_t)n);
    free(big);
    return err;
}

char *cl_buf_take(cl_buf *b, size_t *len)
{
    char *p = b->data;

    if (len != NULL)
        *len = b->len;
    if (p == NULL) {
        p = calloc(1, 1);
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

char *cl_bytes_to_str(const void *p, size_t n)
{
    char *s;

    if (n == SIZE_MAX || (s = malloc(n + 1)) == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int cl_path_absolute(const char *s, size_t max)
{
    size_t n = strlen(s);

    return s[0] == '/' && n <= max && strstr(s, "/../") == NULL &&
           (n < 3 || strcmp(s + n - 3, "/..") != 0) && strchr(s, '\n') == NULL;
}

ssize_t cl_mem_read(void *ctx, const void **buf)
{
    cl_mem_source *m = ctx;
    size_t n = m->len;

    *buf = m->data;
    m->data = (const char *)m->data + n;
    m->len = 0;
    return (ssize_t)n;
}
