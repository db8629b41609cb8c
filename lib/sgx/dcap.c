/*
 * dcap.c - the verification of an SGX DCAP quote, step by step:
 *
 *   quote                parse (versions 3 and 4, SGX, ECDSA P-256)
 *   pck_chain            the PCK leaf and its CA up to a trust root (matched
 *                        by public key), at the verification time, against
 *                        the root CA's CRL and the PCK CA's CRL
 *   pck_extensions       FMSPC, PCE-ID, TCB components, PCESVN
 *   qe_report_signature  the QE report signed by the PCK key
 *   qe_report_data       SHA-256(attestation key || QE authentication data)
 *   quote_signature      header and body signed by the attestation key
 *   tcb_info             its signing chain to a trust root, its signature,
 *                        its validity window
 *   qe_identity          the same
 *   tcb_level            the level the PCK's TCB reaches, for its FMSPC
 *   qe_identity_level    the QE's identity and the level its ISVSVN reaches
 *
 * Each step's failure has its own reason, and the first one ends the list:
 * what follows depends on it.
 */
#include "sgx/dcap.h"
#include "digest.h"
#include "sgx/collateral.h"
#include "sgx/pck.h"
#include "sgx/quote.h"

#include <openssl/pem.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Intel SGX Root CA (SHA-256 fingerprint 44:A0:19:6B:...:74:D3), as
 * Intel publishes it at certificates.trustedservices.intel.com. */
static const char intel_root_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw\n"
    "aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv\n"
    "cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ\n"
    "BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG\n"
    "A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0\n"
    "aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT\n"
    "AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7\n"
    "1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB\n"
    "uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ\n"
    "MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50\n"
    "ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV\n"
    "Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI\n"
    "KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg\n"
    "AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=\n"
    "-----END CERTIFICATE-----\n";

STACK_OF(X509) *cl_intel_sgx_roots(void)
{
    STACK_OF(X509) *roots = NULL;

    cl_pem_chain(&roots, intel_root_pem, sizeof(intel_root_pem) - 1, NULL);
    return roots;
}

static pthread_once_t intel_once = PTHREAD_ONCE_INIT;
static STACK_OF(X509) *intel_roots;     /* read once, kept for the process's life */

static void read_intel_root(void)
{
    intel_roots = cl_intel_sgx_roots();
}

/* Whether root is the Intel SGX Root CA (by key). */
static int is_intel(X509 *root)
{
    pthread_once(&intel_once, read_intel_root);
    return intel_roots != NULL && cl_trust_root_match(root, intel_roots) != NULL;
}

/* ---- the verdict ------------------------------------------------------------ */

int cl_verdict_begin(cl_verdict *v, time_t at, cl_error *err)
{
    v->verdict = json_object();
    v->checks = json_array();
    v->failed = 0;
    if (v->verdict == NULL || v->checks == NULL) {
        json_decref(v->verdict);
        json_decref(v->checks);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    json_object_set_new(v->verdict, "checks", v->checks);
    json_object_set_new(v->verdict, "tcb_status", json_null());
    json_object_set_new(v->verdict, "advisory_ids", json_array());
    json_object_set_new(v->verdict, "simulated", json_false());
    cl_verdict_time(v->verdict, "verified_at", at);
    return 0;
}

int cl_verdict_step(cl_verdict *v, const char *name, int ok, const char *fmt, ...)
{
    char detail[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    json_array_append_new(v->checks, json_pack("{s:s, s:b, s:s}", "name", name, "ok", ok,
                                               "detail", detail));
    v->failed |= !ok;
    return ok;
}

json_t *cl_verdict_end(cl_verdict *v)
{
    json_object_set_new(v->verdict, "authentic", json_boolean(!v->failed));
    return v->verdict;
}

void cl_verdict_time(json_t *obj, const char *key, time_t t)
{
    char text[32];
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(obj, key, json_string(text));
}

static void hex_member(json_t *obj, const char *key, const uint8_t *bytes, size_t n)
{
    char hex[2 * 64 + 1];

    cl_hex(hex, bytes, n);
    json_object_set_new(obj, key, json_string(hex));
}

static json_t *quote_json(const cl_quote *q)
{
    json_t *o = json_pack("{s:i, s:s, s:i, s:i, s:i, s:i, s:b, s:i}", "version", q->version,
                          "tee", "SGX", "qe_svn", q->qe_svn, "pce_svn", q->pce_svn,
                          "isvprodid", q->body.isvprodid, "isvsvn", q->body.isvsvn,
                          "debug", (q->body.flags & 0x2) != 0, "miscselect",
                          (int)q->body.miscselect);
    char flags[24], xfrm[24];

    hex_member(o, "mrenclave", q->body.mrenclave, 32);
    hex_member(o, "mrsigner", q->body.mrsigner, 32);
    hex_member(o, "report_data", q->body.reportdata, 64);
    hex_member(o, "cpusvn", q->body.cpusvn, 16);
    snprintf(flags, sizeof(flags), "0x%llx", (unsigned long long)q->body.flags);
    snprintf(xfrm, sizeof(xfrm), "0x%llx", (unsigned long long)q->body.xfrm);
    json_object_set_new(o, "attributes", json_pack("{s:s, s:s}", "flags", flags, "xfrm", xfrm));
    return o;
}

static json_t *pck_json(const cl_pck_info *p, X509 *leaf)
{
    json_t *comps = json_array();
    char issuer[256] = "";
    json_t *o;

    for (int i = 0; i < 16; i++)
        json_array_append_new(comps, json_integer(p->components[i]));
    X509_NAME_get_text_by_NID(X509_get_issuer_name(leaf), NID_commonName, issuer,
                              sizeof(issuer));
    o = json_pack("{s:o, s:i, s:s, s:s}", "tcb_components", comps, "pcesvn", p->pcesvn,
                  "issuer", issuer, "sgx_type", p->sgx_type == 0 ? "standard" : "scalable");
    hex_member(o, "fmspc", p->fmspc, 6);
    hex_member(o, "pce_id", p->pceid, 2);
    hex_member(o, "cpusvn", p->cpusvn, 16);
    hex_member(o, "ppid", p->ppid, 16);
    return o;
}

static json_t *collateral_json(const cl_collateral_doc *d)
{
    json_t *o = json_pack("{s:i, s:I}", "version", d->version, "tcb_evaluation_data_number",
                          (json_int_t)d->evaluation_number);

    cl_verdict_time(o, "issue_date", d->issue_date);
    cl_verdict_time(o, "next_update", d->next_update);
    return o;
}

/* ---- the steps -------------------------------------------------------------- */

typedef struct material {
    cl_verify_cache *cache;
    cl_quote quote;
    STACK_OF(X509) *chain;          /* the quote's PCK chain */
    STACK_OF(X509_CRL) *crls;
    cl_pck_info pck;
    cl_collateral_doc tcb_info, qe_identity;
    STACK_OF(X509) *tcb_chain, *qe_chain;
} material;

static void material_free(material *m)
{
    sk_X509_pop_free(m->chain, X509_free);
    sk_X509_CRL_pop_free(m->crls, X509_CRL_free);
    sk_X509_pop_free(m->tcb_chain, X509_free);
    sk_X509_pop_free(m->qe_chain, X509_free);
    cl_collateral_free(&m->tcb_info);
    cl_collateral_free(&m->qe_identity);
}

/* A chain whose last certificate, when it has more than one, must be a
 * trust root by its key; the root used is named in the verdict. */
static int root_of(cl_verdict *j, const char *name, STACK_OF(X509) *chain, STACK_OF(X509) *roots)
{
    X509 *last = sk_X509_value(chain, sk_X509_num(chain) - 1), *root;
    char cn[256] = "";

    if (sk_X509_num(chain) < 2)
        return cl_verdict_step(j, name, 0, "the chain has %d certificate(s); a signer and its root are "
                    "needed", sk_X509_num(chain));
    if ((root = cl_trust_root_match(last, roots)) == NULL)
        return cl_verdict_step(j, name, 0, "the chain ends in a root that is not trusted (its public key "
                    "is not a trust root's)");
    X509_NAME_get_text_by_NID(X509_get_subject_name(root), NID_commonName, cn, sizeof(cn));
    json_object_set_new(j->verdict, "trust_root", json_string(cn));
    if (!is_intel(root))        /* a simulation PKI, or another an operator trusts */
        json_object_set_new(j->verdict, "simulated", json_true());
    return 1;
}

/* ---- parsing once (with a cache) ---------------------------------------------- */

static void free_chain(void *chain)
{
    sk_X509_pop_free(chain, X509_free);
}

static void free_crl(void *crl)
{
    X509_CRL_free(crl);
}

typedef struct kept_doc {
    cl_collateral_doc doc;
    size_t offset;              /* of the signed bytes in the text */
} kept_doc;

static void free_doc(void *p)
{
    cl_collateral_free(&((kept_doc *)p)->doc);
    free(p);
}

/* The certificates of a PEM text, parsed once per cache: a new stack whose
 * certificates the caller holds references to. */
static int read_chain(cl_verify_cache *cache, STACK_OF(X509) **out, const char *pem,
                      size_t len, cl_error *err)
{
    uint8_t key[32];
    STACK_OF(X509) *kept;
    int rc;

    cl_sha256(key, pem, len);
    if ((kept = cl_verify_cache_object(cache, key)) == NULL) {
        if ((rc = cl_pem_chain(&kept, pem, len, err)) < 0)
            return rc;
        if (!cl_verify_cache_keep(cache, key, kept, free_chain)) {
            *out = kept;
            return 0;
        }
    }
    *out = sk_X509_dup(kept);
    for (int i = 0; *out != NULL && i < sk_X509_num(*out); i++)
        X509_up_ref(sk_X509_value(*out, i));
    return *out ? 0 : cl_error_set(err, CL_ERROR, "out of memory");
}

static int read_crl(cl_verify_cache *cache, X509_CRL **out, const uint8_t *der, size_t len,
                    cl_error *err)
{
    uint8_t key[32];
    X509_CRL *kept;
    int rc;

    cl_sha256(key, der, len);
    if ((kept = cl_verify_cache_object(cache, key)) == NULL) {
        if ((rc = cl_crl_read(&kept, der, len, err)) < 0)
            return rc;
        if (!cl_verify_cache_keep(cache, key, kept, free_crl)) {
            *out = kept;
            return 0;
        }
    }
    X509_CRL_up_ref(kept);
    *out = kept;
    return 0;
}

/* A collateral document, parsed once per cache; *doc is the caller's (its
 * body referenced, its signed bytes in the caller's text). */
static int read_doc(cl_verify_cache *cache, cl_collateral_doc *doc, const char *text,
                    size_t len, const char *member, cl_error *err)
{
    uint8_t key[32];
    kept_doc *kept;
    int rc;

    cl_sha256(key, text, len);
    if ((kept = cl_verify_cache_object(cache, key)) == NULL) {
        if ((rc = cl_collateral_parse(doc, text, len, member, err)) < 0)
            return rc;
        if (cache == NULL || (kept = malloc(sizeof(*kept))) == NULL)
            return 0;
        kept->doc = *doc;
        kept->offset = (size_t)(doc->signed_bytes - text);
        json_incref(kept->doc.body);
        if (!cl_verify_cache_keep(cache, key, kept, free_doc))
            free_doc(kept);
        return 0;
    }
    *doc = kept->doc;
    json_incref(doc->body);
    doc->signed_bytes = text + kept->offset;
    return 0;
}

static int check_pck(cl_verdict *j, material *m, const cl_dcap_collateral *c,
                     STACK_OF(X509) *roots, time_t at)
{
    X509_CRL *crl;
    cl_error why = { 0 };
    int ok;

    if (read_chain(m->cache, &m->chain, m->quote.pck_chain, m->quote.pck_chain_len, &why) < 0) {
        cl_verdict_step(j, "pck_chain", 0, "the quote's PCK chain: %s", why.message);
        return 0;
    }
    if (!root_of(j, "pck_chain", m->chain, roots))
        return 0;
    m->crls = sk_X509_CRL_new_null();
    if (read_crl(m->cache, &crl, c->root_crl, c->root_crl_len, &why) < 0)
        return cl_verdict_step(j, "pck_chain", 0, "the root CA's CRL: %s", why.message);
    sk_X509_CRL_push(m->crls, crl);
    if (read_crl(m->cache, &crl, c->pck_crl, c->pck_crl_len, &why) < 0)
        return cl_verdict_step(j, "pck_chain", 0, "the PCK CA's CRL: %s", why.message);
    sk_X509_CRL_push(m->crls, crl);

    STACK_OF(X509) *middle = sk_X509_new_null();
    for (int i = 1; i < sk_X509_num(m->chain) - 1; i++)
        sk_X509_push(middle, sk_X509_value(m->chain, i));
    ok = cl_chain_verify(sk_X509_value(m->chain, 0), middle, roots, m->crls, at, m->cache,
                         &why) == 0;
    sk_X509_free(middle);
    if (!cl_verdict_step(j, "pck_chain", ok, ok ? "the PCK certificate chains to the trust root and is "
              "not revoked" : "the PCK certificate chain: %s", why.message))
        return 0;
    ok = cl_pck_info_read(sk_X509_value(m->chain, 0), &m->pck, &why) == 0;
    return cl_verdict_step(j, "pck_extensions", ok, "%s", ok ? "FMSPC, PCE-ID and TCB read" : why.message);
}

static int check_signatures(cl_verdict *j, material *m)
{
    cl_quote *q = &m->quote;
    EVP_PKEY *key = NULL;
    uint8_t hash[32], zero[32] = { 0 };
    cl_error why = { 0 };
    int ok;

    ok = cl_p256_verify(X509_get0_pubkey(sk_X509_value(m->chain, 0)), q->qe_signature,
                        q->qe_report.raw, CL_REPORT_BODY_SIZE);
    if (!cl_verdict_step(j, "qe_report_signature", ok, "%s", ok ? "the QE report is signed by the PCK key"
              : "the QE report's signature does not verify with the PCK certificate's key"))
        return 0;
    uint8_t *both = malloc(64 + q->qe_auth_len);
    if (both == NULL)
        return cl_verdict_step(j, "qe_report_data", 0, "out of memory");
    memcpy(both, q->attest_key, 64);
    memcpy(both + 64, q->qe_auth, q->qe_auth_len);
    cl_sha256(hash, both, 64 + q->qe_auth_len);
    free(both);
    ok = memcmp(hash, q->qe_report.reportdata, 32) == 0 &&
         memcmp(zero, q->qe_report.reportdata + 32, 32) == 0;
    if (!cl_verdict_step(j, "qe_report_data", ok, "%s", ok ? "the QE report binds the attestation key"
              : "the QE report data is not SHA-256 of the attestation key and the QE "
                "authentication data"))
        return 0;
    if (cl_p256_key(&key, q->attest_key, &why) < 0)
        return cl_verdict_step(j, "quote_signature", 0, "%s", why.message);
    ok = cl_p256_verify(key, q->signature, q->signed_part, q->signed_len);
    EVP_PKEY_free(key);
    return cl_verdict_step(j, "quote_signature", ok, "%s", ok ? "the quote is signed by the attestation key"
                : "the quote's signature does not verify with its attestation key");
}

/* A collateral document: parsed, its signing chain trusted, its signature
 * the signer's, and valid at `at`. */
static int check_collateral(cl_verdict *j, const char *name, const char *member,
                            cl_collateral_doc *doc, STACK_OF(X509) **chain, const char *text,
                            size_t len, const char *pem, size_t pem_len, material *m,
                            STACK_OF(X509) *roots, time_t at)
{
    cl_error why = { 0 };
    char from[32], to[32], now[32];
    struct tm tm;

    if (text == NULL || pem == NULL)
        return cl_verdict_step(j, name, 0, "no %s collateral was given", member);
    if (read_doc(m->cache, doc, text, len, member, &why) < 0)
        return cl_verdict_step(j, name, 0, "%s", why.message);
    if (read_chain(m->cache, chain, pem, pem_len, &why) < 0)
        return cl_verdict_step(j, name, 0, "its signing chain: %s", why.message);
    if (!root_of(j, name, *chain, roots))
        return 0;
    STACK_OF(X509_CRL) *root_crl = sk_X509_CRL_new_null();
    sk_X509_CRL_push(root_crl, sk_X509_CRL_value(m->crls, 0));
    int ok = cl_chain_verify(sk_X509_value(*chain, 0), NULL, roots, root_crl, at, m->cache,
                             &why) == 0;
    sk_X509_CRL_free(root_crl);
    if (!ok)
        return cl_verdict_step(j, name, 0, "its signing certificate: %s", why.message);
    if (!cl_collateral_signed_by(doc, sk_X509_value(*chain, 0), m->cache))
        return cl_verdict_step(j, name, 0, "its signature does not verify with the TCB signing key");
    gmtime_r(&doc->issue_date, &tm);
    strftime(from, sizeof(from), "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&doc->next_update, &tm);
    strftime(to, sizeof(to), "%Y-%m-%dT%H:%M:%SZ", &tm);
    gmtime_r(&at, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (at < doc->issue_date)
        return cl_verdict_step(j, name, 0, "it was issued at %s, after the verification time %s", from,
                    now);
    if (at >= doc->next_update)
        return cl_verdict_step(j, name, 0, "it expired at %s (its nextUpdate), before the verification "
                    "time %s", to, now);
    return cl_verdict_step(j, name, 1, "signed by the TCB signing key; valid from %s to %s", from, to);
}

/* The platform's status with its QE's, as the QVL converges them. */
static const char *converge(const char *tcb, const char *qe)
{
    if (strcmp(qe, "Revoked") == 0)
        return "Revoked";
    if (strcmp(qe, "OutOfDate") == 0) {
        if (strcmp(tcb, "UpToDate") == 0 || strcmp(tcb, "SWHardeningNeeded") == 0)
            return "OutOfDate";
        if (strcmp(tcb, "ConfigurationNeeded") == 0 ||
            strcmp(tcb, "ConfigurationAndSWHardeningNeeded") == 0)
            return "OutOfDateConfigurationNeeded";
    }
    return tcb;
}

static void add_unique(json_t *to, json_t *from)
{
    size_t i, k;
    json_t *v, *w;

    json_array_foreach(from, i, v) {
        int seen = 0;
        json_array_foreach(to, k, w)
            seen |= json_equal(v, w);
        if (!seen && json_is_string(v))
            json_array_append(to, v);
    }
}

static void check_levels(cl_verdict *j, material *m)
{
    const char *tcb_status, *qe_status;
    json_t *tcb_adv, *qe_adv;
    cl_error why = { 0 };

    int ok = cl_tcb_info_level(&m->tcb_info, &m->pck, &tcb_status, &tcb_adv, &why) == 0;

    if (!cl_verdict_step(j, "tcb_level", ok, "%s", ok ? "the PCK's TCB reaches a TCB level" : why.message))
        return;
    ok = cl_qe_identity_level(&m->qe_identity, &m->quote.qe_report, &qe_status, &qe_adv,
                              &why) == 0;
    if (!cl_verdict_step(j, "qe_identity_level", ok, "%s",
              ok ? "the QE is the one its identity names" : why.message))
        return;
    json_t *advisories = json_array();
    add_unique(advisories, tcb_adv);
    add_unique(advisories, qe_adv);
    json_object_set_new(j->verdict, "tcb_status", json_string(converge(tcb_status, qe_status)));
    json_object_set_new(j->verdict, "advisory_ids", advisories);
    json_object_set_new(j->verdict, "qe", json_pack("{s:s, s:i}", "tcb_status", qe_status,
                                                    "isvsvn", m->quote.qe_report.isvsvn));
    json_object_set_new(j->verdict, "platform_tcb_status", json_string(tcb_status));
}

int cl_dcap_verify(const uint8_t *quote, size_t len, const cl_dcap_collateral *c,
                   STACK_OF(X509) *roots, time_t at, cl_verify_cache *cache, json_t **verdict,
                   cl_error *err)
{
    material m = { .cache = cache };
    cl_error why = { 0 };
    cl_verdict j;
    int rc;

    if ((rc = cl_verdict_begin(&j, at, err)) < 0)
        return rc;
    int parsed = cl_quote_parse(&m.quote, quote, len, &why) == 0;

    if (cl_verdict_step(&j, "quote", parsed, "%s", parsed ? "an SGX ECDSA P-256 quote" : why.message)) {
        json_object_set_new(j.verdict, "quote", quote_json(&m.quote));
        if (check_pck(&j, &m, c, roots, at)) {
            json_object_set_new(j.verdict, "pck", pck_json(&m.pck, sk_X509_value(m.chain, 0)));
            if (check_signatures(&j, &m) &&
                check_collateral(&j, "tcb_info", "tcbInfo", &m.tcb_info, &m.tcb_chain,
                                 c->tcb_info, c->tcb_info_len, c->tcb_chain, c->tcb_chain_len,
                                 &m, roots, at) &&
                check_collateral(&j, "qe_identity", "enclaveIdentity", &m.qe_identity,
                                 &m.qe_chain, c->qe_identity, c->qe_identity_len, c->qe_chain,
                                 c->qe_chain_len, &m, roots, at)) {
                json_object_set_new(j.verdict, "collateral", json_pack(
                    "{s:o, s:o}", "tcb_info", collateral_json(&m.tcb_info),
                    "qe_identity", collateral_json(&m.qe_identity)));
                check_levels(&j, &m);
            }
        }
    }
    material_free(&m);
    *verdict = cl_verdict_end(&j);
    return 0;
}

int cl_dcap_quote_platform(const uint8_t *quote, size_t len, char fmspc[13], char ca[16],
                           cl_error *err)
{
    STACK_OF(X509) *chain = NULL;
    cl_pck_info pck;
    cl_quote q;
    char issuer[256] = "";
    int rc;

    if ((rc = cl_quote_parse(&q, quote, len, err)) < 0 ||
        (rc = cl_pem_chain(&chain, q.pck_chain, q.pck_chain_len, err)) < 0)
        return rc;
    rc = cl_pck_info_read(sk_X509_value(chain, 0), &pck, err);
    X509_NAME_get_text_by_NID(X509_get_issuer_name(sk_X509_value(chain, 0)), NID_commonName,
                              issuer, sizeof(issuer));
    sk_X509_pop_free(chain, X509_free);
    if (rc < 0)
        return rc;
    cl_hex(fmspc, pck.fmspc, 6);
    if (strstr(issuer, "Processor") != NULL)
        snprintf(ca, 16, "processor");
    else if (strstr(issuer, "Platform") != NULL)
        snprintf(ca, 16, "platform");
    else
        return cl_error_set(err, CL_EINVALID, "the PCK certificate's issuer \"%s\" is neither "
                            "a Processor nor a Platform CA", issuer);
    return 0;
}

/* ---- policy ------------------------------------------------------------------ */

static const char *const default_statuses[] = { "UpToDate", "SWHardeningNeeded", NULL };
static const char *const no_advisories[] = { NULL };

const cl_attestation_policy cl_attestation_policy_default = {
    default_statuses, no_advisories, 0, 0,
};

static int listed(const char *const *list, const char *s)
{
    for (; list != NULL && *list != NULL; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

void cl_dcap_policy(json_t *verdict, const cl_attestation_policy *p)
{
    json_t *reasons = json_array(), *quote = json_object_get(verdict, "quote"), *v;
    const char *status = json_string_value(json_object_get(verdict, "tcb_status"));
    size_t i;

    if (!json_is_true(json_object_get(verdict, "authentic")))
        json_array_append_new(reasons, json_string("the evidence is not authentic"));
    if (status != NULL && !listed(p->statuses, status))
        json_array_append_new(reasons, json_sprintf("TCB status %s is not accepted", status));
    json_array_foreach(json_object_get(verdict, "advisory_ids"), i, v)
        if (!listed(p->advisories, json_string_value(v)))
            json_array_append_new(reasons, json_sprintf("advisory %s is not accepted",
                                                        json_string_value(v)));
    if (json_is_true(json_object_get(quote, "debug")) && !p->allow_debug)
        json_array_append_new(reasons, json_string("the enclave is a debug enclave"));
    if (quote != NULL && json_integer_value(json_object_get(quote, "isvsvn")) < p->min_isvsvn)
        json_array_append_new(reasons, json_sprintf("ISVSVN %lld is below the minimum %d",
                              (long long)json_integer_value(json_object_get(quote, "isvsvn")),
                              p->min_isvsvn));
    json_object_set_new(verdict, "policy", json_pack("{s:s, s:o}", "verdict",
                        json_array_size(reasons) ? "refused" : "accepted", "reasons", reasons));
}
