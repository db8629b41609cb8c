/* Unit tests: the account CA (lib/pki.c) issues certificates from CSRs
 * that chain to it and name its public URLs, refuses a CSR whose signature
 * is not its key's, and signs CRLs that list what it revoked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#define ACCOUNT "4f7a2c9e-1b3d-4e6f-8a0c-2d4e6f8a0b1c"

static X509_REQ *csr_for(EVP_PKEY *key, const char *cn)
{
    X509_REQ *req = X509_REQ_new();

    X509_REQ_set_version(req, 0);
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_REQ_set_pubkey(req, key);
    X509_REQ_sign(req, key, EVP_sha256());
    return req;
}

static void test_issued_certificates_chain_to_the_ca(void **state)
{
    EVP_PKEY *ca_key, *node_key = EVP_EC_gen("P-256"), *other = EVP_EC_gen("P-256");
    X509 *ca, *cert;
    X509_REQ *csr = csr_for(node_key, "ignored");
    cl_error err = { 0 };
    char serial[41];
    (void)state;

    assert_int_equal(cl_pki_ca_new(&ca_key, &ca, ACCOUNT, &err), 0);
    assert_int_equal(X509_check_ca(ca), 1);
    static const char *const names[] = { "api.example.com", "*.internal.example.com", NULL };
    const cl_pki_subject subject = { "node-1", names, 30 * 86400L, 1 };
    assert_int_equal(cl_pki_issue(&cert, serial, csr, ca, ca_key, &subject,
                                  "https://cloister.example.com", ACCOUNT, &err), 0);
    assert_int_equal(X509_verify(cert, ca_key), 1);
    assert_int_equal(X509_check_issued(ca, cert), X509_V_OK);
    assert_int_equal(X509_check_ca(cert), 0);
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(cert), node_key), 1);
    assert_true(strlen(serial) > 0 && strspn(serial, "0123456789abcdef") == strlen(serial));

    /* it names the CRL and the CA where API.md puts them */
    STACK_OF(DIST_POINT) *points = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL,
                                                    NULL);
    assert_non_null(points);
    GENERAL_NAME *uri = sk_GENERAL_NAME_value(
        sk_DIST_POINT_value(points, 0)->distpoint->name.fullname, 0);
    assert_string_equal((const char *)ASN1_STRING_get0_data(uri->d.uniformResourceIdentifier),
                        "https://cloister.example.com/pki/" ACCOUNT "/crl.der");
    CRL_DIST_POINTS_free(points);

    /* the names asked for, as DNS subjectAltNames, and for TLS */
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    assert_int_equal(sk_GENERAL_NAME_num(sans), 2);
    assert_string_equal((const char *)ASN1_STRING_get0_data(
                            sk_GENERAL_NAME_value(sans, 1)->d.dNSName), "*.internal.example.com");
    GENERAL_NAMES_free(sans);
    assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
    assert_int_equal(X509_check_host(cert, "api.example.com", 0, 0, NULL), 1);

    /* a CSR that another key signed is refused */
    X509 *none;
    X509_REQ *forged = csr_for(node_key, "forged");
    X509_REQ_set_pubkey(forged, other);
    const cl_pki_subject x = { "x", NULL, 3600, 0 };
    assert_int_equal(cl_pki_issue(&none, serial, forged, ca, ca_key, &x, NULL, ACCOUNT, &err),
                     CL_EINVALID);
    assert_non_null(strstr(err.message, "does not verify"));

    /* the CRL lists what was revoked and is signed by the CA */
    const char *revoked[1] = { serial };
    unsigned char *der;
    size_t len;
    assert_int_equal(cl_pki_crl(&der, &len, ca, ca_key, revoked, 1, time(NULL), &err), 0);
    const unsigned char *p = der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
    assert_non_null(crl);
    assert_int_equal(X509_CRL_verify(crl, ca_key), 1);
    X509_REVOKED *entry = NULL;
    assert_int_equal(X509_CRL_get0_by_cert(crl, &entry, cert), 1);
    X509_CRL_free(crl);
    free(der);

    X509_REQ_free(forged);
    X509_REQ_free(csr);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(node_key);
    EVP_PKEY_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issued_certificates_chain_to_the_ca),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
