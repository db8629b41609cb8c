/* node.c - cloister node-token create | list | revoke: the join tokens
 * confidential compute nodes enroll with. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_column columns[] = {
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
    cli_print_list(c, items, columns, "id");
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
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
    return 0;
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
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
