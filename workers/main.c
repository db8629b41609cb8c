/*
 * main.c - cloister-worker: claims jobs and runs each attempt in a child.
 *
 * One process, one thread, one database connection, N slots.  The loop:
 *
 *   1. while a slot is free and we are not stopping, claim a job and fork a
 *      child for it (workers/child.c);
 *   2. poll the LISTEN socket (new work), a signalfd (SIGCHLD, SIGTERM,
 *      SIGINT) and the children's report pipes, never longer than the next
 *      heartbeat, reap, time limit or stop deadline;
 *   3. write what children report as job events; settle each attempt when
 *      its child exits (workers/queue.c says how);
 *   4. heartbeat: renew leases, and stop children whose job was canceled;
 *      reap: return other workers' expired leases to the queue.
 *
 * SIGTERM or SIGINT: stop claiming, give running attempts --grace seconds,
 * then stop them and hand their jobs back without spending the attempt.
 */
#include "config.h"
#include "kek.h"
#include "log.h"
#include "worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOTS 64
#define MAX_KINDS 32
#define CANCEL_GRACE_MS 2000

typedef struct settings {
    char *database_url;
    char *kek_file;
    char *kinds;
    char *name;
    long long slots;
    long long lease;
    long long poll_interval;
    long long grace;
    long long job_memory_limit;
    char *log_format;
    char *log_level;
    char *insecure_registries;
    char *gramine_image;
    char *gramine_pkglibdir;
    char *gramine_sgx;
    char *untrusted_paths;
    char *init_binary;
    char *azure_login_url;
    char *arm_url;
    char *aks_api_version;
    char *azure_ca_file;
    long long max_image_size;
    long long max_image_files;
    long long peer_timeout;
} settings;

#define S(field) offsetof(settings, field)
static const cl_config_setting table[] = {
    { "database-url", CL_CFG_STRING, S(database_url), "postgresql:///cloister", 0, 0,
      "PostgreSQL connection URL or libpq connection string" },
    { "kek-file", CL_CFG_STRING, S(kek_file), NULL, 0, 0,
      "key-encryption key, the same file the daemon has (required)" },
    { "kinds", CL_CFG_STRING, S(kinds), "", 0, 0,
      "comma-separated job kinds to serve (default: every kind this worker knows)" },
    { "name", CL_CFG_STRING, S(name), "", 0, 0,
      "a name for /v1/workers (default: host name and process id)" },
    { "slots", CL_CFG_INT, S(slots), "2", 1, MAX_SLOTS, "jobs run at once" },
    { "lease", CL_CFG_INT, S(lease), "30", 3, 3600,
      "seconds a claim lasts without a heartbeat; renewed every third of it" },
    { "poll-interval", CL_CFG_INT, S(poll_interval), "5", 1, 600,
      "seconds between looks at the queue when no notification comes" },
    { "grace", CL_CFG_INT, S(grace), "30", 0, 3600,
      "seconds running jobs get to finish after SIGTERM before they are handed back" },
    { "job-memory-limit", CL_CFG_SIZE, S(job_memory_limit), "0", 0, 1LL << 40,
      "address-space limit of each job's process (0: none)" },
    { "log-format", CL_CFG_STRING, S(log_format), "json", 0, 0, "json or text" },
    { "log-level", CL_CFG_STRING, S(log_level), "info", 0, 0, "debug, info, warn or error" },
    { "insecure-registries", CL_CFG_STRING, S(insecure_registries), "", 0, 0,
      "comma-separated registry hosts reached over plain HTTP when no account registry "
      "says how (the runtime image's, on a private network)" },
    { "gramine-image", CL_CFG_STRING, S(gramine_image),
      "ghcr.io/cloister-dev/gramine-runtime:1.9", 0, 0,
      "the Gramine runtime image merged into converted images (docs/enclaves.md)" },
    { "gramine-pkglibdir", CL_CFG_STRING, S(gramine_pkglibdir),
      "/usr/lib/x86_64-linux-gnu/gramine", 0, 0, "where the runtime image keeps Gramine's files" },
    { "gramine-sgx", CL_CFG_STRING, S(gramine_sgx), "/usr/bin/gramine-sgx", 0, 0,
      "the launcher a converted image runs" },
    { "init-binary", CL_CFG_STRING, S(init_binary), "", 0, 0,
      "cloister-init, which conversions put in front of apps that attest (default: beside "
      "this program)" },
    { "azure-login-url", CL_CFG_STRING, S(azure_login_url), "https://login.microsoftonline.com",
      0, 0, "Microsoft Entra ID, whence service principals' tokens come" },
    { "arm-url", CL_CFG_STRING, S(arm_url), "https://management.azure.com", 0, 0,
      "Azure Resource Manager" },
    { "aks-api-version", CL_CFG_STRING, S(aks_api_version), "2024-09-01", 0, 0,
      "the AKS REST API version used" },
    { "peer-timeout", CL_CFG_INT, S(peer_timeout), "30", 1, 600,
      "seconds a request to a registry, Entra ID, ARM or a Kubernetes API server may take "
      "before it is given up (and tried again as the job allows)" },
    { "azure-ca-file", CL_CFG_STRING, S(azure_ca_file), "", 0, 0,
      "a PEM file of CAs trusted for Azure's endpoints beside the system's (for tests)" },
    { "untrusted-paths", CL_CFG_STRING, S(untrusted_paths), "/boot,/dev,/proc,/sys,/var,/tmp,/run",
      0, 0, "comma-separated paths whose files a manifest never trusts" },
    { "max-image-size", CL_CFG_SIZE, S(max_image_size), "16G", 1LL << 20, 1LL << 40,
      "the most uncompressed bytes a converted image may hold (bounds decompression)" },
    { "max-image-files", CL_CFG_INT, S(max_image_files), "1000000", 1000, 100000000,
      "the most entries a converted image may hold, over all its layers" },
};
#define NSETTINGS (sizeof(table) / sizeof(table[0]))

typedef struct slot {
    int busy;
    cl_claim claim;
    const cl_job_kind *kind;
    cl_child child;
    long long started_ms;
    long long kill_at_ms;        /* when a canceled or late child gets SIGKILL */
    int canceled, timed_out, handing_back, eof, permanent;
    json_t *result;
    char error[1024];
} slot;

typedef struct worker {
    settings cfg;
    cl_queue q;
    const char *kinds[MAX_KINDS + 1];
    slot slots[MAX_SLOTS];
    int stopping;
    long long stop_deadline_ms;
} worker;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int busy_count(worker *w)
{
    int n = 0;

    for (int i = 0; i < w->cfg.slots; i++)
        n += w->slots[i].busy;
    return n;
}

/* ---- what children report ------------------------------------------------ */

typedef struct report_ctx {
    worker *w;
    slot *s;
} report_ctx;

static void on_report(void *ctx, json_t *msg)
{
    report_ctx *r = ctx;
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *text = json_string_value(json_object_get(msg, "message"));
    cl_error err = { 0 };

    if (type == NULL)
        return;
    if (strcmp(type, "result") == 0) {
        json_decref(r->s->result);
        r->s->result = json_incref(json_object_get(msg, "result"));
        if (r->s->result == NULL)
            r->s->result = json_null();
    } else if (strcmp(type, "error") == 0) {
        snprintf(r->s->error, sizeof(r->s->error), "%s", text ? text : "the job failed");
        r->s->permanent = json_is_true(json_object_get(msg, "permanent"));
    } else if (strcmp(type, "progress") == 0 || strcmp(type, "phase") == 0 ||
               strcmp(type, "log") == 0) {
        if (cl_queue_event(&r->w->q, r->s->claim.id, type, text,
                           (int)json_integer_value(json_object_get(msg, "progress")), &err) < 0)
            cl_log_warn("could not record an event of job %s: %s", r->s->claim.id, err.message);
    }
    cl_error_clear(&err);
}

/* Run a claimed job in slot s: fork its child.  A fork that fails fails
 * the attempt (it is retried like any other failure). */
static int start(worker *w, slot *s, cl_claim *claimed)
{
    cl_error err = { 0 };

    s->claim = *claimed;
    s->kind = cl_job_kind_find(s->claim.kind);
    s->busy = 1;
    s->started_ms = now_ms();
    if (cl_child_start(&s->child, s->kind, &s->claim, w->cfg.job_memory_limit, &err) < 0) {
        snprintf(s->error, sizeof(s->error), "%s", err.message);
        cl_queue_finish(&w->q, &s->claim, s->kind, CL_OUTCOME_FAILED, NULL, s->error, 0, &err);
        cl_claim_clear(&s->claim);
        memset(s, 0, sizeof(*s));
        cl_error_clear(&err);
        return -1;
    }
    return 0;
}

/* ---- settling an attempt when its child is gone ----------------------------- */

static void settle(worker *w, slot *s, int status, const struct rusage *usage)
{
    report_ctx ctx = { w, s };
    cl_outcome outcome;
    char why[1200];
    cl_error err = { 0 };

    while (!s->eof)
        s->eof = cl_child_read(&s->child, on_report, &ctx);
    close(s->child.fd);

    if (s->handing_back) {
        outcome = CL_OUTCOME_HANDED_BACK;
        snprintf(why, sizeof(why), "the worker stopped; the job goes back to the queue");
    } else if (s->canceled) {
        outcome = CL_OUTCOME_CANCELED;
        snprintf(why, sizeof(why), "canceled");
    } else if (s->timed_out) {
        outcome = CL_OUTCOME_FAILED;
        snprintf(why, sizeof(why), "attempt %d took longer than the %d s time limit of %s jobs",
                 s->claim.attempt, s->kind->time_limit_s, s->kind->name);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && s->result != NULL) {
        outcome = CL_OUTCOME_SUCCEEDED;
        why[0] = '\0';
    } else if (WIFSIGNALED(status)) {
        outcome = CL_OUTCOME_FAILED;
        snprintf(why, sizeof(why), "attempt %d was killed by signal %d (SIG%s)",
                 s->claim.attempt, WTERMSIG(status), sigabbrev_np(WTERMSIG(status))
                 ? sigabbrev_np(WTERMSIG(status)) : "?");
    } else {
        outcome = CL_OUTCOME_FAILED;
        snprintf(why, sizeof(why), "%s", s->error[0] ? s->error : "the job's process ended "
                 "without saying why");
    }
    /* settle, and unless stopping take the next job in the same round trip */
    cl_claim next;
    int found = 0;
    if (cl_queue_finish_claim(&w->q, &s->claim, s->kind, outcome,
                              outcome == CL_OUTCOME_SUCCEEDED ? s->result : NULL,
                              outcome == CL_OUTCOME_SUCCEEDED ? NULL : why, s->permanent,
                              w->stopping ? NULL : w->kinds, &next, &found, &err) < 0)
        cl_log_error("could not settle job %s: %s", s->claim.id, err.message);
    cl_log_kv(outcome == CL_OUTCOME_SUCCEEDED ? CL_LOG_DEBUG : CL_LOG_INFO,
              json_pack("{s:s, s:s, s:i, s:s, s:I, s:I, s:I}", "job", s->claim.id,
                        "kind", s->claim.kind, "attempt", s->claim.attempt, "outcome",
                        outcome == CL_OUTCOME_SUCCEEDED ? "succeeded" : why,
                        "ms", (json_int_t)(now_ms() - s->started_ms),
                        "cpu_ms", (json_int_t)((usage->ru_utime.tv_sec + usage->ru_stime.tv_sec)
                                               * 1000 + (usage->ru_utime.tv_usec +
                                                         usage->ru_stime.tv_usec) / 1000),
                        "peak_rss_kib", (json_int_t)usage->ru_maxrss),
              "attempt ended");
    cl_error_clear(&err);
    json_decref(s->result);
    cl_claim_clear(&s->claim);
    memset(s, 0, sizeof(*s));
    if (found)
        start(w, s, &next);
}

static void reap_children(worker *w)
{
    struct rusage usage;
    int status;
    pid_t pid;

    while ((pid = wait4(-1, &status, WNOHANG, &usage)) > 0)
        for (int i = 0; i < w->cfg.slots; i++)
            if (w->slots[i].busy && w->slots[i].child.pid == pid)
                settle(w, &w->slots[i], status, &usage);
}

/* ---- claiming, heartbeats, limits ------------------------------------------- */

static void claim_more(worker *w)
{
    cl_error err = { 0 };

    while (!w->stopping && busy_count(w) < w->cfg.slots) {
        slot *s = NULL;
        int found;

        for (int i = 0; i < w->cfg.slots && s == NULL; i++)
            if (!w->slots[i].busy)
                s = &w->slots[i];
        if (cl_queue_claim(&w->q, w->kinds, &s->claim, &found, &err) < 0) {
            cl_log_warn("could not claim a job: %s", err.message);
            break;
        }
        if (!found)
            break;
        cl_claim claimed = s->claim;
        if (start(w, s, &claimed) < 0)
            break;
    }
    cl_error_clear(&err);
}

static void heartbeat(worker *w)
{
    const char *ids[MAX_SLOTS];
    int cancel[MAX_SLOTS], n = 0, map[MAX_SLOTS];
    cl_error err = { 0 };

    for (int i = 0; i < w->cfg.slots; i++)
        if (w->slots[i].busy) {
            map[n] = i;
            ids[n++] = w->slots[i].claim.id;
        }
    if (cl_queue_heartbeat(&w->q, ids, n, cancel, &err) < 0) {
        cl_log_warn("heartbeat failed: %s", err.message);
    } else {
        for (int k = 0; k < n; k++) {
            slot *s = &w->slots[map[k]];

            if (cancel[k] && !s->canceled) {
                s->canceled = 1;
                s->kill_at_ms = now_ms() + CANCEL_GRACE_MS;
                kill(s->child.pid, SIGTERM);
            }
        }
    }
    cl_error_clear(&err);
}

static void enforce_limits(worker *w)
{
    long long now = now_ms();

    for (int i = 0; i < w->cfg.slots; i++) {
        slot *s = &w->slots[i];

        if (!s->busy)
            continue;
        if (!s->timed_out && now - s->started_ms > (long long)s->kind->time_limit_s * 1000) {
            s->timed_out = 1;
            kill(s->child.pid, SIGKILL);
        }
        if (s->kill_at_ms != 0 && now >= s->kill_at_ms) {
            kill(s->child.pid, SIGKILL);
            s->kill_at_ms = 0;
        }
        if (w->stopping && now >= w->stop_deadline_ms && !s->handing_back) {
            s->handing_back = 1;
            kill(s->child.pid, SIGKILL);
        }
    }
}

/* ---- set-up ---------------------------------------------------------------- */

static int parse_kinds(worker *w, cl_error *err)
{
    size_t n = 0;

    if (w->cfg.kinds[0] == '\0') {
        for (const cl_job_kind *k = cl_job_kinds; k->name != NULL && n < MAX_KINDS; k++)
            w->kinds[n++] = k->name;
    } else {
        for (char *tok = strtok(w->cfg.kinds, ","); tok != NULL && n < MAX_KINDS;
             tok = strtok(NULL, ",")) {
            if (cl_job_kind_find(tok) == NULL)
                return cl_error_set(err, CL_EINVALID, "this worker knows no job kind \"%s\"", tok);
            w->kinds[n++] = tok;
        }
    }
    w->kinds[n] = NULL;
    return n > 0 ? 0 : cl_error_set(err, CL_EINVALID, "no job kinds to serve");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: cloister-worker [OPTIONS]\n\n"
                 "Claims Cloister's jobs from PostgreSQL and runs each attempt in a child\n"
                 "process. Job kinds:");
    for (const cl_job_kind *k = cl_job_kinds; k->name != NULL; k++)
        fprintf(out, " %s", k->name);
    fprintf(out, "\n\noptions (each also from the environment, or from the --config file):\n");
    cl_config_help(out, table, NSETTINGS);
    fprintf(out, "  --help                         show this help\n\n"
                 "example:\n  cloister-worker --database-url postgresql:///cloister "
                 "--kek-file /etc/cloister/kek --slots 4\n");
}

cl_worker_env cl_worker;

static int run(worker *w, cl_error *err)
{
    char name[300];
    sigset_t mask;
    int sfd, rc;
    long long next_beat = 0, next_reap = 0;

    if ((rc = cl_kek_load(cl_worker.kek, w->cfg.kek_file, err)) < 0 ||
        (rc = parse_kinds(w, err)) < 0)
        return rc;
    cl_worker.database_url = w->cfg.database_url;
    cl_worker.insecure_registries = w->cfg.insecure_registries;
    cl_worker.peer_timeout = (long)w->cfg.peer_timeout;
    static char init[4096];
    if (w->cfg.init_binary[0] != '\0') {
        snprintf(init, sizeof(init), "%s", w->cfg.init_binary);
    } else {                                    /* beside this program */
        ssize_t n = readlink("/proc/self/exe", init, sizeof(init) - 32);
        char *slash = n > 0 ? memrchr(init, '/', (size_t)n) : NULL;
        snprintf(slash ? slash + 1 : init, 32, "cloister-init");
    }
    cl_worker.convert = (cl_convert_settings){
        w->cfg.gramine_image, w->cfg.gramine_pkglibdir, w->cfg.gramine_sgx,
        w->cfg.untrusted_paths, init, w->cfg.max_image_size, w->cfg.max_image_files };
    cl_worker.deploy = (cl_deploy_settings){
        w->cfg.azure_login_url, w->cfg.arm_url, w->cfg.aks_api_version, w->cfg.azure_ca_file };
    if ((rc = cl_queue_open(&w->q, w->cfg.database_url, (int)w->cfg.lease, err)) < 0 ||
        (rc = cl_kek_check(&w->q.db, cl_worker.kek, err)) < 0)
        return rc;
    if (w->cfg.name[0] != '\0') {
        snprintf(name, sizeof(name), "%s", w->cfg.name);
    } else {
        char host[256] = "";
        gethostname(host, sizeof(host) - 1);
        snprintf(name, sizeof(name), "%s-%ld", host, (long)getpid());
    }
    if ((rc = cl_queue_register(&w->q, name, w->kinds, (int)w->cfg.slots, err)) < 0)
        return rc;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    cl_log_kv(CL_LOG_INFO, json_pack("{s:s, s:s, s:I}", "worker", w->q.worker_id, "name", name,
              "slots", (json_int_t)w->cfg.slots), "cloister-worker is serving");

    for (;;) {
        struct pollfd fds[2 + MAX_SLOTS];
        int idx[2 + MAX_SLOTS], nfds = 0;
        long long now = now_ms(), wait;

        claim_more(w);
        if (w->stopping && busy_count(w) == 0)
            break;
        if (now >= next_beat) {
            heartbeat(w);
            next_beat = now + w->cfg.lease * 1000 / 3;
        }
        if (now >= next_reap) {
            cl_error rerr = { 0 };
            if (cl_queue_reap(&w->q, &rerr) < 0)
                cl_log_warn("could not reap expired leases: %s", rerr.message);
            cl_error_clear(&rerr);
            next_reap = now + w->cfg.poll_interval * 1000;
        }
        enforce_limits(w);

        fds[nfds].fd = sfd;
        fds[nfds++].events = POLLIN;
        fds[nfds].fd = cl_queue_socket(&w->q);
        fds[nfds++].events = POLLIN;
        for (int i = 0; i < w->cfg.slots; i++)
            if (w->slots[i].busy && !w->slots[i].eof) {
                idx[nfds] = i;
                fds[nfds].fd = w->slots[i].child.fd;
                fds[nfds++].events = POLLIN;
            }
        wait = (next_beat < next_reap ? next_beat : next_reap) - now;
        if (wait > 250 && busy_count(w) > 0)
            wait = 250;      /* time limits and cancels are checked at least this often */
        if (wait < 0)
            wait = 0;
        if (poll(fds, (nfds_t)nfds, (int)wait) < 0 && errno != EINTR)
            return cl_error_set(err, CL_ERROR, "poll failed: %s", strerror(errno));

        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;

            while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGCHLD)
                    continue;
                if (!w->stopping) {
                    cl_error serr = { 0 };

                    w->stopping = 1;
                    w->stop_deadline_ms = now_ms() + w->cfg.grace * 1000;
                    cl_log_info("received SIG%s; finishing %d running job(s) within %lld s",
                                sigabbrev_np((int)si.ssi_signo), busy_count(w), w->cfg.grace);
                    cl_queue_worker_state(&w->q, "draining", &serr);
                    cl_error_clear(&serr);
                }
            }
        }
        /* Every time, not only when the socket is readable: a notification
         * that arrived while another query ran was read by libpq then, and
         * waits in its queue without making the socket readable again. */
        if (cl_queue_notified(&w->q) == 1)
            next_beat = 0;      /* someone asked to cancel: look now */
        for (int k = 2; k < nfds; k++)
            if (fds[k].revents & (POLLIN | POLLHUP)) {
                slot *s = &w->slots[idx[k]];
                report_ctx ctx = { w, s };

                s->eof = cl_child_read(&s->child, on_report, &ctx);
            }
        reap_children(w);
    }
    cl_error serr = { 0 };
    cl_queue_worker_state(&w->q, "stopped", &serr);
    cl_error_clear(&serr);
    cl_queue_close(&w->q);
    close(sfd);
    cl_log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    static worker w;
    cl_error err = { 0 };
    int rc;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    if ((rc = cl_config_load(&w.cfg, table, NSETTINGS, argc - 1, argv + 1, &err)) < 0) {
        fprintf(stderr, "cloister-worker: %s\n", err.message);
        cl_config_free(&w.cfg, table, NSETTINGS);
        return 2;
    }
    int format = cl_log_format_parse(w.cfg.log_format), level = cl_log_level_parse(w.cfg.log_level);
    if (format < 0 || level < 0) {
        fprintf(stderr, "cloister-worker: --log-format must be json or text and --log-level "
                        "debug, info, warn or error\n");
        cl_config_free(&w.cfg, table, NSETTINGS);
        return 2;
    }
    cl_log_setup((cl_log_format)format, (cl_log_level)level, stderr);
    rc = run(&w, &err);
    if (rc < 0)
        cl_log_error("%s", err.message);
    cl_config_free(&w.cfg, table, NSETTINGS);
    cl_error_clear(&err);
    return rc < 0 ? 1 : 0;
}
