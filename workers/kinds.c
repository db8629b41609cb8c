/*
 * kinds.c - the job kinds this worker knows, one row each: the code, how
 * often to try, how long an attempt may take, how long to wait between.
 *
 * `noop` is the queue's own diagnostic: it does nothing but what its
 * parameters ask (wait, report progress, fail for its first attempts, or
 * crash), which is how the queue's guarantees are tested and benchmarked on
 * a live installation without touching any real resource.
 */
#include "oci.h"
#include "oci_ref.h"
#include "seal.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int noop(cl_job *j, json_t **result, cl_error *err)
{
    json_t *p = cl_job_params(j);
    json_int_t ms = json_integer_value(json_object_get(p, "ms"));
    json_int_t fail_times = json_integer_value(json_object_get(p, "fail_times"));

    if (json_is_true(json_object_get(p, "crash")))
        abort();
    if (json_is_true(json_object_get(p, "progress")))
        cl_job_phase(j, "waiting");
    for (json_int_t waited = 0; waited < ms; waited += 10) {
        struct timespec ten = { 0, 10 * 1000 * 1000 };

        nanosleep(&ten, NULL);
        if (json_is_true(json_object_get(p, "progress")) && ms > 0)
            cl_job_progress(j, (int)(waited * 100 / ms));
    }
    if (cl_job_attempt(j) <= fail_times)
        return cl_error_set(err, CL_ERROR, "failing attempt %d of the first %lld on purpose",
                            cl_job_attempt(j), (long long)fail_times);
    if (json_is_true(json_object_get(p, "progress")))
        cl_job_log(j, "waited %lld ms", (long long)ms);
    *result = json_pack("{s:i}", "attempt", cl_job_attempt(j));
    return 0;
}

int cl_job_db(PGconn **out, cl_error *err)
{
    return cl_pg_connect(out, cl_worker.database_url, "cloister-worker-job", err);
}

/* Whether host is one of the comma-separated hosts in list. */
static int listed(const char *list, const char *host)
{
    size_t n = strlen(host);

    for (const char *p = list; p != NULL && *p != '\0'; p = strchr(p, ',') ? strchr(p, ',') + 1
                                                                          : NULL)
        if (strncmp(p, host, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static int registry_client(cl_job *j, const char *id, const char *host, cl_oci_client *client,
                           char host_out[256], cl_error *err)
{
    char *password = NULL, aad[64];
    size_t len = 0;
    PGconn *conn = NULL;
    PGresult *res = NULL;
    int rc;

    if ((rc = cl_job_db(&conn, err)) < 0)
        return rc;
    if (id == NULL) {
        /* no registry named: one of the account's for this host, or none */
        const char *by_host[2] = { host, cl_job_account(j) };
        res = PQexecParams(conn, "SELECT host, tls, username, password_sealed, id FROM "
                           "registries WHERE host = $1 AND account_id = $2 ORDER BY created_at "
                           "LIMIT 1", 2, NULL, by_host, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0) {
            PQclear(res);
            PQfinish(conn);
            snprintf(host_out, 256, "%s", host);
            return cl_oci_client_init(client, strcmp(host, "docker.io") == 0
                                              ? "registry-1.docker.io" : host,
                                      !listed(cl_worker.insecure_registries, host), NULL, NULL,
                                      err);
        }
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            id = PQgetvalue(res, 0, 4);
    } else {
        const char *params[2] = { id, cl_job_account(j) };
        res = PQexecParams(conn, "SELECT host, tls, username, password_sealed FROM registries "
                           "WHERE id = $1 AND account_id = $2", 2, NULL, params, NULL, NULL, 0);
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = cl_error_set(err, CL_EUNAVAILABLE, "could not read the registry: %s",
                          PQerrorMessage(conn));
        goto done;
    }
    if (PQntuples(res) != 1) {
        rc = cl_error_set(err, CL_ENOTFOUND, "registry %s no longer exists", id);
        goto done;
    }
    if (!PQgetisnull(res, 0, 3)) {
        snprintf(aad, sizeof(aad), "registry:%s", id);
        if ((rc = cl_unseal(&password, &len, cl_worker.kek, PQgetvalue(res, 0, 3), aad, err)) < 0)
            goto done;
    }
    snprintf(host_out, 256, "%s", PQgetvalue(res, 0, 0));
    rc = cl_oci_client_init(client, PQgetvalue(res, 0, 0), strcmp(PQgetvalue(res, 0, 1), "t") == 0,
                            PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2), password, err);
done:
    if (password != NULL) {
        memset(password, 0, len);
        free(password);
    }
    PQclear(res);
    PQfinish(conn);
    return rc;
}

int cl_job_registry(cl_job *j, const char *id, const char *host, cl_oci_client *client,
                    char host_out[256], cl_error *err)
{
    int rc = registry_client(j, id, host, client, host_out, err);

    if (rc == 0)
        client->http.timeout_s = cl_worker.peer_timeout;
    return rc;
}

/* registry.check: can we reach the registry, and does it take our credentials? */
static int registry_check(cl_job *j, json_t **result, cl_error *err)
{
    const char *id = json_string_value(json_object_get(cl_job_params(j), "registry_id"));
    cl_oci_client client;
    char host[256];
    int rc;

    if (id == NULL)
        return cl_error_set(err, CL_EINVALID, "the job names no registry");
    if ((rc = cl_job_registry(j, id, NULL, &client, host, err)) < 0)
        return rc;
    cl_job_phase(j, "contacting the registry");
    cl_job_log(j, "GET %s/v2/", client.base);
    rc = cl_oci_ping(&client, result, err);
    cl_oci_client_free(&client);
    if (rc == 0)
        cl_job_log(j, "the registry answered; authentication: %s",
                   json_string_value(json_object_get(*result, "auth")));
    return rc;
}

/* The app's input_image resolved to digest (unless it changed meanwhile). */
static int record_digest(cl_job *j, const char *app, const char *reference, const char *digest,
                         cl_error *err)
{
    const char *params[5] = { app, cl_job_account(j), reference, digest, cl_job_id(j) };
    PGconn *conn;
    PGresult *res;
    int rc;

    if ((rc = cl_job_db(&conn, err)) < 0)
        return rc;
    res = PQexecParams(conn, "UPDATE apps SET input_digest = $4 WHERE id = $1 AND "
                       "account_id = $2 AND input_image = $3 AND input_inspect_job = $5",
                       5, NULL, params, NULL, NULL, 0);
    rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0
        : cl_error_set(err, CL_EUNAVAILABLE, "could not record the digest: %s",
                       PQerrorMessage(conn));
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* image.inspect: resolve a reference and read its image's config. */
static int image_inspect(cl_job *j, json_t **result, cl_error *err)
{
    json_t *p = cl_job_params(j);
    const char *reference = json_string_value(json_object_get(p, "reference"));
    const char *id = json_string_value(json_object_get(p, "registry_id"));
    cl_oci_client client;
    cl_oci_ref ref;
    char host[256];
    int rc;

    if (reference == NULL || cl_oci_ref_parse(&ref, reference, err) < 0)
        return cl_error_set(err, CL_EINVALID, "the job's image reference is malformed");
    if ((rc = cl_job_registry(j, id, ref.registry, &client, host, err)) < 0)
        return rc;
    if (id != NULL && strcmp(host, ref.registry) != 0) {
        cl_oci_client_free(&client);
        return cl_error_set(err, CL_EINVALID, "the reference names registry \"%s\", but the "
                            "registry given is \"%s\"", ref.registry, host);
    }
    cl_job_phase(j, "resolving the reference");
    cl_job_progress(j, 10);
    rc = cl_oci_inspect(&client, reference, result, err);
    cl_oci_client_free(&client);
    if (rc == 0) {
        const char *app = json_string_value(json_object_get(p, "app_id"));
        const char *digest = json_string_value(json_object_get(*result, "digest"));

        cl_job_progress(j, 100);
        cl_job_log(j, "%s is %s", reference, digest);
        if (app != NULL && (rc = record_digest(j, app, reference, digest, err)) < 0) {
            json_decref(*result);
            *result = NULL;
        }
    }
    return rc;
}

const cl_job_kind cl_job_kinds[] = {
    { "noop", noop, 3, 600, 100, 5000 },
    { "registry.check", registry_check, 3, 120, 2000, 30000 },
    { "image.inspect", image_inspect, 3, 300, 2000, 30000 },
    { "convert", cl_convert_run, 3, 3600, 5000, 60000 },
    { "cluster.check", cl_cluster_check, 3, 120, 2000, 30000 },
    /* a deploy follows its rollout until Kubernetes judges it (deploy.c) */
    { "deploy", cl_deploy_run, 5, 6 * 3600 + 600, 2000, 30000 },
    { "undeploy", cl_undeploy_run, 5, 300, 2000, 30000 },
    { NULL, NULL, 0, 0, 0, 0 },
};

const cl_job_kind *cl_job_kind_find(const char *name)
{
    for (const cl_job_kind *k = cl_job_kinds; k->name != NULL; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}
