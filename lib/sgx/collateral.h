/*
 * collateral.h - Intel's signed collateral for SGX quotes: TCB Info
 * (versions 2 and 3) and QE Identity, as the Provisioning Certification
 * Service v4 serves them:
 *
 *   {"tcbInfo": {...}, "signature": "<hex r||s>"}
 *   {"enclaveIdentity": {...}, "signature": "<hex r||s>"}
 *
 * The signature (ECDSA P-256 by the TCB signing certificate) covers the
 * exact bytes of the inner object as they stand in the body, so they are
 * found in the text, not re-serialised.
 */
#ifndef CL_SGX_COLLATERAL_H
#define CL_SGX_COLLATERAL_H

#include "error.h"
#include "sgx/pck.h"
#include "sgx/quote.h"

#include <jansson.h>
#include <time.h>

#define CL_COLLATERAL_MAX (1u << 20)

typedef struct cl_collateral_doc {
    json_t *body;               /* the inner object (owned) */
    const char *signed_bytes;   /* its bytes in the text given */
    size_t signed_len;
    uint8_t signature[64];
    int version;
    time_t issue_date, next_update;
    long long evaluation_number;
} cl_collateral_doc;

/* Parse a body whose inner object is `member` ("tcbInfo",
 * "enclaveIdentity"); CL_EINVALID names what is missing or malformed.  The
 * doc points into text, which must outlive it. */
int cl_collateral_parse(cl_collateral_doc *doc, const char *text, size_t len,
                        const char *member, cl_error *err);
void cl_collateral_free(cl_collateral_doc *doc);

/* Whether the signature is the signing certificate's (remembered in
 * cache, which may be NULL). */
int cl_collateral_signed_by(const cl_collateral_doc *doc, X509 *signer, cl_verify_cache *cache);

/* The TCB level a platform is at: the first level of the TCB Info whose
 * every component SVN and PCESVN the PCK's are at or above.  *status is its
 * tcbStatus, *advisories its advisoryIDs (borrowed; may be NULL).  Checks the
 * FMSPC and PCE-ID first. */
int cl_tcb_info_level(const cl_collateral_doc *doc, const cl_pck_info *pck,
                      const char **status, json_t **advisories, cl_error *err);

/* The QE against its identity: MRSIGNER, ISVPRODID, MISCSELECT and
 * ATTRIBUTES under their masks, then the level its ISVSVN reaches. */
int cl_qe_identity_level(const cl_collateral_doc *doc, const cl_report_body *qe,
                         const char **status, json_t **advisories, cl_error *err);

#endif
