/*
 * accounts.c - /v1/accounts and their members.
 *
 * An account holds everything else; people belong to accounts through
 * memberships with a role.  A caller sees the accounts it belongs to (an
 * instance administrator sees all of them, and is the only one who may
 * create one); it changes only the account it is acting in, and any other
 * account id is answered 404, as if it did not exist.
 *
 * Adding a member names a person by e-mail.  A person Cloister does not know
 * yet is created with a generated password, returned once in the response as
 * "initial_password" for the administrator to hand over; they change it with
 * POST /v1/me/password.  An account always keeps at least one admin.
 */
#include "daemon.h"
#include "password.h"
#include "resource.h"

#include <stdio.h>
#include <string.h>

static const char *const roles[] = { "admin", "operator", "auditor", NULL };

/* The columns of an account and of a membership, as the API shows them. */
#define ACCOUNT_COLUMNS "a.id, a.name, a.created_at, a.updated_at"
#define MEMBER_COLUMNS \
    "m.account_id, m.user_id, u.email, m.role, m.created_at, m.updated_at"

/* The {id} of the path when it is the account the caller acts in. */
static int current_account(cl_req *r, const char **id)
{
    const cl_principal *p = cl_req_principal(r);

    *id = cl_req_param(r, "id");
    if (p->account_id == NULL || strcmp(*id, p->account_id) != 0)
        return cl_req_fail(r, CL_ENOTFOUND, "no account \"%s\"", *id);
    return 0;
}

/* GET /v1/accounts */
static int accounts_list(cl_req *r, json_t **out)
{
    const cl_principal *p = cl_req_principal(r);
    char limit[16], all[2];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_page_parse(r, &page, CL_CURSOR_CREATED)) < 0 ||
        (rc = cl_req_db(r, &db)) < 0)
        return rc;
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    snprintf(all, sizeof(all), "%d", p->instance_admin);
    const char *params[5] = { p->user_id, p->kind == CL_PRINCIPAL_API_KEY ? p->account_id : NULL,
                              all, page.after, limit };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT a.id, a.name, m.role, a.created_at, a.updated_at,"
            "       cl_time(a.created_at) || '|' || a.id AS _cursor"
            "  FROM accounts a"
            "  LEFT JOIN memberships m ON m.account_id = a.id AND m.user_id = $1"
            " WHERE (CASE WHEN $2::uuid IS NOT NULL THEN a.id = $2::uuid"
            "             ELSE m.user_id IS NOT NULL OR $3 = '1' END)"
            "   AND ($4::text IS NULL OR (a.created_at, a.id) > (split_part($4, '|', 1)::timestamptz,"
            "                                                   split_part($4, '|', 2)::uuid))"
            " ORDER BY a.created_at, a.id LIMIT $5", 5, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

/* POST /v1/accounts */
static int accounts_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "name", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *name;
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    name = cl_body_string(r, "name", 1, 100);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    const char *params[2] = { name, p->user_id };
    if ((rc = cl_req_begin(r, &db)) < 0)
        return rc;
    rc = cl_req_exec(r, db, &res, "INSERT INTO accounts (name) VALUES ($1) RETURNING id, name, "
                     "'admin' AS role, created_at, updated_at, version AS _version", 1, params);
    if (rc == CL_ECONFLICT)
        return cl_req_fail(r, CL_ECONFLICT, "an account named \"%s\" exists already", name);
    if (rc < 0)
        return rc;
    const char *id = PQgetvalue(res, 0, 0);
    const char *member[2] = { id, p->user_id };
    if ((rc = cl_req_exec(r, db, NULL, "INSERT INTO memberships (account_id, user_id, role) "
                          "VALUES ($1, $2, 'admin')", 2, member)) < 0 ||
        (rc = cl_audit(r, db, id, "account.create", cl_arena_printf(cl_req_arena(r),
                       "account:%s", id), json_pack("{s:s}", "name", name))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 201, cl_arena_printf(cl_req_arena(r), "/v1/accounts/%s",
                                                         id));
}

/* GET /v1/accounts/{id} */
static int accounts_get(cl_req *r, json_t **out)
{
    const cl_principal *p = cl_req_principal(r);
    const char *id = cl_req_param(r, "id");
    char all[2];
    PGresult *res;
    cl_pg *db;
    int rc;

    if (!cl_uuid_valid(id))
        return cl_req_fail(r, CL_ENOTFOUND, "no account \"%s\"", id);
    snprintf(all, sizeof(all), "%d", p->instance_admin);
    const char *params[4] = { id, p->user_id,
                              p->kind == CL_PRINCIPAL_API_KEY ? p->account_id : NULL, all };
    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "SELECT " ACCOUNT_COLUMNS ", m.role, a.version AS _version FROM accounts a"
            "  LEFT JOIN memberships m ON m.account_id = a.id AND m.user_id = $2"
            " WHERE a.id = $1 AND (CASE WHEN $3::uuid IS NOT NULL THEN a.id = $3::uuid"
            "                      ELSE m.user_id IS NOT NULL OR $4 = '1' END)",
            4, params)) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_ENOTFOUND, "no account \"%s\"", id);
    return cl_req_row(r, out, res, 0, NULL);
}

/* PATCH /v1/accounts/{id} */
static int accounts_update(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "name", NULL };
    const char *id, *name, *version;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = current_account(r, &id)) < 0 || (rc = cl_req_if_match(r, &version)) < 0)
        return rc;
    cl_body_only(r, fields);
    name = cl_body_string(r, "name", 1, 100);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    const char *params[3] = { id, name, version };
    if ((rc = cl_req_begin(r, &db)) < 0)
        return rc;
    rc = cl_req_exec(r, db, &res,
            "UPDATE accounts a SET name = $2, version = version + 1"
            " WHERE id = $1 AND ($3::int IS NULL OR version = $3::int)"
            " RETURNING " ACCOUNT_COLUMNS ", version AS _version", 3, params);
    if (rc == CL_ECONFLICT)
        return cl_req_fail(r, CL_ECONFLICT, "an account named \"%s\" exists already", name);
    if (rc < 0)
        return rc;
    if (PQntuples(res) != 1 && version == NULL)
        return cl_req_fail(r, CL_ENOTFOUND, "no account \"%s\"", id);
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_EPRECONDITION, "account \"%s\" was changed since version %s; "
                           "read it again", id, version);
    if ((rc = cl_audit(r, db, id, "account.update", cl_arena_printf(cl_req_arena(r),
                       "account:%s", id), json_pack("{s:s}", "name", name))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* GET /v1/accounts/{id}/members */
static int members_list(cl_req *r, json_t **out)
{
    const char *id;
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = current_account(r, &id)) < 0 ||
        (rc = cl_page_parse(r, &page, CL_CURSOR_CREATED)) < 0 ||
        (rc = cl_req_db(r, &db)) < 0)
        return rc;
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[3] = { id, page.after, limit };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT " MEMBER_COLUMNS ", cl_time(m.created_at) || '|' || m.user_id AS _cursor"
            "  FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.account_id = $1"
            "   AND ($2::text IS NULL OR (m.created_at, m.user_id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY m.created_at, m.user_id LIMIT $3", 3, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

/* POST /v1/accounts/{id}/members */
static int members_add(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "email", "role", NULL };
    const char *id, *email, *role, *user_id, *initial = NULL;
    char password[32], hash[CL_PASSWORD_HASH_MAX];
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = current_account(r, &id)) < 0)
        return rc;
    cl_body_only(r, fields);
    email = cl_body_string(r, "email", 1, 254);
    role = cl_body_enum(r, "role", 1, roles);
    if (email != NULL && (strlen(email) < 3 || strchr(email, '@') == NULL ||
                          email[0] == '@' || email[strlen(email) - 1] == '@' ||
                          strpbrk(email, " \t\r\n") != NULL))
        cl_error_field(cl_req_err(r), "email", "must be an e-mail address");
    if ((rc = cl_body_done(r)) < 0)
        return rc;

    const char *by_email[1] = { email };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res, "SELECT id FROM users WHERE lower(email) = lower($1)",
                          1, by_email)) < 0)
        return rc;
    if (PQntuples(res) == 1) {
        user_id = PQgetvalue(res, 0, 0);
    } else {
        if (cl_password_generate(password) < 0 || cl_password_hash(hash, password) < 0)
            return cl_req_fail(r, CL_ERROR, "could not make a password");
        const char *user[2] = { email, hash };
        if ((rc = cl_req_exec(r, db, &res, "INSERT INTO users (email, password_hash) "
                              "VALUES ($1, $2) RETURNING id", 2, user)) < 0)
            return rc;
        user_id = PQgetvalue(res, 0, 0);
        initial = password;
        if ((rc = cl_audit(r, db, NULL, "user.create", cl_arena_printf(cl_req_arena(r),
                           "user:%s", user_id), json_pack("{s:s}", "email", email))) < 0)
            return rc;
    }
    const char *member[3] = { id, user_id, role };
    rc = cl_req_exec(r, db, &res,
            "WITH m AS (INSERT INTO memberships (account_id, user_id, role)"
            "           VALUES ($1, $2, $3) RETURNING *)"
            "SELECT " MEMBER_COLUMNS ", m.version AS _version FROM m JOIN users u ON u.id = m.user_id",
            3, member);
    if (rc == CL_ECONFLICT)
        return cl_req_fail(r, CL_ECONFLICT, "\"%s\" is a member of this account already", email);
    if (rc < 0 ||
        (rc = cl_audit(r, db, id, "member.add", cl_arena_printf(cl_req_arena(r), "user:%s",
                       user_id), json_pack("{s:s, s:s}", "email", email, "role", role))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    if (initial != NULL)
        json_object_set_new(*out, "initial_password", json_string(initial));
    cl_req_status(r, 201);
    cl_req_etag(r, cl_row_text(res, 0, "_version"));
    cl_req_set_header(r, "Location", cl_arena_printf(cl_req_arena(r),
                      "/v1/accounts/%s/members/%s", id, user_id));
    return 0;
}

/* The {user_id} of the path, when it names a member of the current account. */
static int member_param(cl_req *r, const char **user_id)
{
    *user_id = cl_req_param(r, "user_id");
    if (!cl_uuid_valid(*user_id))
        return cl_req_fail(r, CL_ENOTFOUND, "no member \"%s\"", *user_id);
    return 0;
}

/* GET /v1/accounts/{id}/members/{user_id} */
static int members_get(cl_req *r, json_t **out)
{
    const char *id, *user_id;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = current_account(r, &id)) < 0 || (rc = member_param(r, &user_id)) < 0)
        return rc;
    const char *params[2] = { id, user_id };
    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res, "SELECT " MEMBER_COLUMNS ", m.version AS _version FROM memberships m "
                          "JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 AND "
                          "m.user_id = $2", 2, params)) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_ENOTFOUND, "no member \"%s\"", user_id);
    return cl_req_row(r, out, res, 0, NULL);
}

/* Would the account be left without an admin if user_id stopped being one? */
static int last_admin(cl_req *r, cl_pg *db, const char *account_id, const char *user_id)
{
    const char *params[2] = { account_id, user_id };
    PGresult *res;
    int rc;

    /* lock the account's admin rows so two demotions cannot both pass */
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT count(*) FILTER (WHERE user_id <> $2) FROM ("
            "  SELECT user_id FROM memberships WHERE account_id = $1 AND role = 'admin'"
            "  FOR UPDATE) admins", 2, params)) < 0)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), "0") == 0)
        return cl_req_fail(r, CL_ECONFLICT, "an account must keep at least one admin; "
                           "make someone else admin first");
    return 0;
}

/* PATCH /v1/accounts/{id}/members/{user_id} */
static int members_update(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "role", NULL };
    const char *id, *user_id, *role, *version;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = current_account(r, &id)) < 0 || (rc = member_param(r, &user_id)) < 0 ||
        (rc = cl_req_if_match(r, &version)) < 0)
        return rc;
    cl_body_only(r, fields);
    role = cl_body_enum(r, "role", 1, roles);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (strcmp(role, "admin") != 0 && (rc = last_admin(r, db, id, user_id)) < 0))
        return rc;
    const char *params[4] = { id, user_id, role, version };
    if ((rc = cl_req_exec(r, db, &res,
            "WITH m AS (UPDATE memberships SET role = $3, version = version + 1"
            "           WHERE account_id = $1 AND user_id = $2"
            "             AND ($4::int IS NULL OR version = $4::int) RETURNING *)"
            "SELECT " MEMBER_COLUMNS ", m.version AS _version FROM m JOIN users u ON u.id = m.user_id",
            4, params)) < 0)
        return rc;
    if (PQntuples(res) != 1) {
        if (version == NULL)
            return cl_req_fail(r, CL_ENOTFOUND, "no member \"%s\"", user_id);
        return cl_req_fail(r, CL_EPRECONDITION, "member \"%s\" was changed since version %s, "
                           "or is not a member", user_id, version);
    }
    if ((rc = cl_audit(r, db, id, "member.update", cl_arena_printf(cl_req_arena(r),
                       "user:%s", user_id), json_pack("{s:s}", "role", role))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* DELETE /v1/accounts/{id}/members/{user_id} */
static int members_remove(cl_req *r, json_t **out)
{
    const char *id, *user_id;
    PGresult *res;
    cl_pg *db;
    int rc;

    (void)out;
    if ((rc = current_account(r, &id)) < 0 || (rc = member_param(r, &user_id)) < 0)
        return rc;
    const char *params[2] = { id, user_id };
    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = last_admin(r, db, id, user_id)) < 0 ||
        (rc = cl_req_exec(r, db, &res, "DELETE FROM memberships WHERE account_id = $1 AND "
                          "user_id = $2 RETURNING role", 2, params)) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_ENOTFOUND, "no member \"%s\"", user_id);
    if ((rc = cl_audit(r, db, id, "member.remove", cl_arena_printf(cl_req_arena(r),
                       "user:%s", user_id), NULL)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    cl_req_status(r, 204);
    return 0;
}

const cl_route cl_accounts_routes[] = {
    { "GET",    "/v1/accounts",      accounts_list,   CL_AUTH },
    { "POST",   "/v1/accounts",      accounts_create,
      CL_INSTANCE_ADMIN | CL_SESSION | CL_JSON_BODY | CL_IDEMPOTENT },
    { "GET",    "/v1/accounts/{id}", accounts_get,    CL_AUTH },
    { "PATCH",  "/v1/accounts/{id}", accounts_update, CL_ROLE_ADMIN | CL_JSON_BODY },
    { "GET",    "/v1/accounts/{id}/members", members_list, CL_ROLE_READ },
    { "POST",   "/v1/accounts/{id}/members", members_add,
      CL_ROLE_ADMIN | CL_JSON_BODY | CL_IDEMPOTENT },
    { "GET",    "/v1/accounts/{id}/members/{user_id}", members_get,    CL_ROLE_READ },
    { "PATCH",  "/v1/accounts/{id}/members/{user_id}", members_update,
      CL_ROLE_ADMIN | CL_JSON_BODY },
    { "DELETE", "/v1/accounts/{id}/members/{user_id}", members_remove, CL_ROLE_ADMIN },
    { NULL, NULL, NULL, 0 },
};
