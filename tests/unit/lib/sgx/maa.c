/* Unit tests: Azure Attestation tokens (tests/data/maa/, a real exchange with
 * Microsoft's shared instance): both real tokens verify with the instance's
 * JWKS at a time inside their validity, their SGX claims are read, and a
 * damaged signature, another issuer, an expired token, an unknown key id
 * and non-tokens are refused with their reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "sgx/dcap.h"
#include "sgx/maa.h"
#include "test_data.h"
#include "token.h"

#define ISSUER "https://sharedwus.wus.attest.azure.net"
#define INSIDE 1645230000           /* between iat/nbf 1645224877 and exp 1645253677 */

static json_t *judge(const char *token, size_t len, const char *issuer, time_t at)
{
    size_t jlen;
    uint8_t *jwks = slurp("maa/certs.jwks.json", &jlen);
    json_t *v = NULL;
    cl_error err = { 0 };

    assert_int_equal(cl_maa_verify(token, len, (const char *)jwks, jlen, issuer, at, &v, &err),
                     0);
    free(jwks);
    return v;
}

static size_t trimmed(uint8_t *text, size_t len)
{
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = 0;
    return len;
}

static void expect_refused(json_t *v, const char *check, const char *words)
{
    json_t *checks = json_object_get(v, "checks");
    json_t *last = json_array_get(checks, json_array_size(checks) - 1);

    assert_false(json_is_true(json_object_get(v, "authentic")));
    assert_string_equal(json_string_value(json_object_get(last, "name")), check);
    if (strstr(json_string_value(json_object_get(last, "detail")), words) == NULL)
        fail_msg("%s: \"%s\" does not say \"%s\"", check,
                 json_string_value(json_object_get(last, "detail")), words);
    json_decref(v);
}

static void test_real_tokens_verify_with_their_claims(void **state)
{
    static const char *const names[] = { "maa/simple_attest.token.jwt",
                                         "maa/runtime_data.token.jwt" };
    (void)state;

    for (int i = 0; i < 2; i++) {
        size_t len;
        uint8_t *token = slurp(names[i], &len);
        len = trimmed(token, len);
        json_t *v = judge((const char *)token, len, ISSUER, INSIDE);

        if (!json_is_true(json_object_get(v, "authentic")))
            fail_msg("%s: %s", names[i], json_dumps(v, JSON_COMPACT));
        json_t *q = json_object_get(v, "quote");
        assert_string_equal(json_string_value(json_object_get(q, "mrenclave")),
                            "292a1f4b519e46627eb2478a3d9851405653c5b4b0a6925de843834d9216850e");
        assert_string_equal(json_string_value(json_object_get(q, "mrsigner")),
                            "4aea5f9a0ed04b11f889aadfe6a1d376213a29a95a85ce7337ae6f7fece6610c");
        assert_int_equal(json_integer_value(json_object_get(q, "isvprodid")), 1);
        assert_int_equal(json_integer_value(json_object_get(q, "isvsvn")), 1);
        assert_true(json_is_true(json_object_get(q, "debug")));
        assert_string_equal(json_string_value(json_object_get(json_object_get(v, "maa"),
                                                              "issuer")), ISSUER);
        /* a debug enclave: the default policy refuses it, for that reason alone */
        cl_dcap_policy(v, &cl_attestation_policy_default);
        json_t *reasons = json_object_get(json_object_get(v, "policy"), "reasons");
        assert_int_equal(json_array_size(reasons), 1);
        assert_string_equal(json_string_value(json_array_get(reasons, 0)),
                            "the enclave is a debug enclave");
        if (i == 1) {                     /* the runtime data is what the report data hashes */
            size_t rlen, n;
            uint8_t *runtime = slurp("maa/runtime_data.bin", &rlen), hash[32], back[4096];
            char hex[65];
            const char *b64 = json_string_value(json_object_get(q, "runtime_data"));

            assert_non_null(b64);
            assert_int_equal(cl_b64_decode(back, sizeof(back), &n, b64), 0);
            assert_int_equal(n, rlen);
            assert_memory_equal(back, runtime, rlen);
            cl_sha256(hash, runtime, rlen);
            cl_hex(hex, hash, 32);
            assert_int_equal(strncmp(json_string_value(json_object_get(q, "report_data")), hex,
                                     64), 0);
            free(runtime);
        }
        json_decref(v);
        free(token);
    }
}

static void test_damaged_and_foreign_tokens_are_refused(void **state)
{
    size_t len;
    uint8_t *token = slurp("maa/runtime_data.token.jwt", &len);
    (void)state;

    len = trimmed(token, len);
    expect_refused(judge((const char *)token, len, "https://other.attest.azure.net", INSIDE),
                   "issuer", "not the expected");
    expect_refused(judge((const char *)token, len, ISSUER, 1645253677), "validity", "expired");
    expect_refused(judge((const char *)token, len, ISSUER, 1645224877 - 1), "validity",
                   "not yet valid");
    char *copy = malloc(len + 1);
    memcpy(copy, token, len + 1);
    copy[len - 10] = copy[len - 10] == 'A' ? 'B' : 'A';      /* in the signature */
    expect_refused(judge(copy, len, ISSUER, INSIDE), "signature", "RS256");
    memcpy(copy, token, len + 1);
    char *dot = strchr(copy, '.');
    dot[20] = dot[20] == 'A' ? 'B' : 'A';                     /* in the claims */
    json_t *v = judge(copy, len, ISSUER, INSIDE);
    assert_false(json_is_true(json_object_get(v, "authentic")));
    json_decref(v);
    expect_refused(judge("a.b", 3, ISSUER, INSIDE), "token", "not a JWT");
    /* a key id the JWKS does not have */
    size_t jlen;
    uint8_t *jwks = slurp("maa/certs.jwks.json", &jlen);
    char *other = strstr((char *)jwks, "rPtBGRWTlPmzs5u35L0QRD9WdymeKPRxteTeTlwN0Ec=");
    assert_non_null(other);
    other[0] = 'X';
    cl_error err = { 0 };
    assert_int_equal(cl_maa_verify((const char *)token, len, (const char *)jwks, jlen, ISSUER,
                                   INSIDE, &v, &err), 0);
    expect_refused(v, "signing_key", "has no key");
    free(jwks);
    free(copy);
    free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_tokens_verify_with_their_claims),
        cmocka_unit_test(test_damaged_and_foreign_tokens_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
