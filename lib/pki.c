/* pki.c - certificates and CRLs with OpenSSL; see pki.h. */
#include "pki.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
        return -1;
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return 0;
}

X509 *cl_pki_make_cert(const char *cn, const char *org, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key, const BIGNUM *serial, int ca, time_t now,
                       long seconds, const char *const *extra)
{
    X509 *cert = X509_new();
    X509_NAME *name;

    if (cert == NULL)
        return NULL;
    X509_set_version(cert, 2);
    BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert));
    name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509_time_adj_ex(X509_getm_notBefore(cert), 0, -3600, &now);   /* an hour of clock skew */
    X509_time_adj_ex(X509_getm_notAfter(cert), (int)(seconds / 86400), seconds % 86400, &now);
    X509_set_pubkey(cert, key);
    int ok = add_ext(cert, issuer, NID_basic_constraints,
                     ca ? "critical,CA:TRUE" : "critical,CA:FALSE") == 0 &&
             add_ext(cert, issuer, NID_key_usage,
                     ca ? "critical,keyCertSign,cRLSign"
                        : "critical,digitalSignature,nonRepudiation") == 0 &&
             add_ext(cert, issuer, NID_subject_key_identifier, "hash") == 0 &&
             add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always") == 0;
    for (size_t i = 0; ok && extra != NULL && extra[i] != NULL; i += 2)
        ok = add_ext(cert, issuer, OBJ_txt2nid(extra[i]), extra[i + 1]) == 0;
    if (!ok || X509_sign(cert, issuer_key, EVP_sha256()) <= 0) {
        X509_free(cert);
        ERR_clear_error();
        return NULL;
    }
    return cert;
}

int cl_pki_make_crl(unsigned char **der, size_t *len, X509 *issuer, EVP_PKEY *key,
                    const ASN1_INTEGER *const *serials, size_t n, time_t now, int days)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t = ASN1_TIME_new();
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int size, ok;

    *der = NULL;
    ok = crl != NULL && t != NULL && X509_CRL_set_version(crl, 1) &&
         X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) &&
         X509_time_adj_ex(t, 0, -3600, &now) && X509_CRL_set1_lastUpdate(crl, t) &&
         X509_time_adj_ex(t, days, 0, &now) && X509_CRL_set1_nextUpdate(crl, t);
    for (size_t i = 0; ok && i < n; i++) {
        X509_REVOKED *r = X509_REVOKED_new();

        X509_time_adj_ex(t, 0, 0, &now);
        ok = r != NULL && X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)serials[i]) &&
             X509_REVOKED_set_revocationDate(r, t) && X509_CRL_add0_revoked(crl, r);
    }
    X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
    if (ok && (ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
                                         "keyid:always")) != NULL) {
        X509_CRL_add_ext(crl, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, key, EVP_sha256()) > 0 &&
         (size = i2d_X509_CRL(crl, NULL)) > 0 && (*der = malloc((size_t)size)) != NULL;
    if (ok) {
        unsigned char *p = *der;
        *len = (size_t)i2d_X509_CRL(crl, &p);
    }
    ASN1_TIME_free(t);
    X509_CRL_free(crl);
    ERR_clear_error();
    return ok ? 0 : -1;
}

int cl_pki_ca_new(EVP_PKEY **key, X509 **cert, const char *account_id, cl_error *err)
{
    BIGNUM *serial = BN_new();
    char cn[128];

    *cert = NULL;
    *key = EVP_EC_gen("P-256");
    snprintf(cn, sizeof(cn), "Cloister account CA %s", account_id);
    if (*key != NULL && serial != NULL && BN_rand(serial, 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY))
        *cert = cl_pki_make_cert(cn, "Cloister", *key, NULL, *key, serial, 1, time(NULL),
                                 3650 * 86400L, NULL);
    BN_free(serial);
    if (*cert == NULL) {
        EVP_PKEY_free(*key);
        *key = NULL;
        return cl_error_set(err, CL_ERROR, "could not make the account's CA");
    }
    return 0;
}

/* The subjectAltName value for DNS names ("DNS:a,DNS:b"), malloc'd; NULL
 * when there are none or a name cannot be one. */
static char *alt_names(const char *const *names)
{
    size_t len = 1;
    char *out;

    for (size_t i = 0; names != NULL && names[i] != NULL; i++) {
        if (names[i][0] == '\0' || strpbrk(names[i], ",:\"\\ ") != NULL)
            return NULL;
        len += strlen(names[i]) + 5;
    }
    if (len == 1 || (out = malloc(len)) == NULL)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0, at = 0; names[i] != NULL; i++)
        at += (size_t)snprintf(out + at, len - at, "%sDNS:%s", i ? "," : "", names[i]);
    return out;
}

int cl_pki_issue(X509 **out, char serial_hex[41], X509_REQ *csr, X509 *ca, EVP_PKEY *ca_key,
                 const cl_pki_subject *subject, const char *public_url,
                 const char *account_id, cl_error *err)
{
    EVP_PKEY *key = X509_REQ_get0_pubkey(csr);
    BIGNUM *serial = BN_new();
    char crl[600], issuers[600], *hex = NULL, *sans = alt_names(subject->dns_names);
    const char *extra[9] = { NULL };
    size_t n = 0;
    int rc = 0;

    *out = NULL;
    if (key == NULL || X509_REQ_verify(csr, key) != 1) {
        BN_free(serial);
        free(sans);
        ERR_clear_error();
        return cl_error_set(err, CL_EINVALID, "the CSR's signature does not verify with its "
                            "own key");
    }
    if (public_url != NULL && public_url[0] != '\0') {
        snprintf(crl, sizeof(crl), "URI:%s/pki/%s/crl.der", public_url, account_id);
        snprintf(issuers, sizeof(issuers), "caIssuers;URI:%s/pki/%s/ca.pem", public_url,
                 account_id);
        extra[n++] = "crlDistributionPoints";
        extra[n++] = crl;
        extra[n++] = "authorityInfoAccess";
        extra[n++] = issuers;
    }
    if (sans != NULL) {
        extra[n++] = "subjectAltName";
        extra[n++] = sans;
    }
    if (subject->server) {
        extra[n++] = "extendedKeyUsage";
        extra[n++] = "serverAuth,clientAuth";
    }
    if (serial == NULL || !BN_rand(serial, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) ||
        (*out = cl_pki_make_cert(subject->cn, "Cloister", key, ca, ca_key, serial, 0, time(NULL),
                                 subject->lifetime, extra)) == NULL ||
        (hex = BN_bn2hex(serial)) == NULL)
        rc = cl_error_set(err, CL_ERROR, "could not issue the certificate");
    if (rc == 0) {
        for (char *p = hex; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'F' ? *p + 32 : *p);
        snprintf(serial_hex, 41, "%s", hex);
    } else {
        X509_free(*out);
        *out = NULL;
    }
    OPENSSL_free(hex);
    BN_free(serial);
    free(sans);
    return rc;
}

int cl_pki_crl(unsigned char **der, size_t *len, X509 *ca, EVP_PKEY *ca_key,
               const char *const *serials, size_t n, time_t now, cl_error *err)
{
    ASN1_INTEGER **list = calloc(n + 1, sizeof(*list));
    int rc = 0;

    for (size_t i = 0; list != NULL && i < n && rc == 0; i++) {
        BIGNUM *bn = NULL;

        if (BN_hex2bn(&bn, serials[i]) == 0 || (list[i] = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
            rc = cl_error_set(err, CL_EINVALID, "serial \"%.40s\" is not hex", serials[i]);
        BN_free(bn);
    }
    if (list == NULL)
        rc = cl_error_set(err, CL_ERROR, "out of memory");
    if (rc == 0 && cl_pki_make_crl(der, len, ca, ca_key, (const ASN1_INTEGER *const *)list, n,
                                   now, 7) < 0)
        rc = cl_error_set(err, CL_ERROR, "could not sign the CRL");
    for (size_t i = 0; list != NULL && i < n; i++)
        ASN1_INTEGER_free(list[i]);
    free(list);
    return rc;
}

char *cl_pki_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long n;

    if (bio != NULL && PEM_write_bio_X509(bio, cert) && (n = BIO_get_mem_data(bio, &data)) > 0 &&
        (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(bio);
    return out;
}

X509_REQ *cl_pki_csr(EVP_PKEY *key, const char *cn, const char *const *dns_names)
{
    X509_REQ *req = X509_REQ_new();
    char *sans = alt_names(dns_names);
    int ok = req != NULL && X509_REQ_set_version(req, 0) == 1 &&
             X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
                                        (const unsigned char *)cn, -1, -1, 0) == 1 &&
             X509_REQ_set_pubkey(req, key) == 1;

    if (ok && sans != NULL) {
        STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sans);

        ok = exts != NULL && ext != NULL && sk_X509_EXTENSION_push(exts, ext) > 0;
        if (!ok)
            X509_EXTENSION_free(ext);
        ok = ok && X509_REQ_add_extensions(req, exts) == 1;
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    free(sans);
    if (!ok || X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        X509_REQ_free(req);
        ERR_clear_error();
        return NULL;
    }
    return req;
}

char *cl_pki_csr_pem(X509_REQ *csr)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long n;

    if (bio != NULL && PEM_write_bio_X509_REQ(bio, csr) &&
        (n = BIO_get_mem_data(bio, &data)) > 0 && (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(bio);
    return out;
}

int cl_pki_spki(EVP_PKEY *key, unsigned char **der, size_t *len)
{
    int n = i2d_PUBKEY(key, NULL);
    unsigned char *p;

    *der = NULL;
    if (n <= 0 || (*der = malloc((size_t)n)) == NULL)
        return -1;
    p = *der;
    *len = (size_t)i2d_PUBKEY(key, &p);
    return 0;
}
