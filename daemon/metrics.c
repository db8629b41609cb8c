/*
 * metrics.c - see metrics.h.
 *
 * Each route has a short list of (status, count) pairs: a route answers with
 * a handful of statuses, so a linear list beats a hash.  A route that somehow
 * produced more distinct statuses than the list holds counts the rest under
 * status "other" rather than dropping them.
 */
#include "metrics.h"
#include "daemon.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STATUSES 16

static const double buckets[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

typedef struct series {
    int status[MAX_STATUSES];
    unsigned long long count[MAX_STATUSES];
    unsigned long long other;
    unsigned long long le[NBUCKETS];   /* cumulative at render time */
    unsigned long long total;
    double sum;
} series;

struct cl_metrics {
    pthread_mutex_t lock;
    const cl_router *router;
    size_t nseries;         /* routes + 1; the last is "unmatched" */
    series *series;
    long in_flight;
    time_t started;
};

int cl_metrics_new(cl_metrics **out, const cl_router *router)
{
    cl_metrics *m = calloc(1, sizeof(*m));

    *out = NULL;
    if (m == NULL)
        return CL_ERROR;
    m->nseries = cl_router_count(router) + 1;
    m->series = calloc(m->nseries, sizeof(*m->series));
    if (m->series == NULL) {
        free(m);
        return CL_ERROR;
    }
    m->router = router;
    m->started = time(NULL);
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void cl_metrics_free(cl_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m->series);
    free(m);
}

void cl_metrics_record(cl_metrics *m, int route_index, int status, double seconds)
{
    size_t i = route_index < 0 ? m->nseries - 1 : (size_t)route_index;
    series *s;

    if (i >= m->nseries)
        return;
    pthread_mutex_lock(&m->lock);
    s = &m->series[i];
    for (size_t k = 0; k < MAX_STATUSES; k++) {
        if (s->status[k] == status || s->status[k] == 0) {
            s->status[k] = status;
            s->count[k]++;
            goto counted;
        }
    }
    s->other++;
counted:
    for (size_t b = 0; b < NBUCKETS; b++)
        if (seconds <= buckets[b]) {
            s->le[b]++;
            break;
        }
    s->total++;
    s->sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

void cl_metrics_in_flight(cl_metrics *m, int delta)
{
    pthread_mutex_lock(&m->lock);
    m->in_flight += delta;
    pthread_mutex_unlock(&m->lock);
}

long cl_metrics_in_flight_now(cl_metrics *m)
{
    long n;

    pthread_mutex_lock(&m->lock);
    n = m->in_flight;
    pthread_mutex_unlock(&m->lock);
    return n;
}

static void labels(cl_metrics *m, size_t i, const char **method, const char **route)
{
    const cl_route *r = cl_router_get(m->router, i);

    *method = r ? r->method : "";
    *route = r ? r->pattern : "unmatched";
}

int cl_metrics_render(cl_metrics *m, cl_pg_pool *pool, cl_buf *out)
{
    series *copy;
    long in_flight;
    int rc = 0;

    copy = malloc(m->nseries * sizeof(*copy));
    if (copy == NULL)
        return CL_ERROR;
    pthread_mutex_lock(&m->lock);
    memcpy(copy, m->series, m->nseries * sizeof(*copy));
    in_flight = m->in_flight;
    pthread_mutex_unlock(&m->lock);

    rc |= cl_buf_appendf(out,
        "# HELP cloister_build_info Version of the running cloisterd.\n"
        "# TYPE cloister_build_info gauge\n"
        "cloister_build_info{version=\"%s\"} 1\n"
        "# HELP cloister_start_time_seconds Start time of the process since the epoch.\n"
        "# TYPE cloister_start_time_seconds gauge\n"
        "cloister_start_time_seconds %lld\n"
        "# HELP cloister_http_requests_in_flight Requests being served now.\n"
        "# TYPE cloister_http_requests_in_flight gauge\n"
        "cloister_http_requests_in_flight %ld\n",
        CL_VERSION, (long long)m->started, in_flight);

    rc |= cl_buf_appendf(out,
        "# HELP cloister_http_requests_total HTTP requests answered, by route and status.\n"
        "# TYPE cloister_http_requests_total counter\n");
    for (size_t i = 0; i < m->nseries; i++) {
        const char *method, *route;

        labels(m, i, &method, &route);
        for (size_t k = 0; k < MAX_STATUSES && copy[i].status[k] != 0; k++)
            rc |= cl_buf_appendf(out,
                "cloister_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                method, route, copy[i].status[k], copy[i].count[k]);
        if (copy[i].other > 0)
            rc |= cl_buf_appendf(out,
                "cloister_http_requests_total{method=\"%s\",route=\"%s\",status=\"other\"} %llu\n",
                method, route, copy[i].other);
    }

    rc |= cl_buf_appendf(out,
        "# HELP cloister_http_request_duration_seconds Time to answer a request, by route.\n"
        "# TYPE cloister_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->nseries; i++) {
        const char *method, *route;
        unsigned long long cumulative = 0;

        if (copy[i].total == 0)
            continue;
        labels(m, i, &method, &route);
        for (size_t b = 0; b < NBUCKETS; b++) {
            cumulative += copy[i].le[b];
            rc |= cl_buf_appendf(out,
                "cloister_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                "le=\"%g\"} %llu\n", method, route, buckets[b], cumulative);
        }
        rc |= cl_buf_appendf(out,
            "cloister_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
            "le=\"+Inf\"} %llu\n"
            "cloister_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n"
            "cloister_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n",
            method, route, copy[i].total, method, route, copy[i].sum,
            method, route, copy[i].total);
    }

    if (pool != NULL) {
        cl_pg_stats st;

        cl_pg_pool_stats(pool, &st);
        rc |= cl_buf_appendf(out,
            "# HELP cloister_db_pool_size Most database connections the pool opens.\n"
            "# TYPE cloister_db_pool_size gauge\n"
            "cloister_db_pool_size %d\n"
            "# HELP cloister_db_pool_connections Database connections, by state.\n"
            "# TYPE cloister_db_pool_connections gauge\n"
            "cloister_db_pool_connections{state=\"in_use\"} %d\n"
            "cloister_db_pool_connections{state=\"open\"} %d\n",
            st.size, st.in_use, st.open);
    }
    free(copy);
    return rc < 0 ? CL_ETOOBIG : 0;
}
