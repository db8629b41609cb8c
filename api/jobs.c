/*
 * jobs.c - /v1/jobs and /v1/workers: following and cancelling the slow work
 * the workers do (the queue itself: workers/queue.c).
 *
 *   GET  /v1/jobs                 the account's jobs, newest first; filters
 *                                 kind, state, target
 *   GET  /v1/jobs/{id}            one job, with its attempts
 *   GET  /v1/jobs/{id}/events     what it reported, oldest first, paginated
 *   POST /v1/jobs/{id}/cancel     queued: canceled at once; running: its
 *                                 worker stops it within a heartbeat
 *   GET  /v1/workers              the workers, and whether they are alive
 */
#include "daemon.h"
#include "resource.h"

#include <stdio.h>
#include <string.h>

#define JOB_COLUMNS \
    "j.id, j.kind, j.target, j.state, j.progress, j.phase, j.attempts, j.max_attempts," \
    " j.params, j.result, j.error, j.cancel_requested, j.created_by, j.created_at," \
    " j.started_at, j.finished_at, j.run_after"

static const char *const states[] = { "queued", "running", "succeeded", "failed", "canceled",
                                      NULL };

/* GET /v1/jobs */
static int jobs_list(cl_req *r, json_t **out)
{
    const char *state = cl_req_query(r, "state");
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc, known = state == NULL;

    for (size_t i = 0; !known && states[i] != NULL; i++)
        known = strcmp(states[i], state) == 0;
    if (!known) {
        cl_error_ext(cl_req_err(r), "where", json_pack("{s:s}", "parameter", "state"));
        return cl_req_fail(r, CL_EMALFORMED, "query parameter \"state\" must be queued, "
                           "running, succeeded, failed or canceled");
    }
    if ((rc = cl_page_parse(r, &page, CL_CURSOR_CREATED)) < 0 ||
        (rc = cl_req_db(r, &db)) < 0)
        return rc;
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[6] = { cl_req_principal(r)->account_id, cl_req_query(r, "kind"), state,
                              cl_req_query(r, "target"), page.after, limit };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT " JOB_COLUMNS ", cl_time(j.created_at) || '|' || j.id AS _cursor"
            "  FROM jobs j WHERE j.account_id = $1"
            "   AND ($2::text IS NULL OR j.kind = $2) AND ($3::text IS NULL OR j.state = $3)"
            "   AND ($4::text IS NULL OR j.target = $4)"
            "   AND ($5::text IS NULL OR (j.created_at, j.id) <"
            "        (split_part($5, '|', 1)::timestamptz, split_part($5, '|', 2)::uuid))"
            " ORDER BY j.created_at DESC, j.id DESC LIMIT $6", 6, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

/* The path's job, in the caller's account; 404 otherwise. */
static int load(cl_req *r, cl_pg *db, PGresult **res)
{
    const char *id = cl_req_param(r, "id");
    const char *params[2] = { id, cl_req_principal(r)->account_id };
    int rc;

    if (!cl_uuid_valid(id))
        return cl_req_fail(r, CL_ENOTFOUND, "no job \"%s\"", id);
    if ((rc = cl_req_exec(r, db, res,
            "SELECT " JOB_COLUMNS ", (SELECT coalesce(json_agg(json_build_object("
            "   'attempt', a.attempt, 'worker_id', a.worker_id, 'outcome', a.outcome,"
            "   'error', a.error, 'started_at', cl_time(a.started_at),"
            "   'finished_at', cl_time(a.finished_at)) ORDER BY a.attempt), '[]'::json)"
            "   FROM job_attempts a WHERE a.job_id = j.id) AS attempt_history"
            "  FROM jobs j WHERE j.id = $1 AND j.account_id = $2", 2, params)) < 0)
        return rc;
    if (PQntuples(*res) != 1)
        return cl_req_fail(r, CL_ENOTFOUND, "no job \"%s\"", id);
    return 0;
}

/* GET /v1/jobs/{id} */
static int jobs_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 || (rc = load(r, db, &res)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    return 0;
}

/* GET /v1/jobs/{id}/events */
static int jobs_events(cl_req *r, json_t **out)
{
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_page_parse(r, &page, CL_CURSOR_SEQ)) < 0 || (rc = cl_req_db(r, &db)) < 0 ||
        (rc = load(r, db, &res)) < 0)
        return rc;
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[3] = { cl_req_param(r, "id"), page.after, limit };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT e.seq, e.at, e.type, e.message, e.progress, e.seq::text AS _cursor"
            "  FROM job_events e WHERE e.job_id = $1"
            "   AND ($2::bigint IS NULL OR e.seq > $2::bigint)"
            " ORDER BY e.seq LIMIT $3", 3, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

/* POST /v1/jobs/{id}/cancel */
static int jobs_cancel(cl_req *r, json_t **out)
{
    const char *id = cl_req_param(r, "id");
    const char *account = cl_req_principal(r)->account_id;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = load(r, db, &res)) < 0)
        return rc;
    const char *state = cl_row_text(res, 0, "state");
    if (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
        strcmp(state, "canceled") == 0)
        return cl_req_fail(r, CL_ECONFLICT, "job \"%s\" has ended already (%s)", id, state);
    const char *params[1] = { id };
    if ((rc = cl_req_exec(r, db, NULL,
            "UPDATE jobs SET cancel_requested = true,"
            "   state = CASE WHEN state = 'queued' THEN 'canceled' ELSE state END,"
            "   finished_at = CASE WHEN state = 'queued' THEN now() END"
            " WHERE id = $1", 1, params)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "SELECT pg_notify('cloister_jobs', 'cancel')", 0,
                          NULL)) < 0 ||
        (rc = cl_audit(r, db, account, "job.cancel",
                       cl_arena_printf(cl_req_arena(r), "job:%s", id),
                       json_pack("{s:s}", "state", state))) < 0 ||
        (rc = load(r, db, &res)) < 0 || (rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    return 0;
}

/* GET /v1/workers */
static int workers_list(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    json_t *items;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "SELECT w.id, w.name, w.hostname, w.pid, to_json(w.kinds) AS kinds, w.slots,"
            "       w.state, w.started_at, w.heartbeat_at,"
            "       w.state <> 'stopped' AND w.heartbeat_at > now() - interval '90 seconds'"
            "         AS alive,"
            "       (SELECT count(*) FROM jobs j WHERE j.lease_owner = w.id"
            "           AND j.state = 'running')::int AS running"
            "  FROM workers w WHERE w.heartbeat_at > now() - interval '1 day'"
            " ORDER BY w.started_at DESC LIMIT 500", 0, NULL)) < 0)
        return rc;
    items = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(items, cl_row_json(res, i));
    return cl_page_respond(r, out, items, NULL);
}

const cl_route cl_jobs_routes[] = {
    { "GET",  "/v1/jobs",             jobs_list,    CL_ROLE_READ },
    { "GET",  "/v1/jobs/{id}",        jobs_get,     CL_ROLE_READ },
    { "GET",  "/v1/jobs/{id}/events", jobs_events,  CL_ROLE_READ },
    { "POST", "/v1/jobs/{id}/cancel", jobs_cancel,  CL_ROLE_WRITE },
    { "GET",  "/v1/workers",          workers_list, CL_ROLE_READ },
    { NULL, NULL, NULL, 0 },
};
