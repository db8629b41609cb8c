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

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int cl_unhex(unsigned char *out, size_t len, const char *hex)
{
    for (size_t i = 0; i < len; i++) {
        int hi, lo;

        if (hex[2 * i] == '\0' || hex[2 * i + 1] == '\0' ||
            (hi = hexval(hex[2 * i])) < 0 || (lo = hexval(hex[2 * i + 1])) < 0)
            return CL_EINVALID;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int cl_sha256_hex(char out[CL_SHA256_HEX_LEN + 1], const void *data, size_t len)
{
    unsigned char md[CL_SHA256_LEN];

    if (cl_sha256(md, data, len) < 0)
        return CL_ERROR;
    cl_hex(out, md, sizeof(md));
    return 0;
}
