/*
 * fuzz_cli_config.c - the CLI's config file (cli/config.c): the bytes are
 * written to $XDG_CONFIG_HOME/cloister/config.json in a private temporary
 * directory, loaded by cli_config_load as the CLI does at start, and the
 * profile looked up (which mends a config whose "profiles" or profile is
 * not an object).  The file's messages to stderr are part of the run.
 */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char path[4096];

static void init(void)
{
    char dir[] = "/tmp/cloister-fuzz-cli.XXXXXX", sub[1024];

    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(sub, sizeof(sub), "%s/cloister", dir);
    if (mkdir(sub, 0700) < 0 || setenv("XDG_CONFIG_HOME", dir, 1) < 0)
        abort();
    snprintf(path, sizeof(path), "%s/config.json", sub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cli_ctx c;
    FILE *f;

    if (path[0] == '\0')
        init();
    f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
    chmod(path, 0600);
    memset(&c, 0, sizeof(c));
    c.profile = size > 0 && (data[0] & 1) ? "staging" : "default";
    (void)cli_config_load(&c);
    if (c.config == NULL || cli_profile(&c) == NULL)
        abort();        /* a config object and a profile, whatever the file held */
    json_decref(c.config);
    return 0;
}
