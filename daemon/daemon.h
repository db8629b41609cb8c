/*
 * daemon.h - the state cloisterd shares between its threads.
 *
 * One cl_daemon exists per process.  It is filled by main() before the HTTP
 * server starts and is read-only afterwards, except for the parts that carry
 * their own locks (the pool, the metrics).
 */
#ifndef CL_DAEMON_H
#define CL_DAEMON_H

#include "config.h"
#include "http.h"
#include "migrate.h"
#include "pg.h"

#include <openssl/x509.h>
#include <pthread.h>
#include <time.h>

#include <stddef.h>

#define CL_VERSION "0.1.0"
#define CL_KEK_LEN 32

typedef struct cl_settings {
    char *listen;
    char *tls_cert;
    char *tls_key;
    char *database_url;
    char *kek_file;
    char *new_kek_file;
    char *public_url;
    char *static_dir;
    char *migrations_dir;
    long long threads;
    long long db_pool_size;
    long long db_wait;
    long long max_connections;
    long long per_ip_connections;
    long long connection_timeout;
    long long max_body_size;
    long long max_json_depth;
    long long shutdown_timeout;
    long long session_ttl;
    long long session_idle_timeout;
    long long login_failures_per_user;
    long long login_failures_per_address;
    long long login_failure_window;
    char *log_format;
    char *log_level;
    char *sgx_trust_roots;
    char *pcs_url;
    char *pcs_root_crl_url;
    char *pcs_api_key;
    long long pcs_timeout;
    long long collateral_refresh_interval;
    long long node_watch_interval;
    char *maa_url;
    char *maa_issuer;
    char *maa_certs_url;
    int migrate;
    int behind_tls_proxy;
} cl_settings;

typedef struct cl_metrics cl_metrics;
typedef struct cl_portal cl_portal;
typedef struct cl_router cl_router;

struct cl_daemon {
    cl_settings cfg;
    cl_pg_pool *pool;
    cl_migration_set migrations;
    cl_router *router;
    cl_metrics *metrics;
    cl_portal *portal;          /* NULL when there is no portal to serve */
    unsigned char kek[CL_KEK_LEN];
    STACK_OF(X509) *sgx_roots;  /* the Intel SGX Root CA, and any the operator adds */
    struct cl_verify_cache *sgx_cache;  /* signatures verified once (lib/sgx/pck.h) */
    pthread_mutex_t maa_lock;   /* guards the Azure Attestation keys below */
    char *maa_jwks;             /* the instance's JWKS, as last fetched */
    time_t maa_jwks_at;
};

/* The settings table and its size (daemon/settings.c). */
extern const cl_config_setting cl_settings_table[];
extern const size_t cl_settings_count;

/* The OpenAPI document compiled into the binary (generated at build time). */
extern const unsigned char cl_openapi_yaml[];
extern const size_t cl_openapi_yaml_len;

#endif
