/*
 * jwe.h - secrets on the wire (API.md): JWE compact serialisations (RFC
 * 7516) with "alg": "ECDH-ES" (direct key agreement, RFC 7518 section
 * 4.6) and "enc": "A256GCM", to an EC P-256 public key, so that any JOSE
 * library inside the enclave can open them and a relay cannot.
 */
#ifndef CL_JWE_H
#define CL_JWE_H

#include "error.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/* Encrypt len bytes to `to` (EC P-256); *out is malloc'd. */
int cl_jwe_encrypt(char **out, EVP_PKEY *to, const void *plaintext, size_t len,
                   cl_error *err);

/* Decrypt with key (its private half); *out is malloc'd and NUL-terminated.
 * CL_EINVALID for anything malformed, of another algorithm, or not
 * authentic. */
int cl_jwe_decrypt(uint8_t **out, size_t *len, EVP_PKEY *key, const char *jwe, cl_error *err);

#endif
