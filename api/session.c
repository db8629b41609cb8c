/*
 * session.c - signing in and out, the account a session acts in, and the
 * caller's own identity:
 *
 *   POST   /v1/session          e-mail and password -> cookie + CSRF token
 *   DELETE /v1/session          sign out
 *   POST   /v1/session/account  act in another account
 *   GET    /v1/me               who am I, in which account, with which role
 *   POST   /v1/me/password      change my password
 *
 * Sign-in is rate limited: failures are counted per e-mail address and per
 * client address in fixed windows (--login-failure-window); past the limit
 * the answer is 429 with Retry-After until the window ends, whether or not
 * the password is right.  A successful sign-in always makes a new session
 * (and ends the one whose cookie came with it), so a session id planted
 * before sign-in is worthless after it.
 */
#include "auth.h"
#include "daemon.h"
#include "password.h"
#include "resource.h"
#include "token.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define TOKEN_BYTES 32

/* A hash to verify against when the e-mail is unknown, so that the answer
 * takes as long as for a known one. */
static const char dummy_hash[] =
    "$scrypt$ln=14,r=8,p=5$AAAAAAAAAAAAAAAAAAAAAA==$"
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

static char *lower(cl_req *r, const char *s)
{
    char *l = cl_arena_strdup(cl_req_arena(r), s);

    for (char *p = l; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return l;
}

/* 429 when either key is over its limit in the current window. */
static int check_rate(cl_req *r, cl_pg *db, const char *user_key, const char *addr_key)
{
    cl_daemon *d = cl_req_daemon(r);
    char per_user[24], per_addr[24], window[24];
    const char *params[5] = { user_key, addr_key, per_user, per_addr, window };
    PGresult *res;
    int rc;

    snprintf(per_user, sizeof(per_user), "%lld", d->cfg.login_failures_per_user);
    snprintf(per_addr, sizeof(per_addr), "%lld", d->cfg.login_failures_per_address);
    snprintf(window, sizeof(window), "%lld", d->cfg.login_failure_window);
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT ceil(extract(epoch FROM max(window_start) + make_interval(secs => $5)"
            "       - now()))::bigint"
            "  FROM login_failures"
            " WHERE window_start > now() - make_interval(secs => $5)"
            "   AND ((key = $1 AND failures >= $3::int) OR (key = $2 AND failures >= $4::int))",
            5, params)) < 0)
        return rc;
    if (!PQgetisnull(res, 0, 0)) {
        const char *wait = PQgetvalue(res, 0, 0);

        cl_req_set_header(r, "Retry-After", strcmp(wait, "0") > 0 ? wait : "1");
        return cl_req_fail(r, CL_ERATELIMIT, "too many failed sign-ins; try again in %s "
                           "seconds", wait);
    }
    return 0;
}

static int record_failure(cl_req *r, cl_pg *db, const char *key)
{
    char window[24];
    const char *params[2] = { key, window };

    snprintf(window, sizeof(window), "%lld", cl_req_daemon(r)->cfg.login_failure_window);
    return cl_req_exec(r, db, NULL,
        "INSERT INTO login_failures (key, window_start, failures) VALUES ($1, now(), 1)"
        " ON CONFLICT (key) DO UPDATE SET"
        "   failures = CASE WHEN login_failures.window_start <= now() - make_interval(secs => $2)"
        "                   THEN 1 ELSE login_failures.failures + 1 END,"
        "   window_start = CASE WHEN login_failures.window_start <= now() - make_interval(secs => $2)"
        "                   THEN now() ELSE login_failures.window_start END",
        2, params);
}

static void set_cookie(cl_req *r, const char *token, long long max_age)
{
    char cookie[256];

    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s",
             CL_SESSION_COOKIE, token, max_age,
             cl_req_daemon(r)->cfg.tls_cert ? "; Secure" : "");
    cl_req_set_header(r, "Set-Cookie", cookie);
}

/* {"id","name"} of an account and the user's role there, or nulls. */
static int account_of(cl_req *r, cl_pg *db, const char *user_id, const char *account_id,
                      json_t **account, const char **role)
{
    const char *params[2] = { user_id, account_id };
    PGresult *res;
    int rc;

    *account = json_null();
    *role = NULL;
    if (account_id == NULL)
        return 0;
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT json_build_object('id', a.id, 'name', a.name), m.role"
            "  FROM accounts a JOIN memberships m ON m.account_id = a.id AND m.user_id = $1"
            " WHERE a.id = $2", 2, params)) < 0)
        return rc;
    if (PQntuples(res) == 1) {
        json_decref(*account);
        *account = cl_row_value(res, 0, 0);
        *role = PQgetvalue(res, 0, 1);
    }
    return 0;
}

/* POST /v1/session */
static int session_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "email", "password", NULL };
    cl_daemon *d = cl_req_daemon(r);
    cl_principal *p = cl_req_principal_mut(r);
    const char *email, *password, *user_id = NULL, *role = NULL, *account_id = NULL;
    const char *user_email = NULL;
    int instance_admin = 0;
    char token[CL_B64URL_SIZE(TOKEN_BYTES)], csrf[CL_B64URL_SIZE(TOKEN_BYTES)], hash[65];
    char ttl[24];
    json_t *account = NULL;
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    email = cl_body_string(r, "email", 1, 254);
    password = cl_body_string(r, "password", 1, CL_PASSWORD_MAX_LEN);
    if ((rc = cl_body_done(r)) < 0)
        return rc;

    const char *user_key = cl_arena_printf(cl_req_arena(r), "user:%s", lower(r, email));
    const char *addr_key = cl_arena_printf(cl_req_arena(r), "addr:%s", cl_req_client(r));
    if ((rc = cl_req_db(r, &db)) < 0 || (rc = check_rate(r, db, user_key, addr_key)) < 0)
        return rc;

    const char *by_email[1] = { email };
    if ((rc = cl_req_exec(r, db, &res, "SELECT id, password_hash, email, instance_admin "
                          "FROM users WHERE lower(email) = lower($1)", 1, by_email)) < 0)
        return rc;
    if (PQntuples(res) == 1) {
        rc = cl_password_verify(PQgetvalue(res, 0, 1), password);
        user_id = PQgetvalue(res, 0, 0);
        user_email = PQgetvalue(res, 0, 2);
        instance_admin = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
    } else {
        cl_password_verify(dummy_hash, password);
        rc = CL_EUNAUTHORIZED;
    }
    if (rc < 0) {
        if ((rc = record_failure(r, db, user_key)) < 0 ||
            (rc = record_failure(r, db, addr_key)) < 0)
            return rc;
        return cl_req_fail(r, CL_EUNAUTHORIZED, "wrong e-mail address or password");
    }

    if (cl_token_new(token, TOKEN_BYTES) < 0 || cl_token_new(csrf, TOKEN_BYTES) < 0)
        return cl_req_fail(r, CL_ERROR, "could not make a session token");
    cl_auth_secret_hash(hash, token);
    snprintf(ttl, sizeof(ttl), "%lld", d->cfg.session_ttl);

    const char *old = cl_req_cookie(r, CL_SESSION_COOKIE);
    char old_hash[65] = "";
    if (old != NULL)
        cl_auth_secret_hash(old_hash, old);
    const char *forget_failures[1] = { user_key };
    const char *forget_session[1] = { old_hash };
    const char *first[1] = { user_id };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "DELETE FROM login_failures WHERE key = $1", 1,
                          forget_failures)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "DELETE FROM sessions WHERE token_hash = "
                          "decode($1, 'hex') OR expires_at < now() - interval '1 day'",
                          1, forget_session)) < 0 ||
        (rc = cl_req_exec(r, db, &res, "SELECT m.account_id FROM memberships m JOIN accounts "
                          "a ON a.id = m.account_id WHERE m.user_id = $1 "
                          "ORDER BY lower(a.name) LIMIT 1", 1, first)) < 0)
        return rc;
    if (PQntuples(res) == 1)
        account_id = PQgetvalue(res, 0, 0);

    const char *insert[6] = { hash, user_id, account_id, csrf, cl_req_client(r), ttl };
    if ((rc = cl_req_exec(r, db, NULL, "INSERT INTO sessions (token_hash, user_id, account_id,"
                          " csrf_token, client_addr, expires_at) VALUES (decode($1, 'hex'),"
                          " $2, $3, $4, $5, now() + make_interval(secs => $6))",
                          6, insert)) < 0)
        return rc;
    p->actor = cl_arena_printf(cl_req_arena(r), "user:%s", user_id);
    if ((rc = account_of(r, db, user_id, account_id, &account, &role)) < 0 ||
        (rc = cl_audit(r, db, account_id, "session.create",
                       cl_arena_printf(cl_req_arena(r), "user:%s", user_id),
                       json_pack("{s:s}", "client", cl_req_client(r)))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0) {
        json_decref(account);
        return rc;
    }
    set_cookie(r, token, d->cfg.session_ttl);
    *out = json_pack("{s:{s:s, s:s, s:b}, s:o, s:s?, s:s}",
                     "user", "id", user_id, "email", user_email,
                     "instance_admin", instance_admin,
                     "account", account, "role", role, "csrf_token", csrf);
    return 0;
}

/* DELETE /v1/session */
static int session_delete(cl_req *r, json_t **out)
{
    const cl_principal *p = cl_req_principal(r);
    const char *params[1] = { p->session_id };
    cl_pg *db;
    int rc;

    (void)out;
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "DELETE FROM sessions WHERE id = $1", 1, params)) < 0 ||
        (rc = cl_audit(r, db, p->account_id, "session.delete", p->actor, NULL)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    set_cookie(r, "", 0);
    cl_req_status(r, 204);
    return 0;
}

/* POST /v1/session/account */
static int session_account(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "account_id", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *account_id, *role;
    json_t *account;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    account_id = cl_body_string(r, "account_id", 1, 36);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    if (!cl_uuid_valid(account_id))
        return cl_req_fail(r, CL_ENOTFOUND, "no account \"%s\"", account_id);
    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = account_of(r, db, p->user_id, account_id, &account, &role)) < 0)
        return rc;
    if (role == NULL) {
        json_decref(account);
        return cl_req_fail(r, CL_ENOTFOUND, "no account \"%s\"", account_id);
    }
    const char *params[2] = { p->session_id, account_id };
    if ((rc = cl_req_exec(r, db, NULL, "BEGIN", 0, NULL)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "UPDATE sessions SET account_id = $2 WHERE id = $1",
                          2, params)) < 0 ||
        (rc = cl_audit(r, db, account_id, "session.account", p->actor, NULL)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0) {
        json_decref(account);
        return rc;
    }
    *out = json_pack("{s:o, s:s}", "account", account, "role", role);
    return 0;
}

/* GET /v1/me */
static int me(cl_req *r, json_t **out)
{
    const cl_principal *p = cl_req_principal(r);
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0)
        return rc;
    if (p->kind == CL_PRINCIPAL_API_KEY) {
        const char *params[1] = { p->api_key_id };

        if ((rc = cl_req_exec(r, db, &res,
                "SELECT json_build_object('kind', 'api_key',"
                "  'api_key', json_build_object('id', k.id, 'name', k.name, 'prefix', k.prefix,"
                "     'expires_at', cl_time(k.expires_at)),"
                "  'account', json_build_object('id', a.id, 'name', a.name),"
                "  'role', k.role, 'user', NULL, 'accounts', json_build_array(json_build_object("
                "     'id', a.id, 'name', a.name, 'role', k.role)))"
                "  FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.id = $1",
                1, params)) < 0)
            return rc;
    } else {
        const char *params[3] = { p->user_id, p->account_id, p->csrf_token };

        if ((rc = cl_req_exec(r, db, &res,
                "SELECT json_build_object('kind', 'session',"
                "  'user', json_build_object('id', u.id, 'email', u.email,"
                "      'instance_admin', u.instance_admin),"
                "  'account', (SELECT json_build_object('id', a.id, 'name', a.name)"
                "                FROM accounts a WHERE a.id = $2),"
                "  'role', (SELECT role FROM memberships WHERE account_id = $2 AND user_id = u.id),"
                "  'accounts', coalesce((SELECT json_agg(json_build_object('id', a.id,"
                "      'name', a.name, 'role', m.role) ORDER BY lower(a.name))"
                "      FROM memberships m JOIN accounts a ON a.id = m.account_id"
                "     WHERE m.user_id = u.id), '[]'::json),"
                "  'csrf_token', $3::text)"
                "  FROM users u WHERE u.id = $1", 3, params)) < 0)
            return rc;
    }
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_EUNAUTHORIZED, "the caller no longer exists");
    *out = cl_row_value(res, 0, 0);
    return *out ? 0 : cl_req_fail(r, CL_ERROR, "could not read the caller");
}

/* POST /v1/me/password */
static int me_password(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "current_password", "new_password", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *current, *next;
    char hash[CL_PASSWORD_HASH_MAX];
    PGresult *res;
    cl_pg *db;
    int rc;

    (void)out;
    cl_body_only(r, fields);
    current = cl_body_string(r, "current_password", 1, CL_PASSWORD_MAX_LEN);
    next = cl_body_string(r, "new_password", 1, CL_PASSWORD_MAX_LEN);
    if (next != NULL && cl_utf8_length(next) < CL_PASSWORD_MIN_LEN)
        cl_error_field(cl_req_err(r), "new_password", "must be at least %d characters",
                       CL_PASSWORD_MIN_LEN);
    if ((rc = cl_body_done(r)) < 0)
        return rc;

    const char *who[2] = { p->user_id, p->session_id };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res, "SELECT password_hash FROM users WHERE id = $1 "
                          "FOR UPDATE", 1, who)) < 0)
        return rc;
    if (cl_password_verify(PQgetvalue(res, 0, 0), current) < 0) {
        cl_error_field(cl_req_err(r), "current_password", "is not the current password");
        return CL_EINVALID;
    }
    if (cl_password_hash(hash, next) < 0)
        return cl_req_fail(r, CL_ERROR, "could not hash the password");
    const char *update[2] = { p->user_id, hash };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE users SET password_hash = $2 WHERE id = $1",
                          2, update)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "DELETE FROM sessions WHERE user_id = $1 AND id <> $2",
                          2, who)) < 0 ||
        (rc = cl_audit(r, db, NULL, "user.password_change",
                       cl_arena_printf(cl_req_arena(r), "user:%s", p->user_id), NULL)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    cl_req_status(r, 204);
    return 0;
}

const cl_route cl_session_routes[] = {
    { "POST",   "/v1/session",         session_create,  CL_PUBLIC | CL_JSON_BODY },
    { "DELETE", "/v1/session",         session_delete,  CL_SESSION },
    { "POST",   "/v1/session/account", session_account, CL_SESSION | CL_JSON_BODY },
    { "GET",    "/v1/me",              me,              CL_AUTH },
    { "POST",   "/v1/me/password",     me_password,     CL_SESSION | CL_JSON_BODY },
    { NULL, NULL, NULL, 0 },
};
