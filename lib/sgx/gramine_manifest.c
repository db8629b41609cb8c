/*
 * gramine_manifest.c - writing the manifest GSC would write for an image.
 *
 * The runtime's own glibc is mounted over /lib, where Gramine's loader
 * looks for it, with the image's architecture library directories mounted
 * back beneath it, as Gramine's examples do; everything else is the image
 * itself (fs.root = file:/), every regular file of it trusted by hash.
 */
#include "sgx/gramine_manifest.h"

#include "digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCH_LIBDIR "/lib/x86_64-linux-gnu"
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool string_array(json_t *v)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v))
        return false;
    json_array_foreach(v, i, item)
        if (!json_is_string(item))
            return false;
    return true;
}

int cl_gramine_argv(json_t *image, json_t *app, json_t **argv, cl_error *err)
{
    json_t *entry = json_object_get(app, "entrypoint"), *cmd = json_object_get(app, "args");

    /* Docker: a new entrypoint drops the image's Cmd; new args replace it. */
    if (!json_is_array(entry)) {
        entry = json_object_get(image, "entrypoint");
        if (!json_is_array(cmd))
            cmd = json_object_get(image, "cmd");
    }
    *argv = json_array();
    if (*argv == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if ((entry != NULL && !json_is_null(entry) && !string_array(entry)) ||
        (cmd != NULL && !json_is_null(cmd) && !string_array(cmd))) {
        json_decref(*argv);
        *argv = NULL;
        return cl_error_set(err, CL_EINVALID, "the entrypoint and command must be lists of "
                                              "strings");
    }
    if (json_is_array(entry))
        json_array_extend(*argv, entry);
    if (json_is_array(cmd))
        json_array_extend(*argv, cmd);
    if (json_array_size(*argv) == 0 || json_string_length(json_array_get(*argv, 0)) == 0) {
        json_decref(*argv);
        *argv = NULL;
        return cl_error_set(err, CL_EINVALID, "the image has no entrypoint or command, and the "
                                              "app sets none");
    }
    return 0;
}

int cl_gramine_argv_file(json_t *argv, cl_buf *out)
{
    size_t i;
    json_t *arg;
    int rc = 0;

    json_array_foreach(argv, i, arg)
        if ((rc = cl_buf_append(out, json_string_value(arg), json_string_length(arg) + 1)) < 0)
            break;
    return rc;
}

bool cl_gramine_attests(json_t *app)
{
    const char *how = json_string_value(json_object_get(app, "attestation"));

    return how != NULL && strcmp(how, "cloister") == 0;
}

/* cloister-init's settings, in the manifest's environment (measured). */
static void init_environment(json_t *env, json_t *app)
{
    json_t *domains = json_object_get(app, "allowed_domains"), *d;
    char list[32 * 254 + 1] = "";
    size_t i, at = 0;

    json_array_foreach(domains, i, d)
        if (json_is_string(d) && at + json_string_length(d) + 2 < sizeof(list))
            at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s", at ? "," : "",
                                   json_string_value(d));
    json_object_set(env, "CLOISTER_APP_ID", json_object_get(app, "id"));
    json_object_set_new(env, "CLOISTER_DOMAINS", json_string(list));
    json_object_set(env, "CLOISTER_DIR", json_object_get(app, "cloister_dir"));
    json_object_set_new(env, "CLOISTER_SECRETS_ENV", json_string(
        json_is_true(json_object_get(app, "secrets_env")) ? "1" : "0"));
    json_object_set(env, "CLOISTER_ON_FAILURE", json_object_get(app, "on_attestation_failure"));
    json_object_set_new(env, "CLOISTER_NODE_IP", json_pack("{s:b}", "passthrough", 1));
}

/* The image's environment ("K=V" strings), then the app's on top. */
static json_t *environment(json_t *image, json_t *app)
{
    json_t *env = json_object(), *v;
    const char *key;
    size_t i;

    json_array_foreach(json_object_get(image, "env"), i, v) {
        const char *kv = json_string_value(v), *eq = kv ? strchr(kv, '=') : NULL;
        if (eq != NULL && eq > kv) {
            char *k = strndup(kv, (size_t)(eq - kv));
            if (k != NULL)
                json_object_set_new(env, k, json_string(eq + 1));
            free(k);
        }
    }
    json_object_foreach(json_object_get(app, "env"), key, v)
        if (json_is_string(v))
            json_object_set(env, key, v);
    return env;
}

/* Where argv[0] is in the image, as execvp would find it: a path with a
 * slash as given (relative to the working directory), else the first
 * executable regular file along PATH; symlinks resolved. */
static int find_entrypoint(cl_fs_tree *tree, const char *arg0, const char *path_var,
                           const char *workdir, char found[CL_FS_PATH_MAX], cl_error *err)
{
    char candidate[2 * CL_FS_PATH_MAX];
    const char *dirs = strchr(arg0, '/') ? (arg0[0] == '/' ? "" : workdir) : path_var;

    for (const char *p = dirs;;) {
        size_t n = strcspn(p, ":");
        snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)n, p, arg0);
        if (strlen(candidate) < CL_FS_PATH_MAX &&
            cl_fs_resolve(tree, candidate, found, err) == 0) {
            const cl_fs_entry *e = cl_fs_lookup(tree, found);
            if (e != NULL && e->type == CL_FS_FILE && (e->mode & 0111) != 0)
                return 0;
        }
        cl_error_clear(err);
        if (p[n] == '\0' || strchr(arg0, '/'))
            break;
        p += n + 1;
    }
    return cl_error_set(err, CL_EINVALID, "the entrypoint \"%.200s\" is not an executable "
                                          "file of the image", arg0);
}

static json_t *size_string(json_int_t bytes)
{
    static const char units[] = "KMGT";
    int u = -1;

    while (u < 3 && bytes >= 1024 && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    return u < 0 ? json_sprintf("%" JSON_INTEGER_FORMAT, bytes)
                 : json_sprintf("%" JSON_INTEGER_FORMAT "%c", bytes, units[u]);
}

static bool mounted_over(const char *path, json_t *paths)
{
    size_t i;
    json_t *p;

    json_array_foreach(paths, i, p) {
        const char *dir = json_string_value(p);
        size_t n = dir ? strlen(dir) : 0;
        if (n > 0 && strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return false;
}

static json_t *trusted_files(cl_fs_tree *tree, const cl_gramine_runtime *rt, json_t *app)
{
    json_t *list = json_array();
    size_t n;
    const cl_fs_entry *const *all = cl_fs_entries(tree, &n);
    char hex[65];

    if (list == NULL || all == NULL) {
        json_decref(list);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const cl_fs_entry *e = all[i];
        if (e->type != CL_FS_FILE || cl_fs_excluded(e->path, rt->excluded) ||
            mounted_over(e->path, json_object_get(app, "encrypted_paths")) ||
            mounted_over(e->path, json_object_get(app, "writable_paths")))
            continue;
        cl_hex(hex, e->sha256, 32);
        json_t *uri = json_sprintf("file:%s", e->path);
        if (json_array_append_new(list, json_pack("{s:o, s:s}", "uri", uri, "sha256", hex)) < 0) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

int cl_gramine_manifest(json_t **out, json_t *image, json_t *app, json_t *argv,
                        cl_fs_tree *tree, const cl_gramine_runtime *rt, cl_error *err)
{
    char libos[CL_FS_PATH_MAX], runtime_libc[CL_FS_PATH_MAX], entrypoint[CL_FS_PATH_MAX];
    char hex[65];
    const cl_fs_entry *sysdb;
    const char *workdir = json_string_value(json_object_get(image, "working_dir"));
    json_t *env = environment(image, app), *mounts = json_array(), *trusted = NULL, *v;
    size_t i;
    int rc;

    *out = NULL;
    if (workdir == NULL || workdir[0] != '/')
        workdir = "/";
    snprintf(libos, sizeof(libos), "%s/libsysdb.so", rt->pkglibdir);
    snprintf(runtime_libc, sizeof(runtime_libc), "%s/runtime/glibc", rt->pkglibdir);
    if ((sysdb = cl_fs_lookup(tree, libos)) == NULL || sysdb->type != CL_FS_FILE) {
        rc = cl_error_set(err, CL_EINVALID, "the runtime has no %s", libos);
        goto done;
    }
    if (cl_fs_lookup(tree, rt->argv_path) == NULL) {
        rc = cl_error_set(err, CL_EINVALID, "the arguments file %s is not in the image",
                          rt->argv_path);
        goto done;
    }
    const char *path_var = json_string_value(json_object_get(env, "PATH"));
    if ((rc = find_entrypoint(tree, json_string_value(json_array_get(argv, 0)),
                              path_var ? path_var : DEFAULT_PATH, workdir, entrypoint, err)) < 0)
        goto done;

    /* The runtime's glibc first; the image's own library path after it. */
    const char *ld = json_string_value(json_object_get(env, "LD_LIBRARY_PATH"));
    json_object_set_new(env, "LD_LIBRARY_PATH",
                        json_sprintf("/lib:" ARCH_LIBDIR ":/usr" ARCH_LIBDIR "%s%s",
                                     ld ? ":" : "", ld ? ld : ""));
    if (path_var == NULL)
        json_object_set_new(env, "PATH", json_string(DEFAULT_PATH));

    json_array_append_new(mounts, json_pack("{s:s, s:s+}", "path", "/lib", "uri", "file:",
                                            runtime_libc));
    json_array_append_new(mounts, json_pack("{s:s, s:s}", "path", ARCH_LIBDIR, "uri",
                                            "file:" ARCH_LIBDIR));
    json_array_append_new(mounts, json_pack("{s:s, s:s}", "path", "/usr" ARCH_LIBDIR, "uri",
                                            "file:/usr" ARCH_LIBDIR));
    if (cl_gramine_attests(app)) {
        if (!json_is_string(json_object_get(app, "id")) ||
            !json_is_string(json_object_get(app, "cloister_dir")) ||
            !json_is_string(json_object_get(app, "on_attestation_failure"))) {
            rc = cl_error_set(err, CL_EINVALID, "the app that attests lacks its id, "
                              "cloister_dir or on_attestation_failure");
            goto done;
        }
        init_environment(env, app);
        json_array_append_new(mounts, json_pack("{s:s, s:O}", "type", "tmpfs", "path",
                                                json_object_get(app, "cloister_dir")));
    }
    json_array_foreach(json_object_get(app, "writable_paths"), i, v)
        json_array_append_new(mounts, json_pack("{s:s, s:O}", "type", "tmpfs", "path", v));
    json_array_foreach(json_object_get(app, "encrypted_paths"), i, v)
        json_array_append_new(mounts, json_pack("{s:s, s:O, s:s+, s:s}", "type", "encrypted",
                                                "path", v, "uri", "file:",
                                                json_string_value(v), "key_name", "default"));

    if ((trusted = trusted_files(tree, rt, app)) == NULL) {
        rc = cl_error_set(err, CL_ERROR, "out of memory");
        goto done;
    }
    cl_hex(hex, sysdb->sha256, 32);
    *out = json_pack(
        "{s:{s:s}, s:{s:{s:s+, s:s}, s:s+, s:O, s:s},"
        " s:{s:{s:s}, s:s, s:O},"
        " s:{s:o, s:O, s:O, s:O, s:b, s:s, s:b, s:O}}",
        "libos", "entrypoint", entrypoint,
        "loader", "entrypoint", "uri", "file:", libos, "sha256", hex, "argv_src_file", "file:",
        rt->argv_path, "env", env, "log_level",
        json_is_true(json_object_get(app, "debug")) ? "warning" : "error",
        "fs", "root", "uri", "file:/", "start_dir", workdir, "mounts", mounts,
        "sgx", "enclave_size",
        size_string(json_integer_value(json_object_get(app, "enclave_size"))),
        "max_threads", json_object_get(app, "max_threads"),
        "isvprodid", json_object_get(app, "isvprodid"),
        "isvsvn", json_object_get(app, "isvsvn"),
        "debug", json_is_true(json_object_get(app, "debug")),
        "remote_attestation", "dcap", "edmm_enable", 0, "trusted_files", trusted);
    rc = *out ? 0 : cl_error_set(err, CL_EINVALID, "the app lacks enclave settings");
done:
    json_decref(env);
    json_decref(mounts);
    json_decref(trusted);
    return rc;
}
