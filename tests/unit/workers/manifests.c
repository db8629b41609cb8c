/* Unit tests: the objects a deployment applies (workers/deploy/manifests.c):
 * the image by digest, the EPC request under the name the nodes advertise
 * and in its unit, the node agent's address from the downward API, the
 * SGX pool's selector and toleration, the labels undeploy relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy.h"

#define DEPLOYMENT "5e0b4c1a-2d3f-4a5b-8c6d-7e8f9a0b1c2d"

static cl_deploy_spec spec(const char *resource, json_t *ports, json_t *sel, json_t *tol)
{
    return (cl_deploy_spec){
        .deployment_id = DEPLOYMENT, .name = "web", .namespace = "shop",
        .app_id = "a1", .build_id = "b1", .mrenclave = "ab12",
        .image = "registry.example.com/web-sgx@sha256:0123", .replicas = 2,
        .progress_deadline = 600, .ports = ports, .epc_resource = resource,
        .epc_bytes = 512LL << 20, .node_selector = sel, .tolerations = tol,
        .pull_secret = "web-pull", .docker_config = "{\"auths\":{}}",
    };
}

static json_t *find(json_t *all, const char *kind)
{
    size_t i;
    json_t *o;

    json_array_foreach(all, i, o)
        if (strcmp(json_string_value(json_object_get(o, "kind")), kind) == 0)
            return o;
    return NULL;
}

static const char *at(json_t *o, const char *path)
{
    json_t *v = o;
    char key[64];

    for (const char *p = path; v != NULL && *p;) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, p);
        v = json_is_array(v) ? json_array_get(v, (size_t)strtol(key, NULL, 10))
                             : json_object_get(v, key);
        p += n + (p[n] == '.');
    }
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_the_objects_for_intels_device_plugin(void **state)
{
    json_t *ports = json_pack("[{s:i}]", "port", 8443);
    json_t *sel = json_pack("{s:s}", "agentpool", "sgxpool");
    json_t *tol = json_pack("[{s:s, s:s, s:s, s:s}]", "key", "sgx", "operator", "Equal",
                            "value", "true", "effect", "NoSchedule");
    cl_deploy_spec s = spec("sgx.intel.com/epc", ports, sel, tol);
    json_t *all = cl_deploy_objects(&s), *d = find(all, "Deployment");
    (void)state;

    assert_int_equal(json_array_size(all), 4);
    assert_string_equal(at(json_array_get(all, 0), "kind"), "Namespace");
    assert_string_equal(at(find(all, "Secret"), "type"), "kubernetes.io/dockerconfigjson");
    assert_string_equal(at(d, "spec.template.spec.containers.0.image"),
                        "registry.example.com/web-sgx@sha256:0123");
    json_t *res = json_object_get(json_object_get(json_array_get(json_object_get(
        json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec"),
        "containers"), 0), "resources"), "limits");
    assert_string_equal(json_string_value(json_object_get(res, "sgx.intel.com/epc")),
                        "536870912");
    assert_string_equal(at(d, "spec.template.spec.containers.0.env.0.name"),
                        "CLOISTER_NODE_IP");
    assert_string_equal(at(d, "spec.template.spec.containers.0.env.0.valueFrom.fieldRef."
                              "fieldPath"), "status.hostIP");
    assert_string_equal(at(d, "spec.template.spec.nodeSelector.agentpool"), "sgxpool");
    assert_string_equal(at(d, "spec.template.spec.tolerations.0.key"), "sgx");
    assert_string_equal(at(d, "spec.template.spec.imagePullSecrets.0.name"), "web-pull");
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
        d, "metadata"), "annotations"), "dev.cloister/mrenclave")), "ab12");
    /* every object is labelled with the deployment; the pods are selected by it */
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
        assert_string_equal(json_string_value(json_object_get(json_object_get(
            json_object_get(o, "metadata"), "labels"), "dev.cloister/deployment")), DEPLOYMENT);
    assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(
        json_object_get(d, "spec"), "selector"), "matchLabels"), "dev.cloister/deployment")),
        DEPLOYMENT);
    assert_string_equal(at(find(all, "Service"), "spec.ports.0.name"), "p8443");
    json_decref(all);
    json_decref(ports);
    json_decref(sel);
    json_decref(tol);
}

static void test_aks_epc_in_mib_and_no_service_without_ports(void **state)
{
    json_t *ports = json_array();
    cl_deploy_spec s = spec("kubernetes.azure.com/sgx_epc_mem_in_MiB", ports, NULL, NULL);
    s.pull_secret = NULL;
    s.epc_bytes = (512LL << 20) + 1;                    /* rounded up to whole MiB */
    json_t *all = cl_deploy_objects(&s), *d = find(all, "Deployment");
    (void)state;

    assert_null(find(all, "Service"));
    assert_null(find(all, "Secret"));
    json_t *req = json_object_get(json_object_get(json_array_get(json_object_get(
        json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec"),
        "containers"), 0), "resources"), "requests");
    assert_string_equal(json_string_value(json_object_get(
        req, "kubernetes.azure.com/sgx_epc_mem_in_MiB")), "513");
    json_decref(all);
    json_decref(ports);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_objects_for_intels_device_plugin),
        cmocka_unit_test(test_aks_epc_in_mib_and_no_service_without_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
