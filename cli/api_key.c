/* api_key.c - cloister api-key list | create | revoke. */
#include "cli.h"

#include <string.h>

static const cli_column columns[] = {
    { "ID", "id" }, { "NAME", "name" }, { "PREFIX", "prefix" }, { "ROLE", "role" },
    { "CREATED", "created_at" }, { "EXPIRES", "expires_at" },
    { "LAST USED", "last_used_at" }, { "REVOKED", "revoked_at" }, { NULL, NULL },
};

static int key_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_api_key_commands[0], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/api-keys", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int key_create(cli_ctx *c, int argc, char **argv)
{
    const char *role = NULL, *expires = NULL, *pos[1];
    const cli_flag flags[] = { { "--role", &role, 0, NULL }, { "--expires-at", &expires, 0, NULL },
                               { NULL, NULL, 0, NULL } };
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_api_key_commands[1], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    if (role == NULL)
        return cli_usage_error(&cli_api_key_commands[1], "give the key's --role");
    json_t *body = json_pack("{s:s, s:s}", "name", pos[0], "role", role);
    if (expires != NULL)
        json_object_set_new(body, "expires_at", json_string(expires));
    rc = cli_call(c, "POST", "/v1/api-keys", body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    const char *secret = json_string_value(json_object_get(reply.body, "secret"));
    if (c->quiet) {
        puts(secret ? secret : "");       /* what a script needs is the secret */
    } else if (c->format != CLI_TABLE) {
        cli_print_one(c, reply.body, columns, "id");
    } else {
        cli_print_one(c, reply.body, columns, "id");
        printf("\nThe key's secret, shown only now (keep it in your secret store):\n  %s\n",
               secret ? secret : "");
    }
    cli_reply_free(&reply);
    return 0;
}

static int key_revoke(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_api_key_commands[2], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/api-keys/%s/revoke", pos[0]);
    if ((rc = cli_call(c, "POST", path, NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_api_key_commands[] = {
    { "api-key", "list", key_list, "", "list the account's API keys",
      "cloister api-key list" },
    { "api-key", "create", key_create, "NAME --role ROLE [--expires-at TIME]",
      "make an API key; its secret is printed once",
      "cloister api-key create ci --role operator --expires-at 2027-01-31T00:00:00Z" },
    { "api-key", "revoke", key_revoke, "ID", "revoke an API key, for good",
      "cloister api-key revoke 3f0c1f6e-8b1d-4c8e-9f43-0a1b2c3d4e5f" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
