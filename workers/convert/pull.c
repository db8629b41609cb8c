/*
 * pull.c - reading the images a conversion starts from.
 *
 * Layers stream from the registry straight into the image tree (nothing is
 * written to disk), each one's digest checked as its last byte arrives.  A
 * layer whose bytes do not match fails the job, whatever libarchive made of
 * them.
 */
#include "convert.h"
#include "digest.h"
#include "oci_ref.h"

#include <stdio.h>
#include <string.h>

/* The layer types a conversion reads, and what the output calls them. */
static const struct {
    const char *in, *out;
} layer_types[] = {
    { "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar" },
    { "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+gzip" },
    { "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.v1.tar+zstd" },
    { "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.oci.image.layer.v1.tar+gzip" },
};

const char *cv_layer_media_type(const char *media_type)
{
    for (size_t i = 0; media_type != NULL && i < sizeof(layer_types) / sizeof(layer_types[0]);
         i++)
        if (strcmp(media_type, layer_types[i].in) == 0)
            return layer_types[i].out;
    return NULL;
}

int cv_source_open(cl_job *j, const char *role, const char *reference, cv_source *s,
                   cl_error *err)
{
    cl_oci_ref ref;
    json_t *layer;
    size_t i;
    int rc;

    memset(s, 0, sizeof(*s));
    s->role = role;
    if (cl_oci_ref_parse(&ref, reference, err) < 0)
        return cl_error_set(err, CL_EINVALID, "the %s reference \"%s\" is malformed", role,
                            reference);
    if ((rc = cl_job_registry(j, NULL, ref.registry, &s->client, s->host, err)) < 0)
        return rc;
    cl_job_log(j, "reading the %s %s", role, reference);
    if ((rc = cl_oci_image_fetch(&s->client, reference, &s->image, err)) < 0) {
        cv_source_close(s);
        return cl_error_prefix(err, "the %s: ", role);
    }
    s->layers = json_object_get(s->image.manifest, "layers");
    json_array_foreach(s->layers, i, layer) {
        const char *type = json_string_value(json_object_get(layer, "mediaType"));
        const char *digest = json_string_value(json_object_get(layer, "digest"));
        json_t *size = json_object_get(layer, "size");

        if (cv_layer_media_type(type) == NULL) {
            rc = cl_error_set(err, CL_EINVALID, "layer %zu of the %s has media type \"%.200s\", "
                              "which is not a tar layer Cloister can read", i, role,
                              type ? type : "(none)");
            break;
        }
        if (digest == NULL || strlen(digest) != 71 || strncmp(digest, "sha256:", 7) != 0 ||
            !json_is_integer(size) || json_integer_value(size) < 0) {
            rc = cl_error_set(err, CL_EINVALID, "layer %zu of the %s has no sha256 digest or "
                              "size", i, role);
            break;
        }
    }
    if (rc < 0)
        cv_source_close(s);
    return rc;
}

void cv_source_close(cv_source *s)
{
    cl_oci_image_free(&s->image);
    cl_oci_client_free(&s->client);
}

static json_t *layer_at(cv_source *s, size_t index, const char **digest, uint64_t *size)
{
    json_t *layer = json_array_get(s->layers, index);

    *digest = json_string_value(json_object_get(layer, "digest"));
    *size = (uint64_t)json_integer_value(json_object_get(layer, "size"));
    return layer;
}

int cv_blob_finish(cl_oci_blob *blob, int rc, cl_error *err)
{
    cl_error closing = { 0 };
    int closed = cl_oci_blob_close(blob, &closing);

    if (closed < 0)
        rc = cl_error_set(err, closed, "%s", closing.message);
    cl_error_clear(&closing);
    return rc;
}

int cv_source_apply(cl_job *j, cv_source *s, cl_fs_tree *tree, int from, int to,
                    cl_error *err)
{
    size_t n = json_array_size(s->layers);

    for (size_t i = 0; i < n; i++) {
        const char *digest;
        uint64_t size;
        cl_oci_blob *blob;
        int rc;

        layer_at(s, i, &digest, &size);
        cl_job_log(j, "applying layer %zu of the %s: %s (%llu bytes)", i, s->role, digest,
                   (unsigned long long)size);
        if ((rc = cl_oci_blob_open(&s->client, s->image.repository, digest, size, &blob,
                                   err)) < 0)
            return rc;
        rc = cl_fs_apply(tree, cl_oci_blob_read, blob, err);
        if ((rc = cv_blob_finish(blob, rc, err)) < 0)
            return cl_error_prefix(err, "layer %zu of the %s: ", i, s->role);
        cl_job_progress(j, from + (int)((to - from) * (long)(i + 1) / (long)n));
    }
    return 0;
}

int cv_source_extract(cv_source *s, size_t index, const char *path, cl_buf *out,
                      cl_error *err)
{
    const char *digest;
    uint64_t size;
    cl_oci_blob *blob;
    int rc;

    if (layer_at(s, index, &digest, &size) == NULL)
        return cl_error_set(err, CL_ERROR, "the %s has no layer %zu", s->role, index);
    if ((rc = cl_oci_blob_open(&s->client, s->image.repository, digest, size, &blob, err)) < 0)
        return rc;
    rc = cl_fs_extract(cl_oci_blob_read, blob, path, out, err);
    return cv_blob_finish(blob, rc, err);
}
