/*
 * registries.c - /v1/registries: the OCI registries an account pulls from
 * and pushes to, with their credentials.
 *
 *   name      DNS-1123 label, unique in the account               (required)
 *   host      "registry.example.com" or "10.0.0.5:5000"           (required)
 *   tls       false only for a registry on plain HTTP             (true)
 *   username  and password (or a token as the password), write-only
 *
 * The password is sealed under the key-encryption key, bound to the
 * registry's id (lib/seal.h), and never returned: reads say only
 * "has_password".  POST /v1/registries/{id}/check queues a registry.check
 * job that tries the credentials against the registry's /v2/ endpoint.
 */
#include "daemon.h"
#include "jobs.h"
#include "resource.h"
#include "seal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_COLUMNS \
    "g.id, g.name, g.host, g.tls, g.username, g.password_sealed IS NOT NULL AS has_password," \
    " g.last_check_job, g.created_at, g.updated_at"

static const char *const fields[] = { "name", "host", "tls", "username", "password", NULL };

static int valid_host(const char *h)
{
    const char *colon = strrchr(h, ':');
    size_t len = colon ? (size_t)(colon - h) : strlen(h);

    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-')
            return 0;
    if (colon != NULL) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535 || end == colon + 1)
            return 0;
    }
    return 1;
}

/* Validate the body; a NULL password means "leave it" (PATCH) or none. */
static void validate(cl_req *r, int create)
{
    json_t *body = cl_req_body(r), *tls = json_object_get(body, "tls");
    const char *name, *host;

    cl_body_only(r, fields);
    name = cl_body_string(r, "name", create, 63);
    host = cl_body_string(r, "host", create, 259);
    cl_body_string(r, "username", 0, 255);
    cl_body_string(r, "password", 0, 8192);
    if (name != NULL) {
        int ok = islower((unsigned char)name[0]) || isdigit((unsigned char)name[0]);
        for (const char *p = name; *p && ok; p++)
            ok = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-';
        if (!ok || name[strlen(name) - 1] == '-')
            cl_error_field(cl_req_err(r), "name", "must be a DNS label: lower-case letters, "
                           "digits and hyphens");
    }
    if (host != NULL && !valid_host(host))
        cl_error_field(cl_req_err(r), "host", "must be a host name or address, with an "
                       "optional :port, such as registry.example.com:5000");
    for (size_t i = 0; i < 2; i++) {
        static const char *const kept[] = { "name", "host" };
        json_t *f = json_object_get(body, kept[i]);

        if (f != NULL && json_is_null(f))
            cl_error_field(cl_req_err(r), kept[i], "cannot be removed");
    }
    if (tls != NULL && !json_is_boolean(tls))
        cl_error_field(cl_req_err(r), "tls", "must be true or false");
}

static int load(cl_req *r, cl_pg *db, const char *lock, PGresult **res)
{
    return cl_req_load(r, db, res, "registry", "SELECT " REGISTRY_COLUMNS ", g.version AS "
                       "_version FROM registries g", "g", lock);
}

/* Seal the body's password for registry id; NULL when there is none. */
static int seal_password(cl_req *r, const char *id, char **sealed)
{
    const char *password = json_string_value(json_object_get(cl_req_body(r), "password"));
    char aad[64];

    *sealed = NULL;
    if (password == NULL)
        return 0;
    snprintf(aad, sizeof(aad), "registry:%s", id);
    if (cl_seal(sealed, cl_req_daemon(r)->kek, password, strlen(password), aad,
                cl_req_err(r)) < 0)
        return CL_ERROR;
    cl_arena_defer(cl_req_arena(r), free, *sealed);
    return 0;
}

static int conflict_on_name(cl_req *r, int rc)
{
    if (rc != CL_ECONFLICT)
        return rc;
    cl_error_clear(cl_req_err(r));
    return cl_error_field(cl_req_err(r), "name", "is taken by another registry of this account");
}

/* GET /v1/registries */
static int registries_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT " REGISTRY_COLUMNS ", cl_time(g.created_at) || '|' || g.id AS _cursor"
            "  FROM registries g WHERE g.account_id = $1"
            "   AND ($2::text IS NULL OR (g.created_at, g.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY g.created_at, g.id LIMIT $3");
}

/* POST /v1/registries */
static int registries_create(cl_req *r, json_t **out)
{
    json_t *body = cl_req_body(r);
    const char *account = cl_req_principal(r)->account_id;
    char id[37], *sealed;
    PGresult *res;
    cl_pg *db;
    int rc;

    validate(r, 1);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    if (cl_uuid_new(id) < 0 || (rc = seal_password(r, id, &sealed)) < 0)
        return cl_req_fail(r, CL_ERROR, "could not seal the password");
    const char *params[7] = { id, account, json_string_value(json_object_get(body, "name")),
                              json_string_value(json_object_get(body, "host")),
                              json_is_false(json_object_get(body, "tls")) ? "f" : "t",
                              json_string_value(json_object_get(body, "username")), sealed };
    if ((rc = cl_req_begin(r, &db)) < 0)
        return rc;
    rc = cl_req_exec(r, db, &res,
        "WITH g AS (INSERT INTO registries (id, account_id, name, host, tls, username,"
        " password_sealed) VALUES ($1, $2, $3, $4, $5::boolean, $6, $7) RETURNING *)"
        "SELECT " REGISTRY_COLUMNS ", g.version AS _version FROM g", 7, params);
    if ((rc = conflict_on_name(r, rc)) < 0 ||
        (rc = cl_audit(r, db, account, "registry.create",
                       cl_arena_printf(cl_req_arena(r), "registry:%s", id),
                       json_pack("{s:s, s:s, s:b}", "name", params[2], "host", params[3],
                                 "password", sealed != NULL))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 201, cl_arena_printf(cl_req_arena(r), "/v1/registries/%s",
                                                         id));
}

/* GET /v1/registries/{id} */
static int registries_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 || (rc = load(r, db, "", &res)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* PATCH /v1/registries/{id}: a password of null removes it. */
static int registries_update(cl_req *r, json_t **out)
{
    json_t *body = cl_req_body(r);
    const char *id = cl_req_param(r, "id"), *version;
    char *sealed;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_if_match(r, &version)) < 0)
        return rc;
    validate(r, 0);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = load(r, db, "FOR UPDATE", &res)) < 0)
        return rc;
    if (version != NULL && strcmp(version, cl_row_text(res, 0, "_version")) != 0)
        return cl_req_fail(r, CL_EPRECONDITION, "registry \"%s\" was changed since version %s",
                           id, version);
    if ((rc = seal_password(r, id, &sealed)) < 0)
        return rc;
    json_t *tls = json_object_get(body, "tls");
    const char *params[8] = {
        id, json_string_value(json_object_get(body, "name")),
        json_string_value(json_object_get(body, "host")),
        tls ? (json_is_true(tls) ? "t" : "f") : NULL,
        json_object_get(body, "username") ? "t" : "f",
        json_string_value(json_object_get(body, "username")),
        json_object_get(body, "password") ? "t" : "f", sealed,
    };
    rc = cl_req_exec(r, db, &res,
        "WITH g AS (UPDATE registries SET name = coalesce($2, name), host = coalesce($3, host),"
        "   tls = coalesce($4::boolean, tls),"
        "   username = CASE WHEN $5 = 't' THEN $6 ELSE username END,"
        "   password_sealed = CASE WHEN $7 = 't' THEN $8 ELSE password_sealed END,"
        "   version = version + 1 WHERE id = $1 RETURNING *)"
        "SELECT " REGISTRY_COLUMNS ", g.version AS _version FROM g", 8, params);
    json_t *changed = json_array();
    for (size_t i = 0; fields[i] != NULL; i++)
        if (json_object_get(body, fields[i]) != NULL)
            json_array_append_new(changed, json_string(fields[i]));
    if ((rc = conflict_on_name(r, rc)) < 0 ||
        (rc = cl_audit(r, db, cl_req_principal(r)->account_id, "registry.update",
                       cl_arena_printf(cl_req_arena(r), "registry:%s", id),
                       json_pack("{s:O}", "fields", changed))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0) {
        json_decref(changed);
        return rc;
    }
    json_decref(changed);
    return cl_req_row(r, out, res, 0, NULL);
}

/* DELETE /v1/registries/{id} */
static int registries_delete(cl_req *r, json_t **out)
{
    const char *id = cl_req_param(r, "id");
    PGresult *res;
    cl_pg *db;
    int rc;

    (void)out;
    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = load(r, db, "FOR UPDATE", &res)) < 0)
        return rc;
    const char *params[1] = { id };
    if ((rc = cl_req_exec(r, db, NULL, "DELETE FROM registries WHERE id = $1", 1, params)) < 0 ||
        (rc = cl_audit(r, db, cl_req_principal(r)->account_id, "registry.delete",
                       cl_arena_printf(cl_req_arena(r), "registry:%s", id), NULL)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    cl_req_status(r, 204);
    return 0;
}

/* POST /v1/registries/{id}/check */
static int registries_check(cl_req *r, json_t **out)
{
    const char *id = cl_req_param(r, "id");
    json_t *job;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = load(r, db, "FOR UPDATE", &res)) < 0 ||
        (rc = cl_job_enqueue(r, db, "registry.check",
                             cl_arena_printf(cl_req_arena(r), "registry:%s", id),
                             json_pack("{s:s}", "registry_id", id), 3, &job)) < 0)
        return rc;
    const char *params[2] = { id, json_string_value(json_object_get(job, "id")) };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE registries SET last_check_job = $2 "
                          "WHERE id = $1", 2, params)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0) {
        json_decref(job);
        return rc;
    }
    return cl_job_accepted(r, job, out);
}

const cl_route cl_registries_routes[] = {
    { "GET",    "/v1/registries",            registries_list,   CL_ROLE_READ },
    { "POST",   "/v1/registries",            registries_create,
      CL_ROLE_WRITE | CL_JSON_BODY | CL_IDEMPOTENT },
    { "GET",    "/v1/registries/{id}",       registries_get,    CL_ROLE_READ },
    { "PATCH",  "/v1/registries/{id}",       registries_update, CL_ROLE_WRITE | CL_JSON_BODY },
    { "DELETE", "/v1/registries/{id}",       registries_delete, CL_ROLE_WRITE },
    { "POST",   "/v1/registries/{id}/check", registries_check,  CL_ROLE_WRITE },
    { NULL, NULL, NULL, 0 },
};
