/*
 * refresh.h - the duty of keeping SGX collateral fresh (refresh.c), run
 * by duty.c on one replica at a time.
 */
#ifndef CL_REFRESH_H
#define CL_REFRESH_H

#include "arena.h"
#include "pg.h"

struct cl_daemon;

/* One round: every collateral document held, fetched again and kept when
 * newer. */
void cl_refresh_collateral(struct cl_daemon *d, cl_pg *db, cl_arena *a);

#endif
