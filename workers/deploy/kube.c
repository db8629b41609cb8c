/*
 * kube.c - the worker's Kubernetes API client: one cluster's server, its
 * CA and the credential, over libcurl; answers read as JSON, failures as
 * the API's Status message.  A 429 is waited out as its Retry-After says
 * (at most 30 s, five tries) before it counts as a failure.
 */
#include "deploy.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANSWER_MAX (32u * 1024 * 1024)

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* "Authorization: Bearer <token>", or NULL */
static char *bearer_header(const char *token)
{
    size_t n = token ? strlen(token) + 32 : 0;
    char *h = token ? malloc(n) : NULL;

    if (h != NULL)
        snprintf(h, n, "Authorization: Bearer %s", token);
    return h;
}

int cl_kube_open(cl_kube *k, const cl_kubeconfig *cfg, cl_entra *entra, cl_error *err)
{
    const char *bearer = entra ? entra->token : cfg->token;
    size_t n = strlen(cfg->server);

    memset(k, 0, sizeof(*k));
    while (n > 0 && cfg->server[n - 1] == '/')
        n--;
    k->server = strndup(cfg->server, n);
    k->ca_pem = dup_or_null(cfg->ca_pem);
    k->cert_pem = dup_or_null(cfg->client_cert_pem);
    k->key_pem = dup_or_null(cfg->client_key_pem);
    k->entra = entra;
    k->authz = bearer_header(bearer);
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
                                 .timeout_s = cl_worker.peer_timeout, .max_body = ANSWER_MAX };
    return 0;
}

void cl_kube_close(cl_kube *k)
{
    if (k->entra != NULL) {
        cl_entra_close(k->entra);
        free(k->entra);
    }
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

static int kube_once(cl_kube *k, const char *method, const char *path,
                     const char *content_type, json_t *body, json_t **out, long *retry_after,
                     cl_error *err);

/* With an Entra ID token (kubelogin): the Authorization header for the
 * token to send now, renewed when it expires or when renew says so. */
static int entra_authz(cl_kube *k, int renew, cl_error *err)
{
    if (k->entra == NULL)
        return 0;
    const char *token = cl_entra_bearer(k->entra, renew, err);
    if (token == NULL)
        return err->code;
    if (k->authz != NULL && strcmp(k->authz + strlen("Authorization: Bearer "), token) == 0)
        return 0;
    char *fresh = bearer_header(token);
    if (fresh == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if (k->authz != NULL)
        OPENSSL_cleanse(k->authz, strlen(k->authz));
    free(k->authz);
    k->authz = fresh;
    return 0;
}

#define THROTTLED_TRIES 5
#define RETRY_AFTER_MAX 30

int cl_kube_call(cl_kube *k, const char *method, const char *path, const char *content_type,
                 json_t *body, json_t **out, cl_error *err)
{
    int rc;

    /* 429 Too Many Requests: wait as long as Retry-After says, a few times */
    for (int attempt = 1;; attempt++) {
        long wait = 0;

        if ((rc = entra_authz(k, 0, err)) < 0)
            return rc;
        rc = kube_once(k, method, path, content_type, body, out, &wait, err);
        if (rc == CL_EUNAUTHORIZED && k->entra != NULL) {
            cl_error_clear(err);                /* expired before we thought: once more */
            if ((rc = entra_authz(k, 1, err)) < 0)
                return rc;
            rc = kube_once(k, method, path, content_type, body, out, &wait, err);
        }
        if (rc == 0 || k->status != 429 || attempt == THROTTLED_TRIES)
            return rc;
        struct timespec ts = { wait > 0 ? (wait > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : wait) : 1,
                               0 };
        cl_error_clear(err);
        nanosleep(&ts, NULL);
    }
}

static int kube_once(cl_kube *k, const char *method, const char *path, const char *content_type,
                     json_t *body, json_t **out, long *retry_after, cl_error *err)
{
    cl_http_response resp = { .keep = { "Retry-After", NULL } };
    char url[2048], type[128], *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc;

    *out = NULL;
    snprintf(type, sizeof(type), "Content-Type: %s", content_type ? content_type : "");
    const char *headers[4] = { "Accept: application/json", NULL, NULL, NULL };
    size_t n = 1;
    if (k->authz != NULL)
        headers[n++] = k->authz;
    if (content_type != NULL)
        headers[n++] = type;
    snprintf(url, sizeof(url), "%s%s", k->server, path);
    rc = cl_http_request(&resp, &k->http, method, url, headers, text, text ? strlen(text) : 0,
                         err);
    free(text);
    if (rc < 0)
        return rc;
    json_t *doc = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    const char *message = json_string_value(json_object_get(doc, "message"));
    const char *reason = json_string_value(json_object_get(doc, "reason"));

    k->status = resp.status;
    if (cl_http_kept(&resp, "Retry-After") != NULL)
        *retry_after = strtol(cl_http_kept(&resp, "Retry-After"), NULL, 10);
    if (resp.status >= 200 && resp.status < 300) {
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
    } else if (resp.status == 409) {
        rc = cl_error_set(err, CL_ECONFLICT, "the cluster refused %s %s (409 %s): %.300s",
                          method, path, reason ? reason : "Conflict", message ? message : "");
    } else if (resp.status == 410) {
        rc = cl_error_set(err, CL_ECONFLICT, "the cluster no longer has that history (410%s"
                          "%.200s)", message ? ": " : "", message ? message : "");
    } else if (resp.status == 429 || resp.status >= 500) {
        rc = cl_error_set(err, CL_EUNAVAILABLE, "the cluster answered %ld to %s%s%.300s",
                          resp.status, path, message ? ": " : "", message ? message : "");
    } else {
        rc = cl_error_set(err, CL_EINVALID, "the cluster answered %ld to %s %s%s%.300s",
                          resp.status, method, path, message ? ": " : "",
                          message ? message : "");
    }
    json_decref(doc);
    cl_http_response_free(&resp);
    return rc;
}

int cl_kube_get(cl_kube *k, const char *path, json_t **out, cl_error *err)
{
    return cl_kube_call(k, "GET", path, NULL, NULL, out, err);
}

/* Where an object lives in the API: /api/v1 or /apis/GROUP/VERSION, its
 * namespace, its resource (the kinds Cloister applies), its name. */
static int object_path(json_t *obj, char *path, size_t size)
{
    static const struct { const char *kind, *resource; int namespaced; } kinds[] = {
        { "Namespace", "namespaces", 0 }, { "Secret", "secrets", 1 },
        { "Service", "services", 1 }, { "Deployment", "deployments", 1 },
        { "ConfigMap", "configmaps", 1 },
    };
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));

    for (size_t i = 0; api && kind && name && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].kind, kind) != 0)
            continue;
        int n = snprintf(path, size, "%s%s", strchr(api, '/') ? "/apis/" : "/api/", api);
        if (kinds[i].namespaced && ns != NULL)
            n += snprintf(path + n, size - (size_t)n, "/namespaces/%s", ns);
        snprintf(path + n, size - (size_t)n, "/%s/%s", kinds[i].resource, name);
        return 0;
    }
    return -1;
}

int cl_kube_apply(cl_kube *k, json_t *obj, json_t **out, cl_error *err)
{
    char path[1024];

    if (object_path(obj, path, sizeof(path) - 64) < 0)
        return cl_error_set(err, CL_EINVALID, "Cloister does not apply %s objects",
                            json_string_value(json_object_get(obj, "kind")));
    snprintf(path + strlen(path), 64, "?fieldManager=%s&force=true", CL_KUBE_FIELD_MANAGER);
    return cl_kube_call(k, "PATCH", path, "application/apply-patch+yaml", obj, out, err);
}

int cl_kube_delete(cl_kube *k, json_t *obj, cl_error *err)
{
    json_t *gone = NULL;
    char path[1024];
    int rc;

    if (object_path(obj, path, sizeof(path)) < 0)
        return cl_error_set(err, CL_EINVALID, "Cloister does not delete %s objects",
                            json_string_value(json_object_get(obj, "kind")));
    rc = cl_kube_call(k, "DELETE", path, NULL, NULL, &gone, err);
    json_decref(gone);
    if (rc == CL_ENOTFOUND) {                   /* gone already: what was asked */
        cl_error_clear(err);
        return 0;
    }
    return rc;
}
