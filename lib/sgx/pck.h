/*
 * pck.h - the X.509 side of SGX attestation: PEM chains, verifying a chain
 * to a trust root with CRLs at a given time, the SGX extensions of a PCK
 * certificate, and ECDSA P-256 signatures as SGX writes them (r||s, and
 * public keys as x||y).
 *
 * Trust roots are matched by public key, not by the certificate's bytes:
 * quotes may embed an older self-signed copy of the Intel SGX Root CA (the
 * same key and serial, other validity dates).
 */
#ifndef CL_SGX_PCK_H
#define CL_SGX_PCK_H

#include "error.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Every certificate of a PEM text, in order (at most 8); a new stack. */
int cl_pem_chain(STACK_OF(X509) **out, const char *pem, size_t len, cl_error *err);

/* One certificate or CRL read from PEM or DER. */
int cl_x509_read(X509 **out, const uint8_t *data, size_t len, cl_error *err);
int cl_crl_read(X509_CRL **out, const uint8_t *data, size_t len, cl_error *err);

/* The trust root whose public key is root's, or NULL. */
X509 *cl_trust_root_match(X509 *root, STACK_OF(X509) *roots);

/*
 * Verify leaf up the chain through untrusted (may be NULL) to one of roots
 * at time `at`, every certificate but the root checked against the crls
 * (revocation, and each CRL's signature and validity).  CL_EINVALID with
 * the reason OpenSSL gives, said plainly.
 */
int cl_chain_verify(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *roots,
                    STACK_OF(X509_CRL) *crls, time_t at, cl_error *err);

/* What a PCK certificate says of the platform (OID 1.2.840.113741.1.13.1). */
typedef struct cl_pck_info {
    uint8_t ppid[16];
    uint8_t components[16];     /* SGX TCB component SVNs */
    uint16_t pcesvn;
    uint8_t cpusvn[16];
    uint8_t pceid[2];
    uint8_t fmspc[6];
    int sgx_type;               /* 0 standard, 1 scalable, 2 scalable with integrity */
} cl_pck_info;

int cl_pck_info_read(X509 *pck, cl_pck_info *out, cl_error *err);

/* An ECDSA P-256 public key from its 64 bytes x||y. */
int cl_p256_key(EVP_PKEY **out, const uint8_t xy[64], cl_error *err);

/* Whether sig (64 bytes, r||s) is key's ECDSA signature of SHA-256(data). */
int cl_p256_verify(EVP_PKEY *key, const uint8_t sig[64], const void *data, size_t len);

#endif
