/*
 * http.c - the HTTP server around the handlers (libmicrohttpd).
 *
 * How a request goes through:
 *
 *   1. libmicrohttpd calls on_request() once the headers are in.  We create
 *      the request (its arena, its id), route it, and check what can be
 *      checked from the headers alone: 404, 405 with Allow, 415 for a JSON
 *      route sent another type, 413 for a declared Content-Length over the
 *      limit.  Any of those is answered at once, before reading the body.
 *   2. Further calls hand us the body in pieces; it goes into a bounded
 *      buffer.  A body without Content-Length that passes the limit is
 *      drained and discarded, and answered with 413 at the end.
 *   3. The last call (no more data) parses the JSON body with the nesting
 *      bound, runs the handler, and queues the response: the handler's JSON,
 *      its raw body, or a problem document made from its error.
 *   4. on_completed() runs when the response has been sent (or the
 *      connection died): it records metrics, writes the access log line and
 *      frees the arena, which runs every destructor registered on it.
 *
 * Error responses are made in one place, problem(), from the one table in
 * lib/error.c.  A 500 never shows internals: the detail names the request
 * id, and the log line under that id has the real message.
 *
 * Shutdown: cl_http_stop() stops accepting (MHD_quiesce_daemon), waits for
 * the requests in flight to finish up to a timeout, then stops the threads.
 */
#include "http.h"
#include "http_server.h"
#include "auth.h"
#include "idempotency.h"
#include "resource.h"
#include "daemon.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "router.h"
#include "static_files.h"

#include <errno.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADERS 16
#define REQUEST_ID_MAX 128

struct cl_req {
    cl_daemon *d;
    struct MHD_Connection *conn;
    cl_arena *arena;
    cl_error err;
    char id[REQUEST_ID_MAX + 1];
    const char *method;
    const char *path;
    cl_route_match match;
    int early;              /* precheck(): <0 refused, 1 static file, 0 go on */
    int answered;           /* a response is queued */
    int body_too_big;
    cl_buf body;
    json_t *json;
    cl_pg *db;
    cl_principal principal;
    char client[64];
    int status;
    const char *header_names[MAX_HEADERS];
    const char *header_values[MAX_HEADERS];
    size_t nheaders;
    const char *raw_type;
    const void *raw;
    size_t raw_len;
    int raw_fd;
    int raw_set;
    cl_stream_fn stream;
    void *stream_ctx;
    int answered_status;
    struct timespec started;
    cl_idem *idem;          /* the Idempotency-Key this request reserved, or NULL */
};

struct cl_http {
    struct MHD_Daemon *mhd;
    cl_daemon *d;
    char *tls_cert;
    char *tls_key;
    int port;
};

/* ---- accessors for handlers ------------------------------------------- */

cl_arena *cl_req_arena(cl_req *r) { return r->arena; }
cl_error *cl_req_err(cl_req *r) { return &r->err; }
cl_daemon *cl_req_daemon(cl_req *r) { return r->d; }
const char *cl_req_id(cl_req *r) { return r->id; }
const char *cl_req_method(cl_req *r) { return r->method; }
const char *cl_req_path(cl_req *r) { return r->path; }
json_t *cl_req_body(cl_req *r) { return r->json; }

const void *cl_req_raw_body(cl_req *r, size_t *len)
{
    *len = r->body.len;
    return r->body.data;
}
const cl_principal *cl_req_principal(cl_req *r) { return &r->principal; }
cl_principal *cl_req_principal_mut(cl_req *r) { return &r->principal; }

/* The last address of an X-Forwarded-For value into out; 0 if it is none. */
static int forwarded_for(const char *value, char *out, size_t size)
{
    const char *comma = strrchr(value, ',');
    const char *from = comma ? comma + 1 : value;
    unsigned char addr[sizeof(struct in6_addr)];
    size_t n;

    from += strspn(from, " \t");
    n = strcspn(from, " \t");
    if (n == 0 || n >= size || from[n + strspn(from + n, " \t")] != '\0')
        return 0;
    memcpy(out, from, n);
    out[n] = '\0';
    return inet_pton(AF_INET, out, addr) == 1 || inet_pton(AF_INET6, out, addr) == 1;
}

const char *cl_req_client(cl_req *r)
{
    const union MHD_ConnectionInfo *info;
    const char *xff;

    if (r->client[0] != '\0')
        return r->client;
    if (r->d->cfg.behind_tls_proxy && (xff = cl_req_header(r, "X-Forwarded-For")) != NULL &&
        forwarded_for(xff, r->client, sizeof(r->client)))
        return r->client;
    r->client[0] = '\0';
    info = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL ||
        getnameinfo(info->client_addr, info->client_addr->sa_family == AF_INET6
                        ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
                    r->client, sizeof(r->client), NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(r->client, sizeof(r->client), "unknown");
    return r->client;
}

const char *cl_req_cookie(cl_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

typedef struct query_each {
    cl_query_fn fn;
    void *ctx;
} query_each;

static enum MHD_Result visit_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    query_each *q = cls;

    (void)kind;
    q->fn(q->ctx, key, value);
    return MHD_YES;
}

void cl_req_query_each(cl_req *r, cl_query_fn fn, void *ctx)
{
    query_each q = { fn, ctx };

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, visit_arg, &q);
}
void cl_req_status(cl_req *r, int status) { r->status = status; }

const char *cl_req_param(cl_req *r, const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < r->match.nparams; i++)
        if (strncmp(r->match.names[i], name, len) == 0 && r->match.names[i][len] == '}')
            return r->match.values[i];
    return NULL;
}

const char *cl_req_query(cl_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *cl_req_header(cl_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int cl_req_set_header(cl_req *r, const char *name, const char *value)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->header_names[i], name) == 0) {
            r->header_values[i] = cl_arena_strdup(r->arena, value);
            return r->header_values[i] ? 0 : CL_ERROR;
        }
    if (r->nheaders == MAX_HEADERS)
        return cl_error_set(&r->err, CL_ERROR, "too many response headers");
    r->header_names[r->nheaders] = cl_arena_strdup(r->arena, name);
    r->header_values[r->nheaders] = cl_arena_strdup(r->arena, value);
    if (r->header_names[r->nheaders] == NULL || r->header_values[r->nheaders] == NULL)
        return CL_ERROR;
    r->nheaders++;
    return 0;
}

const char *cl_req_response_header(cl_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->header_names[i], name) == 0)
            return r->header_values[i];
    return NULL;
}

void cl_req_send(cl_req *r, const char *content_type, const void *data, size_t len)
{
    r->raw_type = content_type;
    r->raw = data;
    r->raw_len = len;
    r->raw_fd = -1;
    r->raw_set = 1;
}

static int open_streams;     /* event streams being served; changed atomically */

int cl_req_stream(cl_req *r, const char *content_type, cl_stream_fn next, void *ctx)
{
    int limit = r->d->cfg.threads > 1 ? (int)r->d->cfg.threads - 1 : 1;

    if (__atomic_add_fetch(&open_streams, 1, __ATOMIC_SEQ_CST) > limit) {
        __atomic_sub_fetch(&open_streams, 1, __ATOMIC_SEQ_CST);
        return cl_req_fail(r, CL_EUNAVAILABLE, "%d event streams are open already; try again "
                           "shortly, or poll instead", limit);
    }
    r->raw_type = content_type;
    r->raw = NULL;
    r->raw_len = 0;
    r->raw_fd = -1;
    r->raw_set = 1;
    r->stream = next;
    r->stream_ctx = ctx;
    return 0;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    cl_req *r = cls;
    long n;

    (void)pos;
    cl_log_context(r->id);
    n = r->stream(r->stream_ctx, buf, max);
    cl_log_context(NULL);
    if (n > 0)
        return (ssize_t)n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

void cl_req_send_file(cl_req *r, const char *content_type, int fd, size_t len)
{
    r->raw_type = content_type;
    r->raw = NULL;
    r->raw_len = len;
    r->raw_fd = fd;
    r->raw_set = 1;
}

int cl_req_fail(cl_req *r, int code, const char *fmt, ...)
{
    char msg[CL_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cl_error_set(&r->err, code, "%s", msg);
}

cl_idem *cl_req_idem(cl_req *r)
{
    return r->idem;
}

int cl_req_db(cl_req *r, cl_pg **out)
{
    int rc;

    if (r->db == NULL &&
        (rc = cl_pg_acquire(&r->db, r->d->pool, (int)r->d->cfg.db_wait, &r->err)) < 0) {
        *out = NULL;
        return rc;
    }
    *out = r->db;
    return 0;
}

/* ---- responses ---------------------------------------------------------- */

static double elapsed(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) +
           (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static enum MHD_Result queue(cl_req *r, int status, struct MHD_Response *resp,
                             const char *content_type)
{
    enum MHD_Result ret;

    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->d->cfg.tls_cert != NULL || r->d->cfg.behind_tls_proxy)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    if (content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->header_names[i], r->header_values[i]);
    r->answered_status = status;
    ret = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_json(cl_req *r, int status, json_t *body,
                                 const char *content_type)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    struct MHD_Response *resp;

    if (text == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
        free(text);
    return queue(r, status, resp, content_type);
}

static int has_header(cl_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->header_names[i], name) == 0)
            return 1;
    return 0;
}

/* The problem document for r->err (RFC 9457). */
static enum MHD_Result problem(cl_req *r)
{
    const cl_error_info *info = cl_error_lookup(r->err.code);
    char type[128];
    const char *detail = r->err.message;
    json_t *doc;
    enum MHD_Result ret;

    if (info->status >= 500 && r->err.code != CL_EUNAVAILABLE) {
        cl_log_error("%s", r->err.message[0] ? r->err.message : "internal error");
        detail = "an internal error occurred; the server log has the details under "
                 "this request's id";
    } else if (detail[0] == '\0') {
        detail = info->title;
    }
    snprintf(type, sizeof(type), CL_PROBLEM_BASE "%s", info->slug);
    doc = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "type", type, "title",
                    info->title, "status", info->status, "detail", detail,
                    "instance", r->path, "request_id", r->id);
    if (doc == NULL) /* a path that is not UTF-8 */
        doc = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title",
                        info->title, "status", info->status, "detail", detail,
                        "request_id", r->id);
    if (doc != NULL && r->err.ext != NULL)
        json_object_update_missing(doc, r->err.ext);

    if (info->status == 405)
        cl_req_set_header(r, "Allow", r->match.allow);
    if ((info->status == 503 || info->status == 429) &&
        has_header(r, "Retry-After") == 0)
        cl_req_set_header(r, "Retry-After", "2");
    cl_req_set_header(r, "Cache-Control", "no-store");
    ret = send_json(r, info->status, doc, "application/problem+json");
    json_decref(doc);
    return ret;
}

static enum MHD_Result fail(cl_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result fail(cl_req *r, int code, const char *fmt, ...)
{
    char msg[CL_ERROR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cl_error_set(&r->err, code, "%s", msg);
    return problem(r);
}

static enum MHD_Result answer(cl_req *r, json_t *out)
{
    struct MHD_Response *resp;
    int status = r->status ? r->status : 200;

    if (r->raw_set) {
        if (r->stream != NULL)
            resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, r,
                                                     NULL);
        else if (r->raw_fd >= 0)
            resp = MHD_create_response_from_fd(r->raw_len, r->raw_fd);
        else
            resp = MHD_create_response_from_buffer(r->raw_len, (void *)r->raw,
                                                   MHD_RESPMEM_PERSISTENT);
        if (resp == NULL && r->raw_fd >= 0)
            close(r->raw_fd);
        return queue(r, status, resp, r->raw_type);
    }
    if (out == NULL) {
        if (status == 204)
            return queue(r, status, MHD_create_response_from_buffer(0, NULL,
                         MHD_RESPMEM_PERSISTENT), NULL);
        return fail(r, CL_ERROR, "handler for %s %s returned no body", r->method, r->path);
    }
    if (has_header(r, "Cache-Control") == 0)
        cl_req_set_header(r, "Cache-Control", "no-store");
    return send_json(r, status, out, "application/json");
}

/* ---- the request's life ---------------------------------------------- */

static void make_request_id(cl_req *r)
{
    const char *given = cl_req_header(r, "X-Request-Id");

    if (given != NULL && given[0] != '\0' && strlen(given) <= REQUEST_ID_MAX &&
        strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789-_.:") == strlen(given)) {
        snprintf(r->id, sizeof(r->id), "%s", given);
        return;
    }
    if (cl_uuid_new(r->id) < 0)
        snprintf(r->id, sizeof(r->id), "unidentified");
}

/* Is the Content-Type header application/json (parameters allowed)? */
static int is_json_type(const char *type)
{
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;

    if (type == NULL || strncasecmp(type, want, n) != 0)
        return 0;
    type += n;
    while (*type == ' ' || *type == '\t')
        type++;
    return *type == '\0' || *type == ';';
}

/* Does the request announce a body (Content-Length > 0 or chunked)? */
static int has_body(cl_req *r)
{
    const char *length = cl_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);

    return (length != NULL && strcmp(length, "0") != 0) ||
           cl_req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/*
 * Checks made from the headers alone: 0 to go on, or an error code in r->err
 * (1 when a static file was found instead of a route).
 */
static int precheck(cl_req *r)
{
    const char *length = cl_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *type = cl_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    int rc = cl_router_match(r->d->router, r->method, r->path, r->arena, &r->match);

    if (rc == CL_ENOTFOUND && (strcmp(r->method, "GET") == 0 ||
                               strcmp(r->method, "HEAD") == 0) &&
        cl_portal_serve(r, r->d->portal) == 0)
        return 1;
    if (rc == CL_ENOTFOUND)
        return cl_error_set(&r->err, rc, "no resource at \"%s\"", r->path);
    if (rc == CL_EMETHOD)
        return cl_error_set(&r->err, rc, "\"%s\" does not support %s; it allows %s",
                            r->path, r->method, r->match.allow);
    if (rc < 0)
        return cl_error_set(&r->err, CL_ERROR, "routing failed");
    if (length != NULL) {
        char *end;
        unsigned long long n;

        errno = 0;
        n = strtoull(length, &end, 10);
        if (errno == 0 && *end == '\0' && n > (unsigned long long)r->d->cfg.max_body_size)
            return cl_error_set(&r->err, CL_ETOOBIG, "the request body of %llu bytes is "
                                "larger than the limit of %lld bytes", n,
                                r->d->cfg.max_body_size);
    }
    if (((r->match.route->flags & CL_JSON_BODY) ||
         ((r->match.route->flags & CL_JSON_OPTIONAL) && has_body(r))) && !is_json_type(type))
        return cl_error_set(&r->err, CL_EMEDIATYPE,
                            "the request body must be application/json, not \"%s\"",
                            type ? type : "(none)");
    return 0;
}

static enum MHD_Result run_handler(cl_req *r)
{
    json_t *out = NULL;
    enum MHD_Result ret;
    int rc;

    unsigned flags = r->match.route->flags;
    cl_idem idem = { 0 };

    if (r->body_too_big)
        return fail(r, CL_ETOOBIG, "the request body is larger than the limit of %lld bytes",
                    r->d->cfg.max_body_size);
    if (cl_auth_check(r, flags) < 0)
        return problem(r);
    if ((flags & CL_JSON_BODY) || ((flags & CL_JSON_OPTIONAL) && r->body.len > 0)) {
        if (r->body.len == 0)
            return fail(r, CL_EMALFORMED, "a JSON request body is required");
        rc = cl_json_parse(&r->json, r->body.data, r->body.len,
                           (size_t)r->d->cfg.max_json_depth, &r->err);
        if (rc < 0)
            return problem(r);
    }

    if ((flags & CL_IDEMPOTENT) && (rc = cl_idem_begin(r, &idem)) != 0) {
        cl_pg_release(r->db);
        r->db = NULL;
        return rc < 0 ? problem(r) : answer(r, NULL);   /* > 0: a replay */
    }

    r->idem = idem.active ? &idem : NULL;
    rc = r->match.route->handler(r, &out);
    r->idem = NULL;
    if (idem.active)
        cl_idem_finish(r, &idem, rc < 0 ? 0 : (r->status ? r->status : 200), out);
    cl_pg_release(r->db);   /* give the connection back before sending */
    r->db = NULL;
    if (rc < 0) {
        json_decref(out);
        if (r->raw_set && r->raw_fd >= 0)
            close(r->raw_fd);
        r->raw_set = 0;
        if (r->err.code == CL_OK)
            cl_error_set(&r->err, rc, "request failed");
        return problem(r);
    }
    ret = answer(r, out);
    json_decref(out);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    cl_http *h = cls;
    cl_req *r = *con_cls;
    enum MHD_Result ret = MHD_YES;

    (void)version;
    if (r == NULL) {
        cl_arena *a = cl_arena_new(0);

        r = a ? cl_arena_alloc(a, sizeof(*r)) : NULL;
        if (r == NULL) {
            cl_arena_free(a);
            return MHD_NO;
        }
        r->arena = a;
        r->d = h->d;
        r->conn = conn;
        r->raw_fd = -1;
        r->method = cl_arena_strdup(a, method);
        r->path = cl_arena_strdup(a, url);
        clock_gettime(CLOCK_MONOTONIC, &r->started);
        cl_buf_init(&r->body, (size_t)h->d->cfg.max_body_size);
        make_request_id(r);
        *con_cls = r;
        cl_metrics_in_flight(h->d->metrics, 1);

        cl_log_context(r->id);
        r->early = precheck(r);
        /* answer a refused body at once, so that it is never read */
        if (r->early < 0 && has_body(r)) {
            ret = problem(r);
            r->answered = 1;
        }
        cl_log_context(NULL);
        return ret;
    }
    if (r->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }

    cl_log_context(r->id);
    if (*upload_data_size > 0) {
        if (!r->body_too_big && r->early == 0 &&
            cl_buf_append(&r->body, upload_data, *upload_data_size) < 0)
            r->body_too_big = 1;
        *upload_data_size = 0;
    } else {
        if (r->early < 0)
            ret = problem(r);
        else if (r->early > 0)
            ret = answer(r, NULL);  /* a static file */
        else
            ret = run_handler(r);
        r->answered = 1;
    }
    cl_log_context(NULL);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    cl_http *h = cls;
    cl_req *r = *con_cls;
    double seconds;

    (void)conn;
    if (r == NULL)
        return;
    seconds = elapsed(&r->started);
    cl_metrics_record(h->d->metrics, r->match.index, r->answered_status, seconds);
    cl_metrics_in_flight(h->d->metrics, -1);

    cl_log_context(r->id);
    cl_log_kv(CL_LOG_INFO, json_pack("{s:s, s:s, s:s, s:i, s:f, s:b}",
              "method", r->method, "path", r->path,
              "route", r->match.route ? r->match.route->pattern : "",
              "status", r->answered_status, "duration_ms", seconds * 1000.0,
              "completed", toe == MHD_REQUEST_TERMINATED_COMPLETED_OK),
              "request");
    cl_log_context(NULL);

    if (r->stream != NULL)
        __atomic_sub_fetch(&open_streams, 1, __ATOMIC_SEQ_CST);
    cl_pg_release(r->db);
    json_decref(r->json);
    cl_error_clear(&r->err);
    cl_buf_free(&r->body);
    *con_cls = NULL;
    cl_arena_free(r->arena);
}

/* ---- starting and stopping ---------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    cl_log_kv(CL_LOG_WARN, json_pack("{s:s}", "component", "libmicrohttpd"), "%s", msg);
}

/* Split "host:port", "[v6]:port" or ":port". */
static int read_pem(char **out, const char *path, cl_error *err)
{
    FILE *f = fopen(path, "rb");
    cl_buf b;
    char chunk[4096];
    size_t n;

    *out = NULL;
    if (f == NULL)
        return cl_error_set(err, CL_EINVALID, "could not open \"%s\": %s", path,
                            strerror(errno));
    cl_buf_init(&b, 1024 * 1024);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (cl_buf_append(&b, chunk, n) < 0) {
            fclose(f);
            return cl_error_set(err, CL_EINVALID, "\"%s\" is larger than 1 MiB", path);
        }
    fclose(f);
    *out = cl_buf_take(&b, NULL);
    return *out ? 0 : cl_error_set(err, CL_ERROR, "out of memory");
}

int cl_http_start(cl_http **out, cl_daemon *d, cl_error *err)
{
    const cl_settings *cfg = &d->cfg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    cl_http *h = calloc(1, sizeof(*h));
    int fd, rc;

    *out = NULL;
    if (h == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    h->d = d;
    if ((cfg->tls_cert != NULL) != (cfg->tls_key != NULL)) {
        free(h);
        return cl_error_set(err, CL_EINVALID, "HTTPS needs both --tls-cert and --tls-key");
    }
    if (cfg->tls_cert != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            free(h);
            return cl_error_set(err, CL_EINVALID, "this libmicrohttpd was built without TLS");
        }
        if ((rc = read_pem(&h->tls_cert, cfg->tls_cert, err)) < 0 ||
            (rc = read_pem(&h->tls_key, cfg->tls_key, err)) < 0) {
            cl_http_stop(h, 0);
            return rc;
        }
        flags |= MHD_USE_TLS;
    }
    fd = cl_listen(cfg->listen, &h->port, err);
    if (fd < 0) {
        cl_http_stop(h, 0);
        return fd;
    }
    if (cfg->tls_cert == NULL && !cfg->behind_tls_proxy && !cl_is_loopback(fd)) {
        close(fd);
        cl_http_stop(h, 0);
        return cl_error_set(err, CL_EINVALID, "refusing to serve plain HTTP on \"%s\", which "
                            "is not a loopback address: give --tls-cert and --tls-key, or "
                            "--behind-tls-proxy when TLS ends at a proxy or ingress in front",
                            cfg->listen);
    }

    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key },
        { MHD_OPTION_END, 0, NULL },
    };
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_ARRAY, h->tls_cert ? tls : &tls[2],
        MHD_OPTION_END);
    if (h->mhd == NULL) {
        close(fd);
        cl_http_stop(h, 0);
        return cl_error_set(err, CL_ERROR, "could not start the HTTP server on \"%s\"",
                            cfg->listen);
    }
    *out = h;
    return 0;
}

int cl_http_port(const cl_http *h)
{
    return h->port;
}

void cl_http_stop(cl_http *h, int timeout_s)
{
    if (h == NULL)
        return;
    if (h->mhd != NULL) {
        MHD_socket fd = MHD_quiesce_daemon(h->mhd);
        struct timespec start, pause = { 0, 20 * 1000 * 1000 };
        long left;

        if (fd != MHD_INVALID_SOCKET)
            close(fd);
        clock_gettime(CLOCK_MONOTONIC, &start);
        while ((left = cl_metrics_in_flight_now(h->d->metrics)) > 0 &&
               elapsed(&start) < timeout_s)
            nanosleep(&pause, NULL);
        if (left > 0)
            cl_log_warn("stopping with %ld request(s) still in flight after %d s",
                        left, timeout_s);
        MHD_stop_daemon(h->mhd);
    }
    free(h->tls_cert);
    free(h->tls_key);
    free(h);
}
