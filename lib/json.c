/* json.c - bounded JSON parsing; see json.h. */
#include "json.h"

#include <string.h>

size_t cl_json_depth(const char *data, size_t len, size_t max_depth)
{
    size_t depth = 0, deepest = 0;
    int in_string = 0, escaped = 0;

    for (size_t i = 0; i < len; i++) {
        char c = data[i];

        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        switch (c) {
        case '"':
            in_string = 1;
            break;
        case '[':
        case '{':
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > max_depth)
                    return max_depth + 1;
            }
            break;
        case ']':
        case '}':
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
    }
    return deepest;
}

int cl_json_parse(json_t **out, const char *data, size_t len,
                  size_t max_depth, cl_error *err)
{
    json_error_t jerr;
    json_t *value;

    *out = NULL;
    if (cl_json_depth(data, len, max_depth) > max_depth)
        return cl_error_set(err, CL_EMALFORMED,
                            "JSON is nested more than %zu levels deep",
                            max_depth);

    value = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (value == NULL) {
        cl_error_set(err, CL_EMALFORMED, "malformed JSON at line %d, column %d: %s",
                     jerr.line, jerr.column, jerr.text);
        cl_error_ext(err, "where", json_pack("{s:i, s:i, s:i}",
                     "line", jerr.line, "column", jerr.column,
                     "position", jerr.position));
        return CL_EMALFORMED;
    }
    *out = value;
    return 0;
}

char *cl_json_canonical(const json_t *value)
{
    return json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

int cl_json_has_string(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(list, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    return 0;
}
