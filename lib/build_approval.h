/*
 * build_approval.h - a new build asks for approval: its build_approval task
 * (quorum from the account's approval policy), the build linked to it, and
 * the task.create audit row, inside the caller's open transaction.  The
 * converter (workers/convert/convert.c) and registration (api/builds.c)
 * both make builds; the task is made here once.
 */
#ifndef CL_BUILD_APPROVAL_H
#define CL_BUILD_APPROVAL_H

#include "arena.h"
#include "error.h"
#include "pg.h"

/* actor and request_id go into the audit row (a job's id for the worker). */
int cl_build_ask_approval(cl_pg *db, cl_arena *a, cl_error *err, const char *account,
                          const char *build_id, const char *app_id, const char *mrenclave,
                          const char *actor, const char *request_id, char task_id[37]);

#endif
