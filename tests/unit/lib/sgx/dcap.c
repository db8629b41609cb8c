/* Unit tests: SGX DCAP quote verification against real quotes and the
 * collateral Intel published for them (tests/data/dcap/), each case's
 * documented outcome at its documented time, and every kind of damage
 * refused with its own reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sgx/dcap.h"
#include "sgx/simulate.h"
#include "test_data.h"

/* Every test runs twice: without a cache, then with one shared by all, so
 * that what is remembered never changes a verdict. */
static cl_verify_cache *the_cache;
#define sim_cache the_cache

typedef struct dcap_case {
    cl_verify_cache *cache;
    uint8_t *quote;
    size_t quote_len;
    uint8_t *files[6];
    size_t lens[6];
    cl_dcap_collateral c;
    json_t *expected;
    time_t at;
} dcap_case;

static const char *const files[6] = {
    "tcb_info.json", "tcb_info_issuer_chain.pem", "qe_identity.json",
    "qe_identity_issuer_chain.pem", "pck_crl.der", "root_ca_crl.der",
};

static void load(dcap_case *k, const char *name)
{
    char path[256];
    size_t len;
    uint8_t *text;

    k->cache = the_cache;
    snprintf(path, sizeof(path), "dcap/%s/quote.bin", name);
    k->quote = slurp(path, &k->quote_len);
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "dcap/%s/%s", name, files[i]);
        k->files[i] = slurp(path, &k->lens[i]);
    }
    k->c = (cl_dcap_collateral){
        (const char *)k->files[0], k->lens[0], (const char *)k->files[1], k->lens[1],
        (const char *)k->files[2], k->lens[2], (const char *)k->files[3], k->lens[3],
        k->files[4], k->lens[4], k->files[5], k->lens[5],
    };
    snprintf(path, sizeof(path), "dcap/%s/expected.json", name);
    text = slurp(path, &len);
    k->expected = json_loadb((const char *)text, len, 0, NULL);
    free(text);
    assert_non_null(k->expected);
    k->at = (time_t)json_integer_value(json_object_get(k->expected, "verify_at"));
}

static void unload(dcap_case *k)
{
    free(k->quote);
    for (int i = 0; i < 6; i++)
        free(k->files[i]);
    json_decref(k->expected);
}

static json_t *judge(dcap_case *k, const uint8_t *quote, size_t len, time_t at)
{
    STACK_OF(X509) *roots = cl_intel_sgx_roots();
    json_t *verdict = NULL;
    cl_error err = { 0 };

    assert_int_equal(cl_dcap_verify(quote, len, &k->c, roots, at, k->cache, &verdict, &err), 0);
    sk_X509_pop_free(roots, X509_free);
    return verdict;
}

/* The name and detail of the failed check, which must be the last. */
static void expect_refused(json_t *verdict, const char *check, const char *words)
{
    json_t *checks = json_object_get(verdict, "checks");
    json_t *last = json_array_get(checks, json_array_size(checks) - 1);
    const char *name = json_string_value(json_object_get(last, "name"));
    const char *detail = json_string_value(json_object_get(last, "detail"));

    assert_false(json_is_true(json_object_get(verdict, "authentic")));
    assert_false(json_is_true(json_object_get(last, "ok")));
    if (strcmp(name, check) != 0 || strstr(detail, words) == NULL)
        fail_msg("refused at \"%s\" (%s); wanted \"%s\" saying \"%s\"", name, detail, check,
                 words);
    json_decref(verdict);
}

static void test_real_quotes_get_their_documented_outcome(void **state)
{
    static const char *const cases[] = { "dcap-qvl-2025", "automata-v3",
                                         "automata-v3-tcbinfo-v2" };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dcap_case k;
        load(&k, cases[i]);
        json_t *v = judge(&k, k.quote, k.quote_len, k.at), *want = k.expected;

        if (!json_is_true(json_object_get(v, "authentic")))
            fail_msg("%s: not authentic: %s", cases[i], json_dumps(v, JSON_COMPACT));
        assert_int_equal(json_array_size(json_object_get(v, "checks")), 10);
        json_t *q = json_object_get(v, "quote");
        assert_string_equal(json_string_value(json_object_get(q, "mrenclave")),
                            json_string_value(json_object_get(want, "mrenclave")));
        assert_string_equal(json_string_value(json_object_get(q, "mrsigner")),
                            json_string_value(json_object_get(want, "mrsigner")));
        if (json_is_string(json_object_get(want, "tcb_status"))) {
            assert_string_equal(json_string_value(json_object_get(v, "tcb_status")),
                                json_string_value(json_object_get(want, "tcb_status")));
            assert_true(json_equal(json_object_get(v, "advisory_ids"),
                                   json_object_get(want, "advisory_ids")));
        }
        if (json_is_string(json_object_get(want, "fmspc")))
            assert_int_equal(strcasecmp(json_string_value(json_object_get(json_object_get(
                v, "pck"), "fmspc")), json_string_value(json_object_get(want, "fmspc"))), 0);
        assert_string_equal(json_string_value(json_object_get(v, "trust_root")),
                            "Intel SGX Root CA");
        json_decref(v);
        unload(&k);
    }
}

/* Authentic yet refused: the default policy takes only UpToDate and
 * SWHardeningNeeded without advisories; accepting them accepts it. */
static void test_policy_decides_apart_from_authenticity(void **state)
{
    static const char *const statuses[] = { "ConfigurationAndSWHardeningNeeded", NULL };
    static const char *const advisories[] = { "INTEL-SA-00289", "INTEL-SA-00615", NULL };
    cl_attestation_policy lenient = { statuses, advisories, 0, 0 };
    dcap_case k;
    (void)state;

    load(&k, "dcap-qvl-2025");
    json_t *v = judge(&k, k.quote, k.quote_len, k.at);
    cl_dcap_policy(v, &cl_attestation_policy_default);
    json_t *policy = json_object_get(v, "policy");
    assert_string_equal(json_string_value(json_object_get(policy, "verdict")), "refused");
    assert_string_equal(json_string_value(json_array_get(json_object_get(policy, "reasons"), 0)),
                        "TCB status ConfigurationAndSWHardeningNeeded is not accepted");
    assert_int_equal(json_array_size(json_object_get(policy, "reasons")), 3);
    cl_dcap_policy(v, &lenient);
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "policy"),
                                                          "verdict")), "accepted");
    lenient.min_isvsvn = 1;
    cl_dcap_policy(v, &lenient);
    assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(
        v, "policy"), "reasons"), 0)), "ISVSVN 0 is below the minimum 1");
    json_decref(v);
    unload(&k);
}

/* Outside the collateral's window nothing is authentic. */
static void test_collateral_has_a_time_window(void **state)
{
    dcap_case k;
    (void)state;

    load(&k, "automata-v3-tcbinfo-v2");
    /* [2025-06-04T09:25:11Z, 2025-07-04T09:19:31Z): the TCB Info's issueDate ... */
    expect_refused(judge(&k, k.quote, k.quote_len, 1749029111 - 1), "tcb_info",
                   "was issued at 2025-06-04T09:25:11Z");
    /* ... to the PCK CA CRL's nextUpdate, a second before the QE identity's */
    json_t *v = judge(&k, k.quote, k.quote_len, 1751620771 - 1);
    assert_true(json_is_true(json_object_get(v, "authentic")));
    json_decref(v);
    expect_refused(judge(&k, k.quote, k.quote_len, 1751620771), "pck_chain",
                   "CRL has expired");
    unload(&k);
}

static void test_every_damaged_byte_is_refused_with_its_reason(void **state)
{
    static const struct {
        size_t offset;
        const char *check, *words;
    } damage[] = {
        { 48 + 64, "quote_signature", "does not verify with its attestation key" },  /* MRENCLAVE */
        { 48 + 320, "quote_signature", "does not verify" },                          /* REPORTDATA */
        { 20, "quote_signature", "does not verify" },                                /* header */
        { 436 + 10, "quote_signature", "does not verify" },                          /* signature */
        { 436 + 64 + 5, "qe_report_data", "attestation key" },                       /* key */
        { 436 + 128 + 64, "qe_report_signature", "PCK certificate's key" },          /* QE report */
        { 436 + 128 + 384 + 7, "qe_report_signature", "PCK certificate's key" },     /* its sig */
        { 436 + 128 + 384 + 64 + 2 + 3, "qe_report_data", "authentication data" },   /* auth */
    };
    dcap_case k;
    (void)state;

    load(&k, "dcap-qvl-2025");
    uint8_t *copy = malloc(k.quote_len);
    for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
        memcpy(copy, k.quote, k.quote_len);
        copy[damage[i].offset] ^= 0x01;
        expect_refused(judge(&k, copy, k.quote_len, k.at), damage[i].check, damage[i].words);
    }
    /* a byte of the PCK leaf's signature, inside its PEM */
    memcpy(copy, k.quote, k.quote_len);
    char *end = memmem(copy + 1000, k.quote_len - 1000, "-----END CERTIFICATE-----", 25);
    assert_non_null(end);
    end[-10] = end[-10] == 'A' ? 'B' : 'A';
    expect_refused(judge(&k, copy, k.quote_len, k.at), "pck_chain", "signature");
    free(copy);

    /* the collateral: a digit of a signed value, a digit of a signature */
    for (int doc = 0; doc < 2; doc++) {
        uint8_t *saved = k.files[doc * 2];
        size_t len = k.lens[doc * 2];
        uint8_t *changed = malloc(len + 1);
        memcpy(changed, saved, len);
        changed[len] = '\0';                     /* for strstr; len stays as it was */
        char *num = strstr((char *)changed, "\"tcbEvaluationDataNumber\":");
        assert_non_null(num);
        num[26] = num[26] == '1' ? '2' : '1';
        if (doc == 0)
            k.c.tcb_info = (const char *)changed;
        else
            k.c.qe_identity = (const char *)changed;
        expect_refused(judge(&k, k.quote, k.quote_len, k.at), doc ? "qe_identity" : "tcb_info",
                       "signature does not verify");
        memcpy(changed, saved, len);
        char *sig = strstr((char *)changed, "\"signature\":\"");
        sig[20] = sig[20] == '0' ? '1' : '0';
        expect_refused(judge(&k, k.quote, k.quote_len, k.at), doc ? "qe_identity" : "tcb_info",
                       "signature does not verify");
        k.c.tcb_info = (const char *)k.files[0];
        k.c.qe_identity = (const char *)k.files[2];
        free(changed);
    }
    unload(&k);
}

static void test_malformed_quotes_are_refused_by_name(void **state)
{
    dcap_case k;
    (void)state;

    load(&k, "automata-v3");
    uint8_t *copy = malloc(k.quote_len);
    expect_refused(judge(&k, k.quote, 100, k.at), "quote", "truncated: its report body");
    expect_refused(judge(&k, k.quote, k.quote_len - 1, k.at), "quote", "signature data");
    memcpy(copy, k.quote, k.quote_len);
    copy[0] = 5;
    expect_refused(judge(&k, copy, k.quote_len, k.at), "quote", "version 5 is not supported");
    memcpy(copy, k.quote, k.quote_len);
    copy[0] = 4;
    copy[4] = 0x81;
    expect_refused(judge(&k, copy, k.quote_len, k.at), "quote", "TDX");
    memcpy(copy, k.quote, k.quote_len);
    copy[2] = 3;
    expect_refused(judge(&k, copy, k.quote_len, k.at), "quote", "attestation key type 3");
    free(copy);
    unload(&k);
}

/* A quote whose chain does not end in a trusted root, and collateral missing. */
static void test_wrong_root_and_missing_collateral(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *other = X509_new();
    STACK_OF(X509) *roots = sk_X509_new_null();
    json_t *v;
    cl_error err = { 0 };
    dcap_case k;
    (void)state;

    X509_set_version(other, 2);
    X509_set_pubkey(other, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(other), "CN", MBSTRING_ASC,
                               (const unsigned char *)"Not Intel", -1, -1, 0);
    X509_set_issuer_name(other, X509_get_subject_name(other));
    X509_gmtime_adj(X509_getm_notBefore(other), -86400L * 3650);
    X509_gmtime_adj(X509_getm_notAfter(other), 86400L * 3650);
    X509_sign(other, key, EVP_sha256());
    sk_X509_push(roots, other);
    load(&k, "automata-v3");
    assert_int_equal(cl_dcap_verify(k.quote, k.quote_len, &k.c, roots, k.at, k.cache, &v, &err), 0);
    expect_refused(v, "pck_chain", "root that is not trusted");
    k.c.tcb_info = NULL;
    expect_refused(judge(&k, k.quote, k.quote_len, k.at), "tcb_info", "no tcbInfo collateral");
    sk_X509_pop_free(roots, X509_free);
    EVP_PKEY_free(key);
    unload(&k);
}

/* ---- the simulation PKI ------------------------------------------------------- */

static const cl_sim_enclave enclave = {
    .mrenclave = { 0xaa, 0x01 }, .mrsigner = { 0xbb, 0x02 }, .isvprodid = 7, .isvsvn = 3,
    .flags = 0x4, .reportdata = { 'n', 'o', 'n', 'c', 'e' },
};

static json_t *judge_sim(cl_sim_pki *p, const uint8_t *quote, size_t len, int trust_it,
                         time_t at)
{
    STACK_OF(X509) *roots = cl_intel_sgx_roots();
    json_t *verdict = NULL;
    cl_error err = { 0 };

    if (trust_it)
        sk_X509_push(roots, X509_dup(cl_sim_root(p)));
    assert_int_equal(cl_dcap_verify(quote, len, cl_sim_collateral(p), roots, at, sim_cache, &verdict,
                                    &err), 0);
    sk_X509_pop_free(roots, X509_free);
    return verdict;
}

static cl_sim_options sim_options(void)
{
    cl_sim_options o = { .now = time(NULL), .pcesvn = 13, .qe_isvsvn = 8 };

    for (int i = 0; i < 16; i++)
        o.components[i] = (uint8_t)(i < 4 ? 5 : 0);
    return o;
}

/* Quotes of both versions verify, under the simulation's root only when it
 * is trusted, and say they are simulated. */
static void test_simulated_quotes_of_both_versions(void **state)
{
    cl_sim_options o = sim_options();
    cl_sim_pki *p;
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(cl_sim_pki_new(&p, &o, &err), 0);
    for (int version = 3; version <= 4; version++) {
        uint8_t *quote;
        size_t len;

        assert_int_equal(cl_sim_quote(p, version, &enclave, &quote, &len, &err), 0);
        json_t *v = judge_sim(p, quote, len, 1, o.now);
        if (!json_is_true(json_object_get(v, "authentic")))
            fail_msg("version %d: %s", version, json_dumps(v, JSON_COMPACT));
        json_t *q = json_object_get(v, "quote");
        assert_int_equal(json_integer_value(json_object_get(q, "version")), version);
        assert_string_equal(json_string_value(json_object_get(q, "mrenclave")),
                            "aa01000000000000000000000000000000000000000000000000000000000000");
        assert_int_equal(json_integer_value(json_object_get(q, "isvprodid")), 7);
        assert_string_equal(json_string_value(json_object_get(v, "tcb_status")), "UpToDate");
        assert_true(json_is_true(json_object_get(v, "simulated")));
        assert_string_equal(json_string_value(json_object_get(v, "trust_root")),
                            "Cloister Simulation SGX Root CA");
        json_decref(v);
        expect_refused(judge_sim(p, quote, len, 0, o.now), "pck_chain",
                       "root that is not trusted");
        quote[48 + 100] ^= 1;
        expect_refused(judge_sim(p, quote, len, 1, o.now), "quote_signature", "does not verify");
        quote[48 + 100] ^= 1;
        quote[len - 700] ^= 1;        /* inside the PEM chain */
        json_t *broken = judge_sim(p, quote, len, 1, o.now);
        assert_false(json_is_true(json_object_get(broken, "authentic")));
        json_decref(broken);
        free(quote);
    }
    cl_sim_pki_free(p);
}

/* A PCK on its CA's CRL; a QE below its identity's current level; a TCB
 * level the collateral marks out of date. */
static void test_revocation_and_levels(void **state)
{
    cl_sim_options o = sim_options();
    cl_sim_pki *p;
    cl_error err = { 0 };
    uint8_t *quote;
    size_t len;
    (void)state;

    o.revoke_pck = 1;
    assert_int_equal(cl_sim_pki_new(&p, &o, &err), 0);
    assert_int_equal(cl_sim_quote(p, 4, &enclave, &quote, &len, &err), 0);
    expect_refused(judge_sim(p, quote, len, 1, o.now), "pck_chain", "certificate revoked");
    free(quote);
    cl_sim_pki_free(p);

    o = sim_options();
    o.qe_isvsvn = 6;
    o.tcb_status = "SWHardeningNeeded";
    assert_int_equal(cl_sim_pki_new(&p, &o, &err), 0);
    assert_int_equal(cl_sim_quote(p, 3, &enclave, &quote, &len, &err), 0);
    json_t *v = judge_sim(p, quote, len, 1, o.now);
    assert_true(json_is_true(json_object_get(v, "authentic")));
    assert_string_equal(json_string_value(json_object_get(v, "platform_tcb_status")),
                        "SWHardeningNeeded");
    assert_string_equal(json_string_value(json_object_get(json_object_get(v, "qe"),
                                                          "tcb_status")), "OutOfDate");
    assert_string_equal(json_string_value(json_object_get(v, "tcb_status")), "OutOfDate");
    json_decref(v);
    /* a month and a day later the collateral has expired */
    expect_refused(judge_sim(p, quote, len, 1, o.now + 31 * 86400), "pck_chain",
                   "CRL has expired");
    free(quote);
    cl_sim_pki_free(p);

    o = sim_options();
    o.components[0] = 0;            /* below the platform's level: the zero level */
    o.tcb_status = "UpToDate";
    assert_int_equal(cl_sim_pki_new(&p, &o, &err), 0);
    assert_int_equal(cl_sim_quote(p, 3, &enclave, &quote, &len, &err), 0);
    v = judge_sim(p, quote, len, 1, o.now);
    assert_string_equal(json_string_value(json_object_get(v, "tcb_status")), "UpToDate");
    json_decref(v);
    free(quote);
    cl_sim_pki_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_quotes_get_their_documented_outcome),
        cmocka_unit_test(test_policy_decides_apart_from_authenticity),
        cmocka_unit_test(test_collateral_has_a_time_window),
        cmocka_unit_test(test_every_damaged_byte_is_refused_with_its_reason),
        cmocka_unit_test(test_malformed_quotes_are_refused_by_name),
        cmocka_unit_test(test_wrong_root_and_missing_collateral),
        cmocka_unit_test(test_simulated_quotes_of_both_versions),
        cmocka_unit_test(test_revocation_and_levels),
    };
    int failed = cmocka_run_group_tests_name("without a cache", tests, NULL, NULL);

    the_cache = cl_verify_cache_new();
    failed += cmocka_run_group_tests_name("with a cache", tests, NULL, NULL);
    cl_verify_cache_free(the_cache);
    return failed;
}
