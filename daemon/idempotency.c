/* idempotency.c - see idempotency.h. */
#include "idempotency.h"
#include "digest.h"
#include "log.h"
#include "resource.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 255

/* Fields shown once that must never be kept in a stored response. */
static const char *const shown_once[] = { "secret", "initial_password", NULL };

static int request_hash(cl_req *r, char out[65])
{
    json_t *body = cl_req_body(r);
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *joined = cl_arena_printf(cl_req_arena(r), "%s %s\n%s", cl_req_method(r),
                                   cl_req_path(r), text ? text : "");

    free(text);
    if (joined == NULL)
        return CL_ERROR;
    return cl_sha256_hex(out, joined, strlen(joined));
}

int cl_idem_begin(cl_req *r, cl_idem *idem)
{
    const char *key = cl_req_header(r, "Idempotency-Key");
    const cl_principal *p = cl_req_principal(r);
    char hash[65];
    PGresult *res;
    cl_pg *db;
    int rc;

    memset(idem, 0, sizeof(*idem));
    if (key == NULL)
        return 0;
    if (key[0] == '\0' || strlen(key) > KEY_MAX)
        return cl_req_fail(r, CL_EMALFORMED, "Idempotency-Key must be 1 to %d characters",
                           KEY_MAX);
    if (request_hash(r, hash) < 0)
        return cl_req_fail(r, CL_ERROR, "could not hash the request");
    /* the same caller acting in another account is another principal */
    idem->principal = cl_arena_printf(cl_req_arena(r), "%s@%s", p->actor,
                                      p->account_id ? p->account_id : "-");
    idem->key = key;

    const char *params[3] = { idem->principal, key, hash };
    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "DELETE FROM idempotency_keys WHERE principal = $1 "
                          "AND key = $2 AND created_at < now() - interval '24 hours'",
                          2, params)) < 0)
        return rc;
    for (int tries = 0;; tries++) {
        if ((rc = cl_req_exec(r, db, &res, "INSERT INTO idempotency_keys (principal, key, "
                              "request_hash, owner_pid, owner_start) SELECT $1, $2, $3, pid, "
                              "backend_start FROM pg_stat_activity WHERE pid = "
                              "pg_backend_pid() ON CONFLICT DO NOTHING RETURNING 1",
                              3, params)) < 0)
            return rc;
        if (PQntuples(res) == 1) {
            idem->active = 1;
            return 0;
        }
        if ((rc = cl_req_exec(r, db, &res, "SELECT request_hash, status, response, location, "
                              "committed, EXISTS (SELECT 1 FROM pg_stat_activity a WHERE "
                              "a.pid = owner_pid AND a.backend_start = owner_start) "
                              "FROM idempotency_keys WHERE principal = $1 AND key = $2",
                              2, params)) < 0)
            return rc;
        if (PQntuples(res) != 1)
            return cl_req_fail(r, CL_ECONFLICT, "the request with this Idempotency-Key was "
                               "just settled; send it again");
        if (strcmp(PQgetvalue(res, 0, 0), hash) != 0)
            return cl_req_fail(r, CL_EINVALID, "this Idempotency-Key was used for a different "
                               "request in the last 24 hours");
        if (!PQgetisnull(res, 0, 1))
            break;                              /* settled: the first answer again */
        if (strcmp(PQgetvalue(res, 0, 5), "t") == 0)
            return cl_req_fail(r, CL_ECONFLICT, "a request with this Idempotency-Key is "
                               "still being served");
        /* the replica that reserved the key died (its connection is gone) */
        if (strcmp(PQgetvalue(res, 0, 4), "t") == 0)
            return cl_req_fail(r, CL_ECONFLICT, "the request with this Idempotency-Key was "
                               "carried out, but the server that did it stopped before "
                               "answering; it will not be done again: look for its result");
        if (tries > 0)
            return cl_req_fail(r, CL_ECONFLICT, "a request with this Idempotency-Key is "
                               "still being served");
        /* nothing it did committed: the key is free again */
        if ((rc = cl_req_exec(r, db, NULL, "DELETE FROM idempotency_keys WHERE principal = $1 "
                              "AND key = $2 AND status IS NULL AND NOT committed",
                              2, params)) < 0)
            return rc;
    }
    cl_req_status(r, (int)strtol(PQgetvalue(res, 0, 1), NULL, 10));
    if (!PQgetisnull(res, 0, 3))
        cl_req_set_header(r, "Location", PQgetvalue(res, 0, 3));
    cl_req_set_header(r, "Idempotent-Replayed", "true");
    cl_req_set_header(r, "Cache-Control", "no-store");
    cl_req_send(r, "application/json", PQgetvalue(res, 0, 2), strlen(PQgetvalue(res, 0, 2)));
    return 1;
}

int cl_idem_committed(cl_req *r, cl_pg *db)
{
    cl_idem *idem = cl_req_idem(r);

    if (idem == NULL)
        return 0;
    const char *params[2] = { idem->principal, idem->key };
    return cl_req_exec(r, db, NULL, "UPDATE idempotency_keys SET committed = true "
                       "WHERE principal = $1 AND key = $2", 2, params);
}

void cl_idem_finish(cl_req *r, cl_idem *idem, int status, json_t *body)
{
    const char *params[5] = { idem->principal, idem->key, NULL, NULL, NULL };
    char code[16];
    cl_error err = { 0 };
    cl_pg *db;

    if (cl_req_db(r, &db) < 0)
        return;
    if (status == 0 || body == NULL) {
        cl_pg_exec(NULL, db, cl_req_arena(r), "DELETE FROM idempotency_keys "
                   "WHERE principal = $1 AND key = $2", 2, params, &err);
    } else {
        json_t *kept = json_deep_copy(body);
        char *text;

        for (size_t i = 0; kept != NULL && shown_once[i] != NULL; i++)
            json_object_del(kept, shown_once[i]);
        text = kept ? json_dumps(kept, JSON_COMPACT) : NULL;
        json_decref(kept);
        snprintf(code, sizeof(code), "%d", status);
        params[2] = code;
        params[3] = text;
        params[4] = cl_req_response_header(r, "Location");
        cl_pg_exec(NULL, db, cl_req_arena(r), "UPDATE idempotency_keys SET status = $3, "
                   "response = $4, location = $5 WHERE principal = $1 AND key = $2",
                   5, params, &err);
        free(text);
    }
    if (err.code != CL_OK)
        cl_log_warn("could not settle Idempotency-Key: %s", err.message);
    cl_error_clear(&err);
}
