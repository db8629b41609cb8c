/*
 * node_tokens.c - /v1/node-tokens: the join tokens confidential compute
 * nodes enroll with.
 *
 * A token admits at most `uses` nodes (1 by default) within its time to
 * live (`ttl`, seconds; an hour by default, a month at most), and stamps
 * its `labels` on them.  The secret ("cljt_" and 43 characters) is shown
 * once, in the answer to its creation; the table keeps its SHA-256 and a
 * prefix to recognise it by.  A token can be revoked; nothing else changes
 * it but its use.  Admins and operators mint and revoke; everyone in the
 * account lists.
 */
#include "auth.h"
#include "daemon.h"
#include "resource.h"
#include "token.h"

#include <stdio.h>
#include <string.h>

#define SECRET_BYTES 32
#define PREFIX_LEN 13   /* "cljt_" and 8 characters */
#define TTL_MAX (30L * 86400)

#define TOKEN_COLUMNS \
    "t.id, t.name, t.prefix, t.max_uses AS uses, t.uses AS used, t.labels, t.created_by," \
    " t.created_at, t.expires_at, t.revoked_at," \
    " CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked' WHEN t.expires_at <= now() THEN" \
    " 'expired' WHEN t.uses >= t.max_uses THEN 'used' ELSE 'active' END AS state"

/* GET /v1/node-tokens */
static int tokens_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT " TOKEN_COLUMNS ", cl_time(t.created_at) || '|' || t.id AS _cursor"
            "  FROM node_tokens t WHERE t.account_id = $1"
            "   AND ($2::text IS NULL OR (t.created_at, t.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY t.created_at, t.id LIMIT $3");
}

static int check_labels(cl_req *r, json_t *labels)
{
    const char *k;
    json_t *v;

    if (labels == NULL)
        return 0;
    if (!json_is_object(labels) || json_object_size(labels) > 32)
        return cl_error_field(cl_req_err(r), "labels", "must be an object of at most 32 "
                              "string labels");
    json_object_foreach(labels, k, v)
        if (strlen(k) == 0 || strlen(k) > 63 || !json_is_string(v) ||
            json_string_length(v) > 253)
            return cl_error_field(cl_req_err(r), "labels", "label \"%.63s\" must have a name of "
                                  "1 to 63 characters and a string value of at most 253", k);
    return 0;
}

/* POST /v1/node-tokens */
static int tokens_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "name", "uses", "ttl", "labels", NULL };
    const cl_principal *p = cl_req_principal(r);
    json_t *body = cl_req_body(r), *uses = json_object_get(body, "uses");
    json_t *ttl = json_object_get(body, "ttl"), *labels = json_object_get(body, "labels");
    char secret[6 + CL_B64URL_SIZE(SECRET_BYTES)], hash[65], prefix[PREFIX_LEN + 1];
    char uses_text[16], ttl_text[16];
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    const char *name = cl_body_string(r, "name", 1, 100);
    if (uses != NULL && (!json_is_integer(uses) || json_integer_value(uses) < 1 ||
                         json_integer_value(uses) > 10000))
        cl_error_field(cl_req_err(r), "uses", "must be an integer from 1 to 10000");
    if (ttl != NULL && (!json_is_integer(ttl) || json_integer_value(ttl) < 60 ||
                        json_integer_value(ttl) > TTL_MAX))
        cl_error_field(cl_req_err(r), "ttl", "must be seconds from 60 to %ld (30 days)",
                       TTL_MAX);
    check_labels(r, labels);
    if ((rc = cl_body_done(r)) < 0)
        return rc;

    memcpy(secret, "cljt_", 5);
    if (cl_token_new(secret + 5, SECRET_BYTES) < 0)
        return cl_req_fail(r, CL_ERROR, "could not make a secret");
    cl_auth_secret_hash(hash, secret);
    snprintf(prefix, sizeof(prefix), "%.*s", PREFIX_LEN, secret);
    snprintf(uses_text, sizeof(uses_text), "%lld", uses ? (long long)json_integer_value(uses) : 1);
    snprintf(ttl_text, sizeof(ttl_text), "%lld", ttl ? (long long)json_integer_value(ttl) : 3600);
    char *labels_text = json_dumps(labels ? labels : json_object(), JSON_COMPACT);
    cl_arena_defer(cl_req_arena(r), free, labels_text);
    const char *params[8] = { p->account_id, name, prefix, hash, uses_text, labels_text,
                              p->actor, ttl_text };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "WITH t AS (INSERT INTO node_tokens (account_id, name, prefix, secret_hash,"
            "  max_uses, labels, created_by, expires_at)"
            " VALUES ($1, $2, $3, decode($4, 'hex'), $5::int, $6::jsonb, $7,"
            "  now() + make_interval(secs => $8::int)) RETURNING *)"
            " SELECT " TOKEN_COLUMNS " FROM t", 8, params)) < 0)
        return rc;
    const char *id = cl_row_text(res, 0, "id");
    if ((rc = cl_audit(r, db, p->account_id, "node_token.create",
                       cl_arena_printf(cl_req_arena(r), "node_token:%s", id),
                       json_pack("{s:s, s:s, s:s}", "name", name, "uses", uses_text, "ttl",
                                 ttl_text))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    json_object_set_new(*out, "secret", json_string(secret));
    memset(secret, 0, sizeof(secret));
    cl_req_status(r, 201);
    return 0;
}

/* POST /v1/node-tokens/{id}/revoke */
static int tokens_revoke(cl_req *r, json_t **out)
{
    const cl_principal *p = cl_req_principal(r);
    const char *id = cl_req_param(r, "id");
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "node token", "SELECT " TOKEN_COLUMNS
                          " FROM node_tokens t", "t", "FOR UPDATE OF t")) < 0)
        return rc;
    if (strcmp(cl_row_text(res, 0, "state"), "revoked") == 0)
        return cl_req_fail(r, CL_ECONFLICT, "node token \"%s\" is revoked already", id);
    const char *params[1] = { id };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE node_tokens SET revoked_at = now() WHERE id = $1",
                          1, params)) < 0 ||
        (rc = cl_audit(r, db, p->account_id, "node_token.revoke",
                       cl_arena_printf(cl_req_arena(r), "node_token:%s", id),
                       json_pack("{s:s}", "name", cl_row_text(res, 0, "name")))) < 0 ||
        (rc = cl_req_load(r, db, &res, "node token", "SELECT " TOKEN_COLUMNS
                          " FROM node_tokens t", "t", "")) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

const cl_route cl_node_tokens_routes[] = {
    { "GET",  "/v1/node-tokens",             tokens_list,   CL_ROLE_READ },
    { "POST", "/v1/node-tokens",             tokens_create, CL_ROLE_WRITE | CL_JSON_BODY },
    { "POST", "/v1/node-tokens/{id}/revoke", tokens_revoke, CL_ROLE_WRITE },
    { NULL, NULL, NULL, 0 },
};
