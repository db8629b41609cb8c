/*
 * toml.c - a recursive-descent reader of the TOML subset in toml.h.
 *
 * The reader walks the text once with a cursor; every value lands in a
 * jansson tree.  Tables opened with [a.b] and keys a.b = v both create the
 * intermediate tables; writing a key twice, or over a value that is not a
 * table, is an error, as TOML says.
 */
#include "toml.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader {
    const char *p, *end;
    int line;
    int depth;          /* how deep the table being filled, or the value read, is */
    cl_error *err;
} reader;

static int fail(reader *r, const char *what)
{
    return cl_error_set(r->err, CL_EINVALID, "TOML line %d: %s", r->line, what);
}

/* Spaces and tabs; with newlines also newlines and comments. */
static void skip(reader *r, int newlines)
{
    while (r->p < r->end) {
        if (*r->p == ' ' || *r->p == '\t' || *r->p == '\r') {
            r->p++;
        } else if (*r->p == '#') {
            while (r->p < r->end && *r->p != '\n')
                r->p++;
        } else if (newlines && *r->p == '\n') {
            r->p++;
            r->line++;
        } else {
            break;
        }
    }
}

static int append_utf8(char *buf, size_t *n, size_t cap, unsigned long cp)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || *n + 4 >= cap)
        return -1;
    if (cp < 0x80) {
        buf[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        buf[(*n)++] = (char)(0xC0 | cp >> 6);
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        buf[(*n)++] = (char)(0xE0 | cp >> 12);
        buf[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        buf[(*n)++] = (char)(0xF0 | cp >> 18);
        buf[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3F));
        buf[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
    return 0;
}

/* A basic "..." or literal '...' string, on one line; malloc'd. */
static int string(reader *r, char **out)
{
    char quote = *r->p++;
    size_t cap = 256, n = 0;
    char *buf = malloc(cap);

    *out = NULL;
    if (buf == NULL)
        return fail(r, "out of memory");
    if (r->end - r->p >= 2 && r->p[0] == quote && r->p[1] == quote) {
        free(buf);
        return fail(r, "multi-line strings are not supported");
    }
    while (r->p < r->end && *r->p != quote) {
        char c = *r->p++;

        if (c == '\n') {
            free(buf);
            return fail(r, "a string must end on its line");
        }
        if (n + 8 >= cap) {
            char *grown = cap < CL_TOML_MAX ? realloc(buf, cap *= 2) : NULL;
            if (grown == NULL) {
                free(buf);
                return fail(r, "a string is too long");
            }
            buf = grown;
        }
        if (c == '\\' && quote == '"') {
            char e = r->p < r->end ? *r->p++ : 0;
            const char *from = "btnfr\"\\", *to = "\b\t\n\f\r\"\\", *at;

            if (e != 0 && (at = strchr(from, e)) != NULL) {
                buf[n++] = to[at - from];
            } else if (e == 'u' || e == 'U') {
                int digits = e == 'u' ? 4 : 8;
                char hex[9] = { 0 };

                if (r->end - r->p < digits) {
                    free(buf);
                    return fail(r, "a \\u escape is cut short");
                }
                memcpy(hex, r->p, (size_t)digits);
                r->p += digits;
                if (strspn(hex, "0123456789abcdefABCDEF") != (size_t)digits ||
                    append_utf8(buf, &n, cap, strtoul(hex, NULL, 16)) < 0) {
                    free(buf);
                    return fail(r, "a \\u escape is not a character");
                }
            } else {
                free(buf);
                return fail(r, "an unknown escape in a string");
            }
        } else {
            buf[n++] = c;
        }
    }
    if (r->p >= r->end) {
        free(buf);
        return fail(r, "a string is not closed");
    }
    r->p++;
    buf[n] = '\0';
    *out = buf;
    return 0;
}

/* A bare or quoted key segment; malloc'd. */
static int key_segment(reader *r, char **out)
{
    const char *start = r->p;

    if (r->p < r->end && (*r->p == '"' || *r->p == '\''))
        return string(r, out);
    while (r->p < r->end && (isalnum((unsigned char)*r->p) || *r->p == '_' || *r->p == '-'))
        r->p++;
    if (r->p == start)
        return fail(r, "a key is expected");
    *out = cl_bytes_to_str(start, (size_t)(r->p - start));
    return *out ? 0 : fail(r, "out of memory");
}

/* Walk (creating) the tables of a dotted key in `table`, which lies
 * r->depth deep; *last gets the final segment (malloc'd), *owner the table
 * that will hold it and *levels how many tables deeper that is.  What the
 * key names may lie no deeper than values can nest. */
static int dotted_key(reader *r, json_t *table, json_t **owner, char **last, int *levels)
{
    char *seg;
    int rc;

    for (*levels = 0;; ++*levels) {
        skip(r, 0);
        if ((rc = key_segment(r, &seg)) < 0)
            return rc;
        skip(r, 0);
        if (r->depth + *levels + 1 > CL_TOML_MAX_DEPTH) {
            free(seg);
            return fail(r, "values are nested too deeply");
        }
        if (r->p >= r->end || *r->p != '.') {
            *owner = table;
            *last = seg;
            return 0;
        }
        r->p++;
        json_t *next = json_object_get(table, seg);
        if (next == NULL) {
            next = json_object();
            json_object_set_new(table, seg, next);
        } else if (!json_is_object(next)) {
            free(seg);
            return fail(r, "a key is used both as a value and as a table");
        }
        free(seg);
        table = next;
    }
}

static int value(reader *r, json_t **out);

static int array(reader *r, json_t **out)
{
    json_t *arr = json_array();
    int rc;

    r->p++;
    for (;;) {
        skip(r, 1);
        if (r->p < r->end && *r->p == ']') {
            r->p++;
            *out = arr;
            return 0;
        }
        json_t *v;
        if ((rc = value(r, &v)) < 0) {
            json_decref(arr);
            return rc;
        }
        json_array_append_new(arr, v);
        skip(r, 1);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
        } else if (r->p >= r->end || *r->p != ']') {
            json_decref(arr);
            return fail(r, "an array's values are separated by commas and end with ]");
        }
    }
}

static int key_value(reader *r, json_t *table);

static int inline_table(reader *r, json_t **out)
{
    json_t *t = json_object();
    int rc;

    r->p++;
    skip(r, 0);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        *out = t;
        return 0;
    }
    for (;;) {
        if ((rc = key_value(r, t)) < 0) {
            json_decref(t);
            return rc;
        }
        skip(r, 0);
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            skip(r, 0);
        } else if (r->p < r->end && *r->p == '}') {
            r->p++;
            *out = t;
            return 0;
        } else {
            json_decref(t);
            return fail(r, "an inline table's pairs are separated by commas and end with }");
        }
    }
}

static int value(reader *r, json_t **out)
{
    int rc;

    *out = NULL;
    if (r->p >= r->end)
        return fail(r, "a value is expected");
    if (++r->depth > CL_TOML_MAX_DEPTH)
        return fail(r, "values are nested too deeply");
    if (*r->p == '"' || *r->p == '\'') {
        char *s;
        if ((rc = string(r, &s)) == 0) {
            *out = json_string(s);
            free(s);
            if (*out == NULL)
                rc = fail(r, "a string is not UTF-8");
        }
    } else if (*r->p == '[') {
        rc = array(r, out);
    } else if (*r->p == '{') {
        rc = inline_table(r, out);
    } else if (r->end - r->p >= 4 && strncmp(r->p, "true", 4) == 0) {
        r->p += 4;
        *out = json_true();
        rc = 0;
    } else if (r->end - r->p >= 5 && strncmp(r->p, "false", 5) == 0) {
        r->p += 5;
        *out = json_false();
        rc = 0;
    } else {
        char digits[32];
        size_t n = 0;

        if (*r->p == '+' || *r->p == '-')
            digits[n++] = *r->p++;
        while (r->p < r->end && (isdigit((unsigned char)*r->p) || *r->p == '_') && n < 30) {
            if (*r->p != '_')
                digits[n++] = *r->p;
            r->p++;
        }
        digits[n] = '\0';
        if (n == 0 || !isdigit((unsigned char)digits[n - 1]) ||
            (r->p < r->end && strchr(".eE:xob-+", *r->p) != NULL)) {
            rc = fail(r, "only strings, integers, booleans, arrays and inline tables are "
                      "supported");
        } else {
            char *end;
            errno = 0;
            long long v = strtoll(digits, &end, 10);
            rc = errno != 0 ? fail(r, "an integer is out of range") : 0;
            if (rc == 0)
                *out = json_integer(v);
        }
    }
    r->depth--;
    return rc;
}

static int key_value(reader *r, json_t *table)
{
    json_t *owner, *v;
    char *key;
    int rc, levels;

    if ((rc = dotted_key(r, table, &owner, &key, &levels)) < 0)
        return rc;
    skip(r, 0);
    if (r->p >= r->end || *r->p != '=') {
        free(key);
        return fail(r, "= is expected after a key");
    }
    r->p++;
    skip(r, 0);
    r->depth += levels;
    rc = value(r, &v);
    r->depth -= levels;
    if (rc < 0) {
        free(key);
        return rc;
    }
    if (json_object_get(owner, key) != NULL) {
        json_decref(v);
        rc = cl_error_set(r->err, CL_EINVALID, "TOML line %d: key \"%s\" is defined twice",
                          r->line, key);
        free(key);
        return rc;
    }
    json_object_set_new(owner, key, v);
    free(key);
    return 0;
}

int cl_toml_parse(json_t **out, const char *text, size_t len, cl_error *err)
{
    if (text == NULL && len == 0)
        text = "";      /* an empty buffer may have no storage: the empty document */
    reader r = { text, text + len, 1, 0, err };
    json_t *root, *current;
    int rc = 0;

    *out = NULL;
    if (len > CL_TOML_MAX)
        return cl_error_set(err, CL_ETOOBIG, "the TOML text is larger than %d bytes", CL_TOML_MAX);
    if (memchr(text, '\0', len) != NULL)
        return cl_error_set(err, CL_EINVALID, "the TOML text contains a NUL byte");
    root = current = json_object();
    for (;;) {
        skip(&r, 1);
        if (r.p >= r.end)
            break;
        if (*r.p == '[') {
            char *last;
            json_t *owner, *t;
            int levels;

            r.p++;
            if (r.p < r.end && *r.p == '[') {
                rc = fail(&r, "arrays of tables are not supported");
                break;
            }
            r.depth = 0;                /* a header names a table from the root */
            if ((rc = dotted_key(&r, root, &owner, &last, &levels)) < 0)
                break;
            skip(&r, 0);
            if (r.p >= r.end || *r.p != ']') {
                free(last);
                rc = fail(&r, "a table header ends with ]");
                break;
            }
            r.p++;
            t = json_object_get(owner, last);
            if (t == NULL) {
                t = json_object();
                json_object_set_new(owner, last, t);
            } else if (!json_is_object(t)) {
                free(last);
                rc = fail(&r, "a table's name is already a value");
                break;
            }
            free(last);
            current = t;
            r.depth = levels + 1;
        } else if ((rc = key_value(&r, current)) < 0) {
            break;
        }
        skip(&r, 0);
        if (r.p < r.end && *r.p != '\n') {
            rc = fail(&r, "a line holds one key = value, or one [table]");
            break;
        }
    }
    if (rc < 0) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

json_t *cl_toml_get(json_t *doc, const char *path)
{
    char part[256];

    while (doc != NULL && *path != '\0') {
        size_t n = strcspn(path, ".");

        if (n >= sizeof(part))
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        doc = json_object_get(doc, part);
        path += n + (path[n] == '.');
    }
    return doc;
}

/* ---- writing ------------------------------------------------------------- */

static int emit_string(cl_buf *b, const char *s)
{
    int rc = cl_buf_append(b, "\"", 1);

    for (; rc == 0 && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = cl_buf_appendf(b, "\\%c", c);
        else if (c == '\n')
            rc = cl_buf_append(b, "\\n", 2);
        else if (c == '\t')
            rc = cl_buf_append(b, "\\t", 2);
        else if (c < 0x20 || c == 0x7f)
            rc = cl_buf_appendf(b, "\\u%04x", c);
        else
            rc = cl_buf_append(b, s, 1);
    }
    return rc ? rc : cl_buf_append(b, "\"", 1);
}

static int emit_key(cl_buf *b, const char *key)
{
    size_t n = strlen(key);

    for (const char *p = key; *p != '\0'; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return emit_string(b, key);
    return n == 0 ? emit_string(b, key) : cl_buf_append(b, key, n);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of obj, sorted, so that output does not depend on how the
 * document was built; NULL-terminated, free() the array. */
static const char **sorted_keys(json_t *obj)
{
    const char **keys = malloc((json_object_size(obj) + 1) * sizeof(*keys));
    const char *key;
    json_t *v;
    size_t n = 0;

    if (keys == NULL)
        return NULL;
    json_object_foreach(obj, key, v)
        keys[n++] = key;
    keys[n] = NULL;
    qsort(keys, n, sizeof(*keys), by_key);
    return keys;
}

static int emit_value(cl_buf *b, json_t *v, int depth, cl_error *err);

static int emit_inline_table(cl_buf *b, json_t *obj, int depth, cl_error *err)
{
    const char **keys = sorted_keys(obj);
    int rc = keys ? cl_buf_append(b, "{ ", 2) : cl_error_set(err, CL_ERROR, "out of memory");

    for (size_t i = 0; rc == 0 && keys[i] != NULL; i++) {
        if ((i > 0 && (rc = cl_buf_append(b, ", ", 2)) < 0) || (rc = emit_key(b, keys[i])) < 0 ||
            (rc = cl_buf_append(b, " = ", 3)) < 0)
            break;
        rc = emit_value(b, json_object_get(obj, keys[i]), depth + 1, err);
    }
    free(keys);
    return rc ? rc : cl_buf_append(b, " }", 2);
}

static int emit_value(cl_buf *b, json_t *v, int depth, cl_error *err)
{
    size_t i;
    json_t *item;
    int rc = 0;

    if (depth > CL_TOML_MAX_DEPTH)
        return cl_error_set(err, CL_EINVALID, "the document nests too deeply for TOML");
    switch (json_typeof(v)) {
    case JSON_STRING:
        return emit_string(b, json_string_value(v));
    case JSON_INTEGER:
        return cl_buf_appendf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_TRUE:
    case JSON_FALSE:
        return cl_buf_appendf(b, "%s", json_is_true(v) ? "true" : "false");
    case JSON_OBJECT:
        return emit_inline_table(b, v, depth, err);
    case JSON_ARRAY:
        /* One element a line: manifests list hundreds of trusted files. */
        if ((rc = cl_buf_append(b, "[", 1)) < 0)
            return rc;
        json_array_foreach(v, i, item) {
            if ((rc = cl_buf_append(b, "\n  ", 3)) < 0 ||
                (rc = emit_value(b, item, depth + 1, err)) < 0 ||
                (rc = cl_buf_append(b, ",", 1)) < 0)
                return rc;
        }
        return cl_buf_append(b, json_array_size(v) ? "\n]" : "]", json_array_size(v) ? 2 : 1);
    default:
        return cl_error_set(err, CL_EINVALID, "TOML has no null, and Gramine no floats");
    }
}

/* The table at path (its header, unless it is the root), its plain keys,
 * then its sub-tables under their own headers. */
static int emit_table(cl_buf *b, json_t *table, cl_buf *path, int depth, cl_error *err)
{
    const char **keys = sorted_keys(table);
    size_t at = path->len;
    int rc = 0;

    if (keys == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if (depth > CL_TOML_MAX_DEPTH)
        rc = cl_error_set(err, CL_EINVALID, "the document nests too deeply for TOML");
    if (rc == 0 && path->len > 0)
        rc = cl_buf_appendf(b, "%s[%s]\n", b->len ? "\n" : "", path->data);
    for (size_t i = 0; rc == 0 && keys[i] != NULL; i++) {
        json_t *v = json_object_get(table, keys[i]);
        if (json_is_object(v))
            continue;
        if ((rc = emit_key(b, keys[i])) < 0 || (rc = cl_buf_append(b, " = ", 3)) < 0 ||
            (rc = emit_value(b, v, depth, err)) < 0 || (rc = cl_buf_append(b, "\n", 1)) < 0)
            break;
    }
    for (size_t i = 0; rc == 0 && keys[i] != NULL; i++) {
        json_t *v = json_object_get(table, keys[i]);
        if (!json_is_object(v))
            continue;
        if ((at > 0 && (rc = cl_buf_append(path, ".", 1)) < 0) ||
            (rc = emit_key(path, keys[i])) < 0)
            break;
        if ((rc = emit_table(b, v, path, depth + 1, err)) < 0)
            break;              /* a path past its bound has been freed */
        path->len = at;
        path->data[at] = '\0';
    }
    free(keys);
    return rc;
}

int cl_toml_emit(json_t *doc, cl_buf *out, cl_error *err)
{
    cl_buf path;
    int rc;

    if (!json_is_object(doc))
        return cl_error_set(err, CL_EINVALID, "a TOML document is a table");
    cl_buf_init(&path, CL_TOML_KEY_PATH_MAX);
    rc = emit_table(out, doc, &path, 0, err);
    cl_buf_free(&path);
    if (rc < 0 && err->code == 0)
        rc = cl_error_set(err, rc, rc == CL_ETOOBIG ? "the document is too large"
                                                    : "out of memory");
    return rc;
}
