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

/* Whether a bound socket's address is a loopback one (127.0.0.0/8, ::1,
 * or ::ffff:127.x.y.z), so that only this machine can reach it. */
int cl_is_loopback(int fd);

#endif
