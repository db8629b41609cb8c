/* Unit tests: rollout status judged as kubectl judges it
 * (workers/deploy/rollout.c), each state with kubectl's own words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "deploy.h"

static cl_rollout judge(const char *json, char *msg)
{
    json_t *d = json_loads(json, 0, NULL);
    cl_rollout r;

    assert_non_null(d);
    r = cl_rollout_status(d, msg, 256);
    json_decref(d);
    return r;
}

static void test_each_state_in_kubectls_words(void **state)
{
    char msg[256];
    (void)state;

    assert_int_equal(judge("{\"metadata\": {\"name\": \"web\", \"generation\": 3},"
                           " \"status\": {\"observedGeneration\": 2}}", msg), CL_ROLLOUT_WAITING);
    assert_string_equal(msg, "Waiting for deployment spec update to be observed...");
    assert_int_equal(judge("{\"metadata\": {\"name\": \"web\", \"generation\": 3},"
                           " \"spec\": {\"replicas\": 3}, \"status\": {\"observedGeneration\": 3,"
                           " \"replicas\": 3, \"updatedReplicas\": 1}}", msg), CL_ROLLOUT_WAITING);
    assert_string_equal(msg, "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new "
                        "replicas have been updated...");
    assert_int_equal(judge("{\"metadata\": {\"name\": \"web\", \"generation\": 3},"
                           " \"spec\": {\"replicas\": 3}, \"status\": {\"observedGeneration\": 3,"
                           " \"replicas\": 4, \"updatedReplicas\": 3}}", msg), CL_ROLLOUT_WAITING);
    assert_string_equal(msg, "Waiting for deployment \"web\" rollout to finish: 1 old replicas "
                        "are pending termination...");
    assert_int_equal(judge("{\"metadata\": {\"name\": \"web\", \"generation\": 3},"
                           " \"spec\": {\"replicas\": 3}, \"status\": {\"observedGeneration\": 3,"
                           " \"replicas\": 3, \"updatedReplicas\": 3, \"availableReplicas\": 2}}",
                           msg), CL_ROLLOUT_WAITING);
    assert_string_equal(msg, "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated "
                        "replicas are available...");
    assert_int_equal(judge("{\"metadata\": {\"name\": \"web\", \"generation\": 3},"
                           " \"spec\": {\"replicas\": 3}, \"status\": {\"observedGeneration\": 3,"
                           " \"replicas\": 3, \"updatedReplicas\": 3, \"availableReplicas\": 3}}",
                           msg), CL_ROLLOUT_DONE);
    assert_string_equal(msg, "deployment \"web\" successfully rolled out");
    assert_int_equal(judge("{\"metadata\": {\"name\": \"web\", \"generation\": 3},"
                           " \"spec\": {\"replicas\": 3}, \"status\": {\"observedGeneration\": 3,"
                           " \"replicas\": 3, \"updatedReplicas\": 1, \"conditions\": ["
                           " {\"type\": \"Available\", \"status\": \"False\"},"
                           " {\"type\": \"Progressing\", \"status\": \"False\","
                           " \"reason\": \"ProgressDeadlineExceeded\"}]}}", msg),
                     CL_ROLLOUT_FAILED);
    assert_string_equal(msg, "deployment \"web\" exceeded its progress deadline");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_state_in_kubectls_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
