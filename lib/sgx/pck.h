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
 * What was verified once and holds whatever the time: signatures of
 * certificates, CRLs and collateral, keyed by the SHA-256 of everything the
 * verdict depended on.  Only what passed is remembered; what depends on the
 * time (validity windows) is checked every time.  Safe to share between
 * threads; bounded (it starts over when full).
 */
typedef struct cl_verify_cache cl_verify_cache;

cl_verify_cache *cl_verify_cache_new(void);
void cl_verify_cache_free(cl_verify_cache *cache);
/* Whether key was added (cache may be NULL: never). */
int cl_verify_cache_has(cl_verify_cache *cache, const uint8_t key[32]);
void cl_verify_cache_add(cl_verify_cache *cache, const uint8_t key[32]);

/* Parsed objects kept by the digest of the bytes they were parsed from, so
 * that the same certificate chain, CRL or collateral is parsed once.  An
 * object kept is immutable and lives as long as the cache (nothing is
 * evicted; when full, nothing more is kept).  _object: the object under
 * key (borrowed) or NULL; _keep: 1 when the cache took obj (it frees it
 * with free_fn), 0 when it did not (the caller keeps it). */
void *cl_verify_cache_object(cl_verify_cache *cache, const uint8_t key[32]);
int cl_verify_cache_keep(cl_verify_cache *cache, const uint8_t key[32], void *obj,
                         void (*free_fn)(void *));

/*
 * Verify leaf up the chain through untrusted (may be NULL) to one of roots
 * at time `at`, every certificate but the root checked against the crls
 * (revocation, and each CRL's signature and validity).  CL_EINVALID with
 * the reason OpenSSL gives, said plainly.  With a cache (may be NULL), a
 * chain with the same certificates, CRLs and roots is verified by OpenSSL
 * once, without regard to time; the times of its certificates and CRLs
 * are checked at `at` on every call, as OpenSSL would check them.
 */
int cl_chain_verify(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *roots,
                    STACK_OF(X509_CRL) *crls, time_t at, cl_verify_cache *cache,
                    cl_error *err);

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

/* key's ECDSA signature of SHA-256(data) as r||s; 0, or -1 when it fails. */
int cl_p256_sign(EVP_PKEY *key, const void *data, size_t len, uint8_t out[64]);

#endif
