/*
 * registry.c - cloister registry list | add | update | remove | check.
 *
 * Passwords (or tokens) are read from standard input with --password-stdin,
 * never from the command line where other users could see them.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const cli_column columns[] = {
    { "ID", "id" }, { "NAME", "name" }, { "HOST", "host" }, { "TLS", "tls" },
    { "USERNAME", "username" }, { "PASSWORD", "has_password" }, { NULL, NULL },
};

static int registry_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_registry_commands[0], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/registries", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int send_registry(cli_ctx *c, const cli_command *cmd, int argc, char **argv, int add)
{
    const char *host = NULL, *user = NULL, *pw = NULL, *plain = NULL, *no_pw = NULL, *pos[1];
    const cli_flag flags[] = {
        { "--host", &host, 0, NULL }, { "--username", &user, 0, NULL },
        { "--password-stdin", &pw, 1, NULL }, { "--plain-http", &plain, 1, NULL },
        { "--no-password", &no_pw, 1, NULL }, { NULL, NULL, 0, NULL },
    };
    char id[64], path[160];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, cmd, argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    if (add && host == NULL)
        return cli_usage_error(cmd, "give the registry's --host");
    json_t *body = json_object();
    if (add)
        json_object_set_new(body, "name", json_string(pos[0]));
    if (host) json_object_set_new(body, "host", json_string(host));
    if (user) json_object_set_new(body, "username", json_string(user));
    if (plain) json_object_set_new(body, "tls", json_false());
    if (no_pw) json_object_set_new(body, "password", json_null());
    if (pw != NULL && (rc = cli_read_secret_line(body, "password", "password")) != 0) {
        json_decref(body);
        return rc;
    }
    if (add) {
        snprintf(path, sizeof(path), "/v1/registries");
    } else {
        if ((rc = cli_find(c, "/v1/registries?limit=500", "id", "name", 0, pos[0], "registry", id,
                          sizeof(id))) != 0) {
            json_decref(body);
            return rc;
        }
        snprintf(path, sizeof(path), "/v1/registries/%s", id);
    }
    rc = cli_call(c, add ? "POST" : "PATCH", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
    return 0;
}

static int registry_add(cli_ctx *c, int argc, char **argv)
{
    return send_registry(c, &cli_registry_commands[1], argc, argv, 1);
}

static int registry_update(cli_ctx *c, int argc, char **argv)
{
    return send_registry(c, &cli_registry_commands[2], argc, argv, 0);
}

static int registry_remove(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char id[64], path[160];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_registry_commands[3], argc, argv, NULL, pos, 1, 1, &npos)) != 0 ||
        (rc = cli_find(c, "/v1/registries?limit=500", "id", "name", 0, pos[0], "registry", id,
                          sizeof(id))) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/registries/%s", id);
    if ((rc = cli_call(c, "DELETE", path, NULL, &reply)) != 0)
        return rc;
    cli_reply_free(&reply);
    if (c->format == CLI_TABLE && !c->quiet)
        printf("Removed registry %s\n", pos[0]);
    return 0;
}

static int registry_check(cli_ctx *c, int argc, char **argv)
{
    const char *wait = NULL, *pos[1];
    const cli_flag flags[] = { { "--wait", &wait, 1, NULL }, { NULL, NULL, 0, NULL } };
    char id[64], path[160];
    int npos, rc;

    if ((rc = cli_args(c, &cli_registry_commands[4], argc, argv, flags, pos, 1, 1, &npos)) != 0 ||
        (rc = cli_find(c, "/v1/registries?limit=500", "id", "name", 0, pos[0], "registry", id,
                          sizeof(id))) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/registries/%s/check", id);
    return cli_post_job(c, path, wait != NULL);
}

const cli_command cli_registry_commands[] = {
    { "registry", "list", registry_list, "", "list the account's registries",
      "cloister registry list" },
    { "registry", "add", registry_add,
      "NAME --host HOST[:PORT] [--username USER --password-stdin] [--plain-http]",
      "add a registry; the password is read from standard input",
      "echo \"$TOKEN\" | cloister registry add acr --host acme.azurecr.io --username robot "
      "--password-stdin" },
    { "registry", "update", registry_update,
      "REGISTRY [--host HOST] [--username USER] [--password-stdin | --no-password]",
      "change a registry's address or credentials",
      "echo \"$NEW\" | cloister registry update acr --password-stdin" },
    { "registry", "remove", registry_remove, "REGISTRY", "remove a registry",
      "cloister registry remove acr" },
    { "registry", "check", registry_check, "REGISTRY [--wait]",
      "check that the registry answers and takes the credentials (a job); --wait follows it",
      "cloister registry check acr --wait" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
