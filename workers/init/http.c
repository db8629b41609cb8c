/*
 * http.c - cloister-init's one kind of HTTP exchange: a POST of JSON to the
 * node's agent, over plain TCP to an IP address (no name lookup, which a
 * static binary cannot do reliably), one request per connection
 * ("Connection: close"), the answer read to its end and bounded.
 */
#include "init.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ANSWER_MAX (4u * 1024 * 1024)
#define TIMEOUT_S 30

/* A connected socket to IP:PORT or [IPV6]:PORT, or -1. */
static int connect_to(const char *agent)
{
    struct sockaddr_storage ss = { 0 };
    char host[64];
    const char *port;
    socklen_t len;
    long p;
    int fd;

    if (agent[0] == '[') {
        const char *end = strchr(agent, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - agent) >= sizeof(host))
            return -1;
        snprintf(host, sizeof(host), "%.*s", (int)(end - agent - 1), agent + 1);
        port = end + 2;
    } else {
        const char *colon = strrchr(agent, ':');
        if (colon == NULL || (size_t)(colon - agent) >= sizeof(host))
            return -1;
        snprintf(host, sizeof(host), "%.*s", (int)(colon - agent), agent);
        port = colon + 1;
    }
    char *end;
    p = strtol(port, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535)
        return -1;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        len = sizeof(*v6);
    } else {
        return -1;
    }
    struct timeval tv = { TIMEOUT_S, 0 };
    if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
        connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int init_http_post(const char *agent, const char *path, json_t *body, long *status,
                   json_t **answer)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, head[512];
    size_t len = text ? strlen(text) : 0, got = 0;
    char *buf = malloc(ANSWER_MAX + 1);
    int fd = -1, rc = -1, n;

    *answer = NULL;
    *status = 0;
    if (buf == NULL || (body != NULL && text == NULL))
        goto done;
    if ((fd = connect_to(agent)) < 0) {
        fprintf(stderr, "cloister-init: cannot reach the agent at %s: %s\n", agent,
                errno ? strerror(errno) : "not IP:PORT");
        goto done;
    }
    n = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\nHost: %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n", path, agent, len);
    if (n <= 0 || (size_t)n >= sizeof(head) || send_all(fd, head, (size_t)n) < 0 ||
        send_all(fd, text ? text : "", len) < 0) {
        fprintf(stderr, "cloister-init: cannot send to the agent at %s\n", agent);
        goto done;
    }
    for (;;) {
        ssize_t r = recv(fd, buf + got, ANSWER_MAX - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 || (r == 0 && got == 0) || (r > 0 && got + (size_t)r >= ANSWER_MAX)) {
            fprintf(stderr, "cloister-init: no whole answer from the agent at %s\n", agent);
            goto done;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) != 0 || end == NULL ||
        sscanf(buf + 8, " %ld", status) != 1) {
        fprintf(stderr, "cloister-init: the agent at %s does not speak HTTP\n", agent);
        goto done;
    }
    *answer = json_loadb(end + 4, got - (size_t)(end + 4 - buf), 0, NULL);
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(text);
    return rc;
}
