/* token.c - see token.h. */
#include "token.h"
#include "error.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

void cl_b64_encode(char *out, const unsigned char *in, size_t len)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

void cl_b64url_encode(char *out, const unsigned char *in, size_t len)
{
    size_t n;

    cl_b64_encode(out, in, len);
    n = strlen(out);
    while (n > 0 && out[n - 1] == '=')
        out[--n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
}

int cl_b64_decode(unsigned char *out, size_t out_size, size_t *out_len, const char *in)
{
    size_t len = strlen(in), pad = 0;
    int n;

    if (len == 0 || len % 4 != 0 || len / 4 * 3 > out_size)
        return CL_EINVALID;
    if (in[len - 1] == '=')
        pad++;
    if (in[len - 2] == '=')
        pad++;
    n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n < pad)
        return CL_EINVALID;
    *out_len = (size_t)n - pad;
    return 0;
}

int cl_b64url_decode(unsigned char *out, size_t out_size, size_t *out_len, const char *in,
                     size_t len)
{
    char *std = malloc(len + 4);
    size_t n = 0;
    int rc;

    if (std == NULL)
        return CL_ERROR;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];

        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (c == '+' || c == '/' || c == '=' || c == '\0') {
            free(std);
            return CL_EINVALID;
        }
        std[n++] = c;
    }
    while (n % 4 != 0)
        std[n++] = '=';
    std[n] = '\0';
    rc = n == 0 ? CL_EINVALID : cl_b64_decode(out, out_size, out_len, std);
    free(std);
    return rc;
}

int cl_token_new(char *out, size_t nbytes)
{
    unsigned char buf[64];

    if (nbytes > sizeof(buf) || RAND_bytes(buf, (int)nbytes) != 1)
        return CL_ERROR;
    cl_b64url_encode(out, buf, nbytes);
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

int cl_token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* ---- ids ------------------------------------------------------------- */

int cl_uuid_valid(const char *text)
{
    if (text == NULL || strlen(text) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)text[i])) {
            return 0;
        }
    }
    return 1;
}

int cl_uuid_new(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    int j = 0;

    if (RAND_bytes(b, sizeof(b)) != 1)
        return CL_ERROR;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    out[j] = '\0';
    return 0;
}
