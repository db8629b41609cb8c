/*
 * auth.h - who is calling, and may they call this route.
 *
 * Two kinds of credentials:
 *
 *   - the `cloister_session` cookie of a person who signed in with
 *     POST /v1/session: a random token whose SHA-256 names a row in
 *     `sessions`; the session acts in one account at a time, with the
 *     person's role there.  Mutations must repeat the session's CSRF token
 *     in X-CSRF-Token.
 *   - `Authorization: Bearer <key>`: an API key, whose SHA-256 names a row in
 *     `api_keys`; a key belongs to one account and has one role.
 *
 * cl_auth_check() is the one place that decides whether a request may reach
 * its handler, from the route's flags: 401 without valid credentials, 403
 * when the role (or kind of credential) does not allow the route.  Whether a
 * particular resource belongs to the caller's account is the handler's
 * question, and the answer for another account's resource is 404.
 */
#ifndef CL_AUTH_H
#define CL_AUTH_H

#include "http.h"

#define CL_SESSION_COOKIE "cloister_session"

/* Authenticate r and check the route's flags; fills cl_req_principal(r). */
int cl_auth_check(cl_req *r, unsigned flags);

/* The SHA-256 of a secret as the hex text PostgreSQL's decode() takes. */
void cl_auth_secret_hash(char out[65], const char *secret);

/* Does the role satisfy the route flags' role requirement? */
int cl_auth_role_allows(const char *role, unsigned flags);

#endif
