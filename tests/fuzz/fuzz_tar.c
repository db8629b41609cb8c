/*
 * fuzz_tar.c - image layers (lib/image_fs.c through libarchive): tar
 * headers, names, links and whiteouts of a layer pulled from a registry,
 * gzip'd or not, applied to a tree; then every path of the tree looked up
 * and resolved through its symlinks, and one file's bytes extracted, as the
 * conversion does.
 */
#include "error.h"
#include "image_fs.h"

#include <stdint.h>

typedef struct memory {
    const uint8_t *data;
    size_t size;
    int done;
} memory;

static ssize_t read_memory(void *ctx, const void **buf)
{
    memory *m = ctx;

    if (m->done)
        return 0;
    m->done = 1;
    *buf = m->data;
    return (ssize_t)m->size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_fs_limits limits = { 10000, 64u << 20 };
    cl_fs_tree *t = cl_fs_new(&limits);
    cl_error err = { 0 };
    char out[CL_FS_PATH_MAX];
    size_t n;
    int extracted = 0;

    if (t == NULL)
        return 0;
    /* the same bytes twice: the second layer replaces what the first wrote */
    if (cl_fs_apply_memory(t, data, size, &err) == 0 &&
        cl_fs_apply_memory(t, data, size, &err) == 0) {
        const cl_fs_entry *const *e = cl_fs_entries(t, &n);
        for (size_t i = 0; i < n; i++) {
            if (e[i] == NULL)
                continue;
            (void)cl_fs_lookup(t, e[i]->path);
            (void)cl_fs_resolve(t, e[i]->path, out, &err);
            cl_error_clear(&err);
            if (e[i]->type == CL_FS_FILE && !extracted) {
                memory m = { data, size, 0 };
                cl_buf bytes;
                cl_buf_init(&bytes, 1u << 20);
                (void)cl_fs_extract(read_memory, &m, e[i]->path, &bytes, &err);
                cl_buf_free(&bytes);
                cl_error_clear(&err);
                extracted = 1;
            }
        }
    }
    cl_error_clear(&err);
    cl_fs_free(t);
    return 0;
}
