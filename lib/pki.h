/*
 * pki.h - an account's certificate authority: an EC P-256 CA that
 * certifies the account's nodes and, later, its applications; the
 * certificates it issues from CSRs; and its CRL.
 *
 * The CA certificate and CRL are public at stable URLs (API.md):
 * {public_url}/pki/{account_id}/ca.pem and .../crl.der; when a public URL is
 * known, every certificate the CA issues names the CRL's
 * (cRLDistributionPoints) and the CA's (authorityInfoAccess caIssuers).
 */
#ifndef CL_PKI_H
#define CL_PKI_H

#include "error.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <time.h>

/* A new CA for the account, valid ten years from now. */
int cl_pki_ca_new(EVP_PKEY **key, X509 **cert, const char *account_id, cl_error *err);

/* What a certificate the CA issues says. */
typedef struct cl_pki_subject {
    const char *cn;
    const char *const *dns_names;   /* subjectAltName DNS names, NULL-terminated; may be NULL */
    long lifetime;                  /* seconds */
    int server;                     /* extendedKeyUsage serverAuth and clientAuth */
} cl_pki_subject;

/* A certificate for csr's key (the CSR's own signature checked first),
 * saying what subject says, with a random serial (lower-case hex into
 * serial, 41 bytes); public_url may be NULL or empty. */
int cl_pki_issue(X509 **out, char serial[41], X509_REQ *csr, X509 *ca, EVP_PKEY *ca_key,
                 const cl_pki_subject *subject, const char *public_url,
                 const char *account_id, cl_error *err);

/* The CA's CRL (DER, malloc'd) revoking the serials given (lower-case hex),
 * issued at `now`, valid seven days. */
int cl_pki_crl(unsigned char **der, size_t *len, X509 *ca, EVP_PKEY *ca_key,
               const char *const *serials, size_t n, time_t now, cl_error *err);

/* PEM of a certificate, malloc'd, NUL-terminated. */
char *cl_pki_pem(X509 *cert);

/* A CSR for key, named cn, asking for dns_names (subjectAltName DNS
 * entries; NULL-terminated, may be NULL), signed by key; NULL on failure.
 * And its PEM (malloc'd). */
X509_REQ *cl_pki_csr(EVP_PKEY *key, const char *cn, const char *const *dns_names);
char *cl_pki_csr_pem(X509_REQ *csr);

/* key's DER SubjectPublicKeyInfo (malloc'd), what evidence binds (API.md). */
int cl_pki_spki(EVP_PKEY *key, unsigned char **der, size_t *len);

/* The pieces, for other PKIs (lib/sgx/simulate.c): a certificate named
 * cn and org for key, issued by issuer (NULL: self-signed) with
 * issuer_key, a CA or not, valid from an hour before now for `seconds`, with
 * extra extensions as name/value pairs (NULL-terminated; may be NULL); and
 * a CRL of issuer's revoking serials, valid `days`. */
X509 *cl_pki_make_cert(const char *cn, const char *org, EVP_PKEY *key, X509 *issuer,
                       EVP_PKEY *issuer_key, const BIGNUM *serial, int ca, time_t now,
                       long seconds, const char *const *extra);
int cl_pki_make_crl(unsigned char **der, size_t *len, X509 *issuer, EVP_PKEY *key,
                    const ASN1_INTEGER *const *serials, size_t n, time_t now, int days);

#endif
