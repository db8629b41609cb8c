/*
 * config.h - settings from defaults, a file, the environment and flags.
 *
 * A program describes its settings as a table; each row names a field of the
 * program's own settings struct by offset.  Later sources win:
 *
 *     built-in default < config file < CLOISTER_<NAME> < --name flag
 *
 * The file is a JSON object whose keys are the setting names (the flag names
 * without "--"); it is chosen by --config FILE or CLOISTER_CONFIG.  Unknown
 * keys, unknown flags and values out of range are errors, never ignored.
 *
 * Values: strings; integers (decimal); sizes (integers with an optional
 * K, M or G suffix, powers of 1024); booleans (true/false, yes/no, 1/0, on/off;
 * a bare --flag means true).
 *
 * Ownership: string fields are malloc'd by cl_config_load() and released by
 * cl_config_free(); the table is borrowed.
 */
#ifndef CL_CONFIG_H
#define CL_CONFIG_H

#include "error.h"

#include <stddef.h>
#include <stdio.h>

typedef enum {
    CL_CFG_STRING,  /* char * */
    CL_CFG_INT,     /* long long */
    CL_CFG_SIZE,    /* long long, with K/M/G suffixes */
    CL_CFG_BOOL,    /* int */
} cl_config_type;

typedef struct cl_config_setting {
    const char *name;       /* "max-body-size" -> --max-body-size, CLOISTER_MAX_BODY_SIZE */
    cl_config_type type;
    size_t offset;          /* offsetof(settings struct, field) */
    const char *def;        /* default as text; NULL for none */
    long long min, max;     /* bounds for CL_CFG_INT and CL_CFG_SIZE */
    const char *help;       /* one line for --help */
} cl_config_setting;

/*
 * Fill target from the sources above.  argv[0..argc) are flags only (the
 * caller removes the program name and subcommand).  On error, err says which
 * source and setting was wrong; target may be partly filled and must still
 * be released with cl_config_free().
 */
int cl_config_load(void *target, const cl_config_setting *table, size_t n,
                   int argc, char **argv, cl_error *err);

/* Release the strings cl_config_load() stored in target. */
void cl_config_free(void *target, const cl_config_setting *table, size_t n);

/* Print every setting: flag, environment variable, default, help. */
void cl_config_help(FILE *out, const cl_config_setting *table, size_t n);

/* Parse a size such as "1M" or "4096"; CL_EINVALID when malformed. */
int cl_config_parse_size(const char *text, long long *out);

/* Parse a boolean word; CL_EINVALID when it is none of the accepted ones. */
int cl_config_parse_bool(const char *text, int *out);

#endif
