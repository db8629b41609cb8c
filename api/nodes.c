/*
 * nodes.c - /v1/nodes: confidential compute nodes, enrolled with a join
 * token and attestation evidence, and their lifecycle.
 *
 * Enrollment (POST /v1/nodes/enroll, "Authorization: JoinToken <token>")
 * takes a CSR for the node's EC P-256 key and evidence whose report data
 * binds that key and a nonce the token got from POST /v1/attestation/nonce
 * just before (API.md).  The evidence is judged like any other
 * (api/attestation.c) and its report kept under the subject "node:<id>",
 * accepted or not; only accepted evidence uses up one of the token's uses,
 * creates the node with the token's labels, and has the account's CA
 * certify the key, named by the node's id.
 *
 * An enrolled node speaks with requests signed by its key (RFC 9421,
 * daemon/auth.c): heartbeats, which keep it reachable and tell it when to
 * attest again, and re-attestation with fresh evidence bound to the key
 * it enrolled with.  The account's node policy (/v1/policies/nodes) sets
 * the heartbeat interval and timeout and the re-attestation interval; the
 * node-watch duty (cl_nodes_watch, one replica at a time) marks the nodes
 * that fall silent unreachable.
 *
 * A node's state changes only along the transitions below; each one is
 * audited and kept as a node event.  Revoking a node puts its certificate
 * on the account's CRL for good.
 */
#include "attestation.h"
#include "audit.h"
#include "daemon.h"
#include "enclaves.h"
#include "log.h"
#include "nodes.h"
#include "pki.h"
#include "resource.h"
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSR_MAX 16384
#define FACTS_MAX 16384
#define SPKI_MAX 1024
#define NODE_CERT_DAYS 30

#define NODE_COLUMNS \
    "n.id, n.name, n.state, n.join_token_id, n.labels, n.facts, n.agent_version," \
    " n.cert_serial, n.cert_expires_at, n.mrenclave, n.mrsigner, n.tcb_status, n.simulated," \
    " n.attestation_count, n.last_report_id, n.last_attested_at, n.last_seen_at," \
    " n.created_at, n.updated_at, n.version AS _version"

/* ---- the node policy ---------------------------------------------------------- */

/* An account without a node policy row has these, in SQL over a
 * node_policies row p (NULL when none). */
#define REATTEST_INTERVAL "coalesce(p.reattest_interval, 3600)"
#define HEARTBEAT_INTERVAL "coalesce(p.heartbeat_interval, 30)"
#define HEARTBEAT_TIMEOUT "coalesce(p.heartbeat_timeout, 180)"

#define POLICY_SELECT \
    "SELECT " REATTEST_INTERVAL " AS reattest_interval," \
    "   " HEARTBEAT_INTERVAL " AS heartbeat_interval," \
    "   " HEARTBEAT_TIMEOUT " AS heartbeat_timeout," \
    "   coalesce(p.require_approval, false) AS require_approval," \
    "   coalesce(p.agent_mrenclaves, '[]') AS agent_mrenclaves," \
    "   coalesce(p.agent_mrsigners, '[]') AS agent_mrsigners," \
    "   coalesce(p.version, 0) AS _version" \
    " FROM (SELECT 1) one LEFT JOIN node_policies p ON p.account_id = $1"
#define MEASUREMENTS_MAX 32

/* GET /v1/policies/nodes */
static int policy_get(cl_req *r, json_t **out)
{
    return cl_account_row(r, out, POLICY_SELECT);
}

static long long seconds(cl_req *r, const char *field, long long min, long long max)
{
    json_t *v = json_object_get(cl_req_body(r), field);

    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        cl_error_field(cl_req_err(r), field, "must be seconds from %lld to %lld", min, max);
        return -1;
    }
    return json_integer_value(v);
}

/* A list of at most MEASUREMENTS_MAX measurements (64 hex digits), as
 * compact JSON text in the arena; "[]" when absent. */
static const char *measurements(cl_req *r, const char *field)
{
    json_t *v = json_object_get(cl_req_body(r), field), *m;
    size_t i;

    if (v == NULL)
        return "[]";
    if (!json_is_array(v) || json_array_size(v) > MEASUREMENTS_MAX)
        goto bad;
    json_array_foreach(v, i, m) {
        const char *hex = json_string_value(m);
        if (hex == NULL || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
            goto bad;
    }
    char *text = json_dumps(v, JSON_COMPACT);
    cl_arena_defer(cl_req_arena(r), free, text);
    return text;
bad:
    cl_error_field(cl_req_err(r), field, "must be a list of at most %d measurements, each 64 "
                   "lower-case hex digits", MEASUREMENTS_MAX);
    return "[]";
}

/* PUT /v1/policies/nodes */
static int policy_put(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "reattest_interval", "heartbeat_interval",
                                          "heartbeat_timeout", "require_approval",
                                          "agent_mrenclaves", "agent_mrsigners", NULL };
    const char *account = cl_req_principal(r)->account_id, *version;
    json_t *approval = json_object_get(cl_req_body(r), "require_approval");
    char text[3][24];
    long long v[3];
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_if_match(r, &version)) < 0)
        return rc;
    cl_body_only(r, fields);
    v[0] = seconds(r, "reattest_interval", 60, 30L * 86400);
    v[1] = seconds(r, "heartbeat_interval", 5, 3600);
    v[2] = seconds(r, "heartbeat_timeout", 15, 86400);
    if (v[1] > 0 && v[2] > 0 && v[2] < 2 * v[1])
        cl_error_field(cl_req_err(r), "heartbeat_timeout", "must be at least twice the "
                       "heartbeat interval, so that one lost heartbeat is not an outage");
    if (approval != NULL && !json_is_boolean(approval))
        cl_error_field(cl_req_err(r), "require_approval", "must be true or false");
    const char *mrenclaves = measurements(r, "agent_mrenclaves");
    const char *mrsigners = measurements(r, "agent_mrsigners");
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    for (int i = 0; i < 3; i++)
        snprintf(text[i], sizeof(text[i]), "%lld", v[i]);
    const char *params[8] = { account, text[0], text[1], text[2], version,
                              json_is_true(approval) ? "true" : "false", mrenclaves, mrsigners };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "INSERT INTO node_policies AS p (account_id, reattest_interval, heartbeat_interval,"
            "  heartbeat_timeout, require_approval, agent_mrenclaves, agent_mrsigners)"
            " VALUES ($1, $2::int, $3::int, $4::int, $6::boolean, $7::jsonb, $8::jsonb)"
            " ON CONFLICT (account_id) DO UPDATE SET reattest_interval = $2::int,"
            "  heartbeat_interval = $3::int, heartbeat_timeout = $4::int,"
            "  require_approval = $6::boolean, agent_mrenclaves = $7::jsonb,"
            "  agent_mrsigners = $8::jsonb, version = p.version + 1, updated_at = now()"
            " WHERE $5::int IS NULL OR p.version = $5::int RETURNING version", 8, params)) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_EPRECONDITION, "the node policy was changed since version %s",
                           version);
    if ((rc = cl_audit(r, db, account, "policy.nodes.update",
                       cl_arena_printf(cl_req_arena(r), "account:%s", account),
                       json_pack("{s:I, s:I, s:I, s:b, s:s, s:s}", "reattest_interval",
                                 (json_int_t)v[0], "heartbeat_interval", (json_int_t)v[1],
                                 "heartbeat_timeout", (json_int_t)v[2], "require_approval",
                                 json_is_true(approval), "agent_mrenclaves", mrenclaves,
                                 "agent_mrsigners", mrsigners))) < 0 ||
        (rc = cl_account_exec(r, db, &res, POLICY_SELECT)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* What the account's node policy asks of a node's evidence (the agent
 * measurements it names, in the arena) and of its enrollment. */
static int node_rules(cl_req *r, cl_evidence *ev, int *require_approval)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_account_exec(r, db, &res, POLICY_SELECT)) < 0)
        return rc;
    for (int k = 0; k < 2; k++) {
        json_t *list = cl_row_value(res, 0, PQfnumber(res, k ? "agent_mrsigners"
                                                            : "agent_mrenclaves"));
        const char **out = cl_arena_alloc(cl_req_arena(r),
                                          (json_array_size(list) + 1) * sizeof(char *));
        size_t i;
        json_t *v;

        if (out == NULL) {
            json_decref(list);
            return cl_req_fail(r, CL_ERROR, "out of memory");
        }
        json_array_foreach(list, i, v)
            out[i] = cl_arena_strdup(cl_req_arena(r), json_string_value(v));
        out[json_array_size(list)] = NULL;
        json_decref(list);
        if (k)
            ev->mrsigners = out;
        else
            ev->mrenclaves = out;
    }
    ev->expected_by = "the account's node policy";
    if (require_approval != NULL)
        *require_approval = strcmp(cl_row_text(res, 0, "require_approval"), "t") == 0;
    return 0;
}

/* ---- enrollment ----------------------------------------------------------- */

int cl_csr_read(cl_req *r, const char *field, const char *pem, X509_REQ **csr, uint8_t **spki,
                size_t *len)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    char group[32] = "";
    EVP_PKEY *key;
    int n;

    *csr = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (*csr == NULL)
        return cl_error_field(cl_req_err(r), field, "must be a PEM certificate signing request");
    cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)X509_REQ_free, *csr);
    key = X509_REQ_get0_pubkey(*csr);
    if (key == NULL || X509_REQ_verify(*csr, key) != 1)
        return cl_error_field(cl_req_err(r), field, "is not signed by its own key");
    if (!EVP_PKEY_is_a(key, "EC") ||
        !EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), NULL) ||
        strcmp(group, "prime256v1") != 0)
        return cl_error_field(cl_req_err(r), field, "must be for an EC P-256 key");
    if ((n = i2d_PUBKEY(key, NULL)) <= 0 || n > SPKI_MAX ||
        (*spki = cl_arena_alloc(cl_req_arena(r), (size_t)n)) == NULL)
        return cl_error_field(cl_req_err(r), field, "its key could not be encoded");
    unsigned char *p = *spki;
    *len = (size_t)i2d_PUBKEY(key, &p);
    return 0;
}

static int check_facts(cl_req *r, json_t *facts)
{
    char *text;
    size_t len;

    if (facts == NULL)
        return 0;
    if (!json_is_object(facts) || json_object_size(facts) > 64)
        return cl_error_field(cl_req_err(r), "facts", "must be an object of at most 64 facts");
    text = json_dumps(facts, JSON_COMPACT);
    len = text ? strlen(text) : SIZE_MAX;
    free(text);
    return len <= FACTS_MAX ? 0 : cl_error_field(cl_req_err(r), "facts", "must be at most %d "
                                                  "bytes of JSON", FACTS_MAX);
}

const char *cl_public_url(cl_req *r)
{
    const cl_settings *cfg = &cl_req_daemon(r)->cfg;
    const char *host = cl_req_header(r, "Host");

    if (cfg->public_url != NULL && cfg->public_url[0] != '\0')
        return cfg->public_url;
    if (host == NULL || host[0] == '\0' || strpbrk(host, "/\\ \"") != NULL)
        return NULL;
    return cl_arena_printf(cl_req_arena(r), "%s://%s", cfg->tls_cert ? "https" : "http", host);
}

/* The account's CA certifies the node's key; *pem and *expires are the
 * certificate's (in the arena). */
static int certify(cl_req *r, cl_pg *db, X509_REQ *csr, const char *node, char serial[41],
                   char **pem, char **ca_pem, char expires[32])
{
    const char *account = cl_req_principal(r)->account_id;
    const cl_pki_subject subject = { node, NULL, NODE_CERT_DAYS * 86400L, 0 };
    EVP_PKEY *ca_key = NULL;
    X509 *ca = NULL, *cert = NULL;
    struct tm tm;
    char *text = NULL, *ca_text = NULL;
    int rc;

    if ((rc = cl_account_ca(r, db, account, &ca, &ca_key)) < 0 ||
        (rc = cl_pki_issue(&cert, serial, csr, ca, ca_key, &subject, cl_public_url(r), account,
                           cl_req_err(r))) < 0)
        goto done;
    if ((text = cl_pki_pem(cert)) == NULL || (ca_text = cl_pki_pem(ca)) == NULL ||
        ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1 ||
        strftime(expires, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        rc = cl_req_fail(r, CL_ERROR, "the node's certificate could not be encoded");
        goto done;
    }
    *pem = cl_arena_strdup(cl_req_arena(r), text);
    *ca_pem = cl_arena_strdup(cl_req_arena(r), ca_text);
done:
    free(text);
    free(ca_text);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}

static int node_event(cl_req *r, cl_pg *db, const char *node, const char *event,
                      const char *from, const char *to, json_t *detail)
{
    char *text = json_dumps(detail, JSON_COMPACT);
    int rc;

    json_decref(detail);
    if (text == NULL)
        return cl_req_fail(r, CL_ERROR, "out of memory");
    cl_arena_defer(cl_req_arena(r), free, text);
    const char *params[6] = { node, event, from, to, text, cl_req_principal(r)->actor };
    rc = cl_req_exec(r, db, NULL, "INSERT INTO node_events (node_id, event, from_state,"
                     " to_state, detail, actor) VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
                     6, params);
    return rc;
}

/* The node's approval task, and the audit row that says so. */
static int ask_approval(cl_req *r, cl_pg *db, const char *node, const char *name)
{
    const cl_principal *p = cl_req_principal(r);
    const char *params[4] = { p->account_id, node, name, p->actor };
    PGresult *res;
    int rc;

    if ((rc = cl_req_exec(r, db, &res,
            "INSERT INTO tasks (account_id, type, target, details, requested_by, quorum)"
            " SELECT $1, 'node_approval', 'node:' || $2,"
            "        jsonb_build_object('node_id', $2::text, 'name', $3::text), $4,"
            "        coalesce((SELECT quorum FROM approval_policies WHERE account_id = $1), 1)"
            " RETURNING id", 4, params)) < 0)
        return rc;
    return cl_audit(r, db, p->account_id, "task.create",
                    cl_arena_printf(cl_req_arena(r), "task:%s", PQgetvalue(res, 0, 0)),
                    json_pack("{s:s, s:s}", "type", "node_approval", "node_id", node));
}

int cl_nodes_decided(cl_req *r, cl_pg *db, const char *node, int approved)
{
    const char *params[1] = { node };
    PGresult *res;
    int rc;

    if ((rc = cl_req_exec(r, db, &res, "SELECT account_id, cert_serial FROM nodes"
                          " WHERE id = $1 AND state = 'pending_approval' FOR UPDATE", 1,
                          params)) < 0 || PQntuples(res) == 0)
        return rc;                          /* revoked or deactivated meanwhile */
    const char *to = approved ? "active" : "revoked";
    const char *update[2] = { node, to };
    const char *crl[3] = { PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), "approval denied" };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE nodes SET state = $2, version = version + 1,"
                          " updated_at = now() WHERE id = $1", 2, update)) < 0 ||
        (!approved &&
         (rc = cl_req_exec(r, db, NULL, "INSERT INTO revoked_certificates (account_id, serial,"
                           " reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, crl)) < 0))
        return rc;
    return node_event(r, db, node, approved ? "approve" : "deny", "pending_approval", to,
                      json_object());
}

/* POST /v1/nodes/enroll */
static int nodes_enroll(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "csr", "quote", "maa_token", "nonce", "name", "facts",
                                          "agent_version", NULL };
    const cl_principal *p = cl_req_principal(r);
    json_t *facts = json_object_get(cl_req_body(r), "facts");
    cl_evidence ev = { .at = time(NULL) };
    char id[37], serial[41], expires[32], *cert_pem = NULL, *ca_pem = NULL;
    PGresult *report, *res;
    X509_REQ *csr = NULL;
    cl_pg *db;
    int rc, accepted, require_approval = 0;

    if (p->kind != CL_PRINCIPAL_JOIN_TOKEN)
        return cl_req_fail(r, CL_EFORBIDDEN, "a node enrolls with its join token "
                           "(\"Authorization: JoinToken <token>\")");
    cl_body_only(r, fields);
    const char *csr_pem = cl_body_string(r, "csr", 1, CSR_MAX);
    ev.nonce = cl_body_string(r, "nonce", 1, 64);
    const char *name = cl_body_string(r, "name", 0, 253);
    const char *agent = cl_body_string(r, "agent_version", 0, 64);
    cl_evidence_from_body(r, &ev);
    check_facts(r, facts);
    if (csr_pem != NULL)
        cl_csr_read(r, "csr", csr_pem, &csr, (uint8_t **)&ev.spki, &ev.spki_len);
    if ((rc = cl_body_done(r)) < 0)
        return rc;
    if ((rc = node_rules(r, &ev, &require_approval)) < 0)
        return rc;
    if (cl_uuid_new(id) < 0)
        return cl_req_fail(r, CL_ERROR, "no random bytes");
    ev.subject = cl_arena_printf(cl_req_arena(r), "node:%s", id);

    if ((rc = cl_attestation_judge(r, &ev, &db, &report, &accepted)) < 0)
        return rc;
    const char *report_id = cl_row_text(report, 0, "id");
    if (!accepted) {                 /* the report is kept; nothing else happens */
        json_t *reasons = cl_row_value(report, 0, PQfnumber(report, "reasons"));
        char *why = json_dumps(reasons, JSON_COMPACT);
        json_decref(reasons);
        cl_arena_defer(cl_req_arena(r), free, why);
        if ((rc = cl_req_commit(r, db)) < 0)
            return rc;
        return cl_req_fail(r, CL_EFORBIDDEN, "the evidence was refused (attestation report "
                           "%s): %s", report_id, why ? why : "");
    }
    const char *token_params[1] = { p->join_token_id };
    if ((rc = cl_req_exec(r, db, &res, "UPDATE node_tokens SET uses = uses + 1 WHERE id = $1"
                          "   AND revoked_at IS NULL AND expires_at > now() AND uses < max_uses"
                          " RETURNING labels", 1, token_params)) < 0)
        return rc;
    if (PQntuples(res) != 1)
        return cl_req_fail(r, CL_EUNAUTHORIZED, "the join token was used up, revoked or expired "
                           "meanwhile");
    const char *labels = PQgetvalue(res, 0, 0);
    if ((rc = certify(r, db, csr, id, serial, &cert_pem, &ca_pem, expires)) < 0)
        return rc;
    char *facts_text = json_dumps(facts ? facts : json_object(), JSON_COMPACT), spki[2048];
    cl_arena_defer(cl_req_arena(r), free, facts_text);
    cl_b64_encode(spki, ev.spki, ev.spki_len);
    if (name == NULL) {
        const char *host = json_string_value(json_object_get(facts, "hostname"));
        name = host && host[0] && strlen(host) <= 253 ? host
             : cl_arena_printf(cl_req_arena(r), "node-%.8s", id);
    }
    const char *state = require_approval ? "pending_approval" : "active";
    const char *params[16] = {
        id, p->account_id, name, p->join_token_id, labels, facts_text, agent ? agent : "",
        spki, serial, cert_pem, expires, cl_row_text(report, 0, "mrenclave"),
        cl_row_text(report, 0, "mrsigner"), cl_row_text(report, 0, "tcb_status"),
        cl_row_text(report, 0, "simulated"), state,
    };
    const char *report_params[2] = { id, report_id };
    if ((rc = cl_req_exec(r, db, NULL,
            "INSERT INTO nodes (id, account_id, name, state, join_token_id, labels, facts,"
            "  agent_version, public_key, cert_serial, cert_pem, cert_expires_at, mrenclave,"
            "  mrsigner, tcb_status, simulated)"
            " VALUES ($1, $2, $3, $16, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10,"
            "  $11::timestamptz, $12, $13, $14, $15::boolean)", 16, params)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "UPDATE nodes SET last_report_id = $2, ppid ="
                          " (SELECT t.details->'pck'->>'ppid' FROM attestation_reports t"
                          "  WHERE t.id = $2) WHERE id = $1", 2, report_params)) < 0 ||
        (rc = node_event(r, db, id, "enroll", NULL, state,
                         json_pack("{s:s, s:s, s:s}", "report_id", report_id, "join_token_id",
                                   p->join_token_id, "cert_serial", serial))) < 0 ||
        (require_approval && (rc = ask_approval(r, db, id, name)) < 0) ||
        (rc = cl_audit(r, db, p->account_id, "node.enroll",
                       cl_arena_printf(cl_req_arena(r), "node:%s", id),
                       json_pack("{s:s, s:s, s:s, s:s}", "name", name, "report_id", report_id,
                                 "join_token_id", p->join_token_id, "cert_serial", serial))) < 0 ||
        (rc = cl_req_load_id(r, db, &res, "node", "SELECT " NODE_COLUMNS " FROM nodes n", "n",
                             "", id)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    *out = cl_row_json(res, 0);
    json_object_set_new(*out, "certificate", json_string(cert_pem));
    json_object_set_new(*out, "ca_certificate", json_string(ca_pem));
    json_object_set_new(*out, "report", cl_row_json(report, 0));
    cl_req_status(r, 201);
    cl_req_set_header(r, "Location", cl_arena_printf(cl_req_arena(r), "/v1/nodes/%s", id));
    return 0;
}

/* ---- what nodes say for themselves ------------------------------------------------ */

/* Only the node named by the path, in its own signed request. */
static int node_itself(cl_req *r)
{
    const cl_principal *p = cl_req_principal(r);

    if (p->kind != CL_PRINCIPAL_NODE)
        return cl_req_fail(r, CL_EFORBIDDEN, "only the node itself can do this, with a request "
                           "signed by its key");
    if (strcmp(p->node_id, cl_req_param(r, "id")) != 0)
        return cl_req_fail(r, CL_EFORBIDDEN, "a node speaks only for itself");
    return 0;
}

/* POST /v1/nodes/{id}/heartbeat */
static int nodes_heartbeat(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "agent_version", "facts", NULL };
    json_t *facts = json_object_get(cl_req_body(r), "facts");
    const char *id = cl_req_param(r, "id"), *agent = NULL;
    char *facts_text = NULL;
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = node_itself(r)) < 0)
        return rc;
    if (cl_req_body(r) != NULL) {
        cl_body_only(r, fields);
        agent = cl_body_string(r, "agent_version", 0, 64);
        check_facts(r, facts);
        if ((rc = cl_body_done(r)) < 0)
            return rc;
    }
    if (facts != NULL) {
        facts_text = json_dumps(facts, JSON_COMPACT);
        cl_arena_defer(cl_req_arena(r), free, facts_text);
    }
    const char *params[3] = { id, agent, facts_text };
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_exec(r, db, &res,
            "UPDATE nodes n SET last_seen_at = now(),"
            "  agent_version = coalesce($2, n.agent_version),"
            "  facts = coalesce($3::jsonb, n.facts),"
            "  state = CASE WHEN n.state = 'unreachable' THEN 'active' ELSE n.state END,"
            "  version = n.version + (n.state = 'unreachable')::int"
            " FROM nodes old WHERE n.id = $1 AND old.id = n.id RETURNING old.state", 3,
            params)) < 0)
        return rc;
    if (strcmp(PQgetvalue(res, 0, 0), "unreachable") == 0 &&
        ((rc = node_event(r, db, id, "heartbeat", "unreachable", "active", json_object())) < 0 ||
         (rc = cl_audit(r, db, cl_req_principal(r)->account_id, "node.reachable",
                        cl_arena_printf(cl_req_arena(r), "node:%s", id),
                        json_pack("{s:s, s:s}", "from", "unreachable", "to", "active"))) < 0))
        return rc;
    if ((rc = cl_req_exec(r, db, &res,
            "SELECT n.id, n.state, " HEARTBEAT_INTERVAL " AS heartbeat_interval,"
            "  " REATTEST_INTERVAL " AS reattest_interval,"
            "  n.last_attested_at < now() - make_interval(secs => " REATTEST_INTERVAL ")"
            "   AS reattest_due"
            " FROM nodes n LEFT JOIN node_policies p ON p.account_id = n.account_id"
            " WHERE n.id = $1", 1, params)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* A renewed certificate for the node (now in `state`), for the CSR of its
 * own key: the old one (serial `old`) goes on the CRL as superseded. */
static int renew(cl_req *r, cl_pg *db, X509_REQ *csr, const char *old, const char *state,
                 json_t *out)
{
    const char *id = cl_req_param(r, "id"), *account = cl_req_principal(r)->account_id;
    char serial[41], expires[32], *pem, *ca_pem;
    int rc;

    if ((rc = certify(r, db, csr, id, serial, &pem, &ca_pem, expires)) < 0)
        return rc;
    const char *params[4] = { id, serial, pem, expires };
    const char *crl[2] = { account, old };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE nodes SET cert_serial = $2, cert_pem = $3,"
                          " cert_expires_at = $4::timestamptz WHERE id = $1", 4, params)) < 0 ||
        (rc = cl_req_exec(r, db, NULL, "INSERT INTO revoked_certificates (account_id, serial,"
                          " reason) VALUES ($1, $2, 'superseded') ON CONFLICT DO NOTHING", 2,
                          crl)) < 0)
        return rc;
    json_t *detail = json_pack("{s:s, s:s, s:s}", "cert_serial", serial, "superseded", old,
                               "cert_expires_at", expires);
    if ((rc = node_event(r, db, id, "certificate_renew", state, state, json_incref(detail))) < 0) {
        json_decref(detail);
        return rc;
    }
    if ((rc = cl_audit(r, db, account, "node.certificate_renew",
                       cl_arena_printf(cl_req_arena(r), "node:%s", id), detail)) < 0)
        return rc;
    json_object_set_new(out, "certificate", json_string(pem));
    json_object_set_new(out, "ca_certificate", json_string(ca_pem));
    return 0;
}

/* POST /v1/nodes/{id}/attest: fresh evidence bound to the node's key; with
 * a CSR for that key, accepted evidence also renews the node's certificate. */
static int nodes_attest(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "quote", "maa_token", "nonce", "csr", NULL };
    const char *id = cl_req_param(r, "id"), *account = cl_req_principal(r)->account_id;
    cl_evidence ev = { .at = time(NULL) };
    unsigned char *spki, *csr_spki = NULL;
    size_t csr_spki_len = 0;
    X509_REQ *csr = NULL;
    PGresult *res, *report;
    json_t *renewed = NULL;
    cl_pg *db;
    int rc, accepted;

    if ((rc = node_itself(r)) < 0 || (rc = node_rules(r, &ev, NULL)) < 0)
        return rc;
    cl_body_only(r, fields);
    ev.nonce = cl_body_string(r, "nonce", 1, 64);
    const char *csr_pem = cl_body_string(r, "csr", 0, CSR_MAX);
    cl_evidence_from_body(r, &ev);
    if (csr_pem != NULL)
        cl_csr_read(r, "csr", csr_pem, &csr, &csr_spki, &csr_spki_len);
    if ((rc = cl_body_done(r)) < 0 || (rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "node", "SELECT n.public_key FROM nodes n", "n",
                          "")) < 0)
        return rc;
    const char *key = PQgetvalue(res, 0, 0);
    if ((spki = cl_arena_alloc(cl_req_arena(r), strlen(key))) == NULL ||
        cl_b64_decode(spki, strlen(key), &ev.spki_len, key) < 0)
        return cl_req_fail(r, CL_ERROR, "the node's key could not be read");
    ev.spki = spki;
    if (csr != NULL && (csr_spki_len != ev.spki_len || memcmp(csr_spki, spki, ev.spki_len) != 0))
        return cl_error_field(cl_req_err(r), "csr", "must be for the key the node enrolled with");
    ev.subject = cl_arena_printf(cl_req_arena(r), "node:%s", id);
    if ((rc = cl_attestation_judge(r, &ev, &db, &report, &accepted)) < 0 ||
        (rc = cl_req_load(r, db, &res, "node", "SELECT " NODE_COLUMNS " FROM nodes n", "n",
                          "FOR UPDATE OF n")) < 0)
        return rc;
    const char *from = cl_arena_strdup(cl_req_arena(r), cl_row_text(res, 0, "state"));
    const char *serial = cl_arena_strdup(cl_req_arena(r), cl_row_text(res, 0, "cert_serial"));
    const char *report_id = cl_row_text(report, 0, "id");
    const char *to = accepted ? (strcmp(from, "attestation_failed") == 0 ? "active" : from)
                   : (strcmp(from, "active") == 0 || strcmp(from, "unreachable") == 0
                      ? "attestation_failed" : from);
    const char *params[9] = {
        id, to, report_id, accepted ? "true" : "false", cl_row_text(report, 0, "tcb_status"),
        cl_row_text(report, 0, "mrenclave"), cl_row_text(report, 0, "mrsigner"),
        cl_row_text(report, 0, "simulated"),
    };
    if ((rc = cl_req_exec(r, db, NULL,
            "UPDATE nodes SET state = $2, last_seen_at = now(), version = version + 1,"
            "  updated_at = now(), last_report_id = CASE WHEN $4::boolean THEN $3::uuid"
            "   ELSE last_report_id END,"
            "  attestation_count = attestation_count + $4::boolean::int,"
            "  last_attested_at = CASE WHEN $4::boolean THEN now() ELSE last_attested_at END,"
            "  tcb_status = CASE WHEN $4::boolean THEN $5 ELSE tcb_status END,"
            "  mrenclave = CASE WHEN $4::boolean THEN $6 ELSE mrenclave END,"
            "  mrsigner = CASE WHEN $4::boolean THEN $7 ELSE mrsigner END,"
            "  simulated = CASE WHEN $4::boolean THEN $8::boolean ELSE simulated END"
            " WHERE id = $1", 8, params)) < 0 ||
        (strcmp(from, to) != 0 &&
         (rc = node_event(r, db, id, "attest", from, to,
                          json_pack("{s:s}", "report_id", report_id))) < 0) ||
        (rc = cl_audit(r, db, account, accepted ? "node.attest" : "node.attestation_failed",
                       cl_arena_printf(cl_req_arena(r), "node:%s", id),
                       json_pack("{s:s, s:s, s:s}", "report_id", report_id, "from", from,
                                 "to", to))) < 0)
        return rc;
    if (accepted && csr != NULL) {
        renewed = json_object();
        cl_arena_defer(cl_req_arena(r), (cl_arena_dtor)json_decref, renewed);
        if ((rc = renew(r, db, csr, serial, to, renewed)) < 0)
            return rc;
    }
    if ((rc = cl_req_load(r, db, &res, "node", "SELECT " NODE_COLUMNS " FROM nodes n", "n",
                          "")) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    if (!accepted) {
        json_t *reasons = cl_row_value(report, 0, PQfnumber(report, "reasons"));
        char *why = json_dumps(reasons, JSON_COMPACT);
        json_decref(reasons);
        cl_arena_defer(cl_req_arena(r), free, why);
        return cl_req_fail(r, CL_EFORBIDDEN, "the evidence was refused (attestation report "
                           "%s); the node is %s: %s", report_id, to, why ? why : "");
    }
    *out = cl_row_json(res, 0);
    json_object_set_new(*out, "report", cl_row_json(report, 0));
    if (renewed != NULL)
        json_object_update(*out, renewed);
    return 0;
}

/* ---- the node-watch duty ------------------------------------------------------------ */

void cl_nodes_watch(cl_daemon *d, cl_pg *db, cl_arena *a)
{
    cl_error err = { 0 };
    PGresult *res;
    int i = 0;

    (void)d;
    /* the signatures seen (daemon/auth.c): a request is accepted while its
     * Date is within 5 minutes of the clock, so 10 minutes after one was
     * seen it cannot come again; kept 15 */
    if (cl_pg_exec(NULL, db, a, "DELETE FROM node_request_signatures"
                   " WHERE seen_at < now() - interval '15 minutes'", 0, NULL, &err) < 0)
        goto fail;
    if (cl_pg_exec(NULL, db, a, "BEGIN", 0, NULL, &err) < 0 ||
        cl_pg_exec(&res, db, a,
            "WITH silent AS ("
            "  SELECT n.id FROM nodes n LEFT JOIN node_policies p ON p.account_id = n.account_id"
            "   WHERE n.state = 'active'"
            "     AND n.last_seen_at < now() - make_interval(secs => " HEARTBEAT_TIMEOUT ")"
            "   ORDER BY n.id LIMIT 1000 FOR UPDATE OF n SKIP LOCKED),"
            " gone AS (UPDATE nodes n SET state = 'unreachable', version = n.version + 1,"
            "   updated_at = now() FROM silent WHERE n.id = silent.id"
            "   RETURNING n.id, n.account_id, cl_time(n.last_seen_at) AS last_seen_at),"
            " events AS (INSERT INTO node_events (node_id, event, from_state, to_state, detail,"
            "   actor) SELECT id, 'heartbeat_missed', 'active', 'unreachable',"
            "   jsonb_build_object('last_seen_at', last_seen_at), 'system' FROM gone)"
            " SELECT id, account_id, last_seen_at FROM gone", 0, NULL, &err) < 0)
        goto fail;
    for (i = 0; i < PQntuples(res); i++) {
        const char *id = PQgetvalue(res, i, 0);
        if (cl_audit_append(db, a, &err, PQgetvalue(res, i, 1), "system", "node-watch",
                            "node.unreachable", cl_arena_printf(a, "node:%s", id),
                            json_pack("{s:s}", "last_seen_at", PQgetvalue(res, i, 2))) < 0)
            goto fail;
    }
    if (cl_pg_exec(NULL, db, a, "COMMIT", 0, NULL, &err) < 0)
        goto fail;
    if (i > 0)
        cl_log_info("%d node(s) missed their heartbeats and are unreachable", i);
    return;
fail:
    cl_log_warn("could not look for nodes that missed their heartbeats: %s", err.message);
    PQclear(PQexec(db->conn, "ROLLBACK"));
    cl_error_clear(&err);
}

/* ---- reading --------------------------------------------------------------- */

/* GET /v1/nodes */
static int nodes_list(cl_req *r, json_t **out)
{
    return cl_page_account_rows(r, out,
            "SELECT " NODE_COLUMNS ", cl_time(n.created_at) || '|' || n.id AS _cursor"
            "  FROM nodes n WHERE n.account_id = $1"
            "   AND ($2::text IS NULL OR (n.created_at, n.id) >"
            "        (split_part($2, '|', 1)::timestamptz, split_part($2, '|', 2)::uuid))"
            " ORDER BY n.created_at, n.id LIMIT $3");
}

/* GET /v1/nodes/{id} */
static int nodes_get(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "node", "SELECT " NODE_COLUMNS ", n.cert_pem AS certificate"
                          " FROM nodes n", "n", "")) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

/* GET /v1/nodes/{id}/events, oldest first */
static int nodes_events(cl_req *r, json_t **out)
{
    PGresult *res;
    cl_pg *db;
    int rc;

    if ((rc = cl_req_db(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "node", "SELECT n.id FROM nodes n", "n", "")) < 0)
        return rc;
    const char *params[1] = { cl_req_param(r, "id") };
    if ((rc = cl_req_exec(r, db, &res, "SELECT id, event, from_state, to_state, detail, actor,"
                          " created_at FROM node_events WHERE node_id = $1"
                          " ORDER BY created_at, id LIMIT 1000", 1, params)) < 0)
        return rc;
    *out = json_object();
    json_t *items = json_array();
    for (int i = 0; i < PQntuples(res); i++)
        json_array_append_new(items, cl_row_json(res, i));
    json_object_set_new(*out, "items", items);
    return 0;
}

/* ---- the state machine ---------------------------------------------------------- */

static const struct transition {
    const char *path;               /* POST /v1/nodes/{id}/<path> */
    const char *to;
    const char *from[6];            /* the states it may leave */
} transitions[] = {
    { "revoke",     "revoked",     { "pending_approval", "active", "unreachable",
                                     "attestation_failed", "deactivated", NULL } },
    { "deactivate", "deactivated", { "pending_approval", "active", "unreachable",
                                     "attestation_failed", NULL } },
    { "reactivate", "active",      { "deactivated", NULL } },
};

static int transition(cl_req *r, json_t **out, const struct transition *t)
{
    static const char *const fields[] = { "reason", NULL };
    const cl_principal *p = cl_req_principal(r);
    const char *id = cl_req_param(r, "id"), *reason = NULL, *from;
    PGresult *res;
    cl_pg *db;
    int rc, allowed = 0;

    if (cl_req_body(r) != NULL) {
        cl_body_only(r, fields);
        reason = cl_body_string(r, "reason", 0, 500);
        if ((rc = cl_body_done(r)) < 0)
            return rc;
    }
    if ((rc = cl_req_begin(r, &db)) < 0 ||
        (rc = cl_req_load(r, db, &res, "node", "SELECT " NODE_COLUMNS " FROM nodes n", "n",
                          "FOR UPDATE OF n")) < 0)
        return rc;
    from = cl_row_text(res, 0, "state");
    for (int i = 0; t->from[i] != NULL; i++)
        allowed |= strcmp(t->from[i], from) == 0;
    if (!allowed)
        return cl_req_fail(r, CL_ECONFLICT, "node \"%s\" is %s; it cannot be %s", id, from,
                           t->to);
    const char *params[2] = { id, t->to };
    const char *crl[3] = { p->account_id, cl_row_text(res, 0, "cert_serial"),
                           reason ? reason : "" };
    if ((rc = cl_req_exec(r, db, NULL, "UPDATE nodes SET state = $2, version = version + 1,"
                          " updated_at = now() WHERE id = $1", 2, params)) < 0 ||
        (strcmp(t->to, "revoked") == 0 &&
         (rc = cl_req_exec(r, db, NULL, "INSERT INTO revoked_certificates (account_id, serial,"
                           " reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, crl)) < 0) ||
        (rc = node_event(r, db, id, t->path, from, t->to,
                         json_pack("{s:s?}", "reason", reason))) < 0 ||
        (rc = cl_audit(r, db, p->account_id, cl_arena_printf(cl_req_arena(r), "node.%s",
                                                              t->path),
                       cl_arena_printf(cl_req_arena(r), "node:%s", id),
                       json_pack("{s:s, s:s, s:s?}", "from", from, "to", t->to, "reason",
                                 reason))) < 0 ||
        (rc = cl_req_load(r, db, &res, "node", "SELECT " NODE_COLUMNS " FROM nodes n", "n",
                          "")) < 0 ||
        (rc = cl_req_commit(r, db)) < 0)
        return rc;
    return cl_req_row(r, out, res, 0, NULL);
}

static int nodes_revoke(cl_req *r, json_t **out)     { return transition(r, out, &transitions[0]); }
static int nodes_deactivate(cl_req *r, json_t **out) { return transition(r, out, &transitions[1]); }
static int nodes_reactivate(cl_req *r, json_t **out) { return transition(r, out, &transitions[2]); }

const cl_route cl_nodes_routes[] = {
    { "POST", "/v1/nodes/enroll",          nodes_enroll,     CL_JOIN_TOKEN | CL_JSON_BODY },
    { "GET",  "/v1/nodes",                 nodes_list,       CL_ROLE_READ },
    { "GET",  "/v1/nodes/{id}",            nodes_get,        CL_ROLE_READ },
    { "GET",  "/v1/nodes/{id}/events",     nodes_events,     CL_ROLE_READ },
    { "POST", "/v1/nodes/{id}/revoke",     nodes_revoke,     CL_ROLE_WRITE | CL_JSON_OPTIONAL },
    { "POST", "/v1/nodes/{id}/deactivate", nodes_deactivate, CL_ROLE_WRITE | CL_JSON_OPTIONAL },
    { "POST", "/v1/nodes/{id}/reactivate", nodes_reactivate, CL_ROLE_WRITE | CL_JSON_OPTIONAL },
    { "POST", "/v1/nodes/{id}/heartbeat",  nodes_heartbeat,  CL_NODE_SIGNED | CL_JSON_OPTIONAL },
    { "POST", "/v1/nodes/{id}/attest",     nodes_attest,     CL_NODE_SIGNED | CL_JSON_BODY },
    { "GET",  "/v1/policies/nodes",        policy_get,       CL_ROLE_READ },
    { "PUT",  "/v1/policies/nodes",        policy_put,       CL_ROLE_ADMIN | CL_JSON_BODY },
    { NULL, NULL, NULL, 0 },
};
