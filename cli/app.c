/*
 * app.c - cloister app list | show | create | update | delete.
 *
 * Fields come from flags or from a JSON file (--file, the API's own object);
 * flags win.  Sizes take K, M and G (--enclave-size 1G); --env, --domain and
 * --label repeat.
 */
#include "cli.h"
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const cli_column columns[] = {
    { "ID", "id" }, { "NAME", "name" }, { "INPUT IMAGE", "input_image" },
    { "RUNTIME", "runtime" }, { "ENCLAVE", "enclave_size" }, { "THREADS", "max_threads" },
    { NULL, NULL },
};

static const cli_column detail[] = {
    { "ID", "id" }, { "NAME", "name" }, { "DESCRIPTION", "description" },
    { "INPUT IMAGE", "input_image" }, { "OUTPUT IMAGE", "output_image" },
    { "RUNTIME", "runtime" }, { "ENCLAVE SIZE", "enclave_size" },
    { "MAX THREADS", "max_threads" }, { "ISVPRODID", "isvprodid" }, { "ISVSVN", "isvsvn" },
    { "ENTRYPOINT", "entrypoint" }, { "ARGS", "args" }, { "ENV", "env" },
    { "DOMAINS", "allowed_domains" }, { "ENCRYPTED", "encrypted_paths" },
    { "WRITABLE", "writable_paths" }, { "LABELS", "labels" }, { "DEBUG", "debug" },
    { "UPDATED", "updated_at" }, { NULL, NULL },
};

typedef struct app_flags {
    const char *file, *description, *input, *output, *size, *threads, *prodid, *svn;
    const char *entrypoint, *debug, *no_debug;
    json_t *env, *domains, *labels;
} app_flags;

/* The flags and the file as a request body; CLI_EUSAGE on bad input. */
static int body_from(const cli_command *cmd, app_flags *f, const char *name, json_t **out)
{
    json_t *body;

    *out = NULL;
    if (f->file != NULL) {
        int rc = cli_read_json_object(f->file, &body);
        if (rc != 0)
            return rc;
    } else {
        body = json_object();
    }
    if (name) json_object_set_new(body, "name", json_string(name));
    if (f->description) json_object_set_new(body, "description", json_string(f->description));
    if (f->input) json_object_set_new(body, "input_image", json_string(f->input));
    if (f->output) json_object_set_new(body, "output_image", json_string(f->output));
    if (f->size) {
        long long v;
        if (cl_config_parse_size(f->size, &v) < 0) {
            json_decref(body);
            return cli_usage_error(cmd, "--enclave-size must be a size such as 256M or 4G");
        }
        json_object_set_new(body, "enclave_size", json_integer(v));
    }
    const char *ints[][2] = { { "max_threads", f->threads }, { "isvprodid", f->prodid },
                              { "isvsvn", f->svn } };
    for (size_t i = 0; i < 3; i++) {
        char *end;
        long v;

        if (ints[i][1] == NULL)
            continue;
        errno = 0;
        v = strtol(ints[i][1], &end, 10);
        if (errno != 0 || *end != '\0' || end == ints[i][1]) {
            json_decref(body);
            return cli_usage_error(cmd, "--%s must be a number", ints[i][0]);
        }
        json_object_set_new(body, ints[i][0], json_integer(v));
    }
    if (f->entrypoint != NULL) {
        json_t *ep = json_loads(f->entrypoint, 0, NULL);
        if (!json_is_array(ep))
            ep = json_pack("[s]", f->entrypoint);   /* a single program */
        json_object_set_new(body, "entrypoint", ep);
    }
    if (f->debug) json_object_set_new(body, "debug", json_true());
    if (f->no_debug) json_object_set_new(body, "debug", json_false());
    json_t *item;
    size_t i;
    if (json_array_size(f->env) > 0) {
        json_t *env = json_object();
        json_array_foreach(f->env, i, item) {
            const char *kv = json_string_value(item), *eq = strchr(kv, '=');
            if (eq == NULL) {
                json_decref(env);
                json_decref(body);
                return cli_usage_error(cmd, "--env takes NAME=VALUE, not \"%s\"", kv);
            }
            char *k = strndup(kv, (size_t)(eq - kv));
            json_object_set_new(env, k, json_string(eq + 1));
            free(k);
        }
        json_object_set_new(body, "env", env);
    }
    if (json_array_size(f->domains) > 0)
        json_object_set(body, "allowed_domains", f->domains);
    if (json_array_size(f->labels) > 0) {
        json_t *labels = json_object();
        json_array_foreach(f->labels, i, item) {
            const char *kv = json_string_value(item), *eq = strchr(kv, '=');
            char *k = eq ? strndup(kv, (size_t)(eq - kv)) : strdup(kv);
            json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
            free(k);
        }
        json_object_set_new(body, "labels", labels);
    }
    *out = body;
    return 0;
}

#define APP_FLAGS(f) \
    { "--file", &(f).file, 0, NULL }, { "--description", &(f).description, 0, NULL }, \
    { "--input-image", &(f).input, 0, NULL }, { "--output-image", &(f).output, 0, NULL }, \
    { "--enclave-size", &(f).size, 0, NULL }, { "--max-threads", &(f).threads, 0, NULL }, \
    { "--isvprodid", &(f).prodid, 0, NULL }, { "--isvsvn", &(f).svn, 0, NULL }, \
    { "--entrypoint", &(f).entrypoint, 0, NULL }, { "--debug", &(f).debug, 1, NULL }, \
    { "--no-debug", &(f).no_debug, 1, NULL }, \
    { "--env", &env_value, 0, (f).env }, { "--domain", &env_value, 0, (f).domains }, \
    { "--label", &env_value, 0, (f).labels }, { NULL, NULL, 0, NULL }

static int app_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_app_commands[0], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/apps", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int app_show(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char id[64], path[128];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_app_commands[1], argc, argv, NULL, pos, 1, 1, &npos)) != 0 ||
        (rc = cli_app_id(c, pos[0], id)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/apps/%s", id);
    if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, detail, "id");
    cli_reply_free(&reply);
    return 0;
}

static int send_app(cli_ctx *c, const cli_command *cmd, int argc, char **argv, int create)
{
    app_flags f = { .env = json_array(), .domains = json_array(), .labels = json_array() };
    const char *env_value = NULL, *pos[1];
    const cli_flag flags[] = { APP_FLAGS(f) };
    char id[64], path[128];
    json_t *body = NULL;
    cli_reply reply;
    int npos, rc;

    rc = cli_args(c, cmd, argc, argv, flags, pos, 1, 1, &npos);
    if (rc == 0)
        rc = body_from(cmd, &f, create ? pos[0] : NULL, &body);
    if (rc == 0 && !create)
        rc = cli_app_id(c, pos[0], id);
    if (rc == 0) {
        if (create)
            snprintf(path, sizeof(path), "/v1/apps");
        else
            snprintf(path, sizeof(path), "/v1/apps/%s", id);
        rc = cli_call(c, create ? "POST" : "PATCH", path, body, &reply);
        if (rc == 0) {
            cli_print_one(c, reply.body, detail, "id");
            cli_reply_free(&reply);
        }
    }
    (void)env_value;
    json_decref(body);
    json_decref(f.env);
    json_decref(f.domains);
    json_decref(f.labels);
    return rc;
}

static int app_create(cli_ctx *c, int argc, char **argv)
{
    return send_app(c, &cli_app_commands[2], argc, argv, 1);
}

static int app_update(cli_ctx *c, int argc, char **argv)
{
    return send_app(c, &cli_app_commands[3], argc, argv, 0);
}

static int app_delete(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char id[64], path[128];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_app_commands[4], argc, argv, NULL, pos, 1, 1, &npos)) != 0 ||
        (rc = cli_app_id(c, pos[0], id)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/apps/%s", id);
    if ((rc = cli_call(c, "DELETE", path, NULL, &reply)) != 0)
        return rc;
    cli_reply_free(&reply);
    if (c->quiet)
        puts(id);
    else if (c->format == CLI_TABLE)
        printf("Deleted app %s\n", pos[0]);
    return 0;
}

#define APP_OPTIONS \
    "[--file APP.json] [--description TEXT] [--enclave-size SIZE] [--max-threads N]" \
    " [--isvprodid N] [--isvsvn N] [--entrypoint PROGRAM|JSON] [--env NAME=VALUE]..." \
    " [--domain DNS]... [--label KEY=VALUE]... [--debug|--no-debug]"

const cli_command cli_app_commands[] = {
    { "app", "list", app_list, "", "list the account's applications", "cloister app list" },
    { "app", "show", app_show, "APP", "show an application (APP is a name or id)",
      "cloister app show web -o yaml" },
    { "app", "create", app_create,
      "NAME --input-image REF --output-image REPO " APP_OPTIONS,
      "register an application to convert",
      "cloister app create web --input-image nginx:1.25 --output-image "
      "registry.example.com/acme/web-sgx --enclave-size 1G --domain web.example.com" },
    { "app", "update", app_update, "APP [--input-image REF] [--output-image REPO] " APP_OPTIONS,
      "change an application's fields", "cloister app update web --max-threads 32" },
    { "app", "delete", app_delete, "APP", "delete an application", "cloister app delete web" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
