/* migrate.c - schema migrations; see migrate.h for how they are applied. */
#include "migrate.h"
#include "log.h"
#include "pg.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "cloister" in ASCII: the advisory lock key held while migrating */
#define MIGRATION_LOCK_KEY "7146483473117390450"

#define CREATE_TABLE \
    "CREATE TABLE IF NOT EXISTS schema_migrations (" \
    " version integer PRIMARY KEY," \
    " name text NOT NULL," \
    " checksum text NOT NULL," \
    " applied_at timestamptz NOT NULL DEFAULT now())"

int cl_migrate_parse_name(const char *name)
{
    size_t len = strlen(name);
    int version = 0;

    if (len < 10 || len >= sizeof(((cl_migration *)0)->name) ||
        strcmp(name + len - 4, ".sql") != 0 || name[4] != '_')
        return -1;
    for (int i = 0; i < 4; i++) {
        if (!isdigit((unsigned char)name[i]))
            return -1;
        version = version * 10 + (name[i] - '0');
    }
    for (size_t i = 5; i < len - 4; i++)
        if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
            name[i] != '_')
            return -1;
    return version;
}

static int by_version(const void *a, const void *b)
{
    return ((const cl_migration *)a)->version - ((const cl_migration *)b)->version;
}

static int read_file(cl_migration *m, const char *dir, cl_error *err)
{
    char path[4096];
    FILE *f;
    size_t len;

    snprintf(path, sizeof(path), "%s/%s", dir, m->name);
    f = fopen(path, "rb");
    if (f == NULL)
        return cl_error_set(err, CL_ERROR, "could not open migration \"%s\": %s",
                            path, strerror(errno));
    m->sql = malloc(CL_MIGRATION_MAX_SIZE + 1);
    len = m->sql ? fread(m->sql, 1, CL_MIGRATION_MAX_SIZE + 1, f) : 0;
    fclose(f);
    if (m->sql == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if (len > CL_MIGRATION_MAX_SIZE)
        return cl_error_set(err, CL_ETOOBIG, "migration \"%s\" is larger than %d bytes",
                            path, CL_MIGRATION_MAX_SIZE);
    if (memchr(m->sql, '\0', len) != NULL)
        return cl_error_set(err, CL_EINVALID, "migration \"%s\" contains a NUL byte", path);
    m->sql[len] = '\0';
    return cl_sha256_hex(m->checksum, m->sql, len) < 0
        ? cl_error_set(err, CL_ERROR, "could not hash \"%s\"", path) : 0;
}

int cl_migrate_load(cl_migration_set *out, const char *dir, cl_error *err)
{
    struct dirent *e;
    DIR *d;
    int rc = 0;

    out->items = NULL;
    out->count = 0;
    d = opendir(dir);
    if (d == NULL)
        return cl_error_set(err, CL_ERROR, "could not open migrations directory \"%s\": %s",
                            dir, strerror(errno));
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        int version;

        if (len < 4 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        version = cl_migrate_parse_name(e->d_name);
        if (version < 0) {
            rc = cl_error_set(err, CL_EINVALID,
                              "migration file \"%s\" is not named NNNN_name.sql", e->d_name);
            break;
        }
        cl_migration *grown = realloc(out->items, (out->count + 1) * sizeof(*grown));
        if (grown == NULL) {
            rc = cl_error_set(err, CL_ERROR, "out of memory");
            break;
        }
        out->items = grown;
        cl_migration *m = &out->items[out->count++];
        memset(m, 0, sizeof(*m));
        m->version = version;
        memcpy(m->name, e->d_name, len + 1);   /* parse_name checked the length */
        if ((rc = read_file(m, dir, err)) < 0)
            break;
    }
    closedir(d);
    if (rc == 0 && out->count > 0) {
        qsort(out->items, out->count, sizeof(*out->items), by_version);
        for (size_t i = 1; i < out->count; i++)
            if (out->items[i].version == out->items[i - 1].version) {
                rc = cl_error_set(err, CL_EINVALID, "migrations \"%s\" and \"%s\" share version %04d",
                                  out->items[i - 1].name, out->items[i].name,
                                  out->items[i].version);
                break;
            }
    }
    if (rc < 0)
        cl_migrate_free(out);
    return rc;
}

void cl_migrate_free(cl_migration_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        free(set->items[i].sql);
    free(set->items);
    set->items = NULL;
    set->count = 0;
}

static int exec_simple(PGconn *conn, const char *sql, cl_error *err)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = cl_pg_result_error(conn, res, sql, err);
    PQclear(res);
    return rc;
}

static int parse_version(const char *text)
{
    char *end;
    long v = strtol(text, &end, 10);

    return *end == '\0' && v >= 0 && v <= 9999 ? (int)v : -1;
}

/*
 * Compare the applied rows with the files.  *pending is set to the number of
 * files still to apply (they are the last ones of the set).  CL_ECONFLICT
 * names the first disagreement.
 */
static int compare(PGconn *conn, const cl_migration_set *set, size_t *pending,
                   cl_error *err)
{
    const char *exists = "SELECT to_regclass('schema_migrations') IS NOT NULL";
    const char *sql = "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
    PGresult *res = PQexecParams(conn, exists, 0, NULL, NULL, NULL, NULL, 0);
    size_t applied = 0;
    int rc = 0;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = cl_pg_result_error(conn, res, exists, err);
        PQclear(res);
        return rc;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {   /* a database never migrated */
        PQclear(res);
        *pending = set->count;
        return 0;
    }
    PQclear(res);
    res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = cl_pg_result_error(conn, res, sql, err);
        PQclear(res);
        return rc;
    }
    /* both lists are ordered: row i must be file i */
    for (int row = 0; row < PQntuples(res); row++) {
        int version = parse_version(PQgetvalue(res, row, 0));
        const char *name = PQgetvalue(res, row, 1);
        const char *checksum = PQgetvalue(res, row, 2);
        const cl_migration *m = applied < set->count ? &set->items[applied] : NULL;

        if (m != NULL && m->version < version) {
            rc = cl_error_set(err, CL_ECONFLICT,
                "migration \"%s\" was never applied, but the later migration \"%s\" was; "
                "migrations are applied in order, so renumber the new file after it",
                m->name, name);
            break;
        }
        if (m == NULL || m->version != version) {
            rc = cl_error_set(err, CL_ECONFLICT,
                "migration \"%s\" is applied in the database but missing from the "
                "migrations directory; this program is older than the database schema",
                name);
            break;
        }
        if (strcmp(m->checksum, checksum) != 0 || strcmp(m->name, name) != 0) {
            rc = cl_error_set(err, CL_ECONFLICT,
                "migration \"%s\" was changed after it was applied (the database recorded "
                "\"%s\" with checksum %.12s, the file now has %.12s); restore the file and "
                "put the change in a new migration", m->name, name, checksum, m->checksum);
            break;
        }
        applied++;
    }
    PQclear(res);
    if (rc == 0)
        *pending = set->count - applied;
    return rc;
}

static int apply_one(PGconn *conn, const cl_migration *m, cl_error *err)
{
    const char *insert = "INSERT INTO schema_migrations (version, name, checksum) "
                         "VALUES ($1, $2, $3)";
    char version[16];
    const char *params[3] = { version, m->name, m->checksum };
    PGresult *res;
    int rc;

    snprintf(version, sizeof(version), "%d", m->version);
    if ((rc = exec_simple(conn, "BEGIN", err)) < 0)
        return rc;
    res = PQexec(conn, m->sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        const char *line = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);

        rc = cl_pg_result_error(conn, res, m->name, NULL);
        cl_error_set(err, rc, "migration \"%s\" failed%s%s: %s", m->name,
                     line ? " at character " : "", line ? line : "",
                     primary ? primary : "the server closed the connection");
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    res = PQexecParams(conn, insert, 3, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = cl_pg_result_error(conn, res, insert, err);
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    if ((rc = exec_simple(conn, "COMMIT", err)) < 0)
        return rc;
    cl_log_kv(CL_LOG_INFO, json_pack("{s:s, s:s}", "migration", m->name,
                                     "checksum", m->checksum), "applied migration");
    return 0;
rollback:
    PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

int cl_migrate_apply(PGconn *conn, const cl_migration_set *set, int *applied,
                     cl_error *err)
{
    size_t pending = 0;
    int rc, unlock_rc;

    if (applied != NULL)
        *applied = 0;
    if ((rc = exec_simple(conn, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", err)) < 0)
        return rc;
    if ((rc = exec_simple(conn, CREATE_TABLE, err)) < 0)
        goto unlock;
    if ((rc = compare(conn, set, &pending, err)) < 0)
        goto unlock;
    for (size_t i = set->count - pending; i < set->count; i++) {
        if ((rc = apply_one(conn, &set->items[i], err)) < 0)
            goto unlock;
        if (applied != NULL)
            (*applied)++;
    }
unlock:
    unlock_rc = exec_simple(conn, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")",
                            rc < 0 ? NULL : err);
    return rc < 0 ? rc : unlock_rc;
}

int cl_migrate_check(PGconn *conn, const cl_migration_set *set, cl_error *err)
{
    size_t pending = 0;
    int rc = compare(conn, set, &pending, err);

    if (rc < 0)
        return rc;
    if (pending > 0)
        return cl_error_set(err, CL_ECONFLICT, "%zu migration(s) not applied, starting with \"%s\"",
                            pending, set->items[set->count - pending].name);
    return 0;
}
