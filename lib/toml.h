/*
 * toml.h - reading the TOML that Gramine manifests use, into jansson.
 *
 * Debian has no C TOML library, so this is a small reader of the subset
 * Gramine manifests use (TOML 1.0): comments; [tables] and [dotted.tables];
 * dotted keys (bare or quoted); basic strings with escapes and literal
 * strings; decimal integers (with _ separators); booleans; arrays (over
 * several lines, trailing comma allowed) and inline tables.  Anything else
 * (floats, dates, multi-line strings, arrays of tables) is refused by name,
 * as are duplicate keys.  Input and nesting are bounded.
 *
 * Ownership: *out is a new JSON object the caller decrefs.  The writer,
 * cl_toml_emit, is below.
 */
#ifndef CL_TOML_H
#define CL_TOML_H

#include "buf.h"
#include "error.h"

#include <jansson.h>
#include <stddef.h>

#define CL_TOML_MAX (4 * 1024 * 1024)
#define CL_TOML_MAX_DEPTH 32
#define CL_TOML_KEY_PATH_MAX 4096

/* CL_EINVALID with the line and what was wrong. */
int cl_toml_parse(json_t **out, const char *text, size_t len, cl_error *err);

/* The value at a dotted path ("sgx.enclave_size"), borrowed; NULL if absent. */
json_t *cl_toml_get(json_t *doc, const char *path);

/* Append doc as TOML to out: keys sorted at every level, so equal documents
 * give equal bytes; plain keys before sub-tables, each sub-table under its
 * [dotted.header]; arrays one element a line; objects inside arrays as
 * inline tables.  Strings are basic strings, escaped.  CL_EINVALID for what
 * TOML or Gramine cannot hold (null, reals), CL_ETOOBIG past out's bound.
 * What it writes, cl_toml_parse reads back to an equal document. */
int cl_toml_emit(json_t *doc, cl_buf *out, cl_error *err);

#endif
