/*
 * local.c - the agent's endpoint for enclaves on its node (API.md), plain
 * HTTP on the node's address, port 9092 by default: Gramine lets an
 * enclave reach the host over TCP, not over Unix sockets, and what passes
 * here is bound by the enclave's quote and encrypted to its key.
 *
 *   GET  /healthz    {"status": "ok", "enrolled", "node_id", "revoked"}
 *   POST /v1/nonce   relayed as the node's signed POST /v1/attestation/nonce
 *   POST /v1/attest  {"app_id", "csr", "quote", "nonce"}: relayed as the
 *                    node's signed POST /v1/apps/{app_id}/attest
 *                    {"csr", "quote", "nonce"}
 *
 * Relays answer with the daemon's status and body, or 503 while the node
 * has not enrolled.  Bodies are bounded (64 KiB).
 */
#include "agent.h"
#include "log.h"
#include "net.h"
#include "token.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY_MAX (64 * 1024)

struct agent_local {
    agent *a;
    struct MHD_Daemon *mhd;
};

typedef struct request {
    char *body;
    size_t len;
    int too_big;
} request;

static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    struct MHD_Response *resp;
    enum MHD_Result ret;

    json_decref(doc);
    if (text == NULL)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result problem(struct MHD_Connection *conn, unsigned status, const char *detail)
{
    return send_json(conn, status, json_pack("{s:s, s:i, s:s}", "title", "Agent", "status",
                                             (int)status, "detail", detail));
}

/* Send the request on as the node and answer with what the daemon said. */
static enum MHD_Result relay(struct MHD_Connection *conn, agent *a, const char *path,
                             json_t *body)
{
    agent_reply reply;
    cl_error err = { 0 };
    enum MHD_Result ret;

    if (agent_signed(a, "POST", path, body, &reply, &err) < 0) {
        ret = problem(conn, 502, err.message);
        cl_error_clear(&err);
        return ret;
    }
    ret = reply.body ? send_json(conn, (unsigned)reply.status, json_incref(reply.body))
                     : problem(conn, 502, "the daemon's answer was not JSON");
    agent_reply_free(&reply);
    return ret;
}

static enum MHD_Result attest(struct MHD_Connection *conn, agent *a, const request *rq)
{
    json_t *in = json_loadb(rq->body ? rq->body : "", rq->len, 0, NULL), *out;
    const char *app = json_string_value(json_object_get(in, "app_id"));
    char path[128];
    enum MHD_Result ret;

    if (!json_is_object(in) || app == NULL || !cl_uuid_valid(app) ||
        !json_is_string(json_object_get(in, "csr")) ||
        !json_is_string(json_object_get(in, "quote"))) {
        json_decref(in);
        return problem(conn, 422, "the body must be {\"app_id\": <uuid>, \"csr\": <PEM>, "
                                  "\"quote\": <base64>, \"nonce\": <base64>}");
    }
    snprintf(path, sizeof(path), "/v1/apps/%s/attest", app);
    out = json_pack("{s:O, s:O, s:O*}", "csr", json_object_get(in, "csr"), "quote",
                    json_object_get(in, "quote"), "nonce", json_object_get(in, "nonce"));
    ret = relay(conn, a, path, out);
    json_decref(out);
    json_decref(in);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **con_cls)
{
    agent_local *l = cls;
    agent *a = l->a;
    request *rq = *con_cls;
    int enrolled;

    (void)version;
    if (rq == NULL) {
        if ((rq = calloc(1, sizeof(*rq))) == NULL)
            return MHD_NO;
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (rq->len + *upload_size > BODY_MAX) {
            rq->too_big = 1;
        } else {
            char *grown = realloc(rq->body, rq->len + *upload_size + 1);
            if (grown == NULL)
                return MHD_NO;
            rq->body = grown;
            memcpy(rq->body + rq->len, upload, *upload_size);
            rq->len += *upload_size;
            rq->body[rq->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&a->lock);
    enrolled = a->key != NULL && !a->revoked;
    json_t *health = json_pack("{s:s, s:b, s:s?, s:b}", "status", "ok", "enrolled", enrolled,
                               "node_id", a->key ? a->node_id : NULL, "revoked", a->revoked);
    pthread_mutex_unlock(&a->lock);
    if (strcmp(url, "/healthz") == 0 && (strcmp(method, "GET") == 0 ||
                                         strcmp(method, "HEAD") == 0))
        return send_json(conn, 200, health);
    json_decref(health);
    if (strcmp(url, "/v1/nonce") != 0 && strcmp(url, "/v1/attest") != 0)
        return problem(conn, 404, "the agent serves /healthz, POST /v1/nonce and "
                                  "POST /v1/attest");
    if (strcmp(method, "POST") != 0)
        return problem(conn, 405, "use POST");
    if (rq->too_big)
        return problem(conn, 413, "the body is larger than 64 KiB");
    if (!enrolled)
        return problem(conn, 503, "this node has not enrolled with Cloister");
    if (strcmp(url, "/v1/nonce") == 0)
        return relay(conn, a, "/v1/attestation/nonce", NULL);
    return attest(conn, a, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    request *rq = *con_cls;

    (void)cls;
    (void)conn;
    (void)code;
    if (rq != NULL) {
        free(rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

int agent_local_start(agent_local **out, agent *a, cl_error *err)
{
    agent_local *l;
    int fd, port = 0;

    *out = NULL;
    if (strcmp(a->cfg.listen, "off") == 0)
        return 0;
    if ((fd = cl_listen(a->cfg.listen, &port, err)) < 0)
        return fd;
    if ((l = calloc(1, sizeof(*l))) == NULL) {
        close(fd);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    l->a = a;
    l->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                              0, NULL, NULL, on_request, l,
                              MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_CONNECTION_LIMIT, 64u,
                              MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                              MHD_OPTION_END);
    if (l->mhd == NULL) {
        close(fd);
        free(l);
        return cl_error_set(err, CL_ERROR, "could not serve on \"%s\"", a->cfg.listen);
    }
    cl_log_info("enclaves on this node reach the agent on port %d", port);
    *out = l;
    return 0;
}

void agent_local_stop(agent_local *l)
{
    if (l == NULL)
        return;
    MHD_stop_daemon(l->mhd);
    free(l);
}
