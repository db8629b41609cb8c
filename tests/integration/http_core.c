/*
 * Integration tests for daemon/http.c: the real server, on a loopback port,
 * with a route table of its own, driven over HTTP with libcurl.
 *
 * The daemon's own routes are checked against cloisterd itself in
 * test_daemon.py; this file covers what every route inherits from the server
 * and that needs handlers the daemon does not have yet: JSON bodies (good,
 * malformed, too deep, too large, chunked, wrong type), each error code's
 * problem document, 500s that hide internals, 422 field lists, and a
 * graceful stop that lets a request in flight finish.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "daemon.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "router.h"

/* ---- routes under test -------------------------------------------------- */

static int echo(cl_req *r, json_t **out)
{
    *out = json_pack("{s:O}", "got", cl_req_body(r));
    cl_req_status(r, 201);
    cl_req_set_header(r, "Location", "/v1/things/1");
    return 0;
}

static int fail_with(cl_req *r, json_t **out)
{
    (void)out;
    return cl_req_fail(r, -(int)strtol(cl_req_param(r, "code"), NULL, 10),
                       "secret-internal-detail for %s", cl_req_path(r));
}

static int invalid(cl_req *r, json_t **out)
{
    (void)out;
    cl_error_field(cl_req_err(r), "enclave_size", "must be a power of two");
    return cl_error_field(cl_req_err(r), "threads", "must be between 1 and 256");
}

static int slow(cl_req *r, json_t **out)
{
    (void)r;
    sleep(1);
    *out = json_pack("{s:b}", "slow", 1);
    return 0;
}

static const cl_route test_routes[] = {
    { "POST", "/v1/echo", echo, CL_PUBLIC | CL_JSON_BODY },
    { "GET", "/v1/fail/{code}", fail_with, CL_PUBLIC },
    { "GET", "/v1/invalid", invalid, CL_PUBLIC },
    { "GET", "/v1/slow", slow, CL_PUBLIC },
    { NULL, NULL, NULL, 0 },
};

/* ---- server and client -------------------------------------------------- */

static cl_daemon daemon_state;
static cl_http *server;
static char base[64];

static int start_server(void **state)
{
    const cl_route *const tables[] = { test_routes, NULL };
    cl_error err = { 0 };
    cl_daemon *d = &daemon_state;
    (void)state;

    memset(d, 0, sizeof(*d));
    d->cfg.listen = "127.0.0.1:0";
    d->cfg.threads = 2;
    d->cfg.max_connections = 64;
    d->cfg.connection_timeout = 10;
    d->cfg.max_body_size = 64 * 1024;
    d->cfg.max_json_depth = 8;
    assert_int_equal(cl_router_new(&d->router, tables, &err), 0);
    assert_int_equal(cl_metrics_new(&d->metrics, d->router), 0);
    if (cl_http_start(&server, d, &err) < 0)
        fail_msg("could not start: %s", err.message);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", cl_http_port(server));
    return 0;
}

static int stop_server(void **state)
{
    (void)state;
    cl_http_stop(server, 5);
    server = NULL;
    cl_metrics_free(daemon_state.metrics);
    cl_router_free(daemon_state.router);
    return 0;
}

typedef struct reply {
    long status;
    cl_buf body;
    cl_buf headers;
    json_t *json;
} reply;

static size_t collect(char *data, size_t size, size_t n, void *userdata)
{
    return cl_buf_append(userdata, data, size * n) == 0 ? size * n : 0;
}

typedef struct upload {
    const char *data;
    size_t len, pos;
} upload;

static size_t feed(char *dst, size_t size, size_t n, void *userdata)
{
    upload *u = userdata;
    size_t k = size * n < u->len - u->pos ? size * n : u->len - u->pos;

    memcpy(dst, u->data + u->pos, k);
    u->pos += k;
    return k;
}

/* Send a request; content_type NULL sends none; chunked sends the body
 * without Content-Length. */
static void request(reply *out, const char *method, const char *path,
                    const char *content_type, const char *body, size_t len, int chunked)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char url[256], ct[256];
    upload u = { body, len, 0 };

    memset(out, 0, sizeof(*out));
    cl_buf_init(&out->body, 16 * 1024 * 1024);
    cl_buf_init(&out->headers, 64 * 1024);
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    hdrs = curl_slist_append(hdrs, "Expect:");
    if (content_type != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, feed);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
        if (chunked)
            hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
        else
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        out->status = -(long)rc;
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    if (out->body.len > 0)
        out->json = json_loadb(out->body.data, out->body.len, 0, NULL);
}

static void reply_free(reply *r)
{
    json_decref(r->json);
    cl_buf_free(&r->body);
    cl_buf_free(&r->headers);
}

static int has_header(reply *r, const char *line)
{
    return r->headers.data != NULL && strcasestr(r->headers.data, line) != NULL;
}

static void assert_problem(reply *r, long status, const char *slug)
{
    char type[128];

    if (r->status != status)
        fail_msg("status %ld, expected %ld; body: %s", r->status, status,
                 r->body.data ? r->body.data : "(none)");
    assert_true(has_header(r, "Content-Type: application/problem+json"));
    assert_non_null(r->json);
    snprintf(type, sizeof(type), "https://cloister.dev/problems/%s", slug);
    assert_string_equal(json_string_value(json_object_get(r->json, "type")), type);
    assert_int_equal(json_integer_value(json_object_get(r->json, "status")), status);
    assert_non_null(json_string_value(json_object_get(r->json, "title")));
    assert_non_null(json_string_value(json_object_get(r->json, "detail")));
    assert_non_null(json_string_value(json_object_get(r->json, "request_id")));
}

/* ---- tests -------------------------------------------------------------- */

static void test_json_body_reaches_handler(void **state)
{
    const char *body = "{\"name\":\"web\",\"nested\":{\"list\":[1,2,3]}}";
    reply r;
    (void)state;

    request(&r, "POST", "/v1/echo", "application/json; charset=utf-8", body, strlen(body), 0);
    assert_int_equal(r.status, 201);
    assert_true(has_header(&r, "Location: /v1/things/1"));
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_true(has_header(&r, "X-Request-Id: "));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "got"),
                                                          "name")), "web");
    reply_free(&r);

    request(&r, "POST", "/v1/echo", "application/json", body, strlen(body), 1);
    assert_int_equal(r.status, 201);
    reply_free(&r);
}

static void test_malformed_json_is_400_with_where(void **state)
{
    const char *body = "{\"name\": \"web\",\n \"threads\": }";
    json_t *where;
    reply r;
    (void)state;

    request(&r, "POST", "/v1/echo", "application/json", body, strlen(body), 0);
    assert_problem(&r, 400, "malformed-request");
    where = json_object_get(r.json, "where");
    assert_int_equal(json_integer_value(json_object_get(where, "line")), 2);
    assert_true(json_integer_value(json_object_get(where, "column")) > 0);
    reply_free(&r);

    request(&r, "POST", "/v1/echo", "application/json", "", 0, 0);
    assert_problem(&r, 400, "malformed-request");
    reply_free(&r);
}

static void test_deep_nesting_is_400(void **state)
{
    char body[64];
    reply r;
    (void)state;

    /* 9 levels against a bound of 8 */
    snprintf(body, sizeof(body), "[[[[[[[[[1]]]]]]]]]");
    request(&r, "POST", "/v1/echo", "application/json", body, strlen(body), 0);
    assert_problem(&r, 400, "malformed-request");
    assert_non_null(strstr(json_string_value(json_object_get(r.json, "detail")), "nested"));
    reply_free(&r);

    snprintf(body, sizeof(body), "[[[[[[[[1]]]]]]]]");   /* 8 levels: fine */
    request(&r, "POST", "/v1/echo", "application/json", body, strlen(body), 0);
    assert_int_equal(r.status, 201);
    reply_free(&r);
}

static void test_oversized_bodies_are_413(void **state)
{
    size_t len = 64 * 1024 + 1;
    char *body = malloc(len);
    reply r;
    (void)state;

    assert_non_null(body);
    memset(body, ' ', len);
    body[0] = '[';
    body[len - 1] = ']';
    request(&r, "POST", "/v1/echo", "application/json", body, len, 0);
    assert_problem(&r, 413, "payload-too-large");
    reply_free(&r);

    /* no Content-Length: read up to the limit, then refused */
    request(&r, "POST", "/v1/echo", "application/json", body, len, 1);
    assert_problem(&r, 413, "payload-too-large");
    reply_free(&r);

    /* exactly at the limit is accepted */
    body[len - 2] = ']';
    request(&r, "POST", "/v1/echo", "application/json", body, len - 1, 0);
    assert_int_equal(r.status, 201);
    reply_free(&r);
    free(body);
}

static void test_wrong_content_type_is_415(void **state)
{
    const char *body = "{}";
    reply r;
    (void)state;

    request(&r, "POST", "/v1/echo", "text/plain", body, 2, 0);
    assert_problem(&r, 415, "unsupported-media-type");
    reply_free(&r);
    request(&r, "POST", "/v1/echo", "application/jsonx", body, 2, 0);
    assert_problem(&r, 415, "unsupported-media-type");
    reply_free(&r);
    request(&r, "POST", "/v1/echo", NULL, body, 2, 0);
    assert_problem(&r, 415, "unsupported-media-type");
    reply_free(&r);
}

static void test_each_code_has_its_problem(void **state)
{
    static const struct { int code; long status; const char *slug; } cases[] = {
        { CL_EMALFORMED, 400, "malformed-request" },
        { CL_EUNAUTHORIZED, 401, "unauthorized" },
        { CL_EFORBIDDEN, 403, "forbidden" },
        { CL_ENOTFOUND, 404, "not-found" },
        { CL_ECONFLICT, 409, "conflict" },
        { CL_EPRECONDITION, 412, "precondition-failed" },
        { CL_ERATELIMIT, 429, "rate-limited" },
        { CL_EUNAVAILABLE, 503, "unavailable" },
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[64];
        reply r;

        snprintf(path, sizeof(path), "/v1/fail/%d", -cases[i].code);
        request(&r, "GET", path, NULL, NULL, 0, 0);
        assert_problem(&r, cases[i].status, cases[i].slug);
        if (cases[i].status == 503 || cases[i].status == 429)
            assert_true(has_header(&r, "Retry-After: "));
        reply_free(&r);
    }
}

static void test_internal_errors_hide_internals(void **state)
{
    reply r;
    (void)state;

    request(&r, "GET", "/v1/fail/1", NULL, NULL, 0, 0);
    assert_problem(&r, 500, "internal");
    assert_null(strstr(r.body.data, "secret-internal-detail"));
    reply_free(&r);
    request(&r, "GET", "/v1/fail/14", NULL, NULL, 0, 0);  /* CL_ERETRY leaked out */
    assert_problem(&r, 500, "internal");
    reply_free(&r);
}

static void test_422_names_each_field(void **state)
{
    json_t *errors;
    reply r;
    (void)state;

    request(&r, "GET", "/v1/invalid", NULL, NULL, 0, 0);
    assert_problem(&r, 422, "invalid-fields");
    errors = json_object_get(r.json, "errors");
    assert_int_equal(json_array_size(errors), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")),
                        "enclave_size");
    reply_free(&r);
}

static void test_routing_errors(void **state)
{
    reply r;
    (void)state;

    request(&r, "DELETE", "/v1/echo", NULL, NULL, 0, 0);
    assert_problem(&r, 405, "method-not-allowed");
    assert_true(has_header(&r, "Allow: POST"));
    reply_free(&r);

    /* a refused request with a body is answered before the body is read */
    request(&r, "PUT", "/v1/echo", "application/json", "{}", 2, 0);
    assert_problem(&r, 405, "method-not-allowed");
    reply_free(&r);

    request(&r, "GET", "/v1/nothing/here", NULL, NULL, 0, 0);
    assert_problem(&r, 404, "not-found");
    reply_free(&r);
}

static void *slow_client(void *arg)
{
    request(arg, "GET", "/v1/slow", NULL, NULL, 0, 0);
    return NULL;
}

/* Runs last: it stops the server. */
static void test_stop_finishes_requests_in_flight(void **state)
{
    pthread_t t;
    reply r, after;
    (void)state;

    pthread_create(&t, NULL, slow_client, &r);
    usleep(300 * 1000);
    assert_int_equal(cl_metrics_in_flight_now(daemon_state.metrics), 1);
    cl_http_stop(server, 10);
    server = NULL;
    pthread_join(t, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "slow")));
    reply_free(&r);

    request(&after, "GET", "/v1/slow", NULL, NULL, 0, 0);
    assert_true(after.status < 0);   /* connection refused: no longer listening */
    reply_free(&after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_body_reaches_handler),
        cmocka_unit_test(test_malformed_json_is_400_with_where),
        cmocka_unit_test(test_deep_nesting_is_400),
        cmocka_unit_test(test_oversized_bodies_are_413),
        cmocka_unit_test(test_wrong_content_type_is_415),
        cmocka_unit_test(test_each_code_has_its_problem),
        cmocka_unit_test(test_internal_errors_hide_internals),
        cmocka_unit_test(test_422_names_each_field),
        cmocka_unit_test(test_routing_errors),
        cmocka_unit_test(test_stop_finishes_requests_in_flight),
    };
    int rc;

    cl_log_setup(CL_LOG_TEXT, CL_LOG_WARN, stderr);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, start_server, stop_server);
    curl_global_cleanup();
    return rc;
}
