/*
 * refresh.c - the daemon's background duty: keeping the SGX collateral it
 * holds fresh, on exactly one replica at a time.
 *
 * Every collateral-refresh-interval seconds a thread of each daemon tries
 * to take a PostgreSQL session advisory lock on a connection of its own.
 * The one that holds it refreshes: every document the daemons hold is
 * fetched again from the PCS, checked, and kept when it is newer
 * (api/collateral.c).  The lock stays with that connection, so the same
 * replica keeps the duty while it lives; when it dies its connection
 * closes, the lock is released, and another replica's next try takes it.
 */
#include "collateral.h"
#include "daemon.h"
#include "log.h"
#include "refresh.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DUTY_LOCK "hashtext('cloister.collateral.refresh')"

struct cl_refresher {
    cl_daemon *d;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    cl_pg db;                   /* holds the advisory lock while it has the duty */
    int has_duty;
};

/* Take the duty, or see that another replica has it. */
static int take_duty(cl_refresher *r)
{
    PGresult *res;

    if (r->db.conn != NULL && PQstatus(r->db.conn) != CONNECTION_OK) {
        cl_pg_close(&r->db);
        r->has_duty = 0;
    }
    if (r->db.conn == NULL &&
        cl_pg_connect(&r->db.conn, r->d->cfg.database_url, "cloisterd-refresh", NULL) < 0)
        return 0;
    if (r->has_duty)
        return 1;
    res = PQexec(r->db.conn, "SELECT pg_try_advisory_lock(" DUTY_LOCK ")");
    r->has_duty = PQresultStatus(res) == PGRES_TUPLES_OK &&
                  strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (r->has_duty)
        cl_log_info("this daemon keeps the SGX collateral fresh");
    return r->has_duty;
}

static void refresh(cl_refresher *r)
{
    cl_arena *a = cl_arena_new(16u << 20);
    cl_error err = { 0 };
    PGresult *res;
    int refreshed = 0, kept;

    if (a == NULL ||
        cl_pg_exec(&res, &r->db, a, "SELECT kind, key FROM collateral ORDER BY kind, key", 0,
                   NULL, &err) < 0) {
        cl_log_warn("could not list the collateral to refresh: %s", err.message);
        goto done;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *kind = PQgetvalue(res, i, 0), *key = PQgetvalue(res, i, 1);

        if (cl_pg_exec(NULL, &r->db, a, "BEGIN", 0, NULL, &err) < 0 ||
            cl_collateral_fetch(r->d, &r->db, a, kind, key, &kept, &err) < 0 ||
            cl_pg_exec(NULL, &r->db, a, "COMMIT", 0, NULL, &err) < 0) {
            cl_log_warn("could not refresh the %s%s%s: %s", kind, key[0] ? " of " : "", key,
                        err.message);
            PQclear(PQexec(r->db.conn, "ROLLBACK"));
            cl_error_clear(&err);
            continue;
        }
        refreshed += kept;
    }
    if (refreshed > 0)
        cl_log_info("refreshed %d SGX collateral document(s) from the PCS", refreshed);
done:
    cl_error_clear(&err);
    cl_arena_free(a);
}

static void *run(void *arg)
{
    cl_refresher *r = arg;

    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        pthread_mutex_unlock(&r->lock);
        if (take_duty(r))
            refresh(r);
        pthread_mutex_lock(&r->lock);

        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += r->d->cfg.collateral_refresh_interval;
        while (!r->stopping &&
               pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

int cl_refresh_start(cl_refresher **out, cl_daemon *d, cl_error *err)
{
    cl_refresher *r;

    *out = NULL;
    if (d->cfg.collateral_refresh_interval <= 0 || d->cfg.pcs_url == NULL ||
        d->cfg.pcs_url[0] == '\0')
        return 0;                               /* nothing to keep fresh from */
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    r->d = d;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        free(r);
        return cl_error_set(err, CL_ERROR, "could not start the collateral refresher");
    }
    *out = r;
    return 0;
}

void cl_refresh_stop(cl_refresher *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    cl_pg_close(&r->db);                        /* and with it the duty's lock */
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
