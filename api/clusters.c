/*
 * clusters.c - /v1/clusters: the Kubernetes clusters an account deploys
 * its approved builds to.
 *
 *   kind "kubernetes"  {"kubeconfig", "context"?}: the kubeconfig is read
 *                      (lib/kubeconfig.c) for its server, CA and credential
 *                      and kept sealed; an exec plugin is refused, except
 *                      AKS's kubelogin form, which needs the Azure
 *                      service principal ("azure": {tenant_id, client_id,
 *                      client_secret}) whose Entra ID token the worker
 *                      fetches in its place.
 *   kind "aks"         {"subscription_id", "resource_group", "cluster_name",
 *                      "azure": {...}, "node_pool": {name, vm_size, count,
 *                      labels, taints}}: the worker reaches the cluster
 *                      through Azure Resource Manager, keeps the SGX node
 *                      pool as described, and gets the kubeconfig itself.
 *
 * Secrets (the client secret, the kubeconfig) are sealed under the KEK and
 * never shown again; answers carry what identifies the cluster.  A
 * cluster.check job (POST /v1/clusters/{id}/check) reports reachability,
 * the server's version, the SGX nodes and the EPC resource they
 * advertise, kept as the cluster's last_check.
 */
#include "daemon.h"
#include "jobs.h"
#include "kubeconfig.h"
#include "resource.h"
#include "seal.h"
#include "token.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLUSTER_COLUMNS \
    "c.id, c.name, c.kind, c.subscription_id, c.resource_group, c.cluster_name," \
    " c.node_pool, c.server, c.context, c.auth, c.tenant_id, c.client_id, c.check_job," \
    " c.last_check, c.checked_at, c.created_by, c.created_at, c.updated_at"
#define VM_SIZE_MAX 64

/* An Azure name: 1 to 90 of [A-Za-z0-9._()-], not ending in a period. */
static int azure_name(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;

    return n >= 1 && n <= max && s[n - 1] != '.' &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._()-") == n;
}

/* The service principal {tenant_id, client_id, client_secret}. */
static void azure_credentials(cl_req *r, json_t *azure, const char **tenant,
                              const char **client, const char **secret)
{
    static const char *const fields[] = { "tenant_id", "client_id", "client_secret", NULL };
    const char *k;
    json_t *v;

    *tenant = json_string_value(json_object_get(azure, "tenant_id"));
    *client = json_string_value(json_object_get(azure, "client_id"));
    *secret = json_string_value(json_object_get(azure, "client_secret"));
    if (!json_is_object(azure)) {
        cl_error_field(cl_req_err(r), "azure", "must be the service principal: tenant_id, "
                       "client_id, client_secret");
        return;
    }
    json_object_foreach(azure, k, v) {
        int known = 0;
        for (size_t i = 0; fields[i] != NULL; i++)
            known |= strcmp(fields[i], k) == 0;
        if (!known)
            cl_error_field(cl_req_err(r), "azure", "has no field \"%.64s\"", k);
    }
    if (!cl_uuid_valid(*tenant ? *tenant : ""))
        cl_error_field(cl_req_err(r), "azure.tenant_id", "must be the tenant's id (a UUID)");
    if (!cl_uuid_valid(*client ? *client : ""))
        cl_error_field(cl_req_err(r), "azure.client_id", "must be the application's client "
                       "id (a UUID)");
    if (*secret == NULL || strlen(*secret) < 8 || strlen(*secret) > 512)
        cl_error_field(cl_req_err(r), "azure.client_secret", "must be the client secret (8 to "
                       "512 characters)");
}

/* The SGX node pool Cloister keeps on an AKS cluster. */
static void node_pool(cl_req *r, json_t *pool)
{
    const char *name = json_string_value(json_object_get(pool, "name"));
    const char *vm = json_string_value(json_object_get(pool, "vm_size"));
    json_t *count = json_object_get(pool, "count"), *labels = json_object_get(pool, "labels");
    json_t *taints = json_object_get(pool, "taints"), *v;
    const char *k;
    size_t i;

    if (!json_is_object(pool)) {
        cl_error_field(cl_req_err(r), "node_pool", "must be {name, vm_size, count, labels, "
                       "taints}");
        return;
    }
    /* AKS: a Linux pool's name is 1 to 12 lower-case letters and digits, a letter first */
    if (name == NULL || strlen(name) < 1 || strlen(name) > 12 || !islower((unsigned char)name[0]) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(name))
        cl_error_field(cl_req_err(r), "node_pool.name", "must be 1 to 12 lower-case letters "
                       "and digits, starting with a letter");
    if (vm == NULL || strncmp(vm, "Standard_DC", 11) != 0 || strlen(vm) > VM_SIZE_MAX ||
        strspn(vm, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != strlen(vm))
        cl_error_field(cl_req_err(r), "node_pool.vm_size", "must be an SGX VM size, such as "
                       "Standard_DC4s_v3");
    if (!json_is_integer(count) || json_integer_value(count) < 1 ||
        json_integer_value(count) > 100)
        cl_error_field(cl_req_err(r), "node_pool.count", "must be from 1 to 100");
    if (labels != NULL && (!json_is_object(labels) || json_object_size(labels) > 32))
        cl_error_field(cl_req_err(r), "node_pool.labels", "must be at most 32 string labels");
    json_object_foreach(labels, k, v)
        if (!json_is_string(v) || strlen(k) > 63 || json_string_length(v) > 63)
            cl_error_field(cl_req_err(r), "node_pool.labels", "label \"%.63s\" must be a string "
                           "of at most 63 characters", k);
    if (taints != NULL && (!json_is_array(taints) || json_array_size(taints) > 16))
        cl_error_field(cl_req_err(r), "node_pool.taints", "must be at most 16 taints");
    json_array_foreach(taints, i, v) {
        const char *t = json_string_value(v);
        const char *eq = t ? strchr(t, '=') : NULL, *colon = t ? strrchr(t, ':') : NULL;
        if (t == NULL || eq == NULL || colon == NULL || colon < eq || strlen(t) > 253 ||
            (strcmp(colon, ":NoSchedule") != 0 && strcmp(colon, ":PreferNoSchedule") != 0 &&
             strcmp(colon, ":NoExecute") != 0))
            cl_error_field(cl_req_err(r), "node_pool.taints", "each must be key=value:effect, "
                           "the effect NoSchedule, PreferNoSchedule or NoExecute");
    }
}

static int seal(cl_req *r, const char *value, const char *what, const char *name, char **out)
{
    return cl_seal(out, cl_req_daemon(r)->kek, value, strlen(value),
                   cl_arena_printf(cl_req_arena(r), "cluster-%s:%s:%s", what,
                                   cl_req_principal(r)->account_id, name), cl_req_err(r));
}

/* POST /v1/clusters */
static int clusters_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "name", "kind", "kubeconfig", "context",
                                          "subscription_id", "resource_group", "cluster_name",
                                          "node_pool", "azure", NULL };
    const cl_principal *p = cl_req_principal(r);
    json_t *body = cl_req_body(r), *azure = json_object_get(body, "azure");
    const char *name, *kind, *tenant = NULL, *client = NULL, *secret = NULL, *auth = NULL;
    const char *sub = NULL, *group = NULL, *cluster = NULL, *server = NULL, *kubeconfig = NULL;
    const char *context = NULL;
    char *secret_sealed = NULL, *config_sealed = NULL, *pool = NULL;
    cl_kubeconfig k = { 0 };
    cl_error why = { 0 };
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    name = cl_body_string(r, "name", 1, 63);
    kind = cl_body_string(r, "kind", 1, 16);
    if (name != NULL && !cl_dns_label(name, strlen(name)))
        cl_error_field(cl_req_err(r), "name", "must be a DNS label");
    if (kind != NULL && strcmp(kind, "kubernetes") == 0) {
        context = cl_body_string(r, "context", 0, 253);
        kubeconfig = cl_body_string(r, "kubeconfig", 1, CL_KUBECONFIG_MAX);
        if (kubeconfig != NULL &&
            cl_kubeconfig_parse(&k, kubeconfig, strlen(kubeconfig), context, &why) < 0)
            cl_error_field(cl_req_err(r), "kubeconfig", "%s", why.message);
        else if (kubeconfig != NULL) {
            server = k.server;
            context = k.context;
            auth = k.kubelogin ? "kubelogin" : k.token ? "token" : "client_certificate";
        }
        if (k.kubelogin || azure != NULL)
            azure_credentials(r, azure, &tenant, &client, &secret);
        for (size_t i = 4; i <= 7; i++)
            if (json_object_get(body, fields[i]) != NULL)
                cl_error_field(cl_req_err(r), fields[i], "is for kind aks");
    } else if (kind != NULL && strcmp(kind, "aks") == 0) {
        sub = cl_body_string(r, "subscription_id", 1, 36);
        group = cl_body_string(r, "resource_group", 1, 90);
        cluster = cl_body_string(r, "cluster_name", 1, 63);
        if (sub != NULL && !cl_uuid_valid(sub))
            cl_error_field(cl_req_err(r), "subscription_id", "must be the subscription's id "
                           "(a UUID)");
        if (group != NULL && !azure_name(group, 90))
            cl_error_field(cl_req_err(r), "resource_group", "must be 1 to 90 of letters, "
                           "digits, ._()- not ending with a period");
        if (cluster != NULL && !azure_name(cluster, 63))
            cl_error_field(cl_req_err(r), "cluster_name", "must be an AKS cluster's name");
        node_pool(r, json_object_get(body, "node_pool"));
        azure_credentials(r, azure, &tenant, &client, &secret);
        auth = "service_principal";
        if (json_object_get(body, "kubeconfig") != NULL || json_object_get(body, "context"))
            cl_error_field(cl_req_err(r), "kubeconfig", "is for kind kubernetes; AKS clusters' "
                           "kubeconfigs are fetched from Azure");
    } else if (kind != NULL) {
        cl_error_field(cl_req_err(r), "kind", "must be aks or kubernetes");
    }
    cl_error_clear(&why);
    if ((rc = cl_body_done(r)) < 0 ||
        (secret != NULL && (rc = seal(r, secret, "secret", name, &secret_sealed)) < 0) ||
        (kubeconfig != NULL && (rc = seal(r, kubeconfig, "kubeconfig", name,
                                          &config_sealed)) < 0))
        goto done;
    if (json_object_get(body, "node_pool") != NULL)
        pool = json_dumps(json_object_get(body, "node_pool"), JSON_COMPACT | JSON_SORT_KEYS);
    const char *params[15] = { p->account_id, name, kind, sub, group, cluster, pool, server,
                               auth, tenant, client, secret_sealed, config_sealed, p->actor,
                               context };
    if ((rc = cl_req_begin(r, &db)) < 0)
        goto done;
    rc = cl_req_exec(r, db, &res,
        "WITH c AS (INSERT INTO clusters (account_id, name, kind, subscription_id,"
        "  resource_group, cluster_name, node_pool, server, auth, tenant_id, client_id,"
        "  secret_sealed, kubeconfig_sealed, created_by, context)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13, $14, $15)"
        " RETURNING *) SELECT " CLUSTER_COLUMNS ", c.version AS _version FROM c", 15, params);
    if (rc == CL_ECONFLICT) {
        cl_error_clear(cl_req_err(r));
        cl_error_field(cl_req_err(r), "name", "is taken by another cluster of this account");
        rc = CL_EINVALID;
    }
    if (rc < 0)
        goto done;
    const char *id = cl_row_text(res, 0, "id");
    if ((rc = cl_audit(r, db, p->account_id, "cluster.create",
                       cl_arena_printf(cl_req_arena(r), "cluster:%s", id),
                       json_pack("{s:s, s:s, s:s?}", "name", name, "kind", kind, "server",
                                 server))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        goto done;
    rc = cl_req_row(r, out, res, 201, cl_arena_printf(cl_req_arena(r), "/v1/clusters/%s", id));
done:
    cl_kubeconfig_free(&k);
    free(secret_sealed);
    free(config_sealed);
    free(pool);
    return rc;
}

/* GET /v1/clusters */
static int clusters_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT " CLUSTER_COLUMNS ", cl_time(c.created_at) || '|' || c.id AS _cursor"
            "  FROM clusters c WHERE c.account_id = $1"
            "   AND ($2::text IS NULL OR (c.created_at, c.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY c.created_at, c.id LIMIT $3");
}

#define CLUSTER_SELECT "SELECT " CLUSTER_COLUMNS ", c.version AS _version FROM clusters c"

/* GET /v1/clusters/{id} */
static int clusters_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "cluster", CLUSTER_SELECT, "c", "")) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* DELETE /v1/clusters/{id} */
static int clusters_delete(cl_req *r, json_t **out)
{
    const char *account = cl_req_principal(r)->account_id, *id = cl_req_param(r, "id");
    PGresult *res;
    cl_pg *db;
    int rc;

    (void)out;
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "cluster", CLUSTER_SELECT, "c", "FOR UPDATE OF c")) < 0)
        return rc;
    const char *params[1] = { id };
    PGresult *live;
    if ((rc = cl_req_exec(r, db, &live, "SELECT count(*) FROM deployments WHERE cluster_id = $1"
                          " AND state <> 'deleted'", 1, params)) < 0)
        return rc;
    if (strcmp(PQgetvalue(live, 0, 0), "0") != 0)
        return cl_req_fail(r, CL_ECONFLICT, "cluster \"%s\" still runs %s deployment(s); "
                           "remove them first", cl_row_text(res, 0, "name"),
                           PQgetvalue(live, 0, 0));
    if ((rc = cl_req_exec(r, db, NULL, "DELETE FROM clusters WHERE id = $1", 1, params)) < 0 ||
        (rc = cl_audit(r, db, account, "cluster.delete",
                       cl_arena_printf(cl_req_arena(r), "cluster:%s", id),
                       json_pack("{s:s}", "name", cl_row_text(res, 0, "name")))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    cl_req_status(r, 204);
    return 0;
}

/* POST /v1/clusters/{id}/check */
static int clusters_check(cl_req *r, json_t **out)
{
    const char *id = cl_req_param(r, "id");
    PGresult *res;
    json_t *job;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "cluster", CLUSTER_SELECT, "c", "FOR UPDATE OF c")) < 0 ||
        (rc = cl_job_enqueue(r, db, "cluster.check", cl_arena_printf(cl_req_arena(r),
                             "cluster:%s", id), json_pack("{s:s}", "cluster_id", id), 3,
                             &job)) < 0)
        return rc;
    cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)json_decref, job);
    const char *params[2] = { id, json_string_value(json_object_get(job, "id")) };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE clusters SET check_job = $2 WHERE id = $1", 2,
                          params)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_job_accepted(r, json_incref(job), out);
}

const cl_route cl_clusters_routes[] = {
    { "GET",    "/v1/clusters",            clusters_list,   CL_ROLE_READ },
    { "POST",   "/v1/clusters",            clusters_create,
      CL_ROLE_WRITE | CL_JSON_BODY | CL_IDEMPOTENT },
    { "GET",    "/v1/clusters/{id}",       clusters_get,    CL_ROLE_READ },
    { "DELETE", "/v1/clusters/{id}",       clusters_delete, CL_ROLE_WRITE },
    { "POST",   "/v1/clusters/{id}/check", clusters_check,  CL_ROLE_WRITE },
    { NULL, NULL, NULL, 0 },
};
