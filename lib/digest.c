/* digest.c - see digest.h. */
#include "digest.h"
#include "error.h"

#include <openssl/evp.h>

int cl_sha256(unsigned char out[CL_SHA256_LEN], const void *data, size_t len)
{
    return EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) == 1 ? 0 : CL_ERROR;
}

void cl_hex(char *out, const unsigned char *bytes, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

int cl_sha256_hex(char out[CL_SHA256_HEX_LEN + 1], const void *data, size_t len)
{
    unsigned char md[CL_SHA256_LEN];

    if (cl_sha256(md, data, len) < 0)
        return CL_ERROR;
    cl_hex(out, md, sizeof(md));
    return 0;
}
