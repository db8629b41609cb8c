/*
 * sigstruct.h - SIGSTRUCT, the enclave's signature structure (1808 bytes),
 * built, signed and checked.
 *
 * Layout (little-endian; tests/data/sgx/README.md): HEADER at 0, VENDOR 16,
 * DATE 20 (BCD day, month, u16 year), HEADER2 24, SWDEFINED 40, MODULUS
 * 128 (384 bytes), EXPONENT 512 (3), SIGNATURE 516 (384), MISCSELECT 900,
 * MISCMASK 904, ISVFAMILYID 912, ATTRIBUTES 928 (flags, xfrm), ATTRIBUTEMASK
 * 944, ENCLAVEHASH 960, ISVEXTPRODID 1008, ISVPRODID 1024, ISVSVN 1026, Q1
 * 1040 (384), Q2 1424 (384).  The signature is RSASSA-PKCS1-v1_5 with
 * SHA-256 over bytes [0, 128) and [900, 1028), by an RSA-3072 key with
 * exponent 3; Q1 = floor(s^2 / n) and Q2 = floor(s * (s^2 mod n) / n) let
 * the CPU check it cheaply.  MRSIGNER is the SHA-256 of the modulus.
 */
#ifndef CL_SGX_SIGSTRUCT_H
#define CL_SGX_SIGSTRUCT_H

#include "error.h"

#include <openssl/evp.h>
#include <stdint.h>

#define CL_SIGSTRUCT_SIZE 1808
#define CL_SIGSTRUCT_SIGNED_SIZE 256    /* the bytes the signature covers */
#define CL_SGX_SIGNATURE_SIZE 384       /* an RSA-3072 signature, big-endian */

typedef struct cl_sigstruct_fields {
    uint8_t enclave_hash[32];       /* MRENCLAVE */
    uint64_t attributes_flags;      /* 0x4 MODE64BIT, 0x2 DEBUG */
    uint64_t attributes_xfrm;
    uint64_t attributes_flags_mask;
    uint64_t attributes_xfrm_mask;
    uint32_t miscselect;
    uint32_t miscmask;
    uint16_t isvprodid;
    uint16_t isvsvn;
    int year, month, day;           /* DATE */
} cl_sigstruct_fields;

/* Fill out (1808 bytes) from fields and sign it with key, an RSA-3072 key
 * with exponent 3 (other keys are refused: the CPU accepts no other). */
int cl_sigstruct_sign(uint8_t out[CL_SIGSTRUCT_SIZE], const cl_sigstruct_fields *fields,
                      EVP_PKEY *key, cl_error *err);

/* Signing in two steps, for keys kept elsewhere: prepare the SIGSTRUCT
 * from fields (no key, no signature yet), hand its 256 signed bytes to the
 * key's holder, who signs them (RSASSA-PKCS1-v1_5, SHA-256), and attach the
 * signature with the public key: modulus, signature, Q1 and Q2 are filled
 * in and the result verified (CL_EINVALID when it does not). */
void cl_sigstruct_prepare(uint8_t out[CL_SIGSTRUCT_SIZE], const cl_sigstruct_fields *fields);
void cl_sigstruct_signed_bytes(const uint8_t s[CL_SIGSTRUCT_SIZE],
                               uint8_t out[CL_SIGSTRUCT_SIGNED_SIZE]);
int cl_sigstruct_attach(uint8_t s[CL_SIGSTRUCT_SIZE], EVP_PKEY *key,
                        const uint8_t signature[CL_SGX_SIGNATURE_SIZE], cl_error *err);

/* RSASSA-PKCS1-v1_5 with SHA-256 of data by key (RSA-3072, e = 3): what the
 * holder of an offline key does with the signed bytes. */
int cl_sgx_sign_bytes(EVP_PKEY *key, const uint8_t *data, size_t len,
                      uint8_t signature[CL_SGX_SIGNATURE_SIZE], cl_error *err);

/* Check a SIGSTRUCT: headers, exponent, the signature against its own
 * modulus, and Q1/Q2.  Fills fields (may be NULL) and mrsigner (may be NULL). */
int cl_sigstruct_verify(const uint8_t s[CL_SIGSTRUCT_SIZE], cl_sigstruct_fields *fields,
                        uint8_t mrsigner[32], cl_error *err);

/* Enclave signing keys: RSA-3072 with exponent 3, the only kind the CPU
 * accepts.  A PEM key is read only if unencrypted and of that kind. */
#define CL_SGX_KEY_PEM_MAX 16384
int cl_sgx_key_generate(EVP_PKEY **out, cl_error *err);
int cl_sgx_key_read_pem(EVP_PKEY **out, const char *pem, size_t len, cl_error *err);
/* A public key ("BEGIN PUBLIC KEY"), for signing kept offline. */
int cl_sgx_key_read_public_pem(EVP_PKEY **out, const char *pem, size_t len, cl_error *err);
int cl_sgx_key_write_public_pem(EVP_PKEY *key, char **pem, size_t *len, cl_error *err);
/* *pem is malloc'd, NUL-terminated, and holds a secret: cleanse, then free. */
int cl_sgx_key_write_pem(EVP_PKEY *key, char **pem, size_t *len, cl_error *err);
/* MRSIGNER, the SHA-256 of the little-endian modulus. */
int cl_sgx_key_mrsigner(EVP_PKEY *key, uint8_t mrsigner[32], cl_error *err);

#endif
