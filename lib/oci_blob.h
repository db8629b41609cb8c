/*
 * oci_blob.h - blobs and manifests in and out of a registry, streaming.
 *
 * Reading: a blob is pulled as it arrives (libcurl's multi interface
 * driven from the reader), its SHA-256 and size counted on every byte, so
 * a layer can be applied to an image tree while it downloads and never
 * lands on disk.  cl_oci_blob_close drains what the reader left unread
 * and only then says whether the bytes were the blob the digest names.
 *
 * Writing, as the Distribution spec has it: a blob the target already
 * holds is skipped (HEAD); one in another repository of the same registry
 * is mounted (POST ?mount=&from=); anything else is uploaded, in one PUT
 * when it is small and as PATCH chunks when it is not, each request going
 * to the opaque Location the registry returned for the step before.
 */
#ifndef CL_OCI_BLOB_H
#define CL_OCI_BLOB_H

#include "buf.h"
#include "oci.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct cl_oci_blob cl_oci_blob;

/* Start pulling repo's blob `digest` ("sha256:..."); at most max bytes
 * (CL_EINVALID past them).  CL_ENOTFOUND when the registry has no such
 * blob. */
int cl_oci_blob_open(cl_oci_client *c, const char *repo, const char *digest, uint64_t max,
                     cl_oci_blob **out, cl_error *err);

/* The next bytes: *buf is valid until the next call; 0 at the end, -1 on
 * failure (cl_oci_blob_close tells which).  The shape of cl_fs_read_fn. */
ssize_t cl_oci_blob_read(void *blob, const void **buf);

/* Read to the end and free.  0 when the blob was whole and matched its
 * digest; CL_EINVALID when it did not (or passed max), CL_EUNAVAILABLE
 * when the transfer broke.  NULL is a no-op. */
int cl_oci_blob_close(cl_oci_blob *b, cl_error *err);

/* The regular file at path in img's final tree (bounded by out's max),
 * read from the top layer down, each layer's digest checked;
 * CL_ENOTFOUND, saying so, when no layer adds it or a layer above the one
 * that does deletes it. */
int cl_oci_image_file(cl_oci_client *c, const cl_oci_image *img, const char *path,
                      cl_buf *out, cl_error *err);

/* Bytes read so far. */
uint64_t cl_oci_blob_size(const cl_oci_blob *b);

/* Whether repo holds the blob. */
int cl_oci_blob_exists(cl_oci_client *c, const char *repo, const char *digest, int *exists,
                       cl_error *err);

/* Mount the blob from repository `from` of the same registry; *mounted is
 * 0 when the registry declined (the caller uploads it then). */
int cl_oci_blob_mount(cl_oci_client *c, const char *repo, const char *digest,
                      const char *from, int *mounted, cl_error *err);

/* Upload a blob of `size` bytes pulled from read(ctx, &buf) (a
 * cl_fs_read_fn); one PUT up to c->chunk_size, PATCH chunks of that size
 * above it.  The registry checks the digest; a mismatch is CL_EINVALID. */
int cl_oci_blob_push(cl_oci_client *c, const char *repo, const char *digest, uint64_t size,
                     ssize_t (*read)(void *ctx, const void **buf), void *ctx, cl_error *err);

/* The same from memory. */
int cl_oci_blob_push_memory(cl_oci_client *c, const char *repo, const char *digest,
                            const void *data, size_t len, cl_error *err);

/* PUT a manifest under reference (tag or digest); digest_out gets the
 * registry's Docker-Content-Digest, checked against the bytes'. */
int cl_oci_manifest_put(cl_oci_client *c, const char *repo, const char *reference,
                        const char *media_type, const char *body, size_t len,
                        char digest_out[72], cl_error *err);

#endif
