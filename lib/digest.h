/* digest.h - SHA-256 through OpenSSL EVP, and hex encoding. */
#ifndef CL_DIGEST_H
#define CL_DIGEST_H

#include <stddef.h>

#define CL_SHA256_LEN 32
#define CL_SHA256_HEX_LEN (2 * CL_SHA256_LEN)

/* out receives 32 bytes; returns 0, or CL_ERROR if OpenSSL fails. */
int cl_sha256(unsigned char out[CL_SHA256_LEN], const void *data, size_t len);

/* out receives 64 lower-case hex digits and a NUL. */
int cl_sha256_hex(char out[CL_SHA256_HEX_LEN + 1], const void *data, size_t len);

/* Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void cl_hex(char *out, const unsigned char *bytes, size_t len);

/* len bytes from the 2 * len hex digits at hex (either case; more may
 * follow, which the caller checks); CL_EINVALID on anything else. */
int cl_unhex(unsigned char *out, size_t len, const char *hex);

#endif
