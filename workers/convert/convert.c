/*
 * convert.c - the convert job: an app's container image in, a signed
 * Gramine SGX enclave image out, and a build recorded with what the CPU
 * will measure.
 *
 *   1. read the input image and the pinned runtime image (pull.c), and
 *      apply their layers, streamed, to an index of the final tree;
 *   2. bake the command line into a small layer (the trusted arguments),
 *      with cloister-init (workers/init/) in front of it unless the app's
 *      attestation is "none", and apply it too;
 *   3. write the manifest (lib/sgx/gramine_manifest.c) trusting every
 *      regular file of that tree outside the untrusted paths;
 *   4. fetch libpal.so's bytes from the runtime layer that holds it, and
 *      measure the enclave (lib/sgx/gramine.c);
 *   5. sign the SIGSTRUCT with the account's key (keys.c);
 *   6. push the input and runtime layers (mounted or copied, push.c), a
 *      layer with the manifest and the signature, the config and the
 *      manifest;
 *   7. record the build, its approval task and the audit rows in one
 *      transaction.
 *
 * Everything that goes into the output is a function of the input digest,
 * the app's settings as the request captured them, the runtime image, the
 * key and the SIGSTRUCT date, and is serialised with sorted keys and fixed
 * timestamps: converting again gives the same bytes and the same digest.
 * Each step is idempotent, so a retried attempt simply does it again; the
 * build is keyed by the job, so it is recorded once.
 */
#include "audit.h"
#include "build_approval.h"
#include "convert.h"
#include "digest.h"
#include "oci_layer.h"
#include "sgx/gramine.h"
#include "sgx/gramine_manifest.h"
#include "sgx/sigstruct.h"
#include "token.h"
#include "toml.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAMINE_VERSION "1.9"
#define APP_DIR "/gramine/app"
#define ARGV_PATH APP_DIR "/argv"
#define MANIFEST_PATH APP_DIR "/entrypoint.manifest.sgx"
#define SIG_PATH APP_DIR "/entrypoint.sig"
#define LAUNCH_NAME APP_DIR "/entrypoint"
#define INIT_PATH APP_DIR "/cloister-init"
#define INIT_MAX (64u * 1024 * 1024)
#define PAL_MAX (64u * 1024 * 1024)
#define LAYER_MAX (64u * 1024 * 1024)
#define MAX_UNTRUSTED 32
#define LABEL "dev.cloister."

typedef struct conversion {
    cl_job *j;
    json_t *app;                /* the app's settings, borrowed from the params */
    const char *app_id;
    const char *requested_by;
    const char *finishing;      /* the offline-signed build this job pushes */
    int awaiting;               /* the key is offline: stop at awaiting_signature */
    cl_sigstruct_fields sig;    /* everything but the hash, from the params */
    cv_source input, runtime;
    cv_target target;
    cl_fs_tree *tree;
    cl_layer args_layer, files_layer;
    json_t *image;              /* the input's entrypoint, cmd, env, working_dir */
    json_t *argv;
    char *manifest;             /* the .manifest.sgx text */
    size_t trusted_files;
    uint8_t sigstruct[CL_SIGSTRUCT_SIZE];
    char key_id[37], mrenclave[65], mrsigner[65];
    char *config;               /* the output config, serialised */
    char config_digest[72], output_digest[72];
    char *image_manifest;
    char build_id[37];
} conversion;

static void sha256_digest(char out[72], const void *data, size_t len)
{
    char hex[CL_SHA256_HEX_LEN + 1];

    cl_sha256_hex(hex, data, len);
    snprintf(out, 72, "sha256:%s", hex);
}

/* The params the request captured: the app, the SIGSTRUCT date. */
static int read_params(conversion *c, cl_error *err)
{
    json_t *p = cl_job_params(c->j);
    const char *date = json_string_value(json_object_get(p, "date"));
    int y, m, d;

    c->app = json_object_get(p, "app");
    c->app_id = json_string_value(json_object_get(p, "app_id"));
    c->requested_by = json_string_value(json_object_get(p, "requested_by"));
    c->finishing = json_string_value(json_object_get(p, "build_id"));
    if (!json_is_object(c->app) || c->app_id == NULL || c->requested_by == NULL ||
        date == NULL || sscanf(date, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return cl_error_set(err, CL_EINVALID, "the job's parameters are incomplete");
    c->sig = (cl_sigstruct_fields){
        .attributes_flags = 0x4 | (json_is_true(json_object_get(c->app, "debug")) ? 0x2 : 0),
        .attributes_xfrm = 0x3,
        .attributes_flags_mask = ~0ULL,
        .attributes_xfrm_mask = 0xfffffffffff9ff1bULL,
        .miscselect = 0,
        .miscmask = 0xffffffff,
        .isvprodid = (uint16_t)json_integer_value(json_object_get(c->app, "isvprodid")),
        .isvsvn = (uint16_t)json_integer_value(json_object_get(c->app, "isvsvn")),
        .year = y, .month = m, .day = d,
    };
    return 0;
}

/* The runtime image must be the Gramine this worker lays enclaves out for. */
static int check_runtime(conversion *c, cl_error *err)
{
    json_t *labels = json_object_get(json_object_get(c->runtime.image.config, "config"),
                                     "Labels");
    const char *version = json_string_value(json_object_get(labels,
                                                            "org.opencontainers.image.version"));

    if (version != NULL && strncmp(version, GRAMINE_VERSION, strlen(GRAMINE_VERSION)) != 0)
        return cl_error_set(err, CL_EINVALID, "the runtime image is Gramine %.40s; this worker "
                            "lays out Gramine " GRAMINE_VERSION " enclaves", version);
    return 0;
}

/* cloister-init's bytes, from the worker's init-binary setting. */
static int read_init(cl_buf *out, cl_error *err)
{
    const char *path = cl_worker.convert.init_binary;
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    int rc = 0;

    if (f == NULL)
        return cl_error_set(err, CL_EINVALID, "cloister-init is not at %s (the worker's "
                            "init-binary setting); apps that attest need it", path);
    cl_buf_init(out, INIT_MAX);
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = cl_buf_append(out, chunk, n);
    if (rc < 0 || ferror(f))
        rc = cl_error_set(err, CL_EINVALID, "cloister-init at %s could not be read whole "
                          "(at most %u bytes)", path, INIT_MAX);
    fclose(f);
    if (rc < 0)
        cl_buf_free(out);
    return rc;
}

/* The input's and the runtime's layers, then the trusted arguments (and
 * cloister-init, for an app that attests). */
static int build_tree(conversion *c, cl_error *err)
{
    cl_convert_settings *s = &cl_worker.convert;
    cl_fs_limits limits = { (size_t)s->max_image_files, (uint64_t)s->max_image_size };
    json_t *cc = json_object_get(c->input.image.config, "config");
    cl_buf argv_file;
    int rc;

    if ((c->tree = cl_fs_new(&limits)) == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    cl_job_phase(c->j, "reading the layers");
    if ((rc = cv_source_apply(c->j, &c->input, c->tree, 5, 45, err)) < 0 ||
        (rc = cv_source_apply(c->j, &c->runtime, c->tree, 45, 60, err)) < 0)
        return rc;

    c->image = json_pack("{s:O?, s:O?, s:O?, s:O?}", "entrypoint",
                         json_object_get(cc, "Entrypoint"), "cmd", json_object_get(cc, "Cmd"),
                         "env", json_object_get(cc, "Env"),
                         "working_dir", json_object_get(cc, "WorkingDir"));
    if ((rc = cl_gramine_argv(c->image, c->app, &c->argv, err)) < 0)
        return rc;
    int attests = cl_gramine_attests(c->app);
    cl_buf init = { 0 };
    if (attests) {                  /* cloister-init first, then the app's own command */
        json_array_insert_new(c->argv, 0, json_string("--"));
        json_array_insert_new(c->argv, 0, json_string(INIT_PATH));
        if ((rc = read_init(&init, err)) < 0)
            return rc;
    }
    cl_buf_init(&argv_file, 1024 * 1024);
    if (cl_gramine_argv_file(c->argv, &argv_file) < 0) {
        cl_buf_free(&argv_file);
        cl_buf_free(&init);
        return cl_error_set(err, CL_EINVALID, "the command line is longer than 1 MiB");
    }
    cl_layer_file f[2] = { { ARGV_PATH, argv_file.data, argv_file.len, 0644 },
                           { INIT_PATH, init.data, init.len, 0755 } };
    cl_buf_init(&c->args_layer.blob, LAYER_MAX + INIT_MAX);
    rc = cl_oci_layer_build(f, attests ? 2 : 1, &c->args_layer, err);
    cl_buf_free(&argv_file);
    cl_buf_free(&init);
    if (rc < 0)
        return rc;
    return cl_fs_apply_memory(c->tree, c->args_layer.blob.data, c->args_layer.blob.len, err);
}

static int write_manifest(conversion *c, cl_error *err)
{
    cl_convert_settings *s = &cl_worker.convert;
    const char *untrusted[MAX_UNTRUSTED + 1];
    char list[1024];
    size_t n = 0;
    json_t *doc = NULL;
    cl_buf text;
    int rc;

    if (snprintf(list, sizeof(list), "%s", s->untrusted_paths) >= (int)sizeof(list))
        return cl_error_set(err, CL_EINVALID, "the untrusted-paths setting is too long");
    for (char *save, *p = strtok_r(list, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save))
        if (n < MAX_UNTRUSTED)
            untrusted[n++] = p;
    untrusted[n] = NULL;
    cl_gramine_runtime rt = { s->gramine_pkglibdir, ARGV_PATH, untrusted };

    cl_job_phase(c->j, "writing the manifest");
    if ((rc = cl_gramine_manifest(&doc, c->image, c->app, c->argv, c->tree, &rt, err)) < 0)
        return rc;
    c->trusted_files = json_array_size(cl_toml_get(doc, "sgx.trusted_files"));
    cl_buf_init(&text, 256u * 1024 * 1024);
    rc = cl_toml_emit(doc, &text, err);
    json_decref(doc);
    if (rc < 0) {
        cl_buf_free(&text);
        return rc;
    }
    c->manifest = cl_buf_take(&text, NULL);
    cl_job_log(c->j, "the manifest trusts %zu files", c->trusted_files);
    return 0;
}

/* MRENCLAVE of the manifest with the runtime's libpal.so. */
static int measure(conversion *c, cl_error *err)
{
    char path[CL_FS_PATH_MAX], resolved[CL_FS_PATH_MAX];
    uint8_t mr[32], sha[32];
    const cl_fs_entry *pal;
    cl_buf bytes;
    int rc;

    cl_job_phase(c->j, "measuring the enclave");
    snprintf(path, sizeof(path), "%s/sgx/libpal.so", cl_worker.convert.gramine_pkglibdir);
    if ((rc = cl_fs_resolve(c->tree, path, resolved, err)) < 0)
        return rc;
    pal = cl_fs_lookup(c->tree, resolved);
    size_t input_layers = json_array_size(c->input.layers);
    if (pal == NULL || pal->type != CL_FS_FILE || pal->layer < input_layers ||
        pal->layer >= input_layers + json_array_size(c->runtime.layers))
        return cl_error_set(err, CL_EINVALID, "the runtime image has no %s (or the input image "
                            "replaces it)", path);
    cl_buf_init(&bytes, PAL_MAX);
    if ((rc = cv_source_extract(&c->runtime, pal->layer - input_layers, resolved, &bytes,
                                err)) < 0) {
        cl_buf_free(&bytes);
        return rc;
    }
    cl_sha256(sha, bytes.data, bytes.len);
    if (memcmp(sha, pal->sha256, 32) != 0) {
        cl_buf_free(&bytes);
        return cl_error_set(err, CL_EINVALID, "%s changed between two reads of its layer",
                            resolved);
    }
    cl_gramine_enclave e = {
        .enclave_size = (uint64_t)json_integer_value(json_object_get(c->app, "enclave_size")),
        .threads = (int)json_integer_value(json_object_get(c->app, "max_threads")),
        .manifest = (const uint8_t *)c->manifest, .manifest_len = strlen(c->manifest),
        .pal = (const uint8_t *)bytes.data, .pal_len = bytes.len,
    };
    rc = cl_gramine_measure(&e, mr, err);
    cl_buf_free(&bytes);
    if (rc < 0)
        return cl_error_prefix(err, "the app's enclave (%lld bytes, %d threads): ",
                               (long long)e.enclave_size, e.threads);
    memcpy(c->sig.enclave_hash, mr, 32);
    cl_hex(c->mrenclave, mr, 32);
    cl_job_log(c->j, "MRENCLAVE %s", c->mrenclave);
    return 0;
}

/* The SIGSTRUCT its key's holder signed (api/builds.c checked the
 * signature), for the enclave this conversion measured again. */
static int holder_signed(conversion *c, cl_pg *db, cl_error *err)
{
    const char *params[2] = { c->finishing, cl_job_account(c->j) };
    PGresult *res = PQexecParams(db->conn, "SELECT translate(encode(sigstruct, 'base64'),"
                                 " E'\\n', ''), signing_key_id FROM builds WHERE id = $1"
                                 " AND account_id = $2 AND signed_at IS NOT NULL", 2, NULL,
                                 params, NULL, NULL, 0);
    uint8_t prepared[CL_SIGSTRUCT_SIZE], mine[CL_SIGSTRUCT_SIGNED_SIZE],
            theirs[CL_SIGSTRUCT_SIGNED_SIZE], mrsigner[32], raw[CL_SIGSTRUCT_SIZE + 3];
    size_t len = 0;
    int rc = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = cl_error_set(err, CL_EUNAVAILABLE, "could not read the build: %s",
                          PQerrorMessage(db->conn));
    else if (PQntuples(res) != 1 ||
             cl_b64_decode(raw, sizeof(raw), &len, PQgetvalue(res, 0, 0)) < 0 ||
             len != CL_SIGSTRUCT_SIZE)
        rc = cl_error_set(err, CL_ENOTFOUND, "build %s has no signed SIGSTRUCT", c->finishing);
    if (rc == 0) {
        memcpy(c->sigstruct, raw, CL_SIGSTRUCT_SIZE);
        snprintf(c->key_id, sizeof(c->key_id), "%s", PQgetvalue(res, 0, 1));
        cl_sigstruct_prepare(prepared, &c->sig);
        cl_sigstruct_signed_bytes(prepared, mine);
        cl_sigstruct_signed_bytes(c->sigstruct, theirs);
        if ((rc = cl_sigstruct_verify(c->sigstruct, NULL, mrsigner, err)) == 0 &&
            memcmp(mine, theirs, sizeof(mine)) != 0)
            rc = cl_error_set(err, CL_EINVALID, "the signed SIGSTRUCT is not for the enclave "
                              "this conversion measures (MRENCLAVE %s)", c->mrenclave);
        cl_hex(c->mrsigner, mrsigner, 32);
    }
    PQclear(res);
    return rc;
}

static int sign(conversion *c, cl_pg *db, cl_error *err)
{
    cv_key key;
    int rc;

    cl_job_phase(c->j, "signing");
    if (c->finishing != NULL)
        return holder_signed(c, db, err);
    if ((rc = cv_signing_key(c->j, db, &key, err)) < 0)
        return rc;
    memcpy(c->key_id, key.id, sizeof(c->key_id));
    memcpy(c->mrsigner, key.mrsigner, sizeof(c->mrsigner));
    if (key.offline) {
        cl_sigstruct_prepare(c->sigstruct, &c->sig);
        c->awaiting = 1;
        cl_job_log(c->j, "the account signs offline: the build awaits the signature of the key "
                   "with MRSIGNER %s", c->mrsigner);
    } else if ((rc = cl_sigstruct_sign(c->sigstruct, &c->sig, key.pkey, err)) == 0) {
        cl_job_log(c->j, "signed; MRSIGNER %s", c->mrsigner);
    }
    EVP_PKEY_free(key.pkey);
    return rc;
}

/* The manifest and the SIGSTRUCT, the layer Gramine reads at start. */
static int files_layer(conversion *c, cl_error *err)
{
    cl_layer_file files[2] = {
        { MANIFEST_PATH, c->manifest, strlen(c->manifest), 0644 },
        { SIG_PATH, c->sigstruct, sizeof(c->sigstruct), 0644 },
    };

    cl_buf_init(&c->files_layer.blob, LAYER_MAX);
    return cl_oci_layer_build(files, 2, &c->files_layer, err);
}

static void append_all(json_t *to, json_t *from)
{
    size_t i;
    json_t *v;

    json_array_foreach(from, i, v)
        json_array_append(to, v);
}

/* The input's config with the launcher as entrypoint, the measurements as
 * labels, and the added layers in rootfs and history. */
static int output_config(conversion *c, cl_error *err)
{
    json_t *cfg = json_deep_copy(c->input.image.config);
    json_t *cc, *labels, *rootfs, *history, *diff_ids;
    char prodid[8], svn[8];

    if (cfg == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if (!json_is_object(cc = json_object_get(cfg, "config")))
        json_object_set_new(cfg, "config", cc = json_object());
    json_object_set_new(cc, "Entrypoint", json_pack("[s, s]", cl_worker.convert.gramine_sgx,
                                                    LAUNCH_NAME));
    json_object_del(cc, "Cmd");
    if (!json_is_object(labels = json_object_get(cc, "Labels")))
        json_object_set_new(cc, "Labels", labels = json_object());
    snprintf(prodid, sizeof(prodid), "%u", c->sig.isvprodid);
    snprintf(svn, sizeof(svn), "%u", c->sig.isvsvn);
    json_object_set_new(labels, LABEL "mrenclave", json_string(c->mrenclave));
    json_object_set_new(labels, LABEL "mrsigner", json_string(c->mrsigner));
    json_object_set_new(labels, LABEL "isvprodid", json_string(prodid));
    json_object_set_new(labels, LABEL "isvsvn", json_string(svn));
    json_object_set_new(labels, LABEL "input-digest", json_string(c->input.image.digest));
    json_object_set_new(labels, LABEL "runtime", json_string("gramine-" GRAMINE_VERSION));
    json_object_set_new(labels, LABEL "runtime-digest", json_string(c->runtime.image.digest));

    if (!json_is_object(rootfs = json_object_get(cfg, "rootfs")))
        json_object_set_new(cfg, "rootfs", rootfs = json_pack("{s:s}", "type", "layers"));
    if (!json_is_array(diff_ids = json_object_get(rootfs, "diff_ids")))
        json_object_set_new(rootfs, "diff_ids", diff_ids = json_array());
    append_all(diff_ids, json_object_get(json_object_get(c->runtime.image.config, "rootfs"),
                                         "diff_ids"));
    json_array_append_new(diff_ids, json_string(c->args_layer.diff_id));
    json_array_append_new(diff_ids, json_string(c->files_layer.diff_id));
    if (json_array_size(diff_ids) != json_array_size(c->input.layers) +
                                     json_array_size(c->runtime.layers) + 2) {
        json_decref(cfg);
        return cl_error_set(err, CL_EINVALID, "the input or runtime config lists a different "
                            "number of layers than its manifest");
    }
    if (json_is_array(history = json_object_get(cfg, "history"))) {
        for (size_t i = 0; i < json_array_size(c->runtime.layers); i++)
            json_array_append_new(history, json_pack("{s:s+}", "created_by",
                                                     "cloister: Gramine runtime ",
                                                     c->runtime.image.digest));
        json_array_append_new(history, json_pack("{s:s}", "created_by",
                                                 "cloister: trusted arguments"));
        json_array_append_new(history, json_pack("{s:s}", "created_by",
                                                 "cloister: manifest and SIGSTRUCT"));
    }
    c->config = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(cfg);
    if (c->config == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    sha256_digest(c->config_digest, c->config, strlen(c->config));
    return 0;
}

static json_t *descriptor(const char *media_type, const char *digest, size_t size)
{
    return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest,
                     "size", (json_int_t)size);
}

static int output_manifest(conversion *c, cl_error *err)
{
    json_t *layers = json_array(), *l;
    cv_source *sources[2] = { &c->input, &c->runtime };
    size_t i;

    for (int s = 0; s < 2; s++)
        json_array_foreach(sources[s]->layers, i, l)
            json_array_append_new(layers, descriptor(
                cv_layer_media_type(json_string_value(json_object_get(l, "mediaType"))),
                json_string_value(json_object_get(l, "digest")),
                (size_t)json_integer_value(json_object_get(l, "size"))));
    json_array_append_new(layers, descriptor("application/vnd.oci.image.layer.v1.tar+gzip",
                                             c->args_layer.digest, c->args_layer.blob.len));
    json_array_append_new(layers, descriptor("application/vnd.oci.image.layer.v1.tar+gzip",
                                             c->files_layer.digest, c->files_layer.blob.len));
    json_t *m = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2,
                          "mediaType", "application/vnd.oci.image.manifest.v1+json",
                          "config", descriptor("application/vnd.oci.image.config.v1+json",
                                               c->config_digest, strlen(c->config)),
                          "layers", layers);
    c->image_manifest = m ? json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(m);
    return c->image_manifest ? 0 : cl_error_set(err, CL_ERROR, "out of memory");
}

static int push(conversion *c, cl_error *err)
{
    cv_source *sources[2] = { &c->input, &c->runtime };
    json_t *l;
    size_t i;
    int rc;

    cl_job_phase(c->j, "pushing the enclave image");
    for (int s = 0; s < 2; s++)
        json_array_foreach(sources[s]->layers, i, l)
            if ((rc = cv_push_from(c->j, &c->target, sources[s], l, err)) < 0)
                return cl_error_prefix(err, "pushing layer %zu of the %s: ", i,
                                       sources[s]->role);
    if ((rc = cv_push_memory(&c->target, c->args_layer.digest, c->args_layer.blob.data,
                             c->args_layer.blob.len, err)) < 0 ||
        (rc = cv_push_memory(&c->target, c->files_layer.digest, c->files_layer.blob.data,
                             c->files_layer.blob.len, err)) < 0 ||
        (rc = cv_push_memory(&c->target, c->config_digest, c->config, strlen(c->config),
                             err)) < 0 ||
        (rc = cl_oci_manifest_put(&c->target.client, c->target.repository, c->target.tag,
                                  "application/vnd.oci.image.manifest.v1+json",
                                  c->image_manifest, strlen(c->image_manifest),
                                  c->output_digest, err)) < 0)
        return rc;
    cl_job_log(c->j, "pushed %s/%s:%s as %s", c->target.host, c->target.repository,
               c->target.tag, c->output_digest);
    return 0;
}

/* The build's approval task, and the audit row that says so. */
static int ask_approval(conversion *c, cl_pg *db, cl_arena *a, cl_error *err)
{
    char task[37];
    int rc;

    if ((rc = cl_build_ask_approval(db, a, err, cl_job_account(c->j), c->build_id, c->app_id,
                                    c->mrenclave, c->requested_by, cl_job_id(c->j),
                                    task)) == 0)
        cl_job_log(c->j, "build %s is pending approval (task %s)", c->build_id, task);
    return rc;
}

/* A new build: pending with its approval task, or awaiting_signature. */
static int insert_build(conversion *c, cl_pg *db, cl_arena *a, cl_error *err)
{
    const char *account = cl_job_account(c->j);
    char enclave_size[24], threads[16], prodid[8], svn[8], date[16], trusted[24], output[700];
    char sigstruct[2 + 2 * CL_SIGSTRUCT_SIZE + 1] = "\\x";
    PGresult *res;
    int rc;

    snprintf(enclave_size, sizeof(enclave_size), "%lld",
             (long long)json_integer_value(json_object_get(c->app, "enclave_size")));
    snprintf(threads, sizeof(threads), "%lld",
             (long long)json_integer_value(json_object_get(c->app, "max_threads")));
    snprintf(prodid, sizeof(prodid), "%u", c->sig.isvprodid);
    snprintf(svn, sizeof(svn), "%u", c->sig.isvsvn);
    snprintf(date, sizeof(date), "%04d-%02d-%02d", c->sig.year, c->sig.month, c->sig.day);
    snprintf(trusted, sizeof(trusted), "%zu", c->trusted_files);
    snprintf(output, sizeof(output), "%s/%s:%s", c->target.host, c->target.repository,
             c->target.tag);
    cl_hex(sigstruct + 2, c->sigstruct, CL_SIGSTRUCT_SIZE);
    const char *row[25] = {
        account, c->app_id, cl_job_id(c->j),
        json_string_value(json_object_get(c->app, "input_image")), c->input.image.digest,
        "gramine", GRAMINE_VERSION, cl_worker.convert.gramine_image, c->runtime.image.digest,
        output, c->awaiting ? NULL : c->output_digest, c->mrenclave, c->mrsigner, c->key_id,
        prodid, svn, json_is_true(json_object_get(c->app, "debug")) ? "true" : "false",
        enclave_size, threads, date, c->manifest, trusted, c->requested_by, sigstruct,
        c->awaiting ? "awaiting_signature" : "pending",
    };

    if ((rc = cl_pg_exec(&res, db, a,
            "INSERT INTO builds (account_id, app_id, job_id, input_image, input_digest,"
            "  runtime, runtime_version, runtime_image, runtime_digest, output_image,"
            "  output_digest, mrenclave, mrsigner, signing_key_id, isvprodid, isvsvn, debug,"
            "  enclave_size, max_threads, sigstruct_date, manifest, trusted_files, created_by,"
            "  sigstruct, state, signed_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
            "  $15::int, $16::int, $17::boolean, $18::bigint, $19::int, $20::date, $21,"
            "  $22::int, $23, $24::bytea, $25,"
            "  CASE WHEN $25 = 'pending' THEN now() END)"
            " ON CONFLICT (job_id) DO NOTHING RETURNING id", 25, row, err)) < 0)
        return rc;
    if (PQntuples(res) == 0) {          /* an earlier attempt recorded it */
        const char *job[1] = { cl_job_id(c->j) };
        if ((rc = cl_pg_exec(&res, db, a, "SELECT id FROM builds WHERE job_id = $1", 1, job,
                             err)) == 0)
            snprintf(c->build_id, sizeof(c->build_id), "%s", PQgetvalue(res, 0, 0));
        return rc;
    }
    snprintf(c->build_id, sizeof(c->build_id), "%s", PQgetvalue(res, 0, 0));
    if ((rc = cl_audit_append(db, a, err, account, c->requested_by, cl_job_id(c->j),
                              "build.create", cl_arena_printf(a, "build:%s", c->build_id),
                              json_pack("{s:s, s:s, s:s, s:s}", "app_id", c->app_id,
                                        "mrenclave", c->mrenclave, "mrsigner", c->mrsigner,
                                        "state", row[24]))) < 0)
        return rc;
    if (c->awaiting) {
        cl_job_log(c->j, "build %s awaits its signature", c->build_id);
        return 0;
    }
    return ask_approval(c, db, a, err);
}

/* An offline-signed build, pushed now: pending with its approval task. */
static int finish_build(conversion *c, cl_pg *db, cl_arena *a, cl_error *err)
{
    const char *params[3] = { c->finishing, cl_job_account(c->j), c->output_digest };
    PGresult *res;
    int rc;

    snprintf(c->build_id, sizeof(c->build_id), "%s", c->finishing);
    if ((rc = cl_pg_exec(&res, db, a,
            "UPDATE builds SET state = 'pending', output_digest = $3"
            " WHERE id = $1 AND account_id = $2 AND state = 'awaiting_signature'"
            " RETURNING id", 3, params, err)) < 0 || PQntuples(res) == 0)
        return rc;                      /* 0 rows: an earlier attempt did it */
    if ((rc = cl_audit_append(db, a, err, cl_job_account(c->j), c->requested_by,
                              cl_job_id(c->j), "build.push",
                              cl_arena_printf(a, "build:%s", c->build_id),
                              json_pack("{s:s}", "output_digest", c->output_digest))) < 0)
        return rc;
    return ask_approval(c, db, a, err);
}

/* The build, its approval task and their audit rows, at once. */
static int record(conversion *c, cl_pg *db, cl_error *err)
{
    cl_arena *a = cl_arena_new(1 << 20);
    int rc;

    if (a == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if ((rc = cl_pg_exec(NULL, db, a, "BEGIN", 0, NULL, err)) == 0)
        rc = c->finishing ? finish_build(c, db, a, err) : insert_build(c, db, a, err);
    if (rc == 0)
        rc = cl_pg_exec(NULL, db, a, "COMMIT", 0, NULL, err);
    else
        PQclear(PQexec(db->conn, "ROLLBACK"));
    cl_arena_free(a);
    return rc;
}

static void conversion_free(conversion *c)
{
    cv_source_close(&c->input);
    cv_source_close(&c->runtime);
    cv_target_close(&c->target);
    cl_fs_free(c->tree);
    cl_buf_free(&c->args_layer.blob);
    cl_buf_free(&c->files_layer.blob);
    json_decref(c->image);
    json_decref(c->argv);
    free(c->manifest);
    free(c->config);
    free(c->image_manifest);
    OPENSSL_cleanse(c->sigstruct, sizeof(c->sigstruct));
}

int cl_convert_run(cl_job *j, json_t **result, cl_error *err)
{
    conversion c = { .j = j };
    cl_pg db = { 0 };
    int rc;

    if ((rc = read_params(&c, err)) < 0)
        return rc;
    cl_job_phase(j, "reading the images");
    if ((rc = cv_source_open(j, "input image",
                             json_string_value(json_object_get(c.app, "input_image")), &c.input,
                             err)) < 0 ||
        (rc = cv_source_open(j, "runtime image", cl_worker.convert.gramine_image, &c.runtime,
                             err)) < 0 ||
        (rc = check_runtime(&c, err)) < 0 ||
        (rc = cv_target_open(j, json_string_value(json_object_get(c.app, "output_image")),
                             &c.target, err)) < 0 ||
        (rc = build_tree(&c, err)) < 0 ||
        (rc = write_manifest(&c, err)) < 0 ||
        (rc = measure(&c, err)) < 0 ||
        (rc = cl_job_db(&db.conn, err)) < 0 ||
        (rc = sign(&c, &db, err)) < 0 ||
        (!c.awaiting && ((rc = files_layer(&c, err)) < 0 ||
                         (rc = output_config(&c, err)) < 0 ||
                         (rc = output_manifest(&c, err)) < 0 ||
                         (rc = push(&c, err)) < 0)) ||
        (rc = record(&c, &db, err)) < 0)
        goto done;
    cl_job_progress(j, 100);
    *result = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:i}", "build_id", c.build_id,
                        "state", c.awaiting ? "awaiting_signature" : "pending",
                        "mrenclave", c.mrenclave, "mrsigner", c.mrsigner,
                        "input_digest", c.input.image.digest,
                        "output_digest", c.awaiting ? NULL : c.output_digest,
                        "output_image", json_string_value(json_object_get(c.app,
                                                                          "output_image")),
                        "trusted_files", (int)c.trusted_files);
done:
    cl_pg_close(&db);
    conversion_free(&c);
    return rc;
}
