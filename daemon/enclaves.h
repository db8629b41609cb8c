/*
 * enclaves.h - what attested enclaves receive, shared between the routes
 * that make it (api/enclaves.c, api/secrets.c, api/nodes.c).
 */
#ifndef CL_DAEMON_ENCLAVES_H
#define CL_DAEMON_ENCLAVES_H

#include "http.h"
#include "pg.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* The CSR in the body's `field` (PEM, signed by its own key, which must be
 * EC P-256): the request (freed with the request) and its key's DER
 * SubjectPublicKeyInfo (in the arena).  A field error otherwise. */
int cl_csr_read(cl_req *r, const char *field, const char *pem, X509_REQ **csr, uint8_t **spki,
                size_t *len);

/* The app's secrets, each the newest version of its name, as JWE to `to`
 * (lib/jwe.h): {"NAME": "<jwe>", ...} into *out; audited as
 * secret.release with the names only. */
int cl_secrets_release(cl_req *r, cl_pg *db, const char *app_id, EVP_PKEY *to, json_t **out);

/* Revoke the caller's account's certificates that are not revoked yet:
 * the one with `id`, or (id NULL) all of `build`'s; onto the CRL, each
 * audited; *count of them. */
int cl_certificates_revoke(cl_req *r, cl_pg *db, const char *id, const char *build,
                           const char *reason, int *count);

/* Where clients reach the daemon, for the URLs in certificates. */
const char *cl_public_url(cl_req *r);

#endif
