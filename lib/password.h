/*
 * password.h - password hashing with scrypt (OpenSSL EVP_PBE_scrypt).
 *
 * Stored form, self-describing so that the cost can be raised later and old
 * hashes still verify:
 *
 *     $scrypt$ln=14,r=8,p=5$<salt, base64>$<32-byte hash, base64>
 *
 * N = 2^14, r = 8, p = 5 is one of OWASP's equivalent scrypt settings
 * (16 MiB of memory per hash).  Salts are 16 random bytes per password;
 * comparison is constant-time.
 */
#ifndef CL_PASSWORD_H
#define CL_PASSWORD_H

#include "error.h"

#include <stddef.h>

#define CL_PASSWORD_HASH_MAX 160
#define CL_PASSWORD_MIN_LEN 10
#define CL_PASSWORD_MAX_LEN 1024

/* Hash password into out (CL_PASSWORD_HASH_MAX bytes). */
int cl_password_hash(char out[CL_PASSWORD_HASH_MAX], const char *password);

/* 0 when password matches stored, CL_EUNAUTHORIZED when it does not,
 * CL_ERROR when stored is not a hash this code understands. */
int cl_password_verify(const char *stored, const char *password);

/* A readable random password (for the first administrator and new users). */
int cl_password_generate(char out[32]);

#endif
