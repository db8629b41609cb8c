/*
 * pg.c - connection pool and query wrapper; see pg.h.
 *
 * Slots are an array guarded by one mutex; a condition variable wakes
 * borrowers waiting for a free slot.  Connecting happens outside the mutex
 * (it may take up to the connect timeout) with the slot already marked
 * borrowed, so a slow or failing connect never blocks other borrowers.
 * `retry_after` spaces out reconnect attempts while the server is away, so
 * that a flood of requests during an outage costs one failed connect per
 * second rather than one per request.  What a borrower is told is only that
 * the database is unreachable; the cause, which names hosts and socket
 * paths, is logged.
 */
#include "pg.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_TIMEOUT_S "3"
#define STMT_SLOTS 512          /* a power of two; statements per connection */
#define RECONNECT_SPACING_MS 1000

/*
 * The statements prepared on one connection: an open-addressing table keyed
 * by the SQL text (handlers pass string literals, so the set is small and
 * fixed).  When the table is full, further statements run unprepared.
 */
typedef struct stmt {
    char *sql;
    char name[16];
} stmt;

struct cl_pg_stmts {
    stmt slots[STMT_SLOTS];
    int count;
};

static void stmts_free(cl_pg_stmts *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < STMT_SLOTS; i++)
        free(t->slots[i].sql);
    free(t);
}

static unsigned long hash_text(const char *s)
{
    unsigned long h = 1469598103934665603UL;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211UL;
    return h;
}

/* The prepared statement's name for sql on c, preparing it if need be;
 * NULL when it cannot be prepared (run it unprepared then). */
static const char *prepared(cl_pg *c, const char *sql, int nparams)
{
    unsigned long i = hash_text(sql) & (STMT_SLOTS - 1);
    PGresult *res;
    stmt *e;

    if (c->stmts == NULL && (c->stmts = calloc(1, sizeof(*c->stmts))) == NULL)
        return NULL;
    for (;; i = (i + 1) & (STMT_SLOTS - 1)) {
        e = &c->stmts->slots[i];
        if (e->sql == NULL)
            break;
        if (strcmp(e->sql, sql) == 0)
            return e->name;
    }
    if (c->stmts->count >= STMT_SLOTS / 2 || (e->sql = strdup(sql)) == NULL)
        return NULL;
    snprintf(e->name, sizeof(e->name), "cl%d", c->stmts->count);
    res = PQprepare(c->conn, e->name, sql, nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        /* leave the error to the unprepared run, which reports it */
        PQclear(res);
        free(e->sql);
        e->sql = NULL;
        return NULL;
    }
    PQclear(res);
    c->stmts->count++;
    return e->name;
}

typedef struct slot {
    cl_pg handle;
    int busy;
} slot;

struct cl_pg_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *conninfo;
    char *application_name;
    int size;
    slot *slots;
    long long retry_after_ms;    /* monotonic ms before which we do not reconnect */
};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Server notices (NOTICE, WARNING) go to the log, not to stderr raw. */
static void on_notice(void *arg, const char *message)
{
    char msg[512];

    (void)arg;
    snprintf(msg, sizeof(msg), "%s", message);
    msg[strcspn(msg, "\n")] = '\0';
    cl_log_kv(CL_LOG_DEBUG, json_pack("{s:s}", "component", "postgresql"), "%s", msg);
}

int cl_pg_connect(PGconn **out, const char *conninfo,
                  const char *application_name, cl_error *err)
{
    const char *keys[] = { "dbname", "connect_timeout", "application_name",
                           "client_encoding", NULL };
    const char *values[] = { conninfo, CONNECT_TIMEOUT_S, application_name,
                             "UTF8", NULL };
    PGconn *conn = PQconnectdbParams(keys, values, 1);

    *out = NULL;
    if (conn == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(conn);
        return cl_error_set(err, CL_EUNAVAILABLE,
                            "could not connect to the database: %s", msg);
    }
    PQsetNoticeProcessor(conn, on_notice, NULL);

    /* times come back in UTC in the ISO style, which the JSON encoding of
     * rows (daemon/resource.c) relies on */
    PGresult *res = PQexec(conn, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'");
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        PQfinish(conn);
        return cl_error_set(err, CL_EUNAVAILABLE, "could not set up the database session");
    }
    *out = conn;
    return 0;
}

int cl_pg_pool_new(cl_pg_pool **out, const char *conninfo, int size,
                   const char *application_name, cl_error *err)
{
    cl_pg_pool *p = calloc(1, sizeof(*p));

    *out = NULL;
    if (p == NULL || size < 1)
        goto fail;
    p->slots = calloc((size_t)size, sizeof(*p->slots));
    p->conninfo = strdup(conninfo);
    p->application_name = strdup(application_name);
    if (p->slots == NULL || p->conninfo == NULL || p->application_name == NULL)
        goto fail;
    p->size = size;
    for (int i = 0; i < size; i++) {
        p->slots[i].handle.pool = p;
        p->slots[i].handle.slot = i;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    *out = p;
    return 0;
fail:
    if (p != NULL) {
        free(p->slots);
        free(p->conninfo);
        free(p->application_name);
        free(p);
    }
    return cl_error_set(err, CL_ERROR, "could not create a pool of %d connections", size);
}

void cl_pg_pool_free(cl_pg_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->size; i++) {
        if (p->slots[i].handle.conn != NULL)
            PQfinish(p->slots[i].handle.conn);
        stmts_free(p->slots[i].handle.stmts);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p->slots);
    free(p->conninfo);
    free(p->application_name);
    free(p);
}

/* Pick a free slot, preferring one with an open connection. */
static slot *pick(cl_pg_pool *p)
{
    slot *empty = NULL;

    for (int i = 0; i < p->size; i++) {
        slot *s = &p->slots[i];

        if (s->busy)
            continue;
        if (s->handle.conn != NULL)
            return s;
        if (empty == NULL)
            empty = s;
    }
    return empty;
}

int cl_pg_acquire(cl_pg **out, cl_pg_pool *p, int timeout_ms, cl_error *err)
{
    struct timespec deadline;
    slot *s;
    int rc;

    *out = NULL;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }

    pthread_mutex_lock(&p->lock);
    while ((s = pick(p)) == NULL) {
        if (pthread_cond_timedwait(&p->freed, &p->lock, &deadline) == ETIMEDOUT &&
            (s = pick(p)) == NULL) {
            pthread_mutex_unlock(&p->lock);
            return cl_error_set(err, CL_EUNAVAILABLE,
                                "no database connection became free within %d ms",
                                timeout_ms);
        }
    }
    s->busy = 1;
    if (s->handle.conn != NULL) {
        pthread_mutex_unlock(&p->lock);
        *out = &s->handle;
        return 0;
    }
    if (now_ms() < p->retry_after_ms) {
        s->busy = 0;
        rc = cl_error_set(err, CL_EUNAVAILABLE, "the database is unreachable");
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
        return rc;
    }
    pthread_mutex_unlock(&p->lock);

    cl_error cerr = { 0 };
    rc = cl_pg_connect(&s->handle.conn, p->conninfo, p->application_name, &cerr);

    pthread_mutex_lock(&p->lock);
    if (rc < 0) {
        s->busy = 0;
        p->retry_after_ms = now_ms() + RECONNECT_SPACING_MS;
        pthread_cond_signal(&p->freed);
    } else {
        p->retry_after_ms = 0;
    }
    pthread_mutex_unlock(&p->lock);

    if (rc < 0) {
        /* the cause (addresses, socket paths) goes to the log only */
        cl_log_warn("%s", cerr.message);
        cl_error_set(err, rc, "the database is unreachable");
        cl_error_clear(&cerr);
        return rc;
    }
    *out = &s->handle;
    return 0;
}

void cl_pg_release(cl_pg *c)
{
    cl_pg_pool *p;

    if (c == NULL)
        return;
    p = c->pool;
    if (c->conn != NULL) {
        PGTransactionStatusType ts = PQtransactionStatus(c->conn);

        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            PGresult *res = PQexec(c->conn, "ROLLBACK");
            PQclear(res);
            ts = PQtransactionStatus(c->conn);
        }
        if (PQstatus(c->conn) != CONNECTION_OK || ts != PQTRANS_IDLE) {
            PQfinish(c->conn);
            c->conn = NULL;
            stmts_free(c->stmts);   /* they died with the connection */
            c->stmts = NULL;
        }
    }
    pthread_mutex_lock(&p->lock);
    p->slots[c->slot].busy = 0;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

void cl_pg_pool_stats(cl_pg_pool *p, cl_pg_stats *out)
{
    pthread_mutex_lock(&p->lock);
    out->size = p->size;
    out->open = 0;
    out->in_use = 0;
    for (int i = 0; i < p->size; i++) {
        out->open += p->slots[i].handle.conn != NULL;
        out->in_use += p->slots[i].busy;
    }
    pthread_mutex_unlock(&p->lock);
}

/* SQLSTATE classes and codes that callers handle; the rest is CL_ERROR. */
static int map_sqlstate(const char *state)
{
    static const struct { const char *prefix; int code; } map[] = {
        { "23505", CL_ECONFLICT },    /* unique_violation */
        { "23503", CL_ECONFLICT },    /* foreign_key_violation */
        { "23P01", CL_ECONFLICT },    /* exclusion_violation */
        { "40001", CL_ERETRY },       /* serialization_failure */
        { "40P01", CL_ERETRY },       /* deadlock_detected */
        { "08",    CL_EUNAVAILABLE }, /* connection exceptions */
        { "57P0",  CL_EUNAVAILABLE }, /* admin/crash shutdown, cannot connect now */
        { "53",    CL_EUNAVAILABLE }, /* insufficient resources */
    };

    if (state == NULL)
        return CL_EUNAVAILABLE; /* no SQLSTATE: the connection itself failed */
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strncmp(state, map[i].prefix, strlen(map[i].prefix)) == 0)
            return map[i].code;
    return CL_ERROR;
}

int cl_pg_result_error(PGconn *conn, const PGresult *res, const char *sql,
                       cl_error *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    int code = map_sqlstate(state);
    char msg[256];

    snprintf(msg, sizeof(msg), "%s", primary ? primary : PQerrorMessage(conn));
    msg[strcspn(msg, "\n")] = '\0';
    if (PQstatus(conn) != CONNECTION_OK)
        code = CL_EUNAVAILABLE;

    cl_log_kv(code == CL_ECONFLICT || code == CL_ERETRY ? CL_LOG_DEBUG : CL_LOG_WARN,
              json_pack("{s:s, s:s, s:s}", "sql", sql, "sqlstate",
                        state ? state : "", "error", msg),
              "query failed");

    switch (code) {
    case CL_EUNAVAILABLE:
        return cl_error_set(err, code, "the database is unreachable");
    case CL_ECONFLICT:
        return cl_error_set(err, code, "the change conflicts with existing data");
    case CL_ERETRY:
        return cl_error_set(err, code, "the transaction must be retried");
    default:
        return cl_error_set(err, code, "a database query failed");
    }
}

int cl_pg_exec(PGresult **out, cl_pg *c, cl_arena *a, const char *sql,
               int nparams, const char *const *params, cl_error *err)
{
    PGresult *res;
    ExecStatusType st;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (c->conn == NULL)
        return cl_error_set(err, CL_EUNAVAILABLE, "the database is unavailable");
    const char *name = prepared(c, sql, nparams);
    if (name != NULL)
        res = PQexecPrepared(c->conn, name, nparams, params, NULL, NULL, 0);
    else
        res = PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        rc = cl_pg_result_error(c->conn, res, sql, err);
        PQclear(res);
        return rc;
    }
    if (a != NULL && cl_arena_defer(a, (cl_arena_dtor)PQclear, res) == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if (out != NULL)
        *out = res;
    else if (a == NULL)
        PQclear(res);
    return 0;
}

void cl_pg_close(cl_pg *c)
{
    stmts_free(c->stmts);
    c->stmts = NULL;
    PQfinish(c->conn);
    c->conn = NULL;
}
