/*
 * sgx_sdk.c - applications built with the Intel SGX SDK, registered: an
 * untrusted host program that loads its signed enclave
 * (sgx_create_enclave, usually by a path relative to its working
 * directory).  The SIGSTRUCT is read from the signed enclave's metadata
 * (lib/sgx/sdk_enclave.c) or given as the .sig.
 *
 * runtime_config, all optional:
 *
 *   command       the host program and its arguments (else the image's)
 *   working_dir   where the host program resolves the enclave's path
 *   enclave       where the signed enclave sits in the image, for the deploy
 *                 job to check that it carries the registered SIGSTRUCT
 *   quoting       "aesmd" (default): quotes from the node's aesmd, the
 *                 out-of-process quoting enclave AKS's quote helper runs,
 *                 which the SDK's quote library uses when SGX_AESM_ADDR
 *                 is set, through /var/run/aesmd; "none" for an enclave
 *                 that does not attest
 *
 * CLOISTER_APP_ID is set for an enclave that attests to Cloister itself,
 * through the agent at CLOISTER_NODE_IP:9092.  The EPC is what registration
 * says (--enclave-size; the signed enclave's metadata gives an upper bound,
 * its size rounded up to a power of two).
 */
#include "runtime.h"

#include <stdio.h>
#include <string.h>

static const char *const quoting[] = { "aesmd", "none", NULL };

static long long check(const json_t *config, const cl_runtime_build *b, cl_error *err)
{
    static const char *const keys[] = { "command", "working_dir", "quoting", "enclave", NULL };
    (void)b;

    if (config == NULL)
        return 0;
    cl_runtime_only(config, keys, err);
    cl_runtime_argv(config, "command", 0, 0, err);
    cl_runtime_path(config, "working_dir", 0, err);
    cl_runtime_path(config, "enclave", 0, err);
    cl_runtime_choice(config, "quoting", quoting, err);
    return 0;
}

static void shape(cl_runtime_pod *p)
{
    const json_t *command = json_object_get(p->config, "command");
    const json_t *dir = json_object_get(p->config, "working_dir");
    const char *q = json_string_value(json_object_get(p->config, "quoting"));

    if (command != NULL)
        cl_runtime_command(p, command, NULL);
    if (dir != NULL)
        json_object_set(p->container, "workingDir", (json_t *)dir);
    cl_runtime_env(p, "CLOISTER_APP_ID", p->app_id);
    if (q == NULL || strcmp(q, "aesmd") == 0)          /* checked at registration */
        cl_runtime_aesmd(p, 1);
}

static cl_runtime_evidence signed_file(const json_t *config, char *path, size_t size)
{
    const char *enclave = json_string_value(json_object_get(config, "enclave"));

    if (enclave == NULL || (size_t)snprintf(path, size, "%s", enclave) >= size)
        return CL_RUNTIME_UNSEEN;
    return CL_RUNTIME_SDK_ENCLAVE;
}

const cl_runtime cl_runtime_sgx_sdk = {
    .name = "sgx-sdk", .converted = 0,
    .what = "Intel SGX SDK: registered with the signed enclave's SIGSTRUCT",
    .check = check, .shape = shape, .signed_file = signed_file,
};
