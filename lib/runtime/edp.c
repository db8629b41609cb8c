/*
 * edp.c - Fortanix EDP (Rust, x86_64-fortanix-unknown-sgx), registered:
 * the team converts its ELF with ftxsgx-elf2sgxs and signs the .sgxs with
 * sgxs-sign, whose output is the SIGSTRUCT itself (`cloister build
 * register --sig app.sig --sgxs app.sgxs` checks that it signs that
 * stream, and counts the pages the enclave commits).
 *
 * The container runs the enclave with EDP's runner:
 *
 *   ftxsgx-runner SGXS ARGS...
 *
 * which loads the signature beside the stream (app.sgxs -> app.sig).  Where
 * that file is missing the runner does not stop: it signs the enclave with
 * a dummy debug signature, an enclave no attestation will accept.  So the
 * deploy job reads app.sig from the image and refuses to deploy an image
 * without it, or with another SIGSTRUCT than the one registered.
 *
 * runtime_config:
 *
 *   sgxs      the .sgxs in the image (required)
 *   args      the enclave's arguments
 *   runner    the runner, by name on PATH or by absolute path, for teams
 *             with their own (built on enclave-runner, to serve usercalls)
 *   quoting   "none" (default): the stock runner serves no quotes;
 *             "aesmd": a runner that asks the node's aesmd, through
 *             /var/run/aesmd (EDP's aesm-client uses the socket directly)
 *
 * CLOISTER_APP_ID is set for an enclave that attests to Cloister itself.
 */
#include "runtime.h"
#include "buf.h"

#include <stdio.h>
#include <string.h>

static const char *const quoting[] = { "none", "aesmd", NULL };

static long long check(const json_t *config, const cl_runtime_build *b, cl_error *err)
{
    static const char *const keys[] = { "sgxs", "args", "runner", "quoting", NULL };
    (void)b;

    if (config == NULL) {
        cl_error_field(err, "runtime_config", "an EDP build needs one: at least sgxs, where "
                       "the .sgxs sits in the image");
        return 0;
    }
    cl_runtime_only(config, keys, err);
    const char *sgxs = cl_runtime_path(config, "sgxs", 1, err);
    if (sgxs != NULL && (strlen(sgxs) < 6 || strcmp(sgxs + strlen(sgxs) - 5, ".sgxs") != 0))
        cl_error_field(err, "runtime_config", "sgxs must name a .sgxs file: the runner finds "
                       "its signature by the name, FILE.sig beside FILE.sgxs");
    cl_runtime_argv(config, "args", 0, 0, err);
    const json_t *runner = json_object_get(config, "runner");
    if (runner != NULL && (!json_is_string(runner) || json_string_length(runner) == 0 ||
                           json_string_length(runner) > 1024 ||
                           (strchr(json_string_value(runner), '/') != NULL &&
                            !cl_path_absolute(json_string_value(runner), 1024))))
        cl_error_field(err, "runtime_config", "runner must be a program's name or its "
                       "absolute path");
    cl_runtime_choice(config, "quoting", quoting, err);
    return 0;
}

static void shape(cl_runtime_pod *p)
{
    const json_t *runner = json_object_get(p->config, "runner");
    const char *sgxs = json_string_value(json_object_get(p->config, "sgxs"));
    const char *q = json_string_value(json_object_get(p->config, "quoting"));
    json_t *command = json_pack("[s, s?]", runner ? json_string_value(runner)
                                                  : "ftxsgx-runner", sgxs);
    const char *slash = sgxs ? strrchr(sgxs, '/') : NULL;

    cl_runtime_command(p, command, json_object_get(p->config, "args"));
    json_decref(command);
    if (slash != NULL)
        json_object_set_new(p->container, "workingDir",
                            json_stringn(sgxs, slash == sgxs ? 1 : (size_t)(slash - sgxs)));
    cl_runtime_env(p, "CLOISTER_APP_ID", p->app_id);
    if (q != NULL && strcmp(q, "aesmd") == 0)          /* checked at registration */
        cl_runtime_aesmd(p, 0);
}

/* The runner's coresident signature: app.sgxs -> app.sig. */
static cl_runtime_evidence signed_file(const json_t *config, char *path, size_t size)
{
    const char *sgxs = json_string_value(json_object_get(config, "sgxs"));
    size_t n = sgxs ? strlen(sgxs) : 0;

    if (n < 6 || (size_t)snprintf(path, size, "%.*s.sig", (int)(n - 5), sgxs) >= size)
        return CL_RUNTIME_UNSEEN;
    return CL_RUNTIME_SIGSTRUCT;
}

const cl_runtime cl_runtime_edp = {
    .name = "edp", .converted = 0,
    .what = "Fortanix EDP: registered with the .sig of the .sgxs",
    .check = check, .shape = shape, .signed_file = signed_file,
};
