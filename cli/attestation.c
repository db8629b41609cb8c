/*
 * attestation.c - cloister attestation verify | list | get, and cloister
 * collateral import | list: judging evidence through the daemon, and the
 * collateral it judges with.  (`cloister quote verify`, in quote.c, judges
 * offline.)
 */
#include "cli.h"
#include "token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUOTE_FILE_MAX (1u << 20)
#define COLLATERAL_FILE_MAX (1u << 20)

static const cli_column report_columns[] = {
    { "ID", "id" }, { "VERDICT", "verdict" }, { "AUTHENTIC", "authentic" },
    { "TCB STATUS", "tcb_status" }, { "ADVISORIES", "advisory_ids" },
    { "MRENCLAVE", "mrenclave" }, { "MRSIGNER", "mrsigner" }, { "FMSPC", "fmspc" },
    { "REASONS", "reasons" }, { "SIMULATED", "simulated" }, { "VERIFIED AT", "verified_at" },
    { NULL, NULL },
};

/* A file's bytes in base64 (malloc'd). */
static int file_b64(const char *path, size_t max, char **out)
{
    uint8_t *data;
    size_t len;
    int rc;

    *out = NULL;
    if ((rc = cli_read_file(path, max, &data, &len)) != 0)
        return rc;
    *out = malloc(((len + 2) / 3) * 4 + 1);
    if (*out != NULL)
        cl_b64_encode(*out, data, len);
    free(data);
    return *out ? 0 : CLI_ESERVER;
}

static int attestation_verify(cli_ctx *c, int argc, char **argv)
{
    const char *at = NULL, *nonce = NULL, *key = NULL, *pos[1];
    const cli_flag flags[] = { { "--at", &at, 0, NULL }, { "--nonce", &nonce, 0, NULL },
                               { "--public-key", &key, 0, NULL }, { NULL, NULL, 0, NULL } };
    char *quote = NULL, *spki = NULL;
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_attestation_commands[0], argc, argv, flags, pos, 1, 1,
                       &npos)) != 0)
        return rc;
    if ((nonce == NULL) != (key == NULL))
        return cli_usage_error(&cli_attestation_commands[0], "--nonce and --public-key go "
                               "together");
    uint8_t *raw;
    size_t len;
    if ((rc = cli_read_file(pos[0], QUOTE_FILE_MAX, &raw, &len)) != 0)
        return rc;
    /* an Azure Attestation token is text: three base64url parts */
    while (len > 0 && (raw[len - 1] == '\n' || raw[len - 1] == '\r'))
        raw[--len] = '\0';
    int token = len > 0 && strspn((char *)raw, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                                               "vwxyz0123456789-_.") == len &&
                strchr((char *)raw, '.') != NULL;
    if (!token && (quote = malloc(((len + 2) / 3) * 4 + 1)) != NULL)
        cl_b64_encode(quote, raw, len);
    if ((!token && quote == NULL) || (key != NULL && (rc = file_b64(key, 4096, &spki)) != 0)) {
        free(raw);
        free(quote);
        return rc ? rc : CLI_ESERVER;
    }
    json_t *body = json_pack("{s:s, s:s?, s:s?, s:s?}", token ? "maa_token" : "quote",
                             token ? (char *)raw : quote, "at", at, "nonce", nonce,
                             "public_key", spki);
    free(raw);
    free(quote);
    free(spki);
    rc = cli_call(c, "POST", "/v1/attestation/verify", body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, report_columns, "id");
    rc = strcmp(json_string_value(json_object_get(reply.body, "verdict")), "accepted") == 0
             ? 0 : CLI_EINVALID;
    cli_reply_free(&reply);
    return rc;
}

static int attestation_list(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "ID", "id" }, { "VERDICT", "verdict" }, { "AUTHENTIC", "authentic" },
        { "TCB STATUS", "tcb_status" }, { "MRENCLAVE", "mrenclave" },
        { "VERIFIED AT", "verified_at" }, { NULL, NULL },
    };
    const char *verdict = NULL, *pos[1];
    const cli_flag flags[] = { { "--verdict", &verdict, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256] = "/v1/attestation-reports";
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_attestation_commands[1], argc, argv, flags, pos, 0, 0,
                       &npos)) != 0)
        return rc;
    const char *names[] = { "verdict" }, *values[] = { verdict };
    cli_query(path, sizeof(path), names, values, 1);
    if ((rc = cli_list(c, path, 100, &items)) != 0)
        return rc;
    cli_print_list(c, items, columns, "id");
    json_decref(items);
    return 0;
}

static int attestation_get(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_attestation_commands[2], argc, argv, NULL, pos, 1, 1,
                       &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/attestation-reports/%s", pos[0]);
    if ((rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
        return rc;
    cli_print_one(c, reply.body, report_columns, "id");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_attestation_commands[] = {
    { "attestation", "verify", attestation_verify,
      "QUOTE.bin|TOKEN.jwt [--at TIME] [--nonce NONCE --public-key KEY.der]",
      "have the daemon judge a quote (with its collateral) or an Azure Attestation token "
      "under the account's policy, and keep the report; exit 0 only when accepted",
      "cloister attestation verify quote.bin" },
    { "attestation", "list", attestation_list, "[--verdict accepted|refused]",
      "list the account's attestation reports, newest first",
      "cloister attestation list --verdict refused" },
    { "attestation", "get", attestation_get, "REPORT",
      "show an attestation report (-o json for its checks and the evidence)",
      "cloister attestation get 6f1c1c1e-8a8e-4b7f-9d7c-2c1f0b8d2a11 -o json" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

/* ---- collateral ------------------------------------------------------------- */

static int collateral_import(cli_ctx *c, int argc, char **argv)
{
    static const struct {
        const char *file, *field;
        int binary;
    } parts[] = {
        { "tcb_info.json", "tcb_info", 0 },
        { "tcb_info_issuer_chain.pem", "tcb_info_issuer_chain", 0 },
        { "qe_identity.json", "qe_identity", 0 },
        { "qe_identity_issuer_chain.pem", "qe_identity_issuer_chain", 0 },
        { "pck_crl.der", "pck_crl", 1 },
        { "root_ca_crl.der", "root_ca_crl", 1 },
    };
    static const cli_column columns[] = {
        { "KIND", "kind" }, { "KEY", "key" }, { "ISSUED", "issue_date" },
        { "NEXT UPDATE", "next_update" }, { NULL, NULL },
    };
    const char *ca = NULL, *pos[1];
    const cli_flag flags[] = { { "--ca", &ca, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[4096];
    cli_reply reply;
    int npos, rc = 0;

    if ((rc = cli_args(c, &cli_collateral_commands[0], argc, argv, flags, pos, 1, 1,
                       &npos)) != 0)
        return rc;
    json_t *body = json_object();
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && rc == 0; i++) {
        char *value = NULL;
        uint8_t *text;
        size_t len;

        snprintf(path, sizeof(path), "%s/%s", pos[0], parts[i].file);
        if (access(path, R_OK) != 0)
            continue;                   /* import what the directory has */
        if (parts[i].binary) {
            rc = file_b64(path, COLLATERAL_FILE_MAX, &value);
        } else if ((rc = cli_read_file(path, COLLATERAL_FILE_MAX, &text, &len)) == 0) {
            value = (char *)text;
        }
        if (value != NULL)
            json_object_set_new(body, parts[i].field, json_string(value));
        free(value);
    }
    if (rc == 0 && json_object_get(body, "pck_crl") != NULL) {
        if (ca == NULL) {
            json_decref(body);
            return cli_usage_error(&cli_collateral_commands[0], "say which CA issued "
                                   "pck_crl.der: --ca processor or --ca platform");
        }
        json_object_set_new(body, "pck_crl_ca", json_string(ca));
    }
    if (rc == 0)
        rc = cli_call(c, "POST", "/v1/collateral", body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_list(c, json_object_get(reply.body, "imported"), columns, "kind");
    cli_reply_free(&reply);
    return 0;
}

static int collateral_list(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "KIND", "kind" }, { "KEY", "key" }, { "VERSION", "version" },
        { "ISSUED", "issue_date" }, { "NEXT UPDATE", "next_update" }, { "SOURCE", "source" },
        { NULL, NULL },
    };
    const char *pos[1];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_collateral_commands[1], argc, argv, NULL, pos, 0, 0,
                       &npos)) != 0 ||
        (rc = cli_call(c, "GET", "/v1/collateral", NULL, &reply)) != 0)
        return rc;
    cli_print_list(c, json_object_get(reply.body, "items"), columns, "kind");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_collateral_commands[] = {
    { "collateral", "import", collateral_import, "DIR [--ca processor|platform]",
      "import Intel's SGX collateral from a directory, named as the PCS serves it "
      "(instance administrators; docs/attestation.md)",
      "cloister collateral import ./collateral --ca processor" },
    { "collateral", "list", collateral_list, "", "list the collateral the daemon holds",
      "cloister collateral list" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
