/*
 * fuzz_maa.c - Microsoft Azure Attestation tokens (lib/sgx/maa.c): the JWT
 * and the instance's JWKS are both read from outside.  The first byte of
 * the input chooses which one the rest of it replaces (even: the token,
 * judged with the real JWKS of tests/data/maa; odd: the JWKS, with the real
 * token), at a time inside the real token's validity.
 */
#include "error.h"
#include "fuzz.h"
#include "sgx/maa.h"

#include <stdint.h>

#define ISSUER "https://sharedwus.wus.attest.azure.net"
#define INSIDE 1645230000           /* between the token's nbf and exp */

static uint8_t *jwks, *token;
static size_t jwks_len, token_len;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_error err = { 0 };
    json_t *verdict = NULL;
    const char *t, *k;
    size_t tlen, klen;

    if (jwks == NULL) {
        jwks = fuzz_data_file("maa/certs.jwks.json", &jwks_len);
        token = fuzz_data_file("maa/simple_attest.token.jwt", &token_len);
    }
    if (size == 0 || size - 1 > CL_MAA_TOKEN_MAX)
        return 0;
    char *rest = fuzz_text(data + 1, size - 1);
    if (data[0] & 1) {
        t = (const char *)token, tlen = token_len;
        k = rest, klen = size - 1;
    } else {
        t = rest, tlen = size - 1;
        k = (const char *)jwks, klen = jwks_len;
    }
    if (cl_maa_verify(t, tlen, k, klen, ISSUER, INSIDE, &verdict, &err) == 0 && verdict == NULL)
        abort();    /* a verdict always describes what was found */
    json_decref(verdict);
    cl_error_clear(&err);
    free(rest);
    return 0;
}
