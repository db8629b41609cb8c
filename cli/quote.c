/*
 * quote.c - cloister quote verify: judge an SGX DCAP quote offline, with
 * collateral from a directory, as of a given time, under a policy given by
 * flags; no daemon involved (lib/sgx/dcap.c does the work).
 *
 * The directory holds the collateral as the PCS serves it:
 *   tcb_info.json, tcb_info_issuer_chain.pem, qe_identity.json,
 *   qe_identity_issuer_chain.pem, pck_crl.der (or .pem), root_ca_crl.der
 */
#include "cli.h"
#include "rfc3339.h"
#include "sgx/dcap.h"
#include "sgx/pck.h"
#include "sgx/pcs.h"
#include "sgx/quote.h"
#include "sgx/simulate.h"
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COLLATERAL_FILE_MAX (1u << 20)
#define LIST_MAX 32

typedef struct collateral_files {
    uint8_t *data[6];
    size_t len[6];
} collateral_files;

static const char *const collateral_names[6] = {
    "tcb_info.json", "tcb_info_issuer_chain.pem", "qe_identity.json",
    "qe_identity_issuer_chain.pem", "pck_crl.der", "root_ca_crl.der",
};

static int read_collateral(const char *dir, collateral_files *f, cl_dcap_collateral *c)
{
    char path[4096];
    int rc;

    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, collateral_names[i]);
        if (i == 4 && access(path, R_OK) != 0)
            snprintf(path, sizeof(path), "%s/pck_crl.pem", dir);
        if ((rc = cli_read_file(path, COLLATERAL_FILE_MAX, &f->data[i], &f->len[i])) != 0)
            return rc;
    }
    *c = (cl_dcap_collateral){
        (const char *)f->data[0], f->len[0], (const char *)f->data[1], f->len[1],
        (const char *)f->data[2], f->len[2], (const char *)f->data[3], f->len[3],
        f->data[4], f->len[4], f->data[5], f->len[5],
    };
    return 0;
}

/* The collateral the quote's platform needs, from a PCS (or PCCS). */
static int fetch_collateral(const char *pcs_url, const char *root_crl_url, const uint8_t *quote,
                            size_t len, collateral_files *f, cl_dcap_collateral *c)
{
    cl_pcs pcs = { pcs_url, root_crl_url, getenv("CLOISTER_PCS_API_KEY"), { .timeout_s = 20 } };
    cl_pcs_doc docs[4];
    char fmspc[13], ca[16];
    cl_error err = { 0 };
    int rc;

    memset(docs, 0, sizeof(docs));
    if (cl_dcap_quote_platform(quote, len, fmspc, ca, &err) < 0) {
        fprintf(stderr, "cloister: %s\n", err.message);
        return CLI_EINVALID;
    }
    if ((rc = cl_pcs_tcb_info(&pcs, fmspc, &docs[0], &err)) < 0 ||
        (rc = cl_pcs_qe_identity(&pcs, &docs[1], &err)) < 0 ||
        (rc = cl_pcs_pck_crl(&pcs, ca, &docs[2], &err)) < 0 ||
        (rc = cl_pcs_root_crl(&pcs, &docs[3], &err)) < 0) {
        fprintf(stderr, "cloister: fetching the collateral: %s (give it with --collateral "
                "DIR)\n", err.message);
        for (int i = 0; i < 4; i++)
            cl_pcs_doc_free(&docs[i]);
        return CLI_EUNAVAILABLE;
    }
    /* the files' slots own what was fetched: bodies and chains */
    for (int i = 0; i < 4; i++) {
        f->data[i] = (uint8_t *)docs[i].body;
        f->len[i] = docs[i].len;
    }
    f->data[4] = (uint8_t *)docs[0].issuer_chain;
    f->data[5] = (uint8_t *)docs[1].issuer_chain;
    free(docs[2].issuer_chain);
    free(docs[3].issuer_chain);
    *c = (cl_dcap_collateral){
        docs[0].body, docs[0].len, docs[0].issuer_chain, strlen(docs[0].issuer_chain),
        docs[1].body, docs[1].len, docs[1].issuer_chain, strlen(docs[1].issuer_chain),
        (uint8_t *)docs[2].body, docs[2].len, (uint8_t *)docs[3].body, docs[3].len,
    };
    return 0;
}

/* "a,b,c" into list (strdup'd words in place of the commas). */
static int split(char *text, const char *list[LIST_MAX + 1])
{
    int n = 0;

    for (char *save, *w = strtok_r(text, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save))
        if (n < LIST_MAX)
            list[n++] = w;
    list[n] = NULL;
    return n;
}

/* --at: Unix seconds or RFC 3339. */
static int parse_time(const char *text, time_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (*end == '\0' && end != text && errno == 0 && v >= 0) {
        *out = (time_t)v;
        return 0;
    }
    return cl_rfc3339_parse(text, out);
}

static void print_verdict(json_t *v)
{
    json_t *q = json_object_get(v, "quote"), *pck = json_object_get(v, "pck"), *check;
    json_t *policy = json_object_get(v, "policy");
    size_t i;

    printf("authentic:     %s\n", json_is_true(json_object_get(v, "authentic")) ? "yes" : "no");
    printf("TCB status:    %s\n", json_string_value(json_object_get(v, "tcb_status"))
                                      ? json_string_value(json_object_get(v, "tcb_status"))
                                      : "-");
    printf("advisories:    ");
    json_array_foreach(json_object_get(v, "advisory_ids"), i, check)
        printf("%s%s", i ? ", " : "", json_string_value(check));
    printf("%s\n", json_array_size(json_object_get(v, "advisory_ids")) ? "" : "-");
    printf("policy:        %s", json_string_value(json_object_get(policy, "verdict")));
    json_array_foreach(json_object_get(policy, "reasons"), i, check)
        printf("%s%s", i ? "; " : ": ", json_string_value(check));
    printf("\n");
    if (q != NULL) {
        printf("quote:         version %lld, SGX%s\n",
               (long long)json_integer_value(json_object_get(q, "version")),
               json_is_true(json_object_get(q, "debug")) ? ", debug enclave" : "");
        printf("MRENCLAVE:     %s\n", json_string_value(json_object_get(q, "mrenclave")));
        printf("MRSIGNER:      %s\n", json_string_value(json_object_get(q, "mrsigner")));
        printf("ISVPRODID:     %lld\nISVSVN:        %lld\n",
               (long long)json_integer_value(json_object_get(q, "isvprodid")),
               (long long)json_integer_value(json_object_get(q, "isvsvn")));
        printf("report data:   %s\n", json_string_value(json_object_get(q, "report_data")));
    }
    if (pck != NULL)
        printf("FMSPC:         %s (PCE-ID %s, PCESVN %lld, issued by %s)\n",
               json_string_value(json_object_get(pck, "fmspc")),
               json_string_value(json_object_get(pck, "pce_id")),
               (long long)json_integer_value(json_object_get(pck, "pcesvn")),
               json_string_value(json_object_get(pck, "issuer")));
    printf("trust root:    %s%s\nverified at:   %s\nchecks:\n",
           json_string_value(json_object_get(v, "trust_root"))
               ? json_string_value(json_object_get(v, "trust_root")) : "-",
           json_is_true(json_object_get(v, "simulated"))
               ? " (not the Intel SGX Root CA: this evidence proves nothing about Intel "
                 "hardware)" : "",
           json_string_value(json_object_get(v, "verified_at")));
    json_array_foreach(json_object_get(v, "checks"), i, check)
        printf("  %-4s %-20s %s\n", json_is_true(json_object_get(check, "ok")) ? "ok" : "FAIL",
               json_string_value(json_object_get(check, "name")),
               json_string_value(json_object_get(check, "detail")));
}

static int quote_verify(cli_ctx *c, int argc, char **argv)
{
    const char *dir = NULL, *at_text = NULL, *accept = NULL, *advisories = NULL;
    const char *root_path = NULL, *debug = NULL, *pos[1];
    const char *pcs_url = "https://api.trustedservices.intel.com/sgx/certification/v4";
    const char *root_crl_url = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";
    const cli_flag flags[] = {
        { "--collateral", &dir, 0, NULL }, { "--at", &at_text, 0, NULL },
        { "--accept", &accept, 0, NULL }, { "--accept-advisories", &advisories, 0, NULL },
        { "--trust-root", &root_path, 0, NULL }, { "--allow-debug", &debug, 1, NULL },
        { "--pcs-url", &pcs_url, 0, NULL }, { "--root-crl-url", &root_crl_url, 0, NULL },
        { NULL, NULL, 0, NULL },
    };
    const char *statuses[LIST_MAX + 1], *ids[LIST_MAX + 1] = { NULL };
    char accept_copy[1024], advisories_copy[1024];
    collateral_files files = { { NULL }, { 0 } };
    cl_dcap_collateral collateral = { 0 };
    STACK_OF(X509) *roots = NULL;
    uint8_t *quote = NULL, *root_bytes = NULL;
    size_t len, root_len;
    json_t *verdict = NULL;
    cl_error err = { 0 };
    time_t at = time(NULL);
    int npos, rc;

    if ((rc = cli_args(c, &cli_quote_commands[0], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    if (at_text != NULL && parse_time(at_text, &at) < 0)
        return cli_usage_error(&cli_quote_commands[0], "--at takes Unix seconds or an RFC "
                               "3339 time");
    cl_attestation_policy policy = cl_attestation_policy_default;
    if (accept != NULL) {
        snprintf(accept_copy, sizeof(accept_copy), "%s", accept);
        split(accept_copy, statuses);
        policy.statuses = statuses;
    }
    if (advisories != NULL) {
        snprintf(advisories_copy, sizeof(advisories_copy), "%s", advisories);
        split(advisories_copy, ids);
    }
    policy.advisories = ids;
    policy.allow_debug = debug != NULL;

    roots = cl_intel_sgx_roots();
    if (root_path != NULL) {
        X509 *extra;

        if ((rc = cli_read_file(root_path, COLLATERAL_FILE_MAX, &root_bytes, &root_len)) != 0)
            goto done;
        if (cl_x509_read(&extra, root_bytes, root_len, &err) < 0) {
            fprintf(stderr, "cloister: \"%s\": %s\n", root_path, err.message);
            rc = CLI_EINVALID;
            goto done;
        }
        sk_X509_push(roots, extra);
        fprintf(stderr, "cloister: warning: trusting \"%s\" beside the Intel SGX Root CA\n",
                root_path);
    }
    if ((rc = cli_read_file(pos[0], CL_QUOTE_MAX, &quote, &len)) != 0 ||
        (rc = dir ? read_collateral(dir, &files, &collateral)
                  : fetch_collateral(pcs_url, root_crl_url, quote, len, &files,
                                     &collateral)) != 0)
        goto done;
    if (cl_dcap_verify(quote, len, &collateral, roots, at, NULL, &verdict, &err) < 0) {
        fprintf(stderr, "cloister: %s\n", err.message);
        rc = CLI_ESERVER;
        goto done;
    }
    cl_dcap_policy(verdict, &policy);
    if (c->format == CLI_TABLE && !c->quiet)
        print_verdict(verdict);
    else
        cli_print_one(c, verdict, NULL, "authentic");
    rc = json_is_true(json_object_get(verdict, "authentic")) &&
         strcmp(json_string_value(json_object_get(json_object_get(verdict, "policy"),
                                                  "verdict")), "accepted") == 0
             ? 0 : CLI_EINVALID;
done:
    json_decref(verdict);
    free(quote);
    free(root_bytes);
    for (int i = 0; i < 6; i++)
        free(files.data[i]);
    sk_X509_pop_free(roots, X509_free);
    cl_error_clear(&err);
    return rc;
}

/* Write len bytes to dir/name. */
/* dir/name, readable by its owner alone when `secret`. */
static int write_file(const char *dir, const char *name, const void *data, size_t len,
                      int secret)
{
    char path[4096];
    FILE *f = NULL;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644)) >= 0 &&
        (f = fdopen(fd, "wb")) == NULL)
        close(fd);
    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cloister: could not write \"%s\"\n", path);
        if (f)
            fclose(f);
        return CLI_EUSAGE;
    }
    return fclose(f) == 0 ? 0 : CLI_EUSAGE;
}

/* A quote from a simulated PKI, its collateral and its root, into a
 * directory, for machines without SGX and for tests. */
static int quote_simulate(cli_ctx *c, int argc, char **argv)
{
    const char *dir = NULL, *version = NULL, *data = NULL, *mrenclave = NULL, *debug = NULL;
    const char *keys = NULL, *isvsvn = NULL, *pos[1];
    const cli_flag flags[] = {
        { "--out", &dir, 0, NULL }, { "--quote-version", &version, 0, NULL },
        { "--report-data", &data, 0, NULL }, { "--mrenclave", &mrenclave, 0, NULL },
        { "--debug", &debug, 1, NULL }, { "--pki-keys", &keys, 0, NULL },
        { "--isvsvn", &isvsvn, 0, NULL }, { NULL, NULL, 0, NULL },
    };
    cl_sim_options o;
    uint8_t *keys_pem = NULL;
    size_t keys_len;
    char *keys_out = NULL;
    cl_sim_enclave e;
    cl_sim_pki *p = NULL;
    cl_error err = { 0 };
    uint8_t *quote = NULL;
    size_t len;
    int npos, rc, v;

    cl_sim_defaults(&o, &e);
    if ((rc = cli_args(c, &cli_quote_commands[1], argc, argv, flags, pos, 0, 0, &npos)) != 0)
        return rc;
    v = version ? (int)strtol(version, NULL, 10) : 4;
    if (dir == NULL)
        return cli_usage_error(&cli_quote_commands[1], "give the directory: --out DIR");
    if (v != 3 && v != 4)
        return cli_usage_error(&cli_quote_commands[1], "--quote-version is 3 or 4");
    if ((data != NULL && (strlen(data) > 128 || strlen(data) % 2 ||
                          cl_unhex(e.reportdata, strlen(data) / 2, data) < 0)) ||
        (mrenclave != NULL && (strlen(mrenclave) != 64 ||
                               cl_unhex(e.mrenclave, 32, mrenclave) < 0)))
        return cli_usage_error(&cli_quote_commands[1], "--report-data is up to 64 bytes in "
                               "hex, --mrenclave 32");
    if (isvsvn != NULL) {
        char *end;
        long n = strtol(isvsvn, &end, 10);
        if (*end != '\0' || end == isvsvn || n < 0 || n > 65535)
            return cli_usage_error(&cli_quote_commands[1], "--isvsvn is from 0 to 65535");
        e.isvsvn = (uint16_t)n;
    }
    if (debug != NULL)
        e.flags |= 0x2;
    if (keys != NULL) {
        if ((rc = cli_read_file(keys, 64 * 1024, &keys_pem, &keys_len)) != 0)
            return rc;
        o.keys_pem = (const char *)keys_pem;
    }
    rc = cl_sim_pki_new(&p, &o, &err);
    if (keys_pem != NULL)
        OPENSSL_cleanse(keys_pem, keys_len);
    free(keys_pem);
    if (rc < 0 || cl_sim_quote(p, v, &e, &quote, &len, &err) < 0) {
        fprintf(stderr, "cloister: %s\n", err.message);
        cl_sim_pki_free(p);
        return rc < 0 && keys != NULL ? CLI_EUSAGE : CLI_ESERVER;
    }
    const cl_dcap_collateral *k = cl_sim_collateral(p);
    BIO *bio = BIO_new(BIO_s_mem());
    char *root;
    long root_len = bio && PEM_write_bio_X509(bio, cl_sim_root(p)) ?
                    BIO_get_mem_data(bio, &root) : 0;
    rc = (keys_out = cl_sim_keys_pem(p)) == NULL ? CLI_ESERVER
       : write_file(dir, "pki-keys.pem", keys_out, strlen(keys_out), 1);
    rc = rc ? rc : write_file(dir, "quote.bin", quote, len, 0);
    rc = rc ? rc : write_file(dir, "tcb_info.json", k->tcb_info, k->tcb_info_len, 0);
    rc = rc ? rc : write_file(dir, "tcb_info_issuer_chain.pem", k->tcb_chain, k->tcb_chain_len,
                              0);
    rc = rc ? rc : write_file(dir, "qe_identity.json", k->qe_identity, k->qe_identity_len, 0);
    rc = rc ? rc : write_file(dir, "qe_identity_issuer_chain.pem", k->qe_chain, k->qe_chain_len,
                              0);
    rc = rc ? rc : write_file(dir, "pck_crl.der", k->pck_crl, k->pck_crl_len, 0);
    rc = rc ? rc : write_file(dir, "root_ca_crl.der", k->root_crl, k->root_crl_len, 0);
    rc = rc ? rc : write_file(dir, "root.pem", root, (size_t)root_len, 0);
    if (rc == 0)
        fprintf(stderr, "cloister: a simulated version %d quote and its collateral are in "
                "\"%s\"; trust root.pem to judge them (--trust-root)\n", v, dir);
    if (keys_out != NULL)
        OPENSSL_cleanse(keys_out, strlen(keys_out));
    free(keys_out);
    BIO_free(bio);
    free(quote);
    cl_sim_pki_free(p);
    return rc;
}

const cli_command cli_quote_commands[] = {
    { "quote", "verify", quote_verify,
      "QUOTE.bin [--collateral DIR | --pcs-url URL [--root-crl-url URL]] [--at TIME] "
      "[--accept STATUS,...] "
      "[--accept-advisories ID,...] [--allow-debug] [--trust-root ROOT.pem]",
      "judge an SGX DCAP quote without a daemon: its signatures, PCK chain and CRLs, "
      "collateral (from DIR, or fetched from Intel's PCS or the PCCS at --pcs-url) and TCB "
      "level as of TIME (Unix seconds or RFC 3339; default now), then the policy (default: "
      "UpToDate and SWHardeningNeeded, no advisories, no debug); exit 0 only when authentic "
      "and accepted",
      "cloister quote verify quote.bin --collateral ./collateral --at 2025-07-19T10:00:00Z" },
    { "quote", "simulate", quote_simulate,
      "--out DIR [--quote-version 3|4] [--report-data HEX] [--mrenclave HEX] [--isvsvn N] "
      "[--debug] [--pki-keys FILE]",
      "write a quote from a simulated SGX PKI with its collateral, root.pem and the PKI's "
      "keys (pki-keys.pem, 0600) into DIR, for machines without SGX and for tests (trusted "
      "only where root.pem is); --pki-keys reuses a PKI made before, so that its root and "
      "collateral stay valid",
      "cloister quote simulate --out ./sim && cloister quote verify sim/quote.bin "
      "--collateral sim --trust-root sim/root.pem" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
