/*
 * init.c - cloister-init: the first program in an app's enclave.  It
 * attests the enclave through the agent of its node, writes what that
 * earns it (a certificate for the app's approved domains, its key, the
 * chain, and each secret) to the in-enclave tmpfs, and then executes the
 * application with its own argv and environment:
 *
 *   cloister-init [--] PROGRAM [ARG ...]
 *
 * It is configured by its environment, which the converter writes into the
 * enclave's manifest (so that it is measured); in an Occlum instance, which
 * runs it as `occlum run /bin/cloister-init -- PROGRAM ...`, the instance's
 * Occlum.json holds it (env.default, measured; lib/runtime/occlum.c):
 *
 *   CLOISTER_APP_ID           the app (required)
 *   CLOISTER_AGENT            the agent, IP:PORT; default $CLOISTER_NODE_IP:9092,
 *                             the node's address from the downward API
 *   CLOISTER_DOMAINS          the names to ask a certificate for, comma-separated
 *   CLOISTER_DIR              where to write (/run/cloister)
 *   CLOISTER_SECRETS_ENV      1: secrets also as environment variables
 *   CLOISTER_ON_FAILURE       retry (with back-off, the default) or exit
 *   CLOISTER_ATTESTATION_DIR  Gramine's attestation files (/dev/attestation);
 *                             without them, inside Occlum, its /dev/sgx
 *   CLOISTER_SIMULATION_PKI_KEYS, CLOISTER_SIMULATION_MRENCLAVE
 *                             without SGX: quotes from a simulated PKI
 *                             (lib/sgx/simulate.c), for tests
 *
 * Written into CLOISTER_DIR, each file whole and 0600: key.pem, cert.pem
 * (the certificate), chain.pem (the issuing CA) and secrets/NAME.  While
 * the application runs, a child renews the certificate (attesting again)
 * when two thirds of its lifetime have passed.  Failures are loud, and the
 * application never starts half-configured.
 *
 * The agent speaks plain HTTP on the node's address (the quote binds what
 * matters and secrets are encrypted to the enclave's key), so a small
 * HTTP/1.1 exchange over a socket (http.c) stands in for libcurl, which
 * does not link statically.
 */
#include "init.h"
#include "digest.h"
#include "jwe.h"
#include "pki.h"
#include "sgx/simulate.h"
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUOTE_MAX (1u << 20)
#define BACKOFF_MAX 60

static void say(const char *fmt, ...)
{
    va_list ap;

    fputs("cloister-init: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static const char *detail(json_t *problem)
{
    const char *d = json_string_value(json_object_get(problem, "detail"));

    return d ? d : "no reason given";
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : fallback;
}

/* ---- the enclave's key and CSR ------------------------------------------------------ */

/* The enclave's CSR: named after its first domain (else the app), asking
 * for every domain. */
static X509_REQ *make_csr(EVP_PKEY *key, const char *app, const char *domains)
{
    char *list = strdup(domains), *save = NULL;
    const char *names[33];
    size_t n = 0;
    X509_REQ *req;

    if (list == NULL)
        return NULL;
    for (char *d = strtok_r(list, ",", &save); d != NULL && n < 32; d = strtok_r(NULL, ",", &save))
        names[n++] = d;
    names[n] = NULL;
    req = cl_pki_csr(key, n ? names[0] : app, names);
    free(list);
    return req;
}

/* ---- the quote -------------------------------------------------------------------- */

static int read_all(const char *path, uint8_t **out, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = f ? malloc(max) : NULL;

    if (buf == NULL) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    *len = fread(buf, 1, max, f);
    int bad = ferror(f) != 0;
    fclose(f);
    if (bad || *len == 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    return 0;
}

/* A simulated quote (lib/sgx/simulate.c), from the PKI whose keys are in
 * keys_file: for tests, and for daemons that trust the simulation root. */
static int simulated_quote(const char *keys_file, const uint8_t data[64], uint8_t **quote,
                           size_t *len)
{
    const char *mr = getenv("CLOISTER_SIMULATION_MRENCLAVE");
    cl_sim_options o;
    cl_sim_enclave e;
    cl_sim_pki *pki = NULL;
    cl_error err = { 0 };
    uint8_t *keys = NULL;
    size_t klen = 0;
    int rc;

    cl_sim_defaults(&o, &e);
    memcpy(e.reportdata, data, 64);
    if (mr != NULL && (strlen(mr) != 64 || cl_unhex(e.mrenclave, 32, mr) < 0)) {
        say("CLOISTER_SIMULATION_MRENCLAVE must be 64 hex digits");
        return -1;
    }
    uint8_t *grown = NULL;
    if (read_all(keys_file, &keys, &klen, 64 * 1024) < 0 ||
        (grown = realloc(keys, klen + 1)) == NULL) {
        say("cannot read the simulated PKI's keys \"%s\"", keys_file);
        free(keys);
        return -1;
    }
    keys = grown;
    keys[klen] = '\0';
    o.keys_pem = (const char *)keys;
    rc = cl_sim_pki_new(&pki, &o, &err);
    OPENSSL_cleanse(keys, klen);
    free(keys);
    if (rc == 0)
        rc = cl_sim_quote(pki, 4, &e, quote, len, &err);
    if (rc < 0)
        say("no simulated quote: %s", err.message);
    cl_sim_pki_free(pki);
    cl_error_clear(&err);
    return rc < 0 ? -1 : 0;
}

/* Gramine's quote: the report data written to, and the quote read from,
 * its attestation pseudo-files. */
static int gramine_quote(const char *dir, const uint8_t data[64], uint8_t **quote, size_t *len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/user_report_data", dir);
    if ((f = fopen(path, "wb")) == NULL || fwrite(data, 1, 64, f) != 64 || fclose(f) != 0) {
        say("cannot write the report data to %s (%s): is this an SGX enclave with remote "
            "attestation enabled?", path, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "%s/quote", dir);
    if (read_all(path, quote, len, QUOTE_MAX) < 0) {
        say("cannot read a quote from %s", path);
        return -1;
    }
    return 0;
}

/* Occlum's quote: its libOS serves DCAP quotes through ioctls on /dev/sgx
 * (Occlum's occlum_dcap.h: the size, then the quote for 64 bytes of report
 * data), which its PAL gets from the SGX SDK's quote library, through the
 * node's aesmd. */
struct occlum_quote_arg {
    const uint8_t *report_data;             /* sgx_report_data_t, 64 bytes */
    uint32_t *quote_len;                    /* in: the buffer's size; out: the quote's */
    uint8_t *quote_buf;
};

#define OCCLUM_QUOTE_SIZE _IOR('s', 7, uint32_t)
#define OCCLUM_QUOTE _IOWR('s', 8, struct occlum_quote_arg)

static int occlum_quote(int fd, const uint8_t data[64], uint8_t **quote, size_t *len)
{
    uint32_t size = 0;

    if (ioctl(fd, OCCLUM_QUOTE_SIZE, &size) < 0) {
        say("Occlum's /dev/sgx gives no quote size (%s): is DCAP set up on this node?",
            strerror(errno));
        return -1;
    }
    if (size == 0 || size > QUOTE_MAX) {
        say("Occlum's /dev/sgx gives a quote size of %u bytes", size);
        return -1;
    }
    struct occlum_quote_arg arg = { data, &size, malloc(size) };
    if (arg.quote_buf == NULL || ioctl(fd, OCCLUM_QUOTE, &arg) < 0 || size == 0) {
        say("Occlum's /dev/sgx made no quote (%s)", arg.quote_buf ? strerror(errno)
                                                                  : "out of memory");
        free(arg.quote_buf);
        return -1;
    }
    *quote = arg.quote_buf;
    *len = size;
    return 0;
}

/* A quote for the 64 bytes of report data, from whichever enclave runtime
 * this is: Gramine (/dev/attestation), Occlum (/dev/sgx, a character
 * device only inside Occlum), or simulated when told. */
static int quote_for(const uint8_t data[64], uint8_t **quote, size_t *len)
{
    const char *keys_file = getenv("CLOISTER_SIMULATION_PKI_KEYS");
    const char *dir = getenv("CLOISTER_ATTESTATION_DIR");
    struct stat st;

    if (keys_file != NULL && keys_file[0] != '\0')
        return simulated_quote(keys_file, data, quote, len);
    if (dir != NULL && dir[0] != '\0')
        return gramine_quote(dir, data, quote, len);
    if (stat("/dev/attestation", &st) == 0)
        return gramine_quote("/dev/attestation", data, quote, len);
    int fd = open("/dev/sgx", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)) {
        int rc = occlum_quote(fd, data, quote, len);
        close(fd);
        return rc;
    }
    if (fd >= 0)
        close(fd);
    say("nothing here makes quotes: neither Gramine's /dev/attestation nor Occlum's /dev/sgx; "
        "is this an SGX enclave with remote attestation enabled?");
    return -1;
}

/* ---- attesting ------------------------------------------------------------------------ */

/* One exchange with the agent: nonce, quote, attestation.  *answer is the
 * daemon's 201; NULL with the reason said otherwise. */
static int attest(const init_config *cfg, EVP_PKEY *key, json_t **answer)
{
    X509_REQ *req = make_csr(key, cfg->app_id, cfg->domains);
    char *csr = req ? cl_pki_csr_pem(req) : NULL, *b64 = NULL;
    uint8_t *spki = NULL, *quote = NULL, bound[1024 + 32], data[64] = { 0 };
    size_t spki_len = 0, quote_len = 0, n = 0;
    json_t *nonce = NULL, *body = NULL;
    long status = 0;
    int rc = -1;

    *answer = NULL;
    if (csr == NULL || cl_pki_spki(key, &spki, &spki_len) < 0 || spki_len > 1024) {
        say("cannot make the enclave's CSR");
        goto done;
    }
    if (init_http_post(cfg->agent, "/v1/nonce", NULL, &status, &nonce) < 0)
        goto done;
    const char *text = json_string_value(json_object_get(nonce, "nonce"));
    if (status != 201 || text == NULL || cl_b64_decode(bound + spki_len, 35, &n, text) < 0 ||
        n != 32) {
        say("the agent gave no nonce (%ld): %s", status, detail(nonce));
        goto done;
    }
    memcpy(bound, spki, spki_len);
    cl_sha256(data, bound, spki_len + 32);
    if (quote_for(data, &quote, &quote_len) < 0 ||
        (b64 = malloc(((quote_len + 2) / 3) * 4 + 1)) == NULL)
        goto done;
    cl_b64_encode(b64, quote, quote_len);
    body = json_pack("{s:s, s:s, s:s, s:s}", "app_id", cfg->app_id, "csr", csr, "quote", b64,
                     "nonce", text);
    if (init_http_post(cfg->agent, "/v1/attest", body, &status, answer) < 0)
        goto done;
    if (status != 201) {
        say("attestation refused (%ld): %s", status, detail(*answer));
        json_decref(*answer);
        *answer = NULL;
        goto done;
    }
    rc = 0;
done:
    json_decref(nonce);
    json_decref(body);
    free(b64);
    free(quote);
    free(spki);
    free(csr);
    X509_REQ_free(req);
    return rc;
}

/* ---- writing what was earned ------------------------------------------------------------ */

static int write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024], tmp[1100];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        say("cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    int ok = write(fd, data, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
    if (!ok) {
        unlink(tmp);
        say("cannot write %s", path);
        return -1;
    }
    return 0;
}

/* The key, certificate, chain and (decrypted) secrets into the directory;
 * secrets also into the environment when asked. */
static int install(const init_config *cfg, EVP_PKEY *key, json_t *answer, int with_env)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL, sub[1024];
    long n = 0;
    const char *name;
    json_t *jwe;
    int rc = 0;

    snprintf(sub, sizeof(sub), "%s/secrets", cfg->dir);
    if ((mkdir(cfg->dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(sub, 0700) != 0 && errno != EEXIST)) {
        say("cannot make %s: %s", sub, strerror(errno));
        BIO_free(bio);
        return -1;
    }
    const char *cert = json_string_value(json_object_get(answer, "certificate"));
    const char *ca = json_string_value(json_array_get(json_object_get(answer, "chain"), 0));
    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) ||
        (n = BIO_get_mem_data(bio, &pem)) <= 0 || cert == NULL || ca == NULL ||
        write_file(cfg->dir, "key.pem", pem, (size_t)n) < 0 ||
        write_file(cfg->dir, "cert.pem", cert, strlen(cert)) < 0 ||
        write_file(cfg->dir, "chain.pem", ca, strlen(ca)) < 0)
        rc = -1;
    if (pem != NULL && n > 0)
        OPENSSL_cleanse(pem, (size_t)n);
    BIO_free(bio);
    json_object_foreach(json_object_get(answer, "secrets"), name, jwe) {
        uint8_t *value = NULL;
        size_t len = 0;
        cl_error err = { 0 };
        char file[200];

        if (rc < 0)
            break;
        snprintf(file, sizeof(file), "secrets/%s", name);
        if (cl_jwe_decrypt(&value, &len, key, json_string_value(jwe), &err) < 0) {
            say("secret %s does not open with the enclave's key: %s", name, err.message);
            rc = -1;
        } else if (write_file(cfg->dir, file, value, len) < 0 ||
                   (with_env && setenv(name, (const char *)value, 1) != 0)) {
            rc = -1;
        }
        if (value != NULL)
            OPENSSL_cleanse(value, len);
        free(value);
        cl_error_clear(&err);
    }
    return rc;
}

/* Attest until it works (or, with on_failure exit, once); 0 with the
 * answer installed. */
static int attest_and_install(const init_config *cfg, EVP_PKEY *key, int with_env,
                              long *lifetime)
{
    for (int delay = 1;; delay = delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : delay * 2) {
        json_t *answer = NULL;

        if (attest(cfg, key, &answer) == 0) {
            int rc = install(cfg, key, answer, with_env);

            *lifetime = (long)json_integer_value(json_object_get(
                json_object_get(answer, "settings"), "cert_lifetime"));
            json_decref(answer);
            if (rc == 0)
                return 0;
        }
        if (!cfg->retry)
            return -1;
        say("trying again in %d s", delay);
        sleep((unsigned)delay);
    }
}

/* A child that renews the certificate while the application runs: it
 * attests again when two thirds of the lifetime have passed. */
static void renew_in_background(const init_config *cfg, EVP_PKEY *key, long lifetime)
{
    pid_t pid = lifetime > 0 ? fork() : 1;

    if (pid < 0)
        say("cannot start the renewer: %s; the certificate will not be renewed",
            strerror(errno));
    if (pid != 0)
        return;
    prctl(PR_SET_PDEATHSIG, SIGTERM);           /* gone with the application */
    if (getppid() == 1)
        _exit(0);
    for (;;) {
        sleep((unsigned)(lifetime * 2 / 3));
        if (getppid() == 1)
            _exit(0);                           /* the application is gone */
        if (attest_and_install(cfg, key, 0, &lifetime) == 0)
            say("renewed the certificate");
        else if (lifetime <= 0)
            lifetime = 60;
    }
}

int main(int argc, char **argv)
{
    init_config cfg = { 0 };
    char agent[128];
    EVP_PKEY *key;
    long lifetime = 0;
    int first = 1;

    if (argc > 1 && strcmp(argv[1], "--") == 0)
        first = 2;
    if (argc <= first) {
        fprintf(stderr, "usage: cloister-init [--] PROGRAM [ARG ...]\n"
                        "attests this enclave through its node's agent, writes its "
                        "certificate and secrets, then runs PROGRAM\n");
        return 2;
    }
    cfg.app_id = getenv("CLOISTER_APP_ID");
    snprintf(agent, sizeof(agent), "%s:9092", env_or("CLOISTER_NODE_IP", "127.0.0.1"));
    cfg.agent = env_or("CLOISTER_AGENT", agent);
    cfg.domains = env_or("CLOISTER_DOMAINS", "");
    cfg.dir = env_or("CLOISTER_DIR", "/run/cloister");
    cfg.retry = strcmp(env_or("CLOISTER_ON_FAILURE", "retry"), "exit") != 0;
    if (cfg.app_id == NULL || !cl_uuid_valid(cfg.app_id)) {
        say("CLOISTER_APP_ID must name the app (its id); the converter sets it");
        return 1;
    }
    if ((key = EVP_EC_gen("P-256")) == NULL) {
        say("cannot make the enclave's key");
        return 1;
    }
    if (attest_and_install(&cfg, key, strcmp(env_or("CLOISTER_SECRETS_ENV", "0"), "1") == 0,
                           &lifetime) < 0) {
        say("the enclave is not attested; %s does not start", argv[first]);
        EVP_PKEY_free(key);
        return 1;
    }
    say("attested; certificate and secrets are in %s; starting %s", cfg.dir, argv[first]);
    fflush(stderr);
    renew_in_background(&cfg, key, lifetime);
    EVP_PKEY_free(key);
    execvp(argv[first], argv + first);
    say("cannot start %s: %s", argv[first], strerror(errno));
    return 127;
}
