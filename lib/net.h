/*
 * net.h - listening sockets (net.c).
 */
#ifndef CL_NET_H
#define CL_NET_H

#include "error.h"

/* A listening TCP socket (close-on-exec, SO_REUSEADDR) on HOST:PORT,
 * [IPV6]:PORT or :PORT (every address); *port_out is the port bound (for
 * port 0).  The descriptor, or CL_EINVALID / CL_EUNAVAILABLE saying why. */
int cl_listen(const char *address, int *port_out, cl_error *err);

#endif
