/* task.c - cloister task list | show | approve | deny | policy: the
 * approvals inbox and the account's quorum. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "http_client.h"

static const cli_column columns[] = {
    { "ID", "id" }, { "TYPE", "type" }, { "STATE", "state" }, { "TARGET", "target" },
    { "DOMAIN", "details.domain" }, { "APPROVALS", "approvals" }, { "QUORUM", "quorum" },
    { "REQUESTED BY", "requested_by" }, { NULL, NULL },
};

static int task_list(cli_ctx *c, int argc, char **argv)
{
    const char *state = NULL, *type = NULL, *pos[1];
    const cli_flag flags[] = { { "--state", &state, 0, NULL }, { "--type", &type, 0, NULL },
                               { NULL, NULL, 0, NULL } };
    char path[512] = "/v1/tasks";
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_task_commands[0], argc, argv, flags, pos, 0, 0, &npos)) != 0)
        return rc;
    const char *names[] = { "state", "type" }, *values[] = { state, type };
    cli_query(path, sizeof(path), names, values, 2);
    if ((rc = cli_list(c, path, 100, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int task_show(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_task_commands[1], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/tasks/%s", pos[0]);
    if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
    return 0;
}

static int decide(cli_ctx *c, const cli_command *cmd, const char *verb, int argc, char **argv)
{
    const char *comment = NULL, *pos[1];
    const cli_flag flags[] = { { "--comment", &comment, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, cmd, argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/tasks/%s/%s", pos[0], verb);
    json_t *body = comment ? json_pack("{s:s}", "comment", comment) : NULL;
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
    return 0;
}

static int task_approve(cli_ctx *c, int argc, char **argv)
{
    return decide(c, &cli_task_commands[2], "approve", argc, argv);
}

static int task_deny(cli_ctx *c, int argc, char **argv)
{
    return decide(c, &cli_task_commands[3], "deny", argc, argv);
}

static int task_policy(cli_ctx *c, int argc, char **argv)
{
    static const cli_column policy[] = { { "QUORUM", "quorum" }, { NULL, NULL } };
    const char *quorum = NULL, *pos[1];
    const cli_flag flags[] = { { "--quorum", &quorum, 0, NULL }, { NULL, NULL, 0, NULL } };
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_task_commands[4], argc, argv, flags, pos, 0, 0, &npos)) != 0)
        return rc;
    if (quorum != NULL) {
        char *end;
        long q = strtol(quorum, &end, 10);
        if (*end != '\0' || end == quorum)
            return cli_usage_error(&cli_task_commands[4], "--quorum must be a number");
        json_t *body = json_pack("{s:i}", "quorum", (int)q);
        rc = cli_call(c, "PUT", "/v1/policies/approval", body, &reply);
        json_decref(body);
    } else {
        rc = cli_call(c, "GET", "/v1/policies/approval", NULL, &reply);
    }
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, policy, "quorum");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_task_commands[] = {
    { "task", "list", task_list, "[--state pending|approved|denied|expired] [--type TYPE]",
      "list the account's approval tasks, newest first", "cloister task list --state pending" },
    { "task", "show", task_show, "TASK", "show a task with its decisions",
      "cloister task show 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11" },
    { "task", "approve", task_approve, "TASK [--comment TEXT]",
      "approve a task (admins, signed in; not your own when the quorum is above one)",
      "cloister task approve 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11 --comment \"checked\"" },
    { "task", "deny", task_deny, "TASK [--comment TEXT]", "deny a task",
      "cloister task deny 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11 --comment \"not ours\"" },
    { "task", "policy", task_policy, "[--quorum N]",
      "show the approval quorum, or set it (admins)", "cloister task policy --quorum 2" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
