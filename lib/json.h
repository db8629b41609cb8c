/*
 * json.h - bounded JSON parsing and small helpers over jansson.
 *
 * Request bodies are parsed by cl_json_parse(), which refuses input nested
 * deeper than a bound before jansson builds anything, and reports where
 * malformed input went wrong (line, column, byte position) in the error's
 * "where" extension.
 *
 * Ownership: *out is a new reference the caller decrefs.
 */
#ifndef CL_JSON_H
#define CL_JSON_H

#include "error.h"

#include <jansson.h>
#include <stddef.h>

/*
 * Parse exactly one JSON value from data[0..len).  Fails with CL_EMALFORMED
 * when the text is not JSON, has trailing garbage, contains a NUL byte, or
 * nests arrays and objects more than max_depth deep.
 */
int cl_json_parse(json_t **out, const char *data, size_t len,
                  size_t max_depth, cl_error *err);

/*
 * The nesting depth of the JSON text (1 for `[]`, 2 for `[[]]`), counted
 * without parsing; stops counting (and returns max_depth + 1) as soon as the
 * bound is passed.  Brackets inside strings do not count.
 */
size_t cl_json_depth(const char *data, size_t len, size_t max_depth);

/* Compact, key-sorted serialisation, malloc'd; NULL on failure. */
char *cl_json_canonical(const json_t *value);

/* list is an array holding the string s. */
int cl_json_has_string(const json_t *list, const char *s);

#endif
