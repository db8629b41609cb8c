/*
 * collateral.c - /v1/collateral: Intel's SGX collateral the daemon judges
 * quotes with, shared by every account (it is public).
 *
 * An instance administrator imports it as Intel's Provisioning
 * Certification Service serves it (air-gapped installs): the TCB Info for
 * an FMSPC and the QE identity, each with its issuer chain, and the PCK
 * CA's and the root CA's CRLs.  Each document is checked before it is
 * kept: JSON collateral must be signed by a certificate that chains to a
 * trust root, and a root CA CRL by a trust root; a document replaces the
 * one of its kind (and FMSPC, or CA) it finds unless that one is newer (an
 * older import never takes the place of newer collateral).  Whether a
 * document is still valid is judged with each quote, at that quote's time.
 */
#include "daemon.h"
#include "resource.h"
#include "sgx/collateral.h"
#include "sgx/pck.h"
#include "token.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLATERAL_COLUMNS \
    "c.kind, c.key, cl_time(c.issue_date) AS issue_date, cl_time(c.next_update) AS next_update," \
    " c.version, c.source, c.updated_at, length(c.body) AS size"

static void rfc3339(char out[32], time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct document {
    const char *kind, *key;
    const void *body;
    size_t len;
    const char *chain;
    char issue[32], next[32], version[32];
} document;

/* A TCB Info or QE identity: parsed, signed by its chain's first
 * certificate, the chain ending in a trust root. */
static int json_document(cl_req *r, const char *field, const char *member, const char *chain_field,
                         document *d)
{
    const char *text = cl_body_string(r, field, 0, CL_COLLATERAL_MAX);
    const char *chain = cl_body_string(r, chain_field, 0, 64 * 1024);
    STACK_OF(X509) *certs = NULL;
    cl_collateral_doc doc;
    cl_error why = { 0 };
    int ok;

    if (text == NULL)
        return 0;
    if (chain == NULL)
        return cl_error_field(cl_req_err(r), chain_field, "is needed with %s", field);
    if (cl_collateral_parse(&doc, text, strlen(text), member, &why) < 0) {
        cl_error_field(cl_req_err(r), field, "%s", why.message);
        return CL_EINVALID;
    }
    ok = cl_pem_chain(&certs, chain, strlen(chain), &why) == 0 && sk_X509_num(certs) >= 2 &&
         cl_trust_root_match(sk_X509_value(certs, sk_X509_num(certs) - 1),
                             cl_req_daemon(r)->sgx_roots) != NULL &&
         cl_collateral_signed_by(&doc, sk_X509_value(certs, 0), NULL);
    if (!ok)
        cl_error_field(cl_req_err(r), field, "is not signed by the first certificate of %s, "
                       "or that chain does not end in a trusted root", chain_field);
    d->body = text;
    d->len = strlen(text);
    d->chain = chain;
    rfc3339(d->issue, doc.issue_date);
    rfc3339(d->next, doc.next_update);
    snprintf(d->version, sizeof(d->version), "%d", doc.version);
    if (strcmp(member, "tcbInfo") == 0) {
        const char *fmspc = json_string_value(json_object_get(doc.body, "fmspc"));
        char *lower = cl_arena_strdup(cl_req_arena(r), fmspc ? fmspc : "");

        for (char *p = lower; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        d->key = lower;
    } else {
        d->key = "";
    }
    sk_X509_pop_free(certs, X509_free);
    cl_collateral_free(&doc);
    return ok ? 1 : CL_EINVALID;
}

/* A CRL, PEM or base64 DER; the root CA's must be signed by a trust root. */
static int crl_document(cl_req *r, const char *field, int root, document *d)
{
    const char *text = cl_body_string(r, field, 0, 512 * 1024);
    unsigned char *der;
    size_t len = 0;
    X509_CRL *crl = NULL;
    cl_error why = { 0 };

    if (text == NULL)
        return 0;
    if (strncmp(text, "-----BEGIN", 10) == 0) {
        der = (unsigned char *)text;
        len = strlen(text);
    } else {
        der = cl_arena_alloc(cl_req_arena(r), strlen(text));
        if (der == NULL || cl_b64_decode(der, strlen(text), &len, text) < 0)
            return cl_error_field(cl_req_err(r), field, "must be a PEM CRL or a DER one in "
                                  "base64");
    }
    if (cl_crl_read(&crl, der, len, &why) < 0)
        return cl_error_field(cl_req_err(r), field, "%s", why.message);
    int ok = !root;
    for (int i = 0; root && i < sk_X509_num(cl_req_daemon(r)->sgx_roots); i++)
        ok |= X509_CRL_verify(crl, X509_get0_pubkey(sk_X509_value(cl_req_daemon(r)->sgx_roots,
                                                                   i))) == 1;
    const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl), *next = X509_CRL_get0_nextUpdate(crl);
    struct tm tm;
    if (next == NULL || ASN1_TIME_to_tm(last, &tm) != 1)
        ok = 0;
    else
        strftime(d->issue, sizeof(d->issue), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (ok && ASN1_TIME_to_tm(next, &tm) == 1)
        strftime(d->next, sizeof(d->next), "%Y-%m-%dT%H:%M:%SZ", &tm);
    X509_CRL_free(crl);
    if (!ok)
        return cl_error_field(cl_req_err(r), field, "%s", root ? "is not signed by a trusted "
                              "root, or has no nextUpdate" : "has no nextUpdate");
    d->body = der;
    d->len = len;
    d->chain = "";
    d->version[0] = '\0';
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
    document docs[4] = {
        { .kind = "tcb_info" }, { .kind = "qe_identity" }, { .kind = "pck_crl" },
        { .kind = "root_ca_crl", .key = "" },
    };
    int given[4];
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    given[0] = json_document(r, "tcb_info", "tcbInfo", "tcb_info_issuer_chain", &docs[0]);
    given[1] = json_document(r, "qe_identity", "enclaveIdentity", "qe_identity_issuer_chain",
                             &docs[1]);
    given[2] = crl_document(r, "pck_crl", 0, &docs[2]);
    docs[2].key = cl_body_enum(r, "pck_crl_ca", given[2] > 0, cas);
    given[3] = crl_document(r, "root_ca_crl", 1, &docs[3]);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    if (given[0] + given[1] + given[2] + given[3] == 0)
        return cl_error_field(cl_req_err(r), "tcb_info", "give at least one document");
    if ((rc = cl_req_begin(r, &db)) < 0)
        return rc;
    json_t *imported = json_array();
    cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)json_decref, imported);
    for (int i = 0; i < 4; i++) {
        if (given[i] <= 0)
            continue;
        char *hex = cl_arena_alloc(cl_req_arena(r), 2 * docs[i].len + 3);
        if (hex == NULL)
            return cl_req_fail(r, CL_ERROR, "out of memory");
        hex[0] = '\\';
        hex[1] = 'x';
        cl_hex(hex + 2, docs[i].body, docs[i].len);
        const char *params[7] = { docs[i].kind, docs[i].key, hex, docs[i].chain, docs[i].issue,
                                  docs[i].next, docs[i].version };
        if ((rc = cl_req_exec(r, db, &res,
                "INSERT INTO collateral (kind, key, body, issuer_chain, issue_date, next_update,"
                "  version, source) VALUES ($1, $2, $3::bytea, $4, $5, $6, $7, 'import')"
                " ON CONFLICT (kind, key) DO UPDATE SET body = EXCLUDED.body,"
                "  issuer_chain = EXCLUDED.issuer_chain, issue_date = EXCLUDED.issue_date,"
                "  next_update = EXCLUDED.next_update, version = EXCLUDED.version,"
                "  source = 'import', updated_at = now()"
                " WHERE collateral.issue_date <= EXCLUDED.issue_date"
                " RETURNING kind", 7, params)) < 0)
            return rc;
        json_array_append_new(imported, json_pack("{s:s, s:s, s:s, s:s, s:b}", "kind",
                                                  docs[i].kind, "key", docs[i].key,
                                                  "issue_date", docs[i].issue, "next_update",
                                                  docs[i].next, "kept", PQntuples(res) == 1));
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
