/*
 * runtime.h - the enclave runtimes an app can run under, and everything
 * that differs between them, as one table of rows (lib/runtime.c), each
 * row written in its own file under lib/runtime/:
 *
 *   how builds come to be   converted by Cloister from the app's image (a
 *                           `convert` job: workers/convert/, Gramine's), or
 *                           registered from outside with their SIGSTRUCT,
 *                           as Fortanix's manager takes builds it did not
 *                           make;
 *   what a registration     the runtime_config a registered build carries
 *   must say                (Occlum's instance directory and Occlum.json,
 *                           EDP's .sgxs, ...), checked against the
 *                           SIGSTRUCT and the app, and the EPC the enclave
 *                           commits when the configuration tells it;
 *   how its image starts    the command, working directory, environment
 *                           and mounts of the deployment's container;
 *   where the image keeps   the file that holds the SIGSTRUCT, which the
 *   its enclave             deploy job reads from the registry to check
 *                           that the image carries the registered build.
 *
 * The API (api/builds.c) calls check when a build is registered; the
 * deploy job (workers/deploy/manifests.c) calls shape for every container
 * it writes.  Adding a runtime is adding a file and a row.
 */
#ifndef CL_RUNTIME_H
#define CL_RUNTIME_H

#include "error.h"

#include <jansson.h>

/* What a registered build says of itself and of its app, for its runtime
 * to check the runtime_config against. */
typedef struct cl_runtime_build {
    const char *app_id;
    unsigned isvprodid, isvsvn;
    int debug;                  /* the SIGSTRUCT's ATTRIBUTES.DEBUG */
    int attested;               /* the app's attestation is "cloister" */
} cl_runtime_build;

/* A deployment's container and pod, as the runtime finds them (name,
 * image, ports, resources, and CLOISTER_NODE_IP, the node agent's address,
 * in env) and leaves them. */
typedef struct cl_runtime_pod {
    const json_t *config;       /* the build's runtime_config, or NULL */
    const char *app_id;
    int attested;               /* the app's attestation is "cloister" */
    json_t *container;
    json_t *pod;                /* the pod's spec, for volumes */
} cl_runtime_pod;

/* Where a runtime keeps the enclave's SIGSTRUCT in its image. */
typedef enum {
    CL_RUNTIME_UNSEEN,          /* it cannot say */
    CL_RUNTIME_SIGSTRUCT,       /* a .sig: the 1808 bytes themselves */
    CL_RUNTIME_SDK_ENCLAVE,     /* an SGX SDK signed enclave, in its metadata */
} cl_runtime_evidence;

typedef struct cl_runtime {
    const char *name;           /* as apps name it: "gramine", "occlum", ... */
    int converted;              /* builds also come from convert jobs */
    const char *what;           /* one line, for errors and docs */
    /* Check a registered build's runtime_config (NULL when none was given),
     * each fault a field error ("runtime_config.<key>") in err; returns the
     * bytes of EPC the enclave commits when the configuration tells, else 0. */
    long long (*check)(const json_t *config, const cl_runtime_build *b, cl_error *err);
    /* Add what the runtime's image needs to start: command and arguments,
     * working directory, environment, mounts. */
    void (*shape)(cl_runtime_pod *p);
    /* The file of the image that holds a registered build's SIGSTRUCT,
     * from its runtime_config, into path (at most size bytes), and which
     * kind of file it is; the deploy job checks that the image carries
     * the build.  NULL, or CL_RUNTIME_UNSEEN, when the runtime cannot say. */
    cl_runtime_evidence (*signed_file)(const json_t *config, char *path, size_t size);
} cl_runtime;

/* The runtime called name, or NULL. */
const cl_runtime *cl_runtime_find(const char *name);

/* The names, ", "-separated, for error messages ("gramine, occlum, ..."). */
const char *cl_runtime_names(void);

/* ---- for the runtimes' own files ----------------------------------------- */

extern const cl_runtime cl_runtime_gramine, cl_runtime_occlum, cl_runtime_scone,
    cl_runtime_sgx_sdk, cl_runtime_edp;

/* config's keys are all in keys (NULL-terminated); each other one is a
 * field error.  A config that is not an object is one too. */
void cl_runtime_only(const json_t *config, const char *const *keys, cl_error *err);

/* config[key] as an absolute path without "..", at most 1024 bytes;
 * NULL (a field error when required) otherwise. */
const char *cl_runtime_path(const json_t *config, const char *key, int required,
                            cl_error *err);

/* config[key] as an array of 1 to 64 strings, each at most 4096 bytes, the
 * first an absolute path when path is set; NULL (a field error when
 * required) otherwise. */
const json_t *cl_runtime_argv(const json_t *config, const char *key, int required, int path,
                              cl_error *err);

/* config[key] as one of choices (NULL-terminated), the first when absent. */
const char *cl_runtime_choice(const json_t *config, const char *key,
                              const char *const *choices, cl_error *err);

/* Append NAME=value to the container's env. */
void cl_runtime_env(cl_runtime_pod *p, const char *name, const char *value);

/* Set the container's command (an array of strings, borrowed), and its
 * args when args is not NULL. */
void cl_runtime_command(cl_runtime_pod *p, const json_t *command, const json_t *args);

/* Quotes through the node's aesmd (AKS's quote helper, an out-of-process
 * quoting enclave): its socket directory, /var/run/aesmd, mounted from the
 * host; with env, SGX_AESM_ADDR=1, which the SGX SDK's quote library reads
 * to ask aesmd rather than load the quoting enclave itself. */
void cl_runtime_aesmd(cl_runtime_pod *p, int env);

#endif
