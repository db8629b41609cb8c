/* cluster.c - cloister cluster add | list | check | rm: the Kubernetes
 * and AKS clusters builds are deployed to.  Secrets (the service
 * principal's client secret) come from standard input, kubeconfigs from
 * their file. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_column columns[] = {
    { "ID", "id" }, { "NAME", "name" }, { "KIND", "kind" }, { "SERVER", "server" },
    { "AUTH", "auth" }, { "CLUSTER", "cluster_name" }, { "POOL", "node_pool.vm_size" },
    { "CHECK", "last_check.reachable" }, { NULL, NULL },
};

/* --key=value pairs (labels) into an object; CLI_EUSAGE on a bad one. */
static int pairs(json_t *list, json_t **out)
{
    size_t i;
    json_t *v;

    *out = json_object();
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v), *eq = strchr(s, '=');
        char key[128];

        if (eq == NULL || eq == s || (size_t)(eq - s) >= sizeof(key)) {
            fprintf(stderr, "cloister: --label takes KEY=VALUE, not \"%s\"\n", s);
            json_decref(*out);
            return CLI_EUSAGE;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
        json_object_set_new(*out, key, json_string(eq + 1));
    }
    return 0;
}

static int cluster_add(cli_ctx *c, int argc, char **argv)
{
    const char *kubeconfig = NULL, *context = NULL, *aks = NULL, *sub = NULL, *group = NULL;
    const char *name = NULL, *pool = NULL, *vm = NULL, *count = NULL, *tenant = NULL;
    const char *client = NULL, *secret = NULL, *label = NULL, *taint = NULL, *pos[1];
    json_t *labels = json_array(), *taints = json_array(), *body = NULL;
    const cli_flag flags[] = {
        { "--kubeconfig", &kubeconfig, 0, NULL }, { "--context", &context, 0, NULL },
        { "--aks", &aks, 1, NULL }, { "--subscription", &sub, 0, NULL },
        { "--resource-group", &group, 0, NULL }, { "--cluster-name", &name, 0, NULL },
        { "--pool-name", &pool, 0, NULL }, { "--vm-size", &vm, 0, NULL },
        { "--count", &count, 0, NULL }, { "--label", &label, 0, labels },
        { "--taint", &taint, 0, taints }, { "--azure-tenant", &tenant, 0, NULL },
        { "--azure-client", &client, 0, NULL }, { "--azure-secret-stdin", &secret, 1, NULL },
        { NULL, NULL, 0, NULL },
    };
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_cluster_commands[0], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        goto done;
    if ((aks != NULL) == (kubeconfig != NULL)) {
        rc = cli_usage_error(&cli_cluster_commands[0], "give --kubeconfig FILE, or --aks with "
                             "the cluster's Azure names");
        goto done;
    }
    body = json_pack("{s:s, s:s}", "name", pos[0], "kind", aks ? "aks" : "kubernetes");
    if (kubeconfig != NULL) {
        uint8_t *text = NULL;
        size_t len;
        if ((rc = cli_read_file(kubeconfig, 256 * 1024, &text, &len)) != 0)
            goto done;
        json_object_set_new(body, "kubeconfig", json_string((const char *)text));
        free(text);
        if (context != NULL)
            json_object_set_new(body, "context", json_string(context));
    } else {
        json_t *labels_obj;
        char *end = NULL;
        long n = count ? strtol(count, &end, 10) : 1;
        if ((count != NULL && *end != '\0') || (rc = pairs(labels, &labels_obj)) != 0) {
            rc = rc ? rc : cli_usage_error(&cli_cluster_commands[0], "--count takes a number");
            goto done;
        }
        json_object_set_new(body, "subscription_id", json_string(sub ? sub : ""));
        json_object_set_new(body, "resource_group", json_string(group ? group : ""));
        json_object_set_new(body, "cluster_name", json_string(name ? name : ""));
        json_object_set_new(body, "node_pool", json_pack("{s:s, s:s, s:i, s:o, s:O}", "name",
                                                         pool ? pool : "sgxpool", "vm_size",
                                                         vm ? vm : "Standard_DC4s_v3", "count",
                                                         (int)n, "labels", labels_obj, "taints",
                                                         taints));
    }
    if (tenant != NULL || client != NULL || secret != NULL) {
        json_t *azure = json_pack("{s:s, s:s}", "tenant_id", tenant ? tenant : "", "client_id",
                                  client ? client : "");
        json_object_set_new(body, "azure", azure);
        if (secret != NULL && (rc = cli_read_secret_line(azure, "client_secret",
                                                         "client secret")) != 0)
            goto done;
    }
    if ((rc = cli_call(c, "POST", "/v1/clusters", body, &reply)) != 0)
        goto done;
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
done:
    json_decref(body);
    json_decref(labels);
    json_decref(taints);
    return rc;
}

static int cluster_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_cluster_commands[1], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/clusters", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int cluster_id(cli_ctx *c, const char *who, char id[64])
{
    return cli_find(c, "/v1/clusters?limit=500", "id", "name", 0, who, "cluster", id, 64);
}

static int cluster_check(cli_ctx *c, int argc, char **argv)
{
    const char *wait = NULL, *pos[1];
    const cli_flag flags[] = { { "--wait", &wait, 1, NULL }, { NULL, NULL, 0, NULL } };
    char id[64], path[160];
    int npos, rc;

    if ((rc = cli_args(c, &cli_cluster_commands[2], argc, argv, flags, pos, 1, 1, &npos)) != 0 ||
        (rc = cluster_id(c, pos[0], id)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/clusters/%s/check", id);
    return cli_post_job(c, path, wait != NULL);
}

static int cluster_rm(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char id[64], path[160];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_cluster_commands[3], argc, argv, NULL, pos, 1, 1, &npos)) != 0 ||
        (rc = cluster_id(c, pos[0], id)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/clusters/%s", id);
    if ((rc = cli_call(c, "DELETE", path, NULL, &reply)) != 0)
        return rc;
    if (!c->quiet)
        printf("removed cluster %s\n", pos[0]);
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_cluster_commands[] = {
    { "cluster", "add", cluster_add,
      "NAME (--kubeconfig FILE [--context C] | --aks --subscription ID --resource-group RG "
      "--cluster-name NAME [--pool-name P] [--vm-size SIZE] [--count N] [--label K=V ...] "
      "[--taint K=V:EFFECT ...]) [--azure-tenant ID --azure-client ID --azure-secret-stdin]",
      "add a cluster to deploy to: any Kubernetes by its kubeconfig, or an AKS cluster by its "
      "Azure names and service principal (the client secret on standard input)",
      "echo \"$SECRET\" | cloister cluster add prod --aks --subscription $SUB "
      "--resource-group rg-cc --cluster-name sgx-prod --azure-tenant $TENANT --azure-client "
      "$APP --azure-secret-stdin" },
    { "cluster", "list", cluster_list, "", "list the account's clusters",
      "cloister cluster list" },
    { "cluster", "check", cluster_check, "CLUSTER [--wait]",
      "check that a cluster is reachable, and which of its nodes offer SGX",
      "cloister cluster check prod --wait" },
    { "cluster", "rm", cluster_rm, "CLUSTER",
      "forget a cluster (nothing in it changes)", "cloister cluster rm lab" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
