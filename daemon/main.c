/*
 * main.c - cloisterd: start-up, the subcommands, and shutdown.
 *
 *   cloisterd [serve] [OPTIONS]   run the daemon (the default)
 *   cloisterd migrate [OPTIONS]   apply pending migrations and exit
 *   cloisterd routes              print the route table as JSON
 *
 * Start-up order: settings, logging, key-encryption key, migrations (under
 * their advisory lock; or a check only, with --migrate=false), the pool,
 * the router and metrics, then the HTTP server.  SIGTERM and SIGINT are
 * blocked in every thread and taken by sigwait() here, so shutdown runs in
 * ordinary code: stop accepting, let requests in flight finish, close the
 * pool.
 */
#include "config.h"
#include "daemon.h"
#include "http_server.h"
#include "kek.h"
#include "log.h"
#include "metrics.h"
#include "router.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: cloisterd [serve|migrate|routes] [OPTIONS]\n"
        "\n"
        "The Cloister control-plane daemon: the REST API under /v1/, the web portal,\n"
        "/healthz, /readyz and /metrics.\n"
        "\n"
        "commands:\n"
        "  serve      run the daemon (default)\n"
        "  migrate    apply pending database migrations and exit\n"
        "  routes     print the route table as JSON and exit\n"
        "\n"
        "options (each also from the environment, or from the --config file):\n");
    cl_config_help(out, cl_settings_table, cl_settings_count);
    fprintf(out,
        "  --help                         show this help\n"
        "  --version                      show the version\n"
        "\n"
        "example:\n"
        "  cloisterd --database-url postgresql:///cloister?host=/run/postgresql \\\n"
        "            --kek-file /etc/cloister/kek --listen 0.0.0.0:8443 \\\n"
        "            --tls-cert server.pem --tls-key server.key\n");
}

static int print_routes(void)
{
    json_t *list = json_array();
    char *text;

    for (size_t t = 0; cl_route_tables[t] != NULL; t++)
        for (const cl_route *r = cl_route_tables[t]; r->method != NULL; r++)
            json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:b}",
                "method", r->method, "path", r->pattern,
                "public", (r->flags & CL_PUBLIC) != 0,
                "json_body", (r->flags & CL_JSON_BODY) != 0));
    text = json_dumps(list, JSON_INDENT(2));
    json_decref(list);
    if (text == NULL)
        return 1;
    puts(text);
    free(text);
    return 0;
}

static int setup_logging(const cl_settings *cfg, cl_error *err)
{
    int format = cl_log_format_parse(cfg->log_format);
    int level = cl_log_level_parse(cfg->log_level);

    if (format < 0)
        return cl_error_set(err, CL_EINVALID, "--log-format must be json or text, not \"%s\"",
                            cfg->log_format);
    if (level < 0)
        return cl_error_set(err, CL_EINVALID,
                            "--log-level must be debug, info, warn or error, not \"%s\"",
                            cfg->log_level);
    cl_log_setup((cl_log_format)format, (cl_log_level)level, stderr);
    return 0;
}

/* Apply (or with --migrate=false only check) the migrations. */
static int migrate(cl_daemon *d, int apply, cl_error *err)
{
    PGconn *conn = NULL;
    int rc, applied = 0;

    if ((rc = cl_migrate_load(&d->migrations, d->cfg.migrations_dir, err)) < 0)
        return rc;
    if ((rc = cl_pg_connect(&conn, d->cfg.database_url, "cloisterd-migrate", err)) < 0)
        return rc;
    if (apply) {
        rc = cl_migrate_apply(conn, &d->migrations, &applied, err);
        if (rc == 0)
            cl_log_kv(CL_LOG_INFO, json_pack("{s:i, s:i}", "applied", applied,
                      "known", (int)d->migrations.count), "database schema is current");
    } else {
        rc = cl_migrate_check(conn, &d->migrations, err);
    }
    PQfinish(conn);
    return rc;
}

static int serve(cl_daemon *d, cl_error *err)
{
    cl_http *http = NULL;
    sigset_t stop;
    int rc, sig = 0;

    if ((rc = cl_kek_load(d->kek, d->cfg.kek_file, err)) < 0)
        return rc;
    if ((rc = migrate(d, d->cfg.migrate, err)) < 0)
        return rc;
    if ((rc = cl_pg_pool_new(&d->pool, d->cfg.database_url, (int)d->cfg.db_pool_size,
                             "cloisterd", err)) < 0)
        return rc;
    if ((rc = cl_router_new(&d->router, cl_route_tables, err)) < 0)
        return rc;
    if (cl_metrics_new(&d->metrics, d->router) < 0)
        return cl_error_set(err, CL_ERROR, "out of memory");

    /* block before the server's threads exist, so that they inherit it */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = cl_http_start(&http, d, err)) < 0)
        return rc;
    cl_log_kv(CL_LOG_INFO, json_pack("{s:s, s:i, s:s, s:I}", "listen", d->cfg.listen,
              "port", cl_http_port(http), "version", CL_VERSION,
              "threads", (json_int_t)d->cfg.threads),
              "cloisterd is serving on port %d", cl_http_port(http));

    sigwait(&stop, &sig);
    cl_log_info("received %s; finishing requests in flight (at most %lld s)",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", d->cfg.shutdown_timeout);
    cl_http_stop(http, (int)d->cfg.shutdown_timeout);
    cl_log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    cl_daemon d;
    cl_error err = { 0 };
    const char *command = "serve";
    int first = 1, rc;

    memset(&d, 0, sizeof(d));
    if (argc > 1 && argv[1][0] != '-') {
        command = argv[1];
        first = 2;
    }
    for (int i = first; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("cloisterd %s\n", CL_VERSION);
            return 0;
        }
    }
    if (strcmp(command, "routes") == 0)
        return print_routes();
    if (strcmp(command, "serve") != 0 && strcmp(command, "migrate") != 0) {
        fprintf(stderr, "cloisterd: unknown command \"%s\"\n\n", command);
        usage(stderr);
        return 2;
    }

    rc = cl_config_load(&d.cfg, cl_settings_table, cl_settings_count,
                        argc - first, argv + first, &err);
    if (rc < 0) {
        fprintf(stderr, "cloisterd: %s\n", err.message);
        cl_config_free(&d.cfg, cl_settings_table, cl_settings_count);
        return 2;
    }
    if ((rc = setup_logging(&d.cfg, &err)) == 0)
        rc = strcmp(command, "migrate") == 0 ? migrate(&d, 1, &err) : serve(&d, &err);
    if (rc < 0)
        cl_log_error("%s", err.message);

    cl_metrics_free(d.metrics);
    cl_router_free(d.router);
    cl_pg_pool_free(d.pool);
    cl_migrate_free(&d.migrations);
    cl_config_free(&d.cfg, cl_settings_table, cl_settings_count);
    cl_error_clear(&err);
    OPENSSL_cleanse(d.kek, sizeof(d.kek));
    return rc < 0 ? 1 : 0;
}
