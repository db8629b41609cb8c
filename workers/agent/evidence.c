/*
 * evidence.c - where the agent's attestation evidence comes from.
 *
 *   dcap        the agent runs inside Gramine (its own image converted by
 *               Cloister): the report data is written to
 *               /dev/attestation/user_report_data and the quote read from
 *               /dev/attestation/quote.  Outside an enclave it says so and
 *               stops.
 *   maa         such a quote, exchanged at an Azure Attestation instance
 *               for a token carrying the key and nonce as runtime data
 *               (API.md), so that the token is fresh.
 *   simulation  a quote from the simulation PKI (lib/sgx/simulate.c)
 *               whose keys --simulation-pki-keys names (`cloister quote
 *               simulate` writes them): accepted only by a daemon that
 *               trusts its root, for machines without SGX and for tests.
 *
 * In every case the report data is SHA-256(SPKI || nonce) and 32 zero
 * bytes (API.md).
 */
#include "agent.h"
#include "digest.h"
#include "sgx/quote.h"
#include "sgx/simulate.h"
#include "token.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ATTESTATION_DIR "/dev/attestation"
#define KEYS_MAX (64 * 1024)

typedef enum { DCAP, MAA, SIMULATION } provider_kind;

struct cl_evidence_provider {
    provider_kind kind;
    cl_sim_pki *sim;
    const char *maa_url;
    const cl_http_options *http;
};

static int read_file(const char *path, uint8_t **out, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = f ? malloc(max) : NULL;
    size_t n = 0;

    if (buf == NULL) {
        if (f != NULL)
            fclose(f);
        return -1;
    }
    n = fread(buf, 1, max, f);
    int bad = ferror(f) || (n == max && fgetc(f) != EOF);
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

int cl_evidence_provider_new(cl_evidence_provider **out, const agent_settings *cfg,
                             const cl_http_options *http, cl_error *err)
{
    cl_evidence_provider *p = calloc(1, sizeof(*p));
    int rc = 0;

    *out = NULL;
    if (p == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    p->http = http;
    p->maa_url = cfg->maa_url;
    if (strcmp(cfg->evidence, "simulation") == 0) {
        cl_sim_options o;
        cl_sim_enclave e;
        uint8_t *keys = NULL;
        size_t len = 0;

        p->kind = SIMULATION;
        if (cfg->simulation_pki_keys == NULL || cfg->simulation_pki_keys[0] == '\0' ||
            read_file(cfg->simulation_pki_keys, &keys, &len, KEYS_MAX) < 0) {
            rc = cl_error_set(err, CL_EINVALID, "the simulation provider needs the simulated "
                              "PKI's keys (--simulation-pki-keys, from cloister quote simulate)");
        } else {
            char *text = realloc(keys, len + 1);
            if (text != NULL) {
                keys = (uint8_t *)text;
                text[len] = '\0';
            }
            cl_sim_defaults(&o, &e);
            o.keys_pem = (const char *)keys;
            rc = text == NULL ? cl_error_set(err, CL_ERROR, "out of memory")
               : cl_sim_pki_new(&p->sim, &o, err);
            OPENSSL_cleanse(keys, len);
            free(keys);
        }
    } else if (strcmp(cfg->evidence, "dcap") == 0 || strcmp(cfg->evidence, "maa") == 0) {
        p->kind = strcmp(cfg->evidence, "maa") == 0 ? MAA : DCAP;
        if (access(ATTESTATION_DIR "/quote", R_OK) != 0)
            rc = cl_error_set(err, CL_EINVALID, "the %s provider reads quotes from Gramine's "
                              ATTESTATION_DIR ", which is not here: the agent must run inside "
                              "its SGX enclave (its image converted by Cloister); "
                              "--evidence simulation is for machines without SGX",
                              cfg->evidence);
        else if (p->kind == MAA && (cfg->maa_url == NULL || cfg->maa_url[0] == '\0'))
            rc = cl_error_set(err, CL_EINVALID, "the maa provider needs the Azure Attestation "
                              "instance (--maa-url)");
    } else {
        rc = cl_error_set(err, CL_EINVALID, "--evidence is dcap, maa or simulation, not \"%s\"",
                          cfg->evidence);
    }
    if (rc < 0) {
        cl_evidence_provider_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void cl_evidence_provider_free(cl_evidence_provider *p)
{
    if (p == NULL)
        return;
    cl_sim_pki_free(p->sim);
    free(p);
}

/* A quote from Gramine for the report data (malloc'd). */
static int gramine_quote(const uint8_t data[64], uint8_t **quote, size_t *len, cl_error *err)
{
    FILE *f = fopen(ATTESTATION_DIR "/user_report_data", "wb");

    if (f == NULL || fwrite(data, 1, 64, f) != 64) {
        int e = errno;
        if (f != NULL)
            fclose(f);
        return cl_error_set(err, CL_ERROR, "could not write the report data to "
                            ATTESTATION_DIR "/user_report_data: %s", strerror(e));
    }
    if (fclose(f) != 0 || read_file(ATTESTATION_DIR "/quote", quote, len, CL_QUOTE_MAX) < 0)
        return cl_error_set(err, CL_ERROR, "could not read a quote from " ATTESTATION_DIR
                            "/quote");
    return 0;
}

/* The quote exchanged at Azure Attestation for a token carrying runtime. */
static int maa_token(cl_evidence_provider *p, const uint8_t *quote, size_t len,
                     const uint8_t *runtime, size_t runtime_len, json_t *body, cl_error *err)
{
    char *q = malloc(CL_B64URL_SIZE(len)), *rt = malloc(CL_B64URL_SIZE(runtime_len));
    char url[1024], *text = NULL;
    cl_http_response resp = { .keep = { NULL } };
    json_t *req = NULL, *answer = NULL;
    int rc;

    if (q == NULL || rt == NULL) {
        rc = cl_error_set(err, CL_ERROR, "out of memory");
        goto done;
    }
    cl_b64url_encode(q, quote, len);
    cl_b64url_encode(rt, runtime, runtime_len);
    req = json_pack("{s:s, s:{s:s, s:s}}", "quote", q, "runtimeData", "data", rt, "dataType",
                    "Binary");
    text = json_dumps(req, JSON_COMPACT);
    snprintf(url, sizeof(url), "%s/attest/SgxEnclave?api-version=2022-08-01", p->maa_url);
    const char *headers[] = { "Content-Type: application/json", NULL };
    if ((rc = cl_http_request(&resp, p->http, "POST", url, headers, text, strlen(text),
                              err)) < 0)
        goto done;
    answer = resp.body ? json_loadb(resp.body, resp.body_len, 0, NULL) : NULL;
    const char *token = json_string_value(json_object_get(answer, "token"));
    if (resp.status != 200 || token == NULL) {
        rc = cl_error_set(err, CL_EUNAVAILABLE, "Azure Attestation at %s gave no token (%ld)",
                          p->maa_url, resp.status);
        goto done;
    }
    json_object_set_new(body, "maa_token", json_string(token));
done:
    cl_http_response_free(&resp);
    json_decref(req);
    json_decref(answer);
    free(text);
    free(q);
    free(rt);
    return rc;
}

int cl_evidence_get(cl_evidence_provider *p, const uint8_t *spki, size_t spki_len,
                    const uint8_t nonce[32], json_t *body, cl_error *err)
{
    uint8_t data[64] = { 0 }, *bound = malloc(spki_len + 32), *quote = NULL;
    size_t len = 0;
    int rc;

    if (bound == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    memcpy(bound, spki, spki_len);
    memcpy(bound + spki_len, nonce, 32);
    cl_sha256(data, bound, spki_len + 32);
    if (p->kind == SIMULATION) {
        cl_sim_options o;
        cl_sim_enclave e;

        cl_sim_defaults(&o, &e);
        memcpy(e.reportdata, data, sizeof(data));
        rc = cl_sim_quote(p->sim, 4, &e, &quote, &len, err);
    } else {
        rc = gramine_quote(data, &quote, &len, err);
    }
    if (rc == 0 && p->kind == MAA) {
        rc = maa_token(p, quote, len, bound, spki_len + 32, body, err);
    } else if (rc == 0) {
        char *b64 = malloc(((len + 2) / 3) * 4 + 1);
        if (b64 == NULL) {
            rc = cl_error_set(err, CL_ERROR, "out of memory");
        } else {
            cl_b64_encode(b64, quote, len);
            json_object_set_new(body, "quote", json_string(b64));
            free(b64);
        }
    }
    free(quote);
    free(bound);
    return rc;
}
