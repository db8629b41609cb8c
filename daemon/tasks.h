/*
 * tasks.h - asking the account's admins for approval, from a request.
 */
#ifndef CL_TASKS_H
#define CL_TASKS_H

#include "http.h"

/*
 * Bring an app's domain approvals in line with its allowed_domains, inside
 * the caller's transaction: a domain that is allowed but neither approved
 * nor pending gets a domain_approval task; a domain no longer allowed leaves
 * approved_domains, and its pending task expires.  Audited as task.create.
 */
int cl_tasks_sync_domains(cl_req *r, cl_pg *db, const char *app_id);

#endif
