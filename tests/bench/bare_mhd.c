/*
 * bare_mhd.c - the ceiling for tests/bench/api: libmicrohttpd answering
 * every request with a fixed small JSON body, threaded the way cloisterd is
 * (internal polling, a thread pool), and nothing else.
 *
 *   bare_mhd PORT THREADS
 */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char body[] = "{\"status\":\"ok\"}";

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls; (void)url; (void)method; (void)version; (void)upload_data;
    if (*con_cls == NULL) {         /* headers in: wait for the end of the request */
        *con_cls = (void *)1;
        return MHD_YES;
    }
    *upload_data_size = 0;
    resp = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
                                           MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    sigset_t stop;
    int sig;

    if (argc != 3) {
        fprintf(stderr, "usage: bare_mhd PORT THREADS\n");
        return 2;
    }
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO,
                         (uint16_t)strtol(argv[1], NULL, 10), NULL, NULL, answer, NULL,
                         MHD_OPTION_THREAD_POOL_SIZE, (unsigned)strtol(argv[2], NULL, 10),
                         MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bare_mhd: could not start on port %s\n", argv[1]);
        return 1;
    }
    sigwait(&stop, &sig);
    MHD_stop_daemon(d);
    return 0;
}
