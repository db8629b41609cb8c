/* sigstruct.c - SIGSTRUCT; see sigstruct.h for the layout. */
#include "sigstruct.h"
#include "sgx/le.h"
#include "digest.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#define KEY_BYTES 384

static const uint8_t header[16] = { 0x06, 0, 0, 0, 0xE1, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0, 0 };
static const uint8_t header2[16] = { 0x01, 0x01, 0, 0, 0x60, 0, 0, 0, 0x60, 0, 0, 0,
                                     0x01, 0, 0, 0 };

static int bcd(int v)
{
    return (v / 10 % 10) << 4 | (v % 10);
}

/* A big number as 384 little-endian bytes. */
static int to_le(uint8_t out[KEY_BYTES], const BIGNUM *n)
{
    return BN_bn2lebinpad(n, out, KEY_BYTES) == KEY_BYTES ? 0 : -1;
}

/* The SHA-256 of the signed parts: [0, 128) and [900, 1028). */
static void signed_digest(const uint8_t *s, uint8_t digest[32])
{
    uint8_t data[CL_SIGSTRUCT_SIGNED_SIZE];

    cl_sigstruct_signed_bytes(s, data);
    cl_sha256(digest, data, sizeof(data));
}

/* Q1 and Q2 of signature s (big number) for modulus n. */
static int quotients(uint8_t *out, const BIGNUM *s, const BIGNUM *n)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *sq = BN_new(), *q1 = BN_new(), *rem = BN_new(), *t = BN_new(), *q2 = BN_new();
    int rc = -1;

    if (ctx && sq && q1 && rem && t && q2 && BN_sqr(sq, s, ctx) &&
        BN_div(q1, rem, sq, n, ctx) && BN_mul(t, s, rem, ctx) && BN_div(q2, NULL, t, n, ctx) &&
        to_le(out + 1040, q1) == 0 && to_le(out + 1424, q2) == 0)
        rc = 0;
    BN_free(sq);
    BN_free(q1);
    BN_free(rem);
    BN_free(t);
    BN_free(q2);
    BN_CTX_free(ctx);
    return rc;
}

/* *n = the modulus of key, if the CPU accepts the key: RSA-3072, e = 3. */
static int signing_modulus(EVP_PKEY *key, BIGNUM **n, cl_error *err)
{
    BIGNUM *e = NULL;
    int ok = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) == 3072 &&
             EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, n) &&
             EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) && BN_is_word(e, 3);

    BN_free(e);
    if (ok)
        return 0;
    BN_free(*n);
    *n = NULL;
    return cl_error_set(err, CL_EINVALID, "an enclave signing key must be RSA-3072 with "
                                          "exponent 3");
}

void cl_sigstruct_prepare(uint8_t out[CL_SIGSTRUCT_SIZE], const cl_sigstruct_fields *f)
{
    memset(out, 0, CL_SIGSTRUCT_SIZE);
    memcpy(out, header, sizeof(header));
    cl_le_put(out + 20, (uint64_t)bcd(f->day), 1);
    cl_le_put(out + 21, (uint64_t)bcd(f->month), 1);
    cl_le_put(out + 22, (uint64_t)(bcd(f->year / 100) << 8 | bcd(f->year % 100)), 2);
    memcpy(out + 24, header2, sizeof(header2));
    cl_le_put(out + 512, 3, 4);
    cl_le_put(out + 900, f->miscselect, 4);
    cl_le_put(out + 904, f->miscmask, 4);
    cl_le_put(out + 928, f->attributes_flags, 8);
    cl_le_put(out + 936, f->attributes_xfrm, 8);
    cl_le_put(out + 944, f->attributes_flags_mask, 8);
    cl_le_put(out + 952, f->attributes_xfrm_mask, 8);
    memcpy(out + 960, f->enclave_hash, 32);
    cl_le_put(out + 1024, f->isvprodid, 2);
    cl_le_put(out + 1026, f->isvsvn, 2);
}

void cl_sigstruct_signed_bytes(const uint8_t s[CL_SIGSTRUCT_SIZE],
                               uint8_t out[CL_SIGSTRUCT_SIGNED_SIZE])
{
    memcpy(out, s, 128);
    memcpy(out + 128, s + 900, 128);
}

int cl_sigstruct_attach(uint8_t s[CL_SIGSTRUCT_SIZE], EVP_PKEY *key,
                        const uint8_t signature[CL_SGX_SIGNATURE_SIZE], cl_error *err)
{
    BIGNUM *n = NULL, *sig = NULL;
    int rc;

    if ((rc = signing_modulus(key, &n, err)) < 0)
        return rc;
    if ((sig = BN_bin2bn(signature, CL_SGX_SIGNATURE_SIZE, NULL)) == NULL ||
        BN_cmp(sig, n) >= 0 || to_le(s + 128, n) < 0 || to_le(s + 516, sig) < 0 ||
        quotients(s, sig, n) < 0)
        rc = cl_error_set(err, CL_EINVALID, "the signature is not a number below the modulus");
    BN_free(n);
    BN_free(sig);
    return rc < 0 ? rc : cl_sigstruct_verify(s, NULL, NULL, err);
}

int cl_sgx_sign_bytes(EVP_PKEY *key, const uint8_t *data, size_t len,
                      uint8_t signature[CL_SGX_SIGNATURE_SIZE], cl_error *err)
{
    EVP_PKEY_CTX *pctx = NULL;
    BIGNUM *n = NULL;
    uint8_t digest[32];
    size_t siglen = CL_SGX_SIGNATURE_SIZE;
    int rc;

    if ((rc = signing_modulus(key, &n, err)) < 0)
        return rc;
    BN_free(n);
    cl_sha256(digest, data, len);
    if ((pctx = EVP_PKEY_CTX_new(key, NULL)) == NULL || EVP_PKEY_sign_init(pctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_sign(pctx, signature, &siglen, digest, sizeof(digest)) <= 0 ||
        siglen != CL_SGX_SIGNATURE_SIZE)
        rc = cl_error_set(err, CL_ERROR, "could not sign with the key");
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

int cl_sigstruct_sign(uint8_t out[CL_SIGSTRUCT_SIZE], const cl_sigstruct_fields *f,
                      EVP_PKEY *key, cl_error *err)
{
    uint8_t data[CL_SIGSTRUCT_SIGNED_SIZE], signature[CL_SGX_SIGNATURE_SIZE];
    int rc;

    cl_sigstruct_prepare(out, f);
    cl_sigstruct_signed_bytes(out, data);
    if ((rc = cl_sgx_sign_bytes(key, data, sizeof(data), signature, err)) < 0)
        return rc;
    return cl_sigstruct_attach(out, key, signature, err);
}

int cl_sigstruct_verify(const uint8_t s[CL_SIGSTRUCT_SIZE], cl_sigstruct_fields *f,
                        uint8_t mrsigner[32], cl_error *err)
{
    BIGNUM *n = BN_lebin2bn(s + 128, KEY_BYTES, NULL), *sig = BN_lebin2bn(s + 516, KEY_BYTES, NULL);
    BIGNUM *m = BN_new();
    BN_CTX *ctx = BN_CTX_new();
    uint8_t digest[32], em[KEY_BYTES], expect[KEY_BYTES];
    int rc = 0;

    if (memcmp(s, header, sizeof(header)) != 0 || memcmp(s + 24, header2, sizeof(header2)) != 0)
        rc = cl_error_set(err, CL_EINVALID, "not a SIGSTRUCT: its headers are wrong");
    else if (cl_le_get(s + 512, 4) != 3)
        rc = cl_error_set(err, CL_EINVALID, "the SIGSTRUCT's exponent is not 3");
    else if (!n || !sig || !m || !ctx || BN_num_bits(n) != 3072)
        rc = cl_error_set(err, CL_EINVALID, "the SIGSTRUCT's modulus is not 3072 bits");
    if (rc == 0) {
        /* s^3 mod n must be the PKCS#1 v1.5 encoding of the SHA-256 digest */
        static const uint8_t sha256_prefix[19] = {
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
            0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
        BIGNUM *three = BN_new();

        signed_digest(s, digest);
        memset(expect, 0xff, KEY_BYTES);
        expect[0] = 0x00;
        expect[1] = 0x01;
        expect[KEY_BYTES - 32 - 19 - 1] = 0x00;
        memcpy(expect + KEY_BYTES - 32 - 19, sha256_prefix, 19);
        memcpy(expect + KEY_BYTES - 32, digest, 32);
        if (three == NULL || !BN_set_word(three, 3) || BN_cmp(sig, n) >= 0 ||
            !BN_mod_exp(m, sig, three, n, ctx) || BN_bn2binpad(m, em, KEY_BYTES) != KEY_BYTES ||
            memcmp(em, expect, KEY_BYTES) != 0)
            rc = cl_error_set(err, CL_EINVALID, "the SIGSTRUCT's signature does not verify");
        BN_free(three);
    }
    if (rc == 0) {
        uint8_t q[CL_SIGSTRUCT_SIZE];

        memset(q, 0, sizeof(q));
        if (quotients(q, sig, n) < 0 || memcmp(q + 1040, s + 1040, 2 * KEY_BYTES) != 0)
            rc = cl_error_set(err, CL_EINVALID, "the SIGSTRUCT's Q1 or Q2 is wrong");
    }
    if (rc == 0 && f != NULL) {
        memcpy(f->enclave_hash, s + 960, 32);
        f->attributes_flags = cl_le_get(s + 928, 8);
        f->attributes_xfrm = cl_le_get(s + 936, 8);
        f->attributes_flags_mask = cl_le_get(s + 944, 8);
        f->attributes_xfrm_mask = cl_le_get(s + 952, 8);
        f->miscselect = (uint32_t)cl_le_get(s + 900, 4);
        f->miscmask = (uint32_t)cl_le_get(s + 904, 4);
        f->isvprodid = (uint16_t)cl_le_get(s + 1024, 2);
        f->isvsvn = (uint16_t)cl_le_get(s + 1026, 2);
        f->day = (s[20] >> 4) * 10 + (s[20] & 15);
        f->month = (s[21] >> 4) * 10 + (s[21] & 15);
        f->year = (s[23] >> 4) * 1000 + (s[23] & 15) * 100 + (s[22] >> 4) * 10 + (s[22] & 15);
    }
    if (rc == 0 && mrsigner != NULL)
        cl_sha256(mrsigner, s + 128, KEY_BYTES);
    BN_free(n);
    BN_free(sig);
    BN_free(m);
    BN_CTX_free(ctx);
    return rc;
}

int cl_sgx_key_generate(EVP_PKEY **out, cl_error *err)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *e = BN_new();
    int ok;

    *out = NULL;
    ok = ctx != NULL && e != NULL && BN_set_word(e, 3) && EVP_PKEY_keygen_init(ctx) > 0 &&
         EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 3072) > 0 &&
         EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0 && EVP_PKEY_generate(ctx, out) > 0;
    EVP_PKEY_CTX_free(ctx);
    BN_free(e);
    return ok ? 0 : cl_error_set(err, CL_ERROR, "could not generate an RSA-3072 key");
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return 0;
}

/* A PEM key of the kind the CPU accepts: private (unencrypted) or public. */
static int read_pem(EVP_PKEY **out, const char *pem, size_t len, int public, cl_error *err)
{
    BIO *bio;
    BIGNUM *n = NULL;
    int rc;

    *out = NULL;
    if (len > CL_SGX_KEY_PEM_MAX)
        return cl_error_set(err, CL_EINVALID, "a signing key's PEM is at most %d bytes",
                            CL_SGX_KEY_PEM_MAX);
    if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    /* An encrypted key is refused, never prompted for. */
    *out = public ? PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL)
                  : PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (*out == NULL)
        return cl_error_set(err, CL_EINVALID, public ? "not a PEM public key (BEGIN PUBLIC KEY)"
                                                     : "not an unencrypted PEM private key");
    if ((rc = signing_modulus(*out, &n, err)) < 0) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    BN_free(n);
    return rc;
}

int cl_sgx_key_read_pem(EVP_PKEY **out, const char *pem, size_t len, cl_error *err)
{
    return read_pem(out, pem, len, 0, err);
}

int cl_sgx_key_read_public_pem(EVP_PKEY **out, const char *pem, size_t len, cl_error *err)
{
    return read_pem(out, pem, len, 1, err);
}

int cl_sgx_key_write_public_pem(EVP_PKEY *key, char **pem, size_t *len, cl_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;

    *pem = NULL;
    if (bio == NULL || !PEM_write_bio_PUBKEY(bio, key) ||
        (n = BIO_get_mem_data(bio, &data)) <= 0 || (*pem = malloc((size_t)n + 1)) == NULL) {
        BIO_free(bio);
        return cl_error_set(err, CL_ERROR, "could not write the public key as PEM");
    }
    memcpy(*pem, data, (size_t)n);
    (*pem)[n] = '\0';
    *len = (size_t)n;
    BIO_free(bio);
    return 0;
}

int cl_sgx_key_write_pem(EVP_PKEY *key, char **pem, size_t *len, cl_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;

    *pem = NULL;
    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) ||
        (n = BIO_get_mem_data(bio, &data)) <= 0 || (*pem = malloc((size_t)n + 1)) == NULL) {
        BIO_free(bio);
        return cl_error_set(err, CL_ERROR, "could not write the key as PEM");
    }
    memcpy(*pem, data, (size_t)n);
    (*pem)[n] = '\0';
    *len = (size_t)n;
    OPENSSL_cleanse(data, (size_t)n);
    BIO_free(bio);
    return 0;
}

int cl_sgx_key_mrsigner(EVP_PKEY *key, uint8_t mrsigner[32], cl_error *err)
{
    BIGNUM *n = NULL;
    uint8_t le[KEY_BYTES];
    int rc;

    if ((rc = signing_modulus(key, &n, err)) < 0)
        return rc;
    rc = to_le(le, n) == 0 && cl_sha256(mrsigner, le, sizeof(le)) == 0
             ? 0 : cl_error_set(err, CL_ERROR, "could not compute MRSIGNER");
    BN_free(n);
    return rc;
}
