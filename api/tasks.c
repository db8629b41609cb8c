/*
 * tasks.c - approvals: /v1/tasks and /v1/policies/approval.
 *
 * A task (a build to approve, a domain an app wants) is pending until
 * enough distinct admins approve it (the quorum, copied from the account's
 * policy when the task was made), one admin denies it, or it expires after
 * seven days.  Decisions are made by people, signed in, never by API keys;
 * each person decides once; whoever asked for the task may not approve it
 * when the quorum is above one (two-person rule).  Every decision is
 * audited, and the effect of an approval (a domain joining the app's
 * approved_domains) happens in the same transaction.
 */
#include "daemon.h"
#include "nodes.h"
#include "resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK_COLUMNS \
    "t.id, t.type, CASE WHEN t.state = 'pending' AND t.expires_at <= now() THEN 'expired'" \
    " ELSE t.state END AS state, t.target, t.details, t.requested_by, t.quorum," \
    " (SELECT count(*) FROM task_decisions d WHERE d.task_id = t.id" \
    "   AND d.decision = 'approve')::int AS approvals," \
    " (SELECT coalesce(json_agg(json_build_object('actor', d.actor, 'decision', d.decision," \
    "   'comment', d.comment, 'at', cl_time(d.at)) ORDER BY d.at), '[]'::json)" \
    "   FROM task_decisions d WHERE d.task_id = t.id) AS decisions," \
    " t.created_at, t.expires_at, t.decided_at"

/* GET /v1/tasks */
static int tasks_list(cl_req *r, json_t **out)
{
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_page_parse(r, &page, CL_CURSOR_CREATED)) < 0 ||
        (rc = cl_req_db(r, &db)) < 0)
        return rc;
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[5] = { cl_req_principal(r)->account_id, cl_req_query(r, "state"),
                              cl_req_query(r, "type"), page.after, limit };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT * FROM (SELECT " TASK_COLUMNS ","
            "  cl_time(t.created_at) || '|' || t.id AS _cursor, t.created_at AS _created"
            "  FROM tasks t WHERE t.account_id = $1) x"
            " WHERE ($2::text IS NULL OR x.state = $2) AND ($3::text IS NULL OR x.type = $3)"
            "   AND ($4::text IS NULL OR (x._created, x.id) <"
            "        (split_part($4, '|', 1)::timestamptz, split_part($4, '|', 2)::uuid))"
            " ORDER BY x._created DESC, x.id DESC LIMIT $5", 5, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

static int load(cl_req *r, cl_pg *db, const char *lock, PGresult **res)
{
    return cl_req_load(r, db, res, "task", "SELECT " TASK_COLUMNS " FROM tasks t", "t", lock);
}

/* GET /v1/tasks/{id} */
static int tasks_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 || (rc = load(r, db, "", &res)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    return 0;
}

/* What a decided task changes: an approved domain joins the app's
 * approved_domains; a build becomes approved or rejected; a node becomes
 * active or revoked. */
static int apply(cl_req *r, cl_pg *db, PGresult *task, const char *outcome)
{
    json_t *details = cl_row_value(task, 0, PQfnumber(task, "details"));
    const char *type = cl_row_text(task, 0, "type");
    int approved = strcmp(outcome, "approved") == 0, rc = 0;

    if (strcmp(type, "build_approval") == 0) {
        const char *params[2] = { json_string_value(json_object_get(details, "build_id")),
                                  approved ? "approved" : "rejected" };
        rc = cl_req_exec(r, db, NULL,
            "UPDATE builds SET state = $2, decided_at = now()"
            " WHERE id = $1::uuid AND state = 'pending'", 2, params);
    } else if (strcmp(type, "node_approval") == 0) {
        rc = cl_nodes_decided(r, db, json_string_value(json_object_get(details, "node_id")),
                              approved);
    } else if (strcmp(type, "domain_approval") == 0 && approved) {
        const char *params[2] = { json_string_value(json_object_get(details, "app_id")),
                                  json_string_value(json_object_get(details, "domain")) };
        rc = cl_req_exec(r, db, NULL,
            "UPDATE apps SET approved_domains = approved_domains || to_jsonb($2::text)"
            " WHERE id = $1 AND allowed_domains ? $2 AND NOT approved_domains ? $2",
            2, params);
    }
    json_decref(details);
    return rc;
}

static int decide(cl_req *r, json_t **out, const char *decision)
{
    static const char *const fields[] = { "comment", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *id = cl_req_param(r, "id"), *comment = NULL;
    PGresult *res;
    cl_pg *db;
    int rc;

    if (cl_req_body(r) != NULL) {
        cl_body_only(r, fields);
        comment = cl_body_string(r, "comment", 0, 2000);
        if ((rc = cl_body_done(r)) < 0)
            return rc;
    }
    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = load(r, db, "FOR UPDATE OF t", &res)) < 0)
        return rc;
    const char *state = cl_row_text(res, 0, "state");
    if (strcmp(state, "pending") != 0)
        return cl_req_fail(r, CL_ECONFLICT, "task \"%s\" is %s; it can no longer be decided",
                           id, state);
    int quorum = (int)strtol(cl_row_text(res, 0, "quorum"), NULL, 10);
    if (strcmp(decision, "approve") == 0 && quorum > 1 &&
        strcmp(cl_row_text(res, 0, "requested_by"), p->actor) == 0)
        return cl_req_fail(r, CL_EFORBIDDEN, "you asked for this; with a quorum of %d, other "
                           "admins must approve it", quorum);
    const char *params[4] = { id, p->actor, decision, comment ? comment : "" };
    rc = cl_req_exec(r, db, NULL, "INSERT INTO task_decisions (task_id, actor, decision, comment)"
                     " VALUES ($1, $2, $3, $4)", 4, params);
    if (rc == CL_ECONFLICT)
        return cl_req_fail(r, CL_ECONFLICT, "you have decided on task \"%s\" already", id);
    if (rc < 0 || (rc = load(r, db, "", &res)) < 0)
        return rc;
    int approvals = (int)strtol(cl_row_text(res, 0, "approvals"), NULL, 10);
    const char *outcome = strcmp(decision, "deny") == 0 ? "denied"
                        : approvals >= quorum ? "approved" : NULL;
    if (outcome != NULL) {
        const char *set[2] = { id, outcome };
        if ((rc = cl_req_exec(r, db, NULL, "UPDATE tasks SET state = $2, decided_at = now() "
                              "WHERE id = $1", 2, set)) < 0 ||
            (rc = apply(r, db, res, outcome)) < 0 ||
            (rc = load(r, db, "", &res)) < 0)
            return rc;
    }
    if ((rc = cl_audit(r, db, p->account_id, strcmp(decision, "approve") == 0 ? "task.approve"
                       : "task.deny", cl_arena_printf(cl_req_arena(r), "task:%s", id),
                       json_pack("{s:s, s:s, s:i, s:i}", "comment", comment ? comment : "",
                                 "state", cl_row_text(res, 0, "state"), "approvals", approvals,
                                 "quorum", quorum))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    return 0;
}

static int tasks_approve(cl_req *r, json_t **out)
{
    return decide(r, out, "approve");
}

static int tasks_deny(cl_req *r, json_t **out)
{
    return decide(r, out, "deny");
}

/* GET /v1/policies/approval */
static int policy_get(cl_req *r, json_t **out)
{
    return cl_account_row(r, out, "SELECT coalesce((SELECT quorum FROM approval_policies "
                          "WHERE account_id = $1), 1) AS quorum, coalesce((SELECT version FROM "
                          "approval_policies WHERE account_id = $1), 0) AS _version");
}

/* PUT /v1/policies/approval */
static int policy_put(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "quorum", NULL };
    const char *account = cl_req_principal(r)->account_id, *version;
    json_t *q = json_object_get(cl_req_body(r), "quorum");
    char quorum[16];
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_if_match(r, &version)) < 0)
        return rc;
    cl_body_only(r, fields);
    if (!json_is_integer(q) || json_integer_value(q) < 1 || json_integer_value(q) > 10)
        cl_error_field(cl_req_err(r), "quorum", "must be an integer from 1 to 10");
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    snprintf(quorum, sizeof(quorum), "%lld", (long long)json_integer_value(q));
    const char *params[3] = { account, quorum, version };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "INSERT INTO approval_policies AS p (account_id, quorum) VALUES ($1, $2::int)"
            " ON CONFLICT (account_id) DO UPDATE SET quorum = $2::int, version = p.version + 1,"
            "   updated_at = now() WHERE $3::int IS NULL OR p.version = $3::int"
            " RETURNING quorum, version AS _version", 3, params)) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_EPRECONDITION, "the approval policy was changed since version "
                           "%s", version);
    if ((rc = cl_audit(r, db, account, "policy.approval.update",
                       cl_arena_printf(cl_req_arena(r), "account:%s", account),
                       json_pack("{s:I}", "quorum", json_integer_value(q)))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    cl_req_etag(r, cl_row_text(res, 0, "_version"));
    *out = cl_row_json(res, 0);
    return 0;
}

const cl_route cl_tasks_routes[] = {
    { "GET",  "/v1/tasks",              tasks_list,    CL_ROLE_READ },
    { "GET",  "/v1/tasks/{id}",         tasks_get,     CL_ROLE_READ },
    { "POST", "/v1/tasks/{id}/approve", tasks_approve,
      CL_ROLE_ADMIN | CL_SESSION | CL_JSON_OPTIONAL },
    { "POST", "/v1/tasks/{id}/deny",    tasks_deny, CL_ROLE_ADMIN | CL_SESSION | CL_JSON_OPTIONAL },
    { "GET",  "/v1/policies/approval",  policy_get,    CL_ROLE_READ },
    { "PUT",  "/v1/policies/approval",  policy_put,    CL_ROLE_ADMIN | CL_JSON_BODY },
    { NULL, NULL, NULL, 0 },
};
