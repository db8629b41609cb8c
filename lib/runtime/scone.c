/*
 * scone.c - SCONE, registered: the team signs its binary with SCONE's
 * tools (the heap, stacks and threads are fixed at signing and are part of
 * MRENCLAVE, so nothing here may change them: SCONE_HEAP and SCONE_STACK
 * are never set) and registers the SIGSTRUCT its signing pipeline wrote.
 *
 * The image starts itself (the SCONE runtime is linked into the binary),
 * unless runtime_config gives a command.  Cloister sets what SCONE reads at
 * start:
 *
 *   SCONE_MODE=HW          run in an enclave or not at all: AUTO would fall
 *                          back to simulation where SGX is missing
 *   SCONE_LAS_ADDR         the node's LAS (SCONE's local attestation
 *                          service, a DaemonSet on the SGX pool), at the
 *                          node's address
 *   SCONE_CAS_ADDR, SCONE_CONFIG_ID
 *                          when runtime_config names a CAS and the session
 *                          and service to run (cas_addr, config_id)
 *   CLOISTER_APP_ID        for an enclave that attests to Cloister itself,
 *                          through the agent at CLOISTER_NODE_IP:9092
 */
#include "runtime.h"

#include <ctype.h>
#include <string.h>

/* host, or host:port, in the characters DNS names and IPv4 addresses use */
static int address(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && strchr(".-:", s[i]) == NULL)
            return 0;
    return 1;
}

/* SESSION/SERVICE, as CAS names them */
static int config_id(const char *s)
{
    const char *slash = strchr(s, '/');

    if (slash == NULL || slash == s || slash[1] == '\0' || strlen(s) > 255)
        return 0;
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && strchr("_.-/", *c) == NULL)
            return 0;
    return strchr(slash + 1, '/') == NULL;
}

static long long check(const json_t *config, const cl_runtime_build *b, cl_error *err)
{
    static const char *const keys[] = { "command", "cas_addr", "config_id", NULL };
    (void)b;

    if (config == NULL)
        return 0;
    cl_runtime_only(config, keys, err);
    cl_runtime_argv(config, "command", 0, 0, err);
    const json_t *cas = json_object_get(config, "cas_addr");
    const json_t *id = json_object_get(config, "config_id");
    if (cas != NULL && (!json_is_string(cas) || !address(json_string_value(cas))))
        cl_error_field(err, "runtime_config", "cas_addr must be HOST or HOST:PORT");
    if (id != NULL && (!json_is_string(id) || !config_id(json_string_value(id))))
        cl_error_field(err, "runtime_config", "config_id must be SESSION/SERVICE");
    if ((cas == NULL) != (id == NULL))
        cl_error_field(err, "runtime_config", "cas_addr and config_id go together: the CAS, "
                       "and the session and service it is to give this enclave");
    return 0;
}

static void shape(cl_runtime_pod *p)
{
    const json_t *command = json_object_get(p->config, "command");
    const json_t *cas = json_object_get(p->config, "cas_addr");

    if (command != NULL)
        cl_runtime_command(p, command, NULL);
    cl_runtime_env(p, "SCONE_MODE", "HW");
    cl_runtime_env(p, "SCONE_LAS_ADDR", "$(CLOISTER_NODE_IP)");     /* set before, in env */
    if (cas != NULL) {
        cl_runtime_env(p, "SCONE_CAS_ADDR", json_string_value(cas));
        cl_runtime_env(p, "SCONE_CONFIG_ID",
                       json_string_value(json_object_get(p->config, "config_id")));
    }
    cl_runtime_env(p, "CLOISTER_APP_ID", p->app_id);
}

const cl_runtime cl_runtime_scone = {
    .name = "scone", .converted = 0,
    .what = "SCONE: registered with the SIGSTRUCT of the SCONE-built binary",
    .check = check, .shape = shape,
};
