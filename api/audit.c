/*
 * audit.c - reading and verifying the audit trail of the caller's account:
 *
 *   GET /v1/audit          newest first; filters since, until, actor, action,
 *                          target; paginated
 *   GET /v1/audit/verify   recompute the account's hash chain and name the
 *                          first row that does not hold
 *
 * How rows are written and chained is in daemon/audit.c.
 */
#include "daemon.h"
#include "resource.h"
#include "rfc3339.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The columns of an event; `at` is formatted by cl_time(), exactly as it
 * was when the row was hashed. */
#define EVENT_COLUMNS \
    "e.id, e.seq, e.account_id, e.actor, e.action, e.target, e.details, e.request_id," \
    " cl_time(e.at) AS at, e.prev_hash, e.hash"

static int time_param(cl_req *r, const char *name, const char **out)
{
    time_t t;

    *out = cl_req_query(r, name);
    if (*out != NULL && cl_rfc3339_parse(*out, &t) < 0) {
        cl_error_ext(cl_req_err(r), "where", json_pack("{s:s}", "parameter", name));
        return cl_req_fail(r, CL_EMALFORMED, "query parameter \"%s\" must be an RFC 3339 "
                           "time such as 2026-11-28T00:00:00Z", name);
    }
    return 0;
}

/* GET /v1/audit */
static int audit_list(cl_req *r, json_t **out)
{
    const char *since, *until;
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_page_parse(r, &page, CL_CURSOR_SEQ)) < 0 ||
        (rc = time_param(r, "since", &since)) < 0 ||
        (rc = time_param(r, "until", &until)) < 0)
        return rc;
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[8] = { cl_req_principal(r)->account_id, since, until,
                              cl_req_query(r, "actor"), cl_req_query(r, "action"),
                              cl_req_query(r, "target"), page.after, limit };
    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "SELECT " EVENT_COLUMNS ", e.seq::text AS _cursor FROM audit_events e"
            " WHERE e.chain = $1::text"
            "   AND ($2::timestamptz IS NULL OR e.at >= $2::timestamptz)"
            "   AND ($3::timestamptz IS NULL OR e.at < $3::timestamptz)"
            "   AND ($4::text IS NULL OR e.actor = $4)"
            "   AND ($5::text IS NULL OR e.action = $5)"
            "   AND ($6::text IS NULL OR e.target = $6)"
            "   AND ($7::bigint IS NULL OR e.seq < $7::bigint)"
            " ORDER BY e.seq DESC LIMIT $8", 8, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

/* GET /v1/audit/verify */
#define VERIFY_BATCH 1000

/*
 * GET /v1/audit/verify: the chain is read in batches of VERIFY_BATCH rows
 * inside one REPEATABLE READ transaction, so memory stays bounded however
 * long the chain, and rows and head come from one snapshot.
 */
static int audit_verify(cl_req *r, json_t **out)
{
    const char *account = cl_req_principal(r)->account_id;
    char prev[65] = "", hash[65], after[24] = "0", limit[16];
    char first_bad[37] = "";
    const char *reason = NULL;
    long long bad_seq = 0, rows = 0;
    PGresult *res, *head;
    cl_pg *db;
    int rc, n;

    snprintf(limit, sizeof(limit), "%d", VERIFY_BATCH);
    const char *head_params[1] = { account };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ "
                          "READ ONLY", 0, NULL)) < 0 ||
        (rc = cl_req_exec(r, db, &head, "SELECT hash FROM audit_heads WHERE chain = $1::text",
                          1, head_params)) < 0)
        return rc;
    do {
        const char *params[3] = { account, after, limit };

        /* each batch is cleared as soon as it is checked, not at the request's end */
        if ((rc = cl_pg_exec(&res, db, NULL,
                "SELECT e.seq, e.id, e.account_id, e.actor, e.action, e.target, e.details::text,"
                "       e.request_id, cl_time(e.at), e.prev_hash, e.hash"
                "  FROM audit_events e WHERE e.chain = $1::text AND e.seq > $2::bigint"
                " ORDER BY e.seq LIMIT $3::int", 3, params, cl_req_err(r))) < 0)
            return rc;
        n = PQntuples(res);
        for (int i = 0; i < n && reason == NULL; i++) {
            json_t *details = json_loads(PQgetvalue(res, i, 6), JSON_DECODE_ANY, NULL);
            char *canonical = cl_audit_canonical(
                PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2), PQgetvalue(res, i, 4),
                PQgetvalue(res, i, 3), PQgetvalue(res, i, 8), details, PQgetvalue(res, i, 1),
                PQgetvalue(res, i, 7), PQgetvalue(res, i, 5));

            rows++;
            if (strcmp(PQgetvalue(res, i, 9), prev) != 0)
                reason = "its prev_hash is not the hash of the row before it: a row was "
                         "removed or reordered";
            else if (canonical == NULL || cl_audit_hash(hash, prev, canonical) < 0 ||
                     strcmp(hash, PQgetvalue(res, i, 10)) != 0)
                reason = "its hash does not match its contents: the row was edited";
            if (reason != NULL) {
                snprintf(first_bad, sizeof(first_bad), "%s", PQgetvalue(res, i, 1));
                bad_seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);
            } else {
                memcpy(prev, PQgetvalue(res, i, 10), sizeof(prev));
            }
            free(canonical);
            json_decref(details);
        }
        if (n > 0)
            snprintf(after, sizeof(after), "%s", PQgetvalue(res, n - 1, 0));
        PQclear(res);
    } while (n == VERIFY_BATCH && reason == NULL);
    if ((rc = cl_req_commit(r, db)) < 0)
        return rc;

    if (reason == NULL) {
        const char *want = PQntuples(head) == 1 ? PQgetvalue(head, 0, 0) : "";

        if (strcmp(want, prev) != 0)
            reason = "the chain ends before its recorded head: its newest rows were removed";
    }
    *out = json_pack("{s:b, s:I, s:s}", "valid", reason == NULL, "rows", (json_int_t)rows,
                     "head", prev);
    if (reason != NULL) {
        json_t *bad = json_pack("{s:s}", "reason", reason);

        if (first_bad[0] != '\0') {
            json_object_set_new(bad, "id", json_string(first_bad));
            json_object_set_new(bad, "seq", json_integer(bad_seq));
        }
        json_object_set_new(*out, "first_bad", bad);
    } else {
        json_object_set_new(*out, "first_bad", json_null());
    }
    return 0;
}

const cl_route cl_audit_routes[] = {
    { "GET", "/v1/audit",        audit_list,   CL_ROLE_AUDIT },
    { "GET", "/v1/audit/verify", audit_verify, CL_ROLE_AUDIT },
    { NULL, NULL, NULL, 0 },
};
