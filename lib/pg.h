/*
 * pg.h - a PostgreSQL connection pool and the one query wrapper.
 *
 * The pool holds up to `size` connections, opened lazily.  A caller borrows
 * one with cl_pg_acquire() and gives it back with cl_pg_release().  A
 * connection that breaks (the server restarted, the network failed) is
 * closed on release and reopened by the next borrower, so the pool survives
 * a database restart: while the server is away, borrowers get
 * CL_EUNAVAILABLE quickly (after one failed attempt a second, not one per
 * request), and once it is back the next borrower reconnects.
 *
 * cl_pg_exec() is the only way queries are run: always parameterized, the
 * result checked, SQLSTATE mapped to CL_E* codes (unique violation ->
 * CL_ECONFLICT, serialization failure or deadlock -> CL_ERETRY, connection
 * failure -> CL_EUNAVAILABLE), the SQL and SQLSTATE logged on failure (never
 * the parameters), and the result's PQclear registered on the arena.  Each
 * connection prepares a statement the first time it sees its SQL text and
 * executes the prepared statement afterwards, so that a query is parsed and
 * planned once per connection rather than once per request.
 *
 * Thread safety: the pool is shared by all threads; a borrowed cl_pg belongs
 * to one thread until released.
 */
#ifndef CL_PG_H
#define CL_PG_H

#include "arena.h"
#include "error.h"

#include <libpq-fe.h>

typedef struct cl_pg_pool cl_pg_pool;

typedef struct cl_pg_stmts cl_pg_stmts;

typedef struct cl_pg {
    PGconn *conn;
    cl_pg_pool *pool;
    int slot;
    cl_pg_stmts *stmts;     /* statements prepared on conn, by SQL text */
} cl_pg;

typedef struct cl_pg_stats {
    int size;      /* the most connections the pool will open */
    int open;      /* connections currently open */
    int in_use;    /* connections currently borrowed */
} cl_pg_stats;

/* A pool for the libpq connection string or URL `conninfo`.  No connection
 * is made here.  `application_name` is shown in pg_stat_activity. */
int cl_pg_pool_new(cl_pg_pool **out, const char *conninfo, int size,
                   const char *application_name, cl_error *err);

/* Close every connection; all must have been released. */
void cl_pg_pool_free(cl_pg_pool *pool);

/* Borrow a connection, waiting at most timeout_ms for one to be free.
 * CL_EUNAVAILABLE when none is free in time or the server cannot be reached. */
int cl_pg_acquire(cl_pg **out, cl_pg_pool *pool, int timeout_ms, cl_error *err);

/* Give the connection back; one left inside a transaction is rolled back,
 * a broken one is closed.  NULL is a no-op. */
void cl_pg_release(cl_pg *c);

void cl_pg_pool_stats(cl_pg_pool *pool, cl_pg_stats *out);

/*
 * Run sql with nparams text parameters (NULL for SQL NULL).  On success *out
 * (if out is not NULL) is the result, owned by arena a, or by the caller
 * when a is NULL.  Tuples and commands both count as success.
 */
int cl_pg_exec(PGresult **out, cl_pg *c, cl_arena *a, const char *sql,
               int nparams, const char *const *params, cl_error *err);

/* Open a single connection outside any pool (start-up work such as
 * migrations); CL_EUNAVAILABLE when it cannot be made. */
int cl_pg_connect(PGconn **out, const char *conninfo,
                  const char *application_name, cl_error *err);

/* Close a connection of one's own (cl_pg_connect's, put in a cl_pg with
 * no pool so that cl_pg_exec prepares its statements once): the prepared
 * statements' bookkeeping and the connection.  One cl_pg per connection:
 * two would prepare under the same names. */
void cl_pg_close(cl_pg *c);

/* The code for a failed result on conn (SQLSTATE mapping); used by
 * cl_pg_exec and by callers that must use PQexec (migration scripts). */
int cl_pg_result_error(PGconn *conn, const PGresult *res, const char *sql,
                       cl_error *err);

#endif
