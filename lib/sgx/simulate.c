/* simulate.c - a simulated SGX attestation PKI; see simulate.h. */
#include "sgx/simulate.h"
#include "digest.h"
#include "pki.h"
#include "sgx/le.h"
#include "sgx/pck.h"
#include "sgx/quote.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SGX_EXT "1.2.840.113741.1.13.1"
#define DAY (24L * 3600)

static const uint8_t intel_qe_vendor[16] = { 0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                             0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07 };
static const uint8_t fmspc[6] = { 0x00, 0xc1, 0x05, 0x7e, 0x00, 0x00 };

struct cl_sim_pki {
    cl_sim_options opt;
    EVP_PKEY *root_key, *ca_key, *pck_key, *tcb_key;
    X509 *root, *ca, *pck, *tcb;
    uint8_t *root_crl, *pck_crl;
    size_t root_crl_len, pck_crl_len;
    char *pck_chain, *tcb_chain, *tcb_info, *qe_identity;
    uint8_t qe_mrsigner[32];
    cl_dcap_collateral collateral;
};

/* ---- certificates and CRLs (lib/pki.c makes them) --------------------------- */

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial, int ca, time_t now)
{
    BIGNUM *bn = BN_new();
    X509 *cert = bn && BN_set_word(bn, (BN_ULONG)serial)
                 ? cl_pki_make_cert(cn, "Cloister Simulation", key, issuer, issuer_key, bn, ca,
                                    now - 365 * DAY, (3650L + 365) * DAY, NULL)
                 : NULL;

    BN_free(bn);
    return cert;
}

static int make_crl(X509 *issuer, EVP_PKEY *key, X509 *revoked, time_t now, uint8_t **der,
                    size_t *len)
{
    const ASN1_INTEGER *serials[1] = { revoked ? X509_get0_serialNumber(revoked) : NULL };

    return cl_pki_make_crl(der, len, issuer, key, serials, revoked ? 1 : 0, now - DAY, 31);
}

/* ---- the PCK certificate's SGX extension ------------------------------------ */

static ASN1_TYPE *der_sequence(STACK_OF(ASN1_TYPE) *items)
{
    unsigned char *der = NULL;
    int n = i2d_ASN1_SEQUENCE_ANY(items, &der);
    ASN1_STRING *s = ASN1_STRING_new();
    ASN1_TYPE *t = ASN1_TYPE_new();

    sk_ASN1_TYPE_pop_free(items, ASN1_TYPE_free);
    if (n <= 0 || s == NULL || t == NULL || !ASN1_STRING_set(s, der, n)) {
        OPENSSL_free(der);
        ASN1_STRING_free(s);
        ASN1_TYPE_free(t);
        return NULL;
    }
    OPENSSL_free(der);
    ASN1_TYPE_set(t, V_ASN1_SEQUENCE, s);
    return t;
}

/* {OID, value} */
static ASN1_TYPE *pair(const char *oid, ASN1_TYPE *value)
{
    STACK_OF(ASN1_TYPE) *items = sk_ASN1_TYPE_new_null();
    ASN1_TYPE *o = ASN1_TYPE_new();

    ASN1_TYPE_set(o, V_ASN1_OBJECT, OBJ_txt2obj(oid, 1));
    sk_ASN1_TYPE_push(items, o);
    sk_ASN1_TYPE_push(items, value);
    return der_sequence(items);
}

static ASN1_TYPE *octets(const uint8_t *data, int n)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

    ASN1_OCTET_STRING_set(s, data, n);
    ASN1_TYPE_set(t, V_ASN1_OCTET_STRING, s);
    return t;
}

static ASN1_TYPE *integer(long v, int enumerated)
{
    ASN1_TYPE *t = ASN1_TYPE_new();

    if (enumerated) {
        ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
        ASN1_ENUMERATED_set(e, v);
        ASN1_TYPE_set(t, V_ASN1_ENUMERATED, e);
    } else {
        ASN1_INTEGER *i = ASN1_INTEGER_new();
        ASN1_INTEGER_set(i, v);
        ASN1_TYPE_set(t, V_ASN1_INTEGER, i);
    }
    return t;
}

static int add_sgx_extension(X509 *pck, const cl_sim_options *o)
{
    STACK_OF(ASN1_TYPE) *top = sk_ASN1_TYPE_new_null(), *tcb = sk_ASN1_TYPE_new_null();
    uint8_t ppid[16], cpusvn[16], pceid[2] = { 0, 0 };
    char oid[64];
    unsigned char *der = NULL;
    int n, ok;

    memset(ppid, 0x5a, sizeof(ppid));
    memcpy(cpusvn, o->components, 16);
    for (int i = 0; i < 16; i++) {
        snprintf(oid, sizeof(oid), SGX_EXT ".2.%d", i + 1);
        sk_ASN1_TYPE_push(tcb, pair(oid, integer(o->components[i], 0)));
    }
    sk_ASN1_TYPE_push(tcb, pair(SGX_EXT ".2.17", integer(o->pcesvn, 0)));
    sk_ASN1_TYPE_push(tcb, pair(SGX_EXT ".2.18", octets(cpusvn, 16)));
    sk_ASN1_TYPE_push(top, pair(SGX_EXT ".1", octets(ppid, 16)));
    sk_ASN1_TYPE_push(top, pair(SGX_EXT ".2", der_sequence(tcb)));
    sk_ASN1_TYPE_push(top, pair(SGX_EXT ".3", octets(pceid, 2)));
    sk_ASN1_TYPE_push(top, pair(SGX_EXT ".4", octets(fmspc, 6)));
    sk_ASN1_TYPE_push(top, pair(SGX_EXT ".5", integer(0, 1)));
    n = i2d_ASN1_SEQUENCE_ANY(top, &der);
    sk_ASN1_TYPE_pop_free(top, ASN1_TYPE_free);

    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *obj = OBJ_txt2obj(SGX_EXT, 1);
    X509_EXTENSION *ext = NULL;
    ok = n > 0 && value != NULL && obj != NULL && ASN1_OCTET_STRING_set(value, der, n) &&
         (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, value)) != NULL &&
         X509_add_ext(pck, ext, -1);
    OPENSSL_free(der);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(obj);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* ---- signatures and signed collateral ---------------------------------------- */

static void iso(char out[32], time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* {"<member>": body, "signature": "<hex>"} signed by key over body's text. */
static char *signed_body(const char *member, json_t *body, EVP_PKEY *key)
{
    char *inner = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS), *out = NULL, hex[129];
    uint8_t sig[64];

    json_decref(body);
    if (inner != NULL && cl_p256_sign(key, inner, strlen(inner), sig) == 0) {
        size_t n = strlen(member) + strlen(inner) + 160;

        cl_hex(hex, sig, 64);
        if ((out = malloc(n)) != NULL)
            snprintf(out, n, "{\"%s\":%s,\"signature\":\"%s\"}", member, inner, hex);
    }
    free(inner);
    return out;
}

static char *tcb_info(const cl_sim_options *o, EVP_PKEY *key)
{
    json_t *mine = json_array(), *zero = json_array();
    char issue[32], next[32], date[32], fm[13];

    for (int i = 0; i < 16; i++) {
        json_array_append_new(mine, json_pack("{s:i}", "svn", o->components[i]));
        json_array_append_new(zero, json_pack("{s:i}", "svn", 0));
    }
    iso(issue, o->now - DAY);
    iso(next, o->now + 30 * DAY);
    iso(date, o->now - 90 * DAY);
    cl_hex(fm, fmspc, 6);
    return signed_body("tcbInfo", json_pack(
        "{s:s, s:i, s:s, s:s, s:s, s:s, s:i, s:i, s:[{s:{s:o, s:i}, s:s, s:s},"
        " {s:{s:o, s:i}, s:s, s:s, s:[s]}]}",
        "id", "SGX", "version", 3, "issueDate", issue, "nextUpdate", next, "fmspc", fm,
        "pceId", "0000", "tcbType", 0, "tcbEvaluationDataNumber", 17, "tcbLevels",
        "tcb", "sgxtcbcomponents", mine, "pcesvn", o->pcesvn, "tcbDate", date,
        "tcbStatus", o->tcb_status ? o->tcb_status : "UpToDate",
        "tcb", "sgxtcbcomponents", zero, "pcesvn", 0, "tcbDate", "2018-01-04T00:00:00Z",
        "tcbStatus", "OutOfDate", "advisoryIDs", "INTEL-SA-00000"), key);
}

static char *qe_identity(const cl_sim_pki *p, EVP_PKEY *key)
{
    char issue[32], next[32], mrsigner[65];

    iso(issue, p->opt.now - DAY);
    iso(next, p->opt.now + 30 * DAY);
    cl_hex(mrsigner, p->qe_mrsigner, 32);
    return signed_body("enclaveIdentity", json_pack(
        "{s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:i,"
        " s:[{s:{s:i}, s:s, s:s}, {s:{s:i}, s:s, s:s}]}",
        "id", "QE", "version", 2, "issueDate", issue, "nextUpdate", next,
        "tcbEvaluationDataNumber", 17, "miscselect", "00000000", "miscselectMask", "FFFFFFFF",
        "attributes", "11000000000000000000000000000000",
        "attributesMask", "FBFFFFFFFFFFFFFF0000000000000000", "mrsigner", mrsigner,
        "isvprodid", 1, "tcbLevels", "tcb", "isvsvn", 8, "tcbDate", "2024-03-13T00:00:00Z",
        "tcbStatus", "UpToDate", "tcb", "isvsvn", 0, "tcbDate", "2018-01-04T00:00:00Z",
        "tcbStatus", "OutOfDate"), key);
}

static char *pem_of(X509 *const *certs, int n)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long len;

    for (int i = 0; bio != NULL && i < n; i++)
        PEM_write_bio_X509(bio, certs[i]);
    if (bio != NULL && (len = BIO_get_mem_data(bio, &data)) > 0 &&
        (out = malloc((size_t)len + 1)) != NULL) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(bio);
    return out;
}

/* ---- the PKI -------------------------------------------------------------------- */

/* The four keys, in the order cl_sim_keys_pem writes them. */
static EVP_PKEY **key_slots(cl_sim_pki *p, int i)
{
    EVP_PKEY **slots[4] = { &p->root_key, &p->ca_key, &p->pck_key, &p->tcb_key };

    return slots[i];
}

static int read_keys(cl_sim_pki *p, const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    int ok = bio != NULL;

    for (int i = 0; ok && i < 4; i++) {
        EVP_PKEY **k = key_slots(p, i);
        *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        ok = *k != NULL && EVP_PKEY_is_a(*k, "EC");
    }
    BIO_free(bio);
    ERR_clear_error();
    return ok ? 0 : -1;
}

char *cl_sim_keys_pem(cl_sim_pki *p)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long n;
    int ok = bio != NULL;

    for (int i = 0; ok && i < 4; i++)
        ok = PEM_write_bio_PrivateKey(bio, *key_slots(p, i), NULL, NULL, 0, NULL, NULL);
    if (ok && (n = BIO_get_mem_data(bio, &data)) > 0 && (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
        OPENSSL_cleanse(data, (size_t)n);
    }
    BIO_free(bio);
    return out;
}

int cl_sim_pki_new(cl_sim_pki **out, const cl_sim_options *opt, cl_error *err)
{
    cl_sim_pki *p = calloc(1, sizeof(*p));
    time_t now;

    *out = NULL;
    if (p == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    p->opt = *opt;
    now = opt->now;
    memset(p->qe_mrsigner, 0xc1, sizeof(p->qe_mrsigner));
    if (opt->keys_pem != NULL) {
        if (read_keys(p, opt->keys_pem) < 0) {
            cl_sim_pki_free(p);
            return cl_error_set(err, CL_EINVALID, "the simulation PKI's keys are not four PEM "
                                "EC P-256 private keys");
        }
    } else {
        p->root_key = EVP_EC_gen("P-256");
        p->ca_key = EVP_EC_gen("P-256");
        p->pck_key = EVP_EC_gen("P-256");
        p->tcb_key = EVP_EC_gen("P-256");
    }
    if (p->root_key == NULL || p->ca_key == NULL || p->pck_key == NULL || p->tcb_key == NULL ||
        (p->root = make_cert("Cloister Simulation SGX Root CA", p->root_key, NULL, p->root_key,
                             1, 1, now)) == NULL ||
        (p->ca = make_cert("Cloister Simulation SGX PCK Processor CA", p->ca_key, p->root,
                           p->root_key, 2, 1, now)) == NULL ||
        (p->tcb = make_cert("Cloister Simulation SGX TCB Signing", p->tcb_key, p->root,
                            p->root_key, 3, 0, now)) == NULL)
        goto fail;
    /* the PCK certificate carries the SGX extension, so it is made by hand */
    if ((p->pck = make_cert("Cloister Simulation SGX PCK Certificate", p->pck_key, p->ca,
                            p->ca_key, 4, 0, now)) == NULL ||
        add_sgx_extension(p->pck, opt) < 0 || X509_sign(p->pck, p->ca_key, EVP_sha256()) <= 0)
        goto fail;
    X509 *chain[3] = { p->pck, p->ca, p->root }, *tcb_chain[2] = { p->tcb, p->root };
    if (make_crl(p->root, p->root_key, NULL, now, &p->root_crl, &p->root_crl_len) < 0 ||
        make_crl(p->ca, p->ca_key, opt->revoke_pck ? p->pck : NULL, now, &p->pck_crl,
                 &p->pck_crl_len) < 0 ||
        (p->pck_chain = pem_of(chain, 3)) == NULL ||
        (p->tcb_chain = pem_of(tcb_chain, 2)) == NULL ||
        (p->tcb_info = tcb_info(opt, p->tcb_key)) == NULL ||
        (p->qe_identity = qe_identity(p, p->tcb_key)) == NULL)
        goto fail;
    p->collateral = (cl_dcap_collateral){
        p->tcb_info, strlen(p->tcb_info), p->tcb_chain, strlen(p->tcb_chain),
        p->qe_identity, strlen(p->qe_identity), p->tcb_chain, strlen(p->tcb_chain),
        p->pck_crl, p->pck_crl_len, p->root_crl, p->root_crl_len,
    };
    *out = p;
    return 0;
fail:
    ERR_clear_error();
    cl_sim_pki_free(p);
    return cl_error_set(err, CL_ERROR, "could not make the simulation PKI");
}

void cl_sim_pki_free(cl_sim_pki *p)
{
    if (p == NULL)
        return;
    EVP_PKEY_free(p->root_key);
    EVP_PKEY_free(p->ca_key);
    EVP_PKEY_free(p->pck_key);
    EVP_PKEY_free(p->tcb_key);
    X509_free(p->root);
    X509_free(p->ca);
    X509_free(p->pck);
    X509_free(p->tcb);
    free(p->root_crl);
    free(p->pck_crl);
    free(p->pck_chain);
    free(p->tcb_chain);
    free(p->tcb_info);
    free(p->qe_identity);
    free(p);
}

X509 *cl_sim_root(cl_sim_pki *p)
{
    return p->root;
}

const cl_dcap_collateral *cl_sim_collateral(cl_sim_pki *p)
{
    return &p->collateral;
}

void cl_sim_defaults(cl_sim_options *o, cl_sim_enclave *e)
{
    memset(o, 0, sizeof(*o));
    o->now = time(NULL);
    o->pcesvn = 13;
    o->qe_isvsvn = 8;
    for (int i = 0; i < 4; i++)
        o->components[i] = 5;
    memset(e, 0, sizeof(*e));
    e->isvprodid = 1;
    e->flags = 0x4;
    memset(e->mrsigner, 0x5c, sizeof(e->mrsigner));
}

/* ---- quotes ----------------------------------------------------------------------- */

static void report_body(uint8_t out[CL_REPORT_BODY_SIZE], const uint8_t cpusvn[16],
                        uint64_t flags, const uint8_t mrenclave[32], const uint8_t mrsigner[32],
                        uint16_t prodid, uint16_t svn, const uint8_t reportdata[64])
{
    memset(out, 0, CL_REPORT_BODY_SIZE);
    memcpy(out, cpusvn, 16);
    cl_le_put(out + 48, flags, 8);
    cl_le_put(out + 56, 0x3, 8);            /* XFRM: x87 and SSE */
    memcpy(out + 64, mrenclave, 32);
    memcpy(out + 128, mrsigner, 32);
    cl_le_put(out + 256, prodid, 2);
    cl_le_put(out + 258, svn, 2);
    memcpy(out + 320, reportdata, 64);
}

int cl_sim_quote(cl_sim_pki *p, int version, const cl_sim_enclave *e, uint8_t **quote,
                 size_t *len, cl_error *err)
{
    static const uint8_t zero32[32] = { 0 };
    EVP_PKEY *att = EVP_EC_gen("P-256");
    uint8_t auth[32], xy[65], qe_body[CL_REPORT_BODY_SIZE], qe_data[64], hashed[64 + 32];
    size_t xy_len = sizeof(xy), pem_len = strlen(p->pck_chain);
    size_t qe_part = CL_REPORT_BODY_SIZE + 64 + 2 + sizeof(auth) + 6 + pem_len;
    size_t sig_len = 64 + 64 + (version == 4 ? 6 : 0) + qe_part;
    size_t total = CL_QUOTE_HEADER_SIZE + CL_REPORT_BODY_SIZE + 4 + sig_len;
    uint8_t *q = calloc(1, total), *w;
    int rc = CL_ERROR;

    *quote = NULL;
    if (version != 3 && version != 4) {
        rc = cl_error_set(err, CL_EINVALID, "quotes are of version 3 or 4");
        goto done;
    }
    if (att == NULL || q == NULL ||
        EVP_PKEY_get_octet_string_param(att, "encoded-pub-key", xy, sizeof(xy), &xy_len) != 1 ||
        xy_len != 65)
        goto done;
    for (int i = 0; i < 32; i++)
        auth[i] = (uint8_t)i;
    /* header and body */
    cl_le_put(q, (uint64_t)version, 2);
    cl_le_put(q + 2, 2, 2);
    cl_le_put(q + 8, p->opt.qe_isvsvn, 2);
    cl_le_put(q + 10, p->opt.pcesvn, 2);
    memcpy(q + 12, intel_qe_vendor, 16);
    report_body(q + CL_QUOTE_HEADER_SIZE, p->opt.components, e->flags, e->mrenclave,
                e->mrsigner, e->isvprodid, e->isvsvn, e->reportdata);
    w = q + CL_QUOTE_HEADER_SIZE + CL_REPORT_BODY_SIZE;
    cl_le_put(w, sig_len, 4);
    w += 4;
    if (cl_p256_sign(att, q, CL_QUOTE_HEADER_SIZE + CL_REPORT_BODY_SIZE, w) < 0)
        goto done;
    memcpy(w + 64, xy + 1, 64);
    w += 128;
    if (version == 4) {
        cl_le_put(w, 6, 2);
        cl_le_put(w + 2, qe_part, 4);
        w += 6;
    }
    /* the QE's report binds the attestation key and the authentication data */
    memcpy(hashed, xy + 1, 64);
    memcpy(hashed + 64, auth, sizeof(auth));
    cl_sha256(qe_data, hashed, sizeof(hashed));
    memcpy(qe_data + 32, zero32, 32);
    report_body(qe_body, p->opt.components, 0x11, zero32, p->qe_mrsigner, 1, p->opt.qe_isvsvn,
                qe_data);
    memcpy(w, qe_body, sizeof(qe_body));
    if (cl_p256_sign(p->pck_key, qe_body, sizeof(qe_body), w + CL_REPORT_BODY_SIZE) < 0)
        goto done;
    w += CL_REPORT_BODY_SIZE + 64;
    cl_le_put(w, sizeof(auth), 2);
    memcpy(w + 2, auth, sizeof(auth));
    w += 2 + sizeof(auth);
    cl_le_put(w, 5, 2);
    cl_le_put(w + 2, pem_len, 4);
    memcpy(w + 6, p->pck_chain, pem_len);
    *quote = q;
    *len = total;
    q = NULL;
    rc = 0;
done:
    if (rc == CL_ERROR)
        cl_error_set(err, CL_ERROR, "could not make the simulated quote");
    free(q);
    EVP_PKEY_free(att);
    ERR_clear_error();
    return rc;
}
