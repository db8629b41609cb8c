/*
 * fuzz_sigstruct.c - SIGSTRUCTs uploaded for offline-signed builds and read
 * from images (lib/sgx/sigstruct.c: headers, exponent, RSA signature
 * against its own modulus, Q1 and Q2).  The input is the 1808 bytes, shorter
 * inputs padded with zeros, longer ones cut, as a caller that checked the
 * size would hand them over.
 */
#include "error.h"
#include "sgx/sigstruct.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t s[CL_SIGSTRUCT_SIZE] = { 0 }, mrsigner[32];
    cl_sigstruct_fields fields;
    cl_error err = { 0 };

    memcpy(s, data, size < sizeof(s) ? size : sizeof(s));
    (void)cl_sigstruct_verify(s, &fields, mrsigner, &err);
    cl_error_clear(&err);
    return 0;
}
