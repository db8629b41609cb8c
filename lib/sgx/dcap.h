/*
 * dcap.h - judging an SGX DCAP quote with its collateral, as Intel's Quote
 * Verification Library does, and a policy's decision on the result.
 *
 * The verdict (a JSON object) keeps three things apart:
 *
 *   "authentic"      the evidence is genuine and its collateral valid at the
 *                    verification time: every step in "checks" passed
 *                    ({"name", "ok", "detail"}, in order; the first failure
 *                    ends the list);
 *   "tcb_status", "advisory_ids"   where the platform stands, from the TCB
 *                    Info level its PCK reaches, converged with the QE
 *                    identity's level as the QVL does;
 *   "policy"         added by cl_dcap_policy: {"verdict": "accepted" |
 *                    "refused", "reasons": [...]}.
 *
 * It also carries what was read: "quote" (version, MRENCLAVE, MRSIGNER,
 * ISVPRODID, ISVSVN, attributes, debug, report data, CPUSVN), "pck" (FMSPC,
 * PCE-ID, components, PCESVN, issuer), "collateral" (versions, dates,
 * evaluation numbers), "trust_root" and "verified_at"; "simulated" is true
 * when the root the evidence chains to is not the Intel SGX Root CA (a
 * simulation PKI an operator chose to trust): such evidence proves nothing
 * about real hardware.
 */
#ifndef CL_SGX_DCAP_H
#define CL_SGX_DCAP_H

#include "error.h"
#include "sgx/pck.h"

#include <jansson.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Building a verdict, for this verifier and the others that fill the same
 * shape (maa.h): the object with an empty "checks", "tcb_status" null, no
 * advisories, "simulated" false and "verified_at"; each step appended with
 * its outcome (returns whether it passed); at the end "authentic" says
 * whether every step did. */
typedef struct cl_verdict {
    json_t *verdict;            /* owned until cl_verdict_end */
    json_t *checks;             /* borrowed from verdict */
    int failed;
} cl_verdict;

int cl_verdict_begin(cl_verdict *v, time_t at, cl_error *err);
int cl_verdict_step(cl_verdict *v, const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
json_t *cl_verdict_end(cl_verdict *v);

/* Time t as RFC 3339 UTC (whole seconds) under key. */
void cl_verdict_time(json_t *obj, const char *key, time_t t);

typedef struct cl_dcap_collateral {
    const char *tcb_info;           /* PCS body {"tcbInfo", "signature"} */
    size_t tcb_info_len;
    const char *tcb_chain;          /* PEM: the TCB signing certificate, the root */
    size_t tcb_chain_len;
    const char *qe_identity;        /* PCS body {"enclaveIdentity", "signature"} */
    size_t qe_identity_len;
    const char *qe_chain;
    size_t qe_chain_len;
    const uint8_t *pck_crl;         /* DER or PEM */
    size_t pck_crl_len;
    const uint8_t *root_crl;
    size_t root_crl_len;
} cl_dcap_collateral;

/* The Intel SGX Root CA, the default trust root (a new stack of one). */
STACK_OF(X509) *cl_intel_sgx_roots(void);

/* Which collateral a quote needs: its PCK certificate's FMSPC (lower-case
 * hex) and the CA that issued it ("processor" or "platform"). */
int cl_dcap_quote_platform(const uint8_t *quote, size_t len, char fmspc[13], char ca[16],
                           cl_error *err);

/* Judge the quote at time `at`; *verdict (new) always describes what was
 * found, authentic or not.  Fails only for want of memory.  cache (may be
 * NULL; see pck.h) spares re-verifying the signatures of certificates,
 * CRLs and collateral seen before: a daemon keeps one. */
int cl_dcap_verify(const uint8_t *quote, size_t len, const cl_dcap_collateral *collateral,
                   STACK_OF(X509) *roots, time_t at, cl_verify_cache *cache, json_t **verdict,
                   cl_error *err);

typedef struct cl_attestation_policy {
    const char *const *statuses;    /* accepted TCB statuses, NULL-terminated */
    const char *const *advisories;  /* accepted advisory IDs, NULL-terminated */
    int allow_debug;
    int min_isvsvn;
} cl_attestation_policy;

/* The default: UpToDate and SWHardeningNeeded, no advisories, no debug. */
extern const cl_attestation_policy cl_attestation_policy_default;

/* Add the policy's decision to a verdict. */
void cl_dcap_policy(json_t *verdict, const cl_attestation_policy *policy);

#endif
