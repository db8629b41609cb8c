/*
 * push.c - writing the converted image to the app's output repository.
 *
 * The input's and the runtime's layers go over unchanged and cost nothing
 * when they can: a blob the target holds is skipped, one in another
 * repository of the same registry is mounted; only across registries are
 * the bytes copied, streamed from one to the other (and their digest
 * checked on the way) without landing on disk.
 */
#include "convert.h"
#include "oci_ref.h"

#include <stdio.h>
#include <string.h>

int cv_target_open(cl_job *j, const char *reference, cv_target *t, cl_error *err)
{
    cl_oci_ref ref;
    int rc;

    memset(t, 0, sizeof(*t));
    if (cl_oci_ref_parse(&ref, reference, err) < 0 || ref.digest[0] != '\0')
        return cl_error_set(err, CL_EINVALID, "the output image \"%s\" must be a repository "
                            "with an optional tag", reference);
    if ((rc = cl_job_registry(j, NULL, ref.registry, &t->client, t->host, err)) < 0)
        return rc;
    snprintf(t->repository, sizeof(t->repository), "%s", ref.repository);
    snprintf(t->tag, sizeof(t->tag), "%s", ref.tag[0] ? ref.tag : "latest");
    return 0;
}

void cv_target_close(cv_target *t)
{
    cl_oci_client_free(&t->client);
}

int cv_push_from(cl_job *j, cv_target *t, cv_source *s, json_t *descriptor, cl_error *err)
{
    const char *digest = json_string_value(json_object_get(descriptor, "digest"));
    uint64_t size = (uint64_t)json_integer_value(json_object_get(descriptor, "size"));
    cl_oci_blob *blob;
    int exists, mounted, rc;

    if ((rc = cl_oci_blob_exists(&t->client, t->repository, digest, &exists, err)) < 0)
        return rc;
    if (exists)
        return 0;
    if (strcmp(s->host, t->host) == 0) {
        if ((rc = cl_oci_blob_mount(&t->client, t->repository, digest, s->image.repository,
                                    &mounted, err)) < 0)
            return rc;
        if (mounted) {
            cl_job_log(j, "mounted %s from %s", digest, s->image.repository);
            return 0;
        }
    }
    cl_job_log(j, "copying %s (%llu bytes) from %s/%s", digest, (unsigned long long)size,
               s->host, s->image.repository);
    if ((rc = cl_oci_blob_open(&s->client, s->image.repository, digest, size, &blob, err)) < 0)
        return rc;
    rc = cl_oci_blob_push(&t->client, t->repository, digest, size, cl_oci_blob_read, blob, err);
    return cv_blob_finish(blob, rc, err);
}

int cv_push_memory(cv_target *t, const char *digest, const void *data, size_t len,
                   cl_error *err)
{
    int exists, rc;

    if ((rc = cl_oci_blob_exists(&t->client, t->repository, digest, &exists, err)) < 0)
        return rc;
    return exists ? 0 : cl_oci_blob_push_memory(&t->client, t->repository, digest, data, len,
                                                err);
}
