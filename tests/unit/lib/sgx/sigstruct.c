/* Tests for lib/sgx/sigstruct.c: Gramine's own SIGSTRUCT reproduced byte
 * for byte, and SIGSTRUCTs made by other tools verified. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "sgx/sigstruct.h"
#include "test_data.h"

static EVP_PKEY *key(void)
{
    size_t len;
    uint8_t *pem = slurp("sgx/sig1.key.pem", &len);
    EVP_PKEY *k;
    cl_error err = { 0 };

    if (cl_sgx_key_read_pem(&k, (const char *)pem, len, &err) < 0)
        fail_msg("sig1.key.pem: %s", err.message);
    free(pem);
    return k;
}

static void hex_equal(const uint8_t *got, const char *want)
{
    char hex[65];

    cl_hex(hex, got, 32);
    assert_string_equal(hex, want);
}

static void test_reproduces_gramines_sigstruct(void **state)
{
    static const uint8_t mr[32] = {
        0xde, 0x83, 0x01, 0x77, 0xb0, 0xce, 0x39, 0x3e, 0x72, 0xd3, 0x37, 0xbc, 0x38, 0x87,
        0x62, 0xf1, 0xc0, 0xdb, 0x9a, 0xc7, 0xcb, 0xf0, 0xc7, 0x65, 0xd2, 0x69, 0x60, 0x62,
        0x7c, 0xb1, 0x86, 0xfb };
    cl_sigstruct_fields f = { .attributes_flags = 0x6, .attributes_xfrm = 0x3,
                              .attributes_flags_mask = 0xffffffffffffffffULL,
                              .attributes_xfrm_mask = 0xfffffffffff9ff1bULL,
                              .miscselect = 0, .miscmask = 0xffffffff, .isvprodid = 5,
                              .isvsvn = 1, .year = 2024, .month = 1, .day = 2 };
    uint8_t out[CL_SIGSTRUCT_SIZE], mrsigner[32];
    size_t len;
    uint8_t *want = slurp("gramine/case-dev.sig", &len);
    EVP_PKEY *k = key();
    cl_error err = { 0 };
    (void)state;

    memcpy(f.enclave_hash, mr, 32);
    assert_int_equal(len, CL_SIGSTRUCT_SIZE);
    if (cl_sigstruct_sign(out, &f, k, &err) < 0)
        fail_msg("%s", err.message);
    for (size_t i = 0; i < CL_SIGSTRUCT_SIZE; i++)
        if (out[i] != want[i])
            fail_msg("byte %zu differs: 0x%02x, Gramine wrote 0x%02x", i, out[i], want[i]);
    assert_int_equal(cl_sigstruct_verify(out, NULL, mrsigner, &err), 0);
    hex_equal(mrsigner, "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e");
    EVP_PKEY_free(k);
    free(want);
}

static void test_verifies_other_tools_sigstructs(void **state)
{
    cl_sigstruct_fields f;
    uint8_t mrsigner[32];
    size_t len;
    uint8_t *s = slurp("sgx/test_enclave.sig", &len);
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(cl_sigstruct_verify(s, &f, mrsigner, &err), 0);
    hex_equal(f.enclave_hash, "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc");
    hex_equal(mrsigner, "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542");
    assert_int_equal(f.isvprodid, 65535);
    assert_int_equal(f.year, 2016);
    assert_int_equal(f.month, 12);
    assert_int_equal(f.day, 14);
    s[960] ^= 1;                                   /* a different enclave */
    assert_int_equal(cl_sigstruct_verify(s, &f, mrsigner, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "does not verify"));
    free(s);

    s = slurp("sgx/sig1.sigstruct.bin", &len);
    assert_int_equal(cl_sigstruct_verify(s, &f, mrsigner, &err), 0);
    hex_equal(f.enclave_hash, "c50673624a6cb17c1c6c2a4e6906f47a170c4629b8723781d1017ef376f1a75d");
    hex_equal(mrsigner, "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e");
    s[1040] ^= 1;                                  /* a wrong Q1 */
    assert_int_equal(cl_sigstruct_verify(s, &f, mrsigner, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "Q1"));
    free(s);
}

static void test_refuses_other_keys(void **state)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    cl_sigstruct_fields f = { .year = 2024, .month = 1, .day = 1 };
    uint8_t out[CL_SIGSTRUCT_SIZE];
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(cl_sigstruct_sign(out, &f, k, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "exponent 3"));
    EVP_PKEY_free(k);
}

/* A generated key signs SIGSTRUCTs that verify, with the MRSIGNER the key
 * names; it survives PEM; the shared key gives the MRSIGNER Gramine printed. */
static void test_signing_keys(void **state)
{
    (void)state;
    EVP_PKEY *k, *back, *shared;
    cl_error err = { 0 };
    cl_sigstruct_fields f = { .year = 2026, .month = 11, .day = 28, .isvprodid = 7,
                              .attributes_flags = 0x4, .attributes_xfrm = 0x3,
                              .attributes_flags_mask = ~0ULL, .attributes_xfrm_mask = ~0ULL };
    uint8_t out[CL_SIGSTRUCT_SIZE], named[32], verified[32], again[32];
    char *pem;
    size_t len;

    assert_int_equal(cl_sgx_key_generate(&k, &err), 0);
    assert_int_equal(cl_sgx_key_mrsigner(k, named, &err), 0);
    assert_int_equal(cl_sigstruct_sign(out, &f, k, &err), 0);
    assert_int_equal(cl_sigstruct_verify(out, NULL, verified, &err), 0);
    assert_memory_equal(named, verified, 32);

    assert_int_equal(cl_sgx_key_write_pem(k, &pem, &len, &err), 0);
    assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    assert_int_equal(cl_sgx_key_read_pem(&back, pem, len, &err), 0);
    assert_int_equal(cl_sgx_key_mrsigner(back, again, &err), 0);
    assert_memory_equal(named, again, 32);
    OPENSSL_cleanse(pem, len);
    free(pem);

    shared = key();
    assert_int_equal(cl_sgx_key_mrsigner(shared, again, &err), 0);
    hex_equal(again, "83d719e77deaca1470f6baf62a4d774303c899db69020f9c70ee1dfc08c7ce9e");
    EVP_PKEY_free(shared);
    EVP_PKEY_free(back);
    EVP_PKEY_free(k);
}

static void test_refuses_keys_the_cpu_would_not(void **state)
{
    (void)state;
    EVP_PKEY *k = EVP_RSA_gen(3072), *got;   /* exponent 65537 */
    cl_error err = { 0 };
    char *pem;
    size_t len;

    assert_int_equal(cl_sgx_key_write_pem(k, &pem, &len, &err), 0);
    assert_int_equal(cl_sgx_key_read_pem(&got, pem, len, &err), CL_EINVALID);
    assert_null(got);
    assert_non_null(strstr(err.message, "exponent 3"));
    free(pem);
    EVP_PKEY_free(k);

    /* An encrypted key is refused, not prompted for. */
    BIO *bio = BIO_new(BIO_s_mem());
    assert_int_equal(cl_sgx_key_generate(&k, &err), 0);
    assert_true(PEM_write_bio_PrivateKey(bio, k, EVP_aes_256_cbc(), NULL, 0, NULL,
                                         (void *)"secret"));
    len = (size_t)BIO_get_mem_data(bio, &pem);
    assert_int_equal(cl_sgx_key_read_pem(&got, pem, len, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "unencrypted"));
    BIO_free(bio);
    EVP_PKEY_free(k);

    assert_int_equal(cl_sgx_key_read_pem(&got, "not a key", 9, &err), CL_EINVALID);
    assert_int_equal(cl_sgx_key_read_pem(&got, "x", CL_SGX_KEY_PEM_MAX + 1, &err),
                     CL_EINVALID);
}

/* Detached signing: the 256 signed bytes signed elsewhere (here, by
 * OpenSSL directly, as `openssl pkeyutl` would) and attached with only the
 * public key give the very SIGSTRUCT that signing in one step gives; a
 * signature of other bytes is refused. */
static void test_detached_signing(void **state)
{
    (void)state;
    EVP_PKEY *k, *pub;
    EVP_PKEY_CTX *ctx;
    cl_error err = { 0 };
    cl_sigstruct_fields f = { .year = 2026, .month = 1, .day = 15, .isvprodid = 9, .isvsvn = 2,
                              .attributes_flags = 0x4, .attributes_xfrm = 0x3,
                              .attributes_flags_mask = ~0ULL,
                              .attributes_xfrm_mask = 0xfffffffffff9ff1bULL,
                              .miscmask = 0xffffffff };
    uint8_t whole[CL_SIGSTRUCT_SIZE], detached[CL_SIGSTRUCT_SIZE];
    uint8_t payload[CL_SIGSTRUCT_SIGNED_SIZE], digest[32], sig[CL_SGX_SIGNATURE_SIZE];
    size_t siglen = sizeof(sig), len;
    char *pem;

    memset(f.enclave_hash, 0xab, 32);
    assert_int_equal(cl_sgx_key_generate(&k, &err), 0);
    assert_int_equal(cl_sigstruct_sign(whole, &f, k, &err), 0);

    cl_sigstruct_prepare(detached, &f);
    cl_sigstruct_signed_bytes(detached, payload);
    cl_sha256(digest, payload, sizeof(payload));
    ctx = EVP_PKEY_CTX_new(k, NULL);
    assert_true(EVP_PKEY_sign_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0);
    assert_true(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0);
    assert_true(EVP_PKEY_sign(ctx, sig, &siglen, digest, sizeof(digest)) > 0);
    EVP_PKEY_CTX_free(ctx);

    assert_int_equal(cl_sgx_key_write_public_pem(k, &pem, &len, &err), 0);
    assert_int_equal(cl_sgx_key_read_public_pem(&pub, pem, len, &err), 0);
    free(pem);
    assert_int_equal(cl_sigstruct_attach(detached, pub, sig, &err), 0);
    assert_memory_equal(detached, whole, CL_SIGSTRUCT_SIZE);

    cl_sigstruct_prepare(detached, &f);
    detached[1026] ^= 1;                           /* another ISVSVN than was signed */
    assert_int_equal(cl_sigstruct_attach(detached, pub, sig, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "does not verify"));
    EVP_PKEY_free(pub);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reproduces_gramines_sigstruct),
        cmocka_unit_test(test_verifies_other_tools_sigstructs),
        cmocka_unit_test(test_refuses_other_keys),
        cmocka_unit_test(test_detached_signing),
        cmocka_unit_test(test_signing_keys),
        cmocka_unit_test(test_refuses_keys_the_cpu_would_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
