/*
 * manifests.c - the Kubernetes objects a deployment applies (server-side
 * apply, one field manager), written from the build, the app and the
 * cluster, never from YAML a user wrote:
 *
 *   Namespace   the deployment's namespace
 *   Secret      kubernetes.io/dockerconfigjson for the output registry,
 *               when it needs credentials (as data: stringData, which the
 *               server does not keep, would conflict at every apply)
 *   Deployment  the build's image pinned by digest; the EPC resource the
 *               nodes advertise, requested and limited (sgx.intel.com/epc in
 *               bytes, or kubernetes.azure.com/sgx_epc_mem_in_MiB in MiB),
 *               by default the build's enclave size; the SGX pool's node
 *               selector and toleration; the node agent's address from the
 *               downward API (status.hostIP) for cloister-init; labels with
 *               the app and build, annotations with the MRENCLAVE; and
 *               whatever the build's runtime needs to start its image
 *               (command, working directory, environment, mounts), which
 *               the runtime's own file adds (lib/runtime/)
 *   Service     the ports, to the Deployment's pods
 *
 * Every object carries the label dev.cloister/deployment, which is how an
 * undeploy finds what Cloister applied, and nothing else.
 */
#include "deploy.h"
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024LL * 1024)

static json_t *labels(const cl_deploy_spec *s)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "app.kubernetes.io/name", s->name,
                     "app.kubernetes.io/managed-by", "cloister", "dev.cloister/deployment",
                     s->deployment_id, "dev.cloister/app", s->app_id, "dev.cloister/build",
                     s->build_id);
}

static json_t *metadata(const cl_deploy_spec *s, const char *name)
{
    return json_pack("{s:s, s:s, s:o}", "name", name, "namespace", s->namespace, "labels",
                     labels(s));
}

/* The EPC request: the resource's name and its quantity in its unit. */
static json_t *epc(const cl_deploy_spec *s)
{
    char amount[32];

    if (strcmp(s->epc_resource, "kubernetes.azure.com/sgx_epc_mem_in_MiB") == 0)
        snprintf(amount, sizeof(amount), "%lld", (s->epc_bytes + MIB - 1) / MIB);
    else
        snprintf(amount, sizeof(amount), "%lld", s->epc_bytes);
    return json_pack("{s:s}", s->epc_resource, amount);
}

static json_t *deployment(const cl_deploy_spec *s)
{
    json_t *ports = json_array(), *p;
    size_t i;

    json_array_foreach(s->ports, i, p)
        json_array_append_new(ports, json_pack("{s:O, s:s}", "containerPort",
                                               json_object_get(p, "port"), "protocol", "TCP"));
    json_t *container = json_pack(
        "{s:s, s:s, s:s, s:o, s:[{s:s, s:{s:{s:s}}}], s:{s:o, s:o}}",
        "name", "app", "image", s->image, "imagePullPolicy", "IfNotPresent", "ports", ports,
        "env", "name", "CLOISTER_NODE_IP", "valueFrom", "fieldRef", "fieldPath", "status.hostIP",
        "resources", "requests", epc(s), "limits", epc(s));
    json_t *pod = json_pack("{s:[o], s:o}", "containers", container, "nodeSelector",
                            s->node_selector ? json_incref(s->node_selector) : json_object());
    cl_runtime_pod shaped = {
        .config = s->runtime_config, .app_id = s->app_id, .attested = s->attested,
        .container = container, .pod = pod,
    };
    if (s->runtime != NULL)
        s->runtime->shape(&shaped);
    if (json_array_size(s->tolerations) > 0)
        json_object_set(pod, "tolerations", s->tolerations);
    if (s->pull_secret != NULL)
        json_object_set_new(pod, "imagePullSecrets", json_pack("[{s:s}]", "name",
                                                               s->pull_secret));
    json_t *meta = metadata(s, s->name);
    json_object_set_new(meta, "annotations", json_pack("{s:s}", "dev.cloister/mrenclave",
                                                       s->mrenclave));
    json_t *template_meta = json_pack("{s:o, s:{s:s}}", "labels", labels(s), "annotations",
                                      "dev.cloister/mrenclave", s->mrenclave);
    return json_pack("{s:s, s:s, s:o, s:{s:i, s:i, s:{s:{s:s}}, s:{s:o, s:o}}}",
                     "apiVersion", "apps/v1", "kind", "Deployment", "metadata", meta, "spec",
                     "replicas", s->replicas, "progressDeadlineSeconds", s->progress_deadline,
                     "selector", "matchLabels", "dev.cloister/deployment", s->deployment_id,
                     "template", "metadata", template_meta, "spec", pod);
}

static json_t *service(const cl_deploy_spec *s)
{
    json_t *ports = json_array(), *p;
    size_t i;

    json_array_foreach(s->ports, i, p) {
        char name[16];
        snprintf(name, sizeof(name), "p%lld",
                 (long long)json_integer_value(json_object_get(p, "port")));
        json_array_append_new(ports, json_pack("{s:s, s:O, s:O, s:s}", "name", name, "port",
                                               json_object_get(p, "port"), "targetPort",
                                               json_object_get(p, "port"), "protocol", "TCP"));
    }
    return json_pack("{s:s, s:s, s:o, s:{s:{s:s}, s:o}}", "apiVersion", "v1", "kind",
                     "Service", "metadata", metadata(s, s->name), "spec", "selector",
                     "dev.cloister/deployment", s->deployment_id, "ports", ports);
}

json_t *cl_deploy_objects(const cl_deploy_spec *s)
{
    json_t *all = json_array();

    json_array_append_new(all, json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1",
                                         "kind", "Namespace", "metadata", "name", s->namespace,
                                         "labels", labels(s)));
    if (s->pull_secret != NULL && s->docker_config != NULL) {
        /* data, not stringData: the server keeps data only, so stringData would
         * conflict with itself at the next apply */
        size_t len = strlen(s->docker_config);
        char *b64 = malloc(((len + 2) / 3) * 4 + 1);
        if (b64 != NULL) {
            cl_b64_encode(b64, (const unsigned char *)s->docker_config, len);
            json_array_append_new(all, json_pack("{s:s, s:s, s:o, s:s, s:{s:s}}", "apiVersion",
                                                 "v1", "kind", "Secret", "metadata",
                                                 metadata(s, s->pull_secret), "type",
                                                 "kubernetes.io/dockerconfigjson", "data",
                                                 ".dockerconfigjson", b64));
            free(b64);
        }
    }
    json_array_append_new(all, deployment(s));
    if (json_array_size(s->ports) > 0)
        json_array_append_new(all, service(s));
    return all;
}
