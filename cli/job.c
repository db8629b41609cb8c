/*
 * job.c - cloister job list | show | logs | cancel, and worker list.
 *
 * `job logs -f` follows a job until it ends, printing each event as it
 * arrives: it reads /v1/jobs/{id}/events as Server-Sent Events, and if the
 * stream breaks it reconnects with Last-Event-ID, so nothing is printed
 * twice or missed.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

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
    const char *names[] = { "kind", "state", "target" };
    char path[2048] = "/v1/jobs";
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_job_commands[0], argc, argv, flags, pos, 0, 0, &npos)) != 0)
        return rc;
    const char *values[] = { kind, state, target };
    cli_query(path, sizeof(path), names, values, 3);
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

/* Server-Sent Events, parsed as they arrive: fields of the current event
 * until a blank line, then the event is printed. */
typedef struct sse_reader {
    cli_ctx *c;
    char line[16384];
    size_t len;
    char id[32], event[32];
    char *data;
    int ended;
    char last_id[32];
} sse_reader;

static void sse_line(sse_reader *s, const char *line)
{
    if (line[0] == '\0') {                  /* end of an event */
        if (strcmp(s->event, "end") == 0) {
            s->ended = 1;
        } else if (s->data != NULL) {
            json_t *e = json_loads(s->data, 0, NULL);
            if (e != NULL)
                print_event(s->c, e);
            json_decref(e);
        }
        if (s->id[0] != '\0')
            snprintf(s->last_id, sizeof(s->last_id), "%s", s->id);
        free(s->data);
        s->data = NULL;
        s->id[0] = s->event[0] = '\0';
    } else if (strncmp(line, "id: ", 4) == 0) {
        snprintf(s->id, sizeof(s->id), "%s", line + 4);
    } else if (strncmp(line, "event: ", 7) == 0) {
        snprintf(s->event, sizeof(s->event), "%s", line + 7);
    } else if (strncmp(line, "data: ", 6) == 0) {
        free(s->data);
        s->data = strdup(line + 6);
    }                                       /* ": comment" lines keep the stream alive */
}

static int sse_data(void *ctx, const char *data, size_t len)
{
    sse_reader *s = ctx;

    for (size_t i = 0; i < len && !s->ended; i++) {
        if (data[i] == '\n') {
            s->line[s->len] = '\0';
            sse_line(s, s->line);
            s->len = 0;
        } else if (s->len < sizeof(s->line) - 1) {
            s->line[s->len++] = data[i];
        }
    }
    return s->ended;
}

int cli_follow_job(cli_ctx *c, const char *id)
{
    cl_http_options opt = { .ca_file = c->ca_file, .insecure = c->insecure };
    sse_reader s = { .c = c };
    char url[8192], auth[512], csrf[256], last[64];
    int rc = 0;

    while (!s.ended) {
        const char *headers[5] = { "Accept: text/event-stream" };
        size_t n = 1;
        cl_error err = { 0 };
        long status;

        n += cli_auth_headers(c, "GET", headers + n, auth, sizeof(auth), csrf, sizeof(csrf));
        if (s.last_id[0] != '\0') {         /* resume after the last event printed */
            snprintf(last, sizeof(last), "Last-Event-ID: %s", s.last_id);
            headers[n++] = last;
        }
        headers[n] = NULL;
        snprintf(url, sizeof(url), "%s/v1/jobs/%s/events", c->url, id);
        if (cl_http_stream(&opt, url, headers, sse_data, &s, &status, &err) < 0) {
            fprintf(stderr, "cloister: %s; reconnecting\n", err.message);
            cl_error_clear(&err);
            struct timespec pause = { 1, 0 };
            nanosleep(&pause, NULL);
            continue;
        }
        if (status != 200) {
            cli_reply reply;        /* the problem, said the usual way */
            char path[256];
            snprintf(path, sizeof(path), "/v1/jobs/%s/events", id);
            rc = cli_call(c, "GET", path, NULL, &reply);
            if (rc == 0) {
                cli_reply_free(&reply);
                rc = cli_exit_for_status(status);
            }
            break;
        }
    }
    free(s.data);
    return rc;
}

static int job_logs(cli_ctx *c, int argc, char **argv)
{
    const char *follow = NULL, *pos[1];
    const cli_flag flags[] = { { "--follow", &follow, 1, NULL }, { "-f", &follow, 1, NULL },
                               { NULL, NULL, 0, NULL } };
    char path[512];
    json_t *items, *e;
    size_t i;
    int npos, rc;

    /* -f is a short flag: accept it where cli_args expects long ones */
    for (int k = 0; k < argc; k++)
        if (strcmp(argv[k], "-f") == 0)
            argv[k] = "--follow";
    if ((rc = cli_args(c, &cli_job_commands[2], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    if (follow != NULL)
        return cli_follow_job(c, pos[0]);
    snprintf(path, sizeof(path), "/v1/jobs/%s/events?limit=500", pos[0]);
    if ((rc = cli_list(c, path, 0, &items)) != 0)
        return rc;
    json_array_foreach(items, i, e)
        print_event(c, e);
    json_decref(items);
    return 0;
}

int cli_accepted(cli_ctx *c, cli_reply *reply, int nowait, json_t **job)
{
    static const cli_column queued[] = { { "JOB", "id" }, { "STATE", "state" }, { NULL, NULL } };
    int rc = 0;

    *job = NULL;
    if (nowait)
        cli_print_one(c, reply->body, queued, "id");
    else
        rc = cli_wait_job(c, json_string_value(json_object_get(reply->body, "id")), job);
    cli_reply_free(reply);
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
