/*
 * enclaves.c - POST /v1/apps/{id}/attest: an enclave of the app proves
 * what it is, through the agent of the node it runs on, and receives its
 * certificate and secrets.
 *
 * The request is the node's (signed with its key, relayed by its agent
 * from cloister-init in the enclave): a CSR for the enclave's EC P-256 key,
 * a nonce from POST /v1/attestation/nonce, and a quote whose report data
 * binds both (API.md).  The quote is judged under the account's
 * attestation policy (api/attestation.c) and kept as a report with the
 * subject "app:<id>"; then the app's own rules, each with its reason when
 * it fails:
 *
 *   - the node is active, and the quote comes from its platform (the PPID
 *     of the PCK certificate is the one the node enrolled with), so that an
 *     enclave elsewhere cannot borrow a node;
 *   - the enclave is an approved build of the app: the exact MRENCLAVE, or
 *     with `identity` "signer" the MRSIGNER and ISVPRODID of an approved
 *     build and an ISVSVN of at least `min_isvsvn`;
 *   - a debug enclave only for an app built with `debug`;
 *   - the node carries the app's `required_node_labels`;
 *   - every DNS name of the CSR is an approved domain of the app (an
 *     allowed one still awaiting approval has its task, and the answer
 *     says so).
 *
 * Refused: the report says why, the refusal is audited, and the answer is
 * a 403 with the reasons.  Accepted: the account CA certifies the key for
 * the app's `cert_lifetime`, the certificate is recorded with the build,
 * node and report it was issued on, and the app's secrets are released as
 * JWE to the CSR's key (api/secrets.c).  Attesting again renews the
 * certificate.
 */
#include "attestation.h"
#include "daemon.h"
#include "enclaves.h"
#include "json.h"
#include "pki.h"
#include "resource.h"
#include "tasks.h"

#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES_MAX 32

#define APP_RULES \
    "SELECT a.id, a.name, a.attestation, a.identity, a.min_isvsvn, a.required_node_labels," \
    " a.cert_lifetime, a.secrets_env, a.cloister_dir, a.on_attestation_failure," \
    " a.allowed_domains, a.approved_domains, a.debug FROM apps a"

/* The DNS names of the CSR's subjectAltName, NULL-terminated, in the arena;
 * a field error when there are too many or one is not a name. */
static int csr_names(cl_req *r, X509_REQ *csr, const char ***out)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    GENERAL_NAMES *sans = NULL;
    const char **names;
    int n = 0, rc = 0;

    for (int i = 0; exts != NULL && i < sk_X509_EXTENSION_num(exts) && sans == NULL; i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name)
            sans = X509V3_EXT_d2i(ext);
    }
    names = cl_arena_alloc(cl_req_arena(r), (NAMES_MAX + 1) * sizeof(char *));
    for (int i = 0; names != NULL && sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        const unsigned char *s;
        int len;

        if (g->type != GEN_DNS)
            continue;
        s = ASN1_STRING_get0_data(g->d.dNSName);
        len = ASN1_STRING_length(g->d.dNSName);
        if (n == NAMES_MAX || len < 1 || len > 253 ||
            strspn((const char *)s, "abcdefghijklmnopqrstuvwxyz0123456789.-*") != (size_t)len) {
            rc = cl_error_field(cl_req_err(r), "csr", "must name at most %d DNS names in "
                                "lower case", NAMES_MAX);
            break;
        }
        names[n++] = cl_arena_strdup(cl_req_arena(r), (const char *)s);
    }
    if (names != NULL)
        names[n] = NULL;
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    *out = names;
    return names == NULL ? cl_req_fail(r, CL_ERROR, "out of memory") : rc;
}

/* The build the enclave is, by the app's identity rule; its id into
 * *build, or a reason appended to reasons. */
static int match_build(cl_req *r, cl_pg *db, PGresult *app, PGresult *report, json_t *reasons,
                       const char **build)
{
    const char *mrenclave = cl_row_text(report, 0, "mrenclave");
    const char *mrsigner = cl_row_text(report, 0, "mrsigner");
    const char *prodid = cl_row_text(report, 0, "isvprodid"), *svn = cl_row_text(report, 0,
                                                                                "isvsvn");
    int signer = strcmp(cl_row_text(app, 0, "identity"), "signer") == 0;
    PGresult *res;
    int rc;

    *build = NULL;
    const char *by_signer[4] = { cl_row_text(app, 0, "id"), mrsigner, prodid, svn };
    const char *by_enclave[2] = { cl_row_text(app, 0, "id"), mrenclave };
    if ((rc = signer
         ? cl_req_exec(r, db, &res, "SELECT id, state FROM builds WHERE app_id = $1"
                       " AND mrsigner = $2 AND isvprodid = $3::int ORDER BY state = 'approved'"
                       " DESC, isvsvn = $4::int DESC, created_at DESC LIMIT 1", 4, by_signer)
         : cl_req_exec(r, db, &res, "SELECT id, state FROM builds WHERE app_id = $1"
                       " AND mrenclave = $2 ORDER BY state = 'approved' DESC, created_at DESC"
                       " LIMIT 1", 2, by_enclave)) < 0)
        return rc;
    if (PQntuples(res) == 0) {
        json_array_append_new(reasons, signer
            ? json_sprintf("no build of the app has MRSIGNER %s and ISVPRODID %s", mrsigner,
                           prodid)
            : json_sprintf("no build of the app has MRENCLAVE %s", mrenclave));
        return 0;
    }
    const char *state = PQgetvalue(res, 0, 1);
    if (strcmp(state, "approved") != 0) {
        json_array_append_new(reasons, json_sprintf("build %s is %s, not approved",
                                                    PQgetvalue(res, 0, 0), state));
        return 0;
    }
    long min = strtol(cl_row_text(app, 0, "min_isvsvn"), NULL, 10);
    if (signer && strtol(svn, NULL, 10) < min) {
        json_array_append_new(reasons, json_sprintf("ISVSVN %s is below the app's min_isvsvn "
                                                    "%ld", svn, min));
        return 0;
    }
    *build = cl_arena_strdup(cl_req_arena(r), PQgetvalue(res, 0, 0));
    return 0;
}

/* The app's rules beyond the attestation policy; reasons for each broken. */
static int app_rules(cl_req *r, cl_pg *db, PGresult *app, PGresult *node, PGresult *report,
                     const char *const *names, json_t *reasons, const char **build)
{
    json_t *details = cl_row_value(report, 0, PQfnumber(report, "details"));
    const char *ppid = json_string_value(json_object_get(json_object_get(details, "pck"),
                                                         "ppid"));
    const char *node_ppid = cl_row_text(node, 0, "ppid");
    const char *k;
    json_t *v;
    int rc;

    if (ppid == NULL || node_ppid == NULL || strcmp(ppid, node_ppid) != 0)
        json_array_append_new(reasons, json_sprintf("the quote comes from another platform "
                                                    "than node %s's",
                                                    cl_req_principal(r)->node_id));
    json_decref(details);
    if ((rc = match_build(r, db, app, report, reasons, build)) < 0)
        return rc;
    const char *debug = cl_row_text(report, 0, "debug");
    if (debug != NULL && strcmp(debug, "t") == 0 && strcmp(cl_row_text(app, 0, "debug"), "t") != 0)
        json_array_append_new(reasons, json_string("a debug enclave, and the app is not built "
                                                   "for debugging"));
    json_t *required = cl_row_value(app, 0, PQfnumber(app, "required_node_labels"));
    json_t *labels = cl_row_value(node, 0, PQfnumber(node, "labels"));
    json_object_foreach(required, k, v) {
        const char *have = json_string_value(json_object_get(labels, k));
        if (have == NULL || strcmp(have, json_string_value(v)) != 0)
            json_array_append_new(reasons, json_sprintf("the node lacks the label %s=%s", k,
                                                        json_string_value(v)));
    }
    json_decref(required);
    json_decref(labels);
    json_t *allowed = cl_row_value(app, 0, PQfnumber(app, "allowed_domains"));
    json_t *approved = cl_row_value(app, 0, PQfnumber(app, "approved_domains"));
    for (size_t i = 0; names[i] != NULL; i++) {
        if (cl_json_has_string(approved, names[i]))
            continue;
        if (cl_json_has_string(allowed, names[i])) {
            if ((rc = cl_tasks_sync_domains(r, db, cl_row_text(app, 0, "id"))) < 0)
                break;
            json_array_append_new(reasons, json_sprintf("the domain %s awaits approval (its "
                                                        "domain_approval task)", names[i]));
        } else {
            json_array_append_new(reasons, json_sprintf("the domain %s is not among the app's "
                                                        "allowed_domains", names[i]));
        }
    }
    json_decref(allowed);
    json_decref(approved);
    return rc;
}

/* Certify the key for the app; the certificate's row into *cert_row. */
static int issue(cl_req *r, cl_pg *db, X509_REQ *csr, PGresult *app, const char *const *names,
                 const char *build, const char *report_id, PGresult **cert_row, char **ca_pem)
{
    const char *account = cl_req_principal(r)->account_id;
    const cl_pki_subject subject = { names[0] ? names[0] : cl_row_text(app, 0, "name"), names,
                                     strtol(cl_row_text(app, 0, "cert_lifetime"), NULL, 10), 1 };
    EVP_PKEY *ca_key = NULL;
    X509 *ca = NULL, *cert = NULL;
    char serial[41], *pem = NULL, *ca_text = NULL;
    json_t *list = json_array();
    int rc;

    for (size_t i = 0; names[i] != NULL; i++)
        json_array_append_new(list, json_string(names[i]));
    char *names_text = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    cl_arena_defer(cl_req_arena(r), free, names_text);
    if ((rc = cl_account_ca(r, db, account, &ca, &ca_key)) < 0 ||
        (rc = cl_pki_issue(&cert, serial, csr, ca, ca_key, &subject, cl_public_url(r), account,
                           cl_req_err(r))) < 0)
        goto done;
    if ((pem = cl_pki_pem(cert)) == NULL || (ca_text = cl_pki_pem(ca)) == NULL) {
        rc = cl_req_fail(r, CL_ERROR, "could not encode the certificate");
        goto done;
    }
    *ca_pem = cl_arena_strdup(cl_req_arena(r), ca_text);
    char lifetime[24];
    snprintf(lifetime, sizeof(lifetime), "%ld", subject.lifetime);
    const char *params[9] = { account, cl_row_text(app, 0, "id"), build,
                              cl_req_principal(r)->node_id, report_id, serial, names_text, pem,
                              lifetime };
    if ((rc = cl_req_exec(r, db, cert_row,
            "INSERT INTO certificates (account_id, app_id, build_id, node_id, report_id, serial,"
            "  names, cert_pem, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8,"
            "  now() + make_interval(secs => $9::int))"
            " RETURNING id, serial, names, cert_pem AS certificate, expires_at", 9, params)) < 0)
        goto done;
    rc = cl_audit(r, db, account, "certificate.issue",
                  cl_arena_printf(cl_req_arena(r), "certificate:%s",
                                  cl_row_text(*cert_row, 0, "id")),
                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "app_id", cl_row_text(app, 0, "id"),
                            "build_id", build, "node_id", cl_req_principal(r)->node_id,
                            "report_id", report_id, "serial", serial));
done:
    free(pem);
    free(ca_text);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

/* POST /v1/apps/{id}/attest */
static int enclave_attest(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "csr", "quote", "maa_token", "nonce", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *app_id = cl_req_param(r, "id"), *build = NULL, **names = NULL, *ca_pem = NULL;
    cl_evidence ev = { .at = time(NULL) };
    PGresult *app, *node, *report, *cert;
    X509_REQ *csr = NULL;
    json_t *reasons, *secrets = NULL;
    cl_pg *db;
    int rc, accepted;

    if (p->kind != CL_PRINCIPAL_NODE)
        return cl_req_fail(r, CL_EFORBIDDEN, "enclaves attest through the agent of their node, "
                           "which signs the request");
    cl_body_only(r, fields);
    const char *pem = cl_body_string(r, "csr", 1, 16384);
    ev.nonce = cl_body_string(r, "nonce", 1, 64);
    cl_evidence_from_body(r, &ev);
    if (pem != NULL && cl_csr_read(r, "csr", pem, &csr, (uint8_t **)&ev.spki, &ev.spki_len) == 0)
        csr_names(r, csr, &names);
    if ((rc = cl_body_done(r)) < 0 || (rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &app, "app", APP_RULES, "a", "")) < 0 ||
        (rc = cl_req_load_id(r, db, &node, "node", "SELECT n.state, n.labels, n.ppid FROM nodes n",
                             "n", "", p->node_id)) < 0)
        return rc;
    if (strcmp(cl_row_text(app, 0, "attestation"), "none") == 0)
        return cl_req_fail(r, CL_ECONFLICT, "app \"%s\" does not attest (its attestation is "
                           "none)", app_id);
    if (strcmp(cl_row_text(node, 0, "state"), "active") != 0)
        return cl_req_fail(r, CL_EFORBIDDEN, "node \"%s\" is %s; only an active node's enclaves "
                           "attest", p->node_id, cl_row_text(node, 0, "state"));
    ev.subject = cl_arena_printf(cl_req_arena(r), "app:%s", app_id);
    if ((rc = cl_attestation_judge(r, &ev, &db, &report, &accepted)) < 0)
        return rc;
    const char *report_id = cl_arena_strdup(cl_req_arena(r), cl_row_text(report, 0, "id"));
    reasons = accepted ? json_array() : cl_row_value(report, 0, PQfnumber(report, "reasons"));
    cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)json_decref, reasons);
    if (accepted && (rc = app_rules(r, db, app, node, report, names, reasons, &build)) < 0)
        return rc;
    if (json_array_size(reasons) > 0) {
        char *why = json_dumps(reasons, JSON_COMPACT);
        cl_arena_defer(cl_req_arena(r), free, why);
        const char *params[2] = { report_id, why };
        if ((accepted &&
             (rc = cl_req_exec(r, db, NULL, "UPDATE attestation_reports SET verdict = 'refused',"
                               " reasons = reasons || $2::jsonb WHERE id = $1", 2, params)) < 0) ||
            (rc = cl_audit(r, db, p->account_id, "enclave.attest.refused",
                           cl_arena_printf(cl_req_arena(r), "app:%s", app_id),
                           json_pack("{s:s, s:s, s:s}", "node_id", p->node_id, "report_id",
                                     report_id, "reasons", why))) < 0 ||
            (rc = cl_req_commit(r, db)) < 0)
            return rc;
        return cl_req_fail(r, CL_EFORBIDDEN, "the enclave was refused (attestation report %s): "
                           "%s", report_id, why);
    }
    EVP_PKEY *key = X509_REQ_get0_pubkey(csr);
    if ((rc = issue(r, db, csr, app, names, build, report_id, &cert, (char **)&ca_pem)) < 0 ||
        (rc = cl_secrets_release(r, db, app_id, key, &secrets)) < 0)
        return rc;
    cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)json_decref, secrets);
    if ((rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = cl_row_json(cert, 0);
    json_object_set_new(*out, "chain", json_pack("[s]", ca_pem));
    json_object_set_new(*out, "secrets", json_incref(secrets));
    json_object_set_new(*out, "build_id", json_string(build));
    json_object_set_new(*out, "report_id", json_string(report_id));
    json_object_set_new(*out, "settings", json_pack(
        "{s:s, s:b, s:s, s:I}", "cloister_dir", cl_row_text(app, 0, "cloister_dir"),
        "secrets_env", strcmp(cl_row_text(app, 0, "secrets_env"), "t") == 0,
        "on_attestation_failure", cl_row_text(app, 0, "on_attestation_failure"),
        "cert_lifetime", (json_int_t)strtol(cl_row_text(app, 0, "cert_lifetime"), NULL, 10)));
    cl_req_status(r, 201);
    return 0;
}

const cl_route cl_enclaves_routes[] = {
    { "POST", "/v1/apps/{id}/attest", enclave_attest, CL_NODE_SIGNED | CL_JSON_BODY },
    { NULL, NULL, NULL, 0 },
};
