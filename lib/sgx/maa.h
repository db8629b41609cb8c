/*
 * maa.h - Microsoft Azure Attestation tokens as evidence: a JWT (RS256)
 * that an Azure Attestation instance issued after it judged an SGX quote,
 * checked against the instance's signing keys (its /certs JWKS), and its
 * x-ms-sgx-* claims mapped onto the same verdict as a quote's (dcap.h):
 *
 *   "authentic"   every step of "checks" passed: token (three base64url
 *                 parts, JSON, alg RS256), signing_key (the JWKS's key of
 *                 the header's kid: x5c[0]'s public key, or n and e),
 *                 signature, issuer (iss is the one expected), validity
 *                 (nbf <= time < exp);
 *   "quote"       mrenclave, mrsigner, isvprodid, isvsvn, debug and
 *                 report_data from the claims; "runtime_data" the
 *                 x-ms-sgx-ehd bytes (base64) when the token has them;
 *   "maa"         issuer, key id, issued at, expiry, attestation type.
 *
 * A token carries no TCB status of its own (the instance judged that), so
 * "tcb_status" is null and the policy's status rule does not apply.
 */
#ifndef CL_SGX_MAA_H
#define CL_SGX_MAA_H

#include "error.h"

#include <jansson.h>
#include <stddef.h>
#include <time.h>

#define CL_MAA_TOKEN_MAX (64u * 1024)

/* Judge token (len bytes) with the JWKS text, expecting issuer (NULL: any)
 * at time `at`; *verdict (new) always describes what was found. */
int cl_maa_verify(const char *token, size_t len, const char *jwks, size_t jwks_len,
                  const char *issuer, time_t at, json_t **verdict, cl_error *err);

#endif
