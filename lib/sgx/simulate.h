/*
 * simulate.h - a simulation of Intel's SGX attestation PKI, made entirely
 * by this code: its own root CA, a PCK CA and a PCK certificate with the
 * SGX extension, a TCB signing certificate, CRLs, TCB Info (version 3) and
 * QE Identity signed as the PCS signs them, and quotes (versions 3 and 4)
 * signed by a QE that does not exist.
 *
 * For machines without SGX and for end-to-end tests.  Nothing it makes is
 * trusted unless an operator adds its root to the trust roots; the
 * verifier then says, in every verdict, that the root is not Intel's.
 */
#ifndef CL_SGX_SIMULATE_H
#define CL_SGX_SIMULATE_H

#include "error.h"
#include "sgx/dcap.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

typedef struct cl_sim_options {
    time_t now;                 /* certificates and collateral valid around it */
    uint8_t components[16];     /* the platform's TCB component SVNs */
    uint16_t pcesvn;
    uint16_t qe_isvsvn;
    int revoke_pck;             /* put the PCK certificate on its CA's CRL */
    const char *tcb_status;     /* the status of the platform's TCB level */
    const char *keys_pem;       /* the PKI's keys from cl_sim_keys_pem; NULL: new ones */
} cl_sim_options;

typedef struct cl_sim_pki cl_sim_pki;

/* A new PKI (keys, certificates, CRLs, signed collateral). */
int cl_sim_pki_new(cl_sim_pki **out, const cl_sim_options *opt, cl_error *err);
void cl_sim_pki_free(cl_sim_pki *p);

/* Its four private keys in PEM (malloc'd), from which cl_sim_pki_new makes
 * the same PKI again: certificates and collateral made then chain to the
 * same root and verify against what was made before. */
char *cl_sim_keys_pem(cl_sim_pki *p);

/* Its root, to add to the trust roots (borrowed). */
X509 *cl_sim_root(cl_sim_pki *p);

/* Its collateral, in the form the verifier takes (borrowed). */
const cl_dcap_collateral *cl_sim_collateral(cl_sim_pki *p);

/* The enclave a quote speaks for. */
typedef struct cl_sim_enclave {
    uint8_t mrenclave[32];
    uint8_t mrsigner[32];
    uint16_t isvprodid, isvsvn;
    uint64_t flags;             /* ATTRIBUTES: 0x4 MODE64BIT, 0x2 DEBUG */
    uint8_t reportdata[64];
} cl_sim_enclave;

/* The platform and enclave the simulation shows unless told otherwise: an
 * up-to-date TCB (components 5,5,5,5, PCESVN 13, QE ISVSVN 8) valid now,
 * and a 64-bit production enclave (ISVPRODID 1, MRSIGNER 5c..5c). */
void cl_sim_defaults(cl_sim_options *o, cl_sim_enclave *e);

/* A quote of `version` (3 or 4) for the enclave; *quote is malloc'd. */
int cl_sim_quote(cl_sim_pki *p, int version, const cl_sim_enclave *e, uint8_t **quote,
                 size_t *len, cl_error *err);

#endif
