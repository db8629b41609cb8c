/*
 * fuzz_quote.c - SGX ECDSA quotes as nodes and enclaves send them: parsed
 * (lib/sgx/quote.c), their platform read (the PCK chain and its SGX
 * extension, what the daemon does to pick collateral), and judged in full
 * (lib/sgx/dcap.c) against a real set of Intel collateral from tests/data
 * at the time that set was valid, so that the checks past the parser run.
 */
#include "error.h"
#include "fuzz.h"
#include "sgx/dcap.h"
#include "sgx/quote.h"

#include <stdint.h>

#define CASE "dcap/automata-v3/"

static cl_dcap_collateral collateral;
static STACK_OF(X509) *roots;
static time_t at;

static void init(void)
{
    static const char *const names[] = {
        CASE "tcb_info.json", CASE "tcb_info_issuer_chain.pem", CASE "qe_identity.json",
        CASE "qe_identity_issuer_chain.pem", CASE "pck_crl.der", CASE "root_ca_crl.der",
    };
    uint8_t *f[6];
    size_t n[6], len;

    for (int i = 0; i < 6; i++)
        f[i] = fuzz_data_file(names[i], &n[i]);
    collateral = (cl_dcap_collateral){
        (const char *)f[0], n[0], (const char *)f[1], n[1], (const char *)f[2], n[2],
        (const char *)f[3], n[3], f[4], n[4], f[5], n[5],
    };
    uint8_t *expected = fuzz_data_file(CASE "expected.json", &len);
    json_t *doc = json_loadb((const char *)expected, len, 0, NULL);
    at = (time_t)json_integer_value(json_object_get(doc, "verify_at"));
    json_decref(doc);
    free(expected);
    roots = cl_intel_sgx_roots();
    if (at == 0 || roots == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_quote q;
    cl_error err = { 0 };
    char fmspc[13], ca[16];
    json_t *verdict = NULL;

    if (roots == NULL)
        init();
    if (size > CL_QUOTE_MAX)
        return 0;
    (void)cl_quote_parse(&q, data, size, &err);
    cl_error_clear(&err);
    (void)cl_dcap_quote_platform(data, size, fmspc, ca, &err);
    cl_error_clear(&err);
    if (cl_dcap_verify(data, size, &collateral, roots, at, NULL, &verdict, &err) < 0)
        abort();    /* only for want of memory */
    json_decref(verdict);
    cl_error_clear(&err);
    return 0;
}
