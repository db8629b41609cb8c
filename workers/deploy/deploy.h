/*
 * deploy.h - how the worker reaches clusters (workers/deploy/): the
 * Kubernetes API (kube.c), Microsoft Entra ID tokens (azure.c), and the
 * cluster jobs (cluster.c).
 */
#ifndef CL_DEPLOY_H
#define CL_DEPLOY_H

#include "error.h"
#include "http_client.h"
#include "kubeconfig.h"
#include "runtime.h"
#include "sgx/sigstruct.h"
#include "worker.h"

#include <jansson.h>
#include <time.h>

/* ---- Microsoft Entra ID (azure.c) ---------------------------------------- */

/* A service principal signed in to Microsoft Entra ID (the client-
 * credentials flow, from the worker's azure-login-url) for one scope
 * ("<resource>/.default"), with what it takes to sign in again.
 * cl_entra_open fails with CL_EUNAUTHORIZED, in Entra's own words, when
 * the credentials are refused. */
typedef struct cl_entra {
    char *tenant, *client, *secret, *scope;
    char *token;
    time_t expires;             /* when to get another, a little before Entra says */
} cl_entra;

int cl_entra_open(cl_entra *e, const char *tenant, const char *client, const char *secret,
                  const char *scope, cl_error *err);

/* The token to send: the one held until it expires, then a new one; a new
 * one at once when renew is set (a server said it has expired).  NULL,
 * with err, when Entra refuses. */
const char *cl_entra_bearer(cl_entra *e, int renew, cl_error *err);
void cl_entra_close(cl_entra *e);

/* ---- Azure Resource Manager (azure.c) --------------------------------------- */

/* A request to ARM (path from "/subscriptions/..."; the worker's
 * aks-api-version is added) with a management token; 0 with the answer
 * (may be NULL) for a 2xx, else ARM's error code and message said plainly:
 * CL_EUNAUTHORIZED (401), CL_EFORBIDDEN (403 AuthorizationFailed),
 * CL_ENOTFOUND (404), CL_EUNAVAILABLE (429, 5xx, unreachable). */
int cl_arm_request(cl_entra *auth, const char *method, const char *path, json_t *body,
                   json_t **out, cl_error *err);

/* What a request to ARM answered: the body, and a long-running
 * operation's URLs and Retry-After. */
typedef struct cl_arm_answer {
    long status;
    json_t *body;
    char *async_url;            /* Azure-AsyncOperation */
    char *location;             /* Location */
    int retry_after;
} cl_arm_answer;

/* As cl_arm_request, with If-Match (may be NULL) and the whole answer;
 * path may also be an operation's absolute URL, used as given. */
int cl_arm_call(cl_entra *auth, const char *method, const char *path, json_t *body,
                const char *if_match, cl_arm_answer *out, cl_error *err);
void cl_arm_answer_free(cl_arm_answer *a);

/* Follow the long-running operation an answer started, through its
 * Azure-AsyncOperation URL (or else its Location), waiting Retry-After
 * between polls, until it succeeds, fails (with Azure's error), or
 * limit_s pass. */
int cl_arm_wait(cl_job *j, cl_entra *auth, cl_arm_answer *started, int limit_s,
                cl_error *err);

/* ---- the Kubernetes API (kube.c) ------------------------------------------- */

typedef struct cl_kube {
    char *server;               /* without a trailing slash */
    cl_http_options http;       /* CA, client certificate */
    char *authz;                /* "Authorization: Bearer ...", or NULL */
    char *ca_pem, *cert_pem, *key_pem;
    cl_entra *entra;            /* the Entra ID token in use (kubelogin), or NULL */
    long status;                /* of the last answer */
} cl_kube;

#define CL_KUBE_FIELD_MANAGER "cloister"

/* A client for the kubeconfig's cluster; entra (may be NULL; the client
 * takes it) replaces the kubeconfig's credential, as for AKS's kubelogin
 * form, and is renewed once when the server says it has expired. */
int cl_kube_open(cl_kube *k, const cl_kubeconfig *cfg, cl_entra *entra, cl_error *err);
void cl_kube_close(cl_kube *k);

/* GET path: 0 with *out (the JSON answer) for a 2xx; otherwise the
 * Kubernetes Status's message, said plainly: CL_EUNAUTHORIZED for 401,
 * CL_EFORBIDDEN for 403, CL_ENOTFOUND for 404, CL_EUNAVAILABLE when the
 * server cannot be reached or answers 5xx or 429. */
int cl_kube_get(cl_kube *k, const char *path, json_t **out, cl_error *err);

/* Any request; content_type with body (may both be NULL).  As cl_kube_get,
 * and CL_ECONFLICT for 409 and for 410 (k->status tells them apart). */
int cl_kube_call(cl_kube *k, const char *method, const char *path, const char *content_type,
                 json_t *body, json_t **out, cl_error *err);

/* Server-side apply of obj (application/apply-patch+yaml; JSON is YAML) as
 * the field manager "cloister", forcing: the object as the server keeps
 * it into *out. */
int cl_kube_apply(cl_kube *k, json_t *obj, json_t **out, cl_error *err);

/* Delete obj; one already gone is no error. */
int cl_kube_delete(cl_kube *k, json_t *obj, cl_error *err);

/* ---- clusters (cluster.c) ------------------------------------------------------ */

/* A client for the cluster `id` of the job's account, through its
 * kubeconfig or, for AKS, Azure Resource Manager (*facts: what ARM said of
 * the cluster, or NULL). */
int cl_cluster_open(cl_job *j, PGconn *db, const char *id, cl_kube *kube, json_t **facts,
                    cl_error *err);

/* For an AKS cluster, what Cloister keeps on it before deploying: the
 * ACCSGXDevicePlugin add-on on (GET, change, PUT with If-Match) and the
 * SGX node pool as the cluster's node_pool says (created or updated), each
 * followed to the end of its operation.  Nothing for other clusters. */
int cl_cluster_prepare(cl_job *j, PGconn *db, const char *id, cl_error *err);

/* The cluster's SGX nodes ({name, epc_resource, epc}), the EPC resource
 * they advertise (NULL: none), and how many nodes there are. */
int cl_cluster_sgx(cl_kube *kube, json_t **nodes, const char **resource, json_int_t *count,
                   cl_error *err);

/* ---- the objects applied (manifests.c) -------------------------------------- */

typedef struct cl_deploy_spec {
    const char *deployment_id;  /* labels every object: how undeploy finds them */
    const char *name;           /* the Deployment's and the Service's */
    const char *namespace;
    const char *app_id, *build_id, *mrenclave;
    const char *image;          /* repository@sha256:... */
    int replicas;
    int progress_deadline;      /* seconds */
    json_t *ports;              /* [{"port": 443}, ...] (borrowed) */
    const char *epc_resource;   /* sgx.intel.com/epc or kubernetes.azure.com/sgx_epc_mem_in_MiB */
    long long epc_bytes;
    json_t *node_selector;      /* labels of the SGX pool (borrowed; may be NULL) */
    json_t *tolerations;        /* for its taints (borrowed; may be NULL) */
    const char *pull_secret;    /* the image-pull Secret's name, or NULL */
    const char *docker_config;  /* its .dockerconfigjson */
    const cl_runtime *runtime;  /* shapes the container (lib/runtime/) */
    const json_t *runtime_config; /* the build's, or NULL */
    int attested;               /* the app attests with cloister-init */
} cl_deploy_spec;

/* The objects, in the order they are applied (a new array). */
json_t *cl_deploy_objects(const cl_deploy_spec *s);

/* ---- the registered image (carried.c) --------------------------------------------- */

/* A registered build's image, read from its registry, carries its enclave:
 * the file its runtime keeps the SIGSTRUCT in holds sig.  0 when it does,
 * or when the runtime cannot say where that file is (logged); CL_ENOTFOUND
 * or CL_EINVALID, saying what the image holds instead, when it does not. */
int cl_deploy_check_image(cl_job *j, const cl_runtime *runtime, const json_t *config,
                          const char *image, const uint8_t sig[CL_SIGSTRUCT_SIZE], cl_error *err);

/* ---- rollouts (rollout.c) ---------------------------------------------------- */

typedef enum { CL_ROLLOUT_WAITING, CL_ROLLOUT_DONE, CL_ROLLOUT_FAILED } cl_rollout;

/* Where a Deployment's rollout stands, as `kubectl rollout status` says it;
 * msg receives kubectl's words. */
cl_rollout cl_rollout_status(json_t *deployment, char *msg, size_t size);

#endif
