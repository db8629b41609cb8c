/*
 * collateral.h - the SGX collateral the daemon holds (api/collateral.c):
 * checking a document, keeping it, and fetching what a quote needs.
 */
#ifndef CL_DAEMON_COLLATERAL_H
#define CL_DAEMON_COLLATERAL_H

#include "arena.h"
#include "http.h"
#include "pg.h"

#include <stddef.h>

typedef struct cl_collateral_item {
    const char *kind;           /* tcb_info, qe_identity, pck_crl, root_ca_crl */
    char key[16];               /* tcb_info: the FMSPC (set by the check); pck_crl: the CA */
    const void *body;
    size_t len;
    const char *chain;          /* PEM issuer chain of JSON collateral */
    char issue[32], next[32], version[16];   /* set by the check */
} cl_collateral_item;

struct cl_daemon;

/* Check a document before it is kept (signatures to a trust root); fills
 * the item's key, dates and version.  CL_EINVALID says why not. */
int cl_collateral_check(struct cl_daemon *d, cl_collateral_item *item, cl_error *err);

/* Keep it in db's open transaction unless a newer one is held (*kept). */
int cl_collateral_keep(cl_pg *db, cl_arena *a, const cl_collateral_item *item,
                       const char *source, int *kept, cl_error *err);

/* Fetch one document from the PCS (key: the FMSPC of a tcb_info, the CA of
 * a pck_crl), check it and keep it in db's open transaction. */
int cl_collateral_fetch(struct cl_daemon *d, cl_pg *db, cl_arena *a, const char *kind,
                        const char *key, int *kept, cl_error *err);

/* Fetch from the PCS what the platform (FMSPC, PCK CA) needs and the
 * daemon does not hold, or holds past its nextUpdate; one fetch at a time
 * across replicas.  Nothing happens when no PCS is configured; what
 * cannot be fetched stays missing (the caller answers 503). */
int cl_collateral_ensure(cl_req *r, const char *fmspc, const char *ca);

#endif
