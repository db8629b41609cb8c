/*
 * metrics.h - request counters and latency histograms, rendered in the
 * Prometheus text exposition format (version 0.0.4) for GET /metrics.
 *
 * Series are kept per route (by the router's index; one more slot for
 * requests that matched no route) and, for counts, per status code.
 * Recording takes one mutex for a few additions; rendering copies under the
 * same mutex.
 */
#ifndef CL_METRICS_H
#define CL_METRICS_H

#include "buf.h"
#include "pg.h"
#include "router.h"

typedef struct cl_metrics cl_metrics;

int cl_metrics_new(cl_metrics **out, const cl_router *router);
void cl_metrics_free(cl_metrics *m);

/* route_index -1 for unmatched requests. */
void cl_metrics_record(cl_metrics *m, int route_index, int status, double seconds);

/* Requests currently being served (incremented and decremented by http.c). */
void cl_metrics_in_flight(cl_metrics *m, int delta);
long cl_metrics_in_flight_now(cl_metrics *m);

/* Append the exposition text to out; pool may be NULL. */
int cl_metrics_render(cl_metrics *m, cl_pg_pool *pool, cl_buf *out);

#endif
