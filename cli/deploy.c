/* deploy.c - cloister deploy create | list | get | scale | update |
 * rollback | rm: approved builds running on clusters.  Every change is a
 * job; --wait follows it to the end of the rollout. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_column columns[] = {
    { "ID", "id" }, { "NAME", "name" }, { "NAMESPACE", "namespace" }, { "STATE", "state" },
    { "REPLICAS", "replicas" }, { "BUILD", "build_id" },
    { "DEPRECATED", "build_deprecated" }, { "MESSAGE", "status.message" }, { NULL, NULL },
};

/* Send a change (a job): print it, or with wait follow the job and then
 * show the deployment as it ended. */
static int change(cli_ctx *c, const char *method, const char *path, json_t *body, int wait)
{
    static const cli_column job_columns[] = {
        { "JOB", "id" }, { "KIND", "kind" }, { "STATE", "state" },
        { "DEPLOYMENT", "deployment_id" }, { NULL, NULL },
    };
    char show[128];
    cli_reply reply;
    json_t *job = NULL;
    int rc;

    if ((rc = cli_call(c, method, path, body, &reply)) != 0)
        return rc;
    const char *id = json_string_value(json_object_get(reply.body, "deployment_id"));
    snprintf(show, sizeof(show), "/v1/deployments/%s", id ? id : "");
    if (!wait) {
        cli_print_one(c, reply.body, job_columns, "deployment_id");
        cli_reply_free(&reply);
        return 0;
    }
    rc = cli_wait_job(c, json_string_value(json_object_get(reply.body, "id")), &job);
    cli_reply_free(&reply);
    json_decref(job);
    int shown = cli_show(c, show, columns, "id");
    return rc ? rc : shown;
}

static int deploy_create(cli_ctx *c, int argc, char **argv)
{
    const cli_command *cmd = &cli_deploy_commands[0];
    const char *build = NULL, *cluster = NULL, *ns = NULL, *name = NULL, *replicas = NULL;
    const char *port = NULL, *deadline = NULL, *wait = NULL, *pos[1];
    json_t *ports = json_array();
    const cli_flag flags[] = {
        { "--build", &build, 0, NULL }, { "--cluster", &cluster, 0, NULL },
        { "--namespace", &ns, 0, NULL }, { "--name", &name, 0, NULL },
        { "--replicas", &replicas, 0, NULL }, { "--port", &port, 0, ports },
        { "--progress-deadline", &deadline, 0, NULL },
        { "--wait", &wait, 1, NULL }, { NULL, NULL, 0, NULL },
    };
    char app[64], cluster_id[64];
    json_t *body = NULL, *p;
    long n;
    size_t i;
    int npos, rc;

    if ((rc = cli_args(c, cmd, argc, argv, flags, pos, 1, 1, &npos)) != 0)
        goto done;
    if (build == NULL || cluster == NULL || ns == NULL) {
        rc = cli_usage_error(cmd, "give --build, --cluster and --namespace");
        goto done;
    }
    body = json_pack("{s:s, s:s, s:[]}", "build_id", build, "namespace", ns, "ports");
    if (name != NULL)
        json_object_set_new(body, "name", json_string(name));
    if (replicas != NULL) {
        if ((rc = cli_whole(cmd, "--replicas", replicas, 0, 100, &n)) != 0)
            goto done;
        json_object_set_new(body, "replicas", json_integer(n));
    }
    if (deadline != NULL) {
        if ((rc = cli_whole(cmd, "--progress-deadline", deadline, 60, 86400, &n)) != 0)
            goto done;
        json_object_set_new(body, "progress_deadline", json_integer(n));
    }
    json_array_foreach(ports, i, p) {
        if ((rc = cli_whole(cmd, "--port", json_string_value(p), 1, 65535, &n)) != 0)
            goto done;
        json_array_append_new(json_object_get(body, "ports"), json_pack("{s:I}", "port",
                                                                        (json_int_t)n));
    }
    if ((rc = cli_app_id(c, pos[0], app)) != 0 ||
        (rc = cli_find(c, "/v1/clusters?limit=500", "id", "name", 0, cluster, "cluster",
                       cluster_id, sizeof(cluster_id))) != 0)
        goto done;
    json_object_set_new(body, "app_id", json_string(app));
    json_object_set_new(body, "cluster_id", json_string(cluster_id));
    rc = change(c, "POST", "/v1/deployments", body, wait != NULL);
done:
    json_decref(body);
    json_decref(ports);
    return rc;
}

static int deploy_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_deploy_commands[1], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/deployments", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int deploy_get(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char path[128];
    int npos, rc;

    if ((rc = cli_args(c, &cli_deploy_commands[2], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/deployments/%s", pos[0]);
    return cli_show(c, path, columns, "id");
}

/* scale, update, rollback, rm: DEPLOYMENT [value] [--wait] */
static int deploy_change(cli_ctx *c, const cli_command *cmd, int argc, char **argv,
                         const char *method, const char *suffix, const char *field, int npos_want)
{
    const char *wait = NULL, *pos[2];
    const cli_flag flags[] = { { "--wait", &wait, 1, NULL }, { NULL, NULL, 0, NULL } };
    char path[160];
    json_t *body = NULL;
    int npos, rc;

    if ((rc = cli_args(c, cmd, argc, argv, flags, pos, npos_want, npos_want, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/deployments/%s%s", pos[0], suffix);
    if (field != NULL && strcmp(field, "replicas") == 0) {
        long n;
        if ((rc = cli_whole(cmd, "REPLICAS", pos[1], 0, 100, &n)) != 0)
            return rc;
        body = json_pack("{s:I}", field, (json_int_t)n);
    } else if (field != NULL)
        body = json_pack("{s:s}", field, pos[1]);
    rc = change(c, method, path, body, wait != NULL);
    json_decref(body);
    return rc;
}

static int deploy_scale(cli_ctx *c, int argc, char **argv)
{
    return deploy_change(c, &cli_deploy_commands[3], argc, argv, "POST", "/scale", "replicas", 2);
}

static int deploy_update(cli_ctx *c, int argc, char **argv)
{
    return deploy_change(c, &cli_deploy_commands[4], argc, argv, "POST", "/update", "build_id",
                         2);
}

static int deploy_rollback(cli_ctx *c, int argc, char **argv)
{
    return deploy_change(c, &cli_deploy_commands[5], argc, argv, "POST", "/rollback", NULL, 1);
}

static int deploy_rm(cli_ctx *c, int argc, char **argv)
{
    return deploy_change(c, &cli_deploy_commands[6], argc, argv, "DELETE", "", NULL, 1);
}

const cli_command cli_deploy_commands[] = {
    { "deploy", "create", deploy_create,
      "APP --build BUILD --cluster CLUSTER --namespace NS [--name NAME] [--replicas N] "
      "[--port PORT ...] [--progress-deadline SECONDS] [--wait]",
      "deploy an approved build of the app to a cluster and follow the rollout (a rollout "
      "that makes no progress for --progress-deadline seconds, 600 by default, has failed; "
      "large enclaves start slowly)",
      "cloister deploy create web --build $BUILD --cluster prod --namespace shop --port 8443 "
      "--wait" },
    { "deploy", "list", deploy_list, "", "list the account's deployments",
      "cloister deploy list" },
    { "deploy", "get", deploy_get, "DEPLOYMENT",
      "show a deployment: its state and its last rollout",
      "cloister deploy get 7c1e2d3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f" },
    { "deploy", "scale", deploy_scale, "DEPLOYMENT REPLICAS [--wait]",
      "run more or fewer replicas", "cloister deploy scale $ID 3 --wait" },
    { "deploy", "update", deploy_update, "DEPLOYMENT BUILD [--wait]",
      "roll the deployment out to another approved build", "cloister deploy update $ID $BUILD" },
    { "deploy", "rollback", deploy_rollback, "DEPLOYMENT [--wait]",
      "roll back to the build the deployment ran before", "cloister deploy rollback $ID --wait" },
    { "deploy", "rm", deploy_rm, "DEPLOYMENT [--wait]",
      "remove what Cloister applied for the deployment, and nothing else",
      "cloister deploy rm $ID --wait" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
