/* build_approval.c - a build's approval task; see build_approval.h. */
#include "build_approval.h"
#include "audit.h"

#include <stdio.h>

int cl_build_ask_approval(cl_pg *db, cl_arena *a, cl_error *err, const char *account,
                          const char *build_id, const char *app_id, const char *mrenclave,
                          const char *actor, const char *request_id, char task_id[37])
{
    const char *task[5] = { account, build_id, app_id, mrenclave, actor };
    PGresult *res;
    int rc;

    if ((rc = cl_pg_exec(&res, db, a,
            "INSERT INTO tasks (account_id, type, target, details, requested_by, quorum)"
            " SELECT $1, 'build_approval', 'build:' || $2,"
            "        jsonb_build_object('build_id', $2::text, 'app_id', $3::text,"
            "                           'app_name', (SELECT name FROM apps WHERE id = $3::uuid),"
            "                           'mrenclave', $4::text),"
            "        $5, coalesce((SELECT quorum FROM approval_policies WHERE account_id = $1), 1)"
            " RETURNING id", 5, task, err)) < 0)
        return rc;
    snprintf(task_id, 37, "%s", PQgetvalue(res, 0, 0));
    const char *link[2] = { build_id, task_id };
    if ((rc = cl_pg_exec(NULL, db, a, "UPDATE builds SET task_id = $2 WHERE id = $1", 2, link,
                         err)) < 0)
        return rc;
    return cl_audit_append(db, a, err, account, actor, request_id, "task.create",
                           cl_arena_printf(a, "task:%s", task_id),
                           json_pack("{s:s, s:s}", "type", "build_approval", "build_id",
                                     build_id));
}
