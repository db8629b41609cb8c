/*
 * config.c - named profiles in $XDG_CONFIG_HOME/cloister/config.json
 * (~/.config/cloister/config.json without XDG_CONFIG_HOME):
 *
 *   {"profiles": {"default": {"url": "...", "email": "...",
 *                             "session": "...", "csrf_token": "...",
 *                             "api_key": "..."}}}
 *
 * The file holds credentials, so it is created 0600 in a 0700 directory and
 * written whole (a new file renamed over the old), never in place.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX (1024 * 1024)

static int config_dir(char *out, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

    if (xdg != NULL && xdg[0] == '/')
        return snprintf(out, size, "%s/cloister", xdg) < (int)size ? 0 : -1;
    if (home == NULL || home[0] == '\0')
        return -1;
    return snprintf(out, size, "%s/.config/cloister", home) < (int)size ? 0 : -1;
}

int cli_read_json_object(const char *path, json_t **out)
{
    uint8_t *text;
    size_t len;
    json_error_t jerr;
    int rc;

    if ((rc = cli_read_file(path, 1 << 20, &text, &len)) != 0)
        return rc;
    *out = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (json_is_object(*out))
        return 0;
    fprintf(stderr, "cloister: \"%s\" is not a JSON object (line %d: %s)\n", path,
            *out ? 0 : jerr.line, *out ? "another kind of value" : jerr.text);
    json_decref(*out);
    *out = NULL;
    return CLI_EUSAGE;
}

int cli_config_load(cli_ctx *c)
{
    char dir[4000];
    json_error_t jerr;
    struct stat st;

    if (config_dir(dir, sizeof(dir)) < 0) {
        c->config = json_object();
        c->config_path[0] = '\0';
        return 0;
    }
    snprintf(c->config_path, sizeof(c->config_path), "%s/config.json", dir);
    if (stat(c->config_path, &st) < 0) {
        c->config = json_object();
        return 0;
    }
    if (st.st_size > CONFIG_MAX) {
        fprintf(stderr, "cloister: \"%s\" is larger than %d bytes\n", c->config_path, CONFIG_MAX);
        return CLI_EUSAGE;
    }
    c->config = json_load_file(c->config_path, JSON_REJECT_DUPLICATES, &jerr);
    if (c->config == NULL || !json_is_object(c->config)) {
        fprintf(stderr, "cloister: \"%s\" is not a JSON object (line %d: %s); fix or remove it\n",
                c->config_path, jerr.line, jerr.text);
        json_decref(c->config);
        c->config = json_object();
        return CLI_EUSAGE;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        fprintf(stderr, "cloister: warning: \"%s\" may be read by others; run \"chmod 600 %s\"\n",
                c->config_path, c->config_path);
    return 0;
}

json_t *cli_profile(cli_ctx *c)
{
    json_t *profiles = json_object_get(c->config, "profiles"), *p;

    if (!json_is_object(profiles)) {
        profiles = json_object();
        json_object_set_new(c->config, "profiles", profiles);
    }
    p = json_object_get(profiles, c->profile);
    if (!json_is_object(p)) {
        p = json_object();
        json_object_set_new(profiles, c->profile, p);
    }
    return p;
}

int cli_config_save(cli_ctx *c)
{
    char dir[4000], tmp[4200];
    char *text;
    int fd;
    ssize_t n;

    if (c->config_path[0] == '\0' || config_dir(dir, sizeof(dir)) < 0) {
        fprintf(stderr, "cloister: no place for the config file: set HOME or XDG_CONFIG_HOME\n");
        return CLI_EUSAGE;
    }
    /* make the directory (and a missing ~/.config) private */
    char parent[4000];
    snprintf(parent, sizeof(parent), "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash != NULL) {
        *slash = '\0';
        mkdir(parent, 0700);
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "cloister: could not create \"%s\": %s\n", dir, strerror(errno));
        return CLI_ESERVER;
    }
    text = json_dumps(c->config, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL)
        return CLI_ESERVER;
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", c->config_path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "cloister: could not write \"%s\": %s\n", tmp, strerror(errno));
        free(text);
        return CLI_ESERVER;
    }
    n = write(fd, text, strlen(text));
    if (n != (ssize_t)strlen(text) || write(fd, "\n", 1) != 1 || fsync(fd) < 0 ||
        close(fd) < 0 || rename(tmp, c->config_path) < 0) {
        fprintf(stderr, "cloister: could not write \"%s\": %s\n", c->config_path,
                strerror(errno));
        unlink(tmp);
        free(text);
        return CLI_ESERVER;
    }
    free(text);
    return 0;
}

int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long size = -1;

    *out = NULL;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        (size_t)size > max || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "cloister: could not read \"%s\"%s\n", path,
                f != NULL && size >= 0 && (size_t)size > max ? ": it is too large" : "");
        if (f)
            fclose(f);
        return CLI_EUSAGE;
    }
    *out = malloc((size_t)size + 1);
    *len = *out ? fread(*out, 1, (size_t)size, f) : 0;
    fclose(f);
    if (*out == NULL || *len != (size_t)size) {
        free(*out);
        *out = NULL;
        fprintf(stderr, "cloister: could not read \"%s\"\n", path);
        return CLI_EUSAGE;
    }
    (*out)[*len] = '\0';
    return 0;
}
