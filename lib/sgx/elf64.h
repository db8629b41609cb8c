/*
 * elf64.h - the little of ELF that enclave files need, read from memory
 * with every offset and size checked against the buffer: the header of a
 * 64-bit little-endian object, and a section found by name.
 *
 * Headers are copied out (memcpy), so a hostile file's unaligned tables
 * are read safely.  `what` names the file in error messages ("libpal.so").
 */
#ifndef CL_SGX_ELF64_H
#define CL_SGX_ELF64_H

#include "error.h"

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

/* Copy out the ELF header of a 64-bit little-endian object. */
int cl_elf64_header(const uint8_t *elf, size_t len, const char *what, Elf64_Ehdr *out,
                    cl_error *err);

/* The one section called `name`: its header, and its bytes (within elf).
 * CL_ENOTFOUND when there is none; CL_EINVALID when there are two, or when
 * a table or the section lies outside the file (SHT_NOBITS has no bytes). */
int cl_elf64_section(const uint8_t *elf, size_t len, const char *what, const char *name,
                     Elf64_Shdr *shdr, const uint8_t **bytes, cl_error *err);

#endif
