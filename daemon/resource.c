/*
 * resource.c - conventions shared by every resource; see resource.h.
 *
 * Cursors are opaque to clients: base64url of the position text the handler
 * chose (for example "<created_at>|<id>"), so that the encoding can change
 * without breaking anyone who treats them as opaque.
 */
#include "idempotency.h"
#include "resource.h"
#include "buf.h"
#include "rfc3339.h"
#include "token.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_MAX 512

int cl_req_exec(cl_req *r, cl_pg *db, PGresult **out, const char *sql, int n,
                const char *const *params)
{
    return cl_pg_exec(out, db, cl_req_arena(r), sql, n, params, cl_req_err(r));
}

int cl_req_begin(cl_req *r, cl_pg **db)
{
    int rc;

    if ((rc = cl_req_db(r, db)) < 0)
        return rc;
    return cl_req_exec(r, *db, NULL, "BEGIN", 0, NULL);
}

int cl_req_commit(cl_req *r, cl_pg *db)
{
    int rc = cl_idem_committed(r, db);

    return rc < 0 ? rc : cl_req_exec(r, db, NULL, "COMMIT", 0, NULL);
}

/* Type OIDs from PostgreSQL's pg_type.dat (stable across versions). */
enum { BOOLOID = 16, INT8OID = 20, INT2OID = 21, INT4OID = 23, JSONOID = 114,
       TIMESTAMPTZOID = 1184, JSONBOID = 3802 };

/*
 * "2026-11-28 15:20:01.9+00" (the ISO DateStyle in UTC, which every
 * connection sets) as "2026-11-28T15:20:01.900000Z": the one form the API
 * uses for times, the same as SQL's cl_time().
 */
static json_t *time_value(const char *pg)
{
    char out[40];
    size_t len = strlen(pg), frac = 0;
    const char *dot;

    if (len < 22 || len > 32 || pg[10] != ' ' || strcmp(pg + len - 3, "+00") != 0)
        return json_string(pg);   /* not the expected shape: pass it on unchanged */
    dot = strchr(pg + 19, '.');
    if (dot != NULL)
        frac = (size_t)(pg + len - 3 - dot - 1);
    if (frac > 6)
        return json_string(pg);
    snprintf(out, sizeof(out), "%.10sT%.8s.%.*s%.*sZ", pg, pg + 11, (int)frac,
             dot ? dot + 1 : "", (int)(6 - frac), "000000");
    return json_string(out);
}

static json_t *column_value(PGresult *res, int row, int col)
{
    const char *text = PQgetvalue(res, row, col);

    if (PQgetisnull(res, row, col))
        return json_null();
    switch (PQftype(res, col)) {
    case BOOLOID:
        return json_boolean(text[0] == 't');
    case INT2OID:
    case INT4OID:
    case INT8OID:
        return json_integer(strtoll(text, NULL, 10));
    case JSONOID:
    case JSONBOID:
        return json_loads(text, JSON_DECODE_ANY, NULL);
    case TIMESTAMPTZOID:
        return time_value(text);
    default:
        return json_string(text);
    }
}

json_t *cl_row_json(PGresult *res, int row)
{
    json_t *obj = json_object();

    for (int col = 0; obj != NULL && col < PQnfields(res); col++) {
        const char *name = PQfname(res, col);

        if (name[0] != '_')
            json_object_set_new(obj, name, column_value(res, row, col));
    }
    return obj;
}

json_t *cl_row_value(PGresult *res, int row, int col)
{
    return column_value(res, row, col);
}

const char *cl_row_text(PGresult *res, int row, const char *column)
{
    int col = PQfnumber(res, column);

    return col < 0 || PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int cl_req_load(cl_req *r, cl_pg *db, PGresult **res, const char *what,
                const char *select_from, const char *alias, const char *lock)
{
    return cl_req_load_id(r, db, res, what, select_from, alias, lock, cl_req_param(r, "id"));
}

int cl_req_load_id(cl_req *r, cl_pg *db, PGresult **res, const char *what,
                   const char *select_from, const char *alias, const char *lock,
                   const char *id)
{
    const char *params[2] = { id, cl_req_principal(r)->account_id };
    char *sql;
    int rc;

    if (!cl_uuid_valid(id))
        return cl_req_fail(r, CL_ENOTFOUND, "no %s \"%s\"", what, id ? id : "");
    sql = cl_arena_printf(cl_req_arena(r), "%s WHERE %s.id = $1 AND %s.account_id = $2 %s",
                          select_from, alias, alias, lock ? lock : "");
    if (sql == NULL)
        return cl_req_fail(r, CL_ERROR, "out of memory");
    if ((rc = cl_req_exec(r, db, res, sql, 2, params)) < 0)
        return rc;
    if (PQntuples(*res) != 1)
        return cl_req_fail(r, CL_ENOTFOUND, "no %s \"%s\"", what, id);
    return 0;
}

int cl_req_row(cl_req *r, json_t **out, PGresult *res, int status, const char *location)
{
    const char *version = cl_row_text(res, 0, "_version");

    if (status != 0)
        cl_req_status(r, status);
    if (version != NULL)
        cl_req_etag(r, version);
    if (location != NULL)
        cl_req_set_header(r, "Location", location);
    *out = cl_row_json(res, 0);
    return *out ? 0 : cl_req_fail(r, CL_ERROR, "out of memory");
}

/* ---- pagination ------------------------------------------------------ */

static int valid_position(const char *pos, cl_cursor_kind kind)
{
    const char *bar = strchr(pos, '|');
    time_t t;

    if (kind == CL_CURSOR_SEQ)
        return pos[0] != '\0' && strlen(pos) <= 18 && strspn(pos, "0123456789") == strlen(pos);
    if (bar == NULL)
        return 0;
    char *when = strndup(pos, (size_t)(bar - pos));
    int ok = when != NULL && cl_rfc3339_parse(when, &t) == 0 && cl_uuid_valid(bar + 1);
    free(when);
    return ok;
}

int cl_page_parse(cl_req *r, cl_page *page, cl_cursor_kind kind)
{
    const char *limit = cl_req_query(r, "limit");
    const char *cursor = cl_req_query(r, "cursor");

    page->limit = 50;
    page->after = NULL;
    if (limit != NULL) {
        char *end;
        long v;

        errno = 0;
        v = strtol(limit, &end, 10);
        if (errno != 0 || !isdigit((unsigned char)limit[0]) || *end != '\0' || v < 1 ||
            v > 500) {
            cl_error_ext(cl_req_err(r), "where", json_pack("{s:s}", "parameter", "limit"));
            return cl_req_fail(r, CL_EMALFORMED, "query parameter \"limit\" must be an "
                               "integer from 1 to 500");
        }
        page->limit = (int)v;
    }
    if (cursor != NULL) {
        unsigned char raw[CURSOR_MAX];
        char padded[CL_B64URL_SIZE(CURSOR_MAX) + 4];
        size_t len = strlen(cursor), n;

        if (len == 0 || len >= sizeof(padded) - 3)
            goto bad_cursor;
        for (size_t i = 0; i < len; i++)
            padded[i] = cursor[i] == '-' ? '+' : cursor[i] == '_' ? '/' : cursor[i];
        while (len % 4 != 0)
            padded[len++] = '=';
        padded[len] = '\0';
        if (cl_b64_decode(raw, sizeof(raw) - 1, &n, padded) < 0 || memchr(raw, 0, n) != NULL)
            goto bad_cursor;
        page->after = cl_arena_strndup(cl_req_arena(r), (const char *)raw, n);
        if (page->after == NULL || !valid_position(page->after, kind))
            goto bad_cursor;
    }
    return 0;
bad_cursor:
    cl_error_ext(cl_req_err(r), "where", json_pack("{s:s}", "parameter", "cursor"));
    return cl_req_fail(r, CL_EMALFORMED, "query parameter \"cursor\" is not a cursor this "
                       "server gave out");
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
static void append_encoded(cl_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            cl_buf_append(b, s, 1);
        else
            cl_buf_appendf(b, "%%%02X", c);
    }
}

typedef struct link_ctx {
    cl_buf *b;
    int first;
} link_ctx;

static void copy_arg(void *cls, const char *key, const char *value)
{
    link_ctx *ctx = cls;

    if (strcmp(key, "cursor") == 0)
        return;
    cl_buf_append(ctx->b, ctx->first ? "?" : "&", 1);
    ctx->first = 0;
    append_encoded(ctx->b, key);
    if (value != NULL) {
        cl_buf_append(ctx->b, "=", 1);
        append_encoded(ctx->b, value);
    }
}

int cl_page_respond(cl_req *r, json_t **out, json_t *items, const char *next_after)
{
    char *cursor = NULL;

    if (next_after != NULL) {
        size_t n = strlen(next_after);

        if (n >= CURSOR_MAX) {
            json_decref(items);
            return cl_req_fail(r, CL_ERROR, "cursor position too long");
        }
        cursor = cl_arena_alloc(cl_req_arena(r), CL_B64URL_SIZE(n));
        if (cursor == NULL) {
            json_decref(items);
            return cl_req_fail(r, CL_ERROR, "out of memory");
        }
        cl_b64url_encode(cursor, (const unsigned char *)next_after, n);

        cl_buf b;
        link_ctx ctx = { &b, 1 };
        cl_buf_init(&b, 8192);
        cl_buf_appendf(&b, "<%s", cl_req_path(r));
        cl_req_query_each(r, copy_arg, &ctx);
        cl_buf_appendf(&b, "%scursor=%s>; rel=\"next\"", ctx.first ? "?" : "&", cursor);
        if (b.data != NULL)
            cl_req_set_header(r, "Link", b.data);
        cl_buf_free(&b);
    }
    *out = json_pack("{s:o, s:s?}", "items", items, "next_cursor", cursor);
    return *out ? 0 : cl_req_fail(r, CL_ERROR, "out of memory");
}

int cl_page_account_rows(cl_req *r, json_t **out, const char *sql)
{
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_page_parse(r, &page, CL_CURSOR_CREATED)) < 0 ||
        (rc = cl_req_db(r, &db)) < 0)
        return rc;
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[3] = { cl_req_principal(r)->account_id, page.after, limit };
    if ((rc = cl_req_exec(r, db, &res, sql, 3, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

int cl_account_exec(cl_req *r, cl_pg *db, PGresult **res, const char *sql)
{
    const char *params[1] = { cl_req_principal(r)->account_id };

    return cl_req_exec(r, db, res, sql, 1, params);
}

int cl_account_row(cl_req *r, json_t **out, const char *sql)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 || (rc = cl_account_exec(r, db, &res, sql)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

int cl_page_items(cl_req *r, json_t **out, PGresult *res, int limit)
{
    json_t *items = json_array();
    int rows = PQntuples(res), shown = rows > limit ? limit : rows;

    for (int i = 0; i < shown; i++)
        json_array_append_new(items, cl_row_json(res, i));
    return cl_page_respond(r, out, items,
                           rows > limit ? cl_row_text(res, shown - 1, "_cursor") : NULL);
}

/* ---- ETag ------------------------------------------------------------ */

void cl_req_etag(cl_req *r, const char *version)
{
    char tag[48];

    snprintf(tag, sizeof(tag), "\"%s\"", version);
    cl_req_set_header(r, "ETag", tag);
}

int cl_req_if_match(cl_req *r, const char **version)
{
    const char *h = cl_req_header(r, "If-Match");
    size_t len;

    *version = NULL;
    if (h == NULL)
        return 0;
    len = strlen(h);
    if (len < 3 || len > 20 || h[0] != '"' || h[len - 1] != '"' ||
        strspn(h + 1, "0123456789") != len - 2)
        return cl_req_fail(r, CL_EPRECONDITION, "If-Match must be an ETag this server "
                           "gave out, such as \"3\"");
    *version = cl_arena_strndup(cl_req_arena(r), h + 1, len - 2);
    return 0;
}

/* ---- bodies ---------------------------------------------------------- */

int cl_dns_label(const char *s, size_t len)
{
    if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

size_t cl_utf8_length(const char *s)
{
    size_t chars = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        chars += (*p & 0xc0) != 0x80;   /* count lead bytes, not continuations */
    return chars;
}

const char *cl_body_string(cl_req *r, const char *field, int required, size_t max)
{
    json_t *v = json_object_get(cl_req_body(r), field);
    const char *s;
    size_t chars = 0;

    if (v == NULL || json_is_null(v)) {
        if (required)
            cl_error_field(cl_req_err(r), field, "is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        cl_error_field(cl_req_err(r), field, "must be a string");
        return NULL;
    }
    s = json_string_value(v);
    chars = cl_utf8_length(s);
    if (chars == 0 || chars > max) {
        cl_error_field(cl_req_err(r), field, "must be 1 to %zu characters long", max);
        return NULL;
    }
    return s;
}

const char *cl_body_enum(cl_req *r, const char *field, int required,
                         const char *const *allowed)
{
    const char *s = cl_body_string(r, field, required, 64);
    char list[256] = "";

    if (s == NULL)
        return NULL;
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (strcmp(s, allowed[i]) == 0)
            return s;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                 i ? ", " : "", allowed[i]);
    }
    cl_error_field(cl_req_err(r), field, "must be one of %s", list);
    return NULL;
}

void cl_body_only(cl_req *r, const char *const *known)
{
    const char *key;
    json_t *v;

    if (!json_is_object(cl_req_body(r))) {
        cl_error_field(cl_req_err(r), "", "the body must be a JSON object");
        return;
    }
    json_object_foreach(cl_req_body(r), key, v) {
        size_t i;

        for (i = 0; known[i] != NULL && strcmp(known[i], key) != 0; i++)
            ;
        if (known[i] == NULL)
            cl_error_field(cl_req_err(r), key, "is not a field of this operation");
    }
}

int cl_body_done(cl_req *r)
{
    return cl_req_err(r)->code == CL_EINVALID ? CL_EINVALID : 0;
}
