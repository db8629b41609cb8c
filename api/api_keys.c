/*
 * api_keys.c - /v1/api-keys: credentials for automation.
 *
 * A key belongs to the account it was made in and carries one role there.
 * Its secret, "clk_" followed by 43 base64url characters (256 random bits),
 * is returned once, in the response that creates it; Cloister keeps only its
 * SHA-256 (a fast hash is right for a random secret of this length) and the
 * first characters as a prefix people can recognise it by.  A key may
 * expire; it can be revoked, which is final.
 */
#include "auth.h"
#include "daemon.h"
#include "resource.h"
#include "rfc3339.h"
#include "token.h"

#include <stdio.h>
#include <string.h>

#define SECRET_BYTES 32
#define PREFIX_LEN 12   /* "clk_" and 8 characters */

static const char *const roles[] = { "admin", "operator", "auditor", NULL };

/* The columns of a key, as the API shows it. */
#define KEY_COLUMNS \
    "k.id, k.name, k.role, k.prefix, k.created_by, k.created_at, k.expires_at, k.revoked_at," \
    " k.last_used_at"

/* GET /v1/api-keys */
static int keys_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT " KEY_COLUMNS ", cl_time(k.created_at) || '|' || k.id AS _cursor FROM api_keys k"
            " WHERE k.account_id = $1"
            "   AND ($2::text IS NULL OR (k.created_at, k.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY k.created_at, k.id LIMIT $3");
}

/* POST /v1/api-keys */
static int keys_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "name", "role", "expires_at", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *name, *role, *expires;
    char secret[5 + CL_B64URL_SIZE(SECRET_BYTES)], hash[65], prefix[PREFIX_LEN + 1];
    char epoch[24] = "";
    time_t when = 0;
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    name = cl_body_string(r, "name", 1, 100);
    role = cl_body_enum(r, "role", 1, roles);
    expires = cl_body_string(r, "expires_at", 0, 40);
    if (expires != NULL) {
        if (cl_rfc3339_parse(expires, &when) < 0)
            cl_error_field(cl_req_err(r), "expires_at", "must be an RFC 3339 time such as "
                           "2027-01-31T00:00:00Z");
        else if (when <= time(NULL))
            cl_error_field(cl_req_err(r), "expires_at", "must be in the future");
        snprintf(epoch, sizeof(epoch), "%lld", (long long)when);
    }
    if ((rc = cl_body_done(r)) < 0)
        return rc;

    memcpy(secret, "clk_", 4);
    if (cl_token_new(secret + 4, SECRET_BYTES) < 0)
        return cl_req_fail(r, CL_ERROR, "could not make a secret");
    cl_auth_secret_hash(hash, secret);
    snprintf(prefix, sizeof(prefix), "%.*s", PREFIX_LEN, secret);

    const char *params[7] = { p->account_id, name, role, prefix, hash, p->actor,
                              expires ? epoch : NULL };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "WITH k AS (INSERT INTO api_keys (account_id, name, role, prefix, secret_hash,"
            "           created_by, expires_at) VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6,"
            "           to_timestamp($7::bigint)) RETURNING *)"
            "SELECT " KEY_COLUMNS " FROM k", 7, params)) < 0)
        return rc;
    const char *id = cl_row_text(res, 0, "id");
    if ((rc = cl_audit(r, db, p->account_id, "api_key.create",
                       cl_arena_printf(cl_req_arena(r), "api_key:%s", id),
                       json_pack("{s:s, s:s, s:s, s:s?}", "name", name, "role", role,
                                 "prefix", prefix, "expires_at", expires))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    json_object_set_new(*out, "secret", json_string(secret));
    cl_req_status(r, 201);
    cl_req_set_header(r, "Location", cl_arena_printf(cl_req_arena(r), "/v1/api-keys/%s", id));
    return 0;
}

/* One key of the caller's account; 404 otherwise. */
static int load(cl_req *r, cl_pg *db, const char *lock, PGresult **res)
{
    return cl_req_load(r, db, res, "API key", "SELECT " KEY_COLUMNS ", k.revoked_at IS NOT "
                       "NULL AS _revoked FROM api_keys k", "k", lock);
}

/* GET /v1/api-keys/{id} */
static int keys_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 || (rc = load(r, db, "", &res)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    return 0;
}

/* POST /v1/api-keys/{id}/revoke */
static int keys_revoke(cl_req *r, json_t **out)
{
    const char *id = cl_req_param(r, "id");
    const char *account = cl_req_principal(r)->account_id;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = load(r, db, "FOR UPDATE", &res)) < 0)
        return rc;
    if (strcmp(cl_row_text(res, 0, "_revoked"), "t") == 0)
        return cl_req_fail(r, CL_ECONFLICT, "API key \"%s\" is revoked already", id);
    const char *params[1] = { id };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE api_keys SET revoked_at = now() WHERE id = $1",
                          1, params)) < 0 ||
        (rc = cl_audit(r, db, account, "api_key.revoke",
                       cl_arena_printf(cl_req_arena(r), "api_key:%s", id), NULL)) < 0 ||
        (rc = load(r, db, "", &res)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    return 0;
}

const cl_route cl_api_keys_routes[] = {
    { "GET",  "/v1/api-keys",             keys_list,   CL_ROLE_AUDIT },
    { "POST", "/v1/api-keys",             keys_create,
      CL_ROLE_ADMIN | CL_JSON_BODY | CL_IDEMPOTENT },
    { "GET",  "/v1/api-keys/{id}",        keys_get,    CL_ROLE_AUDIT },
    { "POST", "/v1/api-keys/{id}/revoke", keys_revoke, CL_ROLE_ADMIN },
    { NULL, NULL, NULL, 0 },
};
