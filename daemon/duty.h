/*
 * duty.h - the daemon's periodic duties (collateral refresh, node
 * watching), each done by exactly one replica at a time (duty.c).
 */
#ifndef CL_DUTY_H
#define CL_DUTY_H

#include "arena.h"
#include "error.h"
#include "pg.h"

typedef struct cl_duty cl_duty;
struct cl_daemon;

/* One round of a duty, on the duty's own connection (no transaction open),
 * with an arena freed after the round; failures it logs itself. */
typedef void (*cl_duty_fn)(struct cl_daemon *d, cl_pg *db, cl_arena *a);

/* Start a duty named `name` (its lock's name, and in the logs) that runs fn
 * every `interval` seconds while this replica holds it; `what` completes
 * "this daemon ..." in the log when it takes the duty. */
int cl_duty_start(cl_duty **out, struct cl_daemon *d, const char *name, const char *what,
                  long long interval, cl_duty_fn fn, cl_error *err);

/* Stop it and give up the duty; NULL is a no-op. */
void cl_duty_stop(cl_duty *duty);

#endif
