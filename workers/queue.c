/*
 * queue.c - the job queue, kept in PostgreSQL.
 *
 * How it works
 * ------------
 * A job is a row in `jobs`.  Whatever asks for work inserts the row in the
 * same transaction as the change that needs it (so there is never a change
 * without its job, nor a job for a change that was rolled back) and sends
 * NOTIFY cloister_jobs; idle workers LISTEN and wake at once, and also poll
 * every few seconds, so a lost notification only delays work.
 *
 * Claiming.  A worker takes the oldest ready job of the kinds it serves with
 * SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1 and, in the same statement,
 * marks it running, counts the attempt and takes a lease: lease_owner is the
 * worker, lease_expires_at a few tens of seconds ahead.  SKIP LOCKED lets any
 * number of workers claim concurrently without waiting on each other or
 * taking the same job.
 *
 * Leases.  While the job's child process runs, the worker renews the lease
 * with a heartbeat (a third of the lease).  If the worker dies (kill -9, a
 * lost machine), the lease runs out and any worker's reaper puts the job
 * back in the queue, the lost attempt counted and recorded as
 * "lease_expired", or fails it when no attempts are left.  Job handlers are
 * written to be idempotent, because an attempt may have done part of its
 * work before it was lost.
 *
 * Retries.  A failed attempt with attempts left is queued again (unless its
 * code said the failure is permanent, such as refused credentials) with
 * run_after = now + backoff: the kind's base delay doubled per attempt, with
 * up to half as much again of random jitter so that a crowd of failures
 * does not retry in step, capped at the kind's maximum.  Each attempt keeps
 * its outcome and error in `job_attempts`; the job's `error` is the last.
 *
 * Cancelling.  The API sets cancel_requested (or cancels a queued job at
 * once) and sends NOTIFY cloister_jobs, 'cancel'; workers heartbeat at once
 * on that payload, the heartbeat returns the flag, and the worker stops the
 * child: a cancel takes effect in milliseconds, or at the next regular
 * heartbeat if the notification is lost.
 *
 * Handing back.  A worker told to stop lets running jobs finish within a
 * grace period, then stops the children and returns their jobs to the queue
 * without spending the attempt: the job did not fail, the worker left.
 */
#include "worker.h"
#include "log.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHANNEL "cloister_jobs"

static int exec_q(cl_queue *q, PGresult **res, const char *sql, int n,
                  const char *const *params, cl_error *err)
{
    return cl_pg_exec(res, &q->db, NULL, sql, n, params, err);
}

int cl_queue_open(cl_queue *q, const char *conninfo, int lease_s, cl_error *err)
{
    unsigned char b[16];
    int rc;

    memset(q, 0, sizeof(*q));
    q->lease_s = lease_s;
    if (RAND_bytes(b, sizeof(b)) != 1)
        return cl_error_set(err, CL_ERROR, "could not make a worker id");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(q->worker_id, sizeof(q->worker_id),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    if ((rc = cl_pg_connect(&q->db.conn, conninfo, "cloister-worker", err)) < 0)
        return rc;
    return exec_q(q, NULL, "LISTEN " CHANNEL, 0, NULL, err);
}

void cl_queue_close(cl_queue *q)
{
    if (q->db.conn != NULL)
        PQfinish(q->db.conn);
    q->db.conn = NULL;
}

int cl_queue_register(cl_queue *q, const char *name, const char *const *kinds, int slots,
                      cl_error *err)
{
    char host[256] = "", pid[16], nslots[16], list[1024] = "{";

    gethostname(host, sizeof(host) - 1);
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    snprintf(nslots, sizeof(nslots), "%d", slots);
    for (size_t i = 0; kinds[i] != NULL; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"",
                 i ? "," : "", kinds[i]);
    snprintf(list + strlen(list), sizeof(list) - strlen(list), "}");
    const char *params[6] = { q->worker_id, name, host, pid, list, nslots };
    return exec_q(q, NULL,
        "INSERT INTO workers (id, name, hostname, pid, kinds, slots, state)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'running')"
        " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), state = 'running'",
        6, params, err);
}

int cl_queue_worker_state(cl_queue *q, const char *state, cl_error *err)
{
    const char *params[2] = { q->worker_id, state };

    return exec_q(q, NULL, "UPDATE workers SET state = $2, heartbeat_at = now() WHERE id = $1",
                  2, params, err);
}

void cl_claim_clear(cl_claim *c)
{
    json_decref(c->params);
    memset(c, 0, sizeof(*c));
}

/*
 * The claim, as common table expressions over three parameters: the kinds
 * (a text[] literal), the worker's id and the lease in seconds.  Used alone,
 * and after settling an attempt in the same statement, so that a busy worker
 * hands back one job and takes the next in one round trip.
 */
#define CLAIM_CTES(KINDS, WORKER, LEASE) \
    " next AS (" \
    "  SELECT id FROM jobs" \
    "   WHERE state = 'queued' AND run_after <= now() AND kind = ANY(" KINDS "::text[])" \
    "   ORDER BY run_after, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)," \
    " claimed AS (" \
    "  UPDATE jobs j SET state = 'running', attempts = j.attempts + 1," \
    "         lease_owner = " WORKER ", lease_expires_at = now() + make_interval(secs => " \
    LEASE ")," \
    "         started_at = coalesce(j.started_at, now())" \
    "    FROM next WHERE j.id = next.id" \
    "  RETURNING j.id, j.account_id, j.kind, j.attempts, j.max_attempts, j.params)," \
    " attempt AS (" \
    "  INSERT INTO job_attempts (job_id, attempt, worker_id)" \
    "  SELECT id, attempts, " WORKER " FROM claimed" \
    "  ON CONFLICT (job_id, attempt) DO UPDATE SET worker_id = EXCLUDED.worker_id," \
    "     started_at = now(), finished_at = NULL, outcome = NULL, error = NULL)" \
    "SELECT id, account_id, kind, attempts, max_attempts, params FROM claimed"

static void kinds_literal(char *list, size_t size, const char *const *kinds)
{
    snprintf(list, size, "{");
    for (size_t i = 0; kinds[i] != NULL; i++)
        snprintf(list + strlen(list), size - strlen(list), "%s\"%s\"", i ? "," : "", kinds[i]);
    snprintf(list + strlen(list), size - strlen(list), "}");
}

/* The claimed row of res, if there is one. */
static void read_claim(PGresult *res, cl_claim *out, int *found)
{
    *found = 0;
    memset(out, 0, sizeof(*out));
    if (PQntuples(res) != 1)
        return;
    snprintf(out->id, sizeof(out->id), "%s", PQgetvalue(res, 0, 0));
    snprintf(out->account, sizeof(out->account), "%s", PQgetvalue(res, 0, 1));
    snprintf(out->kind, sizeof(out->kind), "%s", PQgetvalue(res, 0, 2));
    out->attempt = (int)strtol(PQgetvalue(res, 0, 3), NULL, 10);
    out->max_attempts = (int)strtol(PQgetvalue(res, 0, 4), NULL, 10);
    out->params = json_loads(PQgetvalue(res, 0, 5), 0, NULL);
    if (out->params == NULL)
        out->params = json_object();
    *found = 1;
}

int cl_queue_claim(cl_queue *q, const char *const *kinds, cl_claim *out, int *found,
                   cl_error *err)
{
    char list[1024], lease[16];
    PGresult *res;
    int rc;

    *found = 0;
    kinds_literal(list, sizeof(list), kinds);
    snprintf(lease, sizeof(lease), "%d", q->lease_s);
    const char *params[3] = { list, q->worker_id, lease };
    if ((rc = exec_q(q, &res, "WITH" CLAIM_CTES("$1", "$2", "$3"), 3, params, err)) < 0)
        return rc;
    read_claim(res, out, found);
    PQclear(res);
    return 0;
}

int cl_queue_heartbeat(cl_queue *q, const char *const *ids, int n, int *cancel,
                       cl_error *err)
{
    char lease[16];
    PGresult *res;
    int rc;

    snprintf(lease, sizeof(lease), "%d", q->lease_s);
    const char *beat[1] = { q->worker_id };
    if ((rc = exec_q(q, NULL, "UPDATE workers SET heartbeat_at = now() WHERE id = $1", 1,
                     beat, err)) < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        const char *params[3] = { ids[i], q->worker_id, lease };

        cancel[i] = 0;
        if ((rc = exec_q(q, &res,
                "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3)"
                " WHERE id = $1 AND lease_owner = $2 AND state = 'running'"
                " RETURNING cancel_requested", 3, params, err)) < 0)
            return rc;
        /* a job whose lease we lost (reaped) is stopped like a canceled one */
        cancel[i] = PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
    }
    return 0;
}

int cl_queue_reap(cl_queue *q, cl_error *err)
{
    PGresult *res;
    int rc;

    if ((rc = exec_q(q, &res,
            "WITH lost AS ("
            "  SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < now()"
            "   FOR UPDATE SKIP LOCKED),"
            " back AS ("
            "  UPDATE jobs j SET"
            "    state = CASE WHEN j.cancel_requested THEN 'canceled'"
            "                 WHEN j.attempts >= j.max_attempts THEN 'failed'"
            "                 ELSE 'queued' END,"
            "    finished_at = CASE WHEN j.cancel_requested OR j.attempts >= j.max_attempts"
            "                       THEN now() END,"
            "    error = 'the worker running attempt ' || j.attempts || ' stopped answering "
            "(its lease expired)',"
            "    lease_owner = NULL, lease_expires_at = NULL"
            "   FROM lost WHERE j.id = lost.id RETURNING j.id, j.attempts)"
            "UPDATE job_attempts a SET finished_at = now(), outcome = 'lease_expired',"
            "       error = 'lease expired'"
            "  FROM back WHERE a.job_id = back.id AND a.attempt = back.attempts"
            " RETURNING a.job_id", 0, NULL, err)) < 0)
        return rc;
    if (PQntuples(res) > 0)
        cl_log_kv(CL_LOG_WARN, json_pack("{s:i}", "jobs", PQntuples(res)),
                  "returned jobs whose worker stopped answering to the queue");
    PQclear(res);
    return 0;
}

long cl_queue_backoff_ms(const cl_job_kind *kind, int next)
{
    long delay = kind->backoff_ms;
    unsigned char r[2];

    for (int i = 2; i < next && delay < kind->backoff_max_ms; i++)
        delay *= 2;
    if (delay > kind->backoff_max_ms)
        delay = kind->backoff_max_ms;
    if (RAND_bytes(r, sizeof(r)) == 1)      /* up to +50 % jitter */
        delay += (long)((double)delay * 0.5 * ((r[0] << 8 | r[1]) / 65535.0));
    return delay;
}

/* Settling an attempt, as common table expressions over $1..$8. */
#define SETTLE_CTES \
    " done AS (" \
    "  UPDATE jobs SET state = $3," \
    "    attempts = CASE WHEN $8 = 'handed_back' THEN attempts - 1 ELSE attempts END," \
    "    result = coalesce($4::jsonb, result)," \
    "    error = CASE WHEN $3 = 'succeeded' THEN NULL ELSE coalesce($5, error) END," \
    "    progress = CASE WHEN $3 = 'succeeded' THEN 100 ELSE progress END," \
    "    run_after = CASE WHEN $3 = 'queued' THEN now() + make_interval(secs => $7::double" \
    "                precision / 1000) ELSE run_after END," \
    "    finished_at = CASE WHEN $3 IN ('succeeded', 'failed', 'canceled') THEN now() END," \
    "    lease_owner = NULL, lease_expires_at = NULL" \
    "   WHERE id = $1 AND lease_owner = $2 RETURNING id)," \
    " settled AS (" \
    "  UPDATE job_attempts SET finished_at = now(), outcome = $8, error = $5" \
    "   WHERE job_id = $1 AND attempt = $6::int AND EXISTS (SELECT 1 FROM done))," \
    " event AS (" \
    "  INSERT INTO job_events (job_id, type, message)" \
    "  SELECT id, 'state', $3 || coalesce(': ' || $5, '') FROM done)"

int cl_queue_finish(cl_queue *q, const cl_claim *c, const cl_job_kind *kind,
                    cl_outcome outcome, json_t *result, const char *error, int permanent,
                    cl_error *err)
{
    return cl_queue_finish_claim(q, c, kind, outcome, result, error, permanent, NULL, NULL,
                                 NULL, err);
}

int cl_queue_finish_claim(cl_queue *q, const cl_claim *c, const cl_job_kind *kind,
                          cl_outcome outcome, json_t *result, const char *error, int permanent,
                          const char *const *kinds, cl_claim *next, int *found, cl_error *err)
{
    static const char *const names[] = { "succeeded", "failed", "canceled", "handed_back" };
    char attempt[16], delay[24], list[1024], lease[16];
    char *result_text = result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int retry = outcome == CL_OUTCOME_FAILED && !permanent && c->attempt < c->max_attempts;
    PGresult *res = NULL;
    int rc;

    if (found != NULL)
        *found = 0;
    snprintf(attempt, sizeof(attempt), "%d", c->attempt);
    snprintf(delay, sizeof(delay), "%ld", retry ? cl_queue_backoff_ms(kind, c->attempt + 1) : 0);
    const char *state = outcome == CL_OUTCOME_SUCCEEDED ? "succeeded"
                      : outcome == CL_OUTCOME_CANCELED ? "canceled"
                      : outcome == CL_OUTCOME_HANDED_BACK || retry ? "queued" : "failed";
    const char *params[10] = { c->id, q->worker_id, state, result_text, error, attempt, delay,
                               names[outcome], list, lease };
    if (kinds != NULL) {
        kinds_literal(list, sizeof(list), kinds);
        snprintf(lease, sizeof(lease), "%d", q->lease_s);
        rc = exec_q(q, &res, "WITH" SETTLE_CTES "," CLAIM_CTES("$9", "$2", "$10"), 10, params,
                    err);
        if (rc == 0)
            read_claim(res, next, found);
        PQclear(res);
    } else {
        rc = exec_q(q, NULL, "WITH" SETTLE_CTES " SELECT 1", 8, params, err);
    }
    free(result_text);
    if (rc == 0 && strcmp(state, "queued") == 0 && outcome != CL_OUTCOME_HANDED_BACK)
        cl_log_kv(CL_LOG_INFO, json_pack("{s:s, s:s, s:i, s:s}", "job", c->id, "kind", c->kind,
                  "attempt", c->attempt, "retry_in_ms", delay), "attempt failed; will retry");
    return rc;
}

int cl_queue_event(cl_queue *q, const char *job_id, const char *type, const char *message,
                   int progress, cl_error *err)
{
    char pct[16];
    const char *params[4] = { job_id, type, message, NULL };

    if (strcmp(type, "progress") == 0) {
        snprintf(pct, sizeof(pct), "%d", progress < 0 ? 0 : progress > 100 ? 100 : progress);
        params[3] = pct;
    }
    return exec_q(q, NULL,
        "WITH e AS (INSERT INTO job_events (job_id, type, message, progress)"
        "           VALUES ($1, $2, $3, $4::int) RETURNING job_id)"
        "UPDATE jobs SET progress = coalesce($4::int, progress),"
        "                phase = CASE WHEN $2 = 'phase' THEN $3 ELSE phase END"
        " WHERE id = $1 AND ($2 IN ('progress', 'phase'))",
        4, params, err);
}

int cl_queue_socket(cl_queue *q)
{
    return PQsocket(q->db.conn);
}

int cl_queue_notified(cl_queue *q)
{
    PGnotify *n;
    int cancel = 0;

    if (PQconsumeInput(q->db.conn) == 0)
        return -1;
    while ((n = PQnotifies(q->db.conn)) != NULL) {
        cancel |= strncmp(n->extra, "cancel", 6) == 0;
        PQfreemem(n);
    }
    return cancel;
}
