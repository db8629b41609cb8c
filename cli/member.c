/* member.c - cloister member list | add | set-role | remove, in the account
 * you act in. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const cli_column columns[] = {
    { "USER ID", "user_id" }, { "EMAIL", "email" }, { "ROLE", "role" },
    { "SINCE", "created_at" }, { NULL, NULL },
};

/* The user id of a member named by id or e-mail. */
static int find_member(cli_ctx *c, const char *account, const char *who, char *id, size_t size)
{
    char path[256];

    snprintf(path, sizeof(path), "/v1/accounts/%s/members?limit=500", account);
    return cli_find(c, path, "user_id", "email", 1, who, "member", id, size);
}

static int member_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1], *account;
    char path[256];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_member_commands[0], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_current_account(c, &account)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/accounts/%s/members", account);
    if ((rc = cli_list(c, path, 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "user_id");
    json_decref(items);
    return 0;
}

static int member_add(cli_ctx *c, int argc, char **argv)
{
    const char *role = NULL, *pos[1], *account;
    const cli_flag flags[] = { { "--role", &role, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_member_commands[1], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    if (role == NULL)
        return cli_usage_error(&cli_member_commands[1], "give the member's --role");
    if ((rc = cli_current_account(c, &account)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/accounts/%s/members", account);
    json_t *body = json_pack("{s:s, s:s}", "email", pos[0], "role", role);
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    const char *initial = json_string_value(json_object_get(reply.body, "initial_password"));
    cli_print_one(c, reply.body, columns, "user_id");
    if (initial != NULL && c->format == CLI_TABLE && !c->quiet)
        printf("\n%s is new to Cloister. Their first password, shown only now:\n  %s\n"
               "They change it after signing in (POST /v1/me/password).\n", pos[0], initial);
    cli_reply_free(&reply);
    return 0;
}

static int member_set_role(cli_ctx *c, int argc, char **argv)
{
    const char *pos[2], *account;
    char path[256], id[64];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_member_commands[2], argc, argv, NULL, pos, 2, 2, &npos)) != 0 ||
        (rc = cli_current_account(c, &account)) != 0 ||
        (rc = find_member(c, account, pos[0], id, sizeof(id))) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/accounts/%s/members/%s", account, id);
    json_t *body = json_pack("{s:s}", "role", pos[1]);
    rc = cli_call(c, "PATCH", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, columns, "user_id");
    cli_reply_free(&reply);
    return 0;
}

static int member_remove(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1], *account;
    char path[256], id[64];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_member_commands[3], argc, argv, NULL, pos, 1, 1, &npos)) != 0 ||
        (rc = cli_current_account(c, &account)) != 0 ||
        (rc = find_member(c, account, pos[0], id, sizeof(id))) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/accounts/%s/members/%s", account, id);
    if ((rc = cli_call(c, "DELETE", path, NULL, &reply)) != 0)
        return rc;
    cli_reply_free(&reply);
    if (c->quiet)
        puts(id);
    else if (c->format == CLI_TABLE)
        printf("Removed %s from the account\n", pos[0]);
    return 0;
}

const cli_command cli_member_commands[] = {
    { "member", "list", member_list, "", "list the members of the account you act in",
      "cloister member list" },
    { "member", "add", member_add, "EMAIL --role admin|operator|auditor",
      "add a person to the account (new people get a first password)",
      "cloister member add ops@example.com --role operator" },
    { "member", "set-role", member_set_role, "MEMBER ROLE",
      "change a member's role (MEMBER is an e-mail or user id)",
      "cloister member set-role ops@example.com auditor" },
    { "member", "remove", member_remove, "MEMBER", "remove a member from the account",
      "cloister member remove ops@example.com" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
