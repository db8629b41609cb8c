/*
 * runtime.h - the enclave runtimes an app can run under, and how each one's
 * builds come to be: converted by Cloister from the app's image (a
 * `convert` job), or registered from outside with their SIGSTRUCT, as
 * Fortanix's manager takes builds it did not make.
 *
 * Every other difference between runtimes (the entrypoint and resources a
 * deployment needs) is to hang off this table too, so that adding a
 * runtime is adding a row.
 */
#ifndef CL_RUNTIME_H
#define CL_RUNTIME_H

typedef struct cl_runtime {
    const char *name;           /* as apps name it: "gramine", "occlum", ... */
    int converted;              /* builds come from convert jobs; else only registered */
    const char *what;           /* one line, for errors and docs */
} cl_runtime;

/* The runtime called name, or NULL. */
const cl_runtime *cl_runtime_find(const char *name);

/* The names, ", "-separated, for error messages ("gramine, occlum, ..."). */
const char *cl_runtime_names(void);

#endif
