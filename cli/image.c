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
        char id[64];

        if ((rc = cli_find(c, "/v1/registries?limit=500", "id", "name", 0, registry, "registry",
                           id, sizeof(id))) != 0) {
            json_decref(body);
            return rc;
        }
        json_object_set_new(body, "registry_id", json_string(id));
    }
    rc = cli_call(c, "POST", "/v1/images/inspect", body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    rc = cli_accepted(c, &reply, nowait != NULL, &job);
    if (rc == 0 && job != NULL)
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
