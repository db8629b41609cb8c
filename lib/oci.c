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

int cl_oci_get(cl_oci_client *c, const char *path, const char *accept, size_t max,
               cl_oci_answer *out, cl_error *err)
{
    char url[1200], accept_header[600];
    int rc, challenged = 0;

    memset(out, 0, sizeof(*out));
    if (snprintf(url, sizeof(url), "%s%s", c->base, path) >= (int)sizeof(url))
        return cl_error_set(err, CL_EINVALID, "the registry path is too long");
    snprintf(accept_header, sizeof(accept_header), "Accept: %s", accept ? accept : "*/*");
    for (int attempt = 0; attempt <= c->max_retries; attempt++) {
        cl_http_response resp = { .keep = { "WWW-Authenticate", "Docker-Distribution-Api-Version",
                                            "Content-Type", "Docker-Content-Digest", NULL } };
        cl_http_options opt = c->http;
        char auth[8300];
        const char *headers[3] = { accept_header, NULL, NULL };
        long status;

        if (max != 0)
            opt.max_body = max;
        if (c->token != NULL && time(NULL) < c->token_expires) {
            snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
            headers[1] = auth;
        } else if (c->basic && c->username != NULL) {
            char joined[1100], b64[1500];

            snprintf(joined, sizeof(joined), "%s:%s", c->username,
                     c->password ? c->password : "");
            cl_b64_encode(b64, (const unsigned char *)joined, strlen(joined));
            snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
            headers[1] = auth;
            memset(joined, 0, sizeof(joined));
        }
        rc = cl_http_request(&resp, &opt, "GET", url, headers, NULL, 0, err);
        memset(auth, 0, sizeof(auth));
        if (rc == CL_ETOOBIG)
            return rc;
        if (rc < 0) {
            if (attempt == c->max_retries)
                return rc;
            struct timespec pause = { 0, (long)(100000000L << attempt) };
            nanosleep(&pause, NULL);
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
            struct timespec pause = { 0, (long)(100000000L << attempt) };
            nanosleep(&pause, NULL);
            continue;
        }
        out->status = status;
        out->body = resp.body;
        out->body_len = resp.body_len;
        resp.body = NULL;
        if (cl_http_kept(&resp, "Content-Type"))
            snprintf(out->content_type, sizeof(out->content_type), "%s",
                     cl_http_kept(&resp, "Content-Type"));
        if (cl_http_kept(&resp, "Docker-Content-Digest"))
            snprintf(out->digest, sizeof(out->digest), "%s",
                     cl_http_kept(&resp, "Docker-Content-Digest"));
        if (cl_http_kept(&resp, "Docker-Distribution-Api-Version"))
            snprintf(out->api_version, sizeof(out->api_version), "%s",
                     cl_http_kept(&resp, "Docker-Distribution-Api-Version"));
        cl_http_response_free(&resp);
        if (status == 401 || status == 403)
            return cl_error_set(err, CL_EUNAUTHORIZED, "the registry refused the credentials "
                                "(%ld)", status);
        return 0;
    }
    return cl_error_set(err, CL_EUNAVAILABLE, "the registry kept failing");
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
