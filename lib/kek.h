/*
 * kek.h - the key-encryption key that seals secrets at rest.
 *
 * The key lives in a file readable only by its owner (mode 0600 or 0400):
 * either 32 raw bytes or 64 hex digits, optionally followed by a newline.
 * A file that anyone else may read, or of any other shape, is refused with
 * a message that says how to fix it.
 */
#ifndef CL_KEK_H
#define CL_KEK_H

#include "error.h"
#include "pg.h"

#define CL_KEK_SIZE 32

int cl_kek_load(unsigned char key[CL_KEK_SIZE], const char *path, cl_error *err);

/* The associated data of the database's key check (table kek_check). */
#define CL_KEK_CHECK_AAD "kek-check"

/* Whether key is the one the database's secrets are sealed under: the
 * value in kek_check (sealed on first use, under the first key to come)
 * must open with it.  CL_EINVALID, saying so plainly, when it does not. */
int cl_kek_check(cl_pg *db, const unsigned char key[CL_KEK_SIZE], cl_error *err);

#endif
