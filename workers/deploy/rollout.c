/*
 * rollout.c - what a deployment's rollout has come to, judged from the
 * Deployment object exactly as `kubectl rollout status` judges it
 * (kubectl's DeploymentStatusViewer), with its words, so that the worker
 * and kubectl always agree:
 *
 *   - until status.observedGeneration reaches metadata.generation, the
 *     new spec has not been seen;
 *   - a Progressing condition with reason ProgressDeadlineExceeded fails;
 *   - otherwise it waits while fewer than spec.replicas are updated, while
 *     old replicas remain, and while fewer updated replicas are available
 *     than updated; then it is done.
 */
#include "deploy.h"

#include <stdio.h>
#include <string.h>

static json_int_t number(json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

cl_rollout cl_rollout_status(json_t *deployment, char *msg, size_t size)
{
    json_t *meta = json_object_get(deployment, "metadata");
    json_t *spec = json_object_get(deployment, "spec");
    json_t *status = json_object_get(deployment, "status"), *c;
    const char *name = json_string_value(json_object_get(meta, "name"));
    size_t i;

    name = name ? name : "?";
    if (number(meta, "generation") > number(status, "observedGeneration")) {
        snprintf(msg, size, "Waiting for deployment spec update to be observed...");
        return CL_ROLLOUT_WAITING;
    }
    json_array_foreach(json_object_get(status, "conditions"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *reason = json_string_value(json_object_get(c, "reason"));
        if (type && reason && strcmp(type, "Progressing") == 0 &&
            strcmp(reason, "ProgressDeadlineExceeded") == 0) {
            snprintf(msg, size, "deployment \"%s\" exceeded its progress deadline", name);
            return CL_ROLLOUT_FAILED;
        }
    }
    json_t *replicas = json_object_get(spec, "replicas");
    json_int_t updated = number(status, "updatedReplicas");
    if (json_is_integer(replicas) && updated < json_integer_value(replicas)) {
        snprintf(msg, size, "Waiting for deployment \"%s\" rollout to finish: %lld out of %lld "
                 "new replicas have been updated...", name, (long long)updated,
                 (long long)json_integer_value(replicas));
        return CL_ROLLOUT_WAITING;
    }
    if (number(status, "replicas") > updated) {
        snprintf(msg, size, "Waiting for deployment \"%s\" rollout to finish: %lld old replicas "
                 "are pending termination...", name,
                 (long long)(number(status, "replicas") - updated));
        return CL_ROLLOUT_WAITING;
    }
    if (number(status, "availableReplicas") < updated) {
        snprintf(msg, size, "Waiting for deployment \"%s\" rollout to finish: %lld of %lld "
                 "updated replicas are available...", name,
                 (long long)number(status, "availableReplicas"), (long long)updated);
        return CL_ROLLOUT_WAITING;
    }
    snprintf(msg, size, "deployment \"%s\" successfully rolled out", name);
    return CL_ROLLOUT_DONE;
}
