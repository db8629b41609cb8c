/* build.c - cloister build create | register | list | get | manifest |
 * sign | deprecate: converting an app's image into an enclave image, or
 * registering one made elsewhere, and the builds that records; and
 * cloister signing-key list | import | rotate. */
#include "cli.h"
#include "config.h"
#include "digest.h"
#include "sgx/sigstruct.h"
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_column columns[] = {
    { "ID", "id" }, { "APP", "app_name" }, { "STATE", "state" }, { "MRENCLAVE", "mrenclave" },
    { "MRSIGNER", "mrsigner" }, { "ISVPRODID", "isvprodid" }, { "ISVSVN", "isvsvn" },
    { "DEBUG", "debug" }, { "OUTPUT", "output_image" }, { "DIGEST", "output_digest" },
    { "CREATED", "created_at" }, { NULL, NULL },
};

static int show_build(cli_ctx *c, const char *id)
{
    char path[256];

    snprintf(path, sizeof(path), "/v1/builds/%s", id);
    return cli_show(c, path, columns, "id");
}

static int build_create(cli_ctx *c, int argc, char **argv)
{
    const char *date = NULL, *nowait = NULL, *pos[1];
    const cli_flag flags[] = { { "--date", &date, 0, NULL }, { "--no-wait", &nowait, 1, NULL },
                               { NULL, NULL, 0, NULL } };
    char id[64], path[256];
    cli_reply reply;
    json_t *job = NULL;
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[0], argc, argv, flags, pos, 1, 1, &npos)) != 0 ||
        (rc = cli_app_id(c, pos[0], id)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/apps/%s/builds", id);
    json_t *body = date ? json_pack("{s:s}", "date", date) : NULL;
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    rc = cli_accepted(c, &reply, nowait != NULL, &job);
    const char *build = json_string_value(json_object_get(json_object_get(job, "result"),
                                                          "build_id"));
    if (rc == 0 && build != NULL)
        rc = show_build(c, build);
    json_decref(job);
    return rc;
}

static int build_list(cli_ctx *c, int argc, char **argv)
{
    const char *app = NULL, *state = NULL, *pos[1];
    const cli_flag flags[] = { { "--app", &app, 0, NULL }, { "--state", &state, 0, NULL },
                               { NULL, NULL, 0, NULL } };
    char path[512] = "/v1/builds", id[64];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[1], argc, argv, flags, pos, 0, 0, &npos)) != 0 ||
        (app != NULL && (rc = cli_app_id(c, app, id)) != 0))
        return rc;
    const char *names[] = { "app_id", "state" }, *values[] = { app ? id : NULL, state };
    cli_query(path, sizeof(path), names, values, 2);
    if ((rc = cli_list(c, path, 100, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int build_get(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[2], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    return show_build(c, pos[0]);
}

/* The manifest's text as it is (so it can go to a file and be measured
 * with `cloister enclave measure`), or the whole answer in JSON or YAML. */
static int build_manifest(cli_ctx *c, int argc, char **argv)
{
    static const cli_column none[] = { { NULL, NULL } };
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[3], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/builds/%s/manifest", pos[0]);
    if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
        return rc;
    if (c->format == CLI_TABLE)
        fputs(json_string_value(json_object_get(reply.body, "manifest")), stdout);
    else
        cli_print_one(c, reply.body, none, "manifest");
    cli_reply_free(&reply);
    return 0;
}

/* Sign an awaiting build with the offline key here, where the key is:
 * only the signature leaves this process. */
static int build_sign(cli_ctx *c, int argc, char **argv)
{
    const char *key_path = NULL, *nowait = NULL, *pos[1];
    const cli_flag flags[] = { { "--key", &key_path, 0, NULL }, { "--no-wait", &nowait, 1, NULL },
                               { NULL, NULL, 0, NULL } };
    uint8_t *pem = NULL, payload[CL_SIGSTRUCT_SIGNED_SIZE + 3], signature[CL_SGX_SIGNATURE_SIZE];
    uint8_t mr[32];
    char path[256], b64[((CL_SGX_SIGNATURE_SIZE + 2) / 3) * 4 + 1], mrsigner[65];
    size_t len = 0;
    EVP_PKEY *key = NULL;
    cl_error err = { 0 };
    cli_reply reply;
    json_t *job = NULL;
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[4], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    if (key_path == NULL)
        return cli_usage_error(&cli_build_commands[4], "give the private key: --key FILE");
    if ((rc = cli_read_file(key_path, CL_SGX_KEY_PEM_MAX, &pem, &len)) != 0)
        return rc;
    rc = cl_sgx_key_read_pem(&key, (const char *)pem, len, &err);
    OPENSSL_cleanse(pem, len);
    free(pem);
    if (rc < 0 || cl_sgx_key_mrsigner(key, mr, &err) < 0) {
        fprintf(stderr, "cloister: \"%s\": %s\n", key_path, err.message);
        EVP_PKEY_free(key);
        return CLI_EINVALID;
    }
    cl_hex(mrsigner, mr, 32);

    snprintf(path, sizeof(path), "/v1/builds/%s/sigstruct", pos[0]);
    if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0) {
        EVP_PKEY_free(key);
        return rc;
    }
    const char *want = json_string_value(json_object_get(reply.body, "mrsigner"));
    const char *bytes = json_string_value(json_object_get(reply.body, "signed_bytes"));
    if (json_is_true(json_object_get(reply.body, "signed"))) {
        fprintf(stderr, "cloister: build %s is signed already\n", pos[0]);
        rc = CLI_ECONFLICT;
    } else if (want == NULL || strcmp(want, mrsigner) != 0) {
        fprintf(stderr, "cloister: the build awaits the key with MRSIGNER %s; \"%s\" is %s\n",
                want ? want : "(none)", key_path, mrsigner);
        rc = CLI_EINVALID;
    } else if (bytes == NULL || cl_b64_decode(payload, sizeof(payload), &len, bytes) < 0 ||
               len != CL_SIGSTRUCT_SIGNED_SIZE) {
        fprintf(stderr, "cloister: the server sent no signed bytes\n");
        rc = CLI_ESERVER;
    } else if (cl_sgx_sign_bytes(key, payload, len, signature, &err) < 0) {
        fprintf(stderr, "cloister: %s\n", err.message);
        rc = CLI_EINVALID;
    }
    cli_reply_free(&reply);
    EVP_PKEY_free(key);
    if (rc != 0)
        return rc;

    cl_b64_encode(b64, signature, sizeof(signature));
    snprintf(path, sizeof(path), "/v1/builds/%s/signature", pos[0]);
    json_t *body = json_pack("{s:s}", "signature", b64);
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    rc = cli_accepted(c, &reply, nowait != NULL, &job);
    if (rc == 0 && job != NULL)
        rc = show_build(c, pos[0]);
    json_decref(job);
    return rc;
}

/* The runtime_config to send: --runtime-config's object, with
 * --occlum-json's file as its occlum_json; NULL when neither is given. */
static int runtime_config(const char *path, const char *occlum_json, json_t **out)
{
    json_t *occlum = NULL;
    int rc;

    *out = NULL;
    if (path != NULL && (rc = cli_read_json_object(path, out)) != 0)
        return rc;
    if (occlum_json != NULL) {
        if ((rc = cli_read_json_object(occlum_json, &occlum)) != 0) {
            json_decref(*out);
            *out = NULL;
            return rc;
        }
        if (*out == NULL)
            *out = json_object();
        json_object_set_new(*out, "occlum_json", occlum);
    }
    return 0;
}

/* A build made elsewhere: its SIGSTRUCT read here (from a .sig, an SGX SDK
 * signed enclave, or a .sig checked against its .sgxs), sent with the image
 * that carries it and what its runtime needs to start it. */
static int build_register(cli_ctx *c, int argc, char **argv)
{
    const char *sig_path = NULL, *enclave = NULL, *sgxs = NULL, *image = NULL, *pos[1];
    const char *size_text = NULL, *config_path = NULL, *occlum_json = NULL, *source;
    const cli_flag flags[] = { { "--sig", &sig_path, 0, NULL }, { "--enclave", &enclave, 0, NULL },
                               { "--sgxs", &sgxs, 0, NULL }, { "--image", &image, 0, NULL },
                               { "--enclave-size", &size_text, 0, NULL },
                               { "--runtime-config", &config_path, 0, NULL },
                               { "--occlum-json", &occlum_json, 0, NULL },
                               { NULL, NULL, 0, NULL } };
    const cli_command *cmd = &cli_build_commands[6];
    uint8_t sig[CL_SIGSTRUCT_SIZE];
    char id[64], path[256], detail[64], b64[((CL_SIGSTRUCT_SIZE + 2) / 3) * 4 + 1];
    long long size = 0, given = 0;
    json_t *config = NULL;
    int npos, rc;

    if ((rc = cli_args(c, cmd, argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    if ((sig_path == NULL) == (enclave == NULL))
        return cli_usage_error(cmd, "give the SIGSTRUCT: --sig FILE.sig or --enclave FILE");
    if (sgxs != NULL && sig_path == NULL)
        return cli_usage_error(cmd, "--sgxs goes with the --sig that signs it");
    if (image == NULL)
        return cli_usage_error(cmd, "give the image that carries the enclave, pinned by "
                               "digest: --image REPOSITORY@sha256:...");
    if (size_text != NULL && cl_config_parse_size(size_text, &given) < 0)
        return cli_usage_error(cmd, "--enclave-size must be a size such as 256M or 4G");
    if ((rc = cli_app_id(c, pos[0], id)) != 0 ||
        (rc = cli_enclave_sigstruct(sig_path ? sig_path : enclave, sgxs, sig, &source, detail,
                                    &size)) != 0 ||
        (rc = runtime_config(config_path, occlum_json, &config)) != 0)
        return rc;
    /* the flag wins over what the files say; an SDK enclave's metadata only
     * bounds its EPC (its size rounded up to a power of two), so a runtime
     * configuration that can say better (Occlum.json) is left to say it */
    if (size_text != NULL)
        size = given;
    else if (config != NULL && strcmp(source, "sgx-sdk-enclave") == 0)
        size = 0;
    cl_b64_encode(b64, sig, sizeof(sig));
    json_t *body = json_pack("{s:s, s:s, s:s}", "sigstruct", b64, "image", image,
                             "measured_from", source);
    if (size > 0)
        json_object_set_new(body, "enclave_size", json_integer(size));
    if (config != NULL)
        json_object_set_new(body, "runtime_config", config);
    snprintf(path, sizeof(path), "/v1/apps/%s/builds", id);
    return cli_send_show(c, "POST", path, body, columns, "id");
}

static int build_deprecate(cli_ctx *c, int argc, char **argv)
{
    const char *reason = NULL, *pos[1];
    const cli_flag flags[] = { { "--reason", &reason, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256];
    int npos, rc;

    if ((rc = cli_args(c, &cli_build_commands[5], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/builds/%s/deprecate", pos[0]);
    return cli_send_show(c, "POST", path, reason ? json_pack("{s:s}", "reason", reason) : NULL,
                         columns, "id");
}

const cli_command cli_build_commands[] = {
    { "build", "create", build_create, "APP [--date YYYY-MM-DD] [--no-wait]",
      "convert the app's image into a signed enclave image (waits for the job); --date "
      "reproduces an earlier build byte for byte",
      "cloister build create web" },
    { "build", "list", build_list, "[--app APP] [--state STATE]",
      "list builds, newest first", "cloister build list --app web --state pending" },
    { "build", "get", build_get, "BUILD", "show a build and its measurements",
      "cloister build get 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11" },
    { "build", "manifest", build_manifest, "BUILD",
      "print the build's Gramine manifest (-o json adds its trusted files)",
      "cloister build manifest 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11 > app.manifest.sgx" },
    { "build", "sign", build_sign, "BUILD --key KEY.pem [--no-wait]",
      "sign a build that awaits its signature with the account's offline key (the key stays "
      "here; only the signature is sent), then wait for it to be pushed",
      "cloister build sign 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11 --key enclave-key.pem" },
    { "build", "deprecate", build_deprecate, "BUILD [--reason TEXT]",
      "withdraw an approved build's approval (admins)",
      "cloister build deprecate 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11 --reason \"CVE fix\"" },
    { "build", "register", build_register,
      "APP (--sig FILE.sig [--sgxs FILE.sgxs] | --enclave FILE) --image REF@sha256:DIGEST "
      "[--runtime-config FILE.json] [--occlum-json Occlum.json] [--enclave-size SIZE]",
      "register a build made with another runtime's tools (Occlum, SCONE, the SGX SDK, EDP, "
      "or Gramine signed elsewhere) by its SIGSTRUCT, read here from a .sig or an SGX SDK "
      "signed enclave (with --sgxs, checked against the EDP stream it signs), with what its "
      "runtime needs to start the image (--runtime-config, a JSON object; --occlum-json adds "
      "the instance's Occlum.json to it; docs/runtimes.md has each runtime's); the build then "
      "awaits approval like a converted one",
      "cloister build register web --enclave build/lib/libocclum-libos.signed.so "
      "--occlum-json Occlum.json --runtime-config occlum-run.json "
      "--image registry.example.com/team/web:v1@sha256:5e5e..." },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

/* ---- signing keys ------------------------------------------------------- */

static const cli_column key_columns[] = {
    { "ID", "id" }, { "MRSIGNER", "mrsigner" }, { "ORIGIN", "origin" }, { "STATE", "state" },
    { "CREATED", "created_at" }, { "RETIRED", "retired_at" }, { NULL, NULL },
};

static int key_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_signing_key_commands[0], argc, argv, NULL, pos, 0, 0,
                       &npos)) != 0 ||
        (rc = cli_list(c, "/v1/signing-keys", 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, key_columns, "id");
    json_decref(items);
    return 0;
}

static int key_import(cli_ctx *c, int argc, char **argv)
{
    const char *private_path = NULL, *public_path = NULL, *pos[1];
    const cli_flag flags[] = { { "--private", &private_path, 0, NULL },
                               { "--public", &public_path, 0, NULL }, { NULL, NULL, 0, NULL } };
    uint8_t *pem;
    size_t len;
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_signing_key_commands[1], argc, argv, flags, pos, 0, 0,
                       &npos)) != 0)
        return rc;
    if ((private_path == NULL) == (public_path == NULL))
        return cli_usage_error(&cli_signing_key_commands[1], "give --private FILE or "
                               "--public FILE");
    if ((rc = cli_read_file(private_path ? private_path : public_path, CL_SGX_KEY_PEM_MAX,
                            &pem, &len)) != 0)
        return rc;
    json_t *body = json_pack("{s:s}", private_path ? "private_key_pem" : "public_key_pem",
                             (const char *)pem);
    OPENSSL_cleanse(pem, len);
    free(pem);
    rc = cli_call(c, "POST", "/v1/signing-keys", body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, key_columns, "id");
    cli_reply_free(&reply);
    return 0;
}

static int key_rotate(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_signing_key_commands[2], argc, argv, NULL, pos, 0, 0,
                       &npos)) != 0 ||
        (rc = cli_call(c, "POST", "/v1/signing-keys/rotate", NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, key_columns, "id");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_signing_key_commands[] = {
    { "signing-key", "list", key_list, "",
      "list the account's enclave signing keys by MRSIGNER, active and retired",
      "cloister signing-key list" },
    { "signing-key", "import", key_import, "--private KEY.pem | --public PUB.pem",
      "make a key the account's active one (admins): a private key to sign with here, or "
      "only the public key of one kept offline (builds then await `build sign`)",
      "cloister signing-key import --public enclave-key.pub.pem" },
    { "signing-key", "rotate", key_rotate, "",
      "retire the active key (admins); the next conversion makes a new one",
      "cloister signing-key rotate" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
