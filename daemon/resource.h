/*
 * resource.h - the conventions every REST resource follows (API.md), as
 * helpers for handlers: transactions, the audit row that goes with every
 * mutation, cursor pagination with the list envelope, ETag and If-Match,
 * and reading fields of a JSON body with the 422 that names each bad one.
 */
#ifndef CL_RESOURCE_H
#define CL_RESOURCE_H

#include "audit.h"
#include "http.h"
#include "token.h"

/* ---- transactions ------------------------------------------------------- */

/* The request's connection with a transaction begun on it.  Nothing needs
 * rolling back by hand: a transaction still open when the handler returns is
 * rolled back when the connection goes back to the pool. */
int cl_req_begin(cl_req *r, cl_pg **db);
int cl_req_commit(cl_req *r, cl_pg *db);

/* Run a parameterized query on the request's arena and error. */
int cl_req_exec(cl_req *r, cl_pg *db, PGresult **out, const char *sql, int n,
                const char *const *params);

/*
 * A row as a JSON object: one member per column, named as the column, typed
 * by the column's type (booleans, integers, json and jsonb as themselves,
 * timestamptz as RFC 3339 UTC with microseconds, everything else as text,
 * SQL NULL as null).  Columns whose names start with "_" are left out, so a
 * query can carry a version or a cursor position beside the object.
 * New reference.
 */
json_t *cl_row_json(PGresult *res, int row);

/* One json or jsonb column parsed (for objects SQL nests). */
json_t *cl_row_value(PGresult *res, int row, int col);

/* The text of the named column, or NULL when it is SQL NULL or absent. */
const char *cl_row_text(PGresult *res, int row, const char *column);

/*
 * Load the resource named by the path's {id} in the caller's account:
 * "<select_from> WHERE <alias>.id = $1 AND <alias>.account_id = $2 <lock>".
 * 404 "no <what> ..." for an id that is malformed, unknown or another
 * account's.
 */
int cl_req_load(cl_req *r, cl_pg *db, PGresult **res, const char *what,
                const char *select_from, const char *alias, const char *lock);

/* The same for a given id rather than the path's. */
int cl_req_load_id(cl_req *r, cl_pg *db, PGresult **res, const char *what,
                   const char *select_from, const char *alias, const char *lock,
                   const char *id);

/* Answer with row 0 as the resource: status (0 keeps 200), its ETag from
 * the "_version" column when there is one, and Location when given. */
int cl_req_row(cl_req *r, json_t **out, PGresult *res, int status, const char *location);

/* ---- audit ------------------------------------------------------------- */

/*
 * Append an audit row inside db's open transaction: actor from the
 * principal, the request id, now.  account_id NULL writes to the instance's
 * own chain.  details (stolen; NULL for {}) holds strings, integers,
 * booleans and nulls only, so that its canonical form is unambiguous.
 */
int cl_audit(cl_req *r, cl_pg *db, const char *account_id, const char *action,
             const char *target, json_t *details);

/* ---- the account's CA (api/pki.c) ----------------------------------------- */

/* The account's CA certificate and, when key is not NULL, its key (both
 * the caller's to free); made the first time it is needed, inside db's
 * open transaction. */
#include <openssl/evp.h>
#include <openssl/x509.h>
int cl_account_ca(cl_req *r, cl_pg *db, const char *account, X509 **cert, EVP_PKEY **key);

/* ---- lists ------------------------------------------------------------- */

/* The two kinds of position a cursor carries. */
typedef enum {
    CL_CURSOR_CREATED,  /* "<RFC 3339 time>|<uuid>": lists ordered by creation */
    CL_CURSOR_SEQ,      /* a decimal sequence number: the audit trail */
} cl_cursor_kind;

typedef struct cl_page {
    int limit;              /* 1..500, default 50 */
    const char *after;      /* the decoded cursor, or NULL for the first page */
} cl_page;

/* Read `limit` and `cursor` from the query; 400 naming the parameter when
 * malformed.  A cursor that does not decode to a position of the list's
 * kind is refused here, before it reaches SQL. */
int cl_page_parse(cl_req *r, cl_page *page, cl_cursor_kind kind);

/* Respond with a page from a query run with LIMIT page.limit + 1: each row
 * an item (cl_row_json), its position in the column "_cursor". */
int cl_page_items(cl_req *r, json_t **out, PGresult *res, int limit);

/* The whole of a plain list of the caller's account's rows in creation
 * order: parse the page, run sql with $1 the account, $2 the cursor (NULL
 * on the first page) and $3 the limit + 1, and respond with the page. */
int cl_page_account_rows(cl_req *r, json_t **out, const char *sql);

/* One row about the caller's account, such as its policy: sql with $1 the
 * account, run in db; and the GET that answers with that row (its ETag
 * from "_version"). */
int cl_account_exec(cl_req *r, cl_pg *db, PGresult **res, const char *sql);
int cl_account_row(cl_req *r, json_t **out, const char *sql);

/*
 * The list envelope {"items": items, "next_cursor": ...} (items stolen).
 * When the query fetched limit + 1 rows, pass the last item's position as
 * `next_after` (encoded into the opaque cursor) after dropping the extra
 * row; NULL means this is the last page.  Sets the Link header.
 */
int cl_page_respond(cl_req *r, json_t **out, json_t *items, const char *next_after);

/* ---- ETag and If-Match ----------------------------------------------- */

/* ETag: "<version>". */
void cl_req_etag(cl_req *r, const char *version);

/* The version an If-Match header asks for; NULL when there is none.  A
 * malformed header fails with 412. */
int cl_req_if_match(cl_req *r, const char **version);

/* ---- request bodies ------------------------------------------------- */

/*
 * Read a string field; `required` makes absence an error.  Fields are
 * checked for type and length (1..max characters); each problem is added to
 * the request's 422 list, so a handler can check every field and then fail
 * once with cl_body_done().
 */
const char *cl_body_string(cl_req *r, const char *field, int required, size_t max);

/* Is s[0, len) a DNS-1123 label: 1 to 63 lower-case letters, digits and
 * hyphens, not starting or ending with a hyphen? */
int cl_dns_label(const char *s, size_t len);

/* The number of characters (UTF-8 code points) in s. */
size_t cl_utf8_length(const char *s);

/* One of the listed words ("admin", "operator", ...; NULL-terminated). */
const char *cl_body_enum(cl_req *r, const char *field, int required,
                         const char *const *allowed);

/* Refuse fields the operation does not know (NULL-terminated list). */
void cl_body_only(cl_req *r, const char *const *known);

/* CL_EINVALID when any field was wrong, else 0. */
int cl_body_done(cl_req *r);

#endif
