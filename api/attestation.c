/*
 * attestation.c - judging attestation evidence and keeping the verdicts:
 * /v1/attestation/nonce, /v1/attestation/verify, /v1/attestation-reports
 * and /v1/policies/attestation.
 *
 * A quote is judged by lib/sgx/dcap.c with the collateral the daemon holds
 * for its platform (api/collateral.c), at the time given or now, under the
 * account's policy; every judgement is kept as a report, accepted or not.
 * When the caller gives a nonce (from POST /v1/attestation/nonce, single
 * use, five minutes) and the public key the evidence speaks for, the
 * binding API.md fixes is checked too: the report data's first 32 bytes
 * are SHA-256 of the key's DER SubjectPublicKeyInfo and the 32 nonce
 * bytes, the rest zero.
 */
#include "attestation.h"
#include "collateral.h"
#include "daemon.h"
#include "digest.h"
#include "http_client.h"
#include "resource.h"
#include "rfc3339.h"
#include "sgx/dcap.h"
#include "sgx/maa.h"
#include "sgx/quote.h"
#include "token.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NONCE_BYTES 32
#define SPKI_MAX 1024
#define LIST_MAX 32

#define REPORT_COLUMNS \
    "t.id, t.subject, t.evidence_kind, t.mrenclave, t.mrsigner, t.isvprodid, t.isvsvn," \
    " t.debug, t.report_data, t.fmspc, t.tcb_status, t.advisory_ids, t.authentic," \
    " t.simulated, t.verdict, t.reasons, t.details, t.verified_at, t.created_by, t.created_at"

/* ---- nonces ----------------------------------------------------------------- */

/* POST /v1/attestation/nonce */
static int nonce_create(cl_req *r, json_t **out)
{
    unsigned char bytes[NONCE_BYTES];
    char nonce[((NONCE_BYTES + 2) / 3) * 4 + 1];
    PGresult *res;
    cl_pg *db;
    int rc;

    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return cl_req_fail(r, CL_ERROR, "no random bytes");
    cl_b64_encode(nonce, bytes, sizeof(bytes));
    const char *params[2] = { nonce, cl_req_principal(r)->account_id };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "DELETE FROM attestation_nonces WHERE expires_at < "
                          "now() - interval '1 hour'", 0, NULL)) < 0 ||
        (rc = cl_req_exec(r, db, &res, "INSERT INTO attestation_nonces (nonce, account_id,"
                          " expires_at) VALUES ($1, $2, now() + interval '5 minutes')"
                          " RETURNING nonce, expires_at", 2, params)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 201, NULL);
}

/* ---- policy --------------------------------------------------------------- */

#define POLICY_SELECT \
    "SELECT coalesce(p.accepted_statuses, '[\"UpToDate\", \"SWHardeningNeeded\"]'::jsonb)" \
    "   AS accepted_statuses, coalesce(p.accepted_advisories, '[]'::jsonb)" \
    "   AS accepted_advisories, coalesce(p.allow_debug, false) AS allow_debug," \
    "   coalesce(p.min_isvsvn, 0) AS min_isvsvn, coalesce(p.version, 0) AS _version" \
    " FROM (SELECT 1) one LEFT JOIN attestation_policies p ON p.account_id = $1"

/* GET /v1/policies/attestation */
static int policy_get(cl_req *r, json_t **out)
{
    return cl_account_row(r, out, POLICY_SELECT);
}

static int string_list(cl_req *r, const char *field, json_t *v)
{
    size_t i;
    json_t *s;

    if (!json_is_array(v) || json_array_size(v) > LIST_MAX)
        return cl_error_field(cl_req_err(r), field, "must be a list of at most %d strings",
                              LIST_MAX);
    json_array_foreach(v, i, s)
        if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > 64)
            return cl_error_field(cl_req_err(r), field, "must be a list of at most %d "
                                  "strings", LIST_MAX);
    return 0;
}

/* PUT /v1/policies/attestation */
static int policy_put(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "accepted_statuses", "accepted_advisories",
                                          "allow_debug", "min_isvsvn", NULL };
    static const char *const statuses[] = {
        "UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
        "ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded",
        "Revoked", NULL,
    };
    json_t *body = cl_req_body(r), *v;
    const char *account = cl_req_principal(r)->account_id, *version;
    PGresult *res;
    cl_pg *db;
    size_t i;
    int rc;

    if ((rc = cl_req_if_match(r, &version)) < 0)
        return rc;
    cl_body_only(r, fields);
    json_t *st = json_object_get(body, "accepted_statuses");
    json_t *adv = json_object_get(body, "accepted_advisories");
    json_t *debug = json_object_get(body, "allow_debug");
    json_t *min = json_object_get(body, "min_isvsvn");
    if (string_list(r, "accepted_statuses", st) == 0)
        json_array_foreach(st, i, v) {
            int known = 0;
            for (const char *const *s = statuses; *s; s++)
                known |= strcmp(*s, json_string_value(v)) == 0;
            if (!known)
                cl_error_field(cl_req_err(r), "accepted_statuses", "\"%s\" is not a TCB status",
                               json_string_value(v));
        }
    string_list(r, "accepted_advisories", adv);
    if (!json_is_boolean(debug))
        cl_error_field(cl_req_err(r), "allow_debug", "must be true or false");
    if (!json_is_integer(min) || json_integer_value(min) < 0 || json_integer_value(min) > 65535)
        cl_error_field(cl_req_err(r), "min_isvsvn", "must be an integer from 0 to 65535");
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    char *st_text = json_dumps(st, JSON_COMPACT), *adv_text = json_dumps(adv, JSON_COMPACT);
    char min_text[16];
    cl_arena_defer(cl_req_arena(r), free, st_text);
    cl_arena_defer(cl_req_arena(r), free, adv_text);
    snprintf(min_text, sizeof(min_text), "%lld", (long long)json_integer_value(min));
    const char *params[6] = { account, st_text, adv_text, json_is_true(debug) ? "true" : "false",
                              min_text, version };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "INSERT INTO attestation_policies AS p (account_id, accepted_statuses,"
            "  accepted_advisories, allow_debug, min_isvsvn)"
            " VALUES ($1, $2::jsonb, $3::jsonb, $4::boolean, $5::int)"
            " ON CONFLICT (account_id) DO UPDATE SET accepted_statuses = $2::jsonb,"
            "  accepted_advisories = $3::jsonb, allow_debug = $4::boolean, min_isvsvn = $5::int,"
            "  version = p.version + 1, updated_at = now()"
            " WHERE $6::int IS NULL OR p.version = $6::int RETURNING version", 6, params)) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_EPRECONDITION, "the attestation policy was changed since "
                           "version %s", version);
    if ((rc = cl_audit(r, db, account, "policy.attestation.update",
                       cl_arena_printf(cl_req_arena(r), "account:%s", account),
                       json_pack("{s:s, s:s, s:b, s:I}", "accepted_statuses", st_text,
                                 "accepted_advisories", adv_text, "allow_debug",
                                 json_is_true(debug), "min_isvsvn",
                                 json_integer_value(min)))) < 0 ||
        (rc = cl_account_exec(r, db, &res, POLICY_SELECT)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* ---- verification -------------------------------------------------------------- */

/* The collateral the daemon holds for the quote's platform, decoded. */
static int collateral_for(cl_req *r, const uint8_t *quote, size_t len, cl_dcap_collateral *c,
                          cl_pg **dbp)
{
    char fmspc[13], ca[16];
    cl_error why = { 0 };
    PGresult *res;
    cl_pg *db;
    int rc;

    if (cl_dcap_quote_platform(quote, len, fmspc, ca, &why) < 0) {
        cl_error_field(cl_req_err(r), "quote", "%s", why.message);
        return CL_EINVALID;
    }
    if ((rc = cl_collateral_ensure(r, fmspc, ca)) < 0 || (rc = cl_req_begin(r, &db)) < 0)
        return rc;
    const char *params[2] = { fmspc, ca };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT c.kind, translate(encode(c.body, 'base64'), E'\\n', '') AS body,"
            "  c.issuer_chain FROM collateral c"
            " WHERE (c.kind = 'tcb_info' AND c.key = $1) OR (c.kind = 'pck_crl' AND c.key = $2)"
            "    OR c.kind IN ('qe_identity', 'root_ca_crl')", 2, params)) < 0)
        return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *kind = PQgetvalue(res, i, 0), *b64 = PQgetvalue(res, i, 1);
        size_t cap = strlen(b64), n = 0;
        uint8_t *bytes = cl_arena_alloc(cl_req_arena(r), cap + 1);

        if (bytes == NULL || cl_b64_decode(bytes, cap, &n, b64) < 0)
            return cl_req_fail(r, CL_ERROR, "stored collateral could not be read");
        bytes[n] = '\0';
        const char *chain = PQgetvalue(res, i, 2);
        if (strcmp(kind, "tcb_info") == 0) {
            c->tcb_info = (const char *)bytes;
            c->tcb_info_len = n;
            c->tcb_chain = chain;
            c->tcb_chain_len = strlen(chain);
        } else if (strcmp(kind, "qe_identity") == 0) {
            c->qe_identity = (const char *)bytes;
            c->qe_identity_len = n;
            c->qe_chain = chain;
            c->qe_chain_len = strlen(chain);
        } else if (strcmp(kind, "pck_crl") == 0) {
            c->pck_crl = bytes;
            c->pck_crl_len = n;
        } else {
            c->root_crl = bytes;
            c->root_crl_len = n;
        }
    }
    *dbp = db;
    if (c->tcb_info == NULL || c->qe_identity == NULL || c->pck_crl == NULL ||
        c->root_crl == NULL)
        return cl_req_fail(r, CL_EUNAVAILABLE, "the daemon holds no %s for this quote's "
                           "platform (FMSPC %s, PCK %s CA) and could not fetch it from the "
                           "PCS: import it (POST /v1/collateral)",
                           c->tcb_info == NULL ? "TCB Info" : c->qe_identity == NULL
                           ? "QE identity" : c->pck_crl == NULL ? "PCK CRL" : "root CA CRL",
                           fmspc, ca);
    return 0;
}

/* The account's policy in the verifier's terms (strings in the arena). */
static int policy_of(cl_req *r, cl_pg *db, cl_attestation_policy *p)
{
    PGresult *res;
    json_t *lists[2];
    int rc;

    if ((rc = cl_account_exec(r, db, &res, POLICY_SELECT)) < 0)
        return rc;
    lists[0] = cl_row_value(res, 0, PQfnumber(res, "accepted_statuses"));
    lists[1] = cl_row_value(res, 0, PQfnumber(res, "accepted_advisories"));
    for (int k = 0; k < 2; k++) {
        const char **out = cl_arena_alloc(cl_req_arena(r),
                                          (json_array_size(lists[k]) + 1) * sizeof(char *));
        size_t i;
        json_t *v;

        if (out == NULL)
            return cl_req_fail(r, CL_ERROR, "out of memory");
        json_array_foreach(lists[k], i, v)
            out[i] = cl_arena_strdup(cl_req_arena(r), json_string_value(v));
        out[json_array_size(lists[k])] = NULL;
        if (k == 0)
            p->statuses = out;
        else
            p->advisories = out;
        json_decref(lists[k]);
    }
    p->allow_debug = strcmp(cl_row_text(res, 0, "allow_debug"), "t") == 0;
    p->min_isvsvn = (int)strtol(cl_row_text(res, 0, "min_isvsvn"), NULL, 10);
    return 0;
}

static void refuse(json_t *verdict, const char *reason)
{
    json_t *policy = json_object_get(verdict, "policy");

    json_array_append_new(json_object_get(policy, "reasons"), json_string(reason));
    json_object_set_new(policy, "verdict", json_string("refused"));
}

/* The nonce and key binding (API.md): the nonce is used up whatever the
 * outcome. */
static int check_binding(cl_req *r, cl_pg *db, json_t *verdict, const cl_evidence *ev)
{
    unsigned char bound[SPKI_MAX + NONCE_BYTES + 3], expect[32];
    size_t nonce_len = 0;
    PGresult *res;
    int rc;

    if (ev->spki_len > SPKI_MAX)
        return cl_error_field(cl_req_err(r), "public_key", "is longer than %d bytes", SPKI_MAX);
    memcpy(bound, ev->spki, ev->spki_len);
    if (cl_b64_decode(bound + ev->spki_len, NONCE_BYTES + 3, &nonce_len, ev->nonce) < 0 ||
        nonce_len != NONCE_BYTES)
        return cl_error_field(cl_req_err(r), "nonce", "must be the 32 bytes of a nonce from "
                              "POST /v1/attestation/nonce, in base64");
    const char *params[2] = { ev->nonce, cl_req_principal(r)->account_id };
    if ((rc = cl_req_exec(r, db, &res, "UPDATE attestation_nonces SET used_at = now()"
                          " WHERE nonce = $1 AND account_id = $2 AND used_at IS NULL"
                          "   AND expires_at > now() RETURNING nonce", 2, params)) < 0)
        return rc;
    if (PQntuples(res) != 1)
        refuse(verdict, "the nonce is unknown, used already or expired");
    const char *data = json_string_value(json_object_get(json_object_get(verdict, "quote"),
                                                         "report_data"));
    char hex[65];
    cl_sha256(expect, bound, ev->spki_len + NONCE_BYTES);
    cl_hex(hex, expect, 32);
    if (data == NULL || strncmp(data, hex, 64) != 0 ||
        strspn(data + 64, "0") != strlen(data + 64))
        refuse(verdict, "the report data does not bind the public key and the nonce");
    /* an Azure Attestation token also carries the runtime data itself */
    const char *runtime = json_string_value(json_object_get(json_object_get(verdict, "quote"),
                                                            "runtime_data"));
    if (json_object_get(verdict, "maa") != NULL) {
        unsigned char *bytes = runtime ? cl_arena_alloc(cl_req_arena(r), strlen(runtime) + 3)
                                       : NULL;
        size_t n = 0;

        if (bytes == NULL || cl_b64_decode(bytes, strlen(runtime) + 3, &n, runtime) < 0 ||
            n != ev->spki_len + NONCE_BYTES || memcmp(bytes, bound, n) != 0)
            refuse(verdict, "the token's runtime data is not the public key and the nonce");
    }
    return 0;
}

static int listed(const char *value, const char *const *list)
{
    for (size_t i = 0; value != NULL && list != NULL && list[i] != NULL; i++)
        if (strcasecmp(value, list[i]) == 0)
            return 1;
    return 0;
}

/* The enclave must be one of those expected, when some are. */
static void check_measurements(cl_req *r, json_t *verdict, const cl_evidence *ev)
{
    json_t *q = json_object_get(verdict, "quote");
    const char *mrenclave = json_string_value(json_object_get(q, "mrenclave"));
    const char *mrsigner = json_string_value(json_object_get(q, "mrsigner"));
    int any = (ev->mrenclaves && ev->mrenclaves[0]) || (ev->mrsigners && ev->mrsigners[0]);

    if (any && !listed(mrenclave, ev->mrenclaves) && !listed(mrsigner, ev->mrsigners))
        refuse(verdict, cl_arena_printf(cl_req_arena(r), "the enclave (MRENCLAVE %s, MRSIGNER "
                                        "%s) is not one %s names", mrenclave ? mrenclave : "-",
                                        mrsigner ? mrsigner : "-",
                                        ev->expected_by ? ev->expected_by : "the policy"));
}

/* ---- Azure Attestation ----------------------------------------------------------- */

/* The instance's signing keys (its JWKS), fetched when first needed and
 * again when `again` (a key id it did not have), kept an hour otherwise. */
static int maa_keys(cl_req *r, int again, char **jwks)
{
    cl_daemon *d = cl_req_daemon(r);
    char url[1024];
    cl_http_options opt = { .timeout_s = d->cfg.pcs_timeout, .max_body = 1024 * 1024 };
    cl_http_response resp = { .keep = { NULL } };
    cl_error why = { 0 };
    int rc;

    pthread_mutex_lock(&d->maa_lock);
    if (d->maa_jwks != NULL && !again && time(NULL) - d->maa_jwks_at < 3600) {
        *jwks = cl_arena_strdup(cl_req_arena(r), d->maa_jwks);
        pthread_mutex_unlock(&d->maa_lock);
        return *jwks ? 0 : cl_req_fail(r, CL_ERROR, "out of memory");
    }
    if (d->cfg.maa_certs_url != NULL && d->cfg.maa_certs_url[0] != '\0')
        snprintf(url, sizeof(url), "%s", d->cfg.maa_certs_url);
    else
        snprintf(url, sizeof(url), "%s/certs", d->cfg.maa_url);
    rc = cl_http_request(&resp, &opt, "GET", url, NULL, NULL, 0, &why);
    if (rc == 0 && resp.status == 200 && resp.body != NULL) {
        free(d->maa_jwks);
        d->maa_jwks = resp.body;
        d->maa_jwks_at = time(NULL);
        resp.body = NULL;
    }
    cl_http_response_free(&resp);
    *jwks = d->maa_jwks ? cl_arena_strdup(cl_req_arena(r), d->maa_jwks) : NULL;
    pthread_mutex_unlock(&d->maa_lock);
    if (*jwks == NULL)
        return cl_req_fail(r, CL_EUNAVAILABLE, "the Azure Attestation keys could not be had "
                           "from %s: %s", url, rc < 0 ? why.message : "it did not answer 200");
    return 0;
}

static int maa_verify(cl_req *r, const char *token, time_t at, json_t **verdict)
{
    cl_daemon *d = cl_req_daemon(r);
    const char *issuer = d->cfg.maa_issuer && d->cfg.maa_issuer[0] ? d->cfg.maa_issuer
                                                                    : d->cfg.maa_url;
    cl_error why = { 0 };
    char *jwks;
    int rc;

    for (int attempt = 0; attempt < 2; attempt++) {
        if ((rc = maa_keys(r, attempt, &jwks)) < 0)
            return rc;
        if (cl_maa_verify(token, strlen(token), jwks, strlen(jwks), issuer, at, verdict,
                          &why) < 0)
            return cl_req_fail(r, CL_ERROR, "%s", why.message);
        json_t *checks = json_object_get(*verdict, "checks");
        const char *last = json_string_value(json_object_get(
            json_array_get(checks, json_array_size(checks) - 1), "name"));
        if (attempt == 0 && last != NULL && strcmp(last, "signing_key") == 0 &&
            !json_is_true(json_object_get(*verdict, "authentic"))) {
            json_decref(*verdict);          /* a key it did not have: the keys again */
            continue;
        }
        break;
    }
    return 0;
}

int cl_evidence_from_body(cl_req *r, cl_evidence *ev)
{
    const char *b64 = cl_body_string(r, "quote", 0, ((CL_QUOTE_MAX + 2) / 3) * 4);

    ev->maa_token = cl_body_string(r, "maa_token", 0, CL_MAA_TOKEN_MAX);
    if ((b64 == NULL) == (ev->maa_token == NULL))
        return cl_error_field(cl_req_err(r), "quote", "give the evidence: a quote, or an Azure "
                              "Attestation token (maa_token), not both");
    if (ev->maa_token != NULL && (cl_req_daemon(r)->cfg.maa_url == NULL ||
                                  cl_req_daemon(r)->cfg.maa_url[0] == '\0'))
        return cl_error_field(cl_req_err(r), "maa_token", "this installation takes no Azure "
                              "Attestation tokens (its maa-url setting is empty)");
    if (b64 != NULL) {
        uint8_t *quote = cl_arena_alloc(cl_req_arena(r), strlen(b64) + 3);

        if (quote == NULL || cl_b64_decode(quote, strlen(b64) + 3, &ev->quote_len, b64) < 0)
            return cl_error_field(cl_req_err(r), "quote", "must be the quote's bytes in base64");
        ev->quote = quote;
    }
    return 0;
}

int cl_attestation_judge(cl_req *r, const cl_evidence *ev, cl_pg **dbp, PGresult **report,
                         int *accepted)
{
    const cl_principal *p = cl_req_principal(r);
    cl_dcap_collateral collateral = { 0 };
    cl_attestation_policy policy;
    const uint8_t *evidence = ev->quote;
    size_t len = ev->quote_len;
    cl_error why = { 0 };
    json_t *verdict;
    PGresult *res;
    cl_pg *db;
    int rc;

    /* the collateral is fetched (and committed) before the report's own
     * transaction begins */
    if (ev->maa_token != NULL) {
        if ((rc = maa_verify(r, ev->maa_token, ev->at, &verdict)) < 0)
            return rc;
        cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)json_decref, verdict);
        if ((rc = cl_req_begin(r, &db)) < 0)
            return rc;
        evidence = (const uint8_t *)ev->maa_token;  /* the evidence kept is the token */
        len = strlen(ev->maa_token);
    } else {
        if ((rc = collateral_for(r, ev->quote, ev->quote_len, &collateral, &db)) < 0)
            return rc;
        if (cl_dcap_verify(ev->quote, ev->quote_len, &collateral, cl_req_daemon(r)->sgx_roots,
                           ev->at, cl_req_daemon(r)->sgx_cache, &verdict, &why) < 0)
            return cl_req_fail(r, CL_ERROR, "%s", why.message);
        cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)json_decref, verdict);
    }
    if ((rc = policy_of(r, db, &policy)) < 0)
        return rc;
    cl_dcap_policy(verdict, &policy);
    check_measurements(r, verdict, ev);
    if (ev->nonce != NULL && (rc = check_binding(r, db, verdict, ev)) < 0)
        return rc;

    json_t *q = json_object_get(verdict, "quote"), *pol = json_object_get(verdict, "policy");
    char *details = json_dumps(verdict, JSON_COMPACT), *reasons = json_dumps(
        json_object_get(pol, "reasons"), JSON_COMPACT), *advisories = json_dumps(
        json_object_get(verdict, "advisory_ids"), JSON_COMPACT);
    char *hex = cl_arena_alloc(cl_req_arena(r), 2 * len + 3), prodid[8] = "", svn[8] = "";
    cl_arena_defer(cl_req_arena(r), free, details);
    cl_arena_defer(cl_req_arena(r), free, reasons);
    cl_arena_defer(cl_req_arena(r), free, advisories);
    if (hex == NULL || details == NULL || reasons == NULL || advisories == NULL)
        return cl_req_fail(r, CL_ERROR, "out of memory");
    hex[0] = '\\';
    hex[1] = 'x';
    cl_hex(hex + 2, evidence, len);
    if (q != NULL) {
        snprintf(prodid, sizeof(prodid), "%lld",
                 (long long)json_integer_value(json_object_get(q, "isvprodid")));
        snprintf(svn, sizeof(svn), "%lld",
                 (long long)json_integer_value(json_object_get(q, "isvsvn")));
    }
    const char *row[20] = {
        p->account_id, hex, json_string_value(json_object_get(q, "mrenclave")),
        json_string_value(json_object_get(q, "mrsigner")), q ? prodid : NULL, q ? svn : NULL,
        q ? (json_is_true(json_object_get(q, "debug")) ? "true" : "false") : NULL,
        json_string_value(json_object_get(q, "report_data")),
        json_string_value(json_object_get(json_object_get(verdict, "pck"), "fmspc")),
        json_string_value(json_object_get(verdict, "tcb_status")), advisories,
        json_is_true(json_object_get(verdict, "authentic")) ? "true" : "false",
        json_is_true(json_object_get(verdict, "simulated")) ? "true" : "false",
        json_string_value(json_object_get(pol, "verdict")), reasons, details,
        json_string_value(json_object_get(verdict, "verified_at")), p->actor,
        ev->maa_token != NULL ? "maa" : "sgx_dcap", ev->subject,
    };
    if ((rc = cl_req_exec(r, db, &res,
            "INSERT INTO attestation_reports AS t (account_id, subject, evidence_kind, evidence,"
            "  mrenclave, mrsigner, isvprodid, isvsvn, debug, report_data, fmspc, tcb_status,"
            "  advisory_ids, authentic, simulated, verdict, reasons, details, verified_at,"
            "  created_by)"
            " VALUES ($1, $20, $19, $2::bytea, $3, $4, $5::int, $6::int,"
            "  $7::boolean, $8, $9, $10, $11::jsonb, $12::boolean, $13::boolean, $14,"
            "  $15::jsonb, $16::jsonb, $17::timestamptz, $18)"
            " RETURNING " REPORT_COLUMNS, 20, row)) < 0)
        return rc;
    if ((rc = cl_audit(r, db, p->account_id, "attestation.verify",
                       cl_arena_printf(cl_req_arena(r), "attestation_report:%s",
                                       cl_row_text(res, 0, "id")),
                       json_pack("{s:s, s:s, s:b, s:s?}", "subject", ev->subject, "verdict",
                                 row[13], "authentic",
                                 json_is_true(json_object_get(verdict, "authentic")),
                                 "tcb_status", row[9]))) < 0)
        return rc;
    *dbp = db;
    *report = res;
    *accepted = strcmp(row[13], "accepted") == 0;
    return 0;
}

/* POST /v1/attestation/verify */
static int attestation_verify(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "quote", "maa_token", "at", "nonce", "public_key",
                                          NULL };
    cl_evidence ev = { .at = time(NULL), .subject = "evidence" };
    const char *at_text, *spki;
    PGresult *res;
    cl_pg *db;
    int rc, accepted;

    cl_body_only(r, fields);
    cl_evidence_from_body(r, &ev);
    at_text = cl_body_string(r, "at", 0, 64);
    ev.nonce = cl_body_string(r, "nonce", 0, 64);
    spki = cl_body_string(r, "public_key", 0, 2 * SPKI_MAX);
    if (at_text != NULL && cl_rfc3339_parse(at_text, &ev.at) < 0)
        cl_error_field(cl_req_err(r), "at", "must be an RFC 3339 time");
    if ((ev.nonce == NULL) != (spki == NULL))
        cl_error_field(cl_req_err(r), ev.nonce ? "public_key" : "nonce", "nonce and "
                       "public_key go together");
    if (spki != NULL) {
        uint8_t *der = cl_arena_alloc(cl_req_arena(r), SPKI_MAX);

        if (der == NULL || cl_b64_decode(der, SPKI_MAX, &ev.spki_len, spki) < 0)
            cl_error_field(cl_req_err(r), "public_key", "must be the key's DER "
                           "SubjectPublicKeyInfo (at most %d bytes) in base64", SPKI_MAX);
        ev.spki = der;
    }
    if ((rc = cl_body_done(r)) < 0 ||
        (rc = cl_attestation_judge(r, &ev, &db, &res, &accepted)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 201, cl_arena_printf(cl_req_arena(r),
                      "/v1/attestation-reports/%s", cl_row_text(res, 0, "id")));
}

/* ---- reports -------------------------------------------------------------------- */

/* GET /v1/attestation-reports, newest first */
static int reports_list(cl_req *r, json_t **out)
{
    char limit[16];
    cl_page page;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_page_parse(r, &page, CL_CURSOR_CREATED)) < 0 || (rc = cl_req_db(r, &db)) < 0)
        return rc;
    snprintf(limit, sizeof(limit), "%d", page.limit + 1);
    const char *params[5] = { cl_req_principal(r)->account_id, cl_req_query(r, "verdict"),
                              page.after, limit, cl_req_query(r, "subject") };
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT " REPORT_COLUMNS ", cl_time(t.created_at) || '|' || t.id AS _cursor"
            "  FROM attestation_reports t WHERE t.account_id = $1"
            "   AND ($2::text IS NULL OR t.verdict = $2)"
            "   AND ($5::text IS NULL OR t.subject = $5)"
            "   AND ($3::text IS NULL OR (t.created_at, t.id) <"
            "        (split_part($3, '|', 1)::timestamptz, split_part($3, '|', 2)::uuid))"
            " ORDER BY t.created_at DESC, t.id DESC LIMIT $4::int", 5, params)) < 0)
        return rc;
    return cl_page_items(r, out, res, page.limit);
}

/* GET /v1/attestation-reports/{id} */
static int reports_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "attestation report", "SELECT " REPORT_COLUMNS
                          ", translate(encode(t.evidence, 'base64'), E'\\n', '') AS evidence"
                          " FROM attestation_reports t", "t", "")) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

const cl_route cl_attestation_routes[] = {
    { "POST", "/v1/attestation/nonce",        nonce_create,
      CL_ROLE_WRITE | CL_JOIN_TOKEN | CL_NODE_SIGNED },
    { "POST", "/v1/attestation/verify",       attestation_verify, CL_ROLE_WRITE | CL_JSON_BODY },
    { "GET",  "/v1/attestation-reports",      reports_list,       CL_ROLE_READ },
    { "GET",  "/v1/attestation-reports/{id}", reports_get,        CL_ROLE_READ },
    { "GET",  "/v1/policies/attestation",     policy_get,         CL_ROLE_READ },
    { "PUT",  "/v1/policies/attestation",     policy_put,         CL_ROLE_ADMIN | CL_JSON_BODY },
    { NULL, NULL, NULL, 0 },
};
