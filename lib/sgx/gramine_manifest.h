/*
 * gramine_manifest.h - the Gramine 1.9 manifest for an application image,
 * in the manner of GSC.
 *
 * Inputs are the JSON the rest of Cloister already holds: the image as
 * inspection describes it ({entrypoint, cmd, env: ["K=V"], working_dir})
 * and the app as the API shows it ({entrypoint, args, env: {K: V},
 * enclave_size, max_threads, isvprodid, isvsvn, debug, encrypted_paths,
 * writable_paths}).  The output is a JSON document for cl_toml_emit.
 *
 * The command line follows Docker's rules: the app's entrypoint replaces
 * the image's (and then the image's Cmd is dropped), the app's args
 * replace the Cmd.  It is baked into the image as a trusted file
 * (loader.argv_src_file), never taken from the host.
 */
#ifndef CL_SGX_GRAMINE_MANIFEST_H
#define CL_SGX_GRAMINE_MANIFEST_H

#include "buf.h"
#include "error.h"
#include "image_fs.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct cl_gramine_runtime {
    const char *pkglibdir;     /* "/usr/lib/x86_64-linux-gnu/gramine" */
    const char *argv_path;     /* where the trusted arguments file goes */
    const char *const *excluded;  /* paths never trusted: "/proc", "/var", ... */
} cl_gramine_runtime;

/* The argv the container runs (a new array of strings); CL_EINVALID when
 * neither the image nor the app gives an entrypoint or command. */
int cl_gramine_argv(json_t *image, json_t *app, json_t **argv, cl_error *err);

/* Whether the app attests with cloister-init before it starts (its
 * "attestation" is "cloister"): its argv is then cloister-init's, and the
 * manifest gives cloister-init its settings (CLOISTER_APP_ID,
 * CLOISTER_DOMAINS, CLOISTER_DIR, CLOISTER_SECRETS_ENV,
 * CLOISTER_ON_FAILURE; CLOISTER_NODE_IP passed through from the host, which
 * the downward API sets), and a tmpfs at its cloister_dir. */
bool cl_gramine_attests(json_t *app);

/* argv as Gramine's argv_src_file holds it: each argument NUL-terminated. */
int cl_gramine_argv_file(json_t *argv, cl_buf *out);

/* The manifest.  tree is the final image: the input layers with the runtime
 * and the arguments file applied on top.  CL_EINVALID when the entrypoint
 * is not an executable file of the image, or the runtime is missing. */
int cl_gramine_manifest(json_t **out, json_t *image, json_t *app, json_t *argv,
                        cl_fs_tree *tree, const cl_gramine_runtime *rt, cl_error *err);

#endif
