/*
 * error.c - the one table from internal error codes to HTTP statuses and
 * RFC 9457 problem types.  API.md lists the statuses; add a row here, and a
 * code in error.h, when a new status is needed.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const cl_error_info error_table[] = {
    { CL_ERROR,         500, "internal",               "Internal Server Error" },
    { CL_EMALFORMED,    400, "malformed-request",      "Malformed Request" },
    { CL_EUNAUTHORIZED, 401, "unauthorized",           "Unauthorized" },
    { CL_EFORBIDDEN,    403, "forbidden",              "Forbidden" },
    { CL_ENOTFOUND,     404, "not-found",              "Not Found" },
    { CL_EMETHOD,       405, "method-not-allowed",     "Method Not Allowed" },
    { CL_ECONFLICT,     409, "conflict",               "Conflict" },
    { CL_EPRECONDITION, 412, "precondition-failed",    "Precondition Failed" },
    { CL_ETOOBIG,       413, "payload-too-large",      "Payload Too Large" },
    { CL_EMEDIATYPE,    415, "unsupported-media-type", "Unsupported Media Type" },
    { CL_EINVALID,      422, "invalid-fields",         "Invalid Fields" },
    { CL_ERATELIMIT,    429, "rate-limited",           "Too Many Requests" },
    { CL_EUNAVAILABLE,  503, "unavailable",            "Service Unavailable" },
};

const cl_error_info *cl_error_lookup(int code)
{
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
        if (error_table[i].code == code)
            return &error_table[i];
    return &error_table[0];
}

int cl_error_from_status(int status)
{
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
        if (error_table[i].status == status)
            return error_table[i].code;
    return CL_ERROR;
}

static void format_message(char *dst, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(dst, size, fmt, ap);

    if (n >= (int)size && size > 4)
        memcpy(dst + size - 4, "...", 4);
}

int cl_error_set(cl_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    format_message(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

int cl_error_prefix(cl_error *err, const char *fmt, ...)
{
    char prefix[CL_ERROR_MSG_MAX], joined[2 * CL_ERROR_MSG_MAX];
    va_list ap;

    if (err == NULL)
        return CL_ERROR;
    va_start(ap, fmt);
    format_message(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    snprintf(joined, sizeof(joined), "%s%s", prefix, err->message);
    cl_error_set(err, err->code, "%s", joined);
    return err->code;
}

int cl_error_field(cl_error *err, const char *field, const char *fmt, ...)
{
    char message[CL_ERROR_MSG_MAX];
    va_list ap;

    if (err == NULL)
        return CL_EINVALID;
    va_start(ap, fmt);
    format_message(message, sizeof(message), fmt, ap);
    va_end(ap);

    json_t *list = err->ext ? json_object_get(err->ext, "errors") : NULL;
    if (list == NULL) {
        cl_error_ext(err, "errors", json_array());
        list = err->ext ? json_object_get(err->ext, "errors") : NULL;
    }
    json_array_append_new(list,
        json_pack("{s:s, s:s}", "field", field, "message", message));
    if (err->code != CL_EINVALID) {
        err->code = CL_EINVALID;
        snprintf(err->message, sizeof(err->message),
                 "one or more fields are invalid");
    }
    return CL_EINVALID;
}

void cl_error_ext(cl_error *err, const char *name, json_t *value)
{
    if (err == NULL) {
        json_decref(value);
        return;
    }
    if (err->ext == NULL)
        err->ext = json_object();
    json_object_set_new(err->ext, name, value);
}

void cl_error_clear(cl_error *err)
{
    if (err == NULL)
        return;
    json_decref(err->ext);
    err->ext = NULL;
    err->code = CL_OK;
    err->message[0] = '\0';
}
