/*
 * log.c - structured logging; see log.h.
 *
 * A line is built whole in memory and written with one fwrite under the
 * stream's lock, so lines from concurrent threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cl_log_format log_format = CL_LOG_JSON;
static cl_log_level log_level = CL_LOG_INFO;
static FILE *log_stream;
static _Thread_local const char *log_request_id;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void cl_log_setup(cl_log_format format, cl_log_level level, FILE *stream)
{
    log_format = format;
    log_level = level;
    log_stream = stream;
}

int cl_log_format_parse(const char *name)
{
    if (strcmp(name, "json") == 0)
        return CL_LOG_JSON;
    if (strcmp(name, "text") == 0)
        return CL_LOG_TEXT;
    return -1;
}

int cl_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void cl_log_context(const char *request_id)
{
    log_request_id = request_id;
}

static void format_time(char *dst, size_t size)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(dst, size, "%.19s.%03dZ", base, (int)(ts.tv_nsec / 1000000) % 1000);
}

static char *text_line(const char *when, cl_log_level level, const char *msg,
                       json_t *fields)
{
    const char *key;
    json_t *value;
    size_t size = 0;
    char *line = NULL;
    FILE *m = open_memstream(&line, &size);

    if (m == NULL)
        return NULL;
    fprintf(m, "%s %-5s %s", when, level_names[level], msg);
    if (log_request_id != NULL)
        fprintf(m, " request_id=%s", log_request_id);
    json_object_foreach(fields, key, value) {
        char *v = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
        const char *shown = v;

        if (json_is_string(value))
            shown = json_string_value(value);
        fprintf(m, " %s=%s", key, shown ? shown : "?");
        free(v);
    }
    fputc('\n', m);
    fclose(m);
    return line;
}

/* jansson refuses strings that are not UTF-8; a log line must not be lost
 * for that, so such a message is kept with its non-ASCII bytes as '?' */
static void make_utf8(char *msg)
{
    json_t *probe = json_string(msg);

    if (probe != NULL) {
        json_decref(probe);
        return;
    }
    for (unsigned char *p = (unsigned char *)msg; *p; p++)
        if (*p >= 0x80)
            *p = '?';
}

void cl_log_kv(cl_log_level level, json_t *fields, const char *fmt, ...)
{
    char when[40], msg[2048];
    char *line = NULL;
    va_list ap;

    if (level < log_level) {
        json_decref(fields);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    make_utf8(msg);
    format_time(when, sizeof(when));
    if (fields == NULL)
        fields = json_object();

    if (log_format == CL_LOG_TEXT) {
        line = text_line(when, level, msg, fields);
    } else {
        json_t *obj = json_pack("{s:s, s:s, s:s}", "time", when,
                                "level", level_names[level], "msg", msg);

        if (obj != NULL) {
            if (log_request_id != NULL)
                json_object_set_new(obj, "request_id",
                                    json_string(log_request_id));
            json_object_update_missing(obj, fields);
            char *body = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(6));
            if (body != NULL) {
                size_t n = strlen(body);
                line = malloc(n + 2);
                if (line != NULL) {
                    memcpy(line, body, n);
                    line[n] = '\n';
                    line[n + 1] = '\0';
                }
                free(body);
            }
            json_decref(obj);
        }
    }
    json_decref(fields);

    FILE *out = log_stream ? log_stream : stderr;
    if (line != NULL) {
        flockfile(out);
        fputs(line, out);
        fflush(out);
        funlockfile(out);
        free(line);
    }
}
