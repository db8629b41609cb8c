/* Unit tests: the objects a deployment applies (workers/deploy/manifests.c):
 * the image by digest, the EPC request under the name the nodes advertise
 * and in its unit, the node agent's address from the downward API, the
 * SGX pool's selector and toleration, the labels undeploy relies on; and
 * what each runtime (lib/runtime/) adds to start its image. */
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

/* The Deployment's container and pod spec for a build of runtime with
 * config (JSON text, or NULL); all is kept for json_decref. */
static json_t *shaped(const char *runtime, const char *config, int attested, json_t **all,
                      json_t **pod)
{
    json_t *ports = json_array(), *c = config ? json_loads(config, 0, NULL) : NULL;
    cl_deploy_spec s = spec("sgx.intel.com/epc", ports, NULL, NULL);

    s.runtime = cl_runtime_find(runtime);
    s.runtime_config = c;
    s.attested = attested;
    assert_non_null(s.runtime);
    *all = cl_deploy_objects(&s);
    json_decref(c);
    json_decref(ports);
    *pod = json_object_get(json_object_get(json_object_get(find(*all, "Deployment"), "spec"),
                                           "template"), "spec");
    return json_array_get(json_object_get(*pod, "containers"), 0);
}

/* the value of the container's environment variable name, or NULL */
static const char *env(json_t *container, const char *name)
{
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(container, "env"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return json_string_value(json_object_get(e, "value"));
    return NULL;
}

static void test_gramine_images_start_themselves_and_quote_through_aesmd(void **state)
{
    json_t *all, *pod, *c = shaped("gramine", NULL, 1, &all, &pod);
    (void)state;

    assert_null(json_object_get(c, "command"));         /* the image's gramine-sgx */
    assert_null(json_object_get(c, "args"));
    assert_string_equal(at(c, "volumeMounts.0.mountPath"), "/var/run/aesmd");
    assert_string_equal(at(pod, "volumes.0.hostPath.path"), "/var/run/aesmd");
    assert_null(env(c, "SGX_AESM_ADDR"));               /* Gramine opens the socket itself */
    json_decref(all);
    c = shaped("gramine", NULL, 0, &all, &pod);         /* no attestation, no socket */
    assert_null(json_object_get(c, "volumeMounts"));
    assert_null(json_object_get(pod, "volumes"));
    json_decref(all);
}

static void test_occlum_runs_its_instance_with_cloister_init_first(void **state)
{
    const char *config = "{\"instance_dir\": \"/srv/inst\", \"init\": \"/bin/ci\","
                         " \"entrypoint\": [\"/bin/web\", \"-v\"], \"occlum_json\": {}}";
    json_t *all, *pod, *c = shaped("occlum", config, 1, &all, &pod);
    (void)state;

    assert_string_equal(at(c, "command.0"), "occlum");
    assert_string_equal(at(c, "command.1"), "run");
    assert_int_equal(json_array_size(json_object_get(c, "args")), 4);
    assert_string_equal(at(c, "args.0"), "/bin/ci");
    assert_string_equal(at(c, "args.1"), "--");
    assert_string_equal(at(c, "args.2"), "/bin/web");
    assert_string_equal(at(c, "args.3"), "-v");
    assert_string_equal(at(c, "workingDir"), "/srv/inst");
    assert_string_equal(env(c, "SGX_AESM_ADDR"), "1");
    assert_string_equal(at(c, "volumeMounts.0.name"), "aesmd");
    json_decref(all);
    c = shaped("occlum", config, 0, &all, &pod);        /* the app as it is, no quotes */
    assert_int_equal(json_array_size(json_object_get(c, "args")), 2);
    assert_string_equal(at(c, "args.0"), "/bin/web");
    assert_null(env(c, "SGX_AESM_ADDR"));
    assert_null(json_object_get(pod, "volumes"));
    json_decref(all);
}

static void test_scone_runs_in_hardware_with_its_las_and_cas(void **state)
{
    json_t *all, *pod, *c = shaped("scone", "{\"command\": [\"/usr/bin/python3\", \"app.py\"],"
                                   " \"cas_addr\": \"cas.example.com\", \"config_id\":"
                                   " \"shop/web\"}", 1, &all, &pod);
    (void)state;

    assert_string_equal(at(c, "command.1"), "app.py");
    assert_string_equal(env(c, "SCONE_MODE"), "HW");
    /* the node's address, expanded by Kubernetes from the variable set before it */
    assert_string_equal(at(c, "env.0.name"), "CLOISTER_NODE_IP");
    assert_string_equal(env(c, "SCONE_LAS_ADDR"), "$(CLOISTER_NODE_IP)");
    assert_string_equal(env(c, "SCONE_CAS_ADDR"), "cas.example.com");
    assert_string_equal(env(c, "SCONE_CONFIG_ID"), "shop/web");
    assert_string_equal(env(c, "CLOISTER_APP_ID"), "a1");
    assert_null(env(c, "SCONE_HEAP"));                  /* fixed at signing */
    assert_null(json_object_get(pod, "volumes"));
    json_decref(all);
}

static void test_edp_runs_the_stream_beside_its_signature(void **state)
{
    json_t *all, *pod, *c = shaped("edp", "{\"sgxs\": \"/app/enclave/app.sgxs\", \"args\":"
                                   " [\"--port\", \"8443\"], \"quoting\": \"aesmd\"}", 1,
                                   &all, &pod);
    (void)state;

    assert_string_equal(at(c, "command.0"), "ftxsgx-runner");
    assert_string_equal(at(c, "command.1"), "/app/enclave/app.sgxs");
    assert_string_equal(at(c, "args.1"), "8443");
    assert_string_equal(at(c, "workingDir"), "/app/enclave");
    assert_string_equal(at(pod, "volumes.0.name"), "aesmd");
    assert_null(env(c, "SGX_AESM_ADDR"));               /* aesm-client finds the socket */
    json_decref(all);
    c = shaped("edp", "{\"sgxs\": \"/app.sgxs\", \"runner\": \"/opt/runner\"}", 1, &all,
               &pod);
    assert_string_equal(at(c, "command.0"), "/opt/runner");
    assert_string_equal(at(c, "workingDir"), "/");
    assert_null(json_object_get(c, "args"));
    assert_null(json_object_get(pod, "volumes"));       /* the stock runner makes no quotes */
    json_decref(all);
}

static void test_sgx_sdk_hosts_quote_out_of_process_unless_told(void **state)
{
    json_t *all, *pod, *c = shaped("sgx-sdk", NULL, 1, &all, &pod);
    (void)state;

    assert_null(json_object_get(c, "command"));
    assert_string_equal(env(c, "SGX_AESM_ADDR"), "1");
    assert_string_equal(at(pod, "volumes.0.hostPath.type"), "Directory");
    json_decref(all);
    c = shaped("sgx-sdk", "{\"command\": [\"/app/host\"], \"working_dir\": \"/app\","
               " \"quoting\": \"none\"}", 1, &all, &pod);
    assert_string_equal(at(c, "command.0"), "/app/host");
    assert_string_equal(at(c, "workingDir"), "/app");
    assert_null(env(c, "SGX_AESM_ADDR"));
    assert_null(json_object_get(pod, "volumes"));
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_objects_for_intels_device_plugin),
        cmocka_unit_test(test_aks_epc_in_mib_and_no_service_without_ports),
        cmocka_unit_test(test_gramine_images_start_themselves_and_quote_through_aesmd),
        cmocka_unit_test(test_occlum_runs_its_instance_with_cloister_init_first),
        cmocka_unit_test(test_scone_runs_in_hardware_with_its_las_and_cas),
        cmocka_unit_test(test_edp_runs_the_stream_beside_its_signature),
        cmocka_unit_test(test_sgx_sdk_hosts_quote_out_of_process_unless_told),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
