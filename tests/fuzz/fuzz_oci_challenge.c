/*
 * fuzz_oci_challenge.c - what a registry sends that is not a manifest:
 * WWW-Authenticate challenges (lib/oci.c) and the image references people
 * type (lib/oci_ref.c).  The first line of the input is a challenge, the
 * second a reference.
 */
#include "error.h"
#include "fuzz.h"
#include "oci.h"
#include "oci_ref.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[2], *copy, scheme[16];
    json_t *params = NULL;
    cl_oci_ref ref;
    cl_error err = { 0 };

    if (size > 16384)
        return 0;
    fuzz_fields(data, size, f, 2, &copy);
    if (cl_oci_parse_challenge(f[0], scheme, &params) == 0)
        json_decref(params);
    if (f[1] != NULL)
        (void)cl_oci_ref_parse(&ref, f[1], &err);
    cl_error_clear(&err);
    free(copy);
    return 0;
}
