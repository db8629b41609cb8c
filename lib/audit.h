/*
 * audit.h - the audit chain (lib/audit.c tells how it is hashed).
 */
#ifndef CL_AUDIT_H
#define CL_AUDIT_H

#include "arena.h"
#include "error.h"
#include "pg.h"

#include <jansson.h>

/* Append a row inside db's open transaction: actor and request id given
 * (the daemon's cl_audit takes them from the request), now.  account_id
 * NULL writes to the instance's own chain.  details (stolen; NULL for {})
 * holds strings, integers, booleans and nulls only, so that its canonical
 * form is unambiguous. */
int cl_audit_append(cl_pg *db, cl_arena *a, cl_error *err, const char *account_id,
                    const char *actor, const char *request_id, const char *action,
                    const char *target, json_t *details);

/* The canonical JSON of an audit row and the row's hash (API.md, "Audit
 * chain"); shared by writing and verifying. */
char *cl_audit_canonical(const char *account_id, const char *action, const char *actor,
                         const char *at, json_t *details, const char *id,
                         const char *request_id, const char *target);
int cl_audit_hash(char out[65], const char *prev_hash, const char *canonical);

#endif
