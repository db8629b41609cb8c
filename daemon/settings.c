/* settings.c - every cloisterd setting, with its default and its help line.
 * `cloisterd --help` prints this table; config.h says how sources layer. */
#include "config.h"
#include "daemon.h"

#include <stddef.h>

#ifndef CL_DATA_DIR
#define CL_DATA_DIR "/usr/share/cloister"
#endif

#define S(field) offsetof(cl_settings, field)

const cl_config_setting cl_settings_table[] = {
    { "listen", CL_CFG_STRING, S(listen), "127.0.0.1:8080", 0, 0,
      "address and port to listen on: HOST:PORT, [IPV6]:PORT or :PORT for all" },
    { "tls-cert", CL_CFG_STRING, S(tls_cert), NULL, 0, 0,
      "PEM certificate chain for HTTPS (with --tls-key); plain HTTP without it" },
    { "tls-key", CL_CFG_STRING, S(tls_key), NULL, 0, 0,
      "PEM private key for HTTPS" },
    { "behind-tls-proxy", CL_CFG_BOOL, S(behind_tls_proxy), "false", 0, 0,
      "TLS ends at a proxy or ingress in front: serve plain HTTP on a non-loopback address "
      "(refused otherwise), send HSTS, and take the client's address from the last "
      "X-Forwarded-For entry" },
    { "database-url", CL_CFG_STRING, S(database_url), "postgresql:///cloister", 0, 0,
      "PostgreSQL connection URL or libpq connection string" },
    { "db-pool-size", CL_CFG_INT, S(db_pool_size), "8", 1, 1000,
      "most database connections the daemon opens" },
    { "db-wait", CL_CFG_INT, S(db_wait), "2000", 1, 60000,
      "milliseconds a request waits for a free database connection before a 503" },
    { "kek-file", CL_CFG_STRING, S(kek_file), NULL, 0, 0,
      "key-encryption key: a file of 32 random bytes or 64 hex digits, mode 0600 or "
      "stricter (required)" },
    { "new-kek-file", CL_CFG_STRING, S(new_kek_file), "", 0, 0,
      "for `cloisterd rekey`: the key-encryption key to reseal every secret under" },
    { "public-url", CL_CFG_STRING, S(public_url), "", 0, 0,
      "the daemon's address as clients reach it, such as https://cloister.example.com, named "
      "in the certificates the account CAs issue (empty: taken from each request's Host)" },
    { "static-dir", CL_CFG_STRING, S(static_dir), CL_DATA_DIR "/static", 0, 0,
      "directory of the web portal's files" },
    { "migrations-dir", CL_CFG_STRING, S(migrations_dir), CL_DATA_DIR "/db/migrations", 0, 0,
      "directory of the NNNN_name.sql schema migrations" },
    { "migrate", CL_CFG_BOOL, S(migrate), "true", 0, 0,
      "apply pending migrations at start-up (--migrate=false: refuse to start instead)" },
    { "threads", CL_CFG_INT, S(threads), "4", 1, 256,
      "HTTP worker threads" },
    { "max-connections", CL_CFG_INT, S(max_connections), "512", 1, 65536,
      "most concurrent client connections" },
    { "per-ip-connections", CL_CFG_INT, S(per_ip_connections), "0", 0, 65536,
      "most concurrent connections from one client address (0: no limit)" },
    { "connection-timeout", CL_CFG_INT, S(connection_timeout), "30", 1, 3600,
      "seconds an idle or stalled connection is kept" },
    { "max-body-size", CL_CFG_SIZE, S(max_body_size), "1M", 1024, 1024LL * 1024 * 1024,
      "largest request body accepted; larger ones get 413" },
    { "max-json-depth", CL_CFG_INT, S(max_json_depth), "32", 1, 1000,
      "deepest nesting of arrays and objects accepted in a JSON body" },
    { "shutdown-timeout", CL_CFG_INT, S(shutdown_timeout), "30", 0, 3600,
      "seconds to let in-flight requests finish after SIGTERM or SIGINT" },
    { "session-ttl", CL_CFG_INT, S(session_ttl), "43200", 60, 30 * 86400,
      "seconds a sign-in lasts at most" },
    { "session-idle-timeout", CL_CFG_INT, S(session_idle_timeout), "3600", 60, 30 * 86400,
      "seconds of inactivity after which a sign-in ends" },
    { "login-failures-per-user", CL_CFG_INT, S(login_failures_per_user), "10", 1, 100000,
      "failed sign-ins allowed per e-mail address within --login-failure-window" },
    { "login-failures-per-address", CL_CFG_INT, S(login_failures_per_address), "100", 1, 1000000,
      "failed sign-ins allowed per client address within --login-failure-window" },
    { "login-failure-window", CL_CFG_INT, S(login_failure_window), "900", 1, 86400,
      "seconds over which failed sign-ins are counted; then 429 until the window ends" },
    { "log-format", CL_CFG_STRING, S(log_format), "json", 0, 0,
      "json (one object per line) or text" },
    { "log-level", CL_CFG_STRING, S(log_level), "info", 0, 0,
      "debug, info, warn or error" },
    { "sgx-trust-roots", CL_CFG_STRING, S(sgx_trust_roots), "", 0, 0,
      "a PEM file of roots to trust for SGX attestation beside the Intel SGX Root CA "
      "(a simulation PKI's, for tests; warned about at start)" },
    { "pcs-url", CL_CFG_STRING, S(pcs_url),
      "https://api.trustedservices.intel.com/sgx/certification/v4", 0, 0,
      "Intel's PCS (or a PCCS) API v4, whence missing SGX collateral is fetched; empty: "
      "imported collateral only" },
    { "pcs-root-crl-url", CL_CFG_STRING, S(pcs_root_crl_url),
      "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der", 0, 0,
      "where the Intel SGX Root CA's CRL is fetched" },
    { "pcs-api-key", CL_CFG_STRING, S(pcs_api_key), "", 0, 0,
      "the PCS subscription key, when the service asks for one" },
    { "pcs-timeout", CL_CFG_INT, S(pcs_timeout), "10", 1, 120,
      "seconds a collateral or Azure Attestation key fetch may take" },
    { "collateral-refresh-interval", CL_CFG_INT, S(collateral_refresh_interval), "3600", 0,
      7 * 86400, "seconds between refreshes of the SGX collateral held, done by one replica "
      "at a time (0: never)" },
    { "node-watch-interval", CL_CFG_INT, S(node_watch_interval), "15", 0, 3600,
      "seconds between looks for nodes that missed their heartbeats, done by one replica "
      "at a time (0: never)" },
    { "maa-url", CL_CFG_STRING, S(maa_url), "", 0, 0,
      "the Azure Attestation instance whose tokens are taken as evidence, such as "
      "https://myattest.weu.attest.azure.net (empty: none)" },
    { "maa-issuer", CL_CFG_STRING, S(maa_issuer), "", 0, 0,
      "the issuer its tokens must name (default: maa-url)" },
    { "maa-certs-url", CL_CFG_STRING, S(maa_certs_url), "", 0, 0,
      "where its signing keys (a JWKS) are fetched (default: maa-url/certs)" },
};

const size_t cl_settings_count = sizeof(cl_settings_table) / sizeof(cl_settings_table[0]);
