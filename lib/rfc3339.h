/* rfc3339.h - reading RFC 3339 times ("2026-11-28T15:04:05Z",
 * "2026-11-28T15:04:05.123+01:00") strictly, for request fields and query
 * parameters. */
#ifndef CL_RFC3339_H
#define CL_RFC3339_H

#include <time.h>

/* Seconds since the epoch (fractions dropped); CL_EINVALID when text is not
 * an RFC 3339 date-time or names an impossible date. */
int cl_rfc3339_parse(const char *text, time_t *out);

#endif
