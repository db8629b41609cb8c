/* audit.c - cloister audit list | verify. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "http_client.h"

static int audit_list(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "TIME", "at" }, { "ACTOR", "actor" }, { "ACTION", "action" },
        { "TARGET", "target" }, { "REQUEST", "request_id" }, { NULL, NULL },
    };
    const char *action = NULL, *actor = NULL, *target = NULL, *since = NULL, *until = NULL;
    const char *limit = NULL, *pos[1];
    const cli_flag flags[] = {
        { "--action", &action, 0, NULL }, { "--actor", &actor, 0, NULL }, { "--target", &target, 0, NULL },
        { "--since", &since, 0, NULL }, { "--until", &until, 0, NULL }, { "--limit", &limit, 0, NULL },
        { NULL, NULL, 0, NULL },
    };
    const char *names[] = { "action", "actor", "target", "since", "until" };
    char path[4096] = "/v1/audit";
    json_t *items;
    long max = 100;
    int npos, rc;

    if ((rc = cli_args(c, &cli_audit_commands[0], argc, argv, flags, pos, 0, 0, &npos)) != 0)
        return rc;
    if (limit != NULL) {
        char *end;

        max = strtol(limit, &end, 10);
        if (*end != '\0' || max < 0)
            return cli_usage_error(&cli_audit_commands[0], "--limit must be a number (0: all)");
    }
    const char *values[] = { action, actor, target, since, until };
    cli_query(path, sizeof(path), names, values, 5);
    if ((rc = cli_list(c, path, (size_t)max, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int audit_verify(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_audit_commands[1], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_call(c, "GET", "/v1/audit/verify", NULL, &reply)) != 0)
        return rc;
    int valid = json_is_true(json_object_get(reply.body, "valid"));
    json_t *bad = json_object_get(reply.body, "first_bad");
    if (c->format != CLI_TABLE || c->quiet) {
        cli_print_one(c, reply.body, NULL, "head");
    } else if (valid) {
        printf("The audit chain holds: %lld rows, head %s\n",
               (long long)json_integer_value(json_object_get(reply.body, "rows")),
               json_string_value(json_object_get(reply.body, "head")));
    } else {
        printf("The audit chain is BROKEN at row %s (seq %lld): %s\n",
               json_string_value(json_object_get(bad, "id")) ?
                   json_string_value(json_object_get(bad, "id")) : "-",
               (long long)json_integer_value(json_object_get(bad, "seq")),
               json_string_value(json_object_get(bad, "reason")));
    }
    cli_reply_free(&reply);
    return valid ? 0 : CLI_ECONFLICT;
}

const cli_command cli_audit_commands[] = {
    { "audit", "list", audit_list,
      "[--action A] [--actor ACTOR] [--target T] [--since TIME] [--until TIME] [--limit N]",
      "list the account's audit trail, newest first (100 rows unless --limit; 0 for all)",
      "cloister audit list --action member.add --since 2026-11-01T00:00:00Z" },
    { "audit", "verify", audit_verify, "",
      "check the account's audit hash chain; exits 4 when it is broken",
      "cloister audit verify" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
