/*
 * measure.h - MRENCLAVE, computed the way the CPU computes it.
 *
 * The CPU hashes a stream of 64-byte records as the enclave is built
 * (Intel SDM vol. 3D, 38.7; record layout in tests/data/sgx/README.md):
 *
 *   ECREATE  "ECREATE\0" | u32 SSAFRAMESIZE (pages) | u64 SIZE | 44 zero bytes
 *   EADD     "EADD\0\0\0\0" | u64 page offset | u64 SECINFO.FLAGS | 40 zero bytes
 *   EEXTEND  "EEXTEND\0" | u64 chunk offset | 48 zero bytes, then the 256 bytes
 *
 * all little-endian; MRENCLAVE is the SHA-256 of the whole stream.  A page
 * is added with one EADD and, when its contents are measured, 16 EEXTENDs.
 */
#ifndef CL_SGX_MEASURE_H
#define CL_SGX_MEASURE_H

#include "error.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define CL_SGX_PAGE 4096

/* SECINFO flags */
enum {
    CL_SGX_R = 0x1, CL_SGX_W = 0x2, CL_SGX_X = 0x4,
    CL_SGX_PT_TCS = 0x100, CL_SGX_PT_REG = 0x200,
};

typedef struct cl_sgx_measure cl_sgx_measure;

int cl_sgx_measure_new(cl_sgx_measure **out, uint32_t ssa_frame_pages, uint64_t size,
                       cl_error *err);

/* Also write every record (and EEXTEND data) to sgxs as it is measured: the
 * enclave's SGXS stream, a debugging artifact.  Call before the first page. */
void cl_sgx_measure_tee(cl_sgx_measure *m, FILE *sgxs);

/* EADD the page at offset (page-aligned) with flags; with contents (4096
 * bytes) also its 16 EEXTENDs, without (NULL) none. */
int cl_sgx_measure_page(cl_sgx_measure *m, uint64_t offset, uint64_t flags,
                        const uint8_t *contents, cl_error *err);

/* EADD every page in [from, to) with flags, none measured (the heap). */
int cl_sgx_measure_unmeasured(cl_sgx_measure *m, uint64_t from, uint64_t to, uint64_t flags,
                              cl_error *err);

/* Finish: the 32 bytes of MRENCLAVE; m is freed. */
int cl_sgx_measure_end(cl_sgx_measure *m, uint8_t mrenclave[32], cl_error *err);
void cl_sgx_measure_free(cl_sgx_measure *m);

/* What an SGXS stream builds, besides its MRENCLAVE. */
typedef struct cl_sgxs_info {
    uint64_t size;          /* ECREATE's SIZE: the enclave's address range */
    uint64_t pages;         /* pages it adds (EADD): the EPC it takes, in 4096-byte pages */
} cl_sgxs_info;

/* MRENCLAVE of an SGXS stream (the records above, each EEXTEND with its
 * data), as sgxs-tools writes it, read record by record through the same
 * engine (so a stream re-emitted with cl_sgx_measure_tee is identical);
 * malformed streams are refused.  info (may be NULL) gets its size and
 * pages. */
int cl_sgx_measure_sgxs(const uint8_t *stream, size_t len, uint8_t mrenclave[32],
                        FILE *reemit, cl_sgxs_info *info, cl_error *err);

#endif
