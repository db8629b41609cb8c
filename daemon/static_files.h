/*
 * static_files.h - serving the web portal from --static-dir.
 *
 * The portal is a single-page application: static/index.html and the files
 * beside it (CSS, ES modules, images).  What the daemon does for it:
 *
 *   - Assets are served under a per-release prefix, /assets/<id>/<path>,
 *     where <id> is a digest of every file in the directory taken at
 *     start-up.  They are cached for a year ("immutable"): a new release has
 *     a new id, so browsers never run stale code.  A request with an old id
 *     gets the current file, not cached.
 *   - index.html is read once at start-up, with "%ASSET_BASE%" replaced by
 *     "/assets/<id>/", and is the answer for "/" and for every other GET of
 *     a path outside /v1/ and /assets/ whose last segment has no dot (the
 *     SPA fallback: the portal's own router shows the page).  It is never
 *     cached.
 *   - Portal responses carry a strict Content-Security-Policy: scripts,
 *     styles and connections only from the daemon itself, no inline script,
 *     no framing.
 *
 * Paths are checked segment by segment (no empty, ".", ".." or hidden
 * segments) and the resolved file must lie inside the directory, so a
 * symbolic link cannot lead out of it.
 */
#ifndef CL_STATIC_FILES_H
#define CL_STATIC_FILES_H

#include "http.h"

typedef struct cl_portal cl_portal;

#define CL_PORTAL_CSP \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
    "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; " \
    "form-action 'self'; frame-ancestors 'none'"

/* Read dir; *out is NULL (and the portal is off) when dir has no index.html. */
int cl_portal_open(cl_portal **out, const char *dir, cl_error *err);
void cl_portal_free(cl_portal *p);

/* The release id ("" when the portal is off). */
const char *cl_portal_id(const cl_portal *p);

/* 0 when the request is answered from the portal, CL_ENOTFOUND if not. */
int cl_portal_serve(cl_req *r, const cl_portal *p);

/* The Content-Type for a file name, by its extension. */
const char *cl_static_type(const char *name);

#endif
