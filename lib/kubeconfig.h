/*
 * kubeconfig.h - what Cloister takes from an uploaded kubeconfig
 * (kubeconfig.c): the API server of one context, the CA it is checked
 * against, and the user's credential — a bearer token, a client
 * certificate, or the kubelogin exec form AKS gives Entra ID clusters, for
 * which the worker fetches the token itself.  Every other exec plugin,
 * auth provider, file path or password is refused with a message that
 * says what to upload instead.
 */
#ifndef CL_KUBECONFIG_H
#define CL_KUBECONFIG_H

#include "error.h"

#include <stddef.h>

#define CL_KUBECONFIG_MAX (256u * 1024)

typedef struct cl_kubeconfig {
    char *context;              /* the context used */
    char *server;               /* https://host[:port][/path] */
    char *namespace;            /* the context's, or NULL */
    char *ca_pem;               /* the cluster's CA; NULL: the system's */
    int insecure;               /* insecure-skip-tls-verify */
    char *token;                /* a bearer token, or */
    char *client_cert_pem;      /* a client certificate and its key, or */
    char *client_key_pem;
    int kubelogin;              /* AKS's kubelogin exec form: an Entra ID token for */
    char *kubelogin_server_id;  /* this server application */
} cl_kubeconfig;

/* Parse text (at most CL_KUBECONFIG_MAX bytes) for `context` (NULL: the
 * current context).  CL_EINVALID names what is missing or refused. */
int cl_kubeconfig_parse(cl_kubeconfig *out, const char *text, size_t len, const char *context,
                        cl_error *err);

void cl_kubeconfig_free(cl_kubeconfig *k);

#endif
