/* Tests for lib/sgx/sdk_enclave.c: SGX SDK signed enclaves, assembled here
 * following the SDK's layout (a .note.sgxmeta section whose "sgx_metadata"
 * note holds metadata_t blocks) around real SIGSTRUCTs from tests/data/sgx,
 * are read back; malformed ones are refused with their reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "sgx/le.h"
#include "sgx/sdk_enclave.h"
#include "test_data.h"

#define MAX_BLOCKS 3

typedef struct block {
    uint32_t major, minor;
    const uint8_t *sigstruct;
    uint32_t size;                      /* 0: header and SIGSTRUCT only */
} block;

typedef struct enclave {
    uint8_t *bytes;
    size_t len;
} enclave;

/* The .note.sgxmeta contents: the note header, "sgx_metadata\0" and, right
 * after it, the blocks (the SDK does not pad the name).  A block's size
 * past a page is claimed but not written: the note then overruns its
 * section.  Returns the bytes written. */
static size_t note(uint8_t *out, const block *blocks, int n, const char *name)
{
    size_t at = 12 + 13, desc = 0, written = at;

    for (int i = 0; i < n; i++) {
        uint8_t *b = out + written;
        uint32_t size = blocks[i].size ? blocks[i].size
                                       : CL_SGX_SDK_METADATA_HEADER + CL_SIGSTRUCT_SIZE;

        memset(b, 0, CL_SGX_SDK_METADATA_HEADER);
        cl_le_put(b, CL_SGX_SDK_METADATA_MAGIC, 8);
        cl_le_put(b + 8, (uint64_t)blocks[i].major << 32 | blocks[i].minor, 8);
        cl_le_put(b + 16, size, 4);
        cl_le_put(b + 24, 1, 4);                        /* SSA frame: one page */
        cl_le_put(b + 40, 0x40000, 8);                  /* enclave size */
        cl_le_put(b + 48, 0x4, 8);                      /* MODE64BIT */
        cl_le_put(b + 56, 0x3, 8);                      /* x87, SSE */
        memcpy(b + CL_SGX_SDK_METADATA_HEADER, blocks[i].sigstruct, CL_SIGSTRUCT_SIZE);
        desc += size;
        written += size > 4096 ? CL_SGX_SDK_METADATA_HEADER + CL_SIGSTRUCT_SIZE : size;
    }
    cl_le_put(out, 13, 4);
    cl_le_put(out + 4, desc, 4);
    cl_le_put(out + 8, 1, 4);
    memcpy(out + 12, name, 13);
    return written;
}

/* An ELF64 shared object: a .text section, the metadata note, the section
 * names, then the section headers. */
static enclave assemble(const block *blocks, int n, const char *note_name)
{
    static const char names[] = "\0.text\0.note.sgxmeta\0.shstrtab";
    size_t cap = 4096 + MAX_BLOCKS * 4096;
    enclave e = { calloc(1, cap), 0 };
    Elf64_Ehdr eh = { .e_type = ET_DYN, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
                      .e_ehsize = sizeof(Elf64_Ehdr), .e_shentsize = sizeof(Elf64_Shdr),
                      .e_shnum = 4, .e_shstrndx = 3 };
    Elf64_Shdr sh[4] = { { 0 } };
    size_t at = sizeof(eh);

    assert_non_null(e.bytes);
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    sh[1] = (Elf64_Shdr){ .sh_name = 1, .sh_type = SHT_PROGBITS, .sh_offset = at, .sh_size = 16,
                          .sh_flags = SHF_ALLOC | SHF_EXECINSTR, .sh_addralign = 16 };
    memset(e.bytes + at, 0xc3, 16);                     /* ret */
    at += 16;
    size_t len = note(e.bytes + at, blocks, n, note_name);
    sh[2] = (Elf64_Shdr){ .sh_name = 7, .sh_type = SHT_NOTE, .sh_offset = at,
                          .sh_size = (len + 3) & ~(size_t)3, .sh_addralign = 4 };
    at += sh[2].sh_size;
    memcpy(e.bytes + at, names, sizeof(names));
    sh[3] = (Elf64_Shdr){ .sh_name = 21, .sh_type = SHT_STRTAB, .sh_offset = at,
                          .sh_size = sizeof(names), .sh_addralign = 1 };
    at = (at + sizeof(names) + 7) & ~(size_t)7;
    eh.e_shoff = at;
    memcpy(e.bytes, &eh, sizeof(eh));
    memcpy(e.bytes + at, sh, sizeof(sh));
    e.len = at + sizeof(sh);
    return e;
}

static void hex_equal(const uint8_t *got, const char *want)
{
    char hex[65];

    cl_hex(hex, got, 32);
    assert_string_equal(hex, want);
}

static void refused(const enclave *e, const char *because)
{
    cl_sgx_sdk_metadata md;
    cl_error err = { 0 };

    assert_int_equal(cl_sgx_sdk_metadata_read(e->bytes, e->len, &md, &err), CL_EINVALID);
    if (strstr(err.message, because) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err.message, because);
    cl_error_clear(&err);
}

static void test_reads_the_sigstruct_of_a_signed_enclave(void **state)
{
    size_t len;
    uint8_t *sig = slurp("sgx/test_enclave.sig", &len);
    block b = { 3, 0, sig, 0 };
    enclave e = assemble(&b, 1, "sgx_metadata");
    cl_sgx_sdk_metadata md;
    cl_sigstruct_fields f;
    uint8_t mrsigner[32];
    cl_error err = { 0 };
    (void)state;

    assert_int_equal(len, CL_SIGSTRUCT_SIZE);
    if (cl_sgx_sdk_metadata_read(e.bytes, e.len, &md, &err) < 0)
        fail_msg("%s", err.message);
    assert_memory_equal(md.sigstruct, sig, CL_SIGSTRUCT_SIZE);
    assert_int_equal(md.version_major, 3);
    assert_int_equal(md.version_minor, 0);
    assert_int_equal(md.enclave_size, 0x40000);
    assert_int_equal(md.ssa_frame_size, 1);
    assert_int_equal(md.attributes_flags, 0x4);
    assert_int_equal(md.attributes_xfrm, 0x3);
    /* the SIGSTRUCT it carries verifies, with the enclave's measurements */
    if (cl_sigstruct_verify(md.sigstruct, &f, mrsigner, &err) < 0)
        fail_msg("%s", err.message);
    hex_equal(f.enclave_hash, "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc");
    hex_equal(mrsigner, "fb4bab3d6036ac1d730fa83d7366df1dd2dfeac194ef335d6854d8a6c6475542");
    assert_int_equal(f.isvprodid, 65535);
    /* a byte changed in the enclave's SIGSTRUCT: read, but it no longer verifies */
    e.bytes[sizeof(Elf64_Ehdr) + 16 + 25 + CL_SGX_SDK_METADATA_HEADER + 960] ^= 1;
    assert_int_equal(cl_sgx_sdk_metadata_read(e.bytes, e.len, &md, &err), 0);
    assert_int_equal(cl_sigstruct_verify(md.sigstruct, NULL, NULL, &err), CL_EINVALID);
    cl_error_clear(&err);
    free(e.bytes);
    free(sig);
}

static void test_takes_the_newest_metadata_version(void **state)
{
    size_t len;
    uint8_t *old = slurp("sgx/sig1.sigstruct.bin", &len);
    uint8_t *sig = slurp("sgx/test_enclave.sig", &len);
    block blocks[3] = { { 2, 4, old, 4096 }, { 3, 0, sig, 0 }, { 2, 10, old, 0 } };
    enclave e = assemble(blocks, 3, "sgx_metadata");
    cl_sgx_sdk_metadata md;
    cl_error err = { 0 };
    (void)state;

    if (cl_sgx_sdk_metadata_read(e.bytes, e.len, &md, &err) < 0)
        fail_msg("%s", err.message);
    assert_int_equal(md.version_major, 3);
    assert_memory_equal(md.sigstruct, sig, CL_SIGSTRUCT_SIZE);
    free(e.bytes);
    free(old);
    free(sig);
}

static void test_refuses_what_is_not_a_signed_enclave(void **state)
{
    size_t len;
    uint8_t *sig = slurp("sgx/test_enclave.sig", &len);
    block b = { 3, 0, sig, 0 };
    enclave e;
    Elf64_Ehdr eh;
    Elf64_Shdr names;
    (void)state;

    /* the .sig on its own, an ELF cut short */
    e = (enclave){ sig, len };
    refused(&e, "not a 64-bit little-endian ELF file");
    e = assemble(&b, 1, "sgx_metadata");
    e.len -= 8;
    refused(&e, "section headers lie outside the file");
    free(e.bytes);
    /* no metadata section: the names table says .note.sgxmeth */
    e = assemble(&b, 1, "sgx_metadata");
    memcpy(&eh, e.bytes, sizeof(eh));
    memcpy(&names, e.bytes + eh.e_shoff + eh.e_shstrndx * sizeof(names), sizeof(names));
    memcpy(e.bytes + names.sh_offset, "\0.text\0.note.sgxmeth\0.shstrtab", 31);
    refused(&e, "not signed with the SGX SDK's sgx_sign");
    free(e.bytes);
    /* a note of another name, a block larger than its note, no magic */
    e = assemble(&b, 1, "sgx_metadatX");
    refused(&e, "not named \"sgx_metadata\"");
    free(e.bytes);
    b.size = 1 << 20;
    e = assemble(&b, 1, "sgx_metadata");
    refused(&e, "longer than its section");
    free(e.bytes);
    b.size = 0;
    e = assemble(&b, 1, "sgx_metadata");
    e.bytes[sizeof(Elf64_Ehdr) + 16 + 25] ^= 0xff;
    refused(&e, "holds no SGX metadata");
    free(e.bytes);
    free(sig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_the_sigstruct_of_a_signed_enclave),
        cmocka_unit_test(test_takes_the_newest_metadata_version),
        cmocka_unit_test(test_refuses_what_is_not_a_signed_enclave),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
