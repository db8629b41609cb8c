/*
 * init.h - cloister-init (init.c) and its exchange with the node's agent
 * (http.c).
 */
#ifndef CL_INIT_H
#define CL_INIT_H

#include <jansson.h>

typedef struct init_config {
    const char *app_id;
    const char *agent;          /* IP:PORT or [IPV6]:PORT */
    const char *domains;        /* comma-separated */
    const char *dir;
    int retry;                  /* on failure: retry with back-off, or exit */
} init_config;

/* POST body (NULL: none) as JSON to http://agent/path; *status and the
 * answer's JSON (NULL when it has none).  -1, said, when the agent cannot
 * be reached or answers something that is not HTTP. */
int init_http_post(const char *agent, const char *path, json_t *body, long *status,
                   json_t **answer);

#endif
