/*
 * deployments.c - /v1/deployments: an approved build of an app running on
 * a cluster.  Every change is a `deploy` job (workers/deploy/deploy.c),
 * which applies the objects (server-side, one field manager) and follows
 * the rollout to its end; removing a deployment is an `undeploy` job,
 * which deletes what Cloister applied and nothing else.
 *
 *   POST /v1/deployments                {app_id, build_id, cluster_id,
 *                                         namespace, name?, replicas?, ports?,
 *                                         progress_deadline?}
 *   POST /v1/deployments/{id}/scale     {replicas}
 *   POST /v1/deployments/{id}/update    {build_id}: another approved build
 *   POST /v1/deployments/{id}/rollback  the build it ran before
 *   DELETE /v1/deployments/{id}
 *
 * Each answers 202 with the job.  Only approved builds of the app deploy;
 * a deployment whose build was deprecated since says so
 * (build_deprecated).  A deployment's state is deploying, available or
 * failed (with the rollout's last words in status), deleting, deleted.
 */
#include "daemon.h"
#include "jobs.h"
#include "resource.h"
#include "token.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPLOYMENT_COLUMNS \
    "d.id, d.app_id, d.build_id, d.previous_build_id, d.cluster_id, d.name, d.namespace," \
    " d.replicas, d.ports, d.progress_deadline, d.state, d.status, d.job_id, d.created_by," \
    " d.created_at," \
    " d.updated_at, b.state = 'deprecated' AS build_deprecated"
#define DEPLOYMENT_SELECT \
    "SELECT " DEPLOYMENT_COLUMNS ", d.version AS _version FROM deployments d" \
    " JOIN builds b ON b.id = d.build_id"

static void replicas_rule(cl_req *r, json_t *v)
{
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                      json_integer_value(v) > 100))
        cl_error_field(cl_req_err(r), "replicas", "must be from 0 to 100");
}

/* An approved build of the app, in the caller's account; a field error
 * naming its state otherwise. */
static int approved_build(cl_req *r, cl_pg *db, const char *app, const char *build)
{
    PGresult *res;
    int rc;

    if (!cl_uuid_valid(build))
        return cl_error_field(cl_req_err(r), "build_id", "must be a build's id");
    const char *params[3] = { build, app, cl_req_principal(r)->account_id };
    if ((rc = cl_req_exec(r, db, &res, "SELECT state FROM builds WHERE id = $1 AND"
                          " app_id = $2 AND account_id = $3", 3, params)) < 0)
        return rc;
    if (PQntuples(res) == 0)
        return cl_error_field(cl_req_err(r), "build_id", "is not a build of the app");
    if (strcmp(PQgetvalue(res, 0, 0), "approved") != 0)
        return cl_error_field(cl_req_err(r), "build_id", "is %s; only an approved build "
                              "deploys", PQgetvalue(res, 0, 0));
    return 0;
}

/* Queue the deployment's job (deploy or undeploy) and answer 202 with it. */
static int queue(cl_req *r, cl_pg *db, const char *id, const char *kind, const char *action,
                 json_t *details, json_t **out)
{
    json_t *job;
    int rc;

    if ((rc = cl_job_enqueue(r, db, kind, cl_arena_printf(cl_req_arena(r), "deployment:%s",
                                                          id),
                             json_pack("{s:s}", "deployment_id", id), 5, &job)) < 0)
        return rc;
    const char *params[2] = { id, json_string_value(json_object_get(job, "id")) };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE deployments SET job_id = $2, updated_at = now(),"
                          " version = version + 1 WHERE id = $1", 2, params)) < 0 ||
        (rc = cl_audit(r, db, cl_req_principal(r)->account_id, action,
                       cl_arena_printf(cl_req_arena(r), "deployment:%s", id), details)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0) {
        json_decref(job);
        return rc;
    }
    json_object_set_new(job, "deployment_id", json_string(id));
    return cl_job_accepted(r, job, out);
}

/* POST /v1/deployments */
static int deployments_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "app_id", "build_id", "cluster_id", "namespace",
                                          "name", "replicas", "ports", "progress_deadline",
                                          NULL };
    const cl_principal *p = cl_req_principal(r);
    json_t *body = cl_req_body(r), *ports = json_object_get(body, "ports"), *port;
    json_t *deadline = json_object_get(body, "progress_deadline");
    const char *app, *build, *cluster, *ns, *name;
    char replicas[16], seconds[16], *ports_text;
    PGresult *res, *app_row;
    size_t i;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    app = cl_body_string(r, "app_id", 1, 36);
    build = cl_body_string(r, "build_id", 1, 36);
    cluster = cl_body_string(r, "cluster_id", 1, 36);
    ns = cl_body_string(r, "namespace", 1, 63);
    name = cl_body_string(r, "name", 0, 63);
    replicas_rule(r, json_object_get(body, "replicas"));
    if (ns != NULL && !cl_dns_label(ns, strlen(ns)))
        cl_error_field(cl_req_err(r), "namespace", "must be a DNS label");
    if (name != NULL && !cl_dns_label(name, strlen(name)))
        cl_error_field(cl_req_err(r), "name", "must be a DNS label");
    if (deadline != NULL && (!json_is_integer(deadline) || json_integer_value(deadline) < 60 ||
                             json_integer_value(deadline) > 86400))
        cl_error_field(cl_req_err(r), "progress_deadline", "must be from 60 to 86400 seconds");
    if (ports != NULL && (!json_is_array(ports) || json_array_size(ports) > 16))
        cl_error_field(cl_req_err(r), "ports", "must be at most 16 ports");
    json_array_foreach(ports, i, port) {
        json_t *n = json_object_get(port, "port");
        if (!json_is_object(port) || json_object_size(port) != 1 || !json_is_integer(n) ||
            json_integer_value(n) < 1 || json_integer_value(n) > 65535)
            cl_error_field(cl_req_err(r), "ports", "each must be {\"port\": 1..65535}");
    }
    if ((rc = cl_body_done(r)) < 0 || (rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load_id(r, db, &app_row, "app", "SELECT a.id, a.name FROM apps a", "a",
                             "FOR SHARE", app)) < 0 ||
        (rc = cl_req_load_id(r, db, &res, "cluster", "SELECT c.id FROM clusters c", "c",
                             "FOR SHARE", cluster)) < 0)
        return rc;
    if ((rc = approved_build(r, db, app, build)) < 0 || (rc = cl_body_done(r)) < 0)
        return rc;
    snprintf(replicas, sizeof(replicas), "%lld", json_object_get(body, "replicas")
             ? (long long)json_integer_value(json_object_get(body, "replicas")) : 1LL);
    snprintf(seconds, sizeof(seconds), "%lld",
             deadline ? (long long)json_integer_value(deadline) : 600LL);
    ports_text = json_dumps(ports ? ports : json_array(), JSON_COMPACT);
    cl_arena_defer(cl_req_arena(r), free, ports_text);
    const char *params[10] = { p->account_id, app, build, cluster,
                               name ? name : cl_row_text(app_row, 0, "name"), ns, replicas,
                               ports_text, p->actor, seconds };
    rc = cl_req_exec(r, db, &res,
        "INSERT INTO deployments (account_id, app_id, build_id, cluster_id, name, namespace,"
        "  replicas, ports, state, created_by, progress_deadline)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::int, $8::jsonb, 'deploying', $9, $10::int)"
        " RETURNING id", 10, params);
    if (rc == CL_ECONFLICT) {
        cl_error_clear(cl_req_err(r));
        cl_error_field(cl_req_err(r), "name", "a deployment of that name is in that namespace "
                       "of the cluster already");
        return CL_EINVALID;
    }
    if (rc < 0)
        return rc;
    const char *id = cl_arena_strdup(cl_req_arena(r), PQgetvalue(res, 0, 0));
    return queue(r, db, id, "deploy", "deployment.create",
                 json_pack("{s:s, s:s, s:s, s:s}", "app_id", app, "build_id", build,
                           "cluster_id", cluster, "namespace", ns), out);
}

/* GET /v1/deployments */
static int deployments_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT " DEPLOYMENT_COLUMNS ", cl_time(d.created_at) || '|' || d.id AS _cursor"
            "  FROM deployments d JOIN builds b ON b.id = d.build_id WHERE d.account_id = $1"
            "   AND d.state <> 'deleted'"
            "   AND ($2::text IS NULL OR (d.created_at, d.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY d.created_at, d.id LIMIT $3");
}

/* GET /v1/deployments/{id} */
static int deployments_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "deployment", DEPLOYMENT_SELECT, "d", "")) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* The deployment of the path, locked, and not on its way out. */
static int load_live(cl_req *r, cl_pg **db, PGresult **res)
{
    int rc;

    if ((rc = cl_req_begin(r, db)) < 0 ||
        (rc = cl_req_load(r, *db, res, "deployment", DEPLOYMENT_SELECT, "d",
                          "FOR UPDATE OF d")) < 0)
        return rc;
    const char *state = cl_row_text(*res, 0, "state");
    if (strcmp(state, "deleting") == 0 || strcmp(state, "deleted") == 0)
        return cl_req_fail(r, CL_ECONFLICT, "deployment \"%s\" is %s", cl_req_param(r, "id"),
                           state);
    return 0;
}

/* POST /v1/deployments/{id}/scale {"replicas"} */
static int deployments_scale(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "replicas", NULL };
    json_t *n = json_object_get(cl_req_body(r), "replicas");
    const char *id = cl_req_param(r, "id");
    PGresult *res;
    char text[16];
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    if (n == NULL)
        cl_error_field(cl_req_err(r), "replicas", "is required");
    replicas_rule(r, n);
    if ((rc = cl_body_done(r)) < 0 || (rc = load_live(r, &db, &res)) < 0)
        return rc;
    snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(n));
    const char *params[2] = { id, text };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE deployments SET replicas = $2::int,"
                          " state = 'deploying' WHERE id = $1", 2, params)) < 0)
        return rc;
    return queue(r, db, id, "deploy", "deployment.scale",
                 json_pack("{s:s, s:s}", "from", cl_row_text(res, 0, "replicas"), "to", text),
                 out);
}

/* Run another build: update (a given approved build) or rollback (the
 * previous one). */
static int change_build(cl_req *r, json_t **out, const char *build, const char *action)
{
    const char *id = cl_req_param(r, "id");
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = load_live(r, &db, &res)) < 0)
        return rc;
    if (build == NULL && (build = cl_row_text(res, 0, "previous_build_id")) == NULL)
        return cl_req_fail(r, CL_ECONFLICT, "deployment \"%s\" has run no other build to roll "
                           "back to", id);
    build = cl_arena_strdup(cl_req_arena(r), build);
    const char *current = cl_arena_strdup(cl_req_arena(r), cl_row_text(res, 0, "build_id"));
    if ((rc = approved_build(r, db, cl_row_text(res, 0, "app_id"), build)) < 0 ||
        (rc = cl_body_done(r)) < 0)
        return rc;
    if (strcmp(build, current) == 0)
        return cl_req_fail(r, CL_ECONFLICT, "deployment \"%s\" runs build %s already", id,
                           build);
    const char *params[3] = { id, build, current };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE deployments SET build_id = $2,"
                          " previous_build_id = $3, state = 'deploying' WHERE id = $1", 3,
                          params)) < 0)
        return rc;
    return queue(r, db, id, "deploy", action,
                 json_pack("{s:s, s:s}", "from_build", current, "to_build", build), out);
}

/* POST /v1/deployments/{id}/update {"build_id"} */
static int deployments_update(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "build_id", NULL };

    cl_body_only(r, fields);
    const char *build = cl_body_string(r, "build_id", 1, 36);
    if (cl_body_done(r) < 0)
        return CL_EINVALID;
    return change_build(r, out, build, "deployment.update");
}

/* POST /v1/deployments/{id}/rollback */
static int deployments_rollback(cl_req *r, json_t **out)
{
    return change_build(r, out, NULL, "deployment.rollback");
}

/* DELETE /v1/deployments/{id} */
static int deployments_delete(cl_req *r, json_t **out)
{
    const char *id = cl_req_param(r, "id");
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = load_live(r, &db, &res)) < 0)
        return rc;
    const char *params[1] = { id };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE deployments SET state = 'deleting'"
                          " WHERE id = $1", 1, params)) < 0)
        return rc;
    return queue(r, db, id, "undeploy", "deployment.delete",
                 json_pack("{s:s}", "name", cl_row_text(res, 0, "name")), out);
}

const cl_route cl_deployments_routes[] = {
    { "GET",    "/v1/deployments",                deployments_list,     CL_ROLE_READ },
    { "POST",   "/v1/deployments",                deployments_create,
      CL_ROLE_WRITE | CL_JSON_BODY | CL_IDEMPOTENT },
    { "GET",    "/v1/deployments/{id}",           deployments_get,      CL_ROLE_READ },
    { "DELETE", "/v1/deployments/{id}",           deployments_delete,   CL_ROLE_WRITE },
    { "POST",   "/v1/deployments/{id}/scale",     deployments_scale,
      CL_ROLE_WRITE | CL_JSON_BODY },
    { "POST",   "/v1/deployments/{id}/update",    deployments_update,
      CL_ROLE_WRITE | CL_JSON_BODY },
    { "POST",   "/v1/deployments/{id}/rollback",  deployments_rollback, CL_ROLE_WRITE },
    { NULL, NULL, NULL, 0 },
};
