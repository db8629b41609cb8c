/* Unit tests: node request signatures (lib/httpsig.c, RFC 9421).  What is
 * signed is checked against a signature base built here from the RFC's
 * rules and verified with OpenSSL directly; then every part of a signed
 * request that is changed, missing, stale or malformed is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpsig.h"
#include "sgx/pck.h"
#include "token.h"

#define NODE "0c6f3c2e-8a55-4a4e-9d35-7f1c2b8e4a10"
#define PATH "/v1/nodes/" NODE "/heartbeat"
#define BODY "{\"agent_version\":\"0.1.0\"}"
#define NOW ((time_t)1795000000)      /* 2026-11-18T11:06:40Z */

typedef struct fixture {
    EVP_PKEY *key, *other;
    cl_httpsig_headers h;
    cl_httpsig_request rq;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    cl_error err = { 0 };

    f->key = EVP_EC_gen("P-256");
    f->other = EVP_EC_gen("P-256");
    assert_int_equal(cl_httpsig_sign(&f->h, f->key, NODE, "POST", PATH, BODY, strlen(BODY),
                                     NOW, &err), 0);
    f->rq = (cl_httpsig_request){ "POST", PATH, f->h.date, f->h.digest, f->h.input,
                                  f->h.signature, BODY, strlen(BODY), NULL };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    EVP_PKEY_free(f->key);
    EVP_PKEY_free(f->other);
    free(f);
    return 0;
}

static void test_the_headers_are_the_rfc_forms(void **state)
{
    fixture *f = *state;

    assert_string_equal(f->h.date, "Wed, 18 Nov 2026 11:06:40 GMT");
    /* RFC 9530: sha-256 of the body as a byte sequence */
    char empty[64];
    cl_httpsig_digest(empty, NULL, 0);
    assert_string_equal(empty, "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
    assert_string_equal(f->h.input, "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\")"
                        ";created=1795000000;keyid=\"" NODE "\";alg=\"ecdsa-p256-sha256\"");
    assert_int_equal(strncmp(f->h.signature, "sig1=:", 6), 0);
    assert_int_equal(strlen(f->h.signature), 6 + 88 + 1);
}

static void test_the_signature_is_over_the_rfc_signature_base(void **state)
{
    fixture *f = *state;
    char base[1024], b64[89];
    unsigned char sig[67];
    size_t len = 0;

    snprintf(base, sizeof(base),
             "\"@method\": POST\n\"@path\": " PATH "\n\"date\": %s\n\"content-digest\": %s\n"
             "\"@signature-params\": %s", f->h.date, f->h.digest, f->h.input + strlen("sig1="));
    memcpy(b64, f->h.signature + 6, 88);
    b64[88] = '\0';
    assert_int_equal(cl_b64_decode(sig, sizeof(sig), &len, b64), 0);
    assert_int_equal(len, 64);
    assert_true(cl_p256_verify(f->key, sig, base, strlen(base)));
}

static void test_a_signed_request_verifies(void **state)
{
    fixture *f = *state;
    char keyid[CL_HTTPSIG_KEYID_MAX + 1];
    cl_error err = { 0 };

    assert_int_equal(cl_httpsig_keyid(f->h.input, keyid, &err), 0);
    assert_string_equal(keyid, NODE);
    assert_int_equal(cl_httpsig_verify(&f->rq, f->key, NOW + 30, 300, &err), 0);
}

static void refused(fixture *f, cl_httpsig_request rq, EVP_PKEY *key, time_t now,
                    const char *why)
{
    cl_error err = { 0 };

    assert_int_equal(cl_httpsig_verify(&rq, key ? key : f->key, now ? now : NOW, 300, &err),
                     CL_EUNAUTHORIZED);
    if (strstr(err.message, why) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err.message, why);
    cl_error_clear(&err);
}

static void test_a_changed_request_is_refused(void **state)
{
    fixture *f = *state;
    cl_httpsig_request rq;
    char digest[64];

    rq = f->rq;
    rq.body = "{\"agent_version\":\"6.6.6\"}";
    refused(f, rq, NULL, 0, "not the body's sha-256");
    cl_httpsig_digest(digest, rq.body, rq.len);
    rq.digest = digest;                         /* the digest made to match: not signed */
    refused(f, rq, NULL, 0, "not the node's");
    rq = f->rq;
    rq.path = "/v1/nodes/" NODE "/attest";
    refused(f, rq, NULL, 0, "not the node's");
    rq = f->rq;
    rq.method = "PUT";
    refused(f, rq, NULL, 0, "not the node's");
    refused(f, f->rq, f->other, 0, "not the node's");
    rq = f->rq;
    rq.date = "Wed, 18 Nov 2026 11:06:41 GMT";
    refused(f, rq, NULL, 0, "not the node's");
}

/* One signature, one replay id, whichever of its two encodings (s or
 * n - s) arrives; another signature of the same request, another id. */
static void test_the_replay_id_ignores_the_encoding(void **state)
{
    static const unsigned char n[32] = {
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
        0xfc, 0x63, 0x25, 0x51 };
    fixture *f = *state;
    unsigned char id[32], twin_id[32], other_id[32], sig[64 + 3];
    char twin[sizeof(f->h.signature)], b64[89];
    size_t len = 0;
    cl_httpsig_headers again;
    cl_httpsig_request rq = f->rq;
    cl_error err = { 0 };

    rq.replay_id = id;
    assert_int_equal(cl_httpsig_verify(&rq, f->key, NOW, 300, &err), 0);
    /* s -> n - s, by hand, big-endian */
    memcpy(b64, f->h.signature + 6, 88);
    b64[88] = '\0';
    assert_int_equal(cl_b64_decode(sig, sizeof(sig), &len, b64), 0);
    assert_int_equal(len, 64);
    for (int i = 31, borrow = 0; i >= 0; i--) {
        int d = n[i] - sig[32 + i] - borrow;
        borrow = d < 0;
        sig[32 + i] = (unsigned char)(d + 256 * borrow);
    }
    cl_b64_encode(b64, sig, 64);
    snprintf(twin, sizeof(twin), "sig1=:%s:", b64);
    rq.signature = twin;
    rq.replay_id = twin_id;
    assert_int_equal(cl_httpsig_verify(&rq, f->key, NOW, 300, &err), 0);
    assert_memory_equal(id, twin_id, 32);
    assert_int_equal(cl_httpsig_sign(&again, f->key, NODE, "POST", PATH, BODY, strlen(BODY),
                                     NOW, &err), 0);
    rq = f->rq;
    rq.signature = again.signature;
    rq.replay_id = other_id;
    assert_int_equal(cl_httpsig_verify(&rq, f->key, NOW, 300, &err), 0);
    assert_memory_not_equal(id, other_id, 32);
}

static void test_missing_stale_and_malformed_headers_are_refused(void **state)
{
    fixture *f = *state;
    cl_httpsig_request rq;

    refused(f, f->rq, NULL, NOW + 301, "seconds from the server's clock");
    refused(f, f->rq, NULL, NOW - 301, "seconds from the server's clock");
    const struct { const char *input, *why; } inputs[] = {
        { NULL, "no Signature-Input" },
        { "sig1=(\"@method\" \"@path\" \"date\");created=1795000000;keyid=\"" NODE "\"",
          "cover exactly" },
        { "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\");keyid=\"" NODE "\"",
          "must give created and keyid" },
        { "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\");created=1795000000",
          "must give created and keyid" },
        { "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\");created=1795000000;"
          "keyid=\"" NODE "\";alg=\"rsa-pss-sha512\"", "must be ecdsa-p256-sha256" },
        { "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\");created=1795000000;"
          "keyid=\"" NODE "\";nonce=\"x\"", "not one this server takes" },
        { "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\");created=1795000000;"
          "created=1795000000;keyid=\"" NODE "\"", "repeated or malformed" },
        { "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\");created=1795000000;"
          "keyid=\"" NODE "\", sig2=(\"@method\");created=1", "more than one signature" },
        { "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\");created=1795000000;"
          "keyid=\"unterminated", "repeated or malformed" },
        { "Sig1=(\"@method\")", "one labelled signature" },
        { "", "one labelled signature" },
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
        rq = f->rq;
        rq.input = inputs[i].input;
        refused(f, rq, NULL, 0, inputs[i].why);
    }
    rq = f->rq;
    rq.input = "sig1=(\"@method\" \"@path\" \"date\" \"content-digest\");created=1795000000;"
               "keyid=\"" NODE "\";expires=1794999999";
    refused(f, rq, NULL, 0, "expired");
    const char *dates[] = { NULL, "2026-11-18T11:06:40Z", "Wed, 18 Nov 2026 11:06:40 UTC",
                            "Wed, 18 Foo 2026 11:06:40 GMT" };
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        rq = f->rq;
        rq.date = dates[i];
        refused(f, rq, NULL, 0, "needs a Date header");
    }
    char bang[6 + 88 + 2] = "sig1=:";                 /* the right length, not base64 */
    memset(bang + 6, '!', 88);
    memcpy(bang + 6 + 88, ":", 2);
    const char *sigs[] = { NULL, "sig2=:AAAA:", "sig1=AAAA", bang };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        rq = f->rq;
        rq.signature = sigs[i];
        refused(f, rq, NULL, 0, i == 3 ? "not 64 bytes" : "Signature header");
    }
    rq = f->rq;
    rq.digest = NULL;
    refused(f, rq, NULL, 0, "Content-Digest");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_headers_are_the_rfc_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_signature_is_over_the_rfc_signature_base,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_signed_request_verifies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_changed_request_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_replay_id_ignores_the_encoding, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_stale_and_malformed_headers_are_refused,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
