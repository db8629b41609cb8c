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

int cl_entra_token(const char *tenant, const char *client, const char *secret,
                   const char *scope, char **token, cl_error *err)
{
    const cl_deploy_settings *s = &cl_worker.deploy;
    char url[1024], *form = NULL;
    char *e_client = curl_easy_escape(NULL, client, 0), *e_secret = curl_easy_escape(NULL,
                                                                                     secret, 0);
    char *e_scope = curl_easy_escape(NULL, scope, 0);
    cl_http_options opt = { .ca_file = s->ca_file[0] ? s->ca_file : NULL, .timeout_s = 30,
                            .max_body = 64 * 1024 };
    cl_http_response resp = { .keep = { NULL } };
    const char *headers[] = { "Content-Type: application/x-www-form-urlencoded", NULL };
    json_t *doc = NULL;
    int rc;

    *token = NULL;
    snprintf(url, sizeof(url), "%s/%s/oauth2/v2.0/token", s->azure_login_url, tenant);
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
    if (resp.status == 200 && access != NULL) {
        *token = strdup(access);
        rc = *token ? 0 : cl_error_set(err, CL_ERROR, "out of memory");
    } else {
        const char *what = json_string_value(json_object_get(doc, "error_description"));
        const char *code = json_string_value(json_object_get(doc, "error"));
        rc = cl_error_set(err, resp.status == 400 || resp.status == 401 ? CL_EUNAUTHORIZED
                               : CL_EUNAVAILABLE,
                          "Microsoft Entra ID refused the service principal %s (%ld %s): %.300s",
                          client, resp.status, code ? code : "", what ? what : "no reason given");
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

int cl_arm_request(const char *token, const char *method, const char *path, json_t *body,
                   json_t **out, cl_error *err)
{
    const cl_deploy_settings *s = &cl_worker.deploy;
    cl_http_options opt = { .ca_file = s->ca_file[0] ? s->ca_file : NULL, .timeout_s = 60,
                            .max_body = 8u * 1024 * 1024 };
    cl_http_response resp = { .keep = { NULL } };
    char url[2048], *authz, *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    size_t alen = strlen(token) + 32;
    int rc;

    *out = NULL;
    if ((authz = malloc(alen)) == NULL) {
        free(text);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    snprintf(authz, alen, "Authorization: Bearer %s", token);
    snprintf(url, sizeof(url), "%s%s%capi-version=%s", s->arm_url, path,
             strchr(path, '?') ? '&' : '?', s->aks_api_version);
    const char *headers[] = { authz, "Accept: application/json",
                              text ? "Content-Type: application/json" : NULL, NULL };
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
    if (resp.status >= 200 && resp.status < 300) {
        *out = doc;
        doc = NULL;
    } else {
        rc = cl_error_set(err, resp.status == 401 ? CL_EUNAUTHORIZED
                               : resp.status == 403 ? CL_EFORBIDDEN
                               : resp.status == 404 ? CL_ENOTFOUND
                               : resp.status == 429 || resp.status >= 500 ? CL_EUNAVAILABLE
                               : CL_EINVALID,
                          "Azure answered %ld (%s): %.400s", resp.status, code ? code : "?",
                          message ? message : "no message");
    }
    json_decref(doc);
    cl_http_response_free(&resp);
    return rc;
}
