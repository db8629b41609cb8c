/*
 * refresh.c - the duty of keeping the SGX collateral the daemons hold
 * fresh (a duty, duty.c: one replica at a time, every
 * collateral-refresh-interval seconds): every document held is fetched
 * again from the PCS, checked, and kept when it is newer
 * (api/collateral.c).
 */
#include "collateral.h"
#include "daemon.h"
#include "log.h"
#include "refresh.h"

void cl_refresh_collateral(cl_daemon *d, cl_pg *db, cl_arena *a)
{
    cl_error err = { 0 };
    PGresult *res;
    int refreshed = 0, kept;

    if (cl_pg_exec(&res, db, a, "SELECT kind, key FROM collateral ORDER BY kind, key", 0,
                   NULL, &err) < 0) {
        cl_log_warn("could not list the collateral to refresh: %s", err.message);
        goto done;
    }
    for (int i = 0; i < PQntuples(res); i++) {
        const char *kind = PQgetvalue(res, i, 0), *key = PQgetvalue(res, i, 1);

        if (cl_pg_exec(NULL, db, a, "BEGIN", 0, NULL, &err) < 0 ||
            cl_collateral_fetch(d, db, a, kind, key, &kept, &err) < 0 ||
            cl_pg_exec(NULL, db, a, "COMMIT", 0, NULL, &err) < 0) {
            cl_log_warn("could not refresh the %s%s%s: %s", kind, key[0] ? " of " : "", key,
                        err.message);
            PQclear(PQexec(db->conn, "ROLLBACK"));
            cl_error_clear(&err);
            continue;
        }
        refreshed += kept;
    }
    if (refreshed > 0)
        cl_log_info("refreshed %d SGX collateral document(s) from the PCS", refreshed);
done:
    cl_error_clear(&err);
}
