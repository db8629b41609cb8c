/*
 * fuzz_kubeconfig.c - uploaded kubeconfigs (lib/kubeconfig.c through
 * lib/yaml_json.c), for the current context and for a named one.
 */
#include "error.h"
#include "kubeconfig.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const contexts[] = { NULL, "aks", "lab" };
    cl_error err = { 0 };
    cl_kubeconfig k;

    if (size > CL_KUBECONFIG_MAX)
        return 0;
    for (size_t i = 0; i < sizeof(contexts) / sizeof(contexts[0]); i++) {
        memset(&k, 0, sizeof(k));
        if (cl_kubeconfig_parse(&k, (const char *)data, size, contexts[i], &err) == 0)
            cl_kubeconfig_free(&k);
        cl_error_clear(&err);
    }
    return 0;
}
