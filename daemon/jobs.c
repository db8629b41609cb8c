/* jobs.c - enqueueing jobs from requests; see jobs.h. */
#include "jobs.h"
#include "resource.h"

#include <stdio.h>
#include <stdlib.h>

int cl_job_enqueue(cl_req *r, cl_pg *db, const char *kind, const char *target,
                   json_t *params, int max_attempts, json_t **job)
{
    const cl_principal *p = cl_req_principal(r);
    char *text;
    char attempts[16];
    PGresult *res;
    int rc;

    if (params == NULL)
        params = json_object();
    text = json_dumps(params, JSON_COMPACT);
    json_decref(params);
    snprintf(attempts, sizeof(attempts), "%d", max_attempts);
    const char *values[6] = { p->account_id, kind, target, text, attempts,
                              p->actor ? p->actor : "system" };
    rc = cl_req_exec(r, db, &res,
        "WITH j AS (INSERT INTO jobs (account_id, kind, target, params, max_attempts,"
        " created_by) VALUES ($1, $2, $3, $4::jsonb, $5::int, $6) RETURNING *),"
        " n AS (SELECT pg_notify('cloister_jobs', $2))"
        "SELECT j.id, j.kind, j.target, j.state, j.progress, j.phase, j.attempts,"
        " j.max_attempts, j.params, j.result, j.error, j.cancel_requested, j.created_by,"
        " j.created_at, j.started_at, j.finished_at, j.run_after FROM j, n",
        6, values);
    free(text);
    if (rc < 0)
        return rc;
    *job = cl_row_json(res, 0);
    return cl_audit(r, db, p->account_id, "job.create",
                    cl_arena_printf(cl_req_arena(r), "job:%s", cl_row_text(res, 0, "id")),
                    json_pack("{s:s, s:s?}", "kind", kind, "target", target));
}

int cl_job_accepted(cl_req *r, json_t *job, json_t **out)
{
    cl_req_status(r, 202);
    cl_req_set_header(r, "Location", cl_arena_printf(cl_req_arena(r), "/v1/jobs/%s",
                      json_string_value(json_object_get(job, "id"))));
    *out = job;
    return 0;
}
