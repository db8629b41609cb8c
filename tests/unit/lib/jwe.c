/* Unit tests: secrets as JWE (lib/jwe.c): what is encrypted to a key opens
 * with that key only; the header is the one API.md fixes; a changed
 * header, IV, ciphertext or tag, or another algorithm, is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "jwe.h"
#include "token.h"

static void test_a_secret_opens_with_its_key_only(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
    const char *secret = "postgres://app:s3cret@db/app";
    cl_error err = { 0 };
    uint8_t *plain;
    size_t len;
    char *jwe;
    (void)state;

    assert_int_equal(cl_jwe_encrypt(&jwe, key, secret, strlen(secret), &err), 0);
    assert_null(strstr(jwe, "s3cret"));
    assert_int_equal(cl_jwe_decrypt(&plain, &len, key, jwe, &err), 0);
    assert_int_equal(len, strlen(secret));
    assert_memory_equal(plain, secret, len);
    free(plain);
    assert_int_equal(cl_jwe_decrypt(&plain, &len, other, jwe, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "does not open"));
    cl_error_clear(&err);

    /* the header: alg, enc and the ephemeral key, nothing else */
    char *dot = strchr(jwe, '.');
    unsigned char header[1024];
    size_t n;
    assert_int_equal(dot[1], '.');                      /* no encrypted key */
    assert_int_equal(cl_b64url_decode(header, sizeof(header), &n, jwe, (size_t)(dot - jwe)), 0);
    json_t *h = json_loadb((const char *)header, n, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "ECDH-ES");
    assert_string_equal(json_string_value(json_object_get(h, "enc")), "A256GCM");
    json_t *epk = json_object_get(h, "epk");
    assert_string_equal(json_string_value(json_object_get(epk, "crv")), "P-256");
    assert_int_equal(json_object_size(h), 3);
    json_decref(h);

    /* the same secret twice: different ciphertexts (a new key and IV each time) */
    char *again;
    assert_int_equal(cl_jwe_encrypt(&again, key, secret, strlen(secret), &err), 0);
    assert_string_not_equal(jwe, again);
    free(again);
    free(jwe);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other);
}

static void test_every_changed_part_is_refused(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    cl_error err = { 0 };
    uint8_t *plain;
    size_t len;
    char *jwe;
    (void)state;

    assert_int_equal(cl_jwe_encrypt(&jwe, key, "", 0, &err), 0);       /* empty is fine */
    assert_int_equal(cl_jwe_decrypt(&plain, &len, key, jwe, &err), 0);
    assert_int_equal(len, 0);
    free(plain);
    free(jwe);
    assert_int_equal(cl_jwe_encrypt(&jwe, key, "value", 5, &err), 0);
    size_t total = strlen(jwe);
    for (size_t i = 0; i < total; i++) {
        if (jwe[i] == '.')
            continue;
        char *bad = strdup(jwe);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        int rc = cl_jwe_decrypt(&plain, &len, key, bad, &err);
        if (rc == 0) {
            /* a change in a base64url character's unused low bits decodes alike */
            assert_int_equal(len, 5);
            assert_memory_equal(plain, "value", 5);
            free(plain);
        }
        cl_error_clear(&err);
        free(bad);
    }
    const char *malformed[] = { "", "a.b.c.d", "a.b.c.d.e.f", "e30..AAAA.AAAA.AAAA",
                                "eyJhbGciOiJSU0EtT0FFUCJ9..AAAAAAAAAAAAAAAA.AA.AAAAAAAAAAAAAAAAAAAAAA" };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        assert_int_equal(cl_jwe_decrypt(&plain, &len, key, malformed[i], &err), CL_EINVALID);
        cl_error_clear(&err);
    }
    free(jwe);
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    assert_int_equal(cl_jwe_encrypt(&jwe, rsa, "x", 1, &err), CL_EINVALID);
    assert_null(jwe);
    cl_error_clear(&err);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_secret_opens_with_its_key_only),
        cmocka_unit_test(test_every_changed_part_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
