/*
 * cluster.c - the cluster.check job: can the worker reach the cluster with
 * the credentials it was given, which Kubernetes it runs, and which nodes
 * offer SGX (the EPC resource they advertise: sgx.intel.com/epc, in bytes,
 * from Intel's device plugin, or kubernetes.azure.com/sgx_epc_mem_in_MiB
 * from AKS's add-on).  The answer is kept as the cluster's last_check, a
 * failure too, with its reason.  An AKS cluster is reached through Azure
 * Resource Manager: its state and SGX add-on read, its user kubeconfig
 * fetched (listClusterUserCredential).
 */
#include "deploy.h"
#include "seal.h"
#include "token.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const epc_resources[] = {
    "sgx.intel.com/epc", "kubernetes.azure.com/sgx_epc_mem_in_MiB", NULL,
};

/* The cluster's row, in the job's account. */
static int load(PGconn *db, cl_job *j, const char *id, PGresult **res, cl_error *err)
{
    const char *params[2] = { id, cl_job_account(j) };

    *res = PQexecParams(db, "SELECT kind, name, context, kubeconfig_sealed, secret_sealed,"
                        " tenant_id, client_id, subscription_id, resource_group, cluster_name,"
                        " node_pool FROM clusters WHERE id = $1 AND account_id = $2",
                        2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*res) != PGRES_TUPLES_OK)
        return cl_error_set(err, CL_EUNAVAILABLE, "could not read the cluster: %s",
                            PQerrorMessage(db));
    if (PQntuples(*res) != 1)
        return cl_error_set(err, CL_ENOTFOUND, "the cluster %s is gone", id);
    return 0;
}

static char *unseal(PGresult *res, int col, const char *what, cl_job *j, cl_error *err)
{
    char aad[256], *out = NULL;
    size_t len;

    if (PQgetisnull(res, 0, col))
        return NULL;
    snprintf(aad, sizeof(aad), "cluster-%s:%s:%s", what, cl_job_account(j),
             PQgetvalue(res, 0, 1));
    if (cl_unseal(&out, &len, cl_worker.kek, PQgetvalue(res, 0, col), aad, err) < 0)
        return NULL;
    return out;
}

/* The SGX nodes of a node list: name, the EPC resource and its amount. */
static json_t *sgx_nodes(json_t *list, const char **resource)
{
    json_t *found = json_array(), *node;
    size_t i;

    *resource = NULL;
    json_array_foreach(json_object_get(list, "items"), i, node) {
        json_t *alloc = json_object_get(json_object_get(node, "status"), "allocatable");
        for (const char *const *r = epc_resources; *r != NULL; r++) {
            const char *amount = json_string_value(json_object_get(alloc, *r));
            if (amount == NULL || strcmp(amount, "0") == 0)
                continue;
            json_array_append_new(found, json_pack(
                "{s:s?, s:s, s:s}", "name", json_string_value(json_object_get(
                    json_object_get(node, "metadata"), "name")), "epc_resource", *r,
                "epc", amount));
            *resource = *r;
            break;
        }
    }
    return found;
}

static int record(PGconn *db, cl_job *j, const char *id, json_t *check, cl_error *err)
{
    char *text = json_dumps(check, JSON_COMPACT);
    const char *params[3] = { id, cl_job_account(j), text };
    PGresult *res = PQexecParams(db, "UPDATE clusters SET last_check = $3::jsonb,"
                                 " checked_at = now() WHERE id = $1 AND account_id = $2",
                                 3, NULL, params, NULL, NULL, 0);
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0
           : cl_error_set(err, CL_EUNAVAILABLE, "could not record the check: %s",
                          PQerrorMessage(db));

    PQclear(res);
    free(text);
    return rc;
}

#define ARM_SCOPE "https://management.azure.com/.default"

/* The service principal stored with the cluster, signed in for scope. */
static int sign_in(cl_job *j, PGresult *row, const char *secret, const char *scope,
                   cl_entra *e, cl_error *err)
{
    cl_job_phase(j, "signing in to Microsoft Entra ID");
    return cl_entra_open(e, PQgetvalue(row, 0, 5), PQgetvalue(row, 0, 6), secret, scope, err);
}

/* The user kubeconfig of an AKS cluster, from Azure Resource Manager
 * (listClusterUserCredential), with what ARM says of the cluster. */
static int aks_kubeconfig(cl_job *j, PGresult *row, const char *secret, char **config,
                          json_t **facts, cl_error *err)
{
    const char *sub = PQgetvalue(row, 0, 7), *group = PQgetvalue(row, 0, 8);
    const char *name = PQgetvalue(row, 0, 9);
    char path[1024];
    cl_entra arm;
    json_t *cluster = NULL, *creds = NULL;
    int rc;

    *config = NULL;
    if ((rc = sign_in(j, row, secret, ARM_SCOPE, &arm, err)) < 0)
        return rc;
    snprintf(path, sizeof(path), "/subscriptions/%s/resourceGroups/%s/providers/"
             "Microsoft.ContainerService/managedClusters/%s", sub, group, name);
    cl_job_phase(j, "reading the managed cluster");
    if ((rc = cl_arm_request(&arm, "GET", path, NULL, &cluster, err)) < 0)
        goto done;
    json_t *props = json_object_get(cluster, "properties");
    json_t *addon = json_object_get(json_object_get(props, "addonProfiles"),
                                    "ACCSGXDevicePlugin");
    *facts = json_pack("{s:s?, s:s?, s:b}", "provisioning_state",
                       json_string_value(json_object_get(props, "provisioningState")),
                       "aks_version", json_string_value(json_object_get(props,
                                                                         "kubernetesVersion")),
                       "sgx_addon", json_is_true(json_object_get(addon, "enabled")));
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/listClusterUserCredential");
    if ((rc = cl_arm_request(&arm, "POST", path, NULL, &creds, err)) < 0)
        goto done;
    const char *b64 = json_string_value(json_object_get(json_array_get(
        json_object_get(creds, "kubeconfigs"), 0), "value"));
    size_t cap = b64 ? strlen(b64) + 3 : 0, n = 0;
    if (b64 == NULL || (*config = malloc(cap + 1)) == NULL ||
        cl_b64_decode((unsigned char *)*config, cap, &n, b64) < 0) {
        free(*config);
        *config = NULL;
        rc = cl_error_set(err, CL_EINVALID, "Azure's listClusterUserCredential gave no "
                          "kubeconfig");
        goto done;
    }
    (*config)[n] = '\0';
done:
    json_decref(cluster);
    json_decref(creds);
    cl_entra_close(&arm);
    return rc;
}

/* ---- keeping an AKS cluster ready for enclaves ---------------------------------- */

#define LRO_LIMIT_S 1800

/* The add-on on, if it is not: the cluster as read, changed, put back
 * with its eTag, and the operation followed. */
static int ensure_addon(cl_job *j, cl_entra *arm, const char *path, cl_error *err)
{
    cl_arm_answer got, put = { 0 };
    int rc;

    if ((rc = cl_arm_call(arm, "GET", path, NULL, NULL, &got, err)) < 0)
        return rc;
    json_t *props = json_object_get(got.body, "properties");
    json_t *addons = json_object_get(props, "addonProfiles");
    json_t *sgx = json_object_get(addons, "ACCSGXDevicePlugin");
    if (json_is_true(json_object_get(sgx, "enabled"))) {
        cl_job_log(j, "the ACCSGXDevicePlugin add-on is on");
        cl_arm_answer_free(&got);
        return 0;
    }
    if (!json_is_object(addons))
        json_object_set_new(props, "addonProfiles", addons = json_object());
    json_object_set_new(addons, "ACCSGXDevicePlugin", json_pack(
        "{s:b, s:{s:s}}", "enabled", 1, "config", "ACCSGXQuoteHelperEnabled", "true"));
    const char *etag = json_string_value(json_object_get(got.body, "eTag"));
    cl_job_phase(j, "turning on the ACCSGXDevicePlugin add-on");
    rc = cl_arm_call(arm, "PUT", path, got.body, etag, &put, err);
    if (rc == 0)
        rc = cl_arm_wait(j, arm, &put, LRO_LIMIT_S, err);
    if (rc == 0)
        cl_job_log(j, "the ACCSGXDevicePlugin add-on is on now");
    cl_arm_answer_free(&got);
    cl_arm_answer_free(&put);
    return rc;
}

static int same_json(json_t *a, json_t *b)
{
    return json_equal(a ? a : json_null(), b ? b : json_null());
}

/* The node pool as described: created, or updated when its count, labels
 * or taints differ; a pool of another VM size is refused by name. */
static int ensure_pool(cl_job *j, cl_entra *arm, const char *cluster_path, json_t *pool,
                       cl_error *err)
{
    const char *name = json_string_value(json_object_get(pool, "name"));
    const char *vm = json_string_value(json_object_get(pool, "vm_size"));
    json_t *labels = json_object_get(pool, "labels"), *taints = json_object_get(pool, "taints");
    char path[1200];
    cl_arm_answer got, put = { 0 };
    int rc;

    snprintf(path, sizeof(path), "%s/agentPools/%s", cluster_path, name);
    rc = cl_arm_call(arm, "GET", path, NULL, NULL, &got, err);
    if (rc < 0 && rc != CL_ENOTFOUND)
        return rc;
    cl_error_clear(err);
    json_t *have = json_object_get(got.body, "properties");
    if (rc == 0) {
        const char *size = json_string_value(json_object_get(have, "vmSize"));
        if (size != NULL && strcmp(size, vm) != 0) {
            cl_arm_answer_free(&got);
            return cl_error_set(err, CL_EINVALID, "the cluster's node pool %s has VM size %s, "
                                "not %s; AKS cannot change a pool's size: name a new pool",
                                name, size, vm);
        }
        if (json_integer_value(json_object_get(have, "count")) ==
                json_integer_value(json_object_get(pool, "count")) &&
            same_json(json_object_get(have, "nodeLabels"), labels ? labels : json_object()) &&
            same_json(json_object_get(have, "nodeTaints"), taints ? taints : json_array())) {
            cl_job_log(j, "the node pool %s is as described", name);
            cl_arm_answer_free(&got);
            return 0;
        }
    }
    json_t *want = json_pack("{s:{s:s, s:O, s:s, s:s, s:O, s:O}}", "properties", "vmSize", vm,
                             "count", json_object_get(pool, "count"), "mode", "User", "osType",
                             "Linux", "nodeLabels", labels ? labels : json_object(),
                             "nodeTaints", taints ? taints : json_array());
    cl_job_phase(j, rc == 0 ? "updating the SGX node pool" : "creating the SGX node pool");
    rc = cl_arm_call(arm, "PUT", path, want, NULL, &put, err);
    if (rc == 0)
        rc = cl_arm_wait(j, arm, &put, LRO_LIMIT_S, err);
    if (rc == 0)
        cl_job_log(j, "the node pool %s has %lld %s nodes", name,
                   (long long)json_integer_value(json_object_get(pool, "count")), vm);
    json_decref(want);
    cl_arm_answer_free(&got);
    cl_arm_answer_free(&put);
    return rc;
}

int cl_cluster_prepare(cl_job *j, PGconn *db, const char *id, cl_error *err)
{
    PGresult *row = NULL;
    char *secret = NULL, path[1024];
    cl_entra arm = { 0 };
    json_t *pool = NULL;
    int rc;

    if ((rc = load(db, j, id, &row, err)) < 0)
        return rc;
    if (strcmp(PQgetvalue(row, 0, 0), "aks") != 0)
        goto done;
    if ((secret = unseal(row, 4, "secret", j, err)) == NULL) {
        rc = err->code ? err->code : cl_error_set(err, CL_EINVALID, "the AKS cluster has no "
                                                  "service principal");
        goto done;
    }
    if ((rc = sign_in(j, row, secret, ARM_SCOPE, &arm, err)) < 0)
        goto done;
    snprintf(path, sizeof(path), "/subscriptions/%s/resourceGroups/%s/providers/"
             "Microsoft.ContainerService/managedClusters/%s", PQgetvalue(row, 0, 7),
             PQgetvalue(row, 0, 8), PQgetvalue(row, 0, 9));
    if ((rc = ensure_addon(j, &arm, path, err)) < 0)
        goto done;
    pool = PQgetisnull(row, 0, 10) ? NULL : json_loads(PQgetvalue(row, 0, 10), 0, NULL);
    if (pool != NULL)
        rc = ensure_pool(j, &arm, path, pool, err);
done:
    json_decref(pool);
    cl_entra_close(&arm);
    if (secret != NULL)
        OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    PQclear(row);
    return rc;
}

/* ---- reaching the API server --------------------------------------------------- */

int cl_cluster_open(cl_job *j, PGconn *db, const char *id, cl_kube *kube, json_t **facts,
                    cl_error *err)
{
    char *config = NULL, *secret = NULL, scope[300];
    cl_entra *entra = NULL;
    cl_kubeconfig cfg = { 0 };
    PGresult *row = NULL;
    int aks, rc;

    *facts = NULL;
    memset(kube, 0, sizeof(*kube));
    if ((rc = load(db, j, id, &row, err)) < 0)
        return rc;
    aks = strcmp(PQgetvalue(row, 0, 0), "aks") == 0;
    const char *context = PQgetisnull(row, 0, 2) ? NULL : PQgetvalue(row, 0, 2);
    secret = unseal(row, 4, "secret", j, err);
    if (err->code) {
        rc = err->code;
        goto done;
    }
    if (aks) {
        if (secret == NULL) {
            rc = cl_error_set(err, CL_EINVALID, "the AKS cluster has no service principal");
            goto done;
        }
        if ((rc = aks_kubeconfig(j, row, secret, &config, facts, err)) < 0)
            goto done;
    } else if ((config = unseal(row, 3, "kubeconfig", j, err)) == NULL) {
        rc = err->code ? err->code : cl_error_set(err, CL_EINVALID, "the cluster has no "
                                                  "kubeconfig");
        goto done;
    }
    if ((rc = cl_kubeconfig_parse(&cfg, config, strlen(config), aks ? NULL : context,
                                  err)) < 0)
        goto done;
    if (cfg.kubelogin) {                /* Entra ID clusters: the worker signs in itself */
        if (secret == NULL) {
            rc = cl_error_set(err, CL_EINVALID, "the cluster's kubelogin needs its service "
                              "principal");
            goto done;
        }
        snprintf(scope, sizeof(scope), "%s/.default", cfg.kubelogin_server_id);
        if ((entra = malloc(sizeof(*entra))) == NULL) {
            rc = cl_error_set(err, CL_ERROR, "out of memory");
            goto done;
        }
        if ((rc = sign_in(j, row, secret, scope, entra, err)) < 0) {
            free(entra);
            goto done;
        }
    }
    rc = cl_kube_open(kube, &cfg, entra, err);
done:
    if (rc < 0) {
        json_decref(*facts);
        *facts = NULL;
    }
    PQclear(row);
    cl_kubeconfig_free(&cfg);
    if (config != NULL)
        OPENSSL_cleanse(config, strlen(config));
    if (secret != NULL)
        OPENSSL_cleanse(secret, strlen(secret));
    free(config);
    free(secret);
    return rc;
}

int cl_cluster_sgx(cl_kube *kube, json_t **nodes_found, const char **resource,
                   json_int_t *node_count, cl_error *err)
{
    json_t *nodes = NULL;
    int rc;

    if ((rc = cl_kube_get(kube, "/api/v1/nodes?limit=500", &nodes, err)) < 0)
        return rc;
    *nodes_found = sgx_nodes(nodes, resource);
    *node_count = (json_int_t)json_array_size(json_object_get(nodes, "items"));
    json_decref(nodes);
    return 0;
}

/* Reach the cluster and look at it. */
static int look(cl_job *j, PGconn *db, const char *id, json_t **check, cl_error *err)
{
    cl_kube kube;
    json_t *version = NULL, *facts = NULL, *sgx = NULL;
    const char *resource = NULL;
    json_int_t count = 0;
    int rc;

    if ((rc = cl_cluster_open(j, db, id, &kube, &facts, err)) < 0)
        return rc;
    cl_job_phase(j, "reaching the API server");
    if ((rc = cl_kube_get(&kube, "/version", &version, err)) < 0 ||
        (rc = cl_cluster_sgx(&kube, &sgx, &resource, &count, err)) < 0)
        goto done;
    const char *v = json_string_value(json_object_get(version, "gitVersion"));
    cl_job_log(j, "%s: Kubernetes %s, %zu of %lld nodes with SGX", kube.server, v ? v : "?",
               json_array_size(sgx), (long long)count);
    *check = json_pack("{s:b, s:s, s:s?, s:O, s:s?, s:I}", "reachable", 1, "server",
                       kube.server, "version", v, "sgx_nodes", sgx, "epc_resource", resource,
                       "nodes", count);
    if (facts != NULL)
        json_object_update(*check, facts);
done:
    json_decref(version);
    json_decref(facts);
    json_decref(sgx);
    cl_kube_close(&kube);
    return rc;
}

int cl_cluster_check(cl_job *j, json_t **result, cl_error *err)
{
    const char *id = json_string_value(json_object_get(cl_job_params(j), "cluster_id"));
    PGconn *db = NULL;
    json_t *check = NULL;
    int rc;

    if (id == NULL)
        return cl_error_set(err, CL_EINVALID, "the job names no cluster");
    if ((rc = cl_job_db(&db, err)) < 0)
        return rc;
    rc = look(j, db, id, &check, err);
    if (rc < 0)
        check = json_pack("{s:b, s:s}", "reachable", 0, "error", err->message);
    cl_error tmp = { 0 };
    if (record(db, j, id, check, &tmp) < 0 && rc == 0) {
        *err = tmp;
        rc = err->code;
    } else {
        cl_error_clear(&tmp);
    }
    if (rc == 0)
        *result = json_incref(check);
    json_decref(check);
    PQfinish(db);
    return rc;
}
