/*
 * collateral.c - /v1/collateral: Intel's SGX collateral the daemon judges
 * quotes with, shared by every account (it is public).
 *
 * It comes two ways: an instance administrator imports it as the PCS
 * serves it (air-gapped installs), or the daemon fetches it from the PCS
 * (or a PCCS) the first time a quote needs what it does not hold, or holds
 * past its nextUpdate (cl_collateral_ensure).  Either way each document is
 * checked before it is kept: JSON collateral must be signed by a
 * certificate that chains to a trust root, and a root CA CRL by a trust
 * root; a document replaces the one of its kind (and FMSPC, or CA) it finds
 * unless that one is newer (an older document never takes the place of
 * newer collateral).  Whether a document is valid at a quote's time is
 * judged with each quote.
 *
 * Fetching happens inside the request that needs it, within a bounded
 * time: one request fetches (a PostgreSQL advisory lock, so across every
 * daemon replica) while the others wait for it and then find what it kept.
 */
#include "collateral.h"
#include "daemon.h"
#include "log.h"
#include "resource.h"
#include "sgx/collateral.h"
#include "sgx/pck.h"
#include "sgx/pcs.h"
#include "token.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLATERAL_COLUMNS \
    "c.kind, c.key, cl_time(c.issue_date) AS issue_date, cl_time(c.next_update) AS next_update," \
    " c.version, c.source, c.updated_at, length(c.body) AS size"
#define FETCH_LOCK "hashtext('cloister.collateral.fetch')"

static void rfc3339(char out[32], time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int asn1_rfc3339(char out[32], const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 0;
}

int cl_collateral_check(cl_daemon *d, cl_collateral_item *item, cl_error *err)
{
    item->version[0] = '\0';
    if (strcmp(item->kind, "tcb_info") == 0 || strcmp(item->kind, "qe_identity") == 0) {
        const char *member = item->kind[0] == 't' ? "tcbInfo" : "enclaveIdentity";
        STACK_OF(X509) *certs = NULL;
        cl_collateral_doc doc;
        int rc, ok;

        if ((rc = cl_collateral_parse(&doc, item->body, item->len, member, err)) < 0)
            return rc;
        ok = item->chain != NULL &&
             cl_pem_chain(&certs, item->chain, strlen(item->chain), NULL) == 0 &&
             sk_X509_num(certs) >= 2 &&
             cl_trust_root_match(sk_X509_value(certs, sk_X509_num(certs) - 1),
                                 d->sgx_roots) != NULL &&
             cl_collateral_signed_by(&doc, sk_X509_value(certs, 0), NULL);
        rfc3339(item->issue, doc.issue_date);
        rfc3339(item->next, doc.next_update);
        snprintf(item->version, sizeof(item->version), "%d", doc.version);
        item->key[0] = '\0';
        if (item->kind[0] == 't') {
            const char *fmspc = json_string_value(json_object_get(doc.body, "fmspc"));

            snprintf(item->key, sizeof(item->key), "%s", fmspc ? fmspc : "");
            for (char *p = item->key; *p; p++)
                *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        }
        sk_X509_pop_free(certs, X509_free);
        cl_collateral_free(&doc);
        return ok ? 0 : cl_error_set(err, CL_EINVALID, "is not signed by the first certificate "
                                     "of its issuer chain, or that chain does not end in a "
                                     "trusted root");
    }
    X509_CRL *crl = NULL;
    int rc, ok = 1;

    if ((rc = cl_crl_read(&crl, item->body, item->len, err)) < 0)
        return rc;
    if (strcmp(item->kind, "root_ca_crl") == 0) {
        ok = 0;
        item->key[0] = '\0';
        for (int i = 0; i < sk_X509_num(d->sgx_roots); i++)
            ok |= X509_CRL_verify(crl, X509_get0_pubkey(sk_X509_value(d->sgx_roots, i))) == 1;
    }
    if (asn1_rfc3339(item->issue, X509_CRL_get0_lastUpdate(crl)) < 0 ||
        asn1_rfc3339(item->next, X509_CRL_get0_nextUpdate(crl)) < 0)
        ok = 0;
    X509_CRL_free(crl);
    return ok ? 0 : cl_error_set(err, CL_EINVALID, "%s", item->kind[0] == 'r'
                                 ? "is not signed by a trusted root, or has no nextUpdate"
                                 : "has no nextUpdate");
}

int cl_collateral_keep(cl_pg *db, cl_arena *a, const cl_collateral_item *item,
                       const char *source, int *kept, cl_error *err)
{
    char *hex = cl_arena_alloc(a, 2 * item->len + 3);
    PGresult *res;
    int rc;

    if (hex == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    hex[0] = '\\';
    hex[1] = 'x';
    cl_hex(hex + 2, item->body, item->len);
    const char *params[8] = { item->kind, item->key, hex, item->chain ? item->chain : "",
                              item->issue, item->next, item->version, source };
    if ((rc = cl_pg_exec(&res, db, a,
            "INSERT INTO collateral (kind, key, body, issuer_chain, issue_date, next_update,"
            "  version, source) VALUES ($1, $2, $3::bytea, $4, $5, $6, $7, $8)"
            " ON CONFLICT (kind, key) DO UPDATE SET body = EXCLUDED.body,"
            "  issuer_chain = EXCLUDED.issuer_chain, issue_date = EXCLUDED.issue_date,"
            "  next_update = EXCLUDED.next_update, version = EXCLUDED.version,"
            "  source = EXCLUDED.source, updated_at = now()"
            " WHERE collateral.issue_date <= EXCLUDED.issue_date"
            " RETURNING kind", 8, params, err)) < 0)
        return rc;
    *kept = PQntuples(res) == 1;
    return 0;
}

int cl_collateral_fetch(cl_daemon *d, cl_pg *db, cl_arena *a, const char *kind, const char *key,
                        int *kept, cl_error *err)
{
    cl_pcs pcs = { d->cfg.pcs_url, d->cfg.pcs_root_crl_url, d->cfg.pcs_api_key,
                   { .timeout_s = d->cfg.pcs_timeout } };
    cl_pcs_doc doc;
    int rc;

    *kept = 0;
    rc = strcmp(kind, "tcb_info") == 0 ? cl_pcs_tcb_info(&pcs, key, &doc, err)
       : strcmp(kind, "qe_identity") == 0 ? cl_pcs_qe_identity(&pcs, &doc, err)
       : strcmp(kind, "pck_crl") == 0 ? cl_pcs_pck_crl(&pcs, key, &doc, err)
                                      : cl_pcs_root_crl(&pcs, &doc, err);
    if (rc < 0)
        return rc;
    cl_collateral_item item = { .kind = kind, .body = doc.body, .len = doc.len,
                                .chain = doc.issuer_chain };
    snprintf(item.key, sizeof(item.key), "%s", strcmp(kind, "pck_crl") == 0 ? key : "");
    if ((rc = cl_collateral_check(d, &item, err)) < 0)
        cl_error_prefix(err, "the PCS's %s ", kind);
    else
        rc = cl_collateral_keep(db, a, &item, pcs.base, kept, err);
    cl_pcs_doc_free(&doc);
    return rc;
}

/* ---- fetching ---------------------------------------------------------------- */

/* What of a platform's collateral is missing or past its nextUpdate. */
static int wanted(cl_req *r, cl_pg *db, const char *fmspc, const char *ca, int need[4])
{
    static const char *const kinds[4] = { "tcb_info", "qe_identity", "pck_crl", "root_ca_crl" };
    const char *params[2] = { fmspc, ca };
    PGresult *res;
    int rc, any = 0;

    if ((rc = cl_req_exec(r, db, &res,
            "SELECT c.kind FROM collateral c WHERE c.next_update > now() AND"
            " ((c.kind = 'tcb_info' AND c.key = $1) OR (c.kind = 'pck_crl' AND c.key = $2)"
            "  OR c.kind IN ('qe_identity', 'root_ca_crl'))", 2, params)) < 0)
        return rc;
    for (int k = 0; k < 4; k++) {
        need[k] = 1;
        for (int i = 0; i < PQntuples(res); i++)
            if (strcmp(PQgetvalue(res, i, 0), kinds[k]) == 0)
                need[k] = 0;
        any |= need[k];
    }
    return any;
}

int cl_collateral_ensure(cl_req *r, const char *fmspc, const char *ca)
{
    static const char *const kinds[4] = { "tcb_info", "qe_identity", "pck_crl", "root_ca_crl" };
    cl_daemon *d = cl_req_daemon(r);
    int need[4], rc;
    cl_pg *db;

    if (d->cfg.pcs_url == NULL || d->cfg.pcs_url[0] == '\0')
        return 0;                           /* air-gapped: imported collateral only */
    if ((rc = cl_req_db(r, &db)) < 0 || (rc = wanted(r, db, fmspc, ca, need)) <= 0)
        return rc;
    /* one fetch at a time, across replicas; the others wait, bounded */
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "SET LOCAL lock_timeout = '20s'", 0, NULL)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "SELECT pg_advisory_xact_lock(" FETCH_LOCK ")", 0,
                          NULL)) < 0)
        return rc == CL_ERROR ? cl_req_fail(r, CL_EUNAVAILABLE, "collateral is being fetched; "
                                            "try again") : rc;
    if ((rc = wanted(r, db, fmspc, ca, need)) <= 0)
        return rc < 0 ? rc : cl_req_commit(r, db);      /* someone fetched it meanwhile */

    for (int k = 0; k < 4; k++) {
        cl_error why = { 0 };
        int kept;

        if (!need[k])
            continue;
        rc = cl_collateral_fetch(d, db, cl_req_arena(r), kinds[k],
                                 k == 0 ? fmspc : k == 2 ? ca : "", &kept, &why);
        if (rc < 0)         /* what is still missing is a 503 later; a broken database
                             * fails the commit below */
            cl_log_warn("could not fetch collateral: %s", why.message);
        cl_error_clear(&why);
    }
    return cl_req_commit(r, db);
}

/* ---- the API ------------------------------------------------------------------ */

/* A document of the import's body, checked; 0 when the body has none. */
static int body_document(cl_req *r, const char *field, const char *chain_field, size_t max,
                         int binary, cl_collateral_item *item)
{
    const char *text = cl_body_string(r, field, 0, max);
    cl_error why = { 0 };

    if (text == NULL)
        return 0;
    item->chain = chain_field ? cl_body_string(r, chain_field, 0, 64 * 1024) : NULL;
    if (chain_field != NULL && item->chain == NULL)
        return cl_error_field(cl_req_err(r), chain_field, "is needed with %s", field);
    item->body = text;
    item->len = strlen(text);
    if (binary && strncmp(text, "-----BEGIN", 10) != 0) {
        unsigned char *der = cl_arena_alloc(cl_req_arena(r), strlen(text) + 3);
        size_t n = 0;

        if (der == NULL || cl_b64_decode(der, strlen(text) + 3, &n, text) < 0)
            return cl_error_field(cl_req_err(r), field, "must be a PEM CRL or a DER one in "
                                  "base64");
        item->body = der;
        item->len = n;
    }
    if (cl_collateral_check(cl_req_daemon(r), item, &why) < 0) {
        cl_error_field(cl_req_err(r), field, "%s", why.message);
        cl_error_clear(&why);
        return CL_EINVALID;
    }
    return 1;
}

/* POST /v1/collateral */
static int collateral_import(cl_req *r, json_t **out)
{
    static const char *const fields[] = {
        "tcb_info", "tcb_info_issuer_chain", "qe_identity", "qe_identity_issuer_chain",
        "pck_crl", "pck_crl_ca", "root_ca_crl", NULL,
    };
    static const char *const cas[] = { "processor", "platform", NULL };
    cl_collateral_item items[4] = {
        { .kind = "tcb_info" }, { .kind = "qe_identity" }, { .kind = "pck_crl" },
        { .kind = "root_ca_crl" },
    };
    int given[4];
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    given[0] = body_document(r, "tcb_info", "tcb_info_issuer_chain", CL_COLLATERAL_MAX, 0,
                             &items[0]);
    given[1] = body_document(r, "qe_identity", "qe_identity_issuer_chain", CL_COLLATERAL_MAX,
                             0, &items[1]);
    given[2] = body_document(r, "pck_crl", NULL, 512 * 1024, 1, &items[2]);
    const char *ca = cl_body_enum(r, "pck_crl_ca", given[2] > 0, cas);
    snprintf(items[2].key, sizeof(items[2].key), "%s", ca ? ca : "");
    given[3] = body_document(r, "root_ca_crl", NULL, 512 * 1024, 1, &items[3]);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    if (given[0] + given[1] + given[2] + given[3] == 0)
        return cl_error_field(cl_req_err(r), "tcb_info", "give at least one document");
    if ((rc = cl_req_begin(r, &db)) < 0)
        return rc;
    json_t *imported = json_array();
    cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)json_decref, imported);
    for (int i = 0; i < 4; i++) {
        int kept;

        if (given[i] <= 0)
            continue;
        if ((rc = cl_collateral_keep(db, cl_req_arena(r), &items[i], "import", &kept,
                                     cl_req_err(r))) < 0)
            return rc;
        json_array_append_new(imported, json_pack("{s:s, s:s, s:s, s:s, s:b}", "kind",
                                                  items[i].kind, "key", items[i].key,
                                                  "issue_date", items[i].issue, "next_update",
                                                  items[i].next, "kept", kept));
    }
    if ((rc = cl_audit(r, db, NULL, "collateral.import", "collateral",
                       json_pack("{s:i}", "documents", (int)json_array_size(imported)))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = json_pack("{s:O}", "imported", imported);
    return 0;
}

/* GET /v1/collateral */
static int collateral_list(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res, "SELECT " COLLATERAL_COLUMNS " FROM collateral c"
                          " ORDER BY c.kind, c.key", 0, NULL)) < 0)
        return rc;
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(items, cl_row_json(res, i));
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

const cl_route cl_collateral_routes[] = {
    { "GET",  "/v1/collateral", collateral_list,   CL_ROLE_READ },
    { "POST", "/v1/collateral", collateral_import, CL_INSTANCE_ADMIN | CL_JSON_BODY },
    { NULL, NULL, NULL, 0 },
};
