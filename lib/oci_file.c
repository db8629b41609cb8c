/*
 * oci_file.c - one file of an image in a registry, as the image's final
 * tree has it, without pulling the whole image: the layers are read from
 * the top down, each streamed and its digest checked, until one adds the
 * file or hides it (a whiteout, an opaque directory).  For checking that
 * an image carries the enclave a build was registered with.
 */
#include "oci_blob.h"
#include "image_fs.h"

#include <stdio.h>
#include <string.h>

int cl_oci_image_file(cl_oci_client *c, const cl_oci_image *img, const char *path,
                      cl_buf *out, cl_error *err)
{
    json_t *layers = json_object_get(img->manifest, "layers");

    for (size_t i = json_array_size(layers); i-- > 0;) {
        json_t *layer = json_array_get(layers, i), *size = json_object_get(layer, "size");
        const char *digest = json_string_value(json_object_get(layer, "digest"));
        cl_fs_verdict verdict = CL_FS_PASSES;
        cl_oci_blob *blob;
        cl_error closing = { 0 };
        int rc;

        if (digest == NULL || !json_is_integer(size) || json_integer_value(size) < 0)
            return cl_error_set(err, CL_EINVALID, "layer %zu has no digest or size", i);
        if ((rc = cl_oci_blob_open(c, img->repository, digest,
                                   (uint64_t)json_integer_value(size), &blob, err)) < 0)
            return cl_error_prefix(err, "layer %zu: ", i);
        rc = cl_fs_layer_file(cl_oci_blob_read, blob, path, out, &verdict, err);
        int closed = cl_oci_blob_close(blob, &closing);     /* the digest's verdict */
        if (closed < 0)
            rc = cl_error_set(err, closed, "%s", closing.message);
        cl_error_clear(&closing);
        if (rc < 0)
            return cl_error_prefix(err, "layer %zu: ", i);
        if (verdict == CL_FS_ADDS)
            return 0;
        if (verdict == CL_FS_HIDES)
            return cl_error_set(err, CL_ENOTFOUND, "the image has no \"%s\": layer %zu "
                                "deletes it", path, i);
    }
    return cl_error_set(err, CL_ENOTFOUND, "the image has no \"%s\"", path);
}
