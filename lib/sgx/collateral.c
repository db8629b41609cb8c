/* collateral.c - TCB Info and QE Identity; see collateral.h. */
#include "sgx/collateral.h"
#include "digest.h"
#include "rfc3339.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- the signed bytes in the text --------------------------------------------- */

static size_t skip_space(const char *t, size_t i, size_t len)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* The end of the string starting at t[i] ('"'), past its closing quote. */
static size_t skip_string(const char *t, size_t i, size_t len)
{
    for (i++; i < len; i++) {
        if (t[i] == '\\')
            i++;
        else if (t[i] == '"')
            return i + 1;
    }
    return len + 1;
}

/* The end of the JSON value starting at t[i] (len + 1 when it has none). */
static size_t skip_value(const char *t, size_t i, size_t len)
{
    int depth = 0;

    while (i < len) {
        char ch = t[i];

        if (ch == '"') {
            i = skip_string(t, i, len);
            if (depth == 0)
                return i;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            if (depth == 0)
                return i;
            if (--depth == 0)
                return i + 1;
        } else if (depth == 0 && (ch == ',' || isspace((unsigned char)ch))) {
            return i;
        }
        i++;
    }
    return depth == 0 ? i : len + 1;
}

/* Where the top-level member `key`'s value stands in the text. */
static int member_span(const char *t, size_t len, const char *key, const char **start,
                       size_t *vlen)
{
    size_t i = skip_space(t, 0, len), klen = strlen(key);

    if (i >= len || t[i++] != '{')
        return -1;
    for (;;) {
        i = skip_space(t, i, len);
        if (i >= len || t[i] != '"')
            return -1;
        size_t kstart = i + 1, kend = skip_string(t, i, len);
        if (kend > len)
            return -1;
        i = skip_space(t, kend, len);
        if (i >= len || t[i++] != ':')
            return -1;
        i = skip_space(t, i, len);
        size_t vstart = i, vend = skip_value(t, i, len);
        if (vend > len)
            return -1;
        if (kend - 1 - kstart == klen && memcmp(t + kstart, key, klen) == 0) {
            *start = t + vstart;
            *vlen = vend - vstart;
            return 0;
        }
        i = skip_space(t, vend, len);
        if (i >= len || t[i] != ',')
            return -1;
        i++;
    }
}

/* ---- parsing ------------------------------------------------------------------ */

int cl_collateral_parse(cl_collateral_doc *doc, const char *text, size_t len,
                        const char *member, cl_error *err)
{
    json_error_t jerr;
    json_t *top;
    const char *sig, *issue, *next;

    memset(doc, 0, sizeof(*doc));
    if (len > CL_COLLATERAL_MAX)
        return cl_error_set(err, CL_EINVALID, "%s collateral is at most %u bytes", member,
                            CL_COLLATERAL_MAX);
    if ((top = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
        return cl_error_set(err, CL_EINVALID, "%s collateral is not JSON: %s", member,
                            jerr.text);
    doc->body = json_incref(json_object_get(top, member));
    sig = json_string_value(json_object_get(top, "signature"));
    int bad = !json_is_object(doc->body) || sig == NULL || strlen(sig) != 128 ||
              cl_unhex(doc->signature, 64, sig) < 0 ||
              member_span(text, len, member, &doc->signed_bytes, &doc->signed_len) < 0;
    json_decref(top);
    if (bad) {
        cl_collateral_free(doc);
        return cl_error_set(err, CL_EINVALID, "the collateral has no \"%s\" object with a "
                            "64-byte hex \"signature\"", member);
    }
    doc->version = (int)json_integer_value(json_object_get(doc->body, "version"));
    doc->evaluation_number = json_integer_value(json_object_get(doc->body,
                                                                "tcbEvaluationDataNumber"));
    issue = json_string_value(json_object_get(doc->body, "issueDate"));
    next = json_string_value(json_object_get(doc->body, "nextUpdate"));
    if (issue == NULL || next == NULL || cl_rfc3339_parse(issue, &doc->issue_date) < 0 ||
        cl_rfc3339_parse(next, &doc->next_update) < 0) {
        cl_collateral_free(doc);
        return cl_error_set(err, CL_EINVALID, "%s has no valid issueDate and nextUpdate",
                            member);
    }
    const char *id = json_string_value(json_object_get(doc->body, "id"));
    if (strcmp(member, "tcbInfo") == 0 &&
        !((doc->version == 2 && id == NULL) || (doc->version == 3 && id && !strcmp(id, "SGX")))) {
        /* id belongs to doc->body: describe the refusal before freeing it */
        cl_error_set(err, CL_EINVALID, "TCB Info version %d%s%s is not supported (SGX TCB "
                     "Info versions 2 and 3 are)", doc->version, id ? " for " : "", id ? id : "");
        cl_collateral_free(doc);
        return CL_EINVALID;
    }
    if (strcmp(member, "enclaveIdentity") == 0 &&
        (doc->version != 2 || id == NULL || strcmp(id, "QE") != 0)) {
        cl_collateral_free(doc);
        return cl_error_set(err, CL_EINVALID, "the enclave identity is not a version 2 QE "
                            "identity");
    }
    return 0;
}

void cl_collateral_free(cl_collateral_doc *doc)
{
    json_decref(doc->body);
    doc->body = NULL;
}

int cl_collateral_signed_by(const cl_collateral_doc *doc, X509 *signer, cl_verify_cache *cache)
{
    EVP_PKEY *key = X509_get0_pubkey(signer);
    EVP_MD_CTX *md = cache ? EVP_MD_CTX_new() : NULL;
    unsigned char *der = NULL;
    uint8_t digest[32];
    int n = i2d_X509(signer, &der), keyed, ok;

    keyed = md != NULL && n > 0 && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
            EVP_DigestUpdate(md, doc->signed_bytes, doc->signed_len) == 1 &&
            EVP_DigestUpdate(md, doc->signature, 64) == 1 &&
            EVP_DigestUpdate(md, der, (size_t)n) == 1 &&
            EVP_DigestFinal_ex(md, digest, NULL) == 1;
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    if (keyed && cl_verify_cache_has(cache, digest))
        return 1;
    ok = key != NULL && cl_p256_verify(key, doc->signature, doc->signed_bytes, doc->signed_len);
    if (ok && keyed)
        cl_verify_cache_add(cache, digest);
    return ok;
}

/* ---- levels ------------------------------------------------------------------- */

static int hex_equal(const char *hex, const uint8_t *bytes, size_t n)
{
    uint8_t decoded[64];

    return hex != NULL && strlen(hex) == 2 * n && n <= sizeof(decoded) &&
           cl_unhex(decoded, n, hex) == 0 && memcmp(decoded, bytes, n) == 0;
}

/* One TCB level's 16 component SVNs and PCESVN (version 2 or 3 layout). */
static int level_tcb(json_t *tcb, int version, long long comps[16], long long *pcesvn)
{
    json_t *list = json_object_get(tcb, "sgxtcbcomponents");

    for (int i = 0; i < 16; i++) {
        json_t *v;

        if (version >= 3) {
            v = json_object_get(json_array_get(list, (size_t)i), "svn");
        } else {
            char key[24];
            snprintf(key, sizeof(key), "sgxtcbcomp%02dsvn", i + 1);
            v = json_object_get(tcb, key);
        }
        if (!json_is_integer(v))
            return -1;
        comps[i] = json_integer_value(v);
    }
    if (version >= 3 && json_array_size(list) != 16)
        return -1;
    if (!json_is_integer(json_object_get(tcb, "pcesvn")))
        return -1;
    *pcesvn = json_integer_value(json_object_get(tcb, "pcesvn"));
    return 0;
}

int cl_tcb_info_level(const cl_collateral_doc *doc, const cl_pck_info *pck,
                      const char **status, json_t **advisories, cl_error *err)
{
    json_t *level;
    size_t i;

    if (!hex_equal(json_string_value(json_object_get(doc->body, "fmspc")), pck->fmspc, 6))
        return cl_error_set(err, CL_EINVALID, "the TCB Info is for FMSPC %s, not the PCK "
                            "certificate's", json_string_value(json_object_get(doc->body,
                                                                               "fmspc")));
    if (!hex_equal(json_string_value(json_object_get(doc->body, "pceId")), pck->pceid, 2))
        return cl_error_set(err, CL_EINVALID, "the TCB Info is for another PCE-ID than the "
                            "PCK certificate's");
    json_array_foreach(json_object_get(doc->body, "tcbLevels"), i, level) {
        long long comps[16], pcesvn;
        int below = 0;

        if (level_tcb(json_object_get(level, "tcb"), doc->version, comps, &pcesvn) < 0)
            return cl_error_set(err, CL_EINVALID, "TCB level %zu of the TCB Info is malformed",
                                i);
        for (int c = 0; c < 16; c++)
            below |= pck->components[c] < comps[c];
        if (below || pck->pcesvn < pcesvn)
            continue;
        *status = json_string_value(json_object_get(level, "tcbStatus"));
        *advisories = json_object_get(level, "advisoryIDs");
        if (*status == NULL)
            return cl_error_set(err, CL_EINVALID, "TCB level %zu has no tcbStatus", i);
        return 0;
    }
    return cl_error_set(err, CL_EINVALID, "no TCB level of the TCB Info is reached by the "
                        "platform's TCB (PCESVN %u): its TCB is not supported", pck->pcesvn);
}

int cl_qe_identity_level(const cl_collateral_doc *doc, const cl_report_body *qe,
                         const char **status, json_t **advisories, cl_error *err)
{
    json_t *b = doc->body, *level;
    uint8_t misc[4], misc_mask[4], attr[16], attr_mask[16], report_misc[4];
    size_t i;

    if (!hex_equal(json_string_value(json_object_get(b, "mrsigner")), qe->mrsigner, 32))
        return cl_error_set(err, CL_EINVALID, "the QE's MRSIGNER is not the one its identity "
                            "names");
    if (json_integer_value(json_object_get(b, "isvprodid")) != qe->isvprodid)
        return cl_error_set(err, CL_EINVALID, "the QE's ISVPRODID %u is not its identity's",
                            qe->isvprodid);
    const char *m = json_string_value(json_object_get(b, "miscselect"));
    const char *mm = json_string_value(json_object_get(b, "miscselectMask"));
    const char *a = json_string_value(json_object_get(b, "attributes"));
    const char *am = json_string_value(json_object_get(b, "attributesMask"));
    if (!m || !mm || !a || !am || strlen(m) != 8 || strlen(mm) != 8 || strlen(a) != 32 ||
        strlen(am) != 32 || cl_unhex(misc, 4, m) < 0 || cl_unhex(misc_mask, 4, mm) < 0 ||
        cl_unhex(attr, 16, a) < 0 || cl_unhex(attr_mask, 16, am) < 0)
        return cl_error_set(err, CL_EINVALID, "the QE identity's MISCSELECT or ATTRIBUTES are "
                            "malformed");
    for (int k = 0; k < 4; k++)         /* the hex reads most significant first */
        report_misc[k] = (uint8_t)(qe->miscselect >> (24 - 8 * k));
    for (int k = 0; k < 4; k++)
        if ((report_misc[k] & misc_mask[k]) != (misc[k] & misc_mask[k]))
            return cl_error_set(err, CL_EINVALID, "the QE's MISCSELECT is not its identity's");
    for (int k = 0; k < 16; k++)
        if ((qe->raw[48 + k] & attr_mask[k]) != (attr[k] & attr_mask[k]))
            return cl_error_set(err, CL_EINVALID, "the QE's ATTRIBUTES are not its identity's");
    json_array_foreach(json_object_get(b, "tcbLevels"), i, level) {
        json_t *svn = json_object_get(json_object_get(level, "tcb"), "isvsvn");

        if (!json_is_integer(svn))
            return cl_error_set(err, CL_EINVALID, "level %zu of the QE identity is malformed",
                                i);
        if (qe->isvsvn < json_integer_value(svn))
            continue;
        *status = json_string_value(json_object_get(level, "tcbStatus"));
        *advisories = json_object_get(level, "advisoryIDs");
        if (*status == NULL)
            return cl_error_set(err, CL_EINVALID, "level %zu of the QE identity has no "
                                "tcbStatus", i);
        return 0;
    }
    return cl_error_set(err, CL_EINVALID, "the QE's ISVSVN %u is below every level of its "
                        "identity", qe->isvsvn);
}
