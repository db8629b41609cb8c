/*
 * main.c - cloister-agent: settings, the state directory and the loop.
 *
 * The state directory keeps the node's identity across restarts, every
 * file 0600: node.key (its EC P-256 key, PEM), node.pem (its certificate),
 * ca.pem (the account CA's) and node.json (its id and the SHA-256 of the
 * join token it enrolled with).
 *
 * The loop: without an identity, enroll (the join token, a new key, fresh
 * evidence); with one, report in every heartbeat interval the daemon gives
 * and attest again when it says so, or when the node's certificate expires
 * within --renew-before (the attestation then renews it).  A node the
 * daemon says is revoked enrolls again only when its join-token file holds
 * a new token.  Failures are logged and retried after --retry-interval.
 * SIGTERM or SIGINT stops it between steps.
 */
#include "agent.h"
#include "config.h"
#include "log.h"
#include "token.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define S(field) offsetof(agent_settings, field)
static const cl_config_setting table[] = {
    { "manager", CL_CFG_STRING, S(manager), NULL, 0, 0,
      "the Cloister daemon's URL, such as https://cloister.example.com (required)" },
    { "ca-file", CL_CFG_STRING, S(ca_file), "", 0, 0,
      "trust this CA bundle for the daemon's HTTPS (default: the system's)" },
    { "join-token-file", CL_CFG_STRING, S(join_token_file), "", 0, 0,
      "a file holding the join token to enroll with (needed until the node has enrolled)" },
    { "state-dir", CL_CFG_STRING, S(state_dir), "/var/lib/cloister-agent", 0, 0,
      "where the node's key and certificate are kept (0600)" },
    { "evidence", CL_CFG_STRING, S(evidence), "dcap", 0, 0,
      "dcap (inside Gramine), maa (a DCAP quote exchanged at Azure Attestation) or simulation" },
    { "simulation-pki-keys", CL_CFG_STRING, S(simulation_pki_keys), "", 0, 0,
      "with --evidence simulation: the simulated PKI's keys (cloister quote simulate)" },
    { "maa-url", CL_CFG_STRING, S(maa_url), "", 0, 0,
      "with --evidence maa: the Azure Attestation instance" },
    { "listen", CL_CFG_STRING, S(listen), "0.0.0.0:9092", 0, 0,
      "where enclaves on the node reach the agent, HOST:PORT (off: nowhere)" },
    { "node-name", CL_CFG_STRING, S(node_name), "", 0, 0,
      "the node's name (default: $NODE_NAME, else the host name)" },
    { "retry-interval", CL_CFG_INT, S(retry_interval), "10", 1, 3600,
      "seconds before a failed step is tried again" },
    { "renew-before", CL_CFG_INT, S(renew_before), "864000", 0, 31536000,
      "renew the node's certificate, attesting again, when it expires within this many "
      "seconds (default 10 days)" },
    { "log-format", CL_CFG_STRING, S(log_format), "json", 0, 0, "json or text" },
    { "log-level", CL_CFG_STRING, S(log_level), "info", 0, 0, "debug, info, warn or error" },
};
#define NSETTINGS (sizeof(table) / sizeof(table[0]))

/* ---- the state directory ----------------------------------------------------------- */

static int write_state(const agent *a, const char *name, const char *data, size_t len,
                       cl_error *err)
{
    char path[4096], tmp[4200];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", a->cfg.state_dir, name);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return cl_error_set(err, CL_ERROR, "could not write \"%s\": %s", tmp, strerror(errno));
    ssize_t n = write(fd, data, len);
    int ok = n == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return cl_error_set(err, CL_ERROR, "could not write \"%s\"", path);
    }
    return 0;
}

/* The notAfter of the PEM certificate bio holds (freed); 0 if none. */
static time_t not_after(BIO *bio)
{
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    struct tm tm;
    time_t t = 0;

    if (cert != NULL && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
        t = timegm(&tm);
    X509_free(cert);
    BIO_free(bio);
    return t;
}

int agent_save(agent *a, const char *cert_pem, const char *ca_pem, cl_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *key = NULL, *json = NULL;
    long n = 0;
    int rc;

    pthread_mutex_lock(&a->lock);
    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, a->key, NULL, NULL, 0, NULL, NULL) ||
        (n = BIO_get_mem_data(bio, &key)) <= 0) {
        pthread_mutex_unlock(&a->lock);
        BIO_free(bio);
        return cl_error_set(err, CL_ERROR, "could not encode the node's key");
    }
    json_t *state = json_pack("{s:s, s:s, s:s}", "node_id", a->node_id, "token_sha256",
                              a->token_sha256, "manager", a->cfg.manager);
    pthread_mutex_unlock(&a->lock);
    json = json_dumps(state, JSON_INDENT(2));
    json_decref(state);
    rc = json == NULL ? cl_error_set(err, CL_ERROR, "out of memory")
       : write_state(a, "node.key", key, (size_t)n, err);
    rc = rc ? rc : write_state(a, "node.pem", cert_pem, strlen(cert_pem), err);
    rc = rc ? rc : write_state(a, "ca.pem", ca_pem, strlen(ca_pem), err);
    rc = rc ? rc : write_state(a, "node.json", json, strlen(json), err);    /* last: commits */
    if (rc == 0)
        a->cert_expires = not_after(BIO_new_mem_buf(cert_pem, -1));
    OPENSSL_cleanse(key, (size_t)n);
    BIO_free(bio);
    free(json);
    return rc;
}

/* The identity kept from an earlier run, if any. */
static int load_state(agent *a, cl_error *err)
{
    char path[4096];
    json_error_t jerr;
    json_t *state;
    FILE *f;

    snprintf(path, sizeof(path), "%s/node.json", a->cfg.state_dir);
    if ((state = json_load_file(path, 0, &jerr)) == NULL)
        return errno == ENOENT || access(path, F_OK) != 0 ? 0
             : cl_error_set(err, CL_EINVALID, "\"%s\" cannot be read: %s", path, jerr.text);
    const char *id = json_string_value(json_object_get(state, "node_id"));
    const char *hash = json_string_value(json_object_get(state, "token_sha256"));
    snprintf(path, sizeof(path), "%s/node.key", a->cfg.state_dir);
    if (id == NULL || !cl_uuid_valid(id) || hash == NULL || strlen(hash) != 64 ||
        (f = fopen(path, "r")) == NULL) {
        json_decref(state);
        return cl_error_set(err, CL_EINVALID, "the state in \"%s\" is incomplete; remove it to "
                            "enroll again", a->cfg.state_dir);
    }
    a->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    snprintf(path, sizeof(path), "%s/node.pem", a->cfg.state_dir);
    a->cert_expires = not_after(BIO_new_file(path, "r"));
    snprintf(path, sizeof(path), "%s/node.key", a->cfg.state_dir);
    memcpy(a->node_id, id, 37);
    memcpy(a->token_sha256, hash, 65);
    json_decref(state);
    if (a->key == NULL)
        return cl_error_set(err, CL_EINVALID, "\"%s\" is not a private key", path);
    cl_log_info("node %s, from %s", a->node_id, a->cfg.state_dir);
    return 0;
}

/* ---- facts ----------------------------------------------------------------------- */

static int cpu_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int found = 0;

    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (char *t = strtok(strchr(line, ':') ? strchr(line, ':') + 1 : line, " \n"); t;
             t = strtok(NULL, " \n"))
            found |= strcmp(t, flag) == 0;
        break;
    }
    if (f != NULL)
        fclose(f);
    return found;
}

/* The EPC's size from CPUID leaf 0x12 (its sections from sub-leaf 2). */
static long long epc_bytes(void)
{
    unsigned int eax, ebx, ecx, edx, max = __get_cpuid_max(0, NULL);
    long long total = 0;

    if (max < 0x12)
        return 0;
    for (unsigned int sub = 2; sub < 10; sub++) {
        __cpuid_count(0x12, sub, eax, ebx, ecx, edx);
        if ((eax & 0xf) != 1)
            break;
        total += ((long long)(edx & 0xfffff) << 32) | (ecx & 0xfffff000u);
    }
    return total;
}

json_t *agent_facts(const agent *a)
{
    char host[256] = "";
    struct utsname u;
    json_t *facts, *devices = json_object();
    static const char *const paths[] = { "/dev/sgx_enclave", "/dev/sgx_provision",
                                         "/var/run/aesmd/aesm.socket", NULL };

    gethostname(host, sizeof(host) - 1);
    for (int i = 0; paths[i] != NULL; i++)
        json_object_set_new(devices, paths[i], json_boolean(access(paths[i], F_OK) == 0));
    facts = json_pack("{s:s, s:s, s:{s:b, s:b, s:I, s:o}, s:s}", "hostname", host,
                      "kernel", uname(&u) == 0 ? u.release : "",
                      "sgx", "sgx", cpu_flag("sgx"), "flc", cpu_flag("sgx_lc"), "epc_bytes",
                      (json_int_t)epc_bytes(), "devices", devices,
                      "evidence", a->cfg.evidence);
    if (getenv("NODE_NAME") != NULL)
        json_object_set_new(facts, "kubernetes_node", json_string(getenv("NODE_NAME")));
    return facts;
}

/* ---- the loop --------------------------------------------------------------------------- */

/* Wait up to seconds for SIGTERM or SIGINT: 1 when one came. */
static int wait_for_stop(const sigset_t *stop, long long seconds)
{
    struct timespec ts = { (time_t)seconds, 0 };

    return sigtimedwait(stop, NULL, &ts) > 0;
}

static int run(agent *a, cl_error *err)
{
    agent_local *local = NULL;
    sigset_t stop;
    int rc;

    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(a->cfg.state_dir, 0700) != 0 && errno != EEXIST)
        return cl_error_set(err, CL_EINVALID, "cannot make the state directory \"%s\": %s",
                            a->cfg.state_dir, strerror(errno));
    if ((rc = load_state(a, err)) < 0 ||
        (rc = cl_evidence_provider_new(&a->evidence, &a->cfg, &a->http, err)) < 0 ||
        (rc = agent_local_start(&local, a, err)) < 0)
        return rc;
    cl_log_info("cloister-agent %s: manager %s, evidence %s", AGENT_VERSION, a->cfg.manager,
                a->cfg.evidence);
    for (;;) {
        cl_error step = { 0 };
        long long wait = a->cfg.retry_interval;

        if (a->key == NULL || a->revoked)
            rc = agent_enroll(a, &step);
        else if ((rc = agent_heartbeat(a, &step)) == 0) {
            if (a->reattest_due || agent_renewal_due(a))
                rc = agent_attest(a, &step);
            wait = a->heartbeat_interval;
        }
        if (rc < 0)
            cl_log_warn("%s", step.message);
        cl_error_clear(&step);
        if (wait_for_stop(&stop, wait))
            break;
    }
    cl_log_info("stopping");
    agent_local_stop(local);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: cloister-agent --manager URL [--join-token-file FILE] "
                 "[--state-dir DIR] [--evidence dcap|maa|simulation] [options]\n\n"
                 "Enrolls this SGX node with Cloister, reports in, attests again when told, "
                 "and relays the attestation of enclaves on the node.\n\nsettings:\n");
    cl_config_help(out, table, NSETTINGS);
}

int main(int argc, char **argv)
{
    static agent a;
    cl_error err = { 0 };
    char host[256] = "";
    int rc;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    if (cl_config_load(&a.cfg, table, NSETTINGS, argc - 1, argv + 1, &err) < 0 ||
        (a.cfg.manager == NULL && cl_error_set(&err, CL_EINVALID, "give the daemon's URL: "
                                               "--manager URL") < 0)) {
        fprintf(stderr, "cloister-agent: %s\n", err.message);
        cl_config_free(&a.cfg, table, NSETTINGS);
        cl_error_clear(&err);
        return 2;
    }
    int format = cl_log_format_parse(a.cfg.log_format), level = cl_log_level_parse(a.cfg.log_level);
    if (format < 0 || level < 0) {
        fprintf(stderr, "cloister-agent: --log-format must be json or text and --log-level "
                        "debug, info, warn or error\n");
        cl_config_free(&a.cfg, table, NSETTINGS);
        return 2;
    }
    cl_log_setup((cl_log_format)format, (cl_log_level)level, stderr);
    if (a.cfg.node_name[0] == '\0') {
        free(a.cfg.node_name);
        gethostname(host, sizeof(host) - 1);
        a.cfg.node_name = strdup(getenv("NODE_NAME") ? getenv("NODE_NAME") : host);
    }
    a.http.ca_file = a.cfg.ca_file[0] ? a.cfg.ca_file : NULL;
    a.http.timeout_s = 30;
    a.http.max_body = 1024 * 1024;
    a.heartbeat_interval = 30;
    pthread_mutex_init(&a.lock, NULL);
    rc = run(&a, &err);
    if (rc < 0)
        cl_log_error("%s", err.message);
    cl_evidence_provider_free(a.evidence);
    EVP_PKEY_free(a.key);
    pthread_mutex_destroy(&a.lock);
    cl_config_free(&a.cfg, table, NSETTINGS);
    cl_error_clear(&err);
    return rc < 0 ? 1 : 0;
}
