/*
 * child.c - each attempt runs in a forked child process.
 *
 * The child runs the kind's code and reports on a pipe, one JSON object per
 * line: {"type":"progress","progress":40}, {"type":"phase","message":...},
 * {"type":"log","message":...}, and last {"type":"result","result":...} or
 * {"type":"error","message":...}.  The parent writes them to the database,
 * so the child needs no connection of its own unless its work does.
 *
 * The child gets limits of its own (no core files, CPU time a little over
 * the kind's time limit, optionally an address-space limit) and dies with
 * its parent (PR_SET_PDEATHSIG), so a worker killed outright leaves no
 * orphan behind to finish work whose lease someone else will take.
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

struct cl_job {
    const cl_claim *claim;
    FILE *out;
};

const char *cl_job_id(const cl_job *j) { return j->claim->id; }
const char *cl_job_account(const cl_job *j) { return j->claim->account; }
json_t *cl_job_params(const cl_job *j) { return j->claim->params; }
int cl_job_attempt(const cl_job *j) { return j->claim->attempt; }

static void report(cl_job *j, json_t *msg)
{
    char *line = json_dumps(msg, JSON_COMPACT);

    if (line != NULL) {
        fputs(line, j->out);
        fputc('\n', j->out);
        fflush(j->out);
        free(line);
    }
    json_decref(msg);
}

void cl_job_progress(cl_job *j, int percent)
{
    report(j, json_pack("{s:s, s:i}", "type", "progress", "progress", percent));
}

void cl_job_phase(cl_job *j, const char *phase)
{
    report(j, json_pack("{s:s, s:s}", "type", "phase", "message", phase));
}

void cl_job_log(cl_job *j, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    report(j, json_pack("{s:s, s:s%}", "type", "log", "message", msg, strlen(msg)));
}

static void set_limit(int resource, rlim_t value)
{
    struct rlimit rl = { value, value };

    setrlimit(resource, &rl);
}

static void child_main(int fd, const cl_job_kind *kind, const cl_claim *c,
                       long long memory_limit)
{
    cl_job job = { c, fdopen(fd, "w") };
    json_t *result = NULL;
    cl_error err = { 0 };
    int rc;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        _exit(111);         /* the parent died before we were set up */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_IGN);
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_CPU, (rlim_t)kind->time_limit_s + 5);
    if (memory_limit > 0)
        set_limit(RLIMIT_AS, (rlim_t)memory_limit);
    if (job.out == NULL)
        _exit(112);

    rc = kind->run(&job, &result, &err);
    if (rc == 0)
        report(&job, json_pack("{s:s, s:o?}", "type", "result", "result", result));
    else
        report(&job, json_pack("{s:s, s:s, s:b}", "type", "error", "message",
                               err.message[0] ? err.message : "the job failed", "permanent",
                               rc != CL_ERROR && rc != CL_EUNAVAILABLE));
    fclose(job.out);
    cl_error_clear(&err);
    _exit(rc == 0 ? 0 : 1);
}

int cl_child_start(cl_child *ch, const cl_job_kind *kind, const cl_claim *c,
                   long long memory_limit, cl_error *err)
{
    int fds[2];
    pid_t pid;

    memset(ch, 0, sizeof(*ch));
    if (pipe2(fds, O_CLOEXEC) < 0)
        return cl_error_set(err, CL_ERROR, "could not make a pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return cl_error_set(err, CL_ERROR, "could not fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], kind, c, memory_limit);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    ch->pid = pid;
    ch->fd = fds[0];
    return 0;
}

int cl_child_read(cl_child *ch, void (*on_line)(void *ctx, json_t *msg), void *ctx)
{
    for (;;) {
        ssize_t n = read(ch->fd, ch->line + ch->len, sizeof(ch->line) - 1 - ch->len);

        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : 1;
        if (n == 0)
            return 1;
        ch->len += (size_t)n;
        ch->line[ch->len] = '\0';
        char *start = ch->line, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            json_t *msg;

            *nl = '\0';
            msg = json_loads(start, 0, NULL);
            if (msg != NULL) {
                on_line(ctx, msg);
                json_decref(msg);
            }
            start = nl + 1;
        }
        ch->len -= (size_t)(start - ch->line);
        memmove(ch->line, start, ch->len);
        if (ch->len == sizeof(ch->line) - 1)
            ch->len = 0;     /* a line longer than the buffer is dropped, not waited for */
    }
}
