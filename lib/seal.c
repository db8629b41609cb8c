/* seal.c - AES-256-GCM through OpenSSL EVP; see seal.h. */
#include "seal.h"
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define NONCE 12
#define TAG 16
#define PREFIX "v1:"

int cl_seal(char **out, const unsigned char key[32], const void *plain, size_t len,
            const char *aad, cl_error *err)
{
    unsigned char *buf = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    int n, rc = CL_ERROR;

    *out = NULL;
    if (len > CL_SEAL_MAX)
        return cl_error_set(err, CL_ETOOBIG, "a secret may be at most %d bytes", CL_SEAL_MAX);
    buf = malloc(NONCE + len + TAG);
    ctx = EVP_CIPHER_CTX_new();
    if (buf == NULL || ctx == NULL || RAND_bytes(buf, NONCE) != 1 ||
        EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(ctx, buf + NONCE, &n, plain, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, buf + NONCE + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, buf + NONCE + len) != 1)
        goto done;
    *out = malloc(sizeof(PREFIX) + ((NONCE + len + TAG + 2) / 3) * 4 + 1);
    if (*out == NULL)
        goto done;
    memcpy(*out, PREFIX, sizeof(PREFIX) - 1);
    cl_b64_encode(*out + sizeof(PREFIX) - 1, buf, NONCE + len + TAG);
    rc = 0;
done:
    if (buf != NULL)
        OPENSSL_cleanse(buf, NONCE + len + TAG);
    free(buf);
    EVP_CIPHER_CTX_free(ctx);
    return rc == 0 ? 0 : cl_error_set(err, CL_ERROR, "could not seal the secret");
}

int cl_unseal(char **out, size_t *len, const unsigned char key[32], const char *sealed,
              const char *aad, cl_error *err)
{
    size_t raw_len, cap;
    unsigned char *raw = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    int n, ok = 0;

    *out = NULL;
    *len = 0;
    if (strncmp(sealed, PREFIX, sizeof(PREFIX) - 1) != 0)
        return cl_error_set(err, CL_EINVALID, "not a sealed value");
    sealed += sizeof(PREFIX) - 1;
    cap = strlen(sealed) / 4 * 3 + 3;
    if (cap > CL_SEAL_MAX + NONCE + TAG + 3 || (raw = malloc(cap)) == NULL)
        return cl_error_set(err, CL_EINVALID, "the sealed value is too large");
    if (cl_b64_decode(raw, cap, &raw_len, sealed) < 0 || raw_len < NONCE + TAG) {
        free(raw);
        return cl_error_set(err, CL_EINVALID, "the sealed value is malformed");
    }
    size_t clen = raw_len - NONCE - TAG;
    *out = malloc(clen + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (*out != NULL && ctx != NULL &&
        EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) == 1 &&
        EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
        EVP_DecryptUpdate(ctx, (unsigned char *)*out, &n, raw + NONCE, (int)clen) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, raw + NONCE + clen) == 1 &&
        EVP_DecryptFinal_ex(ctx, (unsigned char *)*out + n, &n) == 1)
        ok = 1;
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(raw, raw_len);
    free(raw);
    if (!ok) {
        if (*out != NULL)
            OPENSSL_cleanse(*out, clen);
        free(*out);
        *out = NULL;
        return cl_error_set(err, CL_EINVALID, "the sealed value does not open with this key "
                            "(another key-encryption key, another owner, or altered)");
    }
    (*out)[clen] = '\0';
    *len = clen;
    return 0;
}
