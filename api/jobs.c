/*
 * jobs.c - /v1/jobs and /v1/workers: following and cancelling the slow work
 * the workers do (the queue itself: workers/queue.c).
 *
 *   GET  /v1/jobs                 the account's jobs, newest first; filters
 *                                 kind, state, target
 *   GET  /v1/jobs/{id}            one job, with its attempts
 *   GET  /v1/jobs/{id}/events     what it reported, oldest first, paginated
 *   POST /v1/jobs                 a `noop` job: the queue's own diagnostic,
 *                                 for checking that workers take and
 *                                 finish work (waits `ms`, fails its first
 *                                 `fail_times` attempts)
 *   POST /v1/jobs/{id}/cancel     queued: canceled at once; running: its
 *                                 worker stops it within a heartbeat
 *   GET  /v1/workers              the workers, and whether they are alive
 */
#include "daemon.h"
#include "jobs.h"
#include "resource.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The path's job, in the caller's account, with its attempts; 404 otherwise. */
static int load(cl_req *r, cl_pg *db, PGresult **res)
{
    return cl_req_load(r, db, res, "job",
        "SELECT " JOB_COLUMNS ", (SELECT coalesce(json_agg(json_build_object("
        "   'attempt', a.attempt, 'worker_id', a.worker_id, 'outcome', a.outcome,"
        "   'error', a.error, 'started_at', cl_time(a.started_at),"
        "   'finished_at', cl_time(a.finished_at)) ORDER BY a.attempt), '[]'::json)"
        "   FROM job_attempts a WHERE a.job_id = j.id) AS attempt_history FROM jobs j",
        "j", NULL);
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

static int jobs_events_page(cl_req *r, json_t **out);

/*
 * The events of a job as Server-Sent Events: each event with its sequence
 * number as the SSE id (so a client reconnecting with Last-Event-ID
 * resumes), its type as the SSE event name and the event object as data;
 * a comment line every second while nothing happens; "event: end" with
 * the job's final state, and the stream ends.
 */
typedef struct sse {
    cl_daemon *d;
    char job[37];
    char account[37];
    long long last_seq;
    int ended;
} sse;

static long sse_next(void *ctx, char *buf, size_t max)
{
    sse *s = ctx;
    size_t used = 0;

    if (s->ended)
        return 0;
    for (int waited = 0; waited < 5; waited++) {
        char after[24], limit[] = "100";
        cl_error err = { 0 };
        PGresult *events = NULL, *job = NULL;
        cl_pg *db;

        snprintf(after, sizeof(after), "%lld", s->last_seq);
        const char *params[3] = { s->job, after, limit };
        const char *who[2] = { s->job, s->account };
        if (cl_pg_acquire(&db, s->d->pool, 2000, &err) < 0) {
            cl_error_clear(&err);
            return -1;
        }
        if (cl_pg_exec(&job, db, NULL, "SELECT state FROM jobs WHERE id = $1 AND "
                       "account_id = $2", 2, who, &err) < 0 ||
            cl_pg_exec(&events, db, NULL,
                "SELECT e.seq, json_build_object('seq', e.seq, 'at', cl_time(e.at),"
                " 'type', e.type, 'message', e.message, 'progress', e.progress), e.type"
                "  FROM job_events e WHERE e.job_id = $1 AND e.seq > $2::bigint"
                " ORDER BY e.seq LIMIT $3", 3, params, &err) < 0) {
            cl_pg_release(db);
            PQclear(job);
            cl_error_clear(&err);
            return -1;
        }
        cl_pg_release(db);
        for (int i = 0; i < PQntuples(events); i++) {
            int n = snprintf(buf + used, max - used, "id: %s\nevent: %s\ndata: %s\n\n",
                             PQgetvalue(events, i, 0), PQgetvalue(events, i, 2),
                             PQgetvalue(events, i, 1));
            if (n < 0 || (size_t)n >= max - used)
                break;      /* the rest goes in the next call */
            used += (size_t)n;
            s->last_seq = strtoll(PQgetvalue(events, i, 0), NULL, 10);
        }
        int more = PQntuples(events) > 0;
        const char *state = PQntuples(job) == 1 ? PQgetvalue(job, 0, 0) : "gone";
        int over = strcmp(state, "queued") != 0 && strcmp(state, "running") != 0;
        if (used == 0 && over && !more) {
            int n = snprintf(buf, max, "event: end\ndata: {\"state\":\"%s\"}\n\n", state);
            s->ended = 1;
            used = n > 0 && (size_t)n < max ? (size_t)n : 0;
        }
        PQclear(job);
        PQclear(events);
        if (used > 0)
            return (long)used;
        struct timespec pause = { 0, 200 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    return snprintf(buf, max, ": waiting\n\n");
}

/* GET /v1/jobs/{id}/events */
static int jobs_events(cl_req *r, json_t **out)
{
    const char *accept = cl_req_header(r, "Accept");

    if (accept != NULL && strstr(accept, "text/event-stream") != NULL) {
        const char *last = cl_req_header(r, "Last-Event-ID");
        sse *s = cl_arena_alloc(cl_req_arena(r), sizeof(*s));
        PGresult *res;
        cl_pg *db;
        int rc;

        (void)out;
        if (s == NULL)
            return cl_req_fail(r, CL_ERROR, "out of memory");
        if ((rc = cl_req_db(r, &db)) < 0 || (rc = load(r, db, &res)) < 0)
            return rc;
        s->d = cl_req_daemon(r);
        snprintf(s->job, sizeof(s->job), "%s", cl_req_param(r, "id"));
        snprintf(s->account, sizeof(s->account), "%s", cl_req_principal(r)->account_id);
        if (last != NULL) {
            char *end;
            s->last_seq = strtoll(last, &end, 10);
            if (*end != '\0' || s->last_seq < 0)
                return cl_req_fail(r, CL_EMALFORMED, "Last-Event-ID must be an event's id");
        }
        cl_req_set_header(r, "Cache-Control", "no-store");
        cl_req_set_header(r, "X-Accel-Buffering", "no");
        return cl_req_stream(r, "text/event-stream; charset=utf-8", sse_next, s);
    }
    return jobs_events_page(r, out);
}

/* GET /v1/jobs/{id}/events, a page at a time */
static int jobs_events_page(cl_req *r, json_t **out)
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

#define NOOP_MS_MAX 60000
#define NOOP_FAILS_MAX 4

/* POST /v1/jobs */
static int jobs_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "kind", "ms", "fail_times", NULL };
    static const char *const kinds[] = { "noop", NULL };
    json_t *body = cl_req_body(r), *ms = json_object_get(body, "ms");
    json_t *fails = json_object_get(body, "fail_times"), *job = NULL;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    cl_body_enum(r, "kind", 1, kinds);
    if (ms != NULL && (!json_is_integer(ms) || json_integer_value(ms) < 0 ||
                       json_integer_value(ms) > NOOP_MS_MAX))
        cl_error_field(cl_req_err(r), "ms", "must be milliseconds from 0 to %d", NOOP_MS_MAX);
    if (fails != NULL && (!json_is_integer(fails) || json_integer_value(fails) < 0 ||
                          json_integer_value(fails) > NOOP_FAILS_MAX))
        cl_error_field(cl_req_err(r), "fail_times", "must be from 0 to %d", NOOP_FAILS_MAX);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    json_t *params = json_pack("{s:I, s:I}", "ms", ms ? json_integer_value(ms) : 0,
                               "fail_times", fails ? json_integer_value(fails) : 0);
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_job_enqueue(r, db, "noop", NULL, params, NOOP_FAILS_MAX + 1, &job)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0) {
        json_decref(job);
        return rc;
    }
    return cl_job_accepted(r, job, out);
}

/* GET /v1/workers: the workers are the instance's, shared by every
 * account; the jobs each runs are counted for the caller's account only. */
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
            "           AND j.state = 'running' AND j.account_id = $1)::int AS running"
            "  FROM workers w WHERE w.heartbeat_at > now() - interval '1 day'"
            " ORDER BY w.started_at DESC LIMIT 500", 1,
            (const char *[]){ cl_req_principal(r)->account_id })) < 0)
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
    { "POST", "/v1/jobs",             jobs_create,  CL_ROLE_WRITE | CL_JSON_BODY | CL_IDEMPOTENT },
    { "POST", "/v1/jobs/{id}/cancel", jobs_cancel,  CL_ROLE_WRITE },
    { "GET",  "/v1/workers",          workers_list, CL_ROLE_READ },
    { NULL, NULL, NULL, 0 },
};
