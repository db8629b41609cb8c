/*
 * static_files.h - the web portal's files, served from --static-dir.
 *
 * GET and HEAD of a path that no route matches are looked up under the
 * directory: "/" is index.html, segments that are empty, "." or "..", or
 * start with a dot are refused, and the resolved file must lie inside the
 * directory (a symbolic link that leads out of it is not followed).  Paths
 * under /v1/ are never static.
 */
#ifndef CL_STATIC_FILES_H
#define CL_STATIC_FILES_H

#include "http.h"

/* 0 when the file is being sent (cl_req_send_file), CL_ENOTFOUND if not. */
int cl_static_serve(cl_req *r, const char *dir);

/* The Content-Type for a file name, by its extension. */
const char *cl_static_type(const char *name);

#endif
