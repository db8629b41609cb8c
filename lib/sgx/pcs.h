/*
 * pcs.h - fetching SGX collateral from Intel's Provisioning Certification
 * Service (API version 4) or a PCCS that speaks it, over libcurl.
 *
 *   GET {base}/tcb?fmspc=F              TCB Info; issuer chain in the
 *                                       TCB-Info-Issuer-Chain header
 *   GET {base}/qe/identity              QE identity; issuer chain in
 *                                       SGX-Enclave-Identity-Issuer-Chain
 *   GET {base}/pckcrl?ca=C&encoding=der the PCK CA's CRL; issuer chain in
 *                                       SGX-PCK-CRL-Issuer-Chain
 *   GET {root_crl_url}                  the root CA's CRL (Intel publishes
 *                                       it at the URL its certificate names)
 *
 * base is e.g. https://api.trustedservices.intel.com/sgx/certification/v4.
 * The issuer chains come URL-encoded (PEM); they are decoded here.  An API
 * key, when set, goes in Ocp-Apim-Subscription-Key.  Answers are bounded.
 */
#ifndef CL_SGX_PCS_H
#define CL_SGX_PCS_H

#include "error.h"
#include "http_client.h"

#include <stddef.h>

typedef struct cl_pcs {
    const char *base;
    const char *root_crl_url;
    const char *api_key;            /* may be NULL */
    cl_http_options http;
} cl_pcs;

typedef struct cl_pcs_doc {
    char *body;                     /* malloc'd, NUL-terminated */
    size_t len;
    char *issuer_chain;             /* malloc'd PEM; "" when none came */
} cl_pcs_doc;

/* CL_ENOTFOUND when the service has none (an FMSPC it does not know),
 * CL_EUNAUTHORIZED when it refuses the API key, CL_EUNAVAILABLE when it
 * cannot be reached or keeps failing, CL_EINVALID when it answers with
 * something else. */
int cl_pcs_tcb_info(const cl_pcs *pcs, const char *fmspc, cl_pcs_doc *out, cl_error *err);
int cl_pcs_qe_identity(const cl_pcs *pcs, cl_pcs_doc *out, cl_error *err);
int cl_pcs_pck_crl(const cl_pcs *pcs, const char *ca, cl_pcs_doc *out, cl_error *err);
int cl_pcs_root_crl(const cl_pcs *pcs, cl_pcs_doc *out, cl_error *err);

void cl_pcs_doc_free(cl_pcs_doc *doc);

#endif
