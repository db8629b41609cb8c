/*
 * health.c - /healthz, /readyz and /metrics: what load balancers, probes and
 * Prometheus ask of a daemon.  All three are public and never touch the
 * request body.
 */
#include "daemon.h"
#include "metrics.h"

#include <stdio.h>
#include <string.h>

/* GET /healthz: the process is alive and serving. */
static int healthz(cl_req *r, json_t **out)
{
    (void)r;
    *out = json_pack("{s:s, s:s}", "status", "ok", "version", CL_VERSION);
    return 0;
}

/* GET /readyz: the database answers and has every migration applied. */
static int readyz(cl_req *r, json_t **out)
{
    cl_daemon *d = cl_req_daemon(r);
    cl_error *err = cl_req_err(r);
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) == 0)
        rc = cl_migrate_check(db->conn, &d->migrations, err);
    if (rc < 0) {
        const char *failed = rc == CL_EUNAVAILABLE ? "database" : "migrations";
        char why[CL_ERROR_MSG_MAX];

        snprintf(why, sizeof(why), "%s", err->message);
        cl_error_ext(err, "checks", json_pack("{s:s}", failed, why));
        return cl_error_set(err, CL_EUNAVAILABLE, "not ready: %s", why);
    }
    *out = json_pack("{s:s, s:{s:s, s:s}}", "status", "ready", "checks",
                     "database", "ok", "migrations", "ok");
    return 0;
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
static int metrics(cl_req *r, json_t **out)
{
    cl_daemon *d = cl_req_daemon(r);
    cl_buf b;
    char *text;
    size_t len;

    (void)out;
    cl_buf_init(&b, 4 * 1024 * 1024);
    if (cl_metrics_render(d->metrics, d->pool, &b) < 0)
        return cl_req_fail(r, CL_ERROR, "could not render metrics");
    text = cl_buf_take(&b, &len);
    if (text == NULL || cl_arena_defer(cl_req_arena(r), free, text) == NULL)
        return cl_req_fail(r, CL_ERROR, "out of memory");
    cl_req_send(r, "text/plain; version=0.0.4; charset=utf-8", text, len);
    return 0;
}

const cl_route cl_health_routes[] = {
    { "GET", "/healthz", healthz, CL_PUBLIC },
    { "GET", "/readyz",  readyz,  CL_PUBLIC },
    { "GET", "/metrics", metrics, CL_PUBLIC },
    { NULL, NULL, NULL, 0 },
};
