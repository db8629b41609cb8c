/*
 * http_client.h - HTTP requests through libcurl, for the CLI and the workers.
 *
 * One call, one request: method, URL, headers, an optional body; the answer's
 * status, the headers the caller asked to keep, and the body, bounded by
 * `max_body` (CL_ETOOBIG past it).  Transport failures (refused, timed out,
 * TLS) are CL_EUNAVAILABLE with curl's own explanation.
 *
 * Ownership: the response's body and header values are malloc'd and freed by
 * cl_http_response_free().
 */
#ifndef CL_HTTP_CLIENT_H
#define CL_HTTP_CLIENT_H

#include "error.h"

#include <stddef.h>

#define CL_HTTP_MAX_KEPT 8

typedef struct cl_http_options {
    const char *ca_file;     /* trust these CAs instead of the system's */
    const char *ca_pem;      /* or these, given as PEM text */
    const char *client_cert_pem;   /* a client certificate and its key, PEM */
    const char *client_key_pem;
    int insecure;            /* do not verify the server's certificate */
    long timeout_s;          /* whole request; 0 means 60 */
    size_t max_body;         /* 0 means 16 MiB */
    int follow;              /* follow redirects (at most 5); an Authorization
                              * header is never sent on to another host */
} cl_http_options;

typedef struct cl_http_response {
    long status;
    char *body;              /* NUL-terminated; NULL when empty */
    size_t body_len;
    const char *keep[CL_HTTP_MAX_KEPT];   /* header names to keep, NULL-ended */
    char *kept[CL_HTTP_MAX_KEPT];         /* their values, or NULL */
} cl_http_response;

/*
 * Send the request.  headers is a NULL-terminated array of "Name: value"
 * lines (may be NULL); body may be NULL.  Before the call, set
 * resp->keep to the header names whose values you want (case-insensitive).
 */
int cl_http_request(cl_http_response *resp, const cl_http_options *opt, const char *method,
                    const char *url, const char *const *headers, const char *body,
                    size_t body_len, cl_error *err);

/*
 * A request whose answer is read as it arrives (Server-Sent Events):
 * on_data(ctx, bytes, len) gets each piece and returns 0 to go on or
 * non-zero to stop reading (not an error).  *status is the HTTP status.
 */
int cl_http_stream(const cl_http_options *opt, const char *url, const char *const *headers,
                   int (*on_data)(void *ctx, const char *data, size_t len), void *ctx,
                   long *status, cl_error *err);

/* The value kept for header `name`, or NULL. */
const char *cl_http_kept(const cl_http_response *resp, const char *name);

void cl_http_response_free(cl_http_response *resp);

/* Percent-encode s for a URL query value; malloc'd. */
char *cl_http_escape(const char *s);

#endif
