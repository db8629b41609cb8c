/*
 * sdk_enclave.h - the SIGSTRUCT and load settings of an enclave signed with
 * the Intel SGX SDK's sgx_sign, or a tool that follows it (Occlum's
 * libocclum-libos.signed.so is one).
 *
 * Such an enclave is an ELF64 shared object with a note section
 * ".note.sgxmeta".  Its one note is named "sgx_metadata" (13 bytes with the
 * NUL) and its descriptor starts right after the name, unpadded, with one
 * or more metadata blocks (the SDK's metadata_t), each:
 *
 *   0  u64 magic 0x86A80294635D0E4C     32  u32 desired MISCSELECT
 *   8  u64 version (major << 32 | minor) 40  u64 enclave size (bytes)
 *  16  u32 size of this block           48  u64 attributes flags, u64 xfrm
 *  24  u32 SSA frame size (pages)       64  the SIGSTRUCT (1808 bytes)
 *
 * all little-endian; the next block starts `size` bytes after this one.
 * The SDK's loader takes the newest version it knows; so does this
 * reader.  The ELF is read with libelf; every length is checked against
 * the buffer.  The SIGSTRUCT is returned as found: verify it
 * (cl_sigstruct_verify) before trusting it.
 */
#ifndef CL_SGX_SDK_ENCLAVE_H
#define CL_SGX_SDK_ENCLAVE_H

#include "error.h"
#include "sgx/sigstruct.h"

#include <stddef.h>
#include <stdint.h>

#define CL_SGX_SDK_METADATA_MAGIC 0x86A80294635D0E4CULL
#define CL_SGX_SDK_METADATA_HEADER 64    /* the fields before the SIGSTRUCT */

typedef struct cl_sgx_sdk_metadata {
    uint32_t version_major, version_minor;
    uint32_t ssa_frame_size;            /* pages */
    uint32_t misc_select;
    uint64_t enclave_size;              /* bytes */
    uint64_t attributes_flags, attributes_xfrm;
    uint8_t sigstruct[CL_SIGSTRUCT_SIZE];
} cl_sgx_sdk_metadata;

/* Read the metadata of the signed enclave in elf[0, len).  CL_EINVALID,
 * with the reason, when it is not an ELF64 object, has no (or two)
 * .note.sgxmeta sections, or when the note or a block does not fit. */
int cl_sgx_sdk_metadata_read(const uint8_t *elf, size_t len, cl_sgx_sdk_metadata *out,
                             cl_error *err);

#endif
