/*
 * fuzz_yaml.c - YAML read as JSON (lib/yaml_json.c): kubeconfigs and the
 * manifests people upload, with the depth bound kubeconfig.c uses.
 */
#include "error.h"
#include "yaml_json.h"

#include <stdint.h>

#define YAML_MAX (256u * 1024)     /* CL_KUBECONFIG_MAX */
#define DEPTH_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_error err = { 0 };
    json_t *doc = NULL;

    if (size > YAML_MAX)
        return 0;
    if (cl_yaml_to_json((const char *)data, size, DEPTH_MAX, &doc, &err) == 0)
        json_decref(doc);
    cl_error_clear(&err);
    return 0;
}
