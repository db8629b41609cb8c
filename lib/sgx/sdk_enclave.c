/* sdk_enclave.c - the metadata of an SGX SDK signed enclave; see sdk_enclave.h. */
#include "sgx/sdk_enclave.h"
#include "sgx/elf64.h"
#include "sgx/le.h"

#include <string.h>

#define NOTE_NAME "sgx_metadata"
#define NOTE_HEADER 12                  /* namesz, descsz, type: u32 each */

static uint32_t le32(const uint8_t *p) { return (uint32_t)cl_le_get(p, 4); }
static uint64_t le64(const uint8_t *p) { return cl_le_get(p, 8); }

int cl_sgx_sdk_metadata_read(const uint8_t *elf, size_t len, cl_sgx_sdk_metadata *out,
                             cl_error *err)
{
    static const char what[] = "the enclave";
    Elf64_Shdr sh;
    const uint8_t *note;
    uint64_t newest = 0;
    int rc, blocks = 0;

    if ((rc = cl_elf64_section(elf, len, what, ".note.sgxmeta", &sh, &note, err)) < 0)
        return rc == CL_ENOTFOUND ? cl_error_set(err, CL_EINVALID, "the enclave has no "
                                                 ".note.sgxmeta section: it was not signed "
                                                 "with the SGX SDK's sgx_sign") : rc;
    if (sh.sh_type != SHT_NOTE || note == NULL || sh.sh_size < NOTE_HEADER + sizeof(NOTE_NAME))
        return cl_error_set(err, CL_EINVALID, "the enclave's .note.sgxmeta is not a note");
    uint32_t namesz = le32(note), descsz = le32(note + 4);
    if (namesz != sizeof(NOTE_NAME) || memcmp(note + NOTE_HEADER, NOTE_NAME, namesz) != 0)
        return cl_error_set(err, CL_EINVALID, "the enclave's metadata note is not named "
                            "\"" NOTE_NAME "\"");
    /* the descriptor follows the name unpadded, as sgx_sign writes it */
    if (descsz > sh.sh_size - NOTE_HEADER - namesz)
        return cl_error_set(err, CL_EINVALID, "the enclave's metadata note is longer than its "
                            "section");
    const uint8_t *desc = note + NOTE_HEADER + namesz;
    for (uint64_t at = 0; descsz - at >= CL_SGX_SDK_METADATA_HEADER + CL_SIGSTRUCT_SIZE;) {
        const uint8_t *b = desc + at;
        uint32_t size = le32(b + 16);
        uint64_t version = le64(b + 8);

        if (le64(b) != CL_SGX_SDK_METADATA_MAGIC)
            break;                      /* the rest of the note is not metadata */
        if (size < CL_SGX_SDK_METADATA_HEADER + CL_SIGSTRUCT_SIZE || size > descsz - at)
            return cl_error_set(err, CL_EINVALID, "the enclave's metadata block %d has a size "
                                "(%u bytes) outside its note", blocks + 1, size);
        if (blocks++ == 0 || version > newest) {
            newest = version;
            out->version_major = (uint32_t)(version >> 32);
            out->version_minor = (uint32_t)version;
            out->ssa_frame_size = le32(b + 24);
            out->misc_select = le32(b + 32);
            out->enclave_size = le64(b + 40);
            out->attributes_flags = le64(b + 48);
            out->attributes_xfrm = le64(b + 56);
            memcpy(out->sigstruct, b + CL_SGX_SDK_METADATA_HEADER, CL_SIGSTRUCT_SIZE);
        }
        at += size;
    }
    if (blocks == 0)
        return cl_error_set(err, CL_EINVALID, "the enclave's metadata note holds no SGX "
                            "metadata (magic 0x86A80294635D0E4C)");
    return 0;
}
