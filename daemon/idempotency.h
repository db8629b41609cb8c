/*
 * idempotency.h - Idempotency-Key on creates (API.md).
 *
 * A client that may retry a create sends `Idempotency-Key: <key>`.  The
 * first request with a key reserves it (a row in idempotency_keys, keyed by
 * the caller and the key) before its handler runs; when the handler
 * succeeds its status, body and Location are kept for 24 hours, and when it
 * fails the reservation is dropped so the client may try again.
 *
 * A repeat of the same request (same method, path and body) within 24 hours
 * gets the first response again, with `Idempotent-Replayed: true`; the same
 * key with a different request is a 422, and a repeat while the first is
 * still running a 409.
 *
 * Replicas may die mid-request.  The reservation names the database
 * connection that serves it, and the request's transaction marks it
 * committed as it commits its change (cl_req_commit): a retry that finds a
 * reservation whose connection is gone takes the key over when nothing
 * committed, and otherwise answers 409 saying the work was done but its
 * answer lost, so that the work is never done twice.  Secrets shown once (an API key's "secret", a new
 * user's "initial_password") are never stored, so a replay omits them.
 */
#ifndef CL_IDEMPOTENCY_H
#define CL_IDEMPOTENCY_H

#include "http.h"

typedef struct cl_idem {
    int active;                 /* a key was reserved by this request */
    const char *principal;
    const char *key;
} cl_idem;

/* 0 to run the handler (idem->active when a key was reserved), 1 when the
 * response is a replay already set on r, or a negative code. */
int cl_idem_begin(cl_req *r, cl_idem *idem);

/* Inside the request's transaction, just before COMMIT: its change and
 * the reservation's "committed" become true together.  0 without a key. */
int cl_idem_committed(cl_req *r, cl_pg *db);

/* Keep the response (status > 0) or drop the reservation (status 0). */
void cl_idem_finish(cl_req *r, cl_idem *idem, int status, json_t *body);

#endif
