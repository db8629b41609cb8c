/*
 * kube.c - the worker's Kubernetes API client: one cluster's server, its
 * CA and the credential, over libcurl; answers read as JSON, failures as
 * the API's Status message.
 */
#include "deploy.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (32u * 1024 * 1024)

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int cl_kube_open(cl_kube *k, const cl_kubeconfig *cfg, const char *token, cl_error *err)
{
    const char *bearer = token ? token : cfg->token;
    size_t n = strlen(cfg->server);

    memset(k, 0, sizeof(*k));
    while (n > 0 && cfg->server[n - 1] == '/')
        n--;
    k->server = strndup(cfg->server, n);
    k->ca_pem = dup_or_null(cfg->ca_pem);
    k->cert_pem = dup_or_null(cfg->client_cert_pem);
    k->key_pem = dup_or_null(cfg->client_key_pem);
    if (bearer != NULL && (k->authz = malloc(strlen(bearer) + 32)) != NULL)
        snprintf(k->authz, strlen(bearer) + 32, "Authorization: Bearer %s", bearer);
    if (k->server == NULL || (bearer != NULL && k->authz == NULL)) {
        cl_kube_close(k);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    if (bearer == NULL && k->cert_pem == NULL) {
        cl_kube_close(k);
        return cl_error_set(err, CL_EINVALID, "the cluster's kubeconfig has no credential to "
                            "use");
    }
    k->http = (cl_http_options){ .ca_pem = k->ca_pem, .insecure = cfg->insecure,
                                 .client_cert_pem = k->cert_pem, .client_key_pem = k->key_pem,
                                 .timeout_s = 30, .max_body = ANSWER_MAX };
    return 0;
}

void cl_kube_close(cl_kube *k)
{
    if (k->authz != NULL)
        OPENSSL_cleanse(k->authz, strlen(k->authz));
    if (k->key_pem != NULL)
        OPENSSL_cleanse(k->key_pem, strlen(k->key_pem));
    free(k->server);
    free(k->authz);
    free(k->ca_pem);
    free(k->cert_pem);
    free(k->key_pem);
    memset(k, 0, sizeof(*k));
}

int cl_kube_get(cl_kube *k, const char *path, json_t **out, cl_error *err)
{
    cl_http_response resp = { .keep = { NULL } };
    const char *headers[] = { "Accept: application/json", k->authz, NULL };
    char url[2048];
    int rc;

    *out = NULL;
    snprintf(url, sizeof(url), "%s%s", k->server, path);
    if ((rc = cl_http_request(&resp, &k->http, "GET", url, headers, NULL, 0, err)) < 0)
        return rc;
    json_t *doc = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    const char *message = json_string_value(json_object_get(doc, "message"));
    if (resp.status >= 200 && resp.status < 300 && doc != NULL) {
        *out = doc;
        doc = NULL;
    } else if (resp.status == 401) {
        rc = cl_error_set(err, CL_EUNAUTHORIZED, "the cluster at %s refused the credentials "
                          "(401%s%.300s)", k->server, message ? ": " : "", message ? message : "");
    } else if (resp.status == 403) {
        rc = cl_error_set(err, CL_EFORBIDDEN, "the cluster's credentials may not do this (403: "
                          "%.300s)", message ? message : path);
    } else if (resp.status == 404) {
        rc = cl_error_set(err, CL_ENOTFOUND, "the cluster has no %s", path);
    } else if (resp.status == 429 || resp.status >= 500) {
        rc = cl_error_set(err, CL_EUNAVAILABLE, "the cluster answered %ld to %s%s%.300s",
                          resp.status, path, message ? ": " : "", message ? message : "");
    } else {
        rc = cl_error_set(err, CL_EINVALID, "the cluster answered %ld to %s%s%.300s",
                          resp.status, path, message ? ": " : "", message ? message : "");
    }
    json_decref(doc);
    cl_http_response_free(&resp);
    return rc;
}
