/* oci.c - the registry client; see oci.h for how authentication goes. */
#include "oci.h"
#include "token.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHALLENGE_MAX 4096
#define TOKEN_ANSWER_MAX (64 * 1024)

int cl_oci_client_init(cl_oci_client *c, const char *host, int tls, const char *username,
                       const char *password, cl_error *err)
{
    memset(c, 0, sizeof(*c));
    if (snprintf(c->base, sizeof(c->base), "%s://%s", tls ? "https" : "http", host) >=
        (int)sizeof(c->base))
        return cl_error_set(err, CL_EINVALID, "registry host \"%s\" is too long", host);
    c->username = username ? strdup(username) : NULL;
    c->password = password ? strdup(password) : NULL;
    c->http.timeout_s = 30;
    c->http.max_body = 4 * 1024 * 1024;
    c->max_retries = 3;
    c->chunk_size = 16u * 1024 * 1024;
    return 0;
}

void cl_oci_client_free(cl_oci_client *c)
{
    free(c->username);
    if (c->password != NULL)
        memset(c->password, 0, strlen(c->password));
    free(c->password);
    free(c->token);
    memset(c, 0, sizeof(*c));
}

int cl_oci_parse_challenge(const char *h, char scheme[16], json_t **params)
{
    size_t n = 0;

    *params = NULL;
    if (h == NULL || strlen(h) > CHALLENGE_MAX)
        return CL_EINVALID;
    while (*h == ' ')
        h++;
    while (isalpha((unsigned char)h[n]) && n < 15)
        n++;
    if (n == 0 || (h[n] != ' ' && h[n] != '\0'))
        return CL_EINVALID;
    memcpy(scheme, h, n);
    scheme[n] = '\0';
    h += n;
    *params = json_object();
    while (*h != '\0') {
        char key[64], value[CHALLENGE_MAX];
        size_t k = 0, v = 0;

        while (*h == ' ' || *h == ',')
            h++;
        if (*h == '\0')
            break;
        while ((isalnum((unsigned char)*h) || *h == '_' || *h == '-') && k < sizeof(key) - 1)
            key[k++] = *h++;
        key[k] = '\0';
        if (k == 0 || *h++ != '=')
            goto bad;
        if (*h == '"') {
            h++;
            while (*h != '"' && *h != '\0' && v < sizeof(value) - 1) {
                if (*h == '\\' && h[1] != '\0')
                    h++;
                value[v++] = *h++;
            }
            if (*h++ != '"')
                goto bad;
        } else {
            while (*h != ',' && *h != ' ' && *h != '\0' && v < sizeof(value) - 1)
                value[v++] = *h++;
        }
        value[v] = '\0';
        json_object_set_new(*params, key, json_string(value));
    }
    return 0;
bad:
    json_decref(*params);
    *params = NULL;
    return CL_EINVALID;
}

/* Fetch a Bearer token from the challenge's realm. */
static int fetch_token(cl_oci_client *c, json_t *challenge, cl_error *err)
{
    const char *realm = json_string_value(json_object_get(challenge, "realm"));
    const char *service = json_string_value(json_object_get(challenge, "service"));
    const char *scope = json_string_value(json_object_get(challenge, "scope"));
    cl_http_options opt = c->http;
    cl_http_response resp = { .keep = { NULL } };
    char url[4096], auth[1600];
    const char *headers[2] = { NULL, NULL };
    char *esc;
    json_t *answer;
    int rc;

    if (realm == NULL || (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0))
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry's token challenge has no "
                            "usable realm");
    snprintf(url, sizeof(url), "%s", realm);
    if (service != NULL && (esc = cl_http_escape(service)) != NULL) {
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "%sservice=%s",
                 strchr(url, '?') ? "&" : "?", esc);
        free(esc);
    }
    if (scope != NULL && (esc = cl_http_escape(scope)) != NULL) {
        snprintf(url + strlen(url), sizeof(url) - strlen(url), "%sscope=%s",
                 strchr(url, '?') ? "&" : "?", esc);
        free(esc);
    }
    if (c->username != NULL) {
        char joined[1100], b64[1500];

        snprintf(joined, sizeof(joined), "%s:%s", c->username, c->password ? c->password : "");
        cl_b64_encode(b64, (const unsigned char *)joined, strlen(joined));
        snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
        headers[0] = auth;
        memset(joined, 0, sizeof(joined));
    }
    opt.max_body = TOKEN_ANSWER_MAX;
    if ((rc = cl_http_request(&resp, &opt, "GET", url, headers, NULL, 0, err)) < 0)
        return rc;
    if (resp.status == 401 || resp.status == 403) {
        cl_http_response_free(&resp);
        return cl_error_set(err, CL_EUNAUTHORIZED, "the registry's token service refused the "
                            "credentials (%ld)", resp.status);
    }
    if (resp.status != 200) {
        long status = resp.status;
        cl_http_response_free(&resp);
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry's token service answered %ld",
                            status);
    }
    answer = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    cl_http_response_free(&resp);
    const char *token = json_string_value(json_object_get(answer, "token"));
    if (token == NULL)
        token = json_string_value(json_object_get(answer, "access_token"));
    if (token == NULL || strlen(token) > 8000) {
        json_decref(answer);
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry's token service gave no token");
    }
    json_int_t ttl = json_integer_value(json_object_get(answer, "expires_in"));
    free(c->token);
    c->token = strdup(token);
    c->token_expires = time(NULL) + (ttl > 10 ? ttl - 5 : 60);
    json_decref(answer);
    return 0;
}

int cl_oci_auth_header(cl_oci_client *c, char *out, size_t size)
{
    out[0] = '\0';
    if (c->token != NULL && time(NULL) < c->token_expires) {
        snprintf(out, size, "Authorization: Bearer %s", c->token);
    } else if (c->basic && c->username != NULL) {
        char joined[1100], b64[1500];

        snprintf(joined, sizeof(joined), "%s:%s", c->username, c->password ? c->password : "");
        cl_b64_encode(b64, (const unsigned char *)joined, strlen(joined));
        snprintf(out, size, "Authorization: Basic %s", b64);
        memset(joined, 0, sizeof(joined));
        memset(b64, 0, sizeof(b64));
    }
    return out[0] != '\0';
}

int cl_oci_url(const cl_oci_client *c, const char *path, char *out, size_t size, cl_error *err)
{
    int absolute = strncmp(path, "http://", 7) == 0 || strncmp(path, "https://", 8) == 0;

    if (!absolute && path[0] != '/')
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry gave an unusable location "
                            "\"%.100s\"", path);
    if (snprintf(out, size, "%s%s", absolute ? "" : c->base, path) >= (int)size)
        return cl_error_set(err, CL_EINVALID, "the registry URL is too long");
    return 0;
}

static void pause_before(int attempt)
{
    struct timespec pause = { 0, (long)(100000000L << attempt) };

    nanosleep(&pause, NULL);
}

static void keep(char *dst, size_t size, const cl_http_response *resp, const char *name)
{
    const char *v = cl_http_kept(resp, name);

    if (v != NULL)
        snprintf(dst, size, "%s", v);
}

int cl_oci_send(cl_oci_client *c, const cl_oci_call *call, cl_oci_answer *out, cl_error *err)
{
    char url[4200], accept_header[600], type_header[300], range_header[100];
    const char *fixed[4] = { NULL, NULL, NULL, NULL };
    size_t nfixed = 0;
    int rc, challenged = 0;

    memset(out, 0, sizeof(*out));
    if ((rc = cl_oci_url(c, call->path, url, sizeof(url), err)) < 0)
        return rc;
    snprintf(accept_header, sizeof(accept_header), "Accept: %s",
             call->accept ? call->accept : "*/*");
    fixed[nfixed++] = accept_header;
    if (call->content_type != NULL) {
        snprintf(type_header, sizeof(type_header), "Content-Type: %s", call->content_type);
        fixed[nfixed++] = type_header;
    }
    if (call->content_range != NULL) {
        snprintf(range_header, sizeof(range_header), "Content-Range: %s", call->content_range);
        fixed[nfixed++] = range_header;
    }
    for (int attempt = 0; attempt <= c->max_retries; attempt++) {
        cl_http_response resp = { .keep = { "WWW-Authenticate", "Docker-Distribution-Api-Version",
                                            "Content-Type", "Docker-Content-Digest", "Location",
                                            "Range", NULL } };
        cl_http_options opt = c->http;
        char auth[8300];
        const char *headers[6] = { NULL };
        long status;

        memcpy(headers, fixed, sizeof(fixed));
        if (call->max != 0)
            opt.max_body = call->max;
        if (cl_oci_auth_header(c, auth, sizeof(auth)))
            headers[nfixed] = auth;
        rc = cl_http_request(&resp, &opt, call->method, url, headers,
                             call->body ? call->body : (call->method[0] == 'P' ? "" : NULL),
                             call->body_len, err);
        memset(auth, 0, sizeof(auth));
        if (rc == CL_ETOOBIG)
            return rc;
        if (rc < 0) {
            if (attempt == c->max_retries)
                return rc;
            pause_before(attempt);
            continue;
        }
        status = resp.status;
        if (status == 401 && !challenged) {
            char scheme[16];
            json_t *params;

            challenged = 1;
            rc = cl_oci_parse_challenge(cl_http_kept(&resp, "WWW-Authenticate"), scheme, &params);
            cl_http_response_free(&resp);
            if (rc < 0)
                return cl_error_set(err, CL_EUNAVAILABLE, "the registry answered 401 without a "
                                    "usable WWW-Authenticate challenge");
            if (strcasecmp(scheme, "Basic") == 0) {
                json_decref(params);
                if (c->username == NULL)
                    return cl_error_set(err, CL_EUNAUTHORIZED, "the registry asks for a user "
                                        "name and password, and none are set");
                c->basic = 1;
            } else if (strcasecmp(scheme, "Bearer") == 0) {
                rc = fetch_token(c, params, err);
                json_decref(params);
                if (rc < 0)
                    return rc;
            } else {
                json_decref(params);
                return cl_error_set(err, CL_EUNAVAILABLE, "the registry asks for \"%s\" "
                                    "authentication, which Cloister does not speak", scheme);
            }
            attempt--;          /* answering a challenge is not a retry */
            continue;
        }
        if ((status == 429 || status >= 500) && attempt < c->max_retries) {
            cl_http_response_free(&resp);
            pause_before(attempt);
            continue;
        }
        out->status = status;
        out->body = resp.body;
        out->body_len = resp.body_len;
        resp.body = NULL;
        keep(out->content_type, sizeof(out->content_type), &resp, "Content-Type");
        keep(out->digest, sizeof(out->digest), &resp, "Docker-Content-Digest");
        keep(out->api_version, sizeof(out->api_version), &resp, "Docker-Distribution-Api-Version");
        keep(out->location, sizeof(out->location), &resp, "Location");
        keep(out->range, sizeof(out->range), &resp, "Range");
        cl_http_response_free(&resp);
        if (status == 401 || status == 403) {
            cl_oci_answer_free(out);
            return cl_error_set(err, CL_EUNAUTHORIZED, "the registry refused the credentials "
                                "(%ld)", status);
        }
        return 0;
    }
    return cl_error_set(err, CL_EUNAVAILABLE, "the registry kept failing");
}

int cl_oci_get(cl_oci_client *c, const char *path, const char *accept, size_t max,
               cl_oci_answer *out, cl_error *err)
{
    cl_oci_call call = { .method = "GET", .path = path, .accept = accept, .max = max };

    return cl_oci_send(c, &call, out, err);
}

void cl_oci_answer_free(cl_oci_answer *a)
{
    free(a->body);
    a->body = NULL;
}

int cl_oci_ping(cl_oci_client *c, json_t **info, cl_error *err)
{
    cl_oci_answer a;
    int rc;

    *info = NULL;
    if ((rc = cl_oci_get(c, "/v2/", NULL, 64 * 1024, &a, err)) < 0)
        return rc;
    cl_oci_answer_free(&a);
    if (a.status != 200)
        return cl_error_set(err, a.status == 429 || a.status >= 500 ? CL_EUNAVAILABLE
                                                                     : CL_EINVALID,
                            "the registry answered %ld to GET /v2/; it may not be an OCI "
                            "registry", a.status);
    *info = json_pack("{s:s, s:s?}", "auth", c->token ? "bearer" : c->basic ? "basic" : "none",
                      "api_version", a.api_version[0] ? a.api_version : NULL);
    return 0;
}
