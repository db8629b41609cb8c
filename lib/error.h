/*
 * error.h - error codes and the error object every layer fills.
 *
 * A function returns 0 on success or a negative CL_E* code, and fills an
 * optional cl_error with a message a person can act on (lower case, no
 * trailing period, the object quoted).  Named codes exist for expected
 * failures, one per HTTP status in API.md; everything else is CL_ERROR.
 *
 * The table that maps each code to its HTTP status, problem type and title
 * lives in error.c and is the only such mapping in Cloister.
 *
 * Ownership: a cl_error owns its `ext` object (a jansson reference) and
 * releases it in cl_error_clear().  `ext` holds the problem document's
 * extension members: "errors" for 422, "where" for malformed input.
 */
#ifndef CL_ERROR_H
#define CL_ERROR_H

#include <jansson.h>
#include <stddef.h>

enum {
    CL_OK = 0,
    CL_ERROR = -1,          /* unexpected: 500 */
    CL_EMALFORMED = -2,     /* malformed JSON or query: 400 */
    CL_EUNAUTHORIZED = -3,  /* no or bad credentials: 401 */
    CL_EFORBIDDEN = -4,     /* role does not allow it: 403 */
    CL_ENOTFOUND = -5,      /* 404 */
    CL_EMETHOD = -6,        /* method not allowed: 405 */
    CL_ECONFLICT = -7,      /* 409 */
    CL_EPRECONDITION = -8,  /* If-Match mismatch: 412 */
    CL_ETOOBIG = -9,        /* 413 */
    CL_EMEDIATYPE = -10,    /* 415 */
    CL_EINVALID = -11,      /* fields invalid: 422 */
    CL_ERATELIMIT = -12,    /* 429 */
    CL_EUNAVAILABLE = -13,  /* a dependency is down: 503 */
    CL_ERETRY = -14,        /* internal: serialization failure, retry the txn */
};

#define CL_ERROR_MSG_MAX 512

typedef struct cl_error {
    int code;
    char message[CL_ERROR_MSG_MAX];
    json_t *ext;    /* extension members of the problem; owned, may be NULL */
} cl_error;

/* Static facts about a code: HTTP status, stable problem slug, title. */
typedef struct cl_error_info {
    int code;
    int status;
    const char *slug;   /* appended to CL_PROBLEM_BASE */
    const char *title;
} cl_error_info;

#define CL_PROBLEM_BASE "https://cloister.dev/problems/"

/*
 * Set err (if not NULL) to code with a printf-style message; returns code so
 * callers can write `return cl_error_set(err, CL_ENOTFOUND, "...")`.
 * A message longer than CL_ERROR_MSG_MAX is cut and marked with "...".
 */
int cl_error_set(cl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Put a printf-style prefix in front of err's message ("layer 2: ...");
 * returns err's code. */
int cl_error_prefix(cl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append a field error (422); sets err->code to CL_EINVALID. */
int cl_error_field(cl_error *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set the extension member `name` to value (stolen reference). */
void cl_error_ext(cl_error *err, const char *name, json_t *value);

/* Release what err owns and reset it to CL_OK. */
void cl_error_clear(cl_error *err);

/* The table row for code; unknown codes map to the CL_ERROR row. */
const cl_error_info *cl_error_lookup(int code);

/* The code whose HTTP status is status, or CL_ERROR. */
int cl_error_from_status(int status);

#endif
