/*
 * manager.c - what the agent says to the daemon (API.md, docs/nodes.md).
 *
 * Before it has enrolled, the agent shows its join token
 * ("Authorization: JoinToken <token>") to get a nonce and to enroll.
 * Afterwards every request is signed with the node's key (RFC 9421,
 * lib/httpsig.h): nonces, heartbeats, re-attestation and the relays of
 * local.c.
 */
#include "agent.h"
#include "digest.h"
#include "httpsig.h"
#include "log.h"
#include "pki.h"
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOKEN_MAX 4096
#define NONCE_BYTES 32

void agent_reply_free(agent_reply *r)
{
    json_decref(r->body);
    r->body = NULL;
}

const char *agent_reply_detail(const agent_reply *r)
{
    const char *detail = json_string_value(json_object_get(r->body, "detail"));

    return detail ? detail : "the daemon gave no reason";
}

static int call(agent *a, const char *method, const char *path, const char *const *headers,
                const char *body, agent_reply *out, cl_error *err)
{
    cl_http_response resp = { .keep = { NULL } };
    char url[2048];
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(url, sizeof(url), "%s%s", a->cfg.manager, path);
    rc = cl_http_request(&resp, &a->http, method, url, headers, body, body ? strlen(body) : 0,
                         err);
    if (rc == 0) {
        out->status = resp.status;
        if (resp.body != NULL)
            out->body = json_loadb(resp.body, resp.body_len, 0, NULL);
    }
    cl_http_response_free(&resp);
    return rc;
}

/* A request with the join token. */
static int with_token(agent *a, const char *token, const char *method, const char *path,
                      json_t *body, agent_reply *out, cl_error *err)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    char *authz = malloc(strlen(token) + 32);
    int rc;

    if (authz == NULL || (body != NULL && text == NULL)) {
        free(text);
        free(authz);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    snprintf(authz, strlen(token) + 32, "Authorization: JoinToken %s", token);
    const char *headers[] = { authz, body ? "Content-Type: application/json" : NULL, NULL };
    rc = call(a, method, path, headers, text, out, err);
    OPENSSL_cleanse(authz, strlen(authz));
    free(authz);
    free(text);
    return rc;
}

int agent_signed(agent *a, const char *method, const char *path, json_t *body,
                 agent_reply *out, cl_error *err)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    char date[64], digest[96], input[300], signature[160];
    cl_httpsig_headers h;
    int rc;

    if (body != NULL && text == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    pthread_mutex_lock(&a->lock);
    rc = a->key == NULL ? cl_error_set(err, CL_ERROR, "the node has not enrolled")
       : cl_httpsig_sign(&h, a->key, a->node_id, method, path, text, text ? strlen(text) : 0,
                         time(NULL), err);
    pthread_mutex_unlock(&a->lock);
    if (rc < 0) {
        free(text);
        return rc;
    }
    snprintf(date, sizeof(date), "Date: %s", h.date);
    snprintf(digest, sizeof(digest), "Content-Digest: %s", h.digest);
    snprintf(input, sizeof(input), "Signature-Input: %s", h.input);
    snprintf(signature, sizeof(signature), "Signature: %s", h.signature);
    const char *headers[] = { date, digest, input, signature,
                              body ? "Content-Type: application/json" : NULL, NULL };
    rc = call(a, method, path, headers, text, out, err);
    free(text);
    return rc;
}

/* ---- evidence for a key and a fresh nonce -------------------------------------- */

/* Add the nonce in reply and the evidence bound to it and key to body. */
static int add_evidence(agent *a, EVP_PKEY *key, const agent_reply *nonce_reply, json_t *body,
                        cl_error *err)
{
    const char *nonce = json_string_value(json_object_get(nonce_reply->body, "nonce"));
    uint8_t bytes[NONCE_BYTES + 3], *spki = NULL;
    size_t n = 0, spki_len = 0;
    int rc;

    if (nonce_reply->status != 201 || nonce == NULL)
        return cl_error_set(err, CL_EUNAVAILABLE, "the daemon gave no nonce (%ld): %s",
                            nonce_reply->status, agent_reply_detail(nonce_reply));
    if (cl_b64_decode(bytes, sizeof(bytes), &n, nonce) < 0 || n != NONCE_BYTES)
        return cl_error_set(err, CL_ERROR, "the daemon's nonce is not 32 bytes in base64");
    if (cl_pki_spki(key, &spki, &spki_len) < 0)
        return cl_error_set(err, CL_ERROR, "the node's key could not be encoded");
    json_object_set_new(body, "nonce", json_string(nonce));
    rc = cl_evidence_get(a->evidence, spki, spki_len, bytes, body, err);
    free(spki);
    return rc;
}

/* ---- enrollment ------------------------------------------------------------------- */

/* The join token, from its file, without surrounding white space. */
static int read_token(const agent *a, char *out, size_t size, cl_error *err)
{
    FILE *f;
    size_t n;

    if (a->cfg.join_token_file == NULL || a->cfg.join_token_file[0] == '\0')
        return cl_error_set(err, CL_EINVALID, "the node has not enrolled and no join token "
                            "was given (--join-token-file)");
    if ((f = fopen(a->cfg.join_token_file, "r")) == NULL)
        return cl_error_set(err, CL_EINVALID, "the join token file \"%s\" cannot be read",
                            a->cfg.join_token_file);
    n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    while (n > 0 && strchr(" \t\r\n", out[n - 1]) != NULL)
        out[--n] = '\0';
    size_t skip = strspn(out, " \t\r\n");
    memmove(out, out + skip, n - skip + 1);
    if (out[0] == '\0')
        return cl_error_set(err, CL_EINVALID, "the join token file \"%s\" is empty",
                            a->cfg.join_token_file);
    return 0;
}

int agent_enroll(agent *a, cl_error *err)
{
    char token[TOKEN_MAX], hash[65];
    EVP_PKEY *key = NULL;
    X509_REQ *req = NULL;
    char *csr = NULL;
    agent_reply nonce = { 0 }, reply = { 0 };
    json_t *body = NULL;
    int rc;

    if ((rc = read_token(a, token, sizeof(token), err)) < 0)
        return rc;
    cl_sha256_hex(hash, token, strlen(token));
    if (a->revoked && strcmp(hash, a->token_sha256) == 0) {
        rc = cl_error_set(err, CL_EINVALID, "the node was revoked: it enrolls again only with a "
                          "new join token in \"%s\"", a->cfg.join_token_file);
        goto done;
    }
    if ((key = EVP_EC_gen("P-256")) == NULL ||
        (req = cl_pki_csr(key, a->cfg.node_name, NULL)) == NULL ||
        (csr = cl_pki_csr_pem(req)) == NULL) {
        rc = cl_error_set(err, CL_ERROR, "could not make the node's key and CSR");
        goto done;
    }
    json_t *facts = agent_facts(a);
    body = json_pack("{s:s, s:s, s:s, s:o}", "csr", csr, "name", a->cfg.node_name,
                     "agent_version", AGENT_VERSION, "facts", facts);
    if ((rc = with_token(a, token, "POST", "/v1/attestation/nonce", NULL, &nonce, err)) < 0)
        goto done;
    if (nonce.status == 401 || nonce.status == 403) {
        rc = cl_error_set(err, CL_EUNAUTHORIZED, "the join token was refused: %s",
                          agent_reply_detail(&nonce));
        goto done;
    }
    if ((rc = add_evidence(a, key, &nonce, body, err)) < 0 ||
        (rc = with_token(a, token, "POST", "/v1/nodes/enroll", body, &reply, err)) < 0)
        goto done;
    if (reply.status != 201) {
        rc = cl_error_set(err, reply.status == 401 ? CL_EUNAUTHORIZED : CL_EINVALID,
                          "the daemon refused the enrollment (%ld): %s", reply.status,
                          agent_reply_detail(&reply));
        goto done;
    }
    const char *id = json_string_value(json_object_get(reply.body, "id"));
    const char *cert = json_string_value(json_object_get(reply.body, "certificate"));
    const char *ca = json_string_value(json_object_get(reply.body, "ca_certificate"));
    if (id == NULL || strlen(id) != 36 || cert == NULL || ca == NULL) {
        rc = cl_error_set(err, CL_ERROR, "the daemon's answer to the enrollment has no node id "
                          "and certificates");
        goto done;
    }
    pthread_mutex_lock(&a->lock);
    EVP_PKEY_free(a->key);
    a->key = key;
    key = NULL;
    memcpy(a->node_id, id, 37);
    memcpy(a->token_sha256, hash, sizeof(hash));
    a->revoked = 0;
    a->reattest_due = 0;
    pthread_mutex_unlock(&a->lock);
    rc = agent_save(a, cert, ca, err);
    cl_log_info("enrolled as node %s (%s, TCB %s)", id,
                json_string_value(json_object_get(reply.body, "state")),
                json_string_value(json_object_get(reply.body, "tcb_status"))
                    ? json_string_value(json_object_get(reply.body, "tcb_status")) : "-");
done:
    OPENSSL_cleanse(token, sizeof(token));
    agent_reply_free(&nonce);
    agent_reply_free(&reply);
    json_decref(body);
    free(csr);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    return rc;
}

/* ---- once enrolled ----------------------------------------------------------------- */

int agent_heartbeat(agent *a, cl_error *err)
{
    char path[128];
    agent_reply reply;
    json_t *body = json_pack("{s:s, s:o}", "agent_version", AGENT_VERSION, "facts",
                             agent_facts(a));
    int rc;

    snprintf(path, sizeof(path), "/v1/nodes/%s/heartbeat", a->node_id);
    rc = agent_signed(a, "POST", path, body, &reply, err);
    json_decref(body);
    if (rc < 0)
        return rc;
    if (reply.status == 200) {
        json_int_t every = json_integer_value(json_object_get(reply.body, "heartbeat_interval"));

        a->heartbeat_interval = every > 0 ? every : 30;
        a->reattest_due = json_is_true(json_object_get(reply.body, "reattest_due"));
    } else if (reply.status == 401 && strstr(agent_reply_detail(&reply), "revoked") != NULL) {
        a->revoked = 1;
        rc = cl_error_set(err, CL_EUNAUTHORIZED, "%s", agent_reply_detail(&reply));
    } else {
        rc = cl_error_set(err, CL_EUNAVAILABLE, "the heartbeat was refused (%ld): %s",
                          reply.status, agent_reply_detail(&reply));
    }
    agent_reply_free(&reply);
    return rc;
}

int agent_renewal_due(const agent *a)
{
    return a->cert_expires != 0 && a->cert_expires - time(NULL) < a->cfg.renew_before;
}

int agent_attest(agent *a, cl_error *err)
{
    char path[128];
    agent_reply nonce = { 0 }, reply = { 0 };
    json_t *body = json_object();
    X509_REQ *req = NULL;
    char *csr = NULL;
    int rc = 0;

    if (agent_renewal_due(a)) {
        if ((req = cl_pki_csr(a->key, a->cfg.node_name, NULL)) == NULL ||
            (csr = cl_pki_csr_pem(req)) == NULL) {
            rc = cl_error_set(err, CL_ERROR, "could not make the CSR to renew the node's "
                              "certificate");
            goto done;
        }
        json_object_set_new(body, "csr", json_string(csr));
    }
    if ((rc = agent_signed(a, "POST", "/v1/attestation/nonce", NULL, &nonce, err)) < 0)
        goto done;
    snprintf(path, sizeof(path), "/v1/nodes/%s/attest", a->node_id);
    if ((rc = add_evidence(a, a->key, &nonce, body, err)) < 0 ||
        (rc = agent_signed(a, "POST", path, body, &reply, err)) < 0)
        goto done;
    if (reply.status != 200) {
        rc = cl_error_set(err, CL_EINVALID, "the daemon refused the attestation (%ld): %s",
                          reply.status, agent_reply_detail(&reply));
        goto done;
    }
    a->reattest_due = 0;
    cl_log_info("attested again (TCB %s)",
                json_string_value(json_object_get(reply.body, "tcb_status"))
                    ? json_string_value(json_object_get(reply.body, "tcb_status")) : "-");
    const char *cert = json_string_value(json_object_get(reply.body, "certificate"));
    const char *ca = json_string_value(json_object_get(reply.body, "ca_certificate"));
    if (csr != NULL && (cert == NULL || ca == NULL))
        rc = cl_error_set(err, CL_ERROR, "the daemon's answer has no renewed certificate");
    else if (csr != NULL && (rc = agent_save(a, cert, ca, err)) == 0)
        cl_log_info("renewed the node's certificate (serial %s, until %s)",
                    json_string_value(json_object_get(reply.body, "cert_serial")),
                    json_string_value(json_object_get(reply.body, "cert_expires_at")));
done:
    agent_reply_free(&nonce);
    agent_reply_free(&reply);
    json_decref(body);
    free(csr);
    X509_REQ_free(req);
    return rc;
}
