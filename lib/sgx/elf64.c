/* elf64.c - ELF headers and sections read from memory; see elf64.h. */
#include "sgx/elf64.h"

#include <string.h>

int cl_elf64_header(const uint8_t *elf, size_t len, const char *what, Elf64_Ehdr *out,
                    cl_error *err)
{
    if (len < sizeof(*out))
        return cl_error_set(err, CL_EINVALID, "%s is not a 64-bit little-endian ELF file", what);
    memcpy(out, elf, sizeof(*out));
    if (memcmp(out->e_ident, ELFMAG, SELFMAG) != 0 || out->e_ident[EI_CLASS] != ELFCLASS64 ||
        out->e_ident[EI_DATA] != ELFDATA2LSB)
        return cl_error_set(err, CL_EINVALID, "%s is not a 64-bit little-endian ELF file", what);
    return 0;
}

/* Section header i, copied out; the table was checked to lie in the file. */
static void section_header(const uint8_t *elf, const Elf64_Ehdr *eh, size_t i, Elf64_Shdr *out)
{
    memcpy(out, elf + eh->e_shoff + i * sizeof(*out), sizeof(*out));
}

static int inside(const Elf64_Shdr *sh, size_t len)
{
    return sh->sh_type == SHT_NOBITS ||
           (sh->sh_offset <= len && sh->sh_size <= len - sh->sh_offset);
}

int cl_elf64_section(const uint8_t *elf, size_t len, const char *what, const char *name,
                     Elf64_Shdr *shdr, const uint8_t **bytes, cl_error *err)
{
    Elf64_Ehdr eh;
    Elf64_Shdr names, sh;
    size_t want = strlen(name) + 1, found = 0;
    int rc;

    if ((rc = cl_elf64_header(elf, len, what, &eh, err)) < 0)
        return rc;
    if (eh.e_shnum == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > len ||
        (uint64_t)eh.e_shnum * sizeof(Elf64_Shdr) > len - eh.e_shoff ||
        eh.e_shstrndx >= eh.e_shnum)
        return cl_error_set(err, CL_EINVALID, "%s's section headers lie outside the file", what);
    section_header(elf, &eh, eh.e_shstrndx, &names);
    if (names.sh_type != SHT_STRTAB || !inside(&names, len))
        return cl_error_set(err, CL_EINVALID, "%s's section names lie outside the file", what);
    for (size_t i = 1; i < eh.e_shnum; i++) {
        section_header(elf, &eh, i, &sh);
        if (sh.sh_name >= names.sh_size || names.sh_size - sh.sh_name < want ||
            memcmp(elf + names.sh_offset + sh.sh_name, name, want) != 0)
            continue;
        if (found++ > 0)
            return cl_error_set(err, CL_EINVALID, "%s has two %s sections", what, name);
        if (!inside(&sh, len))
            return cl_error_set(err, CL_EINVALID, "%s's %s section lies outside the file", what,
                                name);
        *shdr = sh;
    }
    if (found == 0)
        return cl_error_set(err, CL_ENOTFOUND, "%s has no %s section", what, name);
    *bytes = shdr->sh_type == SHT_NOBITS ? NULL : elf + shdr->sh_offset;
    return 0;
}
