/*
 * refresh.h - the daemon's background duty of keeping SGX collateral
 * fresh, held by one replica at a time (refresh.c).
 */
#ifndef CL_REFRESH_H
#define CL_REFRESH_H

#include "error.h"

typedef struct cl_refresher cl_refresher;
struct cl_daemon;

/* Start the refresher (*out stays NULL when there is nothing to do: no PCS,
 * or an interval of 0). */
int cl_refresh_start(cl_refresher **out, struct cl_daemon *d, cl_error *err);

/* Stop it and give up the duty; NULL is a no-op. */
void cl_refresh_stop(cl_refresher *r);

#endif
