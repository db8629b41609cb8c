/*
 * yaml_json.h - a YAML document read with libyaml into JSON (jansson), for
 * the YAML Cloister takes in (kubeconfigs).
 *
 * Mappings become objects (keys must be scalars), sequences arrays, and
 * scalars strings, except that an unquoted plain scalar that YAML 1.2's
 * core schema makes null, true or false, or an integer, becomes that.
 * Anchors and aliases are refused (they make small texts into large
 * trees), as are tags other than the core ones, more than one document,
 * and nesting deeper than max_depth.  The whole input is bounded by the
 * caller.
 */
#ifndef CL_YAML_JSON_H
#define CL_YAML_JSON_H

#include "error.h"

#include <jansson.h>
#include <stddef.h>

/* *out is a new reference; CL_EINVALID says where and why not. */
int cl_yaml_to_json(const char *text, size_t len, size_t max_depth, json_t **out,
                    cl_error *err);

#endif
