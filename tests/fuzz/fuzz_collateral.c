/*
 * fuzz_collateral.c - TCB Info and QE Identity documents as the
 * Provisioning Certification Service (or a caching service in between)
 * serves them (lib/sgx/collateral.c), then read for a real platform: the
 * TCB level of the PCK certificate and the QE report of a real quote from
 * tests/data.  The first byte of the input says which document it is
 * (even: tcbInfo, odd: enclaveIdentity); the rest is the body.
 */
#include "error.h"
#include "fuzz.h"
#include "sgx/collateral.h"
#include "sgx/pck.h"
#include "sgx/quote.h"

#include <stdint.h>

static uint8_t *quote_bytes;
static cl_quote quote;
static cl_pck_info pck;

static void init(void)
{
    size_t len;
    STACK_OF(X509) *chain = NULL;
    cl_error err = { 0 };

    quote_bytes = fuzz_data_file("dcap/automata-v3/quote.bin", &len);
    if (cl_quote_parse(&quote, quote_bytes, len, &err) < 0 ||
        cl_pem_chain(&chain, quote.pck_chain, quote.pck_chain_len, &err) < 0 ||
        cl_pck_info_read(sk_X509_value(chain, 0), &pck, &err) < 0) {
        fprintf(stderr, "fuzz_collateral: %s\n", err.message);
        abort();
    }
    sk_X509_pop_free(chain, X509_free);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_collateral_doc doc;
    cl_error err = { 0 };
    const char *status;
    json_t *advisories;
    int qe;

    if (quote_bytes == NULL)
        init();
    if (size == 0 || size - 1 > CL_COLLATERAL_MAX)
        return 0;
    qe = data[0] & 1;
    memset(&doc, 0, sizeof(doc));
    if (cl_collateral_parse(&doc, (const char *)data + 1, size - 1,
                            qe ? "enclaveIdentity" : "tcbInfo", &err) == 0) {
        if (qe)
            (void)cl_qe_identity_level(&doc, &quote.qe_report, &status, &advisories, &err);
        else
            (void)cl_tcb_info_level(&doc, &pck, &status, &advisories, &err);
        cl_collateral_free(&doc);
    }
    cl_error_clear(&err);
    return 0;
}
