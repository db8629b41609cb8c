/* rfc3339.c - see rfc3339.h. */
#include "rfc3339.h"
#include "error.h"

#include <ctype.h>
#include <string.h>

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int cl_rfc3339_parse(const char *s, time_t *out)
{
    int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
    struct tm tm = { 0 };
    const char *p;
    time_t t;

    if (strlen(s) < 20 || digits(s, 4, &year) < 0 || s[4] != '-' ||
        digits(s + 5, 2, &mon) < 0 || s[7] != '-' || digits(s + 8, 2, &day) < 0 ||
        (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &hour) < 0 || s[13] != ':' ||
        digits(s + 14, 2, &min) < 0 || s[16] != ':' || digits(s + 17, 2, &sec) < 0)
        return CL_EINVALID;
    p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return CL_EINVALID;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' || digits(p + 4, 2, &om) < 0 ||
            oh > 23 || om > 59)
            return CL_EINVALID;
        p += 6;
    } else {
        return CL_EINVALID;
    }
    if (*p != '\0' || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 ||
        min > 59 || sec > 60)
        return CL_EINVALID;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec > 59 ? 59 : sec;
    t = timegm(&tm);
    if (tm.tm_mday != day || tm.tm_mon != mon - 1)   /* 31 February */
        return CL_EINVALID;
    *out = t - sign * (oh * 3600 + om * 60);
    return 0;
}
