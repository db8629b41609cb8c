/*
 * builds.c - /v1/builds and POST /v1/apps/{id}/builds: enclave builds of
 * an account's apps.
 *
 * Asking for a build queues a `convert` job (202) carrying the app's
 * settings as they are now and the SIGSTRUCT date (today in UTC, or the
 * `date` given, so a build can be reproduced byte for byte later); the
 * worker records the build only when the conversion succeeds, `pending`
 * with a build_approval task (workers/convert/convert.c).  Approving the
 * task makes the build `approved`, denying it `rejected` (api/tasks.c);
 * `POST /v1/builds/{id}/deprecate` withdraws an approval.
 *
 * A build's manifest is served on its own (GET /v1/builds/{id}/manifest)
 * with the trusted files it lists, since it can run to megabytes, and so
 * is its SIGSTRUCT (GET /v1/builds/{id}/sigstruct).
 *
 * When the account's key is offline (api/signing_keys.c) the build stops at
 * `awaiting_signature`, its SIGSTRUCT prepared but unsigned and nothing
 * pushed: the key's holder signs the SIGSTRUCT's 256 signed bytes and
 * posts the signature (POST /v1/builds/{id}/signature), which is checked
 * against the key here before another `convert` job (the first one's
 * parameters and the build's id) rebuilds the image around the signed
 * SIGSTRUCT, pushes it, and makes the build `pending`.
 *
 * A build can also be registered from outside (Occlum, SCONE, the SGX SDK,
 * Fortanix EDP, or Gramine signed elsewhere): POST /v1/apps/{id}/builds
 * with its SIGSTRUCT and the image that carries the enclave, pinned by
 * digest.  The SIGSTRUCT's signature is verified and its ISVPRODID, debug
 * attribute and ISVSVN checked against the app; the build is recorded at
 * once (201), `pending` with its approval task, like a converted one; a
 * SIGSTRUCT is registered once per app, again only after that build was
 * rejected or deprecated.  An
 * app whose runtime is not converted (lib/runtime.c) takes only these.
 * What the runtime needs to start the image (runtime_config) is checked by
 * the runtime's own file (lib/runtime/), which may also say how much EPC
 * the enclave commits; an enclave_size given with the request wins.
 */
#include "daemon.h"
#include "enclaves.h"
#include "jobs.h"
#include "build_approval.h"
#include "digest.h"
#include "oci_ref.h"
#include "resource.h"
#include "runtime.h"
#include "sgx/sigstruct.h"
#include "token.h"
#include "toml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUILD_COLUMNS \
    "b.id, b.app_id, (SELECT name FROM apps WHERE id = b.app_id) AS app_name, b.state," \
    " b.input_image, b.input_digest, b.runtime, b.runtime_version, b.runtime_image," \
    " b.runtime_digest, b.output_image, b.output_digest, b.mrenclave, b.mrsigner," \
    " b.signing_key_id, b.isvprodid, b.isvsvn, b.debug, b.enclave_size, b.max_threads," \
    " to_char(b.sigstruct_date, 'YYYY-MM-DD') AS sigstruct_date, b.trusted_files, b.task_id," \
    " b.job_id, b.finish_job_id, b.created_by, b.created_at, b.signed_at, b.decided_at," \
    " b.deprecated_at, b.origin, b.measured_from, b.runtime_config"

#define BUILD_SELECT "SELECT " BUILD_COLUMNS " FROM builds b"

/* The settings a conversion uses, as the app has them now. */
#define APP_SNAPSHOT \
    "SELECT a.id, a.name, a.runtime, a.input_image, a.output_image, a.enclave_size," \
    " a.max_threads, a.isvprodid, a.isvsvn, a.entrypoint, a.args, a.env, a.encrypted_paths," \
    " a.writable_paths, a.debug, a.attestation, a.allowed_domains, a.cloister_dir," \
    " a.secrets_env, a.on_attestation_failure FROM apps a"

/* "YYYY-MM-DD", a real day from 2000 to 9999. */
static int valid_date(const char *s)
{
    struct tm tm = { 0 };
    int y, m, d, n = 0;

    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
        y < 2000 || m < 1 || m > 12 || d < 1 || d > 31)
        return 0;
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    timegm(&tm);                /* normalises 02-30 to 03-02: then it was no day */
    return tm.tm_mday == d && tm.tm_mon == m - 1;
}

#define ENCLAVE_SIZE_MAX (64LL << 30)

/* The SIGSTRUCT field, decoded and verified; field errors otherwise. */
static void read_sigstruct(cl_req *r, const char *b64, uint8_t s[CL_SIGSTRUCT_SIZE],
                           cl_sigstruct_fields *f, uint8_t mrsigner[32])
{
    uint8_t raw[CL_SIGSTRUCT_SIZE + 3];
    size_t len = 0;
    cl_error why = { 0 };

    if (cl_b64_decode(raw, sizeof(raw), &len, b64) < 0 || len != CL_SIGSTRUCT_SIZE) {
        cl_error_field(cl_req_err(r), "sigstruct", "must be the %d bytes of a SIGSTRUCT in "
                       "base64", CL_SIGSTRUCT_SIZE);
        return;
    }
    memcpy(s, raw, CL_SIGSTRUCT_SIZE);
    if (cl_sigstruct_verify(s, f, mrsigner, &why) < 0)
        cl_error_field(cl_req_err(r), "sigstruct", "%s", why.message);
    cl_error_clear(&why);
}

/* POST /v1/apps/{id}/builds with a SIGSTRUCT: a build made elsewhere. */
static int builds_register(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "sigstruct", "image", "measured_from",
                                          "enclave_size", "runtime_config", NULL };
    static const char *const sources[] = { "sigstruct", "sgx-sdk-enclave", "sgxs", NULL };
    const cl_principal *p = cl_req_principal(r);
    json_t *size = json_object_get(cl_req_body(r), "enclave_size");
    json_t *config = json_object_get(cl_req_body(r), "runtime_config");
    uint8_t s[CL_SIGSTRUCT_SIZE], mrsigner[32];
    char mr_hex[65], signer_hex[65], date[16], prodid[8], svn[8], enclave_size[24], task[37];
    char sig_hex[2 + 2 * CL_SIGSTRUCT_SIZE + 1] = "\\x";
    cl_sigstruct_fields f = { 0 };
    cl_oci_ref ref = { 0 };
    cl_error why = { 0 };
    PGresult *app, *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    const char *b64 = cl_body_string(r, "sigstruct", 1, 4096);
    const char *image = cl_body_string(r, "image", 1, 700);
    const char *from = cl_body_enum(r, "measured_from", 0, sources);
    if (b64 != NULL)
        read_sigstruct(r, b64, s, &f, mrsigner);
    if (image != NULL && cl_oci_ref_parse(&ref, image, &why) < 0)
        cl_error_field(cl_req_err(r), "image", "%s", why.message);
    else if (image != NULL && ref.digest[0] == '\0')
        cl_error_field(cl_req_err(r), "image", "must be pinned by digest "
                       "(REPOSITORY[:TAG]@sha256:...): the build is that image");
    cl_error_clear(&why);
    if (size != NULL && (!json_is_integer(size) || json_integer_value(size) < 4096 ||
                         json_integer_value(size) > ENCLAVE_SIZE_MAX ||
                         json_integer_value(size) % 4096 != 0))
        cl_error_field(cl_req_err(r), "enclave_size", "must be a whole number of 4096-byte "
                       "pages, at most 64 GiB");
    snprintf(date, sizeof(date), "%04d-%02d-%02d", f.year, f.month, f.day);
    if (b64 != NULL && cl_req_err(r)->code == 0 && !valid_date(date))
        cl_error_field(cl_req_err(r), "sigstruct", "its DATE (%s) is not a day", date);
    if ((rc = cl_body_done(r)) < 0 || (rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &app, "app", "SELECT a.id, a.runtime, a.isvprodid, a.debug,"
                          " a.min_isvsvn, a.enclave_size, a.max_threads, a.attestation"
                          " FROM apps a", "a", "FOR SHARE")) < 0)
        return rc;
    const char *app_id = cl_req_param(r, "id"), *account = p->account_id;
    /* the app's settings, each broken one named */
    if (f.isvprodid != strtol(cl_row_text(app, 0, "isvprodid"), NULL, 10))
        cl_error_field(cl_req_err(r), "sigstruct", "its ISVPRODID is %u; the app's isvprodid "
                       "is %s", f.isvprodid, cl_row_text(app, 0, "isvprodid"));
    if ((f.attributes_flags & 0x2) != 0 && strcmp(cl_row_text(app, 0, "debug"), "t") != 0)
        cl_error_field(cl_req_err(r), "sigstruct", "it signs a debug enclave (ATTRIBUTES.DEBUG),"
                       " which the app allows only with debug: true");
    if (f.isvsvn < strtol(cl_row_text(app, 0, "min_isvsvn"), NULL, 10))
        cl_error_field(cl_req_err(r), "sigstruct", "its ISVSVN %u is below the app's "
                       "min_isvsvn %s", f.isvsvn, cl_row_text(app, 0, "min_isvsvn"));
    /* what the runtime needs to start the image, by the runtime's own rules */
    const cl_runtime *runtime = cl_runtime_find(cl_row_text(app, 0, "runtime"));
    const cl_runtime_build told = {
        .app_id = app_id, .isvprodid = f.isvprodid, .isvsvn = f.isvsvn,
        .debug = (f.attributes_flags & 0x2) != 0,
        .attested = strcmp(cl_row_text(app, 0, "attestation"), "cloister") == 0,
    };
    long long epc = runtime ? runtime->check(json_is_null(config) ? NULL : config, &told,
                                             cl_req_err(r)) : 0;
    if (size == NULL && epc > ENCLAVE_SIZE_MAX)
        cl_error_field(cl_req_err(r), "runtime_config", "asks for %lld bytes of EPC, more than "
                       "64 GiB", epc);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    cl_hex(mr_hex, f.enclave_hash, 32);
    cl_hex(signer_hex, mrsigner, 32);
    cl_hex(sig_hex + 2, s, CL_SIGSTRUCT_SIZE);
    snprintf(prodid, sizeof(prodid), "%u", f.isvprodid);
    snprintf(svn, sizeof(svn), "%u", f.isvsvn);
    snprintf(enclave_size, sizeof(enclave_size), "%lld", size != NULL
             ? (long long)json_integer_value(size)
             : epc > 0 ? epc : strtoll(cl_row_text(app, 0, "enclave_size"), NULL, 10));
    const char *repo = cl_arena_printf(cl_req_arena(r), "%s/%s%s%s", ref.registry,
                                       ref.repository, ref.tag[0] ? ":" : "", ref.tag);
    char *config_text = json_is_object(config) ? json_dumps(config, JSON_COMPACT) : NULL;
    if (config_text != NULL)
        cl_arena_defer(cl_req_arena(r), free, config_text);
    const char *params[17] = {
        account, app_id, cl_row_text(app, 0, "runtime"), from ? from : "sigstruct", repo,
        ref.digest, mr_hex, signer_hex, prodid, svn,
        (f.attributes_flags & 0x2) != 0 ? "true" : "false", enclave_size,
        cl_row_text(app, 0, "max_threads"), date, sig_hex, p->actor, config_text,
    };
    if ((rc = cl_req_exec(r, db, &res,
            "INSERT INTO builds (account_id, app_id, state, origin, runtime, measured_from,"
            "  output_image, output_digest, mrenclave, mrsigner, isvprodid, isvsvn, debug,"
            "  enclave_size, max_threads, sigstruct_date, sigstruct, created_by, signed_at,"
            "  runtime_config)"
            " VALUES ($1, $2, 'pending', 'registered', $3, $4, $5, $6, $7, $8, $9::int,"
            "  $10::int, $11::boolean, $12::bigint, $13::int, $14::date, $15::bytea, $16, now(),"
            "  $17::jsonb)"
            " ON CONFLICT (app_id, mrenclave, mrsigner)"
            "  WHERE origin = 'registered' AND state NOT IN ('rejected', 'deprecated')"
            " DO NOTHING"
            " RETURNING id", 17, params)) < 0)
        return rc;
    if (PQntuples(res) == 0)
        return cl_req_fail(r, CL_ECONFLICT, "this SIGSTRUCT (MRENCLAVE %s) is already "
                           "registered for the app; to register it again (with another "
                           "runtime_config), deny its approval or deprecate it first", mr_hex);
    const char *id = cl_arena_strdup(cl_req_arena(r), PQgetvalue(res, 0, 0));
    if ((rc = cl_audit(r, db, account, "build.register",
                       cl_arena_printf(cl_req_arena(r), "build:%s", id),
                       json_pack("{s:s, s:s, s:s, s:s, s:s}", "app_id", app_id, "mrenclave",
                                 mr_hex, "mrsigner", signer_hex, "measured_from",
                                 from ? from : "sigstruct", "image", image))) < 0 ||
        (rc = cl_build_ask_approval(db, cl_req_arena(r), cl_req_err(r), account, id, app_id,
                                    mr_hex, p->actor, cl_req_id(r), task)) < 0 ||
        (rc = cl_req_load_id(r, db, &res, "build", BUILD_SELECT, "b", "", id)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    cl_req_status(r, 201);
    cl_req_set_header(r, "Location", cl_arena_printf(cl_req_arena(r), "/v1/builds/%s", id));
    return cl_req_row(r, out, res, 0, NULL);
}

/* POST /v1/apps/{id}/builds: a conversion of the app's image, or, with a
 * SIGSTRUCT, a build registered from outside */
static int builds_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "date", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *date = NULL;
    char today[16];
    json_t *job;
    PGresult *res;
    cl_pg *db;
    int rc;

    if (json_object_get(cl_req_body(r), "sigstruct") != NULL)
        return builds_register(r, out);
    if (cl_req_body(r) != NULL) {
        cl_body_only(r, fields);
        date = cl_body_string(r, "date", 0, 10);
        if (date != NULL && !valid_date(date))
            cl_error_field(cl_req_err(r), "date", "must be a day as YYYY-MM-DD");
        if ((rc = cl_body_done(r)) < 0)
            return rc;
    }
    if (date == NULL) {
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(today, sizeof(today), "%Y-%m-%d", &tm);
        date = today;
    }
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "app", APP_SNAPSHOT, "a", "FOR SHARE")) < 0)
        return rc;
    const cl_runtime *runtime = cl_runtime_find(cl_row_text(res, 0, "runtime"));
    if (runtime == NULL || !runtime->converted)
        return cl_req_fail(r, CL_ECONFLICT, "the app runs under %s, whose builds are "
                           "registered with their SIGSTRUCT, not converted",
                           cl_row_text(res, 0, "runtime"));
    json_t *app = cl_row_json(res, 0);
    const char *id = cl_req_param(r, "id");
    if ((rc = cl_job_enqueue(r, db, "convert", cl_arena_printf(cl_req_arena(r), "app:%s", id),
                             json_pack("{s:s, s:o, s:s, s:s}", "app_id", id, "app", app,
                                       "date", date, "requested_by", p->actor), 3, &job)) < 0)
        return rc;
    if ((rc = cl_req_commit(r, db)) < 0) {
        json_decref(job);
        return rc;
    }
    return cl_job_accepted(r, job, out);
}

/* GET /v1/builds and GET /v1/apps/{id}/builds, newest first */
static int list(cl_req *r, json_t **out, const char *app)
{
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_page_parse(r, &page, CL_CURSOR_CREATED)) < 0 || (rc = cl_req_db(r, &db)) < 0)
        return rc;
    if (app != NULL && !cl_uuid_valid(app))
        return cl_req_fail(r, CL_ENOTFOUND, "no app \"%s\"", app);
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[5] = { cl_req_principal(r)->account_id, app, cl_req_query(r, "state"),
                              page.after, limit };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT " BUILD_COLUMNS ", cl_time(b.created_at) || '|' || b.id AS _cursor"
            "  FROM builds b WHERE b.account_id = $1"
            "   AND ($2::uuid IS NULL OR b.app_id = $2::uuid)"
            "   AND ($3::text IS NULL OR b.state = $3)"
            "   AND ($4::text IS NULL OR (b.created_at, b.id) <"
            "        (split_part($4, '|', 1)::timestamptz, split_part($4, '|', 2)::uuid))"
            " ORDER BY b.created_at DESC, b.id DESC LIMIT $5::int", 5, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

static int builds_list(cl_req *r, json_t **out)
{
    return list(r, out, cl_req_query(r, "app_id"));
}

static int app_builds_list(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "app", "SELECT a.id FROM apps a", "a", "")) < 0)
        return rc;
    return list(r, out, cl_req_param(r, "id"));
}

/* GET /v1/builds/{id} */
static int builds_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "build", BUILD_SELECT, "b", "")) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* GET /v1/builds/{id}/manifest: the .manifest.sgx text and its trusted
 * files, [{"uri", "sha256"}] as the manifest lists them. */
static int builds_manifest(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    json_t *doc;
    cl_error why = { 0 };
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "build", "SELECT b.manifest FROM builds b", "b", "")) < 0)
        return rc;
    const char *text = cl_row_text(res, 0, "manifest");
    if (text == NULL)
        return cl_req_fail(r, CL_ENOTFOUND, "build \"%s\" was registered, not converted: "
                           "Cloister wrote no manifest for it", cl_req_param(r, "id"));
    if (cl_toml_parse(&doc, text, strlen(text), &why) < 0) {
        cl_error_clear(&why);
        return cl_req_fail(r, CL_ERROR, "the build's manifest could not be read");
    }
    *out = json_pack("{s:s, s:O}", "manifest", text, "trusted_files",
                     json_is_array(cl_toml_get(doc, "sgx.trusted_files"))
                         ? cl_toml_get(doc, "sgx.trusted_files") : json_array());
    json_decref(doc);
    return *out ? 0 : CL_ERROR;
}

/* The build's SIGSTRUCT (the .sig) as the API gives it: the 1808 bytes
 * and the 256 that are signed, in base64. */
#define SIGSTRUCT_B64 "translate(encode(b.sigstruct, 'base64'), E'\\n', '') AS sigstruct"

static int decode_sigstruct(cl_req *r, PGresult *res, uint8_t s[CL_SIGSTRUCT_SIZE])
{
    uint8_t raw[CL_SIGSTRUCT_SIZE + 3];     /* base64 decodes in whole groups of 3 */
    size_t len = 0;

    if (cl_b64_decode(raw, sizeof(raw), &len, cl_row_text(res, 0, "sigstruct")) < 0 ||
        len != CL_SIGSTRUCT_SIZE)
        return cl_req_fail(r, CL_ERROR, "the build's SIGSTRUCT could not be read");
    memcpy(s, raw, CL_SIGSTRUCT_SIZE);
    return 0;
}

/* GET /v1/builds/{id}/sigstruct */
static int builds_sigstruct(cl_req *r, json_t **out)
{
    uint8_t s[CL_SIGSTRUCT_SIZE], signed_bytes[CL_SIGSTRUCT_SIGNED_SIZE];
    char b64[((CL_SIGSTRUCT_SIZE + 2) / 3) * 4 + 1];
    char signed_b64[((CL_SIGSTRUCT_SIGNED_SIZE + 2) / 3) * 4 + 1];
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "build", "SELECT " SIGSTRUCT_B64 ", b.signed_at IS NOT "
                          "NULL AS signed, b.mrsigner FROM builds b", "b", "")) < 0 ||
        (rc = decode_sigstruct(r, res, s)) < 0)
        return rc;
    cl_sigstruct_signed_bytes(s, signed_bytes);
    cl_b64_encode(b64, s, sizeof(s));
    cl_b64_encode(signed_b64, signed_bytes, sizeof(signed_bytes));
    *out = json_pack("{s:s, s:s, s:b, s:s}", "sigstruct", b64, "signed_bytes", signed_b64,
                     "signed", strcmp(cl_row_text(res, 0, "signed"), "t") == 0,
                     "mrsigner", cl_row_text(res, 0, "mrsigner"));
    return *out ? 0 : CL_ERROR;
}

/* POST /v1/builds/{id}/signature: the offline key's signature */
static int builds_signature(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "signature", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *id = cl_req_param(r, "id"), *text;
    uint8_t s[CL_SIGSTRUCT_SIZE], signature[CL_SGX_SIGNATURE_SIZE + 3];
    char hex[2 + 2 * CL_SIGSTRUCT_SIZE + 1] = "\\x";
    size_t len = 0;
    EVP_PKEY *key = NULL;
    cl_error why = { 0 };
    PGresult *res, *k;
    json_t *job;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    text = cl_body_string(r, "signature", 1, 1024);
    if (text != NULL && (cl_b64_decode(signature, sizeof(signature), &len, text) < 0 ||
                         len != CL_SGX_SIGNATURE_SIZE))
        cl_error_field(cl_req_err(r), "signature", "must be the %d bytes of an RSA-3072 "
                       "signature, big-endian, in base64", CL_SGX_SIGNATURE_SIZE);
    if ((rc = cl_body_done(r)) < 0 || (rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "build", "SELECT " SIGSTRUCT_B64 ", b.state, b.app_id,"
                          " b.job_id, b.signing_key_id, b.finish_job_id, (SELECT j.state FROM"
                          " jobs j WHERE j.id = b.finish_job_id) AS finish_state FROM builds b",
                          "b", "FOR UPDATE OF b")) < 0)
        return rc;
    if (strcmp(cl_row_text(res, 0, "state"), "awaiting_signature") != 0)
        return cl_req_fail(r, CL_ECONFLICT, "build \"%s\" is %s; it awaits no signature", id,
                           cl_row_text(res, 0, "state"));
    /* signed already: only when pushing it failed may it be signed again */
    const char *pushing = cl_row_text(res, 0, "finish_state");
    if (pushing != NULL && strcmp(pushing, "failed") != 0 && strcmp(pushing, "canceled") != 0)
        return cl_req_fail(r, CL_ECONFLICT, "build \"%s\" is signed; job %s is pushing it (%s)",
                           id, cl_row_text(res, 0, "finish_job_id"), pushing);
    const char *key_params[1] = { cl_row_text(res, 0, "signing_key_id") };
    if ((rc = decode_sigstruct(r, res, s)) < 0 ||
        (rc = cl_req_exec(r, db, &k, "SELECT public_pem, mrsigner FROM signing_keys WHERE "
                          "id = $1", 1, key_params)) < 0)
        return rc;
    if (PQntuples(k) != 1 ||
        cl_sgx_key_read_public_pem(&key, PQgetvalue(k, 0, 0), (size_t)PQgetlength(k, 0, 0),
                                   &why) < 0) {
        cl_error_clear(&why);
        return cl_req_fail(r, CL_ERROR, "the build's signing key could not be read");
    }
    rc = cl_sigstruct_attach(s, key, signature, &why);
    EVP_PKEY_free(key);
    if (rc < 0) {
        cl_error_field(cl_req_err(r), "signature", "does not verify with the key whose "
                       "MRSIGNER is %s: %s", PQgetvalue(k, 0, 1), why.message);
        cl_error_clear(&why);
        return CL_EINVALID;
    }

    /* the first conversion's parameters, with the build to finish */
    const char *job_params[1] = { cl_row_text(res, 0, "job_id") };
    PGresult *first;
    if ((rc = cl_req_exec(r, db, &first, "SELECT params FROM jobs WHERE id = $1", 1,
                          job_params)) < 0)
        return rc;
    if (PQntuples(first) != 1)
        return cl_req_fail(r, CL_ECONFLICT, "the job that made build \"%s\" is gone", id);
    json_t *params = cl_row_value(first, 0, 0);
    json_object_set_new(params, "build_id", json_string(id));
    if ((rc = cl_job_enqueue(r, db, "convert", cl_arena_printf(cl_req_arena(r), "app:%s",
                             cl_row_text(res, 0, "app_id")), params, 3, &job)) < 0)
        return rc;
    cl_hex(hex + 2, s, sizeof(s));
    const char *update[3] = { id, hex, json_string_value(json_object_get(job, "id")) };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE builds SET sigstruct = $2::bytea, signed_at = "
                          "now(), finish_job_id = $3 WHERE id = $1", 3, update)) < 0 ||
        (rc = cl_audit(r, db, p->account_id, "build.sign",
                       cl_arena_printf(cl_req_arena(r), "build:%s", id),
                       json_pack("{s:s}", "mrsigner", PQgetvalue(k, 0, 1)))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0) {
        json_decref(job);
        return rc;
    }
    return cl_job_accepted(r, job, out);
}

/* POST /v1/builds/{id}/deprecate */
static int builds_deprecate(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "reason", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *id = cl_req_param(r, "id"), *reason = NULL;
    PGresult *res;
    cl_pg *db;
    int rc;

    if (cl_req_body(r) != NULL) {
        cl_body_only(r, fields);
        reason = cl_body_string(r, "reason", 0, 2000);
        if ((rc = cl_body_done(r)) < 0)
            return rc;
    }
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "build", BUILD_SELECT, "b", "FOR UPDATE OF b")) < 0)
        return rc;
    const char *state = cl_row_text(res, 0, "state");
    if (strcmp(state, "approved") != 0)
        return cl_req_fail(r, CL_ECONFLICT, "build \"%s\" is %s; only an approved build can be "
                           "deprecated", id, state);
    const char *params[1] = { id };
    int revoked = 0;
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE builds SET state = 'deprecated', "
                          "deprecated_at = now() WHERE id = $1", 1, params)) < 0 ||
        (rc = cl_certificates_revoke(r, db, NULL, id, "build deprecated", &revoked)) < 0 ||
        (rc = cl_audit(r, db, p->account_id, "build.deprecate",
                       cl_arena_printf(cl_req_arena(r), "build:%s", id),
                       json_pack("{s:s, s:s}", "reason", reason ? reason : "", "mrenclave",
                                 cl_row_text(res, 0, "mrenclave")))) < 0 ||
        (rc = cl_req_load(r, db, &res, "build", BUILD_SELECT, "b", "")) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

const cl_route cl_builds_routes[] = {
    { "POST", "/v1/apps/{id}/builds",     builds_create,
      CL_ROLE_WRITE | CL_JSON_OPTIONAL | CL_IDEMPOTENT },
    { "GET",  "/v1/apps/{id}/builds",     app_builds_list,  CL_ROLE_READ },
    { "GET",  "/v1/builds",               builds_list,      CL_ROLE_READ },
    { "GET",  "/v1/builds/{id}",          builds_get,       CL_ROLE_READ },
    { "GET",  "/v1/builds/{id}/manifest", builds_manifest,  CL_ROLE_READ },
    { "GET",  "/v1/builds/{id}/sigstruct", builds_sigstruct, CL_ROLE_READ },
    { "POST", "/v1/builds/{id}/signature", builds_signature, CL_ROLE_WRITE | CL_JSON_BODY },
    { "POST", "/v1/builds/{id}/deprecate", builds_deprecate,
      CL_ROLE_ADMIN | CL_JSON_OPTIONAL },
    { NULL, NULL, NULL, 0 },
};
