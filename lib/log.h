/*
 * log.h - structured logs: one JSON object per line on stderr.
 *
 * Every line carries time (RFC 3339 UTC, milliseconds), level and msg, and
 * the request or job id of the calling thread when one is set.  Extra
 * key/value pairs are given as a jansson object whose reference the call
 * steals.  `--log-format=text` prints the same facts for people.
 *
 * The process-wide settings (format, level) are written once at start-up,
 * before threads exist; the thread-local context is set by the HTTP layer
 * around each request.
 */
#ifndef CL_LOG_H
#define CL_LOG_H

#include <jansson.h>
#include <stdio.h>

typedef enum { CL_LOG_DEBUG, CL_LOG_INFO, CL_LOG_WARN, CL_LOG_ERROR } cl_log_level;
typedef enum { CL_LOG_JSON, CL_LOG_TEXT } cl_log_format;

void cl_log_setup(cl_log_format format, cl_log_level level, FILE *stream);

/* Parse "json"/"text" and "debug"/"info"/"warn"/"error"; -1 if unknown. */
int cl_log_format_parse(const char *name);
int cl_log_level_parse(const char *name);

/* Set the calling thread's request (or job) id; NULL clears it.  The string
 * is borrowed and must outlive its use as context. */
void cl_log_context(const char *request_id);

/* Log msg with extra fields (stolen, may be NULL). */
void cl_log_kv(cl_log_level level, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cl_log_debug(...) cl_log_kv(CL_LOG_DEBUG, NULL, __VA_ARGS__)
#define cl_log_info(...)  cl_log_kv(CL_LOG_INFO, NULL, __VA_ARGS__)
#define cl_log_warn(...)  cl_log_kv(CL_LOG_WARN, NULL, __VA_ARGS__)
#define cl_log_error(...) cl_log_kv(CL_LOG_ERROR, NULL, __VA_ARGS__)

#endif
