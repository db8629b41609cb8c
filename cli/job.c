/*
 * job.c - cloister job list | show | logs | cancel, and worker list.
 *
 * `job logs -f` follows a job until it ends, printing each event as it
 * arrives (it asks /v1/jobs/{id}/events for what is new twice a second).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "token.h"

static const cli_column columns[] = {
    { "ID", "id" }, { "KIND", "kind" }, { "TARGET", "target" }, { "STATE", "state" },
    { "PROGRESS", "progress" }, { "ATTEMPTS", "attempts" }, { "CREATED", "created_at" },
    { NULL, NULL },
};

static const cli_column detail[] = {
    { "ID", "id" }, { "KIND", "kind" }, { "TARGET", "target" }, { "STATE", "state" },
    { "PHASE", "phase" }, { "PROGRESS", "progress" }, { "ATTEMPTS", "attempts" },
    { "MAX ATTEMPTS", "max_attempts" }, { "ERROR", "error" }, { "RESULT", "result" },
    { "CREATED", "created_at" }, { "STARTED", "started_at" }, { "FINISHED", "finished_at" },
    { NULL, NULL },
};

static int job_list(cli_ctx *c, int argc, char **argv)
{
    const char *kind = NULL, *state = NULL, *target = NULL, *pos[1];
    const cli_flag flags[] = { { "--kind", &kind, 0, NULL }, { "--state", &state, 0, NULL },
                               { "--target", &target, 0, NULL }, { NULL, NULL, 0, NULL } };
    const char *names[] = { "kind", "state", "target" }, *values[3];
    char path[2048] = "/v1/jobs";
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_job_commands[0], argc, argv, flags, pos, 0, 0, &npos)) != 0)
        return rc;
    values[0] = kind; values[1] = state; values[2] = target;
    for (size_t i = 0; i < 3; i++) {
        char *e = values[i] ? cl_http_escape(values[i]) : NULL;

        if (e == NULL)
            continue;
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s%s=%s",
                 strchr(path, '?') ? "&" : "?", names[i], e);
        free(e);
    }
    if ((rc = cli_list(c, path, 100, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int job_show(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_job_commands[1], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/jobs/%s", pos[0]);
    if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, detail, "id");
    cli_reply_free(&reply);
    return 0;
}

static void print_event(cli_ctx *c, json_t *e)
{
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *at = json_string_value(json_object_get(e, "at"));

    if (c->format == CLI_JSON) {
        char *line = json_dumps(e, JSON_COMPACT);
        puts(line ? line : "{}");
        free(line);
    } else if (type && strcmp(type, "progress") == 0) {
        printf("%.19s  progress %lld%%\n", at ? at : "",
               (long long)json_integer_value(json_object_get(e, "progress")));
    } else {
        printf("%.19s  %-8s %s\n", at ? at : "", type ? type : "", msg ? msg : "");
    }
    fflush(stdout);
}

static int job_logs(cli_ctx *c, int argc, char **argv)
{
    const char *follow = NULL, *pos[1];
    const cli_flag flags[] = { { "--follow", &follow, 1, NULL }, { "-f", &follow, 1, NULL },
                               { NULL, NULL, 0, NULL } };
    char path[512], *cursor = NULL;
    int npos, rc, ended = 0;

    /* -f is a short flag: accept it where cli_args expects long ones */
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "-f") == 0)
            argv[i] = "--follow";
    if ((rc = cli_args(c, &cli_job_commands[2], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    do {
        cli_reply reply, job;
        json_t *e;
        size_t i;

        snprintf(path, sizeof(path), "/v1/jobs/%s", pos[0]);
        if ((rc = cli_call(c, "GET", path, NULL, &job)) != 0)
            break;
        const char *state = json_string_value(json_object_get(job.body, "state"));
        ended = state && (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
                          strcmp(state, "canceled") == 0);
        cli_reply_free(&job);
        for (;;) {    /* everything new, page by page */
            snprintf(path, sizeof(path), "/v1/jobs/%s/events?limit=500%s%s", pos[0],
                     cursor ? "&cursor=" : "", cursor ? cursor : "");
            if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
                break;
            json_array_foreach(json_object_get(reply.body, "items"), i, e)
                print_event(c, e);
            json_t *next = json_object_get(reply.body, "next_cursor");
            if (json_array_size(json_object_get(reply.body, "items")) > 0) {
                /* resume after the last event seen, whether or not a page follows */
                json_t *last = json_array_get(json_object_get(reply.body, "items"),
                                              json_array_size(json_object_get(reply.body,
                                                                              "items")) - 1);
                char seq[32], enc[64];
                snprintf(seq, sizeof(seq), "%lld",
                         (long long)json_integer_value(json_object_get(last, "seq")));
                cl_b64url_encode(enc, (const unsigned char *)seq, strlen(seq));
                free(cursor);
                cursor = strdup(enc);
            }
            int more = json_is_string(next);
            cli_reply_free(&reply);
            if (!more)
                break;
        }
        if (rc != 0 || follow == NULL || ended)
            break;
        struct timespec half = { 0, 500 * 1000 * 1000 };
        nanosleep(&half, NULL);
    } while (1);
    free(cursor);
    return rc;
}

int cli_wait_job(cli_ctx *c, const char *id, json_t **out)
{
    int tty = isatty(STDERR_FILENO), rc, last_progress = -1;
    char path[256], last_phase[256] = "";

    if (out != NULL)
        *out = NULL;
    snprintf(path, sizeof(path), "/v1/jobs/%s", id);
    for (;;) {
        cli_reply reply;

        if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
            return rc;
        const char *state = json_string_value(json_object_get(reply.body, "state"));
        const char *phase = json_string_value(json_object_get(reply.body, "phase"));
        int progress = (int)json_integer_value(json_object_get(reply.body, "progress"));
        int ended = strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
                    strcmp(state, "canceled") == 0;

        if (!c->quiet && tty) {
            int filled = progress * 30 / 100;
            fprintf(stderr, "\r[%.*s%*s] %3d%%  %-10s %.40s", filled,
                    "##############################", 30 - filled, "", progress, state,
                    phase ? phase : "");
            if (ended)
                fputc('\n', stderr);
        } else if (!c->quiet && (progress != last_progress ||
                                 strcmp(phase ? phase : "", last_phase) != 0 || ended)) {
            fprintf(stderr, "%s %d%%%s%s\n", state, progress, phase ? " " : "",
                    phase ? phase : "");
        }
        last_progress = progress;
        snprintf(last_phase, sizeof(last_phase), "%s", phase ? phase : "");
        if (ended) {
            int ok = strcmp(state, "succeeded") == 0;
            const char *error = json_string_value(json_object_get(reply.body, "error"));

            if (!ok)
                fprintf(stderr, "cloister: job %s %s%s%s\n", id, state, error ? ": " : "",
                        error ? error : "");
            if (out != NULL)
                *out = json_incref(reply.body);
            cli_reply_free(&reply);
            return ok ? 0 : CLI_ESERVER;
        }
        cli_reply_free(&reply);
        struct timespec pause = { 0, 250 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
}

static int job_cancel(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_job_commands[3], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/jobs/%s/cancel", pos[0]);
    if ((rc = cli_call(c, "POST", path, NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, detail, "id");
    cli_reply_free(&reply);
    return 0;
}

static int worker_list(cli_ctx *c, int argc, char **argv)
{
    static const cli_column workers[] = {
        { "ID", "id" }, { "NAME", "name" }, { "HOST", "hostname" }, { "STATE", "state" },
        { "ALIVE", "alive" }, { "SLOTS", "slots" }, { "RUNNING", "running" },
        { "HEARTBEAT", "heartbeat_at" }, { NULL, NULL },
    };
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_job_commands[4], argc, argv, NULL, pos, 0, 0, &npos)) != 0 ||
        (rc = cli_list(c, "/v1/workers", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, workers, "id");
    json_decref(items);
    return 0;
}

const cli_command cli_job_commands[] = {
    { "job", "list", job_list, "[--kind KIND] [--state STATE] [--target TARGET]",
      "list the account's jobs, newest first (the latest 100)",
      "cloister job list --state running" },
    { "job", "show", job_show, "JOB", "show a job: state, progress, result or error",
      "cloister job show 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11" },
    { "job", "logs", job_logs, "JOB [-f|--follow]",
      "print a job's events; -f follows it until it ends",
      "cloister job logs -f 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11" },
    { "job", "cancel", job_cancel, "JOB", "cancel a queued or running job",
      "cloister job cancel 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11" },
    { "worker", "list", worker_list, "", "list the workers and whether they are alive",
      "cloister worker list" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
