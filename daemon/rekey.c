/*
 * rekey.c - `cloisterd rekey`: every secret Cloister keeps opened with the
 * key-encryption key (--kek-file) and sealed again under a new one
 * (--new-kek-file), in one transaction: either all are resealed, or none.
 *
 * The sealed values are listed once, below, with the associated data each
 * was sealed for; a column whose name ends in "sealed" that the list does
 * not know stops the rekey, so that a secret added later cannot be left
 * under the old key.
 */
#include "audit.h"
#include "daemon.h"
#include "kek.h"
#include "log.h"
#include "rekey.h"
#include "seal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the sealed values are, and their associated data as SQL over the
 * row (the same text the code that seals them makes). */
static const struct sealed_column {
    const char *table, *column, *aad;
} sealed_columns[] = {
    { "registries", "password_sealed", "'registry:' || id" },
    { "signing_keys", "key_sealed", "'signing-key:' || id" },
    { "account_cas", "key_sealed", "'account-ca:' || account_id" },
    { "app_secrets", "value_sealed", "'app-secret:' || app_id || ':' || name" },
    { "clusters", "secret_sealed", "'cluster-secret:' || account_id || ':' || name" },
    { "clusters", "kubeconfig_sealed", "'cluster-kubeconfig:' || account_id || ':' || name" },
    { "kek_check", "sealed", "'" CL_KEK_CHECK_AAD "'" },
};
#define SEALED_COLUMNS (sizeof(sealed_columns) / sizeof(sealed_columns[0]))

/* Every column that looks sealed is one the list knows. */
static int all_known(cl_pg *db, cl_arena *a, cl_error *err)
{
    PGresult *res;
    int rc;

    if ((rc = cl_pg_exec(&res, db, a, "SELECT table_name, column_name FROM "
                         "information_schema.columns WHERE table_schema = current_schema() "
                         "AND column_name LIKE '%sealed' ORDER BY 1, 2", 0, NULL, err)) < 0)
        return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        size_t k = 0;
        while (k < SEALED_COLUMNS && (strcmp(sealed_columns[k].table, PQgetvalue(res, i, 0)) ||
                                      strcmp(sealed_columns[k].column, PQgetvalue(res, i, 1))))
            k++;
        if (k == SEALED_COLUMNS)
            return cl_error_set(err, CL_ERROR, "%s.%s looks sealed but rekey does not know it "
                                "(daemon/rekey.c): nothing was changed",
                                PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    }
    return 0;
}

/* One column's values, opened with old and sealed under new. */
static int reseal_column(cl_pg *db, cl_arena *a, const struct sealed_column *c,
                         const unsigned char *old, const unsigned char *new, long *count,
                         cl_error *err)
{
    PGresult *res;
    int rc;

    if ((rc = cl_pg_exec(NULL, db, a, cl_arena_printf(a, "LOCK TABLE %s IN EXCLUSIVE MODE",
                                                      c->table), 0, NULL, err)) < 0 ||
        (rc = cl_pg_exec(&res, db, a, cl_arena_printf(a, "SELECT ctid, %s, %s FROM %s WHERE "
                                                      "%s IS NOT NULL", c->aad, c->column,
                                                      c->table, c->column),
                         0, NULL, err)) < 0)
        return rc;
    const char *update = cl_arena_printf(a, "UPDATE %s SET %s = $1 WHERE ctid = $2::tid",
                                         c->table, c->column);
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        char *plain = NULL, *sealed = NULL;
        size_t len = 0;

        if (cl_unseal(&plain, &len, old, PQgetvalue(res, i, 2), PQgetvalue(res, i, 1),
                      err) < 0) {
            cl_error_clear(err);
            return cl_error_set(err, CL_EINVALID, "a value of %s.%s (%s) does not open with "
                                "the key-encryption key: nothing was changed", c->table,
                                c->column, PQgetvalue(res, i, 1));
        }
        rc = cl_seal(&sealed, new, plain, len, PQgetvalue(res, i, 1), err);
        OPENSSL_cleanse(plain, len);
        free(plain);
        if (rc == 0) {
            const char *params[2] = { sealed, PQgetvalue(res, i, 0) };
            rc = cl_pg_exec(NULL, db, a, update, 2, params, err);
            (*count)++;
        }
        free(sealed);
    }
    return rc;
}

int cl_rekey(cl_daemon *d, cl_error *err)
{
    unsigned char new[CL_KEK_SIZE];
    cl_arena *a = cl_arena_new(0);
    cl_pg db = { 0 };
    long count = 0;
    int rc;

    if (d->cfg.new_kek_file == NULL || d->cfg.new_kek_file[0] == '\0') {
        rc = cl_error_set(err, CL_EINVALID, "rekey needs --new-kek-file, the key to seal "
                          "under from now on");
        goto done;
    }
    if ((rc = cl_kek_load(new, d->cfg.new_kek_file, err)) < 0)
        goto done;
    if (CRYPTO_memcmp(new, d->kek, sizeof(new)) == 0) {
        rc = cl_error_set(err, CL_EINVALID, "--new-kek-file holds the key already in use");
        goto done;
    }
    if ((rc = cl_pg_connect(&db.conn, d->cfg.database_url, "cloisterd-rekey", err)) < 0 ||
        (rc = cl_pg_exec(NULL, &db, a, "BEGIN", 0, NULL, err)) < 0 ||
        (rc = cl_kek_check(&db, d->kek, err)) < 0 ||
        (rc = all_known(&db, a, err)) < 0)
        goto done;
    for (size_t i = 0; i < SEALED_COLUMNS && rc == 0; i++)
        rc = reseal_column(&db, a, &sealed_columns[i], d->kek, new, &count, err);
    if (rc < 0 ||
        (rc = cl_pg_exec(NULL, &db, a, "UPDATE kek_check SET rekeyed_at = now()", 0, NULL,
                         err)) < 0 ||
        (rc = cl_audit_append(&db, a, err, NULL, "system", "rekey", "kek.rotate", "instance",
                              json_pack("{s:I}", "resealed", (json_int_t)count))) < 0 ||
        (rc = cl_pg_exec(NULL, &db, a, "COMMIT", 0, NULL, err)) < 0)
        goto done;
    printf("Resealed %ld secrets under the new key-encryption key.\n"
           "Give %s to every daemon and worker as --kek-file and restart them; until then\n"
           "they cannot open the secrets.\n", count, d->cfg.new_kek_file);
done:
    OPENSSL_cleanse(new, sizeof(new));
    cl_pg_close(&db);                   /* an open transaction ends with the connection */
    cl_arena_free(a);
    return rc;
}
