/*
 * main.c - cloisterd: start-up, the subcommands, and shutdown.
 *
 *   cloisterd [serve] [OPTIONS]   run the daemon (the default)
 *   cloisterd migrate [OPTIONS]   apply pending migrations and exit
 *   cloisterd routes              print the route table as JSON
 *   cloisterd create-admin --email E
 *                                 create the first instance administrator
 *
 * Start-up order: settings, logging, key-encryption key, migrations (under
 * their advisory lock; or a check only, with --migrate=false), the pool,
 * the router and metrics, then the HTTP server.  SIGTERM and SIGINT are
 * blocked in every thread and taken by sigwait() here, so shutdown runs in
 * ordinary code: stop accepting, let requests in flight finish, close the
 * pool.
 */
#include "auth.h"
#include "config.h"
#include "daemon.h"
#include "http_server.h"
#include "kek.h"
#include "rekey.h"
#include "log.h"
#include "metrics.h"
#include "password.h"
#include "duty.h"
#include "nodes.h"
#include "refresh.h"
#include "resource.h"
#include "router.h"
#include "sgx/dcap.h"
#include "sgx/pck.h"
#include "static_files.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
        "usage: cloisterd [serve|migrate|rekey|routes|create-admin] [OPTIONS]\n"
        "\n"
        "The Cloister control-plane daemon: the REST API under /v1/, the web portal,\n"
        "/healthz, /readyz and /metrics.\n"
        "\n"
        "commands:\n"
        "  serve      run the daemon (default)\n"
        "  migrate    apply pending database migrations and exit\n"
        "  rekey      reseal every secret under --new-kek-file's key, in one\n"
        "             transaction, and exit; then give every daemon and worker the\n"
        "             new key\n"
        "  routes     print the route table as JSON and exit\n"
        "  create-admin --email E\n"
        "             create the instance administrator, if there is none yet, and\n"
        "             print its generated password once\n"
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

    static const char *const roles[] = { "admin", "operator", "auditor" };

    for (size_t t = 0; cl_route_tables[t] != NULL; t++)
        for (const cl_route *r = cl_route_tables[t]; r->method != NULL; r++) {
            json_t *allowed = json_null();

            if (r->flags & CL_ROLE_ANY) {
                allowed = json_array();
                for (size_t i = 0; i < 3; i++)
                    if (cl_auth_role_allows(roles[i], r->flags))
                        json_array_append_new(allowed, json_string(roles[i]));
            }
            json_array_append_new(list, json_pack(
                "{s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:o}",
                "method", r->method, "path", r->pattern,
                "public", (r->flags & CL_PUBLIC) != 0,
                "json_body", (r->flags & (CL_JSON_BODY | CL_JSON_OPTIONAL)) != 0,
                "session_only", (r->flags & CL_SESSION) != 0,
                "instance_admin", (r->flags & CL_INSTANCE_ADMIN) != 0,
                "idempotent", (r->flags & CL_IDEMPOTENT) != 0,
                "join_token", (r->flags & CL_JOIN_TOKEN) != 0,
                "node_signed", (r->flags & CL_NODE_SIGNED) != 0,
                "roles", allowed));
        }
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

/* The first user: an instance administrator with a generated password.
 * Does nothing (and says so) when one exists already. */
static int create_admin(cl_daemon *d, const char *email, cl_error *err)
{
    char password[32], hash[CL_PASSWORD_HASH_MAX];
    cl_arena *a = cl_arena_new(0);
    cl_pg_pool *pool = NULL;
    cl_pg *db = NULL;
    PGresult *res;
    int rc;

    if (email == NULL || strchr(email, '@') == NULL) {
        rc = cl_error_set(err, CL_EINVALID, "create-admin needs --email with an e-mail address");
        goto done;
    }
    if ((rc = migrate(d, 1, err)) < 0 ||
        (rc = cl_pg_pool_new(&pool, d->cfg.database_url, 1, "cloisterd-create-admin", err)) < 0 ||
        (rc = cl_pg_acquire(&db, pool, 5000, err)) < 0 ||
        (rc = cl_pg_exec(NULL, db, a, "BEGIN", 0, NULL, err)) < 0 ||
        (rc = cl_pg_exec(NULL, db, a, "LOCK TABLE users IN EXCLUSIVE MODE", 0, NULL, err)) < 0 ||
        (rc = cl_pg_exec(&res, db, a, "SELECT email FROM users WHERE instance_admin "
                         "ORDER BY created_at LIMIT 1", 0, NULL, err)) < 0)
        goto done;
    if (PQntuples(res) == 1) {
        printf("An instance administrator exists already: %s\n", PQgetvalue(res, 0, 0));
        goto done;
    }
    if (cl_password_generate(password) < 0 || cl_password_hash(hash, password) < 0) {
        rc = cl_error_set(err, CL_ERROR, "could not make a password");
        goto done;
    }
    const char *params[2] = { email, hash };
    if ((rc = cl_pg_exec(&res, db, a, "INSERT INTO users (email, password_hash, instance_admin)"
                         " VALUES ($1, $2, true) RETURNING id", 2, params, err)) < 0 ||
        (rc = cl_audit_append(db, a, err, NULL, "system", "create-admin", "user.create",
                              cl_arena_printf(a, "user:%s", PQgetvalue(res, 0, 0)),
                              json_pack("{s:s, s:b}", "email", email,
                                        "instance_admin", 1))) < 0 ||
        (rc = cl_pg_exec(NULL, db, a, "COMMIT", 0, NULL, err)) < 0)
        goto done;
    printf("Created the instance administrator. Sign in with\n"
           "  e-mail:   %s\n"
           "  password: %s\n"
           "The password is shown only this once; change it with POST /v1/me/password.\n",
           email, password);
done:
    OPENSSL_cleanse(password, sizeof(password));
    cl_pg_release(db);
    cl_pg_pool_free(pool);
    cl_arena_free(a);
    return rc;
}

/* The Intel SGX Root CA, and the roots the operator adds (with a warning:
 * evidence under them proves nothing about Intel hardware). */
static int load_sgx_roots(cl_daemon *d, cl_error *err)
{
    STACK_OF(X509) *extra = NULL;
    char *pem = NULL;
    size_t len = 0;
    FILE *f;

    d->sgx_roots = cl_intel_sgx_roots();
    d->sgx_cache = cl_verify_cache_new();
    pthread_mutex_init(&d->maa_lock, NULL);
    if (d->sgx_roots == NULL || d->sgx_cache == NULL)
        return cl_error_set(err, CL_ERROR, "could not load the Intel SGX Root CA");
    if (d->cfg.sgx_trust_roots == NULL || d->cfg.sgx_trust_roots[0] == '\0')
        return 0;
    if ((f = fopen(d->cfg.sgx_trust_roots, "r")) == NULL)
        return cl_error_set(err, CL_EINVALID, "could not open sgx-trust-roots \"%s\": %s",
                            d->cfg.sgx_trust_roots, strerror(errno));
    pem = calloc(1, 65537);
    len = pem ? fread(pem, 1, 65536, f) : 0;
    fclose(f);
    if (pem == NULL || cl_pem_chain(&extra, pem, len, err) < 0) {
        free(pem);
        return cl_error_prefix(err, "sgx-trust-roots \"%s\": ", d->cfg.sgx_trust_roots);
    }
    free(pem);
    for (int i = 0; i < sk_X509_num(extra); i++) {
        char cn[256] = "";
        X509 *root = sk_X509_value(extra, i);

        X509_NAME_get_text_by_NID(X509_get_subject_name(root), NID_commonName, cn, sizeof(cn));
        cl_log_warn("trusting \"%s\" for SGX attestation beside the Intel SGX Root CA: "
                    "evidence under it proves nothing about Intel hardware", cn);
        sk_X509_push(d->sgx_roots, X509_dup(root));
    }
    sk_X509_pop_free(extra, X509_free);
    return 0;
}

/* The key-encryption key is the database's. */
static int check_kek(cl_daemon *d, cl_error *err)
{
    cl_pg *db = NULL;
    int rc;

    if ((rc = cl_pg_acquire(&db, d->pool, 5000, err)) < 0)
        return rc;
    rc = cl_kek_check(db, d->kek, err);
    cl_pg_release(db);
    return rc;
}

/* cloisterd rekey: the schema current, then every secret resealed. */
static int rekey(cl_daemon *d, cl_error *err)
{
    int rc;

    if ((rc = cl_kek_load(d->kek, d->cfg.kek_file, err)) < 0 ||
        (rc = migrate(d, d->cfg.migrate, err)) < 0)
        return rc;
    return cl_rekey(d, err);
}

static int serve(cl_daemon *d, cl_error *err)
{
    cl_http *http = NULL;
    cl_duty *refresh = NULL, *watch = NULL;
    sigset_t stop;
    int rc, sig = 0;

    if ((rc = cl_kek_load(d->kek, d->cfg.kek_file, err)) < 0 ||
        (rc = load_sgx_roots(d, err)) < 0)
        return rc;
    if ((rc = migrate(d, d->cfg.migrate, err)) < 0)
        return rc;
    if ((rc = cl_pg_pool_new(&d->pool, d->cfg.database_url, (int)d->cfg.db_pool_size,
                             "cloisterd", err)) < 0)
        return rc;
    if ((rc = check_kek(d, err)) < 0)
        return rc;
    if ((rc = cl_router_new(&d->router, cl_route_tables, err)) < 0)
        return rc;
    if (cl_metrics_new(&d->metrics, d->router) < 0)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if ((rc = cl_portal_open(&d->portal, d->cfg.static_dir, err)) < 0)
        return rc;

    /* block before the server's threads exist, so that they inherit it */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((rc = cl_http_start(&http, d, err)) < 0)
        return rc;
    if (d->cfg.collateral_refresh_interval > 0 && d->cfg.pcs_url != NULL &&
        d->cfg.pcs_url[0] != '\0' &&
        (rc = cl_duty_start(&refresh, d, "collateral.refresh", "keeps the SGX collateral fresh",
                            d->cfg.collateral_refresh_interval, cl_refresh_collateral,
                            err)) < 0)
        return rc;
    if (d->cfg.node_watch_interval > 0 &&
        (rc = cl_duty_start(&watch, d, "nodes.watch", "watches the nodes' heartbeats",
                            d->cfg.node_watch_interval, cl_nodes_watch, err)) < 0)
        return rc;
    cl_log_kv(CL_LOG_INFO, json_pack("{s:s, s:i, s:s, s:I}", "listen", d->cfg.listen,
              "port", cl_http_port(http), "version", CL_VERSION,
              "threads", (json_int_t)d->cfg.threads),
              "cloisterd is serving on port %d", cl_http_port(http));

    sigwait(&stop, &sig);
    cl_log_info("received %s; finishing requests in flight (at most %lld s)",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", d->cfg.shutdown_timeout);
    cl_duty_stop(watch);
    cl_duty_stop(refresh);
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
    /* create-admin's own option, taken out before the settings are read */
    const char *email = NULL;
    int nargs = 0;
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    if (args == NULL)
        return 1;
    for (int i = first; i < argc; i++) {
        if (strcmp(command, "create-admin") == 0 && strcmp(argv[i], "--email") == 0 &&
            i + 1 < argc)
            email = argv[++i];
        else if (strcmp(command, "create-admin") == 0 && strncmp(argv[i], "--email=", 8) == 0)
            email = argv[i] + 8;
        else
            args[nargs++] = argv[i];
    }
    if (strcmp(command, "serve") != 0 && strcmp(command, "migrate") != 0 &&
        strcmp(command, "rekey") != 0 && strcmp(command, "create-admin") != 0) {
        free(args);
        fprintf(stderr, "cloisterd: unknown command \"%s\"\n\n", command);
        usage(stderr);
        return 2;
    }

    rc = cl_config_load(&d.cfg, cl_settings_table, cl_settings_count, nargs, args, &err);
    free(args);
    if (rc < 0) {
        fprintf(stderr, "cloisterd: %s\n", err.message);
        cl_config_free(&d.cfg, cl_settings_table, cl_settings_count);
        return 2;
    }
    if ((rc = setup_logging(&d.cfg, &err)) == 0) {
        if (strcmp(command, "migrate") == 0)
            rc = migrate(&d, 1, &err);
        else if (strcmp(command, "create-admin") == 0)
            rc = create_admin(&d, email, &err);
        else if (strcmp(command, "rekey") == 0)
            rc = rekey(&d, &err);
        else
            rc = serve(&d, &err);
    }
    if (rc < 0)
        cl_log_error("%s", err.message);

    cl_portal_free(d.portal);
    cl_metrics_free(d.metrics);
    sk_X509_pop_free(d.sgx_roots, X509_free);
    cl_verify_cache_free(d.sgx_cache);
    free(d.maa_jwks);
    cl_router_free(d.router);
    cl_pg_pool_free(d.pool);
    cl_migrate_free(&d.migrations);
    cl_config_free(&d.cfg, cl_settings_table, cl_settings_count);
    cl_error_clear(&err);
    OPENSSL_cleanse(d.kek, sizeof(d.kek));
    return rc < 0 ? 1 : 0;
}
