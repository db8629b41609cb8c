/* account.c - cloister account list | create | use. */
#include "cli.h"

#include <string.h>

static const cli_column columns[] = {
    { "ID", "id" }, { "NAME", "name" }, { "ROLE", "role" }, { "CREATED", "created_at" },
    { NULL, NULL },
};

static int account_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_account_commands[0], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/accounts", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int account_create(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    cli_reply reply;
    json_t *body;
    int npos, rc;

    if ((rc = cli_args(c, &cli_account_commands[1], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    body = json_pack("{s:s}", "name", pos[0]);
    rc = cli_call(c, "POST", "/v1/accounts", body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
    return 0;
}

/* Switch the session (by id or name) and say so. */
static int account_use(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    int npos, rc;

    if ((rc = cli_args(c, &cli_account_commands[2], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    if (c->api_key != NULL) {
        fprintf(stderr, "cloister: an API key always acts in its own account\n");
        return CLI_EUSAGE;
    }
    cli_reply me, reply;
    if ((rc = cli_call(c, "GET", "/v1/me", NULL, &me)) != 0)
        return rc;
    json_t *accounts = json_object_get(me.body, "accounts"), *a;
    const char *id = NULL;
    size_t i;
    json_array_foreach(accounts, i, a) {
        const char *aid = json_string_value(json_object_get(a, "id"));
        const char *name = json_string_value(json_object_get(a, "name"));

        if ((aid && strcmp(aid, pos[0]) == 0) || (name && strcmp(name, pos[0]) == 0))
            id = aid;
    }
    if (id == NULL) {
        fprintf(stderr, "cloister: you are not a member of an account \"%s\"\n", pos[0]);
        cli_reply_free(&me);
        return CLI_ENOTFOUND;
    }
    json_t *body = json_pack("{s:s}", "account_id", id);
    rc = cli_call(c, "POST", "/v1/session/account", body, &reply);
    json_decref(body);
    cli_reply_free(&me);
    if (rc != 0)
        return rc;
    if (c->quiet || c->format != CLI_TABLE)
        cli_print_one(c, reply.body, NULL, "account.id");
    else
        printf("Now acting in account %s as %s\n",
               json_string_value(json_object_get(json_object_get(reply.body, "account"), "name")),
               json_string_value(json_object_get(reply.body, "role")));
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_account_commands[] = {
    { "account", "list", account_list, "", "list the accounts you belong to",
      "cloister account list" },
    { "account", "create", account_create, "NAME",
      "create an account (instance administrators); you become its admin",
      "cloister account create acme" },
    { "account", "use", account_use, "ACCOUNT",
      "act in this account (name or id) from now on", "cloister account use acme" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
