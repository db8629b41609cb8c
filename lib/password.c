/* password.c - scrypt password hashes; see password.h for the format. */
#include "password.h"
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 16
#define HASH_LEN 32
#define LOG_N 14
#define BLOCK_R 8
#define PARALLEL_P 5
#define MAX_MEM (256ULL * 1024 * 1024)

static int derive(unsigned char *out, const char *password, const unsigned char *salt,
                  size_t salt_len, int log_n, int r, int p)
{
    return EVP_PBE_scrypt(password, strlen(password), salt, salt_len,
                          1ULL << log_n, (uint64_t)r, (uint64_t)p, MAX_MEM,
                          out, HASH_LEN) == 1 ? 0 : CL_ERROR;
}

int cl_password_hash(char out[CL_PASSWORD_HASH_MAX], const char *password)
{
    unsigned char salt[SALT_LEN], hash[HASH_LEN];
    char salt64[CL_B64URL_SIZE(SALT_LEN) + 4], hash64[CL_B64URL_SIZE(HASH_LEN) + 4];

    if (RAND_bytes(salt, sizeof(salt)) != 1 ||
        derive(hash, password, salt, sizeof(salt), LOG_N, BLOCK_R, PARALLEL_P) < 0)
        return CL_ERROR;
    cl_b64_encode(salt64, salt, sizeof(salt));
    cl_b64_encode(hash64, hash, sizeof(hash));
    snprintf(out, CL_PASSWORD_HASH_MAX, "$scrypt$ln=%d,r=%d,p=%d$%s$%s",
             LOG_N, BLOCK_R, PARALLEL_P, salt64, hash64);
    OPENSSL_cleanse(hash, sizeof(hash));
    return 0;
}

int cl_password_verify(const char *stored, const char *password)
{
    unsigned char salt[64], want[64], got[HASH_LEN];
    char salt64[96], hash64[96];
    size_t salt_len, want_len;
    int log_n, r, p, end = 0, rc;

    if (sscanf(stored, "$scrypt$ln=%d,r=%d,p=%d$%95[^$]$%95[^$]%n",
               &log_n, &r, &p, salt64, hash64, &end) != 5 || stored[end] != '\0' ||
        log_n < 10 || log_n > 20 || r < 1 || r > 32 || p < 1 || p > 16 ||
        cl_b64_decode(salt, sizeof(salt), &salt_len, salt64) < 0 ||
        cl_b64_decode(want, sizeof(want), &want_len, hash64) < 0 || want_len != HASH_LEN)
        return CL_ERROR;
    if (derive(got, password, salt, salt_len, log_n, r, p) < 0)
        return CL_ERROR;
    rc = CRYPTO_memcmp(got, want, HASH_LEN) == 0 ? 0 : CL_EUNAUTHORIZED;
    OPENSSL_cleanse(got, sizeof(got));
    return rc;
}

int cl_password_generate(char out[32])
{
    /* 18 random bytes: 24 base64url characters, 144 bits */
    return cl_token_new(out, 18);
}
