/*
 * seal.h - secrets at rest: AES-256-GCM under the key-encryption key.
 *
 * A sealed value is text: "v1:" followed by base64 of
 *
 *     nonce (12 random bytes) || ciphertext || tag (16 bytes)
 *
 * The associated data names what the secret belongs to ("registry:<id>"),
 * so a sealed value copied into another row does not open there.  Values
 * are bounded (CL_SEAL_MAX bytes of plaintext).
 */
#ifndef CL_SEAL_H
#define CL_SEAL_H

#include "error.h"

#include <stddef.h>

#define CL_SEAL_MAX 65536

/* Seal len bytes; *out is malloc'd text. */
int cl_seal(char **out, const unsigned char key[32], const void *plain, size_t len,
            const char *aad, cl_error *err);

/* Open a sealed value; *out is malloc'd, NUL-terminated, *len its length.
 * CL_EINVALID when it is malformed, was sealed under another key or for
 * other associated data, or was altered. */
int cl_unseal(char **out, size_t *len, const unsigned char key[32], const char *sealed,
              const char *aad, cl_error *err);

#endif
