/*
 * carried.c - before a registered build is deployed, the image it was
 * registered with is read from its registry to see that it carries the
 * enclave: the file the build's runtime keeps the SIGSTRUCT in (an EDP
 * .sig beside its .sgxs, Occlum's signed libOS, an SDK signed enclave;
 * lib/runtime/) must hold the very SIGSTRUCT that was registered and
 * approved.  Only that file is read, from the top layer down
 * (lib/oci_file.c).
 *
 * A converted build needs no such check (the worker pushed the image
 * itself), nor can a runtime that does not say where its enclave is kept
 * (SCONE, Gramine signed elsewhere), which the job's log says.
 */
#include "deploy.h"
#include "digest.h"
#include "oci_blob.h"
#include "oci_ref.h"
#include "sgx/sdk_enclave.h"

#include <stdio.h>
#include <string.h>

#define ENCLAVE_FILE_MAX (512u << 20)

/* What file holds, read as its kind says, is the SIGSTRUCT sig; else why not. */
static int holds(cl_runtime_evidence kind, const cl_buf *file, const char *path,
                 const uint8_t sig[CL_SIGSTRUCT_SIZE], cl_error *err)
{
    const uint8_t *found = (const uint8_t *)file->data;
    cl_sgx_sdk_metadata md;
    char mine[65], theirs[65];

    if (kind == CL_RUNTIME_SDK_ENCLAVE) {
        if (cl_sgx_sdk_metadata_read(found, file->len, &md, err) < 0)
            return cl_error_prefix(err, "the image's \"%s\" is not an SGX SDK signed enclave: ",
                                   path);
        found = md.sigstruct;
    } else if (file->len != CL_SIGSTRUCT_SIZE) {
        return cl_error_set(err, CL_EINVALID, "the image's \"%s\" is %zu bytes, not a %d-byte "
                            "SIGSTRUCT", path, file->len, CL_SIGSTRUCT_SIZE);
    }
    if (memcmp(found, sig, CL_SIGSTRUCT_SIZE) == 0)
        return 0;
    cl_hex(mine, sig + 960, 32);                        /* ENCLAVEHASH */
    cl_hex(theirs, found + 960, 32);
    return cl_error_set(err, CL_EINVALID, "the image's \"%s\" holds another SIGSTRUCT than "
                        "the one registered: MRENCLAVE %s, not %s", path, theirs, mine);
}

int cl_deploy_check_image(cl_job *j, const cl_runtime *runtime, const json_t *config,
                          const char *image, const uint8_t sig[CL_SIGSTRUCT_SIZE],
                          cl_error *err)
{
    char path[1100], host[256];
    cl_runtime_evidence kind = runtime->signed_file
        ? runtime->signed_file(config, path, sizeof(path)) : CL_RUNTIME_UNSEEN;
    cl_oci_client client;
    cl_oci_image img = { 0 };
    cl_oci_ref ref;
    cl_buf file;
    int rc;

    if (kind == CL_RUNTIME_UNSEEN) {
        cl_job_log(j, "the %s runtime does not say where its image keeps the enclave: the "
                   "image is not checked for it", runtime->name);
        return 0;
    }
    if (cl_oci_ref_parse(&ref, image, err) < 0)
        return err->code;
    if ((rc = cl_job_registry(j, NULL, ref.registry, &client, host, err)) < 0)
        return rc;
    cl_job_log(j, "checking that %s carries the registered enclave in %s", image, path);
    cl_buf_init(&file, kind == CL_RUNTIME_SIGSTRUCT ? CL_SIGSTRUCT_SIZE : ENCLAVE_FILE_MAX);
    if ((rc = cl_oci_image_fetch(&client, image, &img, err)) < 0)
        cl_error_prefix(err, "the build's image: ");
    else if ((rc = cl_oci_image_file(&client, &img, path, &file, err)) == CL_ENOTFOUND ||
             rc == CL_ETOOBIG)
        cl_error_prefix(err, "the image does not carry the registered enclave: ");
    else if (rc == 0)
        rc = holds(kind, &file, path, sig, err);
    cl_buf_free(&file);
    cl_oci_image_free(&img);
    cl_oci_client_free(&client);
    return rc;
}
