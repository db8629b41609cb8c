/*
 * jobs.h - asking the workers for slow work, from a request.
 *
 * cl_job_enqueue() inserts the job inside the caller's open transaction and
 * sends NOTIFY cloister_jobs, which PostgreSQL delivers only if that
 * transaction commits: no change without its job, no job without its
 * change.  The caller answers 202 with the job (cl_job_accepted).
 */
#ifndef CL_JOBS_H
#define CL_JOBS_H

#include "http.h"

/* params is stolen (NULL for {}); *job is the new job as the API shows it. */
int cl_job_enqueue(cl_req *r, cl_pg *db, const char *kind, const char *target,
                   json_t *params, int max_attempts, json_t **job);

/* 202 Accepted with the job as the body and Location: /v1/jobs/{id}. */
int cl_job_accepted(cl_req *r, json_t *job, json_t **out);

#endif
