/* Unit tests: kubeconfigs read for deployment (lib/kubeconfig.c, through
 * lib/yaml_json.c): the current or a named context's server, CA and
 * credential; AKS's kubelogin form recognised; every other exec plugin,
 * auth provider, file path, password, alias and malformed document refused
 * with a message that names the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kubeconfig.h"
#include "pki.h"
#include "token.h"
#include "yaml_json.h"

static char ca_b64[8192];

static int setup(void **state)
{
    EVP_PKEY *key;
    X509 *cert;
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(cl_pki_ca_new(&key, &cert, "4f7a2c9e-1b3d-4e6f-8a0c-2d4e6f8a0b1c", &err), 0);
    char *pem = cl_pki_pem(cert);
    cl_b64_encode(ca_b64, (const unsigned char *)pem, strlen(pem));
    free(pem);
    X509_free(cert);
    EVP_PKEY_free(key);
    return 0;
}

/* A kubeconfig with two contexts; user is the YAML of the "ci" user. */
static char *config(const char *user)
{
    static char text[32768];

    snprintf(text, sizeof(text),
             "apiVersion: v1\n"
             "kind: Config\n"
             "current-context: aks\n"
             "clusters:\n"
             "- name: aks\n"
             "  cluster:\n"
             "    server: https://sgx-dns-1a2b.hcp.westeurope.azmk8s.io:443\n"
             "    certificate-authority-data: %s\n"
             "- name: lab\n"
             "  cluster:\n"
             "    server: https://10.0.0.1:6443\n"
             "    insecure-skip-tls-verify: true\n"
             "contexts:\n"
             "- name: aks\n"
             "  context: {cluster: aks, user: ci, namespace: web}\n"
             "- name: lab\n"
             "  context: {cluster: lab, user: ci}\n"
             "users:\n"
             "- name: ci\n"
             "  user:\n"
             "%s", ca_b64, user);
    return text;
}

static int parse(cl_kubeconfig *k, const char *text, const char *context, cl_error *err)
{
    return cl_kubeconfig_parse(k, text, strlen(text), context, err);
}

static void test_a_token_user_of_the_current_context(void **state)
{
    cl_kubeconfig k;
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(parse(&k, config("    token: eyJhbGciOi.sa-token\n"), NULL, &err), 0);
    assert_string_equal(k.context, "aks");
    assert_string_equal(k.server, "https://sgx-dns-1a2b.hcp.westeurope.azmk8s.io:443");
    assert_string_equal(k.namespace, "web");
    assert_non_null(strstr(k.ca_pem, "BEGIN CERTIFICATE"));
    assert_string_equal(k.token, "eyJhbGciOi.sa-token");
    assert_false(k.insecure || k.kubelogin);
    cl_kubeconfig_free(&k);

    assert_int_equal(parse(&k, config("    token: t\n"), "lab", &err), 0);
    assert_string_equal(k.server, "https://10.0.0.1:6443");
    assert_true(k.insecure);
    assert_null(k.ca_pem);
    assert_null(k.namespace);
    cl_kubeconfig_free(&k);
}

static void test_aks_kubelogin_is_recognised_and_other_programs_refused(void **state)
{
    cl_kubeconfig k;
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(parse(&k, config(
        "    exec:\n"
        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
        "      command: kubelogin\n"
        "      args: [get-token, --environment, AzurePublicCloud, --server-id,\n"
        "             6dae42f8-4368-4678-94ff-3960e28e3630, --login, devicecode]\n"), NULL, &err),
        0);
    assert_true(k.kubelogin);
    assert_string_equal(k.kubelogin_server_id, "6dae42f8-4368-4678-94ff-3960e28e3630");
    cl_kubeconfig_free(&k);
    assert_int_equal(parse(&k, config("    exec:\n      command: aws\n      args: [eks]\n"),
                           NULL, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "runs a program (exec: aws)"));
    cl_error_clear(&err);
}

static void test_what_cannot_be_used_is_refused_by_name(void **state)
{
    static const struct { const char *user, *context, *why; } cases[] = {
        { "    token-file: /var/run/token\n", NULL, "names files on another machine" },
        { "    client-certificate: /home/me/.crt\n", NULL, "names files on another machine" },
        { "    auth-provider: {name: gcp}\n", NULL, "auth provider" },
        { "    username: admin\n    password: pw\n", NULL, "password" },
        { "    client-certificate-data: aGVsbG8=\n", NULL, "without its key" },
        { "    client-certificate-data: aGVsbG8=\n    client-key-data: aGVsbG8=\n", NULL,
          "is not a PEM certificate" },
        { "    {}\n", NULL, "has no credentials" },
        { "    token: t\n", "nowhere", "no context \"nowhere\"" },
    };
    cl_kubeconfig k;
    cl_error err = { 0 };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(&k, config(cases[i].user), cases[i].context, &err), CL_EINVALID);
        if (strstr(err.message, cases[i].why) == NULL)
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.message, cases[i].why);
        cl_error_clear(&err);
    }
    static const struct { const char *text, *why; } docs[] = {
        { "", "empty" },
        { "current-context: a\n", "no context \"a\"" },
        { "contexts: [\n", "malformed" },
        { "a: &x {b: 1}\nc: *x\n", "anchor" },
        { "a: 1\na: 2\n", "repeats a key" },
        { "---\na: 1\n---\nb: 2\n", "more than one document" },
        { "a: !!binary aGVsbG8=\n", "tag" },
        { "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]\n", "nests too deeply" },
        { "current-context: c\ncontexts: [{name: c, context: {cluster: x, user: u}}]\n"
          "clusters: [{name: x, cluster: {server: ftp://x}}]\n", "no https:// server" },
        { "current-context: c\ncontexts: [{name: c, context: {cluster: x, user: u}}]\n"
          "clusters: [{name: x, cluster: {server: 'https://x', certificate-authority: /ca}}]\n",
          "certificate-authority-data" },
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        assert_int_equal(parse(&k, docs[i].text, NULL, &err), CL_EINVALID);
        if (strstr(err.message, docs[i].why) == NULL)
            fail_msg("doc %zu: \"%s\" does not say \"%s\"", i, err.message, docs[i].why);
        cl_error_clear(&err);
    }
}

static void test_yaml_scalars_follow_the_core_schema(void **state)
{
    const char *text = "a: true\nb: 'true'\nc: 42\nd: \"42\"\ne: ~\nf: hello\n7: x\n";
    cl_error err = { 0 };
    json_t *doc;
    (void)state;

    assert_int_equal(cl_yaml_to_json(text, strlen(text), 8, &doc, &err), 0);
    assert_true(json_is_true(json_object_get(doc, "a")));
    assert_string_equal(json_string_value(json_object_get(doc, "b")), "true");
    assert_int_equal(json_integer_value(json_object_get(doc, "c")), 42);
    assert_string_equal(json_string_value(json_object_get(doc, "d")), "42");
    assert_true(json_is_null(json_object_get(doc, "e")));
    assert_string_equal(json_string_value(json_object_get(doc, "f")), "hello");
    assert_string_equal(json_string_value(json_object_get(doc, "7")), "x");
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_token_user_of_the_current_context),
        cmocka_unit_test(test_aks_kubelogin_is_recognised_and_other_programs_refused),
        cmocka_unit_test(test_what_cannot_be_used_is_refused_by_name),
        cmocka_unit_test(test_yaml_scalars_follow_the_core_schema),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
