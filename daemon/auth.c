/*
 * auth.c - authentication and route authorization; see auth.h.
 *
 * Cost: one indexed lookup per request (a session joined with its user and
 * membership, or an API key).  Bookkeeping writes are rationed: a session's
 * last_seen_at and a key's last_used_at are written at most once a minute.
 */
#include "auth.h"
#include "daemon.h"
#include "digest.h"
#include "httpsig.h"
#include "token.h"

#include <openssl/x509.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void cl_auth_secret_hash(char out[65], const char *secret)
{
    if (cl_sha256_hex(out, secret, strlen(secret)) < 0)
        out[0] = '\0';
}

int cl_auth_role_allows(const char *role, unsigned flags)
{
    static const struct { const char *role; unsigned allowed; } table[] = {
        { "admin",    CL_ROLE_READ | CL_ROLE_WRITE | CL_ROLE_AUDIT | CL_ROLE_ADMIN },
        { "operator", CL_ROLE_READ | CL_ROLE_WRITE },
        { "auditor",  CL_ROLE_READ | CL_ROLE_AUDIT },
    };
    unsigned need = flags & CL_ROLE_ANY;

    if (need == 0)
        return 1;
    if (role == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].role, role) == 0)
            return (table[i].allowed & need) == need;
    return 0;
}

/* The value of the session cookie, or NULL. */
static const char *session_cookie(cl_req *r)
{
    return cl_req_cookie(r, CL_SESSION_COOKIE);
}

static char *dup_value(cl_req *r, PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) ? NULL
                                    : cl_arena_strdup(cl_req_arena(r), PQgetvalue(res, 0, col));
}

static int from_session(cl_req *r, cl_principal *p, const char *token)
{
    const char *sql =
        "SELECT s.id, s.user_id, u.email, u.instance_admin, m.account_id, m.role,"
        "       s.csrf_token, s.last_seen_at < now() - interval '1 minute'"
        "  FROM sessions s JOIN users u ON u.id = s.user_id"
        "  LEFT JOIN memberships m ON m.account_id = s.account_id AND m.user_id = s.user_id"
        " WHERE s.token_hash = decode($1, 'hex') AND s.expires_at > now()"
        "   AND s.last_seen_at > now() - make_interval(secs => $2)";
    cl_daemon *d = cl_req_daemon(r);
    char hash[65], idle[32];
    const char *params[2] = { hash, idle };
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_auth_secret_hash(hash, token);
    snprintf(idle, sizeof(idle), "%lld", d->cfg.session_idle_timeout);
    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_pg_exec(&res, db, cl_req_arena(r), sql, 2, params, cl_req_err(r))) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_EUNAUTHORIZED, "the session has expired or was ended; "
                           "sign in again");
    p->kind = CL_PRINCIPAL_SESSION;
    p->session_id = dup_value(r, res, 0);
    p->user_id = dup_value(r, res, 1);
    p->email = dup_value(r, res, 2);
    p->instance_admin = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
    p->account_id = dup_value(r, res, 4);
    p->role = dup_value(r, res, 5);
    p->csrf_token = dup_value(r, res, 6);
    p->actor = cl_arena_printf(cl_req_arena(r), "user:%s", p->user_id);
    if (strcmp(PQgetvalue(res, 0, 7), "t") == 0) {
        const char *touch = "UPDATE sessions SET last_seen_at = now() WHERE id = $1";
        if ((rc = cl_pg_exec(NULL, db, cl_req_arena(r), touch, 1, &p->session_id,
                             cl_req_err(r))) < 0)
            return rc;
    }
    return 0;
}

/* A reason to refuse a credential: the boolean column that says so. */
typedef struct refusal {
    int column;
    const char *reason;
} refusal;

/* The row of the credential whose secret's SHA-256 is sql's $1: 401
 * "<what> is not valid" when there is none, or with the reason of the
 * first refusal that holds. */
static int credential(cl_req *r, const char *sql, const char *secret, const char *what,
                      const refusal *refusals, PGresult **res, cl_pg **db)
{
    char hash[65];
    const char *params[1] = { hash };
    int rc;

    cl_auth_secret_hash(hash, secret);
    if ((rc = cl_req_db(r, db)) < 0 ||
        (rc = cl_pg_exec(res, *db, cl_req_arena(r), sql, 1, params, cl_req_err(r))) < 0)
        return rc;
    if (PQntuples(*res) != 1)
        return cl_req_fail(r, CL_EUNAUTHORIZED, "%s is not valid", what);
    for (; refusals->reason != NULL; refusals++)
        if (strcmp(PQgetvalue(*res, 0, refusals->column), "t") == 0)
            return cl_req_fail(r, CL_EUNAUTHORIZED, "%s %s", what, refusals->reason);
    return 0;
}

static int from_api_key(cl_req *r, cl_principal *p, const char *secret)
{
    static const refusal refusals[] = { { 3, "was revoked" }, { 4, "has expired" }, { 0, NULL } };
    const char *sql =
        "SELECT id, account_id, role, revoked_at IS NOT NULL,"
        "       expires_at IS NOT NULL AND expires_at <= now(),"
        "       last_used_at IS NULL OR last_used_at < now() - interval '1 minute'"
        "  FROM api_keys WHERE secret_hash = decode($1, 'hex')";
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = credential(r, sql, secret, "the API key", refusals, &res, &db)) < 0)
        return rc;
    p->kind = CL_PRINCIPAL_API_KEY;
    p->api_key_id = dup_value(r, res, 0);
    p->account_id = dup_value(r, res, 1);
    p->role = dup_value(r, res, 2);
    p->actor = cl_arena_printf(cl_req_arena(r), "api_key:%s", p->api_key_id);
    if (strcmp(PQgetvalue(res, 0, 5), "t") == 0) {
        const char *touch = "UPDATE api_keys SET last_used_at = now() WHERE id = $1";
        if ((rc = cl_pg_exec(NULL, db, cl_req_arena(r), touch, 1, &p->api_key_id,
                             cl_req_err(r))) < 0)
            return rc;
    }
    return 0;
}

/* A node's join token: valid while not revoked, not expired, not used up. */
static int from_join_token(cl_req *r, cl_principal *p, const char *secret)
{
    static const refusal refusals[] = {
        { 2, "was revoked" }, { 3, "has expired" }, { 4, "is used up" }, { 0, NULL },
    };
    const char *sql =
        "SELECT id, account_id, revoked_at IS NOT NULL, expires_at <= now(), uses >= max_uses"
        "  FROM node_tokens WHERE secret_hash = decode($1, 'hex')";
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = credential(r, sql, secret, "the join token", refusals, &res, &db)) < 0)
        return rc;
    p->kind = CL_PRINCIPAL_JOIN_TOKEN;
    p->join_token_id = dup_value(r, res, 0);
    p->account_id = dup_value(r, res, 1);
    p->actor = cl_arena_printf(cl_req_arena(r), "node_token:%s", p->join_token_id);
    return 0;
}

/* Seconds a node's Date and signature time may be off the daemon's clock. */
#define NODE_CLOCK_SKEW 300

/* An enrolled node's request, signed with its key (lib/httpsig.h): the
 * node must exist, and be neither revoked nor deactivated, and the
 * signature must not have been seen before (a replay within the skew). */
static int from_node_signature(cl_req *r, cl_principal *p)
{
    unsigned char replay[32];
    char replay_hex[65];
    cl_httpsig_request rq = {
        cl_req_method(r), cl_req_path(r), cl_req_header(r, "Date"),
        cl_req_header(r, "Content-Digest"), cl_req_header(r, "Signature-Input"),
        cl_req_header(r, "Signature"), NULL, 0, replay,
    };
    char keyid[CL_HTTPSIG_KEYID_MAX + 1];
    unsigned char der[1024];
    const unsigned char *q = der;
    const char *params[1] = { keyid };
    size_t len = 0;
    EVP_PKEY *key;
    PGresult *res, *fresh;
    cl_pg *db;
    int rc;

    rq.body = cl_req_raw_body(r, &rq.len);
    if ((rc = cl_httpsig_keyid(rq.input, keyid, cl_req_err(r))) < 0)
        return rc;
    if (!cl_uuid_valid(keyid))
        return cl_req_fail(r, CL_EUNAUTHORIZED, "the signature's keyid must be a node's id");
    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_pg_exec(&res, db, cl_req_arena(r), "SELECT account_id, state, public_key"
                         " FROM nodes WHERE id = $1", 1, params, cl_req_err(r))) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_EUNAUTHORIZED, "no node \"%s\"", keyid);
    if (cl_b64_decode(der, sizeof(der), &len, PQgetvalue(res, 0, 2)) < 0 ||
        (key = d2i_PUBKEY(NULL, &q, (long)len)) == NULL)
        return cl_req_fail(r, CL_ERROR, "node \"%s\"'s key could not be read", keyid);
    rc = cl_httpsig_verify(&rq, key, time(NULL), NODE_CLOCK_SKEW, cl_req_err(r));
    EVP_PKEY_free(key);
    if (rc < 0)
        return rc;
    const char *state = PQgetvalue(res, 0, 1);
    if (strcmp(state, "revoked") == 0)
        return cl_req_fail(r, CL_EUNAUTHORIZED, "node \"%s\" is revoked: it must enroll again "
                           "with a new join token", keyid);
    if (strcmp(state, "deactivated") == 0)
        return cl_req_fail(r, CL_EFORBIDDEN, "node \"%s\" is deactivated", keyid);
    cl_hex(replay_hex, replay, sizeof(replay));
    const char *seen[2] = { keyid, replay_hex };
    if ((rc = cl_pg_exec(&fresh, db, cl_req_arena(r), "INSERT INTO node_request_signatures"
                         " (node_id, signature_id) VALUES ($1, decode($2, 'hex'))"
                         " ON CONFLICT DO NOTHING RETURNING node_id", 2, seen,
                         cl_req_err(r))) < 0)
        return rc;
    if (PQntuples(fresh) != 1)
        return cl_req_fail(r, CL_EUNAUTHORIZED, "this signed request was sent before: a "
                           "node signs each request anew");
    p->kind = CL_PRINCIPAL_NODE;
    p->node_id = cl_arena_strdup(cl_req_arena(r), keyid);
    p->account_id = dup_value(r, res, 0);
    p->actor = cl_arena_printf(cl_req_arena(r), "node:%s", keyid);
    return 0;
}

static int authenticate(cl_req *r, cl_principal *p)
{
    const char *authz = cl_req_header(r, "Authorization");
    const char *cookie;

    if (authz == NULL && cl_req_header(r, "Signature-Input") != NULL)
        return from_node_signature(r, p);
    if (authz != NULL && strncasecmp(authz, "JoinToken ", 10) == 0 && authz[10] != '\0')
        return from_join_token(r, p, authz + 10);
    if (authz != NULL) {
        if (strncasecmp(authz, "Bearer ", 7) != 0 || authz[7] == '\0')
            return cl_req_fail(r, CL_EUNAUTHORIZED,
                               "the Authorization header must be \"Bearer <API key>\"");
        return from_api_key(r, p, authz + 7);
    }
    cookie = session_cookie(r);
    if (cookie != NULL && cookie[0] != '\0')
        return from_session(r, p, cookie);
    return cl_req_fail(r, CL_EUNAUTHORIZED,
                       "sign in, or send an API key as \"Authorization: Bearer <key>\"");
}

int cl_auth_check(cl_req *r, unsigned flags)
{
    cl_principal *p = cl_req_principal_mut(r);
    const char *method = cl_req_method(r);
    int rc;

    if (flags & CL_PUBLIC)
        return 0;
    if ((rc = authenticate(r, p)) < 0)
        return rc;
    if (p->kind == CL_PRINCIPAL_JOIN_TOKEN)       /* only where a route takes one */
        return (flags & CL_JOIN_TOKEN) ? 0 : cl_req_fail(r, CL_EFORBIDDEN, "a join token can "
                                                         "only get a nonce and enroll a node");
    if (p->kind == CL_PRINCIPAL_NODE)
        return (flags & CL_NODE_SIGNED) ? 0 : cl_req_fail(r, CL_EFORBIDDEN, "a node's signed "
                                                          "request cannot do this");

    if (p->kind == CL_PRINCIPAL_SESSION && strcmp(method, "GET") != 0 &&
        strcmp(method, "HEAD") != 0) {
        const char *csrf = cl_req_header(r, "X-CSRF-Token");

        if (csrf == NULL || !cl_token_equal(csrf, p->csrf_token))
            return cl_req_fail(r, CL_EFORBIDDEN, "the X-CSRF-Token header is missing or "
                               "does not match the session's token");
    }
    if ((flags & CL_SESSION) && p->kind != CL_PRINCIPAL_SESSION)
        return cl_req_fail(r, CL_EFORBIDDEN, "only a signed-in person can do this, "
                           "not an API key");
    if ((flags & CL_INSTANCE_ADMIN) && !p->instance_admin)
        return cl_req_fail(r, CL_EFORBIDDEN, "only an instance administrator can do this");
    if (flags & CL_ROLE_ANY) {
        if (p->account_id == NULL)
            return cl_req_fail(r, CL_EFORBIDDEN, "choose an account to act in first "
                               "(POST /v1/session/account)");
        if (!cl_auth_role_allows(p->role, flags))
            return cl_req_fail(r, CL_EFORBIDDEN, "the %s role may not %s %s",
                               p->role, method, cl_req_path(r));
    }
    return 0;
}
