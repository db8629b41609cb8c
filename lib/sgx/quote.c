/* quote.c - SGX ECDSA quotes; see quote.h for the layout. */
#include "sgx/quote.h"
#include "sgx/le.h"

#include <string.h>

#define KEY_TYPE_ECDSA_P256 2
#define TEE_SGX 0x00000000
#define TEE_TDX 0x00000081
#define CERT_PCK_CHAIN 5
#define CERT_QE_REPORT 6

/* A cursor over the bytes that refuses to read past them. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
    const char *what;           /* the part being read, for the error */
} reader;

static const uint8_t *take(reader *r, size_t n, cl_error *err)
{
    const uint8_t *p = r->p;

    if (n > r->left) {
        cl_error_set(err, CL_EINVALID, "the quote is truncated: its %s needs %zu bytes, %zu "
                     "are left", r->what, n, r->left);
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

void cl_report_body_parse(cl_report_body *b, const uint8_t *raw)
{
    b->raw = raw;
    memcpy(b->cpusvn, raw, 16);
    b->miscselect = (uint32_t)cl_le_get(raw + 16, 4);
    b->flags = cl_le_get(raw + 48, 8);
    b->xfrm = cl_le_get(raw + 56, 8);
    memcpy(b->mrenclave, raw + 64, 32);
    memcpy(b->mrsigner, raw + 128, 32);
    b->isvprodid = (uint16_t)cl_le_get(raw + 256, 2);
    b->isvsvn = (uint16_t)cl_le_get(raw + 258, 2);
    memcpy(b->reportdata, raw + 320, 64);
}

/* The QE's part: its report, signature, authentication data, then the
 * certification data that must be the PCK chain. */
static int parse_qe_part(cl_quote *q, reader *r, cl_error *err)
{
    const uint8_t *p;

    r->what = "QE report";
    if ((p = take(r, CL_REPORT_BODY_SIZE, err)) == NULL)
        return CL_EINVALID;
    cl_report_body_parse(&q->qe_report, p);
    r->what = "QE report signature";
    if ((q->qe_signature = take(r, 64, err)) == NULL)
        return CL_EINVALID;
    r->what = "QE authentication data";
    if ((p = take(r, 2, err)) == NULL)
        return CL_EINVALID;
    q->qe_auth_len = (size_t)cl_le_get(p, 2);
    if ((q->qe_auth = take(r, q->qe_auth_len, err)) == NULL)
        return CL_EINVALID;
    r->what = "certification data";
    if ((p = take(r, 6, err)) == NULL)
        return CL_EINVALID;
    uint16_t type = (uint16_t)cl_le_get(p, 2);
    size_t len = (size_t)cl_le_get(p + 2, 4);
    if (type != CERT_PCK_CHAIN)
        return cl_error_set(err, CL_EINVALID, "the quote's certification data is of type %u; "
                            "only type 5 (the PCK certificate chain in PEM) is supported",
                            type);
    if ((q->pck_chain = (const char *)take(r, len, err)) == NULL)
        return CL_EINVALID;
    q->pck_chain_len = len;
    return 0;
}

int cl_quote_parse(cl_quote *q, const uint8_t *data, size_t len, cl_error *err)
{
    reader r = { data, len, "header" };
    const uint8_t *p;

    memset(q, 0, sizeof(*q));
    if (len > CL_QUOTE_MAX)
        return cl_error_set(err, CL_EINVALID, "a quote is at most %u bytes; this has %zu",
                            CL_QUOTE_MAX, len);
    if ((p = take(&r, CL_QUOTE_HEADER_SIZE, err)) == NULL)
        return CL_EINVALID;
    q->version = (uint16_t)cl_le_get(p, 2);
    q->key_type = (uint16_t)cl_le_get(p + 2, 2);
    q->tee_type = (uint32_t)cl_le_get(p + 4, 4);
    q->qe_svn = (uint16_t)cl_le_get(p + 8, 2);
    q->pce_svn = (uint16_t)cl_le_get(p + 10, 2);
    memcpy(q->qe_vendor_id, p + 12, 16);
    if (q->version != 3 && q->version != 4)
        return cl_error_set(err, CL_EINVALID, "quote version %u is not supported (versions 3 "
                            "and 4 are)", q->version);
    if (q->version == 4 && q->tee_type == TEE_TDX)
        return cl_error_set(err, CL_EINVALID, "the quote is from a TDX trust domain (TEE type "
                            "0x81); only SGX quotes are supported");
    if (q->version == 4 && q->tee_type != TEE_SGX)
        return cl_error_set(err, CL_EINVALID, "the quote's TEE type 0x%x is not supported "
                            "(SGX is 0)", q->tee_type);
    if (q->key_type != KEY_TYPE_ECDSA_P256)
        return cl_error_set(err, CL_EINVALID, "the quote's attestation key type %u is not "
                            "supported (2, ECDSA P-256, is)", q->key_type);
    r.what = "report body";
    if ((p = take(&r, CL_REPORT_BODY_SIZE, err)) == NULL)
        return CL_EINVALID;
    cl_report_body_parse(&q->body, p);
    q->signed_part = data;
    q->signed_len = CL_QUOTE_HEADER_SIZE + CL_REPORT_BODY_SIZE;

    r.what = "signature data length";
    if ((p = take(&r, 4, err)) == NULL)
        return CL_EINVALID;
    size_t sig_len = (size_t)cl_le_get(p, 4);
    if (sig_len != r.left)
        return cl_error_set(err, CL_EINVALID, "the quote's signature data is said to be %zu "
                            "bytes, but %zu follow", sig_len, r.left);
    r.what = "signature";
    if ((q->signature = take(&r, 64, err)) == NULL)
        return CL_EINVALID;
    r.what = "attestation key";
    if ((q->attest_key = take(&r, 64, err)) == NULL)
        return CL_EINVALID;
    if (q->version == 4) {
        r.what = "certification data";
        if ((p = take(&r, 6, err)) == NULL)
            return CL_EINVALID;
        uint16_t type = (uint16_t)cl_le_get(p, 2);
        size_t inner_len = (size_t)cl_le_get(p + 2, 4);
        if (type != CERT_QE_REPORT)
            return cl_error_set(err, CL_EINVALID, "a version 4 quote's certification data is "
                                "of type %u; type 6 (QE report certification data) is "
                                "expected", type);
        if (inner_len != r.left)
            return cl_error_set(err, CL_EINVALID, "the quote's QE report certification data "
                                "is said to be %zu bytes, but %zu follow", inner_len, r.left);
    }
    if (parse_qe_part(q, &r, err) < 0)
        return CL_EINVALID;
    if (r.left != 0)
        return cl_error_set(err, CL_EINVALID, "%zu bytes follow the end of the quote", r.left);
    return 0;
}
