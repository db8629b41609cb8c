/* build.c - cloister build create | list | get | manifest | deprecate:
 * converting an app's image into an enclave image, and the builds that
 * records. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const cli_column columns[] = {
    { "ID", "id" }, { "APP", "app_name" }, { "STATE", "state" }, { "MRENCLAVE", "mrenclave" },
    { "MRSIGNER", "mrsigner" }, { "ISVPRODID", "isvprodid" }, { "ISVSVN", "isvsvn" },
    { "DEBUG", "debug" }, { "OUTPUT", "output_image" }, { "DIGEST", "output_digest" },
    { "CREATED", "created_at" }, { NULL, NULL },
};

static int app_id(cli_ctx *c, const char *who, char id[64])
{
    return cli_find(c, "/v1/apps?limit=500", "id", "name", 0, who, "app", id, 64);
}

static int show_build(cli_ctx *c, const char *id)
{
    char path[256];
    cli_reply reply;
    int rc;

    snprintf(path, sizeof(path), "/v1/builds/%s", id);
    if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
    return 0;
}

static int build_create(cli_ctx *c, int argc, char **argv)
{
    static const cli_column job_columns[] = {
        { "JOB", "id" }, { "STATE", "state" }, { NULL, NULL },
    };
    const char *date = NULL, *nowait = NULL, *pos[1];
    const cli_flag flags[] = { { "--date", &date, 0, NULL }, { "--no-wait", &nowait, 1, NULL },
                               { NULL, NULL, 0, NULL } };
    char id[64], path[256];
    cli_reply reply;
    json_t *job = NULL;
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[0], argc, argv, flags, pos, 1, 1, &npos)) != 0 ||
        (rc = app_id(c, pos[0], id)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/apps/%s/builds", id);
    json_t *body = date ? json_pack("{s:s}", "date", date) : NULL;
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    if (nowait != NULL) {
        cli_print_one(c, reply.body, job_columns, "id");
        cli_reply_free(&reply);
        return 0;
    }
    rc = cli_wait_job(c, json_string_value(json_object_get(reply.body, "id")), &job);
    cli_reply_free(&reply);
    const char *build = json_string_value(json_object_get(json_object_get(job, "result"),
                                                          "build_id"));
    if (rc == 0 && build != NULL)
        rc = show_build(c, build);
    json_decref(job);
    return rc;
}

static int build_list(cli_ctx *c, int argc, char **argv)
{
    const char *app = NULL, *state = NULL, *pos[1];
    const cli_flag flags[] = { { "--app", &app, 0, NULL }, { "--state", &state, 0, NULL },
                               { NULL, NULL, 0, NULL } };
    char path[512] = "/v1/builds", id[64];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[1], argc, argv, flags, pos, 0, 0, &npos)) != 0 ||
        (app != NULL && (rc = app_id(c, app, id)) != 0))
        return rc;
    const char *names[] = { "app_id", "state" }, *values[] = { app ? id : NULL, state };
    cli_query(path, sizeof(path), names, values, 2);
    if ((rc = cli_list(c, path, 100, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int build_get(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[2], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    return show_build(c, pos[0]);
}

/* The manifest's text as it is (so it can go to a file and be measured
 * with `cloister enclave measure`), or the whole answer in JSON or YAML. */
static int build_manifest(cli_ctx *c, int argc, char **argv)
{
    static const cli_column none[] = { { NULL, NULL } };
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[3], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/builds/%s/manifest", pos[0]);
    if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (c->format == CLI_TABLE)
        fputs(json_string_value(json_object_get(reply.body, "manifest")), stdout);
    else
        cli_print_one(c, reply.body, none, "manifest");
    cli_reply_free(&reply);
    return 0;
}

static int build_deprecate(cli_ctx *c, int argc, char **argv)
{
    const char *reason = NULL, *pos[1];
    const cli_flag flags[] = { { "--reason", &reason, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[4], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/builds/%s/deprecate", pos[0]);
    json_t *body = reason ? json_pack("{s:s}", "reason", reason) : NULL;
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, columns, "id");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_build_commands[] = {
    { "build", "create", build_create, "APP [--date YYYY-MM-DD] [--no-wait]",
      "convert the app's image into a signed enclave image (waits for the job); --date "
      "reproduces an earlier build byte for byte",
      "cloister build create web" },
    { "build", "list", build_list, "[--app APP] [--state STATE]",
      "list builds, newest first", "cloister build list --app web --state pending" },
    { "build", "get", build_get, "BUILD", "show a build and its measurements",
      "cloister build get 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11" },
    { "build", "manifest", build_manifest, "BUILD",
      "print the build's Gramine manifest (-o json adds its trusted files)",
      "cloister build manifest 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11 > app.manifest.sgx" },
    { "build", "deprecate", build_deprecate, "BUILD [--reason TEXT]",
      "withdraw an approved build's approval (admins)",
      "cloister build deprecate 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11 --reason \"CVE fix\"" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
