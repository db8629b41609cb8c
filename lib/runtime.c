/* runtime.c - the runtimes and how their builds come to be; see runtime.h. */
#include "runtime.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define NRUNTIMES (sizeof(runtimes) / sizeof(runtimes[0]))

static const cl_runtime runtimes[] = {
    { "gramine", 1, "Gramine 1.9: converted from the app's image, or registered" },
    { "occlum",  0, "Occlum: registered with the SIGSTRUCT of libocclum-libos.signed.so" },
    { "scone",   0, "SCONE: registered with the SIGSTRUCT of the SCONE-built binary" },
    { "sgx-sdk", 0, "Intel SGX SDK: registered with the signed enclave's SIGSTRUCT" },
    { "edp",     0, "Fortanix EDP: registered with the .sig of the .sgxs" },
};

const cl_runtime *cl_runtime_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < NRUNTIMES; i++)
        if (strcmp(runtimes[i].name, name) == 0)
            return &runtimes[i];
    return NULL;
}

static char names[128];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void list_names(void)
{
    size_t n = 0;

    for (size_t i = 0; i < NRUNTIMES; i++)
        n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                              runtimes[i].name);
}

const char *cl_runtime_names(void)
{
    pthread_once(&names_once, list_names);
    return names;
}
