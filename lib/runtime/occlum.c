/*
 * occlum.c - Occlum, registered: the team builds and signs its instance
 * with Occlum's tools (`occlum build`, then `occlum package`), and the
 * image carries the unpacked instance.  The runtime_config says where and
 * how it runs, with the instance's own Occlum.json:
 *
 *   instance_dir   the instance in the image, the container's working
 *                  directory (Occlum's PAL finds the instance in ".")
 *   entrypoint     the program in the instance's root FS and its
 *                  arguments, as `occlum run` takes them; the program sits
 *                  under one of Occlum.json's entry_points (default /bin)
 *   init           where cloister-init sits in the instance
 *                  (/bin/cloister-init), for apps that attest
 *   occlum_json    the Occlum.json (or Occlum.yaml, as JSON) it was built
 *                  with
 *
 * Occlum.json must agree with the SIGSTRUCT (metadata.product_id is the
 * ISVPRODID, version_number the ISVSVN, debuggable the DEBUG attribute),
 * or it is not this build's.  Its resource limits give the EPC the enclave
 * commits.  Without EDMM (SGX1 nodes, and the default) Occlum sizes
 * everything statically: the user space (user_space_max_size, else
 * user_space_size), the kernel heap (kernel_space_heap_max_size, else
 * kernel_space_heap_size), and for each of max_num_of_threads a kernel
 * stack and the thread's TCS, SSA and TLS pages; with feature.enable_edmm
 * the initial sizes are committed and the rest added while it runs.  The
 * libOS's own code and data come on top, allowed for here as
 * LIBOS_ALLOWANCE; --enclave-size at registration overrides the sum.
 *
 * The deploy job checks that the image's
 * INSTANCE_DIR/build/lib/libocclum-libos.signed.so carries the registered
 * SIGSTRUCT.
 *
 * Attesting, cloister-init runs first inside the enclave as
 * `occlum run /bin/cloister-init -- PROGRAM ARGS`, configured by the
 * trusted environment the instance was measured with: Occlum.json's
 * env.default must say CLOISTER_APP_ID=<the app>, and env.untrusted must
 * let CLOISTER_NODE_IP in from the pod, or cloister-init could not find its
 * agent.  Occlum's PAL takes its quotes from the SGX SDK's quote library,
 * through the node's aesmd.
 */
#include "runtime.h"
#include "json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024LL * 1024 * 1024)
#define THREAD_PAGES_BYTES (4 * 4096LL)         /* TCS, two SSA frames, TLS */
#define LIBOS_ALLOWANCE (32LL << 20)
#define DEFAULT_INIT "/bin/cloister-init"

static const json_t *at(const json_t *o, const char *a, const char *b)
{
    return json_object_get(json_object_get(o, a), b);
}

/* "256MB", "1GB", "32KB", "4096" (bytes), or a number: Occlum's sizes. */
static long long parse_size(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0 && json_integer_value(v) <= 64 * GIB
               ? json_integer_value(v) : -1;
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || !isdigit((unsigned char)s[0]) || n <= 0 || n > 64 * GIB)
        return -1;
    while (*end == ' ')
        end++;
    long long unit = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': unit = 1024; end++; break;
    case 'M': unit = 1024 * 1024; end++; break;
    case 'G': unit = GIB; end++; break;
    default: break;
    }
    if (toupper((unsigned char)*end) == 'B')
        end++;
    return *end == '\0' && n <= 64 * GIB / unit ? n * unit : -1;
}

/* resource_limits[key], as Occlum.json writes it ("256MB", with a separate
 * max_key) or Occlum.yaml ({"init": ..., "max": ...}); the static size
 * without EDMM, the initial one with it.  -1 (said) when unreadable. */
static long long limit(const json_t *rl, const char *key, const char *max_key, int edmm,
                       cl_error *err)
{
    const json_t *v = json_object_get(rl, key);
    const char *name = key, *part = "";

    if (json_is_object(v)) {                    /* Occlum.yaml */
        part = edmm ? ".init" : ".max";
        v = json_object_get(v, edmm ? "init" : "max");
    } else if (!edmm && max_key != NULL && json_object_get(rl, max_key) != NULL) {
        name = max_key;
        v = json_object_get(rl, max_key);
    }
    long long n = parse_size(v);
    if (n < 0)
        cl_error_field(err, "runtime_config", "occlum_json.resource_limits.%s%s must be a "
                       "size such as \"256MB\", at most 64GB", name, part);
    return n;
}

static long long epc(const json_t *occlum, cl_error *err)
{
    const json_t *rl = json_object_get(occlum, "resource_limits");
    int edmm = json_is_true(at(occlum, "feature", "enable_edmm"));
    const json_t *t = json_object_get(rl, edmm ? "init_num_of_threads" : "max_num_of_threads");

    if (edmm && t == NULL)                      /* Occlum's default: min(16, max) */
        t = json_object_get(rl, "max_num_of_threads");
    long long user = limit(rl, "user_space_size", "user_space_max_size", edmm, err);
    long long heap = limit(rl, "kernel_space_heap_size", "kernel_space_heap_max_size", edmm,
                           err);
    long long stack = limit(rl, "kernel_space_stack_size", NULL, edmm, err);
    long long threads = json_is_integer(t) ? json_integer_value(t) : -1;
    if (edmm && threads > 16 && json_object_get(rl, "init_num_of_threads") == NULL)
        threads = 16;
    if (threads < 1 || threads > 4096)
        cl_error_field(err, "runtime_config", "occlum_json.resource_limits.%s must be a whole "
                       "number from 1 to 4096", t != NULL && edmm &&
                       json_object_get(rl, "init_num_of_threads") == t
                       ? "init_num_of_threads" : "max_num_of_threads");
    if (user < 0 || heap < 0 || stack < 0 || threads < 1 || threads > 4096)
        return 0;
    long long total = user + heap + threads * (stack + THREAD_PAGES_BYTES) + LIBOS_ALLOWANCE;
    return (total + 4095) / 4096 * 4096;
}

/* Occlum.json's metadata against the SIGSTRUCT, with Occlum's defaults. */
static void same_build(const json_t *occlum, const cl_runtime_build *b, cl_error *err)
{
    const json_t *prod = at(occlum, "metadata", "product_id");
    const json_t *svn = at(occlum, "metadata", "version_number");
    const json_t *debug = at(occlum, "metadata", "debuggable");
    long long p = prod ? (json_is_integer(prod) ? json_integer_value(prod) : -1) : 0;
    long long v = svn ? (json_is_integer(svn) ? json_integer_value(svn) : -1) : 0;
    int d = debug ? json_is_true(debug) : 1;

    if (p != (long long)b->isvprodid)
        cl_error_field(err, "runtime_config", "occlum_json.metadata.product_id is %lld, but "
                       "the SIGSTRUCT's ISVPRODID is %u: not the Occlum.json of this build",
                       p, b->isvprodid);
    if (v != (long long)b->isvsvn)
        cl_error_field(err, "runtime_config", "occlum_json.metadata.version_number is %lld, "
                       "but the SIGSTRUCT's ISVSVN is %u: not the Occlum.json of this build",
                       v, b->isvsvn);
    if (debug != NULL && !json_is_boolean(debug))
        cl_error_field(err, "runtime_config", "occlum_json.metadata.debuggable must be true "
                       "or false");
    else if (d != b->debug)
        cl_error_field(err, "runtime_config", "occlum_json.metadata.debuggable is %s (as it "
                       "is when left out), but the SIGSTRUCT %s", d ? "true" : "false",
                       b->debug ? "signs a debug enclave" : "does not allow debugging");
}

/* path sits under one of Occlum.json's entry_points (default /bin). */
static void runnable(const json_t *occlum, const char *field, const char *path, cl_error *err)
{
    const json_t *entry = json_object_get(occlum, "entry_points"), *v;
    size_t i;

    if (entry == NULL && strncmp(path, "/bin/", 5) == 0)
        return;
    json_array_foreach(entry, i, v) {
        const char *prefix = json_string_value(v);
        size_t n = prefix ? strlen(prefix) : 0;
        if (n > 0 && strncmp(path, prefix, n) == 0 &&
            (prefix[n - 1] == '/' || path[n] == '/'))
            return;
    }
    cl_error_field(err, "runtime_config", "%s \"%s\" is under none of occlum_json's "
                   "entry_points (default [\"/bin\"]): occlum run would refuse it", field,
                   path);
}

static long long check(const json_t *config, const cl_runtime_build *b, cl_error *err)
{
    static const char *const keys[] = { "instance_dir", "entrypoint", "init", "occlum_json",
                                        NULL };

    if (config == NULL) {
        cl_error_field(err, "runtime_config", "an Occlum build needs one: its instance_dir, "
                       "entrypoint and occlum_json (the instance's Occlum.json)");
        return 0;
    }
    cl_runtime_only(config, keys, err);
    cl_runtime_path(config, "instance_dir", 1, err);
    const json_t *argv = cl_runtime_argv(config, "entrypoint", 1, 1, err);
    const char *init = cl_runtime_path(config, "init", 0, err);
    const json_t *occlum = json_object_get(config, "occlum_json");
    if (!json_is_object(occlum)) {
        cl_error_field(err, "runtime_config", "needs occlum_json, the instance's Occlum.json "
                       "as an object");
        return 0;
    }
    same_build(occlum, b, err);
    if (argv != NULL)
        runnable(occlum, "entrypoint[0]", json_string_value(json_array_get(argv, 0)), err);
    if (b->attested) {
        char app_env[64];
        runnable(occlum, "init", init ? init : DEFAULT_INIT, err);
        snprintf(app_env, sizeof(app_env), "CLOISTER_APP_ID=%s", b->app_id);
        if (!cl_json_has_string(at(occlum, "env", "default"), app_env))
            cl_error_field(err, "runtime_config", "occlum_json.env.default must hold \"%s\": "
                           "cloister-init reads the app from the measured environment",
                           app_env);
        if (!cl_json_has_string(at(occlum, "env", "untrusted"), "CLOISTER_NODE_IP"))
            cl_error_field(err, "runtime_config", "occlum_json.env.untrusted must list "
                           "\"CLOISTER_NODE_IP\": cloister-init finds the node's agent there");
    }
    return epc(occlum, err);
}

static void shape(cl_runtime_pod *p)
{
    const json_t *init = json_object_get(p->config, "init");
    json_t *args = json_deep_copy(json_object_get(p->config, "entrypoint"));

    if (p->attested) {
        json_array_insert_new(args, 0, json_string("--"));
        json_array_insert_new(args, 0, json_string(init ? json_string_value(init)
                                                        : DEFAULT_INIT));
    }
    json_t *command = json_pack("[s, s]", "occlum", "run");
    cl_runtime_command(p, command, args);
    json_decref(command);
    json_decref(args);
    json_object_set(p->container, "workingDir", json_object_get(p->config, "instance_dir"));
    if (p->attested)
        cl_runtime_aesmd(p, 1);
}

/* `occlum build` leaves the signed libOS in the instance's build/lib. */
static cl_runtime_evidence signed_file(const json_t *config, char *path, size_t size)
{
    const char *dir = json_string_value(json_object_get(config, "instance_dir"));

    if (dir == NULL || (size_t)snprintf(path, size, "%s/build/lib/libocclum-libos.signed.so",
                                        strcmp(dir, "/") == 0 ? "" : dir) >= size)
        return CL_RUNTIME_UNSEEN;
    return CL_RUNTIME_SDK_ENCLAVE;
}

const cl_runtime cl_runtime_occlum = {
    .name = "occlum", .converted = 0,
    .what = "Occlum: registered with the SIGSTRUCT of libocclum-libos.signed.so",
    .check = check, .shape = shape, .signed_file = signed_file,
};
