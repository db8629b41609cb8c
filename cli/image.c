/* image.c - cloister image inspect: what is in an image, before an app is
 * made from it (an image.inspect job). */
#include "cli.h"

#include <string.h>

static int image_inspect(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "REFERENCE", "reference" }, { "DIGEST", "digest" }, { "PLATFORM", "platform" },
        { "SIZE", "size" }, { "ENTRYPOINT", "entrypoint" }, { "CMD", "cmd" }, { "ENV", "env" },
        { "WORKDIR", "working_dir" }, { "PORTS", "exposed_ports" }, { NULL, NULL },
    };
    static const cli_column job_columns[] = {
        { "JOB", "id" }, { "STATE", "state" }, { NULL, NULL },
    };
    const char *registry = NULL, *nowait = NULL, *pos[1];
    const cli_flag flags[] = { { "--registry", &registry, 0, NULL },
                               { "--no-wait", &nowait, 1, NULL }, { NULL, NULL, 0, NULL } };
    cli_reply reply;
    json_t *job = NULL;
    int npos, rc;

    if ((rc = cli_args(c, &cli_image_commands[0], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    json_t *body = json_pack("{s:s}", "reference", pos[0]);
    if (registry != NULL) {
        json_t *items, *g;
        size_t i;
        const char *id = NULL;

        if ((rc = cli_list(c, "/v1/registries?limit=500", 0, &items)) != 0) {
            json_decref(body);
            return rc;
        }
        json_array_foreach(items, i, g) {
            const char *gid = json_string_value(json_object_get(g, "id"));
            const char *name = json_string_value(json_object_get(g, "name"));
            if ((gid && strcmp(gid, registry) == 0) || (name && strcmp(name, registry) == 0))
                id = gid;
        }
        if (id == NULL) {
            fprintf(stderr, "cloister: no registry \"%s\" in this account\n", registry);
            json_decref(items);
            json_decref(body);
            return CLI_ENOTFOUND;
        }
        json_object_set_new(body, "registry_id", json_string(id));
        json_decref(items);
    }
    rc = cli_call(c, "POST", "/v1/images/inspect", body, &reply);
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
    if (rc == 0)
        cli_print_one(c, json_object_get(job, "result"), columns, "digest");
    json_decref(job);
    return rc;
}

const cli_command cli_image_commands[] = {
    { "image", "inspect", image_inspect, "REFERENCE [--registry REGISTRY] [--no-wait]",
      "read an image's digest, platform, entrypoint, env and ports (waits for the job)",
      "cloister image inspect acme.azurecr.io/shop/web:1.4 --registry acr" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
