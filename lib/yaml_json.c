/*
 * yaml_json.c - YAML (libyaml's event parser) into JSON; the rules are in
 * yaml_json.h.
 */
#include "yaml_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct reader {
    yaml_parser_t parser;
    size_t max_depth;
    cl_error *err;
} reader;

static int fail(reader *r, const yaml_event_t *at, const char *what)
{
    return cl_error_set(r->err, CL_EINVALID, "the YAML %s (line %zu)", what,
                        at ? at->start_mark.line + 1 : r->parser.problem_mark.line + 1);
}

static int next(reader *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev))
        return cl_error_set(r->err, CL_EINVALID, "the YAML is malformed: %s (line %zu)",
                            r->parser.problem ? r->parser.problem : "unreadable",
                            r->parser.problem_mark.line + 1);
    return 0;
}

/* A plain scalar the core schema reads as null, a boolean or an integer. */
static json_t *plain(const char *s, size_t len)
{
    char *end;
    long long n;

    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0)
        return json_null();
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        return json_true();
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        return json_false();
    const char *digits = s + (s[0] == '-' || s[0] == '+');
    if (digits[0] != '\0' && strspn(digits, "0123456789") == strlen(digits) && len <= 18) {
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_integer(n);
    }
    return json_stringn(s, len);
}

/* The node that starts with ev (taken), into *out. */
static int node(reader *r, yaml_event_t *ev, size_t depth, json_t **out)
{
    int rc = 0;

    *out = NULL;
    if (depth > r->max_depth) {
        rc = fail(r, ev, "nests too deeply");
        yaml_event_delete(ev);
        return rc;
    }
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        rc = fail(r, ev, "uses an alias, which is not accepted");
        break;
    case YAML_SCALAR_EVENT: {
        const char *s = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        const char *tag = (const char *)ev->data.scalar.tag;

        if (ev->data.scalar.anchor != NULL)
            rc = fail(r, ev, "uses an anchor, which is not accepted");
        else if (tag != NULL && strcmp(tag, YAML_STR_TAG) != 0)
            rc = fail(r, ev, "uses a tag other than !!str");
        else if (strlen(s) != len)
            rc = fail(r, ev, "has a NUL character in a scalar");
        else if ((*out = ev->data.scalar.plain_implicit && tag == NULL
                         ? plain(s, len) : json_stringn(s, len)) == NULL)
            rc = fail(r, ev, "has a scalar that is not UTF-8");
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int mapping = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor = mapping ? ev->data.mapping_start.anchor
                                            : ev->data.sequence_start.anchor;

        if (anchor != NULL) {
            rc = fail(r, ev, "uses an anchor, which is not accepted");
            break;
        }
        *out = mapping ? json_object() : json_array();
        for (;;) {
            yaml_event_t item, value;
            json_t *k = NULL, *v = NULL;

            if ((rc = next(r, &item)) < 0)
                break;
            if (item.type == YAML_SEQUENCE_END_EVENT || item.type == YAML_MAPPING_END_EVENT) {
                yaml_event_delete(&item);
                break;
            }
            if (!mapping) {
                if ((rc = node(r, &item, depth + 1, &v)) < 0)
                    break;
                json_array_append_new(*out, v);
                continue;
            }
            if (item.type != YAML_SCALAR_EVENT) {
                rc = fail(r, &item, "has a key that is not a scalar");
                yaml_event_delete(&item);
                break;
            }
            if ((rc = node(r, &item, depth + 1, &k)) < 0)
                break;
            const char *key = json_is_string(k) ? json_string_value(k) : NULL;
            char number[32];
            if (key == NULL && json_is_integer(k)) {
                snprintf(number, sizeof(number), "%lld", (long long)json_integer_value(k));
                key = number;
            }
            if (key == NULL || (rc = next(r, &value)) < 0 ||
                (rc = node(r, &value, depth + 1, &v)) < 0) {
                if (rc == 0)
                    rc = fail(r, NULL, "has a key that is neither a string nor a number");
                json_decref(k);
                break;
            }
            if (json_object_get(*out, key) != NULL)
                rc = fail(r, NULL, "repeats a key");
            else
                json_object_set(*out, key, v);
            json_decref(k);
            json_decref(v);
            if (rc < 0)
                break;
        }
        break;
    }
    default:
        rc = fail(r, ev, "has an unexpected event");
    }
    yaml_event_delete(ev);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int cl_yaml_to_json(const char *text, size_t len, size_t max_depth, json_t **out,
                    cl_error *err)
{
    reader r = { .max_depth = max_depth, .err = err };
    yaml_event_t ev;
    int rc = 0, stage = 0;

    *out = NULL;
    if (!yaml_parser_initialize(&r.parser))
        return cl_error_set(err, CL_ERROR, "out of memory");
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
    /* stream start, document start, the root, document end, stream end */
    while (rc == 0 && (rc = next(&r, &ev)) == 0) {
        yaml_event_type_t type = ev.type;

        if (type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
        } else if (type == YAML_DOCUMENT_START_EVENT) {
            if (stage++ > 0)
                rc = fail(&r, &ev, "holds more than one document");
            yaml_event_delete(&ev);
        } else {
            rc = node(&r, &ev, 1, out);
        }
    }
    yaml_parser_delete(&r.parser);
    if (rc == 0 && *out == NULL)
        rc = cl_error_set(err, CL_EINVALID, "the YAML is empty");
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
