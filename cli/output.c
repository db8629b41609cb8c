/*
 * output.c - what the CLI prints: aligned tables for people, the API's
 * objects unchanged as JSON or YAML (libyaml's emitter) for scripts, or
 * only ids with --quiet.
 */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* obj's member at a dotted path ("account.name"). */
static json_t *field(json_t *obj, const char *path)
{
    char part[128];

    while (obj != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");

        snprintf(part, sizeof(part), "%.*s", (int)n, path);
        obj = json_object_get(obj, part);
        path += n + (path[n] == '.');
    }
    return obj;
}

/* A value as a person reads it; malloc'd. */
static char *cell(json_t *v)
{
    char buf[64];

    if (v == NULL || json_is_null(v))
        return strdup("-");
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = strlen(s);

        /* times to the second: 2026-11-28T15:20:01.918035Z -> 2026-11-28T15:20:01Z */
        if (len == 27 && s[10] == 'T' && s[19] == '.' && s[26] == 'Z') {
            snprintf(buf, sizeof(buf), "%.19sZ", s);
            return strdup(buf);
        }
        return strdup(s);
    }
    if (json_is_true(v))
        return strdup("yes");
    if (json_is_false(v))
        return strdup("no");
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Display width of UTF-8 text (one column per code point). */
static size_t width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void print_table(json_t *items, const cli_column *columns)
{
    size_t ncols = 0, nrows = json_array_size(items);
    size_t widths[32] = { 0 };

    while (columns[ncols].title != NULL && ncols < 32)
        ncols++;
    char **cells = calloc(nrows * ncols + 1, sizeof(*cells));
    if (cells == NULL)
        return;
    for (size_t c = 0; c < ncols; c++)
        widths[c] = width(columns[c].title);
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++) {
            cells[r * ncols + c] = cell(field(json_array_get(items, r), columns[c].field));
            if (cells[r * ncols + c] && width(cells[r * ncols + c]) > widths[c])
                widths[c] = width(cells[r * ncols + c]);
        }
    for (size_t c = 0; c < ncols; c++)
        printf("%s%-*s", c ? "  " : "", c + 1 < ncols ? (int)widths[c] : 0, columns[c].title);
    putchar('\n');
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = cells[r * ncols + c] ? cells[r * ncols + c] : "";
            size_t pad = c + 1 < ncols ? widths[c] - width(s) : 0;

            printf("%s%s%*s", c ? "  " : "", s, (int)pad, "");
        }
        putchar('\n');
    }
    for (size_t i = 0; i < nrows * ncols; i++)
        free(cells[i]);
    free(cells);
}

/* ---- YAML -------------------------------------------------------------- */

/* Could this string read back as something other than a string in plain
 * YAML 1.1 (a number, a boolean, null, a timestamp)?  Then it is quoted.
 * Erring on the side of quoting costs only two characters. */
static int ambiguous(const char *s)
{
    static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "y", "n",
                                         "null", "~", NULL };
    char *end;

    if (s[0] == '\0')
        return 1;
    for (size_t i = 0; words[i] != NULL; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    if (isdigit((unsigned char)s[0]) || strchr("+-.", s[0]) != NULL)
        return 1;
    strtod(s, &end);
    return *end == '\0' || isspace((unsigned char)s[0]);
}

static int emit(yaml_emitter_t *e, json_t *v)
{
    yaml_event_t ev;
    const char *key;
    json_t *item;
    size_t i;
    char *text;
    int ok;

    if (json_is_object(v)) {
        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return 0;
        json_object_foreach(v, key, item) {
            yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)key, -1, 1, 1,
                ambiguous(key) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
            if (!yaml_emitter_emit(e, &ev) || !emit(e, item))
                return 0;
        }
        yaml_mapping_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev);
    }
    if (json_is_array(v)) {
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(e, &ev))
            return 0;
        json_array_foreach(v, i, item)
            if (!emit(e, item))
                return 0;
        yaml_sequence_end_event_initialize(&ev);
        return yaml_emitter_emit(e, &ev);
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);

        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)json_string_length(v),
            1, 1, ambiguous(s) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
        return yaml_emitter_emit(e, &ev);
    }
    text = json_is_null(v) ? strdup("null") : json_dumps(v, JSON_ENCODE_ANY);
    if (text == NULL)
        return 0;
    yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, -1, 1, 1,
                                 YAML_PLAIN_SCALAR_STYLE);
    ok = yaml_emitter_emit(e, &ev);
    free(text);
    return ok;
}

static void print_yaml(json_t *v)
{
    yaml_emitter_t e;
    yaml_event_t ev;
    int ok;

    yaml_emitter_initialize(&e);
    yaml_emitter_set_output_file(&e, stdout);
    yaml_emitter_set_unicode(&e, 1);
    yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
    ok = yaml_emitter_emit(&e, &ev);
    yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
    ok = ok && yaml_emitter_emit(&e, &ev) && emit(&e, v);
    yaml_document_end_event_initialize(&ev, 1);
    ok = ok && yaml_emitter_emit(&e, &ev);
    yaml_stream_end_event_initialize(&ev);
    ok = ok && yaml_emitter_emit(&e, &ev);
    if (!ok)
        fprintf(stderr, "cloister: could not write YAML: %s\n", e.problem ? e.problem : "?");
    yaml_emitter_delete(&e);
}

static void print_json(json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

    if (text != NULL)
        puts(text);
    free(text);
}

void cli_print_list(cli_ctx *c, json_t *items, const cli_column *columns,
                    const char *id_field)
{
    json_t *item;
    size_t i;

    if (c->quiet) {
        json_array_foreach(items, i, item) {
            char *s = cell(field(item, id_field));
            puts(s ? s : "");
            free(s);
        }
    } else if (c->format == CLI_JSON) {
        print_json(items);
    } else if (c->format == CLI_YAML) {
        print_yaml(items);
    } else {
        print_table(items, columns);
    }
}

void cli_print_one(cli_ctx *c, json_t *obj, const cli_column *columns, const char *id_field)
{
    size_t w = 0;

    if (c->quiet) {
        char *s = cell(field(obj, id_field));
        puts(s ? s : "");
        free(s);
        return;
    }
    if (c->format == CLI_JSON) {
        print_json(obj);
        return;
    }
    if (c->format == CLI_YAML) {
        print_yaml(obj);
        return;
    }
    for (size_t i = 0; columns[i].title != NULL; i++)
        if (width(columns[i].title) > w)
            w = width(columns[i].title);
    for (size_t i = 0; columns[i].title != NULL; i++) {
        char *s = cell(field(obj, columns[i].field));
        printf("%-*s  %s\n", (int)w + 1, columns[i].title, s ? s : "");
        free(s);
    }
}
