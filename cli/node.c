/* node.c - cloister node-token create | list | revoke: the join tokens
 * confidential compute nodes enroll with; and cloister node list | get |
 * events | revoke | deactivate | reactivate: the nodes that did. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_column token_columns[] = {
    { "ID", "id" }, { "NAME", "name" }, { "PREFIX", "prefix" }, { "STATE", "state" },
    { "USES", "uses" }, { "USED", "used" }, { "LABELS", "labels" },
    { "EXPIRES", "expires_at" }, { NULL, NULL },
};

static int token_create(cli_ctx *c, int argc, char **argv)
{
    static const cli_column created[] = {
        { "ID", "id" }, { "NAME", "name" }, { "USES", "uses" }, { "EXPIRES", "expires_at" },
        { "SECRET", "secret" }, { NULL, NULL },
    };
    const char *uses = NULL, *ttl = NULL, *pos[1], *labels[33];
    int nlabels = 0;
    const cli_flag flags[] = { { "--uses", &uses, 0, NULL }, { "--ttl", &ttl, 0, NULL },
                               { NULL, NULL, 0, NULL } };
    cli_reply reply;
    int npos, rc;

    /* --label KEY=VALUE may repeat: take them out before the usual parsing */
    char **rest = malloc(sizeof(char *) * (size_t)(argc + 1));
    int nrest = 0;
    if (rest == NULL)
        return CLI_ESERVER;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--label") == 0 && i + 1 < argc && nlabels < 32)
            labels[nlabels++] = argv[++i];
        else
            rest[nrest++] = argv[i];
    }
    rest[nrest] = NULL;
    rc = cli_args(c, &cli_node_commands[0], nrest, rest, flags, pos, 1, 1, &npos);
    if (rc != 0) {
        free(rest);
        return rc;
    }
    json_t *body = json_pack("{s:s}", "name", pos[0]), *lab = json_object();
    free(rest);
    for (int i = 0; i < nlabels; i++) {
        const char *eq = strchr(labels[i], '=');
        if (eq == NULL || eq == labels[i]) {
            json_decref(body);
            json_decref(lab);
            return cli_usage_error(&cli_node_commands[0], "--label takes KEY=VALUE");
        }
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - labels[i]), labels[i]);
        json_object_set_new(lab, key, json_string(eq + 1));
    }
    json_object_set_new(body, "labels", lab);
    for (int k = 0; k < 2; k++) {
        const char *v = k ? ttl : uses;
        char *end;
        long long n;

        if (v == NULL)
            continue;
        n = strtoll(v, &end, 10);
        if (*end != '\0' || end == v) {
            json_decref(body);
            return cli_usage_error(&cli_node_commands[0], "%s takes a number",
                                   k ? "--ttl" : "--uses");
        }
        json_object_set_new(body, k ? "ttl" : "uses", json_integer(n));
    }
    rc = cli_call(c, "POST", "/v1/node-tokens", body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, created, "secret");
    if (c->format == CLI_TABLE && !c->quiet)
        fprintf(stderr, "cloister: the secret is shown this once; give it to the node's agent\n");
    cli_reply_free(&reply);
    return 0;
}

static int token_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_node_commands[1], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/node-tokens", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, token_columns, "id");
    json_decref(items);
    return 0;
}

static int token_revoke(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_node_commands[2], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/node-tokens/%s/revoke", pos[0]);
    if ((rc = cli_call(c, "POST", path, NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, token_columns, "id");
    cli_reply_free(&reply);
    return 0;
}

/* ---- nodes ---------------------------------------------------------------------- */

static const cli_column node_columns[] = {
    { "ID", "id" }, { "NAME", "name" }, { "STATE", "state" }, { "TCB", "tcb_status" },
    { "SIMULATED", "simulated" }, { "LAST SEEN", "last_seen_at" },
    { "LAST ATTESTED", "last_attested_at" }, { "LABELS", "labels" }, { NULL, NULL },
};

static int node_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_node_commands[3], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/nodes", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, node_columns, "id");
    json_decref(items);
    return 0;
}

static int node_get(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "ID", "id" }, { "NAME", "name" }, { "STATE", "state" }, { "LABELS", "labels" },
        { "AGENT", "agent_version" }, { "TCB", "tcb_status" }, { "SIMULATED", "simulated" },
        { "MRENCLAVE", "mrenclave" }, { "MRSIGNER", "mrsigner" },
        { "CERT SERIAL", "cert_serial" }, { "CERT EXPIRES", "cert_expires_at" },
        { "ATTESTATIONS", "attestation_count" }, { "LAST REPORT", "last_report_id" },
        { "LAST ATTESTED", "last_attested_at" }, { "LAST SEEN", "last_seen_at" },
        { "FACTS", "facts" }, { "CREATED", "created_at" }, { NULL, NULL },
    };
    const char *pos[1];
    char path[256];
    int npos, rc;

    if ((rc = cli_args(c, &cli_node_commands[4], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/nodes/%s", pos[0]);
    return cli_show(c, path, columns, "id");
}

static int node_events(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "TIME", "created_at" }, { "EVENT", "event" }, { "FROM", "from_state" },
        { "TO", "to_state" }, { "BY", "actor" }, { "DETAIL", "detail" }, { NULL, NULL },
    };
    const char *pos[1];
    char path[256];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_node_commands[5], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/nodes/%s/events", pos[0]);
    if ((rc = cli_list(c, path, 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

/* revoke, deactivate, reactivate: the command's verb is the path's last part */
static int node_transition(cli_ctx *c, const cli_command *cmd, int argc, char **argv)
{
    const char *reason = NULL, *pos[1];
    const cli_flag flags[] = { { "--reason", &reason, 0, NULL }, { NULL, NULL, 0, NULL } };
    json_t *body = NULL;
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, cmd, argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/nodes/%s/%s", pos[0], cmd->verb);
    if (reason != NULL)
        body = json_pack("{s:s}", "reason", reason);
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, node_columns, "id");
    cli_reply_free(&reply);
    return 0;
}

static int node_revoke(cli_ctx *c, int argc, char **argv)
{
    return node_transition(c, &cli_node_commands[6], argc, argv);
}

static int node_deactivate(cli_ctx *c, int argc, char **argv)
{
    return node_transition(c, &cli_node_commands[7], argc, argv);
}

static int node_reactivate(cli_ctx *c, int argc, char **argv)
{
    return node_transition(c, &cli_node_commands[8], argc, argv);
}

const cli_command cli_node_commands[] = {
    { "node-token", "create", token_create,
      "NAME [--uses N] [--ttl SECONDS] [--label KEY=VALUE ...]",
      "mint a join token for confidential compute nodes; its secret is shown once "
      "(-q prints only the secret)",
      "cloister node-token create rack-7 --uses 3 --ttl 3600 --label zone=westeurope-1" },
    { "node-token", "list", token_list, "", "list the account's join tokens",
      "cloister node-token list" },
    { "node-token", "revoke", token_revoke, "TOKEN", "revoke a join token",
      "cloister node-token revoke 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11" },
    { "node", "list", node_list, "", "list the account's nodes: state, TCB status, last seen",
      "cloister node list" },
    { "node", "get", node_get, "NODE", "show a node: its attestation, certificate and facts",
      "cloister node get 0c6f3c2e-8a55-4a4e-9d35-7f1c2b8e4a10" },
    { "node", "events", node_events, "NODE",
      "what happened to a node: its enrollment and every change of state",
      "cloister node events 0c6f3c2e-8a55-4a4e-9d35-7f1c2b8e4a10" },
    { "node", "revoke", node_revoke, "NODE [--reason TEXT]",
      "revoke a node for good: its certificate goes on the account's CRL",
      "cloister node revoke 0c6f3c2e-8a55-4a4e-9d35-7f1c2b8e4a10 --reason decommissioned" },
    { "node", "deactivate", node_deactivate, "NODE [--reason TEXT]",
      "take a node out of service, keeping its certificate",
      "cloister node deactivate 0c6f3c2e-8a55-4a4e-9d35-7f1c2b8e4a10" },
    { "node", "reactivate", node_reactivate, "NODE [--reason TEXT]",
      "put a deactivated node back in service",
      "cloister node reactivate 0c6f3c2e-8a55-4a4e-9d35-7f1c2b8e4a10" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
