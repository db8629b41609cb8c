/* tasks.c - see tasks.h; the decisions themselves are in api/tasks.c. */
#include "tasks.h"
#include "resource.h"

int cl_tasks_sync_domains(cl_req *r, cl_pg *db, const char *app_id)
{
    const cl_principal *p = cl_req_principal(r);
    const char *params[3] = { app_id, p->actor ? p->actor : "system", p->account_id };
    PGresult *res;
    int rc;

    if ((rc = cl_req_exec(r, db, NULL,
            "UPDATE apps SET approved_domains = coalesce((SELECT jsonb_agg(d) FROM"
            "   jsonb_array_elements_text(approved_domains) d"
            "   WHERE allowed_domains ? d), '[]') WHERE id = $1", 1, params)) < 0 ||
        (rc = cl_req_exec(r, db, NULL,
            "UPDATE tasks t SET state = 'expired', decided_at = now()"
            "  FROM apps a WHERE a.id = $1 AND t.target = 'app:' || a.id"
            "   AND t.type = 'domain_approval' AND t.state = 'pending'"
            "   AND NOT a.allowed_domains ? (t.details->>'domain')", 1, params)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "INSERT INTO tasks (account_id, type, target, details, requested_by, quorum)"
            " SELECT a.account_id, 'domain_approval', 'app:' || a.id,"
            "        jsonb_build_object('app_id', a.id, 'app_name', a.name, 'domain', d),"
            "        $2, coalesce((SELECT quorum FROM approval_policies"
            "                      WHERE account_id = a.account_id), 1)"
            "   FROM apps a, jsonb_array_elements_text(a.allowed_domains) d"
            "  WHERE a.id = $1 AND NOT a.approved_domains ? d"
            "    AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.target = 'app:' || a.id"
            "        AND t.type = 'domain_approval' AND t.state = 'pending'"
            "        AND t.details->>'domain' = d)"
            " RETURNING id, details->>'domain'", 2, params)) < 0)
        return rc;
    for (int i = 0; i < PQntuples(res); i++)
        if ((rc = cl_audit(r, db, p->account_id, "task.create",
                           cl_arena_printf(cl_req_arena(r), "task:%s", PQgetvalue(res, i, 0)),
                           json_pack("{s:s, s:s, s:s}", "type", "domain_approval",
                                     "app_id", app_id, "domain", PQgetvalue(res, i, 1)))) < 0)
            return rc;
    return 0;
}
