/*
 * gramine.h - the enclave Gramine 1.9 builds from a manifest and libpal.so,
 * and its MRENCLAVE, equal to what gramine-sgx-sign computes.
 */
#ifndef CL_SGX_GRAMINE_H
#define CL_SGX_GRAMINE_H

#include "error.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

typedef struct cl_gramine_enclave {
    uint64_t enclave_size;      /* sgx.enclave_size, a power of two */
    int threads;                /* sgx.max_threads */
    int edmm;                   /* sgx.edmm_enable: the heap is not pre-added */
    const uint8_t *manifest;    /* the final .manifest.sgx bytes (without the NUL) */
    size_t manifest_len;
    const uint8_t *pal;         /* libpal.so, an ET_DYN ELF loaded from vaddr 0 */
    size_t pal_len;
} cl_gramine_enclave;

/* MRENCLAVE of the enclave; CL_EINVALID names what does not fit (a PAL that
 * is not a 64-bit ET_DYN from 0, areas that do not fit the enclave). */
int cl_gramine_measure(const cl_gramine_enclave *e, uint8_t mrenclave[32], cl_error *err);

/* The same, also writing the enclave's SGXS stream to sgxs (may be NULL). */
int cl_gramine_measure_to(const cl_gramine_enclave *e, uint8_t mrenclave[32], FILE *sgxs,
                          cl_error *err);

#endif
