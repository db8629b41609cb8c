/*
 * config.c - layered settings; see config.h.
 *
 * Loading happens in four passes over the same table: defaults, the file,
 * the environment, the flags.  Each pass parses text into the target through
 * set_value(), so every source is validated by the same code.  The --config
 * flag is found by a first look at argv, before the file pass.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_FILE_MAX (1024 * 1024)

static void *field(void *target, const cl_config_setting *s)
{
    return (char *)target + s->offset;
}

int cl_config_parse_size(const char *text, long long *out)
{
    char *end;
    long long v, mult = 1;

    if (text == NULL || !isdigit((unsigned char)text[0]))
        return CL_EINVALID;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0)
        return CL_EINVALID;
    switch (*end) {
    case '\0':
        break;
    case 'K': case 'k': mult = 1024LL; end++; break;
    case 'M': case 'm': mult = 1024LL * 1024; end++; break;
    case 'G': case 'g': mult = 1024LL * 1024 * 1024; end++; break;
    default:
        return CL_EINVALID;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0' || v > LLONG_MAX / mult)
        return CL_EINVALID;
    *out = v * mult;
    return 0;
}

int cl_config_parse_bool(const char *text, int *out)
{
    static const char *const yes[] = { "true", "yes", "1", "on" };
    static const char *const no[] = { "false", "no", "0", "off" };

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(text, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(text, no[i]) == 0)
            return *out = 0, 0;
    }
    return CL_EINVALID;
}

static int parse_int(const char *text, long long *out)
{
    char *end;

    if (text == NULL || *text == '\0')
        return CL_EINVALID;
    errno = 0;
    *out = strtoll(text, &end, 10);
    return errno != 0 || *end != '\0' ? CL_EINVALID : 0;
}

static int set_value(void *target, const cl_config_setting *s,
                     const char *text, const char *source, cl_error *err)
{
    long long v;
    int b;

    switch (s->type) {
    case CL_CFG_STRING: {
        char **slot = field(target, s);
        char *copy = strdup(text);

        if (copy == NULL)
            return cl_error_set(err, CL_ERROR, "out of memory");
        free(*slot);
        *slot = copy;
        return 0;
    }
    case CL_CFG_BOOL:
        if (cl_config_parse_bool(text, &b) < 0)
            return cl_error_set(err, CL_EINVALID,
                "%s: \"%s\" must be true or false, not \"%s\"",
                source, s->name, text);
        *(int *)field(target, s) = b;
        return 0;
    case CL_CFG_INT:
    case CL_CFG_SIZE:
        if ((s->type == CL_CFG_INT ? parse_int(text, &v)
                                   : cl_config_parse_size(text, &v)) < 0)
            return cl_error_set(err, CL_EINVALID,
                "%s: \"%s\" must be %s, not \"%s\"", source, s->name,
                s->type == CL_CFG_INT ? "an integer"
                                      : "a size such as 4096, 64K or 1M",
                text);
        if (v < s->min || v > s->max)
            return cl_error_set(err, CL_EINVALID,
                "%s: \"%s\" must be between %lld and %lld, not %lld",
                source, s->name, s->min, s->max, v);
        *(long long *)field(target, s) = v;
        return 0;
    }
    return cl_error_set(err, CL_ERROR, "setting \"%s\" has no type", s->name);
}

static const cl_config_setting *find(const cl_config_setting *table, size_t n,
                                     const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].name) == len &&
            strncmp(table[i].name, name, len) == 0)
            return &table[i];
    return NULL;
}

static void env_name(char *dst, size_t size, const char *name)
{
    size_t i = 0, j;

    j = (size_t)snprintf(dst, size, "CLOISTER_");
    for (; name[i] != '\0' && j + 1 < size; i++, j++)
        dst[j] = name[i] == '-' ? '_' : (char)toupper((unsigned char)name[i]);
    dst[j] = '\0';
}

static int load_file(void *target, const cl_config_setting *table, size_t n,
                     const char *path, cl_error *err)
{
    json_error_t jerr;
    json_t *root, *value;
    const char *key;
    int rc = 0;

    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cl_error_set(err, CL_EINVALID, "could not open config file \"%s\": %s",
                            path, strerror(errno));
    char *text = malloc(CONFIG_FILE_MAX + 1);
    size_t len = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (text == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if (len > CONFIG_FILE_MAX) {
        free(text);
        return cl_error_set(err, CL_EINVALID, "config file \"%s\" is larger than %d bytes",
                            path, CONFIG_FILE_MAX);
    }
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (root == NULL)
        return cl_error_set(err, CL_EINVALID, "config file \"%s\", line %d, column %d: %s",
                            path, jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return cl_error_set(err, CL_EINVALID, "config file \"%s\" must hold a JSON object",
                            path);
    }

    json_object_foreach(root, key, value) {
        const cl_config_setting *s = find(table, n, key, strlen(key));
        char source[600], number[32];
        const char *text_value;

        snprintf(source, sizeof(source), "config file \"%s\"", path);
        if (s == NULL) {
            rc = cl_error_set(err, CL_EINVALID, "%s: unknown setting \"%s\"", source, key);
            break;
        }
        if (json_is_string(value)) {
            text_value = json_string_value(value);
        } else if (json_is_integer(value)) {
            snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(value));
            text_value = number;
        } else if (json_is_boolean(value)) {
            text_value = json_is_true(value) ? "true" : "false";
        } else {
            rc = cl_error_set(err, CL_EINVALID,
                              "%s: \"%s\" must be a string, integer or boolean",
                              source, key);
            break;
        }
        if ((rc = set_value(target, s, text_value, source, err)) < 0)
            break;
    }
    json_decref(root);
    return rc;
}

/* The value of --config in argv, or NULL. */
static const char *config_flag(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
    }
    return NULL;
}

static int load_flags(void *target, const cl_config_setting *table, size_t n,
                      int argc, char **argv, cl_error *err)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *name, *eq, *value = NULL;
        const cl_config_setting *s;
        int rc;

        if (strncmp(arg, "--", 2) != 0)
            return cl_error_set(err, CL_EINVALID, "unexpected argument \"%s\"", arg);
        name = arg + 2;
        eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);

        if (len == 6 && strncmp(name, "config", 6) == 0) {
            if (eq == NULL)
                i++;
            continue;
        }
        s = find(table, n, name, len);
        if (s == NULL)
            return cl_error_set(err, CL_EINVALID, "unknown option \"--%.*s\"; see --help",
                                (int)len, name);
        if (eq != NULL)
            value = eq + 1;
        else if (s->type == CL_CFG_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return cl_error_set(err, CL_EINVALID, "option \"--%s\" needs a value", s->name);
        if ((rc = set_value(target, s, value, "option", err)) < 0)
            return rc;
    }
    return 0;
}

int cl_config_load(void *target, const cl_config_setting *table, size_t n,
                   int argc, char **argv, cl_error *err)
{
    const char *file;
    char env[128];
    int rc;

    for (size_t i = 0; i < n; i++)
        if (table[i].def != NULL &&
            (rc = set_value(target, &table[i], table[i].def, "default", err)) < 0)
            return rc;

    file = config_flag(argc, argv);
    if (file == NULL)
        file = getenv("CLOISTER_CONFIG");
    if (file != NULL && *file != '\0' &&
        (rc = load_file(target, table, n, file, err)) < 0)
        return rc;

    for (size_t i = 0; i < n; i++) {
        const char *value;

        env_name(env, sizeof(env), table[i].name);
        value = getenv(env);
        if (value != NULL && (rc = set_value(target, &table[i], value, env, err)) < 0)
            return rc;
    }
    return load_flags(target, table, n, argc, argv, err);
}

void cl_config_free(void *target, const cl_config_setting *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].type == CL_CFG_STRING) {
            char **slot = field(target, &table[i]);
            free(*slot);
            *slot = NULL;
        }
    }
}

void cl_config_help(FILE *out, const cl_config_setting *table, size_t n)
{
    static const char *const kinds[] = { "TEXT", "N", "SIZE", "" };
    char env[128], flag[160];

    fprintf(out, "  --%-28s %s\n", "config FILE",
            "read settings from a JSON file (env CLOISTER_CONFIG)");
    for (size_t i = 0; i < n; i++) {
        const cl_config_setting *s = &table[i];

        env_name(env, sizeof(env), s->name);
        snprintf(flag, sizeof(flag), "%s%s%s", s->name,
                 s->type == CL_CFG_BOOL ? "" : " ", kinds[s->type]);
        fprintf(out, "  --%-28s %s\n", flag, s->help);
        fprintf(out, "  %-30s env %s", "", env);
        if (s->def != NULL && *s->def != '\0')
            fprintf(out, ", default %s", s->def);
        fputc('\n', out);
    }
}
