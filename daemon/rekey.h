/*
 * rekey.h - `cloisterd rekey` (rekey.c).
 */
#ifndef CL_REKEY_H
#define CL_REKEY_H

#include "daemon.h"
#include "error.h"

/* Reseal every secret under --new-kek-file's key, in one transaction. */
int cl_rekey(cl_daemon *d, cl_error *err);

#endif
