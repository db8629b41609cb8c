/*
 * fuzz_sgxs.c - SGXS measurement streams, as Fortanix EDP's
 * ftxsgx-elf2sgxs writes them and registered builds bring them
 * (lib/sgx/measure.c, cl_sgx_measure_sgxs): ECREATE, EADD and EEXTEND
 * records, each checked against the enclave it builds.
 */
#include "error.h"
#include "sgx/measure.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t mrenclave[32];
    cl_error err = { 0 };

    (void)cl_sgx_measure_sgxs(data, size, mrenclave, NULL, NULL, &err);
    cl_error_clear(&err);
    return 0;
}
