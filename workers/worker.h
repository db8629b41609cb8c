/*
 * worker.h - cloister-worker: the queue, the job kinds, and what a job's
 * code sees while it runs.
 */
#ifndef CL_WORKER_H
#define CL_WORKER_H

#include "arena.h"
#include "error.h"
#include "pg.h"

#include <jansson.h>
#include <sys/types.h>

/* ---- what a job's code may use ------------------------------------------ */

/* How conversions are done: the runtime and the bounds on an image. */
typedef struct cl_convert_settings {
    const char *gramine_image;      /* the pinned runtime image */
    const char *gramine_pkglibdir;  /* where its files live in that image */
    const char *gramine_sgx;        /* the launcher the output runs */
    const char *untrusted_paths;    /* comma-separated: never trusted files */
    const char *init_binary;        /* cloister-init, put in front of attested apps */
    long long max_image_size;       /* uncompressed bytes over all layers */
    long long max_image_files;      /* entries over all layers */
} cl_convert_settings;

/* Where deployments reach Azure, and how they trust clusters' peers. */
typedef struct cl_deploy_settings {
    const char *azure_login_url;    /* Microsoft Entra ID */
    const char *arm_url;            /* Azure Resource Manager */
    const char *aks_api_version;
    const char *ca_file;            /* extra CAs for Azure's endpoints ("" : the system's) */
} cl_deploy_settings;

typedef struct cl_worker_env {
    const char *database_url;
    unsigned char kek[32];
    const char *insecure_registries;  /* comma-separated hosts reached over plain HTTP */
    long peer_timeout;                /* seconds a registry, Azure or Kubernetes request
                                       * may take */
    cl_convert_settings convert;
    cl_deploy_settings deploy;
} cl_worker_env;

extern cl_worker_env cl_worker;

/* ---- a job, as its code sees it (in the child process) ----------------- */

typedef struct cl_job cl_job;

const char *cl_job_id(const cl_job *j);
const char *cl_job_account(const cl_job *j);
json_t *cl_job_params(const cl_job *j);     /* borrowed */
int cl_job_attempt(const cl_job *j);

/* Report as the job runs; each becomes an event the API shows. */
void cl_job_progress(cl_job *j, int percent);
void cl_job_phase(cl_job *j, const char *phase);
void cl_job_log(cl_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A kind's code: return 0 and set *result (a new reference, may stay NULL),
 * or a negative code with the reason in err.  CL_ERROR and CL_EUNAVAILABLE
 * are worth another attempt; any other code (refused credentials, bad
 * input) fails the job at once.  It runs in a child process of its own; it
 * may block, crash or be killed without harming the worker.
 */
typedef int (*cl_job_fn)(cl_job *j, json_t **result, cl_error *err);

typedef struct cl_job_kind {
    const char *name;         /* "registry.check" */
    cl_job_fn run;
    int max_attempts;         /* when a job does not say */
    int time_limit_s;         /* the child is killed past it */
    int backoff_ms;           /* first retry delay; doubles each attempt */
    int backoff_max_ms;
} cl_job_kind;

extern const cl_job_kind cl_job_kinds[];
const cl_job_kind *cl_job_kind_find(const char *name);

/*
 * A client for a registry of the job's account: the one with id `id`, or,
 * with no id, the account's first registry for `host` (its credentials),
 * else an anonymous client for `host`, over TLS unless the worker's
 * insecure-registries setting names the host; its requests time out after
 * the worker's peer-timeout.  *host_out is the registry's host as
 * configured.
 */
struct cl_oci_client;
int cl_job_registry(cl_job *j, const char *id, const char *host,
                    struct cl_oci_client *client, char host_out[256], cl_error *err);

/* A connection of the job's own to the database; PQfinish it. */
int cl_job_db(PGconn **out, cl_error *err);

/* The convert job (workers/convert/convert.c). */
int cl_convert_run(cl_job *j, json_t **result, cl_error *err);

/* The cluster.check job (workers/deploy/cluster.c), and deploy and
 * undeploy (workers/deploy/deploy.c). */
int cl_cluster_check(cl_job *j, json_t **result, cl_error *err);
int cl_deploy_run(cl_job *j, json_t **result, cl_error *err);
int cl_undeploy_run(cl_job *j, json_t **result, cl_error *err);

/* ---- the queue (queue.c), used by the worker's parent process ----------- */

typedef struct cl_claim {
    char id[37];
    char account[37];
    char kind[65];
    int attempt;
    int max_attempts;
    json_t *params;           /* owned */
} cl_claim;

typedef struct cl_queue {
    cl_pg db;                 /* the parent's one connection (LISTEN, queries) */
    char worker_id[37];
    int lease_s;
} cl_queue;

int cl_queue_open(cl_queue *q, const char *conninfo, int lease_s, cl_error *err);
void cl_queue_close(cl_queue *q);

/* Register the worker, refresh its heartbeat, mark it draining or stopped. */
int cl_queue_register(cl_queue *q, const char *name, const char *const *kinds, int slots,
                      cl_error *err);
int cl_queue_worker_state(cl_queue *q, const char *state, cl_error *err);

/* Claim the next ready job of one of `kinds`; 0 with *found = 0 when none. */
int cl_queue_claim(cl_queue *q, const char *const *kinds, cl_claim *out, int *found,
                   cl_error *err);
void cl_claim_clear(cl_claim *c);

/* Extend the leases of these jobs; cancel[i] is set for each job someone
 * asked to cancel. */
int cl_queue_heartbeat(cl_queue *q, const char *const *ids, int n, int *cancel,
                       cl_error *err);

/* Return expired leases to the queue (or fail them when out of attempts). */
int cl_queue_reap(cl_queue *q, cl_error *err);

typedef enum {
    CL_OUTCOME_SUCCEEDED,
    CL_OUTCOME_FAILED,
    CL_OUTCOME_CANCELED,
    CL_OUTCOME_HANDED_BACK,   /* the worker is stopping: not the job's fault */
} cl_outcome;

/* Settle an attempt: result (borrowed) for success, error text otherwise.
 * A failure with attempts left is queued again after a backoff. */
int cl_queue_finish(cl_queue *q, const cl_claim *c, const cl_job_kind *kind,
                    cl_outcome outcome, json_t *result, const char *error, int permanent,
                    cl_error *err);

/* Settle an attempt and, in the same statement, claim the next job of
 * `kinds` (*found says whether there was one). */
int cl_queue_finish_claim(cl_queue *q, const cl_claim *c, const cl_job_kind *kind,
                          cl_outcome outcome, json_t *result, const char *error, int permanent,
                          const char *const *kinds, cl_claim *next, int *found, cl_error *err);

/* Append an event a job reported. */
int cl_queue_event(cl_queue *q, const char *job_id, const char *type, const char *message,
                   int progress, cl_error *err);

/* The LISTEN channel's socket, and draining its notifications: 1 when one
 * of them asked for a cancel (heartbeat now), 0 otherwise, -1 when the
 * connection failed. */
int cl_queue_socket(cl_queue *q);
int cl_queue_notified(cl_queue *q);

/* The delay before attempt `next` (2, 3, ...) with jitter, in ms. */
long cl_queue_backoff_ms(const cl_job_kind *kind, int next);

/* ---- running a job in a child (child.c) --------------------------------- */

typedef struct cl_child {
    pid_t pid;
    int fd;                   /* the child's report pipe, read end */
    char line[8192];
    size_t len;
} cl_child;

/* Fork a child that runs kind->run for claim c and reports on a pipe. */
int cl_child_start(cl_child *ch, const cl_job_kind *kind, const cl_claim *c,
                   long long memory_limit, cl_error *err);

/* Read what the child reported so far; each complete line is passed to
 * on_line.  Returns 1 at end of file. */
int cl_child_read(cl_child *ch, void (*on_line)(void *ctx, json_t *msg), void *ctx);

#endif
