/*
 * attestation.h - judging attestation evidence (api/attestation.c), for
 * every route that takes some: /v1/attestation/verify, node enrollment and
 * re-attestation.
 */
#ifndef CL_DAEMON_ATTESTATION_H
#define CL_DAEMON_ATTESTATION_H

#include "http.h"
#include "pg.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Evidence, and what it must be bound to. */
typedef struct cl_evidence {
    const uint8_t *quote;       /* an SGX DCAP quote, or */
    size_t quote_len;
    const char *maa_token;      /* an Azure Attestation token */
    time_t at;                  /* the time to judge it at */
    const char *nonce;          /* base64, from POST /v1/attestation/nonce; NULL: no binding */
    const uint8_t *spki;        /* with the nonce: the DER SubjectPublicKeyInfo it binds */
    size_t spki_len;
    const char *subject;        /* the report's: "evidence", "node:<id>", "app:<id>" */
    const char *const *mrenclaves;  /* when either list has entries, the enclave must */
    const char *const *mrsigners;   /* have one of these MRENCLAVEs or MRSIGNERs (hex) */
    const char *expected_by;        /* who expects them, for the refusal: "the node policy" */
} cl_evidence;

/* Read the body's "quote" (base64) or "maa_token" into ev; a field error
 * (CL_EINVALID, collected for cl_body_done) when neither or both. */
int cl_evidence_from_body(cl_req *r, cl_evidence *ev);

/* Judge the evidence under the caller's account's policy (and the
 * expected measurements, when given), use up the nonce when there is one,
 * and keep the report (audited): in a transaction this
 * begins and leaves open in *db for the caller to add to and commit.
 * *report is the report's row; *accepted its verdict. */
int cl_attestation_judge(cl_req *r, const cl_evidence *ev, cl_pg **db, PGresult **report,
                         int *accepted);

#endif
