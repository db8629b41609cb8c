/*
 * migrate.h - schema migrations from db/migrations/NNNN_name.sql.
 *
 * Files are read from a directory, ordered by their four-digit version, and
 * each is identified by its SHA-256.  Applying them:
 *
 *   1. takes a session-level advisory lock, so that several daemons starting
 *      at once apply each file exactly once (the others wait, then find
 *      nothing left to do);
 *   2. creates `schema_migrations` (version, name, checksum, applied_at) if
 *      it is missing;
 *   3. refuses, naming the file, when an applied file has changed on disk, is
 *      missing, or when a file older than the newest applied one was never
 *      applied (migrations are forward-only and in order);
 *   4. applies each pending file in its own transaction together with its
 *      schema_migrations row.
 *
 * Migration files are trusted text shipped with the program; they are the
 * one place SQL is run with PQexec rather than parameterized.
 */
#ifndef CL_MIGRATE_H
#define CL_MIGRATE_H

#include "digest.h"
#include "error.h"

#include <libpq-fe.h>
#include <stddef.h>

#define CL_MIGRATION_MAX_SIZE (1024 * 1024)

typedef struct cl_migration {
    int version;
    char name[128];                       /* file name, "0001_core.sql" */
    char checksum[CL_SHA256_HEX_LEN + 1]; /* of the file's bytes */
    char *sql;
} cl_migration;

typedef struct cl_migration_set {
    cl_migration *items;
    size_t count;
} cl_migration_set;

/* Read every NNNN_name.sql in dir.  Other files are ignored; two files with
 * one version, a malformed name ending in .sql or an oversized file are
 * errors.  Release with cl_migrate_free(). */
int cl_migrate_load(cl_migration_set *out, const char *dir, cl_error *err);
void cl_migrate_free(cl_migration_set *set);

/* The version in a file name, or -1 when it is not NNNN_name.sql
 * (lower-case letters, digits and underscores). */
int cl_migrate_parse_name(const char *name);

/* Apply what is pending, as described above.  *applied (may be NULL) is the
 * number of files applied now.  CL_ECONFLICT when the database and the files
 * disagree. */
int cl_migrate_apply(PGconn *conn, const cl_migration_set *set, int *applied,
                     cl_error *err);

/* Whether the database has every file applied: 0 when current,
 * CL_ECONFLICT with a message when not (no lock taken; for /readyz). */
int cl_migrate_check(PGconn *conn, const cl_migration_set *set, cl_error *err);

#endif
