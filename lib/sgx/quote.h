/*
 * quote.h - SGX ECDSA quotes, versions 3 and 4, parsed.
 *
 * Layout (Intel's "SGX ECDSA Quote Library API", little-endian):
 *
 *   header (48)     version u16, attestation key type u16 (2: ECDSA P-256),
 *                   TEE type u32 (v4; 0 SGX, 0x81 TDX; reserved in v3),
 *                   QE SVN u16, PCE SVN u16, QE vendor id [16], user data [20]
 *   report body (384)  the ISV enclave's REPORTBODY: CPUSVN 0, MISCSELECT 16,
 *                   ATTRIBUTES 48, MRENCLAVE 64, MRSIGNER 128, ISVPRODID 256,
 *                   ISVSVN 258, REPORTDATA 320
 *   signature data length u32, then
 *     v3: signature (64, r||s over header and body), attestation key (64,
 *         x||y), QE report body (384), QE report signature (64), QE
 *         authentication data (u16 length + bytes), certification data
 *         (type u16, length u32, bytes)
 *     v4: signature, attestation key, then certification data of type 6
 *         whose bytes are the QE report, its signature, the authentication
 *         data and the inner certification data as in v3
 *
 * Certification data type 5 is the PCK certificate chain in PEM (leaf, then
 * the PCK Platform or Processor CA, then the root).  Every length is checked
 * against the buffer; what is not SGX, ECDSA P-256 or certification type 5
 * is refused by name.  The parsed quote points into the caller's buffer.
 */
#ifndef CL_SGX_QUOTE_H
#define CL_SGX_QUOTE_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

#define CL_QUOTE_HEADER_SIZE 48
#define CL_REPORT_BODY_SIZE 384
#define CL_QUOTE_MAX (1u << 20)

typedef struct cl_report_body {
    const uint8_t *raw;            /* the 384 bytes */
    uint8_t cpusvn[16];
    uint32_t miscselect;
    uint64_t flags, xfrm;          /* ATTRIBUTES */
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    uint16_t isvprodid, isvsvn;
    uint8_t reportdata[64];
} cl_report_body;

typedef struct cl_quote {
    uint16_t version;
    uint16_t key_type;
    uint32_t tee_type;
    uint16_t qe_svn, pce_svn;
    uint8_t qe_vendor_id[16];
    const uint8_t *signed_part;    /* header and body: what the signature covers */
    size_t signed_len;
    cl_report_body body;
    const uint8_t *signature;      /* 64: r||s */
    const uint8_t *attest_key;     /* 64: x||y */
    cl_report_body qe_report;
    const uint8_t *qe_signature;   /* 64 */
    const uint8_t *qe_auth;
    size_t qe_auth_len;
    const char *pck_chain;         /* PEM, not NUL-terminated */
    size_t pck_chain_len;
} cl_quote;

/* Parse len bytes (at most CL_QUOTE_MAX); CL_EINVALID names what is wrong. */
int cl_quote_parse(cl_quote *q, const uint8_t *data, size_t len, cl_error *err);

/* Decode a 384-byte REPORTBODY. */
void cl_report_body_parse(cl_report_body *b, const uint8_t *raw);

#endif
