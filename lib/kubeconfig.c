/*
 * kubeconfig.c - reading a kubeconfig (YAML, lib/yaml_json.c) for the one
 * context Cloister deploys through; the rules are in kubeconfig.h.
 */
#include "kubeconfig.h"
#include "token.h"
#include "yaml_json.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 16

/* The entry of list (clusters, users, contexts) named name: its `key`. */
static json_t *named(json_t *doc, const char *list, const char *name, const char *key)
{
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(doc, list), i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            return json_object_get(e, key);
    }
    return NULL;
}

static char *dup_string(json_t *v)
{
    const char *s = json_string_value(v);

    return s ? strdup(s) : NULL;
}

/* base64 data as text (PEM), NUL-terminated; NULL when it is not base64. */
static char *decoded(const char *b64)
{
    size_t cap = strlen(b64) + 3, n = 0;
    unsigned char *out = malloc(cap + 1);

    if (out == NULL || cl_b64_decode(out, cap, &n, b64) < 0 || memchr(out, '\0', n) != NULL) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    return (char *)out;
}

static int is_certificate(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    int ok = x != NULL;

    X509_free(x);
    BIO_free(bio);
    return ok;
}

/* The exec form AKS's Entra ID clusters carry: kubelogin get-token with
 * --server-id; its server id, or NULL for any other program. */
static const char *arg(json_t *args, size_t i)
{
    const char *s = json_string_value(json_array_get(args, i));

    return s ? s : "";
}

static char *kubelogin_server(json_t *exec)
{
    const char *command = json_string_value(json_object_get(exec, "command"));
    const char *base = command ? strrchr(command, '/') : NULL;
    json_t *args = json_object_get(exec, "args");

    base = base ? base + 1 : command;
    if (base == NULL || strcmp(base, "kubelogin") != 0 || strcmp(arg(args, 0), "get-token") != 0)
        return NULL;
    for (size_t i = 1; i + 1 < json_array_size(args); i++)
        if (strcmp(arg(args, i), "--server-id") == 0)
            return dup_string(json_array_get(args, i + 1));
    return NULL;
}

static int read_user(cl_kubeconfig *k, json_t *user, const char *name, cl_error *err)
{
    json_t *exec = json_object_get(user, "exec");

    if (!json_is_object(user))
        return cl_error_set(err, CL_EINVALID, "the kubeconfig has no user \"%s\"", name);
    if (json_object_get(user, "token-file") || json_object_get(user, "client-certificate") ||
        json_object_get(user, "client-key"))
        return cl_error_set(err, CL_EINVALID, "user \"%s\" names files on another machine; "
                            "upload a kubeconfig with the token or the certificate and key "
                            "inline (token, client-certificate-data, client-key-data)", name);
    if (json_object_get(user, "auth-provider"))
        return cl_error_set(err, CL_EINVALID, "user \"%s\" uses an auth provider, which "
                            "Cloister cannot run; use a service account's token", name);
    if (json_object_get(user, "username") || json_object_get(user, "password"))
        return cl_error_set(err, CL_EINVALID, "user \"%s\" signs in with a password, which "
                            "Kubernetes no longer takes; use a service account's token", name);
    if (exec != NULL) {
        if ((k->kubelogin_server_id = kubelogin_server(exec)) == NULL) {
            const char *cmd = json_string_value(json_object_get(exec, "command"));
            return cl_error_set(err, CL_EINVALID, "user \"%s\" runs a program (exec: %.100s) "
                                "to get its credentials, which Cloister cannot run; use a "
                                "service account's token, a client certificate, or AKS's "
                                "kubelogin form with the cluster's Azure credentials", name,
                                cmd ? cmd : "?");
        }
        k->kubelogin = 1;
        return 0;
    }
    k->token = dup_string(json_object_get(user, "token"));
    const char *cert = json_string_value(json_object_get(user, "client-certificate-data"));
    const char *key = json_string_value(json_object_get(user, "client-key-data"));
    if ((cert != NULL) != (key != NULL))
        return cl_error_set(err, CL_EINVALID, "user \"%s\" has a client certificate without "
                            "its key, or a key without its certificate", name);
    if (cert != NULL) {
        if ((k->client_cert_pem = decoded(cert)) == NULL || !is_certificate(k->client_cert_pem) ||
            (k->client_key_pem = decoded(key)) == NULL)
            return cl_error_set(err, CL_EINVALID, "user \"%s\"'s client-certificate-data or "
                                "client-key-data is not a PEM certificate and key in base64",
                                name);
    }
    if (k->token == NULL && cert == NULL)
        return cl_error_set(err, CL_EINVALID, "user \"%s\" has no credentials (token, "
                            "client-certificate-data)", name);
    return 0;
}

int cl_kubeconfig_parse(cl_kubeconfig *k, const char *text, size_t len, const char *context,
                        cl_error *err)
{
    json_t *doc = NULL, *ctx, *cluster;
    const char *cluster_name, *user_name, *server, *ca;
    int rc;

    memset(k, 0, sizeof(*k));
    if (len > CL_KUBECONFIG_MAX)
        return cl_error_set(err, CL_EINVALID, "the kubeconfig is larger than %u bytes",
                            CL_KUBECONFIG_MAX);
    if ((rc = cl_yaml_to_json(text, len, DEPTH_MAX, &doc, err)) < 0)
        return rc;
    if (context == NULL)
        context = json_string_value(json_object_get(doc, "current-context"));
    if (context == NULL || context[0] == '\0') {
        rc = cl_error_set(err, CL_EINVALID, "the kubeconfig has no current-context; name the "
                          "context to use");
        goto done;
    }
    k->context = strdup(context);
    if (!json_is_object(ctx = named(doc, "contexts", context, "context"))) {
        rc = cl_error_set(err, CL_EINVALID, "the kubeconfig has no context \"%.100s\"", context);
        goto done;
    }
    cluster_name = json_string_value(json_object_get(ctx, "cluster"));
    user_name = json_string_value(json_object_get(ctx, "user"));
    k->namespace = dup_string(json_object_get(ctx, "namespace"));
    cluster = cluster_name ? named(doc, "clusters", cluster_name, "cluster") : NULL;
    server = json_string_value(json_object_get(cluster, "server"));
    if (server == NULL || (strncmp(server, "https://", 8) != 0 &&
                           strncmp(server, "http://", 7) != 0) || strlen(server) > 500) {
        rc = cl_error_set(err, CL_EINVALID, "context \"%.100s\"'s cluster has no https:// "
                          "server", context);
        goto done;
    }
    k->server = strdup(server);
    k->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
    if (json_object_get(cluster, "certificate-authority")) {
        rc = cl_error_set(err, CL_EINVALID, "the cluster's certificate-authority is a file on "
                          "another machine; put it inline as certificate-authority-data");
        goto done;
    }
    if ((ca = json_string_value(json_object_get(cluster, "certificate-authority-data"))) &&
        ((k->ca_pem = decoded(ca)) == NULL || !is_certificate(k->ca_pem))) {
        rc = cl_error_set(err, CL_EINVALID, "the cluster's certificate-authority-data is not "
                          "a PEM certificate in base64");
        goto done;
    }
    rc = read_user(k, user_name ? named(doc, "users", user_name, "user") : NULL,
                   user_name ? user_name : "", err);
done:
    json_decref(doc);
    if (rc < 0)
        cl_kubeconfig_free(k);
    return rc;
}

void cl_kubeconfig_free(cl_kubeconfig *k)
{
    free(k->context);
    free(k->server);
    free(k->namespace);
    free(k->ca_pem);
    if (k->token != NULL)
        OPENSSL_cleanse(k->token, strlen(k->token));
    free(k->token);
    free(k->client_cert_pem);
    if (k->client_key_pem != NULL)
        OPENSSL_cleanse(k->client_key_pem, strlen(k->client_key_pem));
    free(k->client_key_pem);
    free(k->kubelogin_server_id);
    memset(k, 0, sizeof(*k));
}
