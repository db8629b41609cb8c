/*
 * oci_layer.h - writing an image layer that is the same bytes every time.
 *
 * The files (and the directories above them) go into a POSIX tar sorted by
 * path, with mtime 0, owner root:root and no user or group names, and the
 * tar into gzip with no name and mtime 0 (zlib), so equal inputs give an
 * equal digest on any machine and any day: what a reproducible conversion
 * needs for the layers it adds.
 */
#ifndef CL_OCI_LAYER_H
#define CL_OCI_LAYER_H

#include "buf.h"
#include "error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cl_layer_file {
    const char *path;       /* absolute: "/gramine/app/argv" */
    const void *data;
    size_t len;
    uint32_t mode;          /* permission bits: 0644, 0755 */
} cl_layer_file;

typedef struct cl_layer {
    cl_buf blob;            /* the gzip'd tar, as pushed */
    char digest[72];        /* "sha256:..." of blob */
    char diff_id[72];       /* "sha256:..." of the uncompressed tar */
} cl_layer;

/* Build the layer; CL_EINVALID for a path that is not absolute, has ".."
 * or repeats.  layer->blob must have been initialised with its bound
 * (CL_ETOOBIG past it); cl_buf_free releases it. */
int cl_oci_layer_build(const cl_layer_file *files, size_t n, cl_layer *layer, cl_error *err);

#endif
