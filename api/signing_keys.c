/*
 * signing_keys.c - /v1/signing-keys: the account's enclave signing keys.
 *
 * An account has at most one active key, RSA-3072 with exponent 3 (the only
 * kind the CPU accepts):
 *
 *   generated  made by the account's first conversion after it had none
 *              (workers/convert/keys.c);
 *   imported   a private key an admin brought (PEM, unencrypted);
 *   offline    only a public key: its holder keeps the private key away
 *              from Cloister and signs each build (POST
 *              /v1/builds/{id}/signature), which waits as
 *              awaiting_signature until then.
 *
 * A new key retires the active one; rotating retires it without a
 * successor, so the next conversion generates one.  Retired keys stay
 * listed with their MRSIGNER: the builds they signed still carry it.
 * Private keys are sealed at rest (associated data "signing-key:<id>"),
 * unsealed only in the worker's job that signs, and never returned.
 */
#include "daemon.h"
#include "digest.h"
#include "resource.h"
#include "seal.h"
#include "sgx/sigstruct.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_COLUMNS "k.id, k.mrsigner, k.origin, k.state, k.public_pem, k.created_at, k.retired_at"

/* GET /v1/signing-keys, oldest first */
static int signing_keys_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT " KEY_COLUMNS ", cl_time(k.created_at) || '|' || k.id AS _cursor"
            "  FROM signing_keys k WHERE k.account_id = $1"
            "   AND ($2::text IS NULL OR (k.created_at, k.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY k.created_at, k.id LIMIT $3");
}

/* Retire the account's active key, inside the caller's transaction; the
 * retired key's row goes to *res (no rows when there was none). */
static int retire_active(cl_req *r, cl_pg *db, PGresult **res)
{
    const char *params[1] = { cl_req_principal(r)->account_id };

    return cl_req_exec(r, db, res,
        "UPDATE signing_keys k SET state = 'retired', retired_at = now()"
        " WHERE k.account_id = $1 AND k.state = 'active' RETURNING " KEY_COLUMNS, 1, params);
}

/* The key a body brings: a private key (sealed into *sealed) or a public
 * one; its MRSIGNER and public PEM. */
static int read_key(cl_req *r, const char *id, char **sealed, char mrsigner[65], char **pub)
{
    const char *private_pem = cl_body_string(r, "private_key_pem", 0, CL_SGX_KEY_PEM_MAX);
    const char *public_pem = cl_body_string(r, "public_key_pem", 0, CL_SGX_KEY_PEM_MAX);
    const char *field = private_pem ? "private_key_pem" : "public_key_pem";
    EVP_PKEY *key = NULL;
    cl_error why = { 0 };
    uint8_t mr[32];
    size_t len;
    char aad[64];
    int rc;

    *sealed = *pub = NULL;
    if ((private_pem == NULL) == (public_pem == NULL))
        return cl_error_field(cl_req_err(r), "private_key_pem", "give a private_key_pem or a "
                              "public_key_pem (for a key kept offline), not both");
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    rc = private_pem ? cl_sgx_key_read_pem(&key, private_pem, strlen(private_pem), &why)
                     : cl_sgx_key_read_public_pem(&key, public_pem, strlen(public_pem), &why);
    if (rc < 0) {
        cl_error_field(cl_req_err(r), field, "%s", why.message);
        cl_error_clear(&why);
        return CL_EINVALID;
    }
    snprintf(aad, sizeof(aad), "signing-key:%s", id);
    if (cl_sgx_key_mrsigner(key, mr, cl_req_err(r)) < 0 ||
        cl_sgx_key_write_public_pem(key, pub, &len, cl_req_err(r)) < 0 ||
        (private_pem != NULL && cl_seal(sealed, cl_req_daemon(r)->kek, private_pem,
                                        strlen(private_pem), aad, cl_req_err(r)) < 0)) {
        EVP_PKEY_free(key);
        return CL_ERROR;
    }
    EVP_PKEY_free(key);
    cl_hex(mrsigner, mr, 32);
    cl_arena_defer(cl_req_arena(r), free, *pub);
    if (*sealed != NULL)
        cl_arena_defer(cl_req_arena(r), free, *sealed);
    return 0;
}

/* POST /v1/signing-keys: bring a key; it becomes the active one. */
static int signing_keys_create(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "private_key_pem", "public_key_pem", NULL };
    const char *account = cl_req_principal(r)->account_id;
    char id[37], mrsigner[65], *sealed, *pub;
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    if (cl_uuid_new(id) < 0)
        return cl_req_fail(r, CL_ERROR, "could not make an id");
    if ((rc = read_key(r, id, &sealed, mrsigner, &pub)) < 0)
        return rc;
    const char *origin = sealed ? "imported" : "offline";
    const char *params[6] = { id, account, mrsigner, pub, sealed, origin };
    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = retire_active(r, db, &res)) < 0 ||
        (PQntuples(res) == 1 &&
         (rc = cl_audit(r, db, account, "signing_key.retire",
                        cl_arena_printf(cl_req_arena(r), "signing_key:%s",
                                        cl_row_text(res, 0, "id")),
                        json_pack("{s:s}", "mrsigner", cl_row_text(res, 0, "mrsigner")))) < 0) ||
        (rc = cl_req_exec(r, db, &res,
            "INSERT INTO signing_keys AS k (id, account_id, mrsigner, public_pem, key_sealed, origin)"
            " VALUES ($1, $2, $3, $4, $5, $6) RETURNING " KEY_COLUMNS, 6, params)) < 0 ||
        (rc = cl_audit(r, db, account, "signing_key.create",
                       cl_arena_printf(cl_req_arena(r), "signing_key:%s", id),
                       json_pack("{s:s, s:s}", "mrsigner", mrsigner, "origin", origin))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 201, NULL);
}

/* POST /v1/signing-keys/rotate: retire the active key; the next
 * conversion makes a new one. */
static int signing_keys_rotate(cl_req *r, json_t **out)
{
    const char *account = cl_req_principal(r)->account_id;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = retire_active(r, db, &res)) < 0)
        return rc;
    if (PQntuples(res) == 0)
        return cl_req_fail(r, CL_ECONFLICT, "the account has no active signing key to rotate");
    if ((rc = cl_audit(r, db, account, "signing_key.retire",
                       cl_arena_printf(cl_req_arena(r), "signing_key:%s",
                                       cl_row_text(res, 0, "id")),
                       json_pack("{s:s}", "mrsigner", cl_row_text(res, 0, "mrsigner")))) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

const cl_route cl_signing_keys_routes[] = {
    { "GET",  "/v1/signing-keys",        signing_keys_list,   CL_ROLE_READ },
    { "POST", "/v1/signing-keys",        signing_keys_create, CL_ROLE_ADMIN | CL_JSON_BODY },
    { "POST", "/v1/signing-keys/rotate", signing_keys_rotate, CL_ROLE_ADMIN },
    { NULL, NULL, NULL, 0 },
};
