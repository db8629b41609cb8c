/* http_client.c - see http_client.h. */
#include "http_client.h"
#include "buf.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_MAX_BODY (16u * 1024 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct sink {
    cl_buf body;
    int too_big;
    cl_http_response *resp;
} sink;

static size_t on_body(char *data, size_t size, size_t n, void *userdata)
{
    sink *s = userdata;

    if (cl_buf_append(&s->body, data, size * n) < 0) {
        s->too_big = 1;
        return 0;       /* abort the transfer */
    }
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
    cl_http_response *resp = ((sink *)userdata)->resp;
    size_t len = size * n;
    const char *colon = memchr(data, ':', len);

    if (colon == NULL)
        return len;
    for (size_t i = 0; i < CL_HTTP_MAX_KEPT && resp->keep[i] != NULL; i++) {
        size_t name_len = strlen(resp->keep[i]);
        const char *v = colon + 1, *end = data + len;

        if ((size_t)(colon - data) != name_len || strncasecmp(data, resp->keep[i], name_len) != 0)
            continue;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        free(resp->kept[i]);
        resp->kept[i] = cl_bytes_to_str(v, (size_t)(end - v));
    }
    return len;
}

/* Whom the server must prove to be, and who the client proves to be. */
static void tls_options(CURL *c, const cl_http_options *opt)
{
    if (opt == NULL)
        return;
    if (opt->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, opt->ca_file);
    if (opt->ca_pem != NULL) {
        struct curl_blob ca = { (void *)opt->ca_pem, strlen(opt->ca_pem), CURL_BLOB_COPY };
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (opt->client_cert_pem != NULL && opt->client_key_pem != NULL) {
        struct curl_blob cert = { (void *)opt->client_cert_pem, strlen(opt->client_cert_pem),
                                  CURL_BLOB_COPY };
        struct curl_blob key = { (void *)opt->client_key_pem, strlen(opt->client_key_pem),
                                 CURL_BLOB_COPY };
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (opt->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

int cl_http_request(cl_http_response *resp, const cl_http_options *opt, const char *method,
                    const char *url, const char *const *headers, const char *body,
                    size_t body_len, cl_error *err)
{
    struct curl_slist *list = NULL;
    sink s = { .resp = resp };
    char curl_err[CURL_ERROR_SIZE] = "";
    CURLcode code;
    CURL *c;
    int rc = 0;

    pthread_once(&curl_once, curl_setup);
    resp->status = 0;
    resp->body = NULL;
    resp->body_len = 0;
    memset(resp->kept, 0, sizeof(resp->kept));
    cl_buf_init(&s.body, opt && opt->max_body ? opt->max_body : DEFAULT_MAX_BODY);

    if ((c = curl_easy_init()) == NULL)
        return cl_error_set(err, CL_ERROR, "could not start libcurl");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, opt && opt->timeout_s ? opt->timeout_s : 60L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (opt != NULL && opt->follow) {
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
    }
    tls_options(c, opt);

    code = curl_easy_perform(c);
    if (s.too_big)
        rc = cl_error_set(err, CL_ETOOBIG, "the answer from \"%s\" is larger than %zu bytes",
                          url, s.body.max);
    else if (code != CURLE_OK)
        rc = cl_error_set(err, CL_EUNAVAILABLE, "could not reach \"%s\": %s", url,
                          curl_err[0] ? curl_err : curl_easy_strerror(code));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    if (rc < 0) {
        cl_buf_free(&s.body);
        cl_http_response_free(resp);
        return rc;
    }
    resp->body_len = s.body.len;
    resp->body = s.body.len ? cl_buf_take(&s.body, NULL) : NULL;
    cl_buf_free(&s.body);
    return 0;
}

typedef struct stream_sink {
    int (*on_data)(void *ctx, const char *data, size_t len);
    void *ctx;
    int stopped;
} stream_sink;

static size_t on_stream(char *data, size_t size, size_t n, void *userdata)
{
    stream_sink *s = userdata;

    if (s->on_data(s->ctx, data, size * n) != 0) {
        s->stopped = 1;
        return 0;               /* ends the transfer */
    }
    return size * n;
}

int cl_http_stream(const cl_http_options *opt, const char *url, const char *const *headers,
                   int (*on_data)(void *ctx, const char *data, size_t len), void *ctx,
                   long *status, cl_error *err)
{
    stream_sink s = { on_data, ctx, 0 };
    struct curl_slist *list = NULL;
    char curl_err[CURL_ERROR_SIZE] = "";
    CURLcode code;
    CURL *c;

    pthread_once(&curl_once, curl_setup);
    *status = 0;
    if ((c = curl_easy_init()) == NULL)
        return cl_error_set(err, CL_ERROR, "could not start libcurl");
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    /* no overall timeout: a stream lasts as long as the job; a silent one
     * (no keep-alive comment for a minute) is given up */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    tls_options(c, opt);
    code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && s.stopped))
        return cl_error_set(err, CL_EUNAVAILABLE, "the stream from \"%s\" broke: %s", url,
                            curl_err[0] ? curl_err : curl_easy_strerror(code));
    return 0;
}

const char *cl_http_kept(const cl_http_response *resp, const char *name)
{
    for (size_t i = 0; i < CL_HTTP_MAX_KEPT && resp->keep[i] != NULL; i++)
        if (strcasecmp(resp->keep[i], name) == 0)
            return resp->kept[i];
    return NULL;
}

void cl_http_response_free(cl_http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    for (size_t i = 0; i < CL_HTTP_MAX_KEPT; i++) {
        free(resp->kept[i]);
        resp->kept[i] = NULL;
    }
}

char *cl_http_escape(const char *s)
{
    char *e, *copy;

    pthread_once(&curl_once, curl_setup);
    e = curl_easy_escape(NULL, s, 0);
    if (e == NULL)
        return NULL;
    copy = strdup(e);
    curl_free(e);
    return copy;
}
