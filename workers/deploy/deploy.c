/*
 * deploy.c - the deploy and undeploy jobs.
 *
 * deploy: for AKS, keep the SGX add-on and node pool as described
 * (cluster.c, through Azure Resource Manager); reach the cluster, find the
 * EPC resource its SGX
 * nodes advertise, write the objects (manifests.c) for the deployment's
 * build and settings, apply them one by one (server-side, field manager
 * cloister, forcing), then follow the rollout to its end as `kubectl
 * rollout status` does (rollout.c): read the Deployment, then watch it from
 * that resourceVersion, and read it again when the watch ends or the
 * server says 410 Gone, until it is done, failed, or the job's time runs
 * out.  A failed or stalled rollout is explained from its pods and events
 * (an image that cannot be pulled, pods that cannot be scheduled, crashes).
 * Every step is recorded in the deployment's status, and the end in its
 * state.  Applying is idempotent, so a retried job (or one another worker
 * takes over) simply does it again.
 *
 * undeploy: delete the Service, the Deployment and the pull Secret this
 * deployment applied, found by name and checked by their
 * dev.cloister/deployment label; foreign objects, and the namespace, are
 * left as they are.
 */
#include "deploy.h"
#include "digest.h"
#include "oci_ref.h"
#include "runtime.h"
#include "seal.h"
#include "token.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A rollout is followed until Kubernetes says it is done or has made no
 * progress for the deployment's progress_deadline, as `kubectl rollout
 * status` follows it; a rollout that keeps progressing may take long (many
 * replicas of a large enclave), so this is only a backstop, within the
 * deploy kind's time limit (kinds.c). */
#define ROLLOUT_LIMIT_S (6 * 3600)
#define WATCH_S 20
#define LINE_MAX_BYTES (4u * 1024 * 1024)

#define DEPLOYMENT_ROW \
    "SELECT d.cluster_id, d.name, d.namespace, d.replicas, d.ports, d.app_id, d.build_id," \
    "  b.output_image, b.output_digest, b.mrenclave, b.enclave_size, c.kind, c.node_pool," \
    "  c.last_check->>'epc_resource', d.state, b.runtime, b.runtime_config, a.attestation," \
    "  b.origin, encode(b.sigstruct, 'hex'), d.progress_deadline" \
    " FROM deployments d JOIN builds b ON b.id = d.build_id" \
    " JOIN apps a ON a.id = d.app_id" \
    " JOIN clusters c ON c.id = d.cluster_id WHERE d.id = $1 AND d.account_id = $2"

static int exec(PGconn *db, const char *sql, int n, const char *const *params, PGresult **out,
                cl_error *err)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        cl_error_set(err, CL_EUNAVAILABLE, "the database: %s", PQerrorMessage(db));
        PQclear(res);
        return err->code;
    }
    if (out != NULL)
        *out = res;
    else
        PQclear(res);
    return 0;
}

/* The deployment's state and status (a JSON object), as the worker sees it. */
static void record(PGconn *db, cl_job *j, const char *id, const char *state, json_t *status)
{
    char *text = json_dumps(status, JSON_COMPACT);
    const char *params[4] = { id, cl_job_account(j), state, text ? text : "{}" };
    cl_error err = { 0 };

    if (exec(db, "UPDATE deployments SET state = coalesce($3, state), status = $4::jsonb,"
                 " updated_at = now() WHERE id = $1 AND account_id = $2", 4, params, NULL,
             &err) < 0)
        cl_job_log(j, "could not record the deployment's status: %s", err.message);
    free(text);
    cl_error_clear(&err);
}

/* repository@digest from "host/repository[:tag]" and the digest. */
static void pinned(char *out, size_t size, const char *image, const char *digest)
{
    const char *slash = strrchr(image, '/'), *colon = strrchr(image, ':');
    size_t n = colon != NULL && (slash == NULL || colon > slash) ? (size_t)(colon - image)
                                                                 : strlen(image);

    snprintf(out, size, "%.*s@%s", (int)n, image, digest);
}

/* The .dockerconfigjson for the image's registry when the account keeps
 * credentials for it (malloc'd), else NULL. */
static char *pull_config(PGconn *db, cl_job *j, const char *image, cl_error *err)
{
    cl_oci_ref ref;
    PGresult *res = NULL;
    char *password = NULL, aad[64], *out = NULL;
    size_t len = 0;

    if (cl_oci_ref_parse(&ref, image, err) < 0) {
        cl_error_clear(err);
        return NULL;
    }
    const char *params[2] = { ref.registry, cl_job_account(j) };
    if (exec(db, "SELECT id, username, password_sealed FROM registries WHERE host = $1"
                 " AND account_id = $2 AND username IS NOT NULL"
                 " AND password_sealed IS NOT NULL ORDER BY created_at LIMIT 1", 2, params,
             &res, err) < 0 || PQntuples(res) == 0)
        goto done;
    snprintf(aad, sizeof(aad), "registry:%s", PQgetvalue(res, 0, 0));
    if (cl_unseal(&password, &len, cl_worker.kek, PQgetvalue(res, 0, 2), aad, err) < 0)
        goto done;
    const char *user = PQgetvalue(res, 0, 1);
    size_t pair_len = strlen(user) + len + 2;
    char *pair = malloc(pair_len), *auth = malloc(((pair_len + 2) / 3) * 4 + 1);
    if (pair != NULL && auth != NULL) {
        snprintf(pair, pair_len, "%s:%s", user, password);
        cl_b64_encode(auth, (const unsigned char *)pair, strlen(pair));
        json_t *config = json_pack("{s:{s:{s:s, s:s, s:s}}}", "auths", ref.registry,
                                   "username", user, "password", password, "auth", auth);
        out = json_dumps(config, JSON_COMPACT);
        json_decref(config);
        OPENSSL_cleanse(pair, strlen(pair));
        OPENSSL_cleanse(auth, strlen(auth));
    }
    free(pair);
    free(auth);
done:
    if (password != NULL)
        OPENSSL_cleanse(password, len);
    free(password);
    PQclear(res);
    cl_error_clear(err);
    return out;
}

/* ---- following the rollout ----------------------------------------------------- */

typedef struct watch {
    cl_job *j;
    char line[65536];
    size_t len;
    int overflow;
    cl_rollout verdict;
    int gone;                   /* 410: read again */
    char message[512];
} watch;

static void judge_event(watch *w, const char *text, size_t len)
{
    json_t *ev = json_loadb(text, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");

    if (type != NULL && strcmp(type, "ERROR") == 0) {
        if (json_integer_value(json_object_get(obj, "code")) == 410)
            w->gone = 1;
    } else if (type != NULL && (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)) {
        w->verdict = cl_rollout_status(obj, w->message, sizeof(w->message));
        cl_job_log(w->j, "%s", w->message);
    }
    json_decref(ev);
}

static int on_watch(void *ctx, const char *data, size_t len)
{
    watch *w = ctx;

    for (size_t i = 0; i < len; i++) {
        if (data[i] != '\n') {
            if (w->len + 1 < sizeof(w->line))
                w->line[w->len++] = data[i];
            else
                w->overflow = 1;
            continue;
        }
        if (!w->overflow && w->len > 0)
            judge_event(w, w->line, w->len);
        w->len = 0;
        w->overflow = 0;
        if (w->gone || w->verdict != CL_ROLLOUT_WAITING)
            return 1;                   /* stop reading */
    }
    return 0;
}

/* Follow the Deployment ns/name until its rollout is done or failed, or
 * the time runs out; msg gets kubectl's words for where it stands. */
static cl_rollout follow(cl_job *j, cl_kube *k, const char *ns, const char *name,
                         char *msg, size_t size, cl_error *err)
{
    time_t deadline = time(NULL) + ROLLOUT_LIMIT_S;
    char path[1024], url[2048], *e_name = curl_easy_escape(NULL, name, 0);
    cl_rollout verdict = CL_ROLLOUT_WAITING;

    snprintf(msg, size, "Waiting for deployment spec update to be observed...");
    while (time(NULL) < deadline) {
        json_t *obj = NULL;

        snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments/%s", ns, name);
        if (cl_kube_get(k, path, &obj, err) < 0) {
            if (err->code != CL_EUNAVAILABLE)
                break;
            cl_job_log(j, "reading the deployment: %s; again", err->message);
            cl_error_clear(err);
            struct timespec pause = { 1, 0 };
            nanosleep(&pause, NULL);
            continue;
        }
        verdict = cl_rollout_status(obj, msg, size);
        const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
                                                           "resourceVersion"));
        snprintf(url, sizeof(url), "%s/apis/apps/v1/namespaces/%s/deployments?watch=1"
                 "&fieldSelector=metadata.name%%3D%s&resourceVersion=%s&timeoutSeconds=%d",
                 k->server, ns, e_name ? e_name : name, rv ? rv : "0", WATCH_S);
        json_decref(obj);
        if (verdict != CL_ROLLOUT_WAITING)
            break;
        cl_job_log(j, "%s", msg);
        watch w = { .j = j, .verdict = CL_ROLLOUT_WAITING };
        const char *headers[] = { "Accept: application/json", k->authz, NULL };
        long status = 0;
        cl_error werr = { 0 };
        cl_http_stream(&k->http, url, headers, on_watch, &w, &status, &werr);
        cl_error_clear(&werr);          /* a watch that ends is read again */
        if (w.verdict != CL_ROLLOUT_WAITING) {
            verdict = w.verdict;
            snprintf(msg, size, "%s", w.message);
            break;
        }
        if (w.gone)
            cl_job_log(j, "the watch expired (410 Gone); reading the deployment again");
    }
    curl_free(e_name);
    return verdict;
}

static const char *text_of(json_t *obj, const char *key, const char *fallback)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : fallback;
}

/* Why the pods do not come up: waiting reasons, scheduling, Warning events. */
static json_t *explain(cl_kube *k, const char *ns, const char *id)
{
    json_t *why = json_array(), *pods = NULL, *events = NULL, *pod, *v;
    char path[1024];
    cl_error err = { 0 };
    size_t i, n;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods?labelSelector="
             "dev.cloister%%2Fdeployment%%3D%s", ns, id);
    if (cl_kube_get(k, path, &pods, &err) == 0)
        json_array_foreach(json_object_get(pods, "items"), i, pod) {
            json_t *status = json_object_get(pod, "status");
            const char *pod_name = text_of(json_object_get(pod, "metadata"), "name", "?");
            json_array_foreach(json_object_get(status, "conditions"), n, v)
                if (strcmp(text_of(v, "type", ""), "PodScheduled") == 0 &&
                    strcmp(text_of(v, "status", ""), "False") == 0)
                    json_array_append_new(why, json_sprintf("pod %s cannot be scheduled: %s",
                                                            pod_name, text_of(v, "message",
                                                            "no reason given")));
            json_array_foreach(json_object_get(status, "containerStatuses"), n, v) {
                json_t *waiting = json_object_get(json_object_get(v, "state"), "waiting");
                const char *reason = json_string_value(json_object_get(waiting, "reason"));
                if (reason != NULL && strcmp(reason, "ContainerCreating") != 0)
                    json_array_append_new(why, json_sprintf("pod %s: %s: %s", pod_name, reason,
                                                            text_of(waiting, "message", "")));
            }
        }
    cl_error_clear(&err);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events?fieldSelector=type%%3DWarning",
             ns);
    if (cl_kube_get(k, path, &events, &err) == 0)
        json_array_foreach(json_object_get(events, "items"), i, v)
            if (json_array_size(why) < 20)
                json_array_append_new(why, json_sprintf("%s: %s", text_of(v, "reason", "Warning"),
                                                        text_of(v, "message", "")));
    cl_error_clear(&err);
    json_decref(pods);
    json_decref(events);
    return why;
}

/* ---- the jobs --------------------------------------------------------------------- */

/* The pool's selector and tolerations: AKS puts agentpool=<name> on a
 * pool's nodes; each taint key=value:effect is tolerated. */
static void pool_placement(json_t *pool, json_t **selector, json_t **tolerations)
{
    json_t *t;
    size_t i;

    *selector = NULL;
    *tolerations = json_array();
    if (!json_is_object(pool))
        return;
    *selector = json_pack("{s:s}", "agentpool", json_string_value(json_object_get(pool, "name")));
    json_array_foreach(json_object_get(pool, "taints"), i, t) {
        const char *s = json_string_value(t), *eq = strchr(s, '='), *colon = strrchr(s, ':');
        char key[256], value[256];
        if (eq == NULL || colon == NULL || colon < eq)
            continue;
        snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
        snprintf(value, sizeof(value), "%.*s", (int)(colon - eq - 1), eq + 1);
        json_array_append_new(*tolerations, json_pack("{s:s, s:s, s:s, s:s}", "key", key,
                                                      "operator", "Equal", "value", value,
                                                      "effect", colon + 1));
    }
}

int cl_deploy_run(cl_job *j, json_t **result, cl_error *err)
{
    const char *id = json_string_value(json_object_get(cl_job_params(j), "deployment_id"));
    const char *params[2] = { id, cl_job_account(j) };
    PGconn *db = NULL;
    PGresult *row = NULL;
    cl_kube kube = { 0 };
    json_t *facts = NULL, *objects = NULL, *selector = NULL, *tolerations = NULL;
    json_t *ports = NULL, *pool = NULL, *sgx = NULL, *config = NULL;
    char image[1024], msg[512], *pull = NULL;
    const char *resource = NULL;
    json_int_t nodes = 0;
    int rc;

    if (id == NULL)
        return cl_error_set(err, CL_EINVALID, "the job names no deployment");
    if ((rc = cl_job_db(&db, err)) < 0)
        return rc;
    if ((rc = exec(db, DEPLOYMENT_ROW, 2, params, &row, err)) < 0)
        goto done;
    if (PQntuples(row) != 1) {
        rc = cl_error_set(err, CL_ENOTFOUND, "the deployment %s is gone", id);
        goto done;
    }
    if (PQgetisnull(row, 0, 8)) {
        rc = cl_error_set(err, CL_EINVALID, "the build was never pushed");
        goto done;
    }
    const char *ns = PQgetvalue(row, 0, 2), *name = PQgetvalue(row, 0, 1);
    const cl_runtime *runtime = cl_runtime_find(PQgetvalue(row, 0, 15));
    if (runtime == NULL) {
        rc = cl_error_set(err, CL_EINVALID, "the build's runtime \"%s\" is not one this "
                          "worker knows", PQgetvalue(row, 0, 15));
        goto failed;
    }
    config = PQgetisnull(row, 0, 16) ? NULL : json_loads(PQgetvalue(row, 0, 16), 0, NULL);
    pinned(image, sizeof(image), PQgetvalue(row, 0, 7), PQgetvalue(row, 0, 8));
    if (strcmp(PQgetvalue(row, 0, 18), "registered") == 0) {
        uint8_t sig[CL_SIGSTRUCT_SIZE];
        cl_job_phase(j, "checking the image");
        if (cl_unhex(sig, sizeof(sig), PQgetvalue(row, 0, 19)) < 0) {
            rc = cl_error_set(err, CL_ERROR, "the build's SIGSTRUCT is not %d bytes",
                              CL_SIGSTRUCT_SIZE);
            goto failed;
        }
        if ((rc = cl_deploy_check_image(j, runtime, config, image, sig, err)) < 0)
            goto failed;
    }
    if ((rc = cl_cluster_prepare(j, db, PQgetvalue(row, 0, 0), err)) < 0)
        goto failed;
    cl_job_phase(j, "reaching the cluster");
    if ((rc = cl_cluster_open(j, db, PQgetvalue(row, 0, 0), &kube, &facts, err)) < 0)
        goto failed;
    if (!PQgetisnull(row, 0, 13))
        resource = PQgetvalue(row, 0, 13);
    else if ((rc = cl_cluster_sgx(&kube, &sgx, &resource, &nodes, err)) < 0)
        goto failed;
    if (resource == NULL) {
        rc = cl_error_set(err, CL_EINVALID, "no node of the cluster advertises SGX EPC "
                          "(sgx.intel.com/epc or kubernetes.azure.com/sgx_epc_mem_in_MiB)");
        goto failed;
    }
    ports = json_loads(PQgetvalue(row, 0, 4), 0, NULL);
    pool = PQgetisnull(row, 0, 12) ? NULL : json_loads(PQgetvalue(row, 0, 12), 0, NULL);
    pool_placement(pool, &selector, &tolerations);
    cl_deploy_spec spec = {
        .deployment_id = id, .name = name, .namespace = ns,
        .app_id = PQgetvalue(row, 0, 5), .build_id = PQgetvalue(row, 0, 6),
        .mrenclave = PQgetvalue(row, 0, 9), .image = image,
        .replicas = (int)strtol(PQgetvalue(row, 0, 3), NULL, 10),
        .progress_deadline = (int)strtol(PQgetvalue(row, 0, 20), NULL, 10),
        .ports = ports, .epc_resource = resource,
        .epc_bytes = strtoll(PQgetvalue(row, 0, 10), NULL, 10),
        .node_selector = selector, .tolerations = tolerations,
        .runtime = runtime, .runtime_config = config,
        .attested = strcmp(PQgetvalue(row, 0, 17), "cloister") == 0,
    };
    char pull_name[300];
    snprintf(pull_name, sizeof(pull_name), "%s-pull", name);
    if ((pull = pull_config(db, j, PQgetvalue(row, 0, 7), err)) != NULL) {
        spec.pull_secret = pull_name;
        spec.docker_config = pull;
    }
    objects = cl_deploy_objects(&spec);
    cl_job_phase(j, "applying");
    size_t i;
    json_t *obj;
    json_array_foreach(objects, i, obj) {
        json_t *kept = NULL;
        if ((rc = cl_kube_apply(&kube, obj, &kept, err)) < 0)
            goto failed;
        cl_job_log(j, "applied %s %s", json_string_value(json_object_get(obj, "kind")),
                   json_string_value(json_object_get(json_object_get(obj, "metadata"),
                                                     "name")));
        json_decref(kept);
        cl_job_progress(j, (int)(10 + 30 * (i + 1) / json_array_size(objects)));
    }
    record(db, j, id, NULL, json_pack("{s:s, s:s}", "phase", "rolling out", "image", image));
    cl_job_phase(j, "rolling out");
    cl_rollout verdict = follow(j, &kube, ns, name, msg, sizeof(msg), err);
    if (err->code) {
        rc = err->code;
        goto failed;
    }
    if (verdict == CL_ROLLOUT_DONE) {
        *result = json_pack("{s:s, s:s, s:s}", "message", msg, "image", image,
                            "epc_resource", resource);
        record(db, j, id, "available", json_pack("{s:s, s:s}", "message", msg, "image", image));
        cl_job_progress(j, 100);
        rc = 0;
        goto done;
    }
    json_t *why = explain(&kube, ns, id);
    char *reasons = json_dumps(why, JSON_COMPACT);
    rc = cl_error_set(err, CL_EINVALID, "%s%s%s", verdict == CL_ROLLOUT_FAILED ? msg
                      : "the rollout did not finish in time", json_array_size(why) ? ": " : "",
                      json_array_size(why) ? reasons : "");
    record(db, j, id, "failed", json_pack("{s:s, s:o}", "message", msg, "problems", why));
    free(reasons);
    goto done;
failed:
    record(db, j, id, err->code == CL_EUNAVAILABLE ? NULL : "failed",
           json_pack("{s:s}", "error", err->message));
done:
    if (pull != NULL)
        OPENSSL_cleanse(pull, strlen(pull));
    free(pull);
    json_decref(facts);
    json_decref(objects);
    json_decref(selector);
    json_decref(tolerations);
    json_decref(ports);
    json_decref(pool);
    json_decref(sgx);
    json_decref(config);
    cl_kube_close(&kube);
    PQclear(row);
    PQfinish(db);
    return rc;
}

int cl_undeploy_run(cl_job *j, json_t **result, cl_error *err)
{
    static const struct { const char *api, *kind; } kinds[] = {
        { "v1", "Service" }, { "apps/v1", "Deployment" }, { "v1", "Secret" },
    };
    const char *id = json_string_value(json_object_get(cl_job_params(j), "deployment_id"));
    const char *params[2] = { id, cl_job_account(j) };
    PGconn *db = NULL;
    PGresult *row = NULL;
    cl_kube kube = { 0 };
    json_t *facts = NULL, *deleted = json_array();
    char pull[300];
    int rc;

    if (id == NULL)
        return cl_error_set(err, CL_EINVALID, "the job names no deployment");
    if ((rc = cl_job_db(&db, err)) < 0)
        return rc;
    if ((rc = exec(db, DEPLOYMENT_ROW, 2, params, &row, err)) < 0)
        goto done;
    if (PQntuples(row) != 1) {
        rc = cl_error_set(err, CL_ENOTFOUND, "the deployment %s is gone", id);
        goto done;
    }
    const char *ns = PQgetvalue(row, 0, 2), *name = PQgetvalue(row, 0, 1);
    snprintf(pull, sizeof(pull), "%s-pull", name);
    if ((rc = cl_cluster_open(j, db, PQgetvalue(row, 0, 0), &kube, &facts, err)) < 0)
        goto done;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const char *obj_name = strcmp(kinds[i].kind, "Secret") == 0 ? pull : name;
        json_t *probe = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", kinds[i].api,
                                  "kind", kinds[i].kind, "metadata", "name", obj_name,
                                  "namespace", ns), *found = NULL;
        char path[1024];
        /* only what this deployment applied: its label says so */
        snprintf(path, sizeof(path), "%s/namespaces/%s/%ss/%s",
                 strchr(kinds[i].api, '/') ? "/apis/apps/v1" : "/api/v1", ns,
                 strcmp(kinds[i].kind, "Deployment") == 0 ? "deployment"
                 : strcmp(kinds[i].kind, "Service") == 0 ? "service" : "secret", obj_name);
        rc = cl_kube_get(&kube, path, &found, err);
        const char *owner = json_string_value(json_object_get(json_object_get(json_object_get(
            found, "metadata"), "labels"), "dev.cloister/deployment"));
        if (rc == CL_ENOTFOUND) {
            cl_error_clear(err);
            rc = 0;
        } else if (rc == 0 && owner != NULL && strcmp(owner, id) == 0) {
            rc = cl_kube_delete(&kube, probe, err);
            if (rc == 0)
                json_array_append_new(deleted, json_sprintf("%s %s", kinds[i].kind, obj_name));
        } else if (rc == 0) {
            cl_job_log(j, "%s %s/%s is not this deployment's; left as it is", kinds[i].kind,
                       ns, obj_name);
        }
        json_decref(found);
        json_decref(probe);
        if (rc < 0)
            goto done;
    }
    const char *state[1] = { id };
    if ((rc = exec(db, "UPDATE deployments SET state = 'deleted', updated_at = now()"
                       " WHERE id = $1", 1, state, NULL, err)) < 0)
        goto done;
    *result = json_pack("{s:O}", "deleted", deleted);
done:
    json_decref(deleted);
    json_decref(facts);
    cl_kube_close(&kube);
    PQclear(row);
    PQfinish(db);
    return rc;
}
