/*
 * apps.c - /v1/apps: the applications an account converts and runs.
 *
 * Fields and their rules (each broken rule is a 422 naming the field):
 *
 *   name             DNS-1123 label, unique in the account          (required)
 *   description      up to 1000 characters
 *   input_image      an image reference, tag or digest              (required)
 *   output_image     where the converted image goes: a reference
 *                    without a digest                               (required)
 *   runtime          "gramine", "occlum", "scone", "sgx-sdk" or "edp" (lib/runtime.c) (gramine)
 *   enclave_size     bytes, a power of two from 64 MiB to 64 GiB    (512 MiB)
 *   max_threads      1..1024                                        (16)
 *   isvprodid, isvsvn  0..65535                                     (0)
 *   entrypoint, args arrays of at most 64 strings of 4096 bytes     (the image's)
 *   env              at most 128 NAME: value pairs
 *   allowed_domains  at most 32 DNS names (a leading "*." allowed)
 *   encrypted_paths, writable_paths   at most 64 absolute paths
 *   labels           at most 64 key: value strings
 *   debug            boolean                                        (false)
 *
 * What an enclave of the app must prove, and what it receives (api/enclaves.c):
 *
 *   attestation      "cloister" (cloister-init attests first) or "none"  (cloister)
 *   identity         "mrenclave" (an approved build's exact MRENCLAVE) or
 *                    "signer" (an approved build's MRSIGNER and ISVPRODID,
 *                    with ISVSVN at least min_isvsvn)                 (mrenclave)
 *   min_isvsvn       0..65535                                        (0)
 *   required_node_labels  at most 32 key: value strings the node must carry
 *   cert_lifetime    seconds, 3600..7776000 (90 days)                (604800)
 *   secrets_env      boolean: secrets also as environment variables  (false)
 *   cloister_dir     absolute path of the in-enclave tmpfs           (/run/cloister)
 *   on_attestation_failure  "retry" (with back-off) or "exit"        (retry)
 *
 * input_digest (read-only) is the digest input_image resolved to: every new
 * or changed input_image queues an image.inspect job (input_inspect_job),
 * which fills it in; a registry of the account whose host the reference
 * names lends its credentials.
 *
 * approved_domains (read-only) are the allowed domains that an approval
 * task has approved (api/tasks.c); each newly allowed domain gets a task.
 *
 * PATCH takes any subset; null resets an optional field to its default.
 * Reads carry an ETag and PATCH honours If-Match.
 */
#include "buf.h"
#include "daemon.h"
#include "oci_ref.h"
#include "jobs.h"
#include "resource.h"
#include "runtime.h"
#include "tasks.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MIB (1024LL * 1024)

#define APP_COLUMNS \
    "a.id, a.name, a.description, a.input_image, a.output_image, a.runtime, a.enclave_size," \
    " a.max_threads, a.isvprodid, a.isvsvn, a.entrypoint, a.args, a.env, a.allowed_domains," \
    " a.approved_domains, a.encrypted_paths, a.writable_paths, a.labels, a.debug," \
    " a.attestation, a.identity, a.min_isvsvn, a.required_node_labels, a.cert_lifetime," \
    " a.secrets_env, a.cloister_dir, a.on_attestation_failure," \
    " a.input_digest, a.input_inspect_job, a.created_at, a.updated_at"

static const char *const fields[] = {
    "name", "description", "input_image", "output_image", "runtime", "enclave_size",
    "max_threads", "isvprodid", "isvsvn", "entrypoint", "args", "env", "allowed_domains",
    "encrypted_paths", "writable_paths", "labels", "debug", "attestation", "identity",
    "min_isvsvn", "required_node_labels", "cert_lifetime", "secrets_env", "cloister_dir",
    "on_attestation_failure", NULL,
};
#define NFIELDS 25

/* A string that must be one of the words given (NULL-terminated). */
static void one_of(cl_req *r, json_t *v, const char *field, const char *const *words)
{
    for (size_t i = 0; json_is_string(v) && words[i] != NULL; i++)
        if (strcmp(json_string_value(v), words[i]) == 0)
            return;
    cl_error_field(cl_req_err(r), field, "must be %s or %s", words[0], words[1]);
}

/* ---- field rules ------------------------------------------------------- */

static int dns_name(const char *s)
{
    size_t len = strlen(s);

    if (strncmp(s, "*.", 2) == 0)
        s += 2, len -= 2;
    if (len == 0 || len > 253)
        return 0;
    for (const char *seg = s;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);

        if (!cl_dns_label(seg, n))
            return 0;
        if (dot == NULL)
            return 1;
        seg = dot + 1;
    }
}

static int absolute_path(const char *s)
{
    return cl_path_absolute(s, 4096);
}

static void string_list(cl_req *r, json_t *v, const char *field, size_t max_items,
                        size_t max_len, int (*ok)(const char *), const char *what)
{
    json_t *item;
    size_t i;

    if (!json_is_array(v)) {
        cl_error_field(cl_req_err(r), field, "must be an array of strings");
        return;
    }
    if (json_array_size(v) > max_items) {
        cl_error_field(cl_req_err(r), field, "must have at most %zu items", max_items);
        return;
    }
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || json_string_length(item) > max_len ||
            (ok != NULL && !ok(json_string_value(item)))) {
            cl_error_field(cl_req_err(r), field, "item %zu must be %s", i, what);
            return;
        }
    }
}

static int env_name(const char *s)
{
    if (!isalpha((unsigned char)s[0]) && s[0] != '_')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

static int label_key(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len > 63)
        return 0;
    for (; *s; s++)
        if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && !strchr("._/-", *s))
            return 0;
    return 1;
}

static void string_map(cl_req *r, json_t *v, const char *field, size_t max_items,
                       int (*key_ok)(const char *), size_t max_value, const char *what)
{
    const char *key;
    json_t *value;

    if (!json_is_object(v)) {
        cl_error_field(cl_req_err(r), field, "must be an object of strings");
        return;
    }
    if (json_object_size(v) > max_items) {
        cl_error_field(cl_req_err(r), field, "must have at most %zu entries", max_items);
        return;
    }
    json_object_foreach(v, key, value) {
        if (!key_ok(key)) {
            cl_error_field(cl_req_err(r), field, "key \"%.64s\" must be %s", key, what);
            return;
        }
        if (!json_is_string(value) || json_string_length(value) > max_value) {
            cl_error_field(cl_req_err(r), field, "\"%.64s\" must be a string of at most %zu "
                           "bytes", key, max_value);
            return;
        }
    }
}

static void integer(cl_req *r, json_t *v, const char *field, long long min, long long max)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        cl_error_field(cl_req_err(r), field, "must be an integer from %lld to %lld", min, max);
}

static void image(cl_req *r, json_t *v, const char *field, int digest_allowed)
{
    cl_oci_ref ref;
    cl_error why = { 0 };

    if (!json_is_string(v)) {
        cl_error_field(cl_req_err(r), field, "must be an image reference");
        return;
    }
    if (cl_oci_ref_parse(&ref, json_string_value(v), &why) < 0)
        cl_error_field(cl_req_err(r), field, "%s", why.message);
    else if (!digest_allowed && ref.digest[0] != '\0')
        cl_error_field(cl_req_err(r), field, "must name a repository (and tag), not a digest");
    cl_error_clear(&why);
}

/*
 * Check every field present in body.  Returns the SQL parameter text for
 * each field in the order of `fields` (NULL when absent or null).
 */
static void validate(cl_req *r, json_t *body, const char **text)
{
    for (size_t i = 0; fields[i] != NULL; i++) {
        const char *f = fields[i];
        json_t *v = json_object_get(body, f);

        text[i] = NULL;
        if (v == NULL || json_is_null(v))
            continue;
        if (strcmp(f, "name") == 0) {
            if (!json_is_string(v) || !cl_dns_label(json_string_value(v), json_string_length(v)))
                cl_error_field(cl_req_err(r), f, "must be a DNS label: 1 to 63 lower-case "
                               "letters, digits and hyphens, not starting or ending with one");
        } else if (strcmp(f, "description") == 0) {
            if (!json_is_string(v) || cl_utf8_length(json_string_value(v)) > 1000)
                cl_error_field(cl_req_err(r), f, "must be a string of at most 1000 characters");
        } else if (strcmp(f, "input_image") == 0) {
            image(r, v, f, 1);
        } else if (strcmp(f, "output_image") == 0) {
            image(r, v, f, 0);
        } else if (strcmp(f, "runtime") == 0) {
            if (cl_runtime_find(json_string_value(v)) == NULL)
                cl_error_field(cl_req_err(r), f, "must be one of %s", cl_runtime_names());
        } else if (strcmp(f, "enclave_size") == 0) {
            long long n = json_integer_value(v);
            if (!json_is_integer(v) || n < 64 * MIB || n > 64 * 1024 * MIB || (n & (n - 1)) != 0)
                cl_error_field(cl_req_err(r), f, "must be a power of two from 67108864 (64 MiB) "
                               "to 68719476736 (64 GiB) bytes");
        } else if (strcmp(f, "max_threads") == 0) {
            integer(r, v, f, 1, 1024);
        } else if (strcmp(f, "isvprodid") == 0 || strcmp(f, "isvsvn") == 0) {
            integer(r, v, f, 0, 65535);
        } else if (strcmp(f, "entrypoint") == 0 || strcmp(f, "args") == 0) {
            string_list(r, v, f, 64, 4096, NULL, "a string of at most 4096 bytes");
        } else if (strcmp(f, "env") == 0) {
            string_map(r, v, f, 128, env_name, 8192, "a variable name ([A-Za-z_][A-Za-z0-9_]*)");
        } else if (strcmp(f, "allowed_domains") == 0) {
            string_list(r, v, f, 32, 253, dns_name, "a DNS name such as api.example.com");
        } else if (strcmp(f, "encrypted_paths") == 0 || strcmp(f, "writable_paths") == 0) {
            string_list(r, v, f, 64, 4096, absolute_path, "an absolute path without \"..\"");
        } else if (strcmp(f, "labels") == 0) {
            string_map(r, v, f, 64, label_key, 256, "1 to 63 of [a-z0-9._/-]");
        } else if (strcmp(f, "debug") == 0 || strcmp(f, "secrets_env") == 0) {
            if (!json_is_boolean(v))
                cl_error_field(cl_req_err(r), f, "must be true or false");
        } else if (strcmp(f, "attestation") == 0) {
            one_of(r, v, f, (const char *const[]){ "cloister", "none", NULL });
        } else if (strcmp(f, "identity") == 0) {
            one_of(r, v, f, (const char *const[]){ "mrenclave", "signer", NULL });
        } else if (strcmp(f, "on_attestation_failure") == 0) {
            one_of(r, v, f, (const char *const[]){ "retry", "exit", NULL });
        } else if (strcmp(f, "min_isvsvn") == 0) {
            integer(r, v, f, 0, 65535);
        } else if (strcmp(f, "cert_lifetime") == 0) {
            integer(r, v, f, 3600, 7776000);
        } else if (strcmp(f, "required_node_labels") == 0) {
            string_map(r, v, f, 32, label_key, 253, "1 to 63 of [a-z0-9._/-]");
        } else if (strcmp(f, "cloister_dir") == 0) {
            if (!json_is_string(v) || json_string_length(v) > 256 ||
                !absolute_path(json_string_value(v)) || strcmp(json_string_value(v), "/") == 0)
                cl_error_field(cl_req_err(r), f, "must be an absolute path (not /) without \"..\", "
                               "of at most 256 bytes");
        }
        if (json_is_string(v))
            text[i] = json_string_value(v);
        else
            text[i] = cl_arena_defer(cl_req_arena(r), free,
                                     json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY));
    }
}

/* ---- handlers ----------------------------------------------------------- */

#define APP_SELECT "SELECT " APP_COLUMNS ", a.version AS _version FROM apps a"

static int load(cl_req *r, cl_pg *db, const char *lock, PGresult **res)
{
    return cl_req_load(r, db, res, "app", APP_SELECT, "a", lock);
}

/* Queue the inspection of the app's input_image, and remember the job. */
static int inspect_input(cl_req *r, cl_pg *db, const char *id, const char *image)
{
    json_t *job;
    int rc;

    if ((rc = cl_job_enqueue(r, db, "image.inspect", cl_arena_printf(cl_req_arena(r),
                             "app:%s", id), json_pack("{s:s, s:s}", "reference", image,
                             "app_id", id), 3, &job)) < 0)
        return rc;
    const char *params[2] = { id, json_string_value(json_object_get(job, "id")) };
    rc = cl_req_exec(r, db, NULL, "UPDATE apps SET input_inspect_job = $2, input_digest = NULL "
                     "WHERE id = $1", 2, params);
    json_decref(job);
    return rc;
}

/* GET /v1/apps */
static int apps_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT " APP_COLUMNS ", cl_time(a.created_at) || '|' || a.id AS _cursor"
            "  FROM apps a WHERE a.account_id = $1"
            "   AND ($2::text IS NULL OR (a.created_at, a.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY a.created_at, a.id LIMIT $3");
}

/* POST /v1/apps */
static int apps_create(cl_req *r, json_t **out)
{
    const char *account = cl_req_principal(r)->account_id;
    const char *v[NFIELDS];
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    validate(r, cl_req_body(r), v);
    for (size_t i = 0; i < 3; i++) {
        static const char *const required[] = { "name", "input_image", "output_image" };
        json_t *f = json_object_get(cl_req_body(r), required[i]);

        if (f == NULL || json_is_null(f))
            cl_error_field(cl_req_err(r), required[i], "is required");
    }
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    const char *params[NFIELDS + 1] = { account };
    memcpy(params + 1, v, NFIELDS * sizeof(*v));
    if ((rc = cl_req_begin(r, &db)) < 0)
        return rc;
    rc = cl_req_exec(r, db, &res,
        "WITH a AS (INSERT INTO apps (account_id, name, description, input_image, output_image,"
        "   runtime, enclave_size, max_threads, isvprodid, isvsvn, entrypoint, args, env,"
        "   allowed_domains, encrypted_paths, writable_paths, labels, debug, attestation,"
        "   identity, min_isvsvn, required_node_labels, cert_lifetime, secrets_env,"
        "   cloister_dir, on_attestation_failure)"
        " VALUES ($1, $2, coalesce($3, ''), $4, $5, coalesce($6, 'gramine'),"
        "   coalesce($7::bigint, 536870912), coalesce($8::int, 16), coalesce($9::int, 0),"
        "   coalesce($10::int, 0), $11::jsonb, $12::jsonb, coalesce($13::jsonb, '{}'),"
        "   coalesce($14::jsonb, '[]'), coalesce($15::jsonb, '[]'), coalesce($16::jsonb, '[]'),"
        "   coalesce($17::jsonb, '{}'), coalesce($18::boolean, false),"
        "   coalesce($19, 'cloister'), coalesce($20, 'mrenclave'), coalesce($21::int, 0),"
        "   coalesce($22::jsonb, '{}'), coalesce($23::int, 604800),"
        "   coalesce($24::boolean, false), coalesce($25, '/run/cloister'),"
        "   coalesce($26, 'retry')) RETURNING *)"
        "SELECT " APP_COLUMNS ", a.version AS _version FROM a", NFIELDS + 1, params);
    if (rc == CL_ECONFLICT) {
        cl_error_clear(cl_req_err(r));
        cl_error_field(cl_req_err(r), "name", "is taken by another app of this account");
        return CL_EINVALID;
    }
    if (rc < 0)
        return rc;
    const char *id = cl_row_text(res, 0, "id");
    if ((rc = cl_audit(r, db, account, "app.create", cl_arena_printf(cl_req_arena(r),
                       "app:%s", id), json_pack("{s:s, s:s}", "name", v[0],
                       "input_image", v[2]))) < 0 ||
        (rc = cl_tasks_sync_domains(r, db, id)) < 0 ||
        (rc = inspect_input(r, db, id, v[2])) < 0 ||
        (rc = cl_req_load_id(r, db, &res, "app", APP_SELECT, "a", "", id)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 201, cl_arena_printf(cl_req_arena(r), "/v1/apps/%s", id));
}

/* GET /v1/apps/{id} */
static int apps_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 || (rc = load(r, db, "", &res)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* PATCH /v1/apps/{id} */
static int apps_update(cl_req *r, json_t **out)
{
    const char *account = cl_req_principal(r)->account_id, *version, *v[NFIELDS];
    json_t *body = cl_req_body(r), *changed;
    char present[NFIELDS + 1];
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_if_match(r, &version)) < 0)
        return rc;
    cl_body_only(r, fields);
    validate(r, body, v);
    for (size_t i = 0; i < 3; i++) {
        static const char *const required[] = { "name", "input_image", "output_image" };
        json_t *f = json_object_get(body, required[i]);
        if (f != NULL && json_is_null(f))
            cl_error_field(cl_req_err(r), required[i], "cannot be removed");
    }
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    /* which fields the patch names: given a value, or null for the default */
    for (size_t i = 0; fields[i] != NULL; i++)
        present[i] = json_object_get(body, fields[i]) != NULL ? 't' : 'f';
    present[NFIELDS] = '\0';

    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = load(r, db, "FOR UPDATE", &res)) < 0)
        return rc;
    if (version != NULL && strcmp(version, cl_row_text(res, 0, "_version")) != 0)
        return cl_req_fail(r, CL_EPRECONDITION, "app \"%s\" was changed since version %s; "
                           "read it again", cl_req_param(r, "id"), version);
    const char *params[NFIELDS + 2] = { cl_req_param(r, "id"), present };
    memcpy(params + 2, v, NFIELDS * sizeof(*v));
#define SET(n, col, expr) \
    col " = CASE WHEN substr($2, " #n ", 1) = 't' THEN " expr " ELSE " col " END"
    rc = cl_req_exec(r, db, &res,
        "WITH a AS (UPDATE apps SET "
        SET(1, "name", "$3") ", "
        SET(2, "description", "coalesce($4, '')") ", "
        SET(3, "input_image", "$5") ", "
        SET(4, "output_image", "$6") ", "
        SET(5, "runtime", "coalesce($7, 'gramine')") ", "
        SET(6, "enclave_size", "coalesce($8::bigint, 536870912)") ", "
        SET(7, "max_threads", "coalesce($9::int, 16)") ", "
        SET(8, "isvprodid", "coalesce($10::int, 0)") ", "
        SET(9, "isvsvn", "coalesce($11::int, 0)") ", "
        SET(10, "entrypoint", "$12::jsonb") ", "
        SET(11, "args", "$13::jsonb") ", "
        SET(12, "env", "coalesce($14::jsonb, '{}')") ", "
        SET(13, "allowed_domains", "coalesce($15::jsonb, '[]')") ", "
        SET(14, "encrypted_paths", "coalesce($16::jsonb, '[]')") ", "
        SET(15, "writable_paths", "coalesce($17::jsonb, '[]')") ", "
        SET(16, "labels", "coalesce($18::jsonb, '{}')") ", "
        SET(17, "debug", "coalesce($19::boolean, false)") ", "
        SET(18, "attestation", "coalesce($20, 'cloister')") ", "
        SET(19, "identity", "coalesce($21, 'mrenclave')") ", "
        SET(20, "min_isvsvn", "coalesce($22::int, 0)") ", "
        SET(21, "required_node_labels", "coalesce($23::jsonb, '{}')") ", "
        SET(22, "cert_lifetime", "coalesce($24::int, 604800)") ", "
        SET(23, "secrets_env", "coalesce($25::boolean, false)") ", "
        SET(24, "cloister_dir", "coalesce($26, '/run/cloister')") ", "
        SET(25, "on_attestation_failure", "coalesce($27, 'retry')") ", "
        " version = version + 1 WHERE id = $1 RETURNING *)"
        "SELECT " APP_COLUMNS ", a.version AS _version FROM a", NFIELDS + 2, params);
#undef SET
    if (rc == CL_ECONFLICT) {
        cl_error_clear(cl_req_err(r));
        cl_error_field(cl_req_err(r), "name", "is taken by another app of this account");
        return CL_EINVALID;
    }
    changed = json_array();
    for (size_t i = 0; fields[i] != NULL; i++)
        if (present[i] == 't')
            json_array_append_new(changed, json_string(fields[i]));
    if (rc < 0) {
        json_decref(changed);
        return rc;
    }
    if ((rc = cl_audit(r, db, account, "app.update", cl_arena_printf(cl_req_arena(r),
                       "app:%s", cl_req_param(r, "id")),
                       json_pack("{s:o}", "fields", changed))) < 0 ||
        (rc = cl_tasks_sync_domains(r, db, cl_req_param(r, "id"))) < 0 ||
        (present[2] == 't' &&
         (rc = inspect_input(r, db, cl_req_param(r, "id"), v[2])) < 0) ||
        (rc = load(r, db, "", &res)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* DELETE /v1/apps/{id} */
static int apps_delete(cl_req *r, json_t **out)
{
    const char *account = cl_req_principal(r)->account_id, *version;
    PGresult *res;
    cl_pg *db;
    int rc;

    (void)out;
    if ((rc = cl_req_if_match(r, &version)) < 0 || (rc = cl_req_begin(r, &db)) < 0 ||
        (rc = load(r, db, "FOR UPDATE", &res)) < 0)
        return rc;
    if (version != NULL && strcmp(version, cl_row_text(res, 0, "_version")) != 0)
        return cl_req_fail(r, CL_EPRECONDITION, "app \"%s\" was changed since version %s",
                           cl_req_param(r, "id"), version);
    const char *params[1] = { cl_req_param(r, "id") };
    if ((rc = cl_req_exec(r, db, &res, "SELECT count(*) FROM deployments WHERE app_id = $1"
                          " AND state <> 'deleted'", 1, params)) < 0)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0)
        return cl_req_fail(r, CL_ECONFLICT, "app \"%s\" still has %s deployment(s); remove "
                           "them first", params[0], PQgetvalue(res, 0, 0));
    if ((rc = load(r, db, "FOR UPDATE", &res)) < 0)
        return rc;
    if ((rc = cl_req_exec(r, db, NULL, "DELETE FROM apps WHERE id = $1", 1, params)) < 0 ||
        (rc = cl_audit(r, db, account, "app.delete", cl_arena_printf(cl_req_arena(r),
                       "app:%s", params[0]), json_pack("{s:s}", "name",
                       cl_row_text(res, 0, "name")))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    cl_req_status(r, 204);
    return 0;
}

const cl_route cl_apps_routes[] = {
    { "GET",    "/v1/apps",      apps_list,   CL_ROLE_READ },
    { "POST",   "/v1/apps",      apps_create, CL_ROLE_WRITE | CL_JSON_BODY | CL_IDEMPOTENT },
    { "GET",    "/v1/apps/{id}", apps_get,    CL_ROLE_READ },
    { "PATCH",  "/v1/apps/{id}", apps_update, CL_ROLE_WRITE | CL_JSON_BODY },
    { "DELETE", "/v1/apps/{id}", apps_delete, CL_ROLE_WRITE },
    { NULL, NULL, NULL, 0 },
};
