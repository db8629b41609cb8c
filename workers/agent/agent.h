/*
 * agent.h - cloister-agent, the node agent: it enrolls the node it runs on
 * with a join token and attestation evidence, keeps its key and
 * certificate in its state directory, reports in, attests again when
 * told, and relays the attestation of enclaves on the node (docs/agent.md).
 *
 *   main.c      settings, the state directory, the loop
 *   manager.c   talking to the daemon: join-token and signed requests,
 *               enrollment, heartbeats, re-attestation
 *   evidence.c  evidence providers: dcap, maa, simulation
 *   local.c     the local endpoint enclaves reach (port 9092)
 */
#ifndef CL_AGENT_H
#define CL_AGENT_H

#include "error.h"
#include "http_client.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define AGENT_VERSION "0.1.0"

typedef struct agent_settings {
    char *manager;
    char *ca_file;
    char *join_token_file;
    char *state_dir;
    char *evidence;
    char *simulation_pki_keys;
    char *maa_url;
    char *listen;
    char *node_name;
    long long retry_interval;
    long long renew_before;
    char *log_format;
    char *log_level;
} agent_settings;

typedef struct cl_evidence_provider cl_evidence_provider;

typedef struct agent {
    agent_settings cfg;
    cl_http_options http;
    cl_evidence_provider *evidence;
    pthread_mutex_t lock;           /* guards the identity below (the relay reads it) */
    EVP_PKEY *key;                  /* the node's key, once enrolled */
    char node_id[37];
    char token_sha256[65];          /* of the join token it enrolled with */
    int revoked;                    /* the daemon said so; waits for a new token */
    long long heartbeat_interval;
    int reattest_due;
    time_t cert_expires;            /* the node certificate's notAfter (0: unknown) */
} agent;

/* ---- manager.c ------------------------------------------------------------ */

/* An answer from the daemon: status and parsed JSON body (NULL if none). */
typedef struct agent_reply {
    long status;
    json_t *body;
} agent_reply;

void agent_reply_free(agent_reply *r);

/* The daemon's problem detail, or a fallback, for logs. */
const char *agent_reply_detail(const agent_reply *r);

/* A request signed as the node (lib/httpsig.h); body may be NULL. */
int agent_signed(agent *a, const char *method, const char *path, json_t *body,
                 agent_reply *out, cl_error *err);

/* Enroll with the token in the join-token file; on success the identity is
 * the agent's and saved in the state directory. */
int agent_enroll(agent *a, cl_error *err);

/* Report in (with the node's facts); sets heartbeat_interval, reattest_due
 * and revoked. */
int agent_heartbeat(agent *a, cl_error *err);

/* Attest again with fresh evidence; when the node's certificate is due for
 * renewal (agent_renewal_due), with a CSR, and the renewed certificate is
 * saved. */
int agent_attest(agent *a, cl_error *err);

/* The node's certificate expires within --renew-before seconds. */
int agent_renewal_due(const agent *a);

/* ---- main.c ------------------------------------------------------------------ */

/* Save the identity (key, certificate, CA, node.json) into the state
 * directory, each file written whole and 0600. */
int agent_save(agent *a, const char *cert_pem, const char *ca_pem, cl_error *err);

/* What the node is: host name, Kubernetes node name, kernel, SGX. */
json_t *agent_facts(const agent *a);

/* ---- evidence.c --------------------------------------------------------------- */

/* The provider named by --evidence: "dcap", "maa" or "simulation". */
int cl_evidence_provider_new(cl_evidence_provider **out, const agent_settings *cfg,
                             const cl_http_options *http, cl_error *err);
void cl_evidence_provider_free(cl_evidence_provider *p);

/* Evidence for the key (DER SubjectPublicKeyInfo) and the nonce (32
 * bytes): sets "quote" (base64) or "maa_token" in body. */
int cl_evidence_get(cl_evidence_provider *p, const uint8_t *spki, size_t spki_len,
                    const uint8_t nonce[32], json_t *body, cl_error *err);

/* ---- local.c ------------------------------------------------------------------- */

typedef struct agent_local agent_local;

/* Serve the local endpoint on cfg.listen ("off": none). */
int agent_local_start(agent_local **out, agent *a, cl_error *err);
void agent_local_stop(agent_local *l);

#endif
