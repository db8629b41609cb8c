/*
 * certificates.c - /v1/certificates: the certificates attested enclaves
 * received (api/enclaves.c), each with the build, node and attestation
 * report it was issued on; and their revocation, onto the account's CRL
 * (api/pki.c), one at a time or all of a deprecated build's at once.
 */
#include "daemon.h"
#include "enclaves.h"
#include "resource.h"

#include <stdio.h>
#include <string.h>

#define CERT_COLUMNS \
    "c.id, c.app_id, c.build_id, c.node_id, c.report_id, c.serial, c.names, c.expires_at," \
    " c.revoked_at, c.revoke_reason, c.created_at," \
    " CASE WHEN c.revoked_at IS NOT NULL THEN 'revoked' WHEN c.expires_at <= now()" \
    "  THEN 'expired' ELSE 'valid' END AS state"

/* GET /v1/certificates[?app_id=] */
static int certificates_list(cl_req *r, json_t **out)
{
    const char *app = cl_req_query(r, "app_id");
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_page_parse(r, &page, CL_CURSOR_CREATED)) < 0 || (rc = cl_req_db(r, &db)) < 0)
        return rc;
    if (app != NULL && !cl_uuid_valid(app))
        return cl_req_fail(r, CL_EMALFORMED, "app_id must be an app's id");
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[4] = { cl_req_principal(r)->account_id, page.after, limit, app };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT " CERT_COLUMNS ", cl_time(c.created_at) || '|' || c.id AS _cursor"
            "  FROM certificates c WHERE c.account_id = $1"
            "   AND ($4::uuid IS NULL OR c.app_id = $4::uuid)"
            "   AND ($2::text IS NULL OR (c.created_at, c.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY c.created_at, c.id LIMIT $3::int", 4, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

/* GET /v1/certificates/{id} */
static int certificates_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "certificate", "SELECT " CERT_COLUMNS ", c.cert_pem AS"
                          " certificate FROM certificates c", "c", "")) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

int cl_certificates_revoke(cl_req *r, cl_pg *db, const char *id, const char *build,
                           const char *reason, int *count)
{
    const char *params[4] = { cl_req_principal(r)->account_id, id, build, reason };
    PGresult *res;
    int rc;

    if ((rc = cl_req_exec(r, db, &res,
            "WITH gone AS (UPDATE certificates SET revoked_at = now(), revoke_reason = $4"
            "   WHERE account_id = $1 AND revoked_at IS NULL"
            "     AND ($2::uuid IS NULL OR id = $2::uuid)"
            "     AND ($3::uuid IS NULL OR build_id = $3::uuid) RETURNING id, serial),"
            " crl AS (INSERT INTO revoked_certificates (account_id, serial, reason)"
            "   SELECT $1, serial, $4 FROM gone ON CONFLICT DO NOTHING)"
            " SELECT id, serial FROM gone", 4, params)) < 0)
        return rc;
    for (int i = 0; i < PQntuples(res); i++)
        if ((rc = cl_audit(r, db, params[0], "certificate.revoke",
                           cl_arena_printf(cl_req_arena(r), "certificate:%s",
                                           PQgetvalue(res, i, 0)),
                           json_pack("{s:s, s:s}", "serial", PQgetvalue(res, i, 1), "reason",
                                     reason))) < 0)
            return rc;
    *count = PQntuples(res);
    return 0;
}

/* POST /v1/certificates/{id}/revoke {"reason"} */
static int certificates_revoke(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "reason", NULL };
    const char *id = cl_req_param(r, "id"), *reason = NULL;
    PGresult *res;
    cl_pg *db;
    int rc, n = 0;

    if (cl_req_body(r) != NULL) {
        cl_body_only(r, fields);
        reason = cl_body_string(r, "reason", 0, 500);
        if ((rc = cl_body_done(r)) < 0)
            return rc;
    }
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "certificate", "SELECT " CERT_COLUMNS
                          " FROM certificates c", "c", "FOR UPDATE OF c")) < 0)
        return rc;
    if (strcmp(cl_row_text(res, 0, "state"), "revoked") == 0)
        return cl_req_fail(r, CL_ECONFLICT, "certificate \"%s\" is revoked already", id);
    if ((rc = cl_certificates_revoke(r, db, id, NULL, reason ? reason : "", &n)) < 0 ||
        (rc = cl_req_load(r, db, &res, "certificate", "SELECT " CERT_COLUMNS
                          " FROM certificates c", "c", "")) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

const cl_route cl_certificates_routes[] = {
    { "GET",  "/v1/certificates",             certificates_list,   CL_ROLE_READ },
    { "GET",  "/v1/certificates/{id}",        certificates_get,    CL_ROLE_READ },
    { "POST", "/v1/certificates/{id}/revoke", certificates_revoke,
      CL_ROLE_WRITE | CL_JSON_OPTIONAL },
    { NULL, NULL, NULL, 0 },
};
