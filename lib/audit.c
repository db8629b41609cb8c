/*
 * audit.c - appending to the tamper-evident audit trail, for the daemon and
 * the workers alike.
 *
 * Rows form one hash chain per account (chain '' for the instance's own
 * events):
 *
 *     hash = SHA-256( prev_hash_hex || canonical_json(row) )
 *
 * where canonical_json is the row's account_id, action, actor, at, details,
 * id, request_id and target as compact JSON with sorted keys (API.md), and
 * prev_hash is "" for a chain's first row.  `audit_heads` holds each chain's
 * newest hash: writers lock that row (SELECT ... FOR UPDATE), so concurrent
 * mutations of one account append one after the other and never fork the
 * chain, and a deleted newest row is detected because the head no longer
 * matches.  docs/audit.md tells how to verify an export by hand.
 */
#include "audit.h"
#include "digest.h"
#include "json.h"
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *cl_audit_canonical(const char *account_id, const char *action, const char *actor,
                         const char *at, json_t *details, const char *id,
                         const char *request_id, const char *target)
{
    json_t *row = json_pack("{s:s?, s:s, s:s, s:s, s:O, s:s, s:s, s:s}",
                            "account_id", account_id, "action", action, "actor", actor,
                            "at", at, "details", details, "id", id,
                            "request_id", request_id, "target", target);
    char *text;

    if (row == NULL)
        return NULL;
    if (account_id == NULL)
        json_object_set_new(row, "account_id", json_null());
    text = cl_json_canonical(row);
    json_decref(row);
    return text;
}

int cl_audit_hash(char out[65], const char *prev_hash, const char *canonical)
{
    size_t lp = strlen(prev_hash), lc = strlen(canonical);
    char *input = malloc(lp + lc + 1);
    int rc;

    if (input == NULL)
        return CL_ERROR;
    memcpy(input, prev_hash, lp);
    memcpy(input + lp, canonical, lc + 1);
    rc = cl_sha256_hex(out, input, lp + lc);
    free(input);
    return rc;
}

/* Now as RFC 3339 UTC with microseconds, as PostgreSQL keeps it. */
static void now_rfc3339(char out[40])
{
    struct timespec ts;
    struct tm tm;
    char base[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.19s.%06dZ", base, (int)(ts.tv_nsec / 1000) % 1000000);
}

int cl_audit_append(cl_pg *db, cl_arena *a, cl_error *err, const char *account_id,
                    const char *actor, const char *request_id, const char *action,
                    const char *target, json_t *details)
{
    const char *chain = account_id ? account_id : "";
    char id[37], at[40], hash[65], *canonical = NULL, *details_text = NULL;
    PGresult *res;
    int rc;

    if (details == NULL)
        details = json_object();
    if (cl_uuid_new(id) < 0) {
        rc = cl_error_set(err, CL_ERROR, "could not make an id");
        goto done;
    }
    now_rfc3339(at);

    const char *head[1] = { chain };
    if ((rc = cl_pg_exec(NULL, db, a, "INSERT INTO audit_heads (chain, hash) VALUES ($1, '') "
                         "ON CONFLICT (chain) DO NOTHING", 1, head, err)) < 0 ||
        (rc = cl_pg_exec(&res, db, a, "SELECT hash FROM audit_heads WHERE chain = $1 "
                         "FOR UPDATE", 1, head, err)) < 0)
        goto done;

    const char *prev = PQgetvalue(res, 0, 0);
    canonical = cl_audit_canonical(account_id, action, actor, at, details, id,
                                   request_id, target);
    details_text = cl_json_canonical(details);
    if (canonical == NULL || details_text == NULL || cl_audit_hash(hash, prev, canonical) < 0) {
        rc = cl_error_set(err, CL_ERROR, "could not encode the audit row");
        goto done;
    }
    const char *row[11] = { id, chain, account_id, actor, action, target, details_text,
                            request_id, at, prev, hash };
    if ((rc = cl_pg_exec(NULL, db, a,
            "INSERT INTO audit_events (id, chain, account_id, actor, action, target, details,"
            " request_id, at, prev_hash, hash)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", 11, row, err)) < 0)
        goto done;
    const char *update[2] = { chain, hash };
    rc = cl_pg_exec(NULL, db, a, "UPDATE audit_heads SET hash = $2 WHERE chain = $1",
                    2, update, err);
done:
    free(canonical);
    free(details_text);
    json_decref(details);
    return rc;
}

