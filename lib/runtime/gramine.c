/*
 * gramine.c - Gramine 1.9, the runtime Cloister converts to
 * (workers/convert/ writes the manifest, measures and signs; see
 * docs/enclaves.md).  A Gramine build may also be registered from outside
 * with its .sig.
 *
 * Its image starts itself: the converter's image config runs gramine-sgx
 * with the manifest, and a Gramine build signed elsewhere is expected to
 * do the same, so the container keeps the image's entrypoint and takes
 * no runtime_config.  Gramine asks the node's aesmd for its quotes, over
 * the socket in /var/run/aesmd (AKS's quote helper), so an app that
 * attests gets that directory.
 */
#include "runtime.h"

static long long check(const json_t *config, const cl_runtime_build *b, cl_error *err)
{
    (void)b;
    if (config != NULL && (!json_is_object(config) || json_object_size(config) > 0))
        cl_error_field(err, "runtime_config", "Gramine takes none: its image starts "
                       "gramine-sgx with the manifest the enclave was signed with");
    return 0;
}

static void shape(cl_runtime_pod *p)
{
    if (p->attested)
        cl_runtime_aesmd(p, 0);
}

const cl_runtime cl_runtime_gramine = {
    .name = "gramine", .converted = 1,
    .what = "Gramine 1.9: converted from the app's image, or registered",
    .check = check, .shape = shape,
};
