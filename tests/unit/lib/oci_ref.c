/* Tests for lib/oci_ref.c: references as docker, skopeo and umoci write them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oci_ref.h"

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void expect(const char *text, const char *registry, const char *repository,
                   const char *tag, const char *digest)
{
    cl_oci_ref ref;
    cl_error err = { 0 };

    if (cl_oci_ref_parse(&ref, text, &err) < 0)
        fail_msg("\"%s\" refused: %s", text, err.message);
    assert_string_equal(ref.registry, registry);
    assert_string_equal(ref.repository, repository);
    assert_string_equal(ref.tag, tag);
    assert_string_equal(ref.digest, digest);
}

static void refuse(const char *text, const char *fragment)
{
    cl_oci_ref ref;
    cl_error err = { 0 };

    assert_int_equal(cl_oci_ref_parse(&ref, text, &err), CL_EINVALID);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("\"%s\": \"%s\" does not mention \"%s\"", text, err.message, fragment);
}

static void test_accepted(void **state)
{
    (void)state;
    expect("nginx", "docker.io", "library/nginx", "", "");
    expect("nginx:1.25-alpine", "docker.io", "library/nginx", "1.25-alpine", "");
    expect("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", "");
    expect("localhost/app", "localhost", "app", "", "");
    expect("127.0.0.1:5000/team/app:v1", "127.0.0.1:5000", "team/app", "v1", "");
    expect("myacr.azurecr.io/apps/web@" D64, "myacr.azurecr.io", "apps/web", "", D64);
    expect("ghcr.io/o/p:t@" D64, "ghcr.io", "o/p", "t", D64);
    expect("a/b__c/d-e.f--g", "docker.io", "a/b__c/d-e.f--g", "", "");
}

static void test_refused(void **state)
{
    (void)state;
    refuse("", "empty");
    refuse("Nginx", "repository");
    refuse("nginx:", "tag");
    refuse("nginx:-x", "tag");
    refuse("nginx@sha256:abc", "digest");
    refuse("nginx@md5:0123456789abcdef0123456789abcdef", "digest");
    refuse("registry.example.com:port/app", "registry");
    refuse("a//b", "repository");
    refuse("a/-b", "repository");
    refuse("a/b_", "repository");
    refuse("a/b___c", "repository");
    refuse("a b", "repository");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
