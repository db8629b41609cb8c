/*
 * fuzz_oci_manifest.c - manifests and indexes as a registry serves them
 * (lib/oci_image.c): the body read as cl_oci_image_fetch reads it, then
 * the linux/amd64 entry chosen from an index (OCI or Docker list), or the
 * config digest taken from a manifest.  The first line of the input is the
 * Content-Type the registry sent, the rest the body.
 */
#include "error.h"
#include "fuzz.h"
#include "oci.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[2], *copy, media[256];
    json_t *doc = NULL;
    cl_error err = { 0 };

    if (size > 4 * 1024 * 1024 + 256)
        return 0;
    fuzz_fields(data, size, f, 2, &copy);
    if (f[1] != NULL &&
        cl_oci_manifest_parse(&doc, media, f[1], size - (size_t)(f[1] - copy), f[0], &err) == 0) {
        if (cl_oci_manifest_is_index(media, doc)) {
            const char *pick = cl_oci_index_pick(doc);
            if (pick != NULL && strlen(pick) > 1000000)
                abort();
        } else {
            const char *cfg = cl_oci_manifest_config(doc);
            if (cfg != NULL && strlen(cfg) != 71)
                abort();
        }
        json_decref(doc);
    }
    cl_error_clear(&err);
    free(copy);
    return 0;
}
