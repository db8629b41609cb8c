/*
 * token.h - random secrets for cookies, API keys and CSRF tokens, and the
 * base64url text they travel as.
 */
#ifndef CL_TOKEN_H
#define CL_TOKEN_H

#include <stddef.h>

/* Text length of n bytes in base64url without padding, plus the NUL. */
#define CL_B64URL_SIZE(n) ((((n) + 2) / 3) * 4 + 1)

/* n random bytes (OpenSSL's DRBG) as base64url text into out, which holds
 * CL_B64URL_SIZE(n) bytes.  CL_ERROR when the generator fails. */
int cl_token_new(char *out, size_t nbytes);

/* base64url without padding of len bytes into out (CL_B64URL_SIZE(len)). */
void cl_b64url_encode(char *out, const unsigned char *in, size_t len);

/* base64url (padding optional) of len characters at in into out, which
 * holds out_size bytes (3 per 4 characters, rounded up); CL_EINVALID on
 * anything else. */
int cl_b64url_decode(unsigned char *out, size_t out_size, size_t *out_len, const char *in,
                     size_t len);

/* Standard base64 with padding, and its decoding; out_len receives the
 * decoded length.  Decoding returns CL_EINVALID on malformed input. */
void cl_b64_encode(char *out, const unsigned char *in, size_t len);
int cl_b64_decode(unsigned char *out, size_t out_size, size_t *out_len,
                  const char *in);

/* Do a and b hold the same text?  Time depends only on the lengths. */
int cl_token_equal(const char *a, const char *b);

/* Is text a UUID in its canonical textual form? */
int cl_uuid_valid(const char *text);

/* A new random (version 4) UUID into out (37 bytes). */
int cl_uuid_new(char out[37]);

#endif
