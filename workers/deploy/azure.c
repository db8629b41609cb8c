/*
 * azure.c - Microsoft Entra ID's client-credentials flow (the OAuth 2.0
 * token endpoint, v2.0: POST {login}/{tenant}/oauth2/v2.0/token with the
 * service principal's id and secret and the scope, form-encoded), and
 * requests to Azure Resource Manager with the token it gives, their
 * errors read from ARM's {"error": {"code", "message"}}.
 */
#include "deploy.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A token for e's scope, with the time it expires (expires_in, less a
 * minute for clocks and the request in flight). */
static int entra_fetch(cl_entra *e, cl_error *err)
{
    const cl_deploy_settings *s = &cl_worker.deploy;
    char url[1024], *form = NULL;
    char *e_client = curl_easy_escape(NULL, e->client, 0);
    char *e_secret = curl_easy_escape(NULL, e->secret, 0);
    char *e_scope = curl_easy_escape(NULL, e->scope, 0);
    cl_http_options opt = { .ca_file = s->ca_file[0] ? s->ca_file : NULL,
                            .timeout_s = cl_worker.peer_timeout, .max_body = 64 * 1024 };
    cl_http_response resp = { .keep = { NULL } };
    const char *headers[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    time_t asked = time(NULL);
    json_t *doc = NULL;
    int rc;

    snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", s->azure_login_url, e->tenant);
    size_t len = (e_client ? strlen(e_client) : 0) + (e_secret ? strlen(e_secret) : 0) +
                 (e_scope ? strlen(e_scope) : 0) + 128;
    if (e_client == NULL || e_secret == NULL || e_scope == NULL || (form = malloc(len)) == NULL) {
        rc = cl_error_set(err, CL_ERROR, "out of memory");
        goto done;
    }
    snprintf(form, len, "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s",
             e_client, e_secret, e_scope);
    if ((rc = cl_http_request(&resp, &opt, "POST", url, headers, form, strlen(form), err)) < 0)
        goto done;
    doc = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    const char *access = json_string_value(json_object_get(doc, "access_token"));
    json_int_t lifetime = json_integer_value(json_object_get(doc, "expires_in"));
    if (resp.status == 200 && access != NULL) {
        char *token = strdup(access);
        if (token == NULL) {
            rc = cl_error_set(err, CL_ERROR, "out of memory");
            goto done;
        }
        if (e->token != NULL)
            OPENSSL_cleanse(e->token, strlen(e->token));
        free(e->token);
        e->token = token;
        e->expires = asked + (lifetime > 120 ? lifetime - 60 : lifetime / 2);
    } else {
        const char *what = json_string_value(json_object_get(doc, "error_description"));
        const char *code = json_string_value(json_object_get(doc, "error"));
        rc = cl_error_set(err, resp.status == 400 || resp.status == 401 ? CL_EUNAUTHORIZED
                               : CL_EUNAVAILABLE,
                          "Microsoft Entra ID refused the service principal %s (%ld %s): %.300s",
                          e->client, resp.status, code ? code : "",
                          what ? what : "no reason given");
    }
done:
    if (form != NULL)
        OPENSSL_cleanse(form, strlen(form));
    free(form);
    if (e_secret != NULL)
        OPENSSL_cleanse(e_secret, strlen(e_secret));
    curl_free(e_client);
    curl_free(e_secret);
    curl_free(e_scope);
    json_decref(doc);
    cl_http_response_free(&resp);
    return rc;
}

int cl_entra_open(cl_entra *e, const char *tenant, const char *client, const char *secret,
                  const char *scope, cl_error *err)
{
    int rc;

    memset(e, 0, sizeof(*e));
    e->tenant = strdup(tenant);
    e->client = strdup(client);
    e->secret = strdup(secret);
    e->scope = strdup(scope);
    if (e->tenant == NULL || e->client == NULL || e->secret == NULL || e->scope == NULL)
        rc = cl_error_set(err, CL_ERROR, "out of memory");
    else
        rc = entra_fetch(e, err);
    if (rc < 0)
        cl_entra_close(e);
    return rc;
}

const char *cl_entra_bearer(cl_entra *e, int renew, cl_error *err)
{
    if ((renew || time(NULL) >= e->expires) && entra_fetch(e, err) < 0)
        return NULL;
    return e->token;
}

void cl_entra_close(cl_entra *e)
{
    if (e->secret != NULL)
        OPENSSL_cleanse(e->secret, strlen(e->secret));
    if (e->token != NULL)
        OPENSSL_cleanse(e->token, strlen(e->token));
    free(e->tenant);
    free(e->client);
    free(e->secret);
    free(e->scope);
    free(e->token);
    memset(e, 0, sizeof(*e));
}

static int arm_once(const char *token, const char *method, const char *path, json_t *body,
                    const char *if_match, cl_arm_answer *out, cl_error *err);

int cl_arm_call(cl_entra *auth, const char *method, const char *path, json_t *body,
                const char *if_match, cl_arm_answer *out, cl_error *err)
{
    const char *token = cl_entra_bearer(auth, 0, err);
    int rc = token ? arm_once(token, method, path, body, if_match, out, err) : err->code;

    if (rc == CL_EUNAUTHORIZED && strstr(err->message, "ExpiredAuthenticationToken")) {
        cl_error_clear(err);                    /* expired before we thought: once more */
        token = cl_entra_bearer(auth, 1, err);
        rc = token ? arm_once(token, method, path, body, if_match, out, err) : err->code;
    }
    return rc;
}

static int arm_once(const char *token, const char *method, const char *path, json_t *body,
                    const char *if_match, cl_arm_answer *out, cl_error *err)
{
    const cl_deploy_settings *s = &cl_worker.deploy;
    cl_http_options opt = { .ca_file = s->ca_file[0] ? s->ca_file : NULL,
                            .timeout_s = cl_worker.peer_timeout, .max_body = 8u * 1024 * 1024 };
    cl_http_response resp = { .keep = { "Azure-AsyncOperation", "Location", "Retry-After",
                                        NULL } };
    char url[2048], match[300], *authz, *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t alen = strlen(token) + 32;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((authz = malloc(alen)) == NULL) {
        free(text);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    snprintf(authz, alen, "Authorization: Bearer %s", token);
    if (strncmp(path, "https://", 8) == 0 || strncmp(path, "http://", 7) == 0)
        snprintf(url, sizeof(url), "%s", path);     /* an operation's own URL, as given */
    else
        snprintf(url, sizeof(url), "%s%s%capi-version=%s", s->arm_url, path,
                 strchr(path, '?') ? '&' : '?', s->aks_api_version);
    snprintf(match, sizeof(match), "If-Match: %s", if_match ? if_match : "");
    const char *headers[5] = { authz, "Accept: application/json", NULL, NULL, NULL };
    size_t n = 2;
    if (text != NULL)
        headers[n++] = "Content-Type: application/json";
    if (if_match != NULL)
        headers[n++] = match;
    rc = cl_http_request(&resp, &opt, method, url, headers, text, text ? strlen(text) : 0, err);
    OPENSSL_cleanse(authz, alen);
    free(authz);
    free(text);
    if (rc < 0)
        return rc;
    json_t *doc = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    json_t *error = json_object_get(doc, "error");
    const char *code = json_string_value(json_object_get(error, "code"));
    const char *message = json_string_value(json_object_get(error, "message"));
    const char *retry = cl_http_kept(&resp, "Retry-After");
    out->status = resp.status;
    out->retry_after = retry ? (int)strtol(retry, NULL, 10) : 0;
    if (cl_http_kept(&resp, "Azure-AsyncOperation"))
        out->async_url = strdup(cl_http_kept(&resp, "Azure-AsyncOperation"));
    if (cl_http_kept(&resp, "Location"))
        out->location = strdup(cl_http_kept(&resp, "Location"));
    if (resp.status >= 200 && resp.status < 300) {
        out->body = doc;
        doc = NULL;
    } else {
        rc = cl_error_set(err, resp.status == 401 ? CL_EUNAUTHORIZED
                               : resp.status == 403 ? CL_EFORBIDDEN
                               : resp.status == 404 ? CL_ENOTFOUND
                               : resp.status == 409 || resp.status == 412 ? CL_ECONFLICT
                               : resp.status == 429 || resp.status >= 500 ? CL_EUNAVAILABLE
                               : CL_EINVALID,
                          "Azure answered %ld (%s): %.400s", resp.status, code ? code : "?",
                          message ? message : "no message");
        cl_arm_answer_free(out);
        out->status = resp.status;
    }
    json_decref(doc);
    cl_http_response_free(&resp);
    return rc;
}

void cl_arm_answer_free(cl_arm_answer *a)
{
    json_decref(a->body);
    free(a->async_url);
    free(a->location);
    a->body = NULL;
    a->async_url = a->location = NULL;
}

int cl_arm_request(cl_entra *auth, const char *method, const char *path, json_t *body,
                   json_t **out, cl_error *err)
{
    cl_arm_answer a;
    int rc = cl_arm_call(auth, method, path, body, NULL, &a, err);

    *out = a.body;
    a.body = NULL;
    cl_arm_answer_free(&a);
    return rc;
}

int cl_arm_wait(cl_job *j, cl_entra *auth, cl_arm_answer *started, int limit_s,
                cl_error *err)
{
    time_t deadline = time(NULL) + limit_s;
    int pause = started->retry_after > 0 ? started->retry_after : 5;

    if (started->async_url == NULL && started->location == NULL)
        return 0;                                   /* done at once */
    while (time(NULL) < deadline) {
        struct timespec ts = { pause > 30 ? 30 : pause, 0 };
        cl_arm_answer poll;
        int rc;

        nanosleep(&ts, NULL);
        rc = cl_arm_call(auth, "GET", started->async_url ? started->async_url
                                                          : started->location,
                         NULL, NULL, &poll, err);
        if (rc == CL_EUNAVAILABLE) {                /* throttled or busy: poll again */
            cl_error_clear(err);
            continue;
        }
        if (rc < 0)
            return rc;
        pause = poll.retry_after > 0 ? poll.retry_after : pause;
        const char *status = json_string_value(json_object_get(poll.body, "status"));
        json_t *error = json_object_get(poll.body, "error");
        if (started->async_url != NULL && status != NULL && strcmp(status, "InProgress") != 0) {
            rc = strcmp(status, "Succeeded") == 0 ? 0
               : cl_error_set(err, CL_EINVALID, "the Azure operation ended %s (%s): %.400s",
                              status, json_string_value(json_object_get(error, "code"))
                                  ? json_string_value(json_object_get(error, "code")) : "?",
                              json_string_value(json_object_get(error, "message"))
                                  ? json_string_value(json_object_get(error, "message")) : "");
            cl_arm_answer_free(&poll);
            return rc;
        }
        if (started->async_url == NULL && poll.status != 202) {
            cl_arm_answer_free(&poll);
            return 0;
        }
        cl_job_log(j, "the Azure operation is still running");
        cl_arm_answer_free(&poll);
    }
    return cl_error_set(err, CL_EUNAVAILABLE, "the Azure operation did not end within %d s",
                        limit_s);
}
