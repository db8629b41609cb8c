/*
 * fuzz_sdk_enclave.c - SGX SDK signed enclaves (Occlum's
 * libocclum-libos.signed.so and the like) as registered builds bring them:
 * the ELF section table, the .note.sgxmeta note and its metadata blocks
 * (lib/sgx/elf64.c, lib/sgx/sdk_enclave.c), then the SIGSTRUCT found.
 */
#include "error.h"
#include "sgx/sdk_enclave.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_sgx_sdk_metadata md;
    cl_error err = { 0 };

    if (cl_sgx_sdk_metadata_read(data, size, &md, &err) == 0)
        (void)cl_sigstruct_verify(md.sigstruct, NULL, NULL, &err);
    cl_error_clear(&err);
    return 0;
}
