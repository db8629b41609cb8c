/*
 * duty.c - periodic duties done by exactly one replica at a time.
 *
 * Every interval a thread of each daemon tries to take a PostgreSQL session
 * advisory lock, named after the duty, on a connection of its own.  The one
 * that holds it does the duty.  The lock stays with that connection, so the
 * same replica keeps the duty while it lives; when it dies its connection
 * closes, the lock is released, and another replica's next try takes it.
 */
#include "daemon.h"
#include "duty.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cl_duty {
    cl_daemon *d;
    char name[64], what[128];
    long long interval;
    cl_duty_fn fn;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    cl_pg db;                   /* holds the advisory lock while it has the duty */
    int has_duty;
};

/* Take the duty, or see that another replica has it. */
static int take_duty(cl_duty *t)
{
    char lock_name[96];
    const char *params[1] = { lock_name };
    PGresult *res;

    if (t->db.conn != NULL && PQstatus(t->db.conn) != CONNECTION_OK) {
        cl_pg_close(&t->db);
        t->has_duty = 0;
    }
    if (t->db.conn == NULL &&
        cl_pg_connect(&t->db.conn, t->d->cfg.database_url, "cloisterd-duty", NULL) < 0)
        return 0;
    if (t->has_duty)
        return 1;
    snprintf(lock_name, sizeof(lock_name), "cloister.%s", t->name);
    res = PQexecParams(t->db.conn, "SELECT pg_try_advisory_lock(hashtext($1))", 1, NULL,
                       params, NULL, NULL, 0);
    t->has_duty = PQresultStatus(res) == PGRES_TUPLES_OK &&
                  strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (t->has_duty)
        cl_log_info("this daemon %s", t->what);
    return t->has_duty;
}

static void *run(void *arg)
{
    cl_duty *t = arg;

    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        pthread_mutex_unlock(&t->lock);
        if (take_duty(t)) {
            cl_arena *a = cl_arena_new(16u << 20);

            if (a != NULL)
                t->fn(t->d, &t->db, a);
            cl_arena_free(a);
        }
        pthread_mutex_lock(&t->lock);

        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += t->interval;
        while (!t->stopping &&
               pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int cl_duty_start(cl_duty **out, cl_daemon *d, const char *name, const char *what,
                  long long interval, cl_duty_fn fn, cl_error *err)
{
    cl_duty *t;

    *out = NULL;
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    t->d = d;
    snprintf(t->name, sizeof(t->name), "%s", name);
    snprintf(t->what, sizeof(t->what), "%s", what);
    t->interval = interval;
    t->fn = fn;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return cl_error_set(err, CL_ERROR, "could not start the %s duty", name);
    }
    *out = t;
    return 0;
}

void cl_duty_stop(cl_duty *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    cl_pg_close(&t->db);                        /* and with it the duty's lock */
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
