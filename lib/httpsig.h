/*
 * httpsig.h - HTTP Message Signatures (RFC 9421) as nodes sign their
 * requests (API.md): one signature, algorithm ecdsa-p256-sha256, over
 * exactly the components "@method", "@path", "date" and "content-digest",
 * with the parameters created and keyid (the node's id), and alg; the body
 * digested by Content-Digest (RFC 9530, sha-256).
 *
 * Verification is strict: the Signature-Input must be in the canonical
 * form this code writes (one label; those four components in that order;
 * only the parameters created, keyid, alg and expires), so that its text
 * is the @signature-params line of the signature base as it stands.
 */
#ifndef CL_HTTPSIG_H
#define CL_HTTPSIG_H

#include "error.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <time.h>

#define CL_HTTPSIG_ALG "ecdsa-p256-sha256"
#define CL_HTTPSIG_KEYID_MAX 64

/* The headers that sign a request. */
typedef struct cl_httpsig_headers {
    char date[40];              /* Date: an IMF-fixdate */
    char digest[64];            /* Content-Digest: sha-256=:<base64>: */
    char input[256];            /* Signature-Input */
    char signature[128];        /* Signature */
} cl_httpsig_headers;

/* Content-Digest of a body (len 0: the empty body's). */
void cl_httpsig_digest(char out[64], const void *body, size_t len);

/* Sign method and path (without the query) and the body with key (EC
 * P-256), as keyid, at `now`. */
int cl_httpsig_sign(cl_httpsig_headers *h, EVP_PKEY *key, const char *keyid, const char *method,
                    const char *path, const void *body, size_t len, time_t now, cl_error *err);

/* A request as received; any header may be NULL (absent).  replay_id, when
 * not NULL, receives on success the SHA-256 of the signature with its s
 * made the lower of s and n - s, so that the two encodings ECDSA allows of
 * one signature give one id: what a replay cache keeps. */
typedef struct cl_httpsig_request {
    const char *method, *path;
    const char *date, *digest, *input, *signature;
    const void *body;
    size_t len;
    unsigned char *replay_id;           /* 32 bytes, or NULL */
} cl_httpsig_request;

/* The keyid a Signature-Input names, to find the key by; CL_EINVALID
 * says why the header is not one this code accepts. */
int cl_httpsig_keyid(const char *input, char keyid[CL_HTTPSIG_KEYID_MAX + 1], cl_error *err);

/* Whether the request is signed by key: every header there and well
 * formed, the body's digest right, Date and created within `skew` seconds
 * of now, not past expires, and the signature good.  CL_EUNAUTHORIZED with
 * the reason otherwise. */
int cl_httpsig_verify(const cl_httpsig_request *rq, EVP_PKEY *key, time_t now, long skew,
                      cl_error *err);

#endif
