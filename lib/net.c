/*
 * net.c - listening sockets for the programs' HTTP servers.
 */
#include "net.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int split_listen(const char *address, char *host, size_t hsize, char *port,
                        size_t psize)
{
    const char *colon;

    if (address[0] == '[') {
        const char *bracket = strchr(address, ']');

        if (bracket == NULL || bracket[1] != ':')
            return -1;
        snprintf(host, hsize, "%.*s", (int)(bracket - address - 1), address + 1);
        colon = bracket + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL)
            return -1;
        snprintf(host, hsize, "%.*s", (int)(colon - address), address);
    }
    snprintf(port, psize, "%s", colon + 1);
    return port[0] == '\0' || strspn(port, "0123456789") != strlen(port) ? -1 : 0;
}

int cl_listen(const char *address, int *port_out, cl_error *err)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char host[256], port[16];
    int fd = -1, one = 1, gai;

    if (split_listen(address, host, sizeof(host), port, sizeof(port)) < 0)
        return cl_error_set(err, CL_EINVALID,
                            "listen address \"%s\" is not HOST:PORT, [IPV6]:PORT or :PORT",
                            address);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    gai = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gai != 0)
        return cl_error_set(err, CL_EINVALID, "could not resolve listen address \"%s\": %s",
                            address, gai_strerror(gai));
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0) {
        int saved = errno;

        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return cl_error_set(err, CL_EUNAVAILABLE, "could not listen on \"%s\": %s",
                            address, strerror(saved));
    }
    freeaddrinfo(res);

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    *port_out = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        char sport[16];

        if (getnameinfo((struct sockaddr *)&ss, sl, NULL, 0, sport, sizeof(sport),
                        NI_NUMERICSERV) == 0)
            *port_out = (int)strtol(sport, NULL, 10);
    }
    return fd;
}

int cl_is_loopback(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
    if (ss.ss_family == AF_INET6) {
        const struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}
