/*
 * kinds.c - the job kinds this worker knows, one row each: the code, how
 * often to try, how long an attempt may take, how long to wait between.
 *
 * `noop` is the queue's own diagnostic: it does nothing but what its
 * parameters ask (wait, report progress, fail for its first attempts, or
 * crash), which is how the queue's guarantees are tested and benchmarked on
 * a live installation without touching any real resource.
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int noop(cl_job *j, json_t **result, cl_error *err)
{
    json_t *p = cl_job_params(j);
    json_int_t ms = json_integer_value(json_object_get(p, "ms"));
    json_int_t fail_times = json_integer_value(json_object_get(p, "fail_times"));

    if (json_is_true(json_object_get(p, "crash")))
        abort();
    if (json_is_true(json_object_get(p, "progress")))
        cl_job_phase(j, "waiting");
    for (json_int_t waited = 0; waited < ms; waited += 10) {
        struct timespec ten = { 0, 10 * 1000 * 1000 };

        nanosleep(&ten, NULL);
        if (json_is_true(json_object_get(p, "progress")) && ms > 0)
            cl_job_progress(j, (int)(waited * 100 / ms));
    }
    if (cl_job_attempt(j) <= fail_times)
        return cl_error_set(err, CL_ERROR, "failing attempt %d of the first %lld on purpose",
                            cl_job_attempt(j), (long long)fail_times);
    if (json_is_true(json_object_get(p, "progress")))
        cl_job_log(j, "waited %lld ms", (long long)ms);
    *result = json_pack("{s:i}", "attempt", cl_job_attempt(j));
    return 0;
}

const cl_job_kind cl_job_kinds[] = {
    { "noop", noop, 3, 600, 100, 5000 },
    { NULL, NULL, 0, 0, 0, 0 },
};

const cl_job_kind *cl_job_kind_find(const char *name)
{
    for (const cl_job_kind *k = cl_job_kinds; k->name != NULL; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}
