/*
 * buf.h - a growing byte buffer with a maximum (after curl's dynbuf).
 *
 * Every buffer is created with its bound.  An append that would pass the
 * bound frees the contents and returns CL_ETOOBIG; an allocation failure
 * returns CL_ERROR.  The contents are always NUL-terminated so that text can
 * be read in place; `len` does not count the terminator.
 */
#ifndef CL_BUF_H
#define CL_BUF_H

#include <stddef.h>

typedef struct cl_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} cl_buf;

void cl_buf_init(cl_buf *b, size_t max);
int cl_buf_append(cl_buf *b, const void *data, size_t len);
int cl_buf_appendf(cl_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cl_buf_reset(cl_buf *b);   /* keep the allocation, drop the contents */
void cl_buf_free(cl_buf *b);    /* release everything; the buffer is reusable */

/* Hand the contents to the caller (free() them); the buffer is emptied. */
char *cl_buf_take(cl_buf *b, size_t *len);

/* A NUL-terminated copy of n bytes that need not be terminated themselves
 * (strndup reads its source as a string); NULL when out of memory. */
char *cl_bytes_to_str(const void *p, size_t n);

/* s is an absolute path of at most max bytes, on one line, with no ".."
 * component: a path inside an image or an enclave, as an app names it. */
int cl_path_absolute(const char *s, size_t max);

/* Bytes in memory handed out by a pull reader (cl_fs_read_fn's shape):
 * all of them on the first call, then 0. */
typedef struct cl_mem_source {
    const void *data;
    size_t len;
} cl_mem_source;

#include <sys/types.h>
ssize_t cl_mem_read(void *ctx, const void **buf);

#endif
