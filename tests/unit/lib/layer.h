/* layer.h - image layers for the unit tests, written with libarchive's own
 * writer, and applied to a cl_fs_tree. */
#ifndef CL_TEST_LAYER_H
#define CL_TEST_LAYER_H

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>

#include "image_fs.h"

enum { F, X, D, L, H };  /* file, executable, directory, symlink, hard link */

typedef struct member {
    int kind;
    const char *path;
    const char *data;  /* file contents, symlink or hard-link target */
} member;

#define LAYER_MAX (1 << 20)

/* A gzip-compressed pax layer of the members; returns its length. */
static size_t layer(uint8_t *buf, const member *m, size_t n)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    size_t used = 0;

    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    assert_int_equal(archive_write_open_memory(a, buf, LAYER_MAX, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, m[i].path);
        archive_entry_set_perm(e, m[i].kind == D || m[i].kind == X ? 0755 : 0644);
        switch (m[i].kind) {
        case F:
        case X:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_size(e, (la_int64_t)strlen(m[i].data));
            break;
        case D:
            archive_entry_set_filetype(e, AE_IFDIR);
            break;
        case L:
            archive_entry_set_filetype(e, AE_IFLNK);
            archive_entry_set_symlink(e, m[i].data);
            break;
        case H:
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_hardlink(e, m[i].data);
            break;
        }
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (m[i].kind == F || m[i].kind == X)
            assert_int_equal(archive_write_data(a, m[i].data, strlen(m[i].data)),
                             (la_ssize_t)strlen(m[i].data));
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    archive_entry_free(e);
    return used;
}

static uint8_t buf[LAYER_MAX];

static void apply(cl_fs_tree *t, const member *m, size_t n)
{
    cl_error err = { 0 };

    if (cl_fs_apply_memory(t, buf, layer(buf, m, n), &err) < 0)
        fail_msg("apply: %s", err.message);
}

#define APPLY(t, ...) \
    do { \
        const member m_[] = { __VA_ARGS__ }; \
        apply(t, m_, sizeof(m_) / sizeof(m_[0])); \
    } while (0)

#endif
