/*
 * image_fs.h - the final filesystem of a container image, from its layers.
 *
 * Layers (tar, gzip- or zstd-compressed or not) are applied in order, as
 * the OCI image spec's changeset rules say: an entry replaces what a lower
 * layer had at its path (a non-directory over a directory removes the
 * directory's subtree); "D/.wh.NAME" deletes D/NAME and its subtree from
 * the lower layers; "D/.wh..wh..opq" empties D of everything the lower
 * layers put there.  Nothing is extracted: the tree is an index of paths
 * with, for every regular file, its size and the SHA-256 of its bytes,
 * computed while the layer streams past.
 *
 * Paths are absolute and normalised ("/usr/bin/python3").  A layer whose
 * entry names escape the root ("..") or exceed the limits is refused, and
 * the tree is then unusable (apply the layers again to a new one).
 *
 * Ownership: entries belong to the tree; cl_fs_free releases everything.
 */
#ifndef CL_IMAGE_FS_H
#define CL_IMAGE_FS_H

#include "buf.h"
#include "error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CL_FS_PATH_MAX 4096
#define CL_FS_SYMLINK_HOPS 40

typedef enum { CL_FS_FILE, CL_FS_DIR, CL_FS_SYMLINK, CL_FS_OTHER } cl_fs_type;

typedef struct cl_fs_entry {
    char *path;
    cl_fs_type type;
    uint32_t mode;        /* permission bits */
    uint64_t size;        /* regular files */
    uint8_t sha256[32];   /* regular files */
    char *target;         /* symlinks, as stored */
    unsigned layer;       /* the layer that last wrote it, from 0 */
} cl_fs_entry;

typedef struct cl_fs_limits {
    size_t max_entries;   /* live and replaced entries together */
    uint64_t max_bytes;   /* uncompressed file bytes over all layers */
} cl_fs_limits;

typedef struct cl_fs_tree cl_fs_tree;

/* limits may be NULL: 1,000,000 entries and 64 GiB. */
cl_fs_tree *cl_fs_new(const cl_fs_limits *limits);
void cl_fs_free(cl_fs_tree *t);

/* A layer's bytes, pulled: set *buf and return how many (0 at the end,
 * negative on failure, which fails the apply). */
typedef ssize_t (*cl_fs_read_fn)(void *ctx, const void **buf);

/* Apply the next layer.  CL_EINVALID for a malformed or hostile layer,
 * CL_ETOOBIG past the limits, CL_ERROR if read failed. */
int cl_fs_apply(cl_fs_tree *t, cl_fs_read_fn read, void *ctx, cl_error *err);
int cl_fs_apply_memory(cl_fs_tree *t, const void *data, size_t len, cl_error *err);

/* Read one layer for the regular file at path (normalised, absolute) and
 * put its bytes in out (bounded by out's max: CL_ETOOBIG past it);
 * CL_ENOTFOUND when the layer has no such file.  For the few files whose
 * bytes, not just their hash, a conversion needs (libpal.so). */
int cl_fs_extract(cl_fs_read_fn read, void *ctx, const char *path, cl_buf *out, cl_error *err);

/* What one layer does to the regular file at path, as the layers above
 * the one it came from are read, top down, to find a file in the final
 * tree: it ADDS it (its bytes, bounded as above, in out), HIDES it from
 * the layers below (a whiteout of it or of a directory above it, or an
 * opaque directory above it, and no file of its own), or PASSES. */
typedef enum { CL_FS_PASSES, CL_FS_ADDS, CL_FS_HIDES } cl_fs_verdict;
int cl_fs_layer_file(cl_fs_read_fn read, void *ctx, const char *path, cl_buf *out,
                     cl_fs_verdict *verdict, cl_error *err);

/* The entry at exactly path (no symlinks followed), or NULL. */
const cl_fs_entry *cl_fs_lookup(const cl_fs_tree *t, const char *path);

/* Resolve every symlink in path within the image, as the kernel would with
 * the image as its root ("/.." is "/").  out gets the resolved path, which
 * need not exist.  CL_EINVALID after CL_FS_SYMLINK_HOPS links. */
int cl_fs_resolve(const cl_fs_tree *t, const char *path, char out[CL_FS_PATH_MAX],
                  cl_error *err);

/* The live entries sorted by path; valid until the next apply or free. */
const cl_fs_entry *const *cl_fs_entries(cl_fs_tree *t, size_t *n);

/* Whether path is one of prefixes (NULL-terminated, "/var") or under it. */
bool cl_fs_excluded(const char *path, const char *const *prefixes);

#endif
