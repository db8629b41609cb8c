/* runtime.c - the table of runtimes, and the helpers their files share;
 * see runtime.h. */
#include "runtime.h"
#include "buf.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static const cl_runtime *const runtimes[] = {
    &cl_runtime_gramine, &cl_runtime_occlum, &cl_runtime_scone, &cl_runtime_sgx_sdk,
    &cl_runtime_edp,
};

#define NRUNTIMES (sizeof(runtimes) / sizeof(runtimes[0]))

const cl_runtime *cl_runtime_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < NRUNTIMES; i++)
        if (strcmp(runtimes[i]->name, name) == 0)
            return runtimes[i];
    return NULL;
}

static char names[128];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void list_names(void)
{
    size_t n = 0;

    for (size_t i = 0; i < NRUNTIMES; i++)
        n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                              runtimes[i]->name);
}

const char *cl_runtime_names(void)
{
    pthread_once(&names_once, list_names);
    return names;
}

/* ---- checking a runtime_config ------------------------------------------- */

void cl_runtime_only(const json_t *config, const char *const *keys, cl_error *err)
{
    const char *key;
    json_t *v;

    if (!json_is_object(config)) {
        cl_error_field(err, "runtime_config", "must be an object");
        return;
    }
    json_object_foreach((json_t *)config, key, v) {
        size_t i = 0;
        while (keys[i] != NULL && strcmp(keys[i], key) != 0)
            i++;
        if (keys[i] == NULL)
            cl_error_field(err, "runtime_config", "has no field \"%.64s\" for this runtime",
                           key);
    }
}

const char *cl_runtime_path(const json_t *config, const char *key, int required,
                            cl_error *err)
{
    json_t *v = json_object_get(config, key);

    if (v == NULL) {
        if (required)
            cl_error_field(err, "runtime_config", "needs %s", key);
        return NULL;
    }
    if (!json_is_string(v) || !cl_path_absolute(json_string_value(v), 1024)) {
        cl_error_field(err, "runtime_config", "%s must be an absolute path without \"..\", "
                       "at most 1024 bytes", key);
        return NULL;
    }
    return json_string_value(v);
}

const json_t *cl_runtime_argv(const json_t *config, const char *key, int required, int path,
                              cl_error *err)
{
    json_t *v = json_object_get(config, key), *item;
    size_t i;

    if (v == NULL) {
        if (required)
            cl_error_field(err, "runtime_config", "needs %s", key);
        return NULL;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 64) {
        cl_error_field(err, "runtime_config", "%s must be an array of 1 to 64 strings", key);
        return NULL;
    }
    json_array_foreach(v, i, item)
        if (!json_is_string(item) || json_string_length(item) > 4096 ||
            strlen(json_string_value(item)) != json_string_length(item)) {
            cl_error_field(err, "runtime_config", "%s[%zu] must be a string of at most 4096 "
                           "bytes", key, i);
            return NULL;
        }
    if (path && !cl_path_absolute(json_string_value(json_array_get(v, 0)), 1024)) {
        cl_error_field(err, "runtime_config", "%s[0] must be the program's absolute path",
                       key);
        return NULL;
    }
    return v;
}

const char *cl_runtime_choice(const json_t *config, const char *key,
                              const char *const *choices, cl_error *err)
{
    json_t *v = json_object_get(config, key);

    if (v == NULL)
        return choices[0];
    for (size_t i = 0; json_is_string(v) && choices[i] != NULL; i++)
        if (strcmp(json_string_value(v), choices[i]) == 0)
            return choices[i];
    char list[128] = "";
    for (size_t i = 0, n = 0; choices[i] != NULL && n < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s\"%s\"", i ? ", " : "",
                              choices[i]);
    cl_error_field(err, "runtime_config", "%s must be one of %s", key, list);
    return NULL;
}

/* ---- shaping a container ------------------------------------------------- */

static json_t *member(json_t *o, const char *key, json_t *(*make)(void))
{
    json_t *v = json_object_get(o, key);

    if (v == NULL)
        json_object_set_new(o, key, v = make());
    return v;
}

void cl_runtime_env(cl_runtime_pod *p, const char *name, const char *value)
{
    json_array_append_new(member(p->container, "env", json_array),
                          json_pack("{s:s, s:s}", "name", name, "value", value));
}

void cl_runtime_command(cl_runtime_pod *p, const json_t *command, const json_t *args)
{
    json_object_set_new(p->container, "command", json_deep_copy(command));
    if (args != NULL)
        json_object_set_new(p->container, "args", json_deep_copy(args));
}

void cl_runtime_aesmd(cl_runtime_pod *p, int env)
{
    if (env)
        cl_runtime_env(p, "SGX_AESM_ADDR", "1");    /* a string: EnvVar.value is one */
    json_array_append_new(member(p->container, "volumeMounts", json_array),
                          json_pack("{s:s, s:s}", "name", "aesmd", "mountPath",
                                    "/var/run/aesmd"));
    json_array_append_new(member(p->pod, "volumes", json_array),
                          json_pack("{s:s, s:{s:s, s:s}}", "name", "aesmd", "hostPath",
                                    "path", "/var/run/aesmd", "type", "Directory"));
}
