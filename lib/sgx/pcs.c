/* pcs.c - collateral from the PCS or a PCCS; see pcs.h. */
#include "sgx/pcs.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (2u * 1024 * 1024)

static int fetch(const cl_pcs *pcs, const char *url, const char *what, const char *chain_header,
                 cl_pcs_doc *out, cl_error *err)
{
    cl_http_options opt = pcs->http;
    cl_http_response resp = { .keep = { chain_header, "Request-ID", "Error-Message", NULL } };
    char key_header[600];
    const char *headers[2] = { NULL, NULL };
    int rc;

    memset(out, 0, sizeof(*out));
    opt.max_body = ANSWER_MAX;
    opt.follow = 1;
    if (pcs->api_key != NULL && pcs->api_key[0] != '\0') {
        snprintf(key_header, sizeof(key_header), "Ocp-Apim-Subscription-Key: %s", pcs->api_key);
        headers[0] = key_header;
    }
    if ((rc = cl_http_request(&resp, &opt, "GET", url, headers, NULL, 0, err)) < 0)
        return rc == CL_ETOOBIG ? cl_error_set(err, CL_EINVALID, "the %s from %s is larger than "
                                               "%u bytes", what, url, ANSWER_MAX) : rc;
    long status = resp.status;
    const char *why = cl_http_kept(&resp, "Error-Message");
    if (status != 200) {
        rc = status == 404 ? cl_error_set(err, CL_ENOTFOUND, "the PCS has no %s (404 from %s)",
                                          what, url)
           : status == 401 ? cl_error_set(err, CL_EUNAUTHORIZED, "the PCS refused the API key "
                                          "for the %s (401)", what)
           : status == 429 || status >= 500
               ? cl_error_set(err, CL_EUNAVAILABLE, "the PCS answered %ld for the %s%s%s",
                              status, what, why ? ": " : "", why ? why : "")
               : cl_error_set(err, CL_EINVALID, "the PCS answered %ld for the %s%s%s", status,
                              what, why ? ": " : "", why ? why : "");
        cl_http_response_free(&resp);
        return rc;
    }
    if (resp.body == NULL) {
        cl_http_response_free(&resp);
        return cl_error_set(err, CL_EINVALID, "the PCS sent an empty %s", what);
    }
    const char *chain = chain_header ? cl_http_kept(&resp, chain_header) : NULL;
    if (chain_header != NULL && chain == NULL) {
        cl_http_response_free(&resp);
        return cl_error_set(err, CL_EINVALID, "the PCS sent the %s without its %s header", what,
                            chain_header);
    }
    char *decoded = curl_easy_unescape(NULL, chain ? chain : "", 0, NULL);
    out->issuer_chain = decoded ? strdup(decoded) : NULL;
    curl_free(decoded);
    out->body = resp.body;
    out->len = resp.body_len;
    resp.body = NULL;
    cl_http_response_free(&resp);
    if (out->issuer_chain == NULL) {
        cl_pcs_doc_free(out);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    return 0;
}

int cl_pcs_tcb_info(const cl_pcs *pcs, const char *fmspc, cl_pcs_doc *out, cl_error *err)
{
    char url[1024];

    if (strlen(fmspc) != 12 || strspn(fmspc, "0123456789abcdefABCDEF") != 12)
        return cl_error_set(err, CL_EINVALID, "FMSPC \"%.20s\" is not 12 hex digits", fmspc);
    snprintf(url, sizeof(url), "%s/tcb?fmspc=%s", pcs->base, fmspc);
    return fetch(pcs, url, "TCB Info", "TCB-Info-Issuer-Chain", out, err);
}

int cl_pcs_qe_identity(const cl_pcs *pcs, cl_pcs_doc *out, cl_error *err)
{
    char url[1024];

    snprintf(url, sizeof(url), "%s/qe/identity", pcs->base);
    return fetch(pcs, url, "QE identity", "SGX-Enclave-Identity-Issuer-Chain", out, err);
}

int cl_pcs_pck_crl(const cl_pcs *pcs, const char *ca, cl_pcs_doc *out, cl_error *err)
{
    char url[1024];

    if (strcmp(ca, "processor") != 0 && strcmp(ca, "platform") != 0)
        return cl_error_set(err, CL_EINVALID, "the PCK CA is \"processor\" or \"platform\"");
    snprintf(url, sizeof(url), "%s/pckcrl?ca=%s&encoding=der", pcs->base, ca);
    return fetch(pcs, url, "PCK CRL", "SGX-PCK-CRL-Issuer-Chain", out, err);
}

int cl_pcs_root_crl(const cl_pcs *pcs, cl_pcs_doc *out, cl_error *err)
{
    return fetch(pcs, pcs->root_crl_url, "root CA CRL", NULL, out, err);
}

void cl_pcs_doc_free(cl_pcs_doc *doc)
{
    free(doc->body);
    free(doc->issuer_chain);
    doc->body = doc->issuer_chain = NULL;
}
