/*
 * keys.c - the account's enclave signing key, inside the job's process.
 *
 * The key is sealed at rest under the KEK (associated data
 * "signing-key:<id>", so a sealed key cannot be moved to another row) and
 * unsealed here only, in the child process that signs; it is never logged
 * and never leaves the process.  An account without a key gets one on its
 * first conversion: two conversions racing to make it both try, and the
 * unique index on the account's active key lets one win.  An offline key
 * (api/signing_keys.c) is only a public key: its builds wait for their
 * holder's signature.
 */
#include "audit.h"
#include "convert.h"
#include "digest.h"
#include "seal.h"
#include "sgx/sigstruct.h"
#include "token.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load_active(cl_job *j, cl_pg *db, cv_key *key, int *found, cl_error *err)
{
    const char *params[1] = { cl_job_account(j) };
    PGresult *res = PQexecParams(db->conn, "SELECT id, mrsigner, key_sealed, public_pem FROM "
                                 "signing_keys WHERE account_id = $1 AND state = 'active'", 1,
                                 NULL, params, NULL, NULL, 0);
    char *pem = NULL, aad[64];
    size_t len = 0;
    int rc = 0;

    *found = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = cl_error_set(err, CL_EUNAVAILABLE, "could not read the signing key: %s",
                          PQerrorMessage(db->conn));
    } else if (PQntuples(res) == 1) {
        snprintf(key->id, sizeof(key->id), "%s", PQgetvalue(res, 0, 0));
        snprintf(key->mrsigner, sizeof(key->mrsigner), "%s", PQgetvalue(res, 0, 1));
        key->offline = PQgetisnull(res, 0, 2);
        snprintf(aad, sizeof(aad), "signing-key:%s", key->id);
        if (key->offline)
            rc = cl_sgx_key_read_public_pem(&key->pkey, PQgetvalue(res, 0, 3),
                                            (size_t)PQgetlength(res, 0, 3), err);
        else if ((rc = cl_unseal(&pem, &len, cl_worker.kek, PQgetvalue(res, 0, 2), aad,
                                 err)) == 0)
            rc = cl_sgx_key_read_pem(&key->pkey, pem, len, err);
        *found = rc == 0;
    }
    if (pem != NULL) {
        OPENSSL_cleanse(pem, len);
        free(pem);
    }
    PQclear(res);
    return rc;
}

/* Make a key and store it as the account's active one, unless another job
 * got there first (then nothing is stored and the caller reads theirs). */
static int create(cl_job *j, cl_pg *db, cl_error *err)
{
    EVP_PKEY *key = NULL;
    char *pem = NULL, *pub = NULL, *sealed = NULL, id[37], aad[64], hex[65];
    uint8_t mrsigner[32];
    size_t len = 0, publen;
    int rc;

    cl_job_log(j, "the account has no signing key yet: making one (RSA-3072, exponent 3)");
    if ((rc = cl_sgx_key_generate(&key, err)) < 0 ||
        (rc = cl_sgx_key_mrsigner(key, mrsigner, err)) < 0 ||
        (rc = cl_sgx_key_write_pem(key, &pem, &len, err)) < 0 ||
        (rc = cl_sgx_key_write_public_pem(key, &pub, &publen, err)) < 0)
        goto done;
    if (cl_uuid_new(id) < 0) {
        rc = cl_error_set(err, CL_ERROR, "could not make an id");
        goto done;
    }
    snprintf(aad, sizeof(aad), "signing-key:%s", id);
    if ((rc = cl_seal(&sealed, cl_worker.kek, pem, len, aad, err)) < 0)
        goto done;
    cl_hex(hex, mrsigner, sizeof(mrsigner));

    cl_arena *arena = cl_arena_new(4096);
    const char *params[5] = { id, cl_job_account(j), hex, sealed, pub };
    PGresult *res;

    if (arena == NULL) {
        rc = cl_error_set(err, CL_ERROR, "out of memory");
        goto done;
    }
    if ((rc = cl_pg_exec(NULL, db, arena, "BEGIN", 0, NULL, err)) == 0 &&
        (rc = cl_pg_exec(&res, db, arena,
            "INSERT INTO signing_keys (id, account_id, mrsigner, key_sealed, public_pem, origin)"
            " VALUES ($1, $2, $3, $4, $5, 'generated')"
            " ON CONFLICT (account_id) WHERE state = 'active' DO NOTHING RETURNING id",
            5, params, err)) == 0 &&
        (PQntuples(res) == 0 ||
         (rc = cl_audit_append(db, arena, err, cl_job_account(j), "system", cl_job_id(j),
                               "signing_key.create", cl_arena_printf(arena, "signing_key:%s",
                                                                      id),
                               json_pack("{s:s, s:s}", "mrsigner", hex, "origin",
                                         "generated"))) == 0))
        rc = cl_pg_exec(NULL, db, arena, "COMMIT", 0, NULL, err);
    if (rc < 0)
        PQclear(PQexec(db->conn, "ROLLBACK"));
    cl_arena_free(arena);
done:
    if (pem != NULL) {
        OPENSSL_cleanse(pem, len);
        free(pem);
    }
    free(sealed);
    free(pub);
    EVP_PKEY_free(key);
    return rc;
}

int cv_signing_key(cl_job *j, cl_pg *db, cv_key *key, cl_error *err)
{
    int found, rc;

    memset(key, 0, sizeof(*key));
    if ((rc = load_active(j, db, key, &found, err)) < 0)
        return rc;
    if (!found && ((rc = create(j, db, err)) < 0 ||
                   (rc = load_active(j, db, key, &found, err)) < 0))
        return rc;
    return found ? 0 : cl_error_set(err, CL_ERROR, "the account's signing key vanished");
}
