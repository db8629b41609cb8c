/*
 * audit.c - every mutation appends a row to the account's audit chain in
 * the same transaction as the change; the chain itself is lib/audit.c.
 */
#include "resource.h"

int cl_audit(cl_req *r, cl_pg *db, const char *account_id, const char *action,
             const char *target, json_t *details)
{
    const cl_principal *p = cl_req_principal(r);

    return cl_audit_append(db, cl_req_arena(r), cl_req_err(r), account_id,
                           p->actor ? p->actor : "system", cl_req_id(r), action, target,
                           details);
}
