/*
 * gramine.c - Gramine 1.9's enclave layout and its measurement.
 *
 * Read from Gramine's signer (python/graminelibos/sgx_sign.py) and SGX PAL
 * headers; written up in the design notes (gramine-measurement.md).  The
 * areas are placed top-down from the enclave's size, each directly below
 * the previous:
 *
 *   manifest (+ NUL)       REG R       the manifest's bytes
 *   SSA, 2 frames/thread   REG RW      zero
 *   TCS, one per thread    TCS         OSSA, NSSA, OENTRY, OGSBASE, limits
 *   TLS, one per thread    REG RW      Gramine's per-thread control block
 *   stack per thread       REG RW      zero (thread 0's is the highest)
 *   signal stack/thread    REG RW      zero
 *   libpal.so              REG + the segment's R/W/X
 *
 * and measured in that order, each page with its contents; then, unless
 * EDMM is on, the heap pages [0x10000, libpal) are added unmeasured
 * (EADD only, REG RWX).
 */
#include "gramine.h"
#include "sgx/le.h"
#include "measure.h"
#include "sgx/elf64.h"

#include <stdlib.h>
#include <string.h>

#define PAGE CL_SGX_PAGE
#define SSA_FRAME 0x4000
#define SSA_FRAMES 2
#define STACK 0x40000
#define SIGNAL_STACK 0x10000
#define HEAP_MIN 0x10000
#define MAX_THREADS 4096
#define MAX_SEGMENTS 64

static uint64_t round_up(uint64_t v) { return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1); }
static uint64_t round_down(uint64_t v) { return v & ~(uint64_t)(PAGE - 1); }

typedef struct pal_image {
    Elf64_Phdr load[MAX_SEGMENTS];     /* copied out: the file's table may be unaligned */
    int nload;
    uint64_t size;          /* of its area: the highest loaded byte, rounded up */
    uint64_t entry;
} pal_image;

/* The PT_LOAD segments of a 64-bit ET_DYN ELF loaded from vaddr 0, every
 * offset and size checked against the file. */
static int read_pal(const uint8_t *elf, size_t len, pal_image *p, cl_error *err)
{
    Elf64_Ehdr header, *eh = &header;
    uint64_t lowest = UINT64_MAX, highest = 0;
    int rc;

    memset(p, 0, sizeof(*p));
    if ((rc = cl_elf64_header(elf, len, "libpal.so", eh, err)) < 0)
        return rc;
    if (eh->e_type != ET_DYN)
        return cl_error_set(err, CL_EINVALID, "libpal.so is not position-independent (ET_DYN)");
    if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > len ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
        return cl_error_set(err, CL_EINVALID, "libpal.so's program headers lie outside the file");
    for (int i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr segment, *ph = &segment;

        memcpy(ph, elf + eh->e_phoff + (size_t)i * sizeof(*ph), sizeof(*ph));
        if (ph->p_type != PT_LOAD)
            continue;
        if (p->nload == MAX_SEGMENTS)
            return cl_error_set(err, CL_EINVALID, "libpal.so has more than %d segments",
                                MAX_SEGMENTS);
        if (ph->p_filesz > ph->p_memsz || ph->p_offset > len || ph->p_filesz > len - ph->p_offset ||
            ph->p_vaddr > (1ULL << 40) || ph->p_memsz > (1ULL << 40))
            return cl_error_set(err, CL_EINVALID, "libpal.so has a segment outside its file");
        if (ph->p_vaddr < lowest)
            lowest = ph->p_vaddr;
        if (ph->p_vaddr + ph->p_memsz > highest)
            highest = ph->p_vaddr + ph->p_memsz;
        p->load[p->nload++] = *ph;
    }
    if (p->nload == 0 || round_down(lowest) != 0)
        return cl_error_set(err, CL_EINVALID, "libpal.so must be loaded from vaddr 0");
    p->size = round_up(highest);
    p->entry = eh->e_entry;
    return 0;
}

/* libpal.so's page at offset `at` of its area: contents and SECINFO flags. */
static uint64_t pal_page(const uint8_t *elf, const pal_image *p, uint64_t at, uint8_t *page)
{
    uint64_t flags = CL_SGX_PT_REG;
    int found = 0;

    memset(page, 0, PAGE);
    for (int i = 0; i < p->nload; i++) {
        const Elf64_Phdr *ph = &p->load[i];
        uint64_t lo = ph->p_vaddr, hi = ph->p_vaddr + ph->p_filesz;

        if (!found && at >= round_down(ph->p_vaddr) && at < round_up(ph->p_vaddr + ph->p_memsz)) {
            found = 1;
            /* ELF's bits run the other way: PF_X 1, PF_W 2, PF_R 4 */
            flags |= (ph->p_flags & PF_R ? CL_SGX_R : 0) | (ph->p_flags & PF_W ? CL_SGX_W : 0) |
                     (ph->p_flags & PF_X ? CL_SGX_X : 0);
        }
        if (hi > at && lo < at + PAGE) {        /* file bytes on this page */
            uint64_t from = lo > at ? lo : at, to = hi < at + PAGE ? hi : at + PAGE;

            memcpy(page + (from - at), elf + ph->p_offset + (from - lo), to - from);
        }
    }
    return flags;
}

int cl_gramine_measure(const cl_gramine_enclave *e, uint8_t mrenclave[32], cl_error *err)
{
    return cl_gramine_measure_to(e, mrenclave, NULL, err);
}

int cl_gramine_measure_to(const cl_gramine_enclave *e, uint8_t mrenclave[32], FILE *sgxs,
                          cl_error *err)
{
    uint64_t size = e->enclave_size, top = size, t;
    uint64_t manifest_len = e->manifest_len + 1, manifest, ssa, tcs, tls, pal;
    uint64_t *stack = NULL, *sigstack = NULL;
    uint8_t *page = NULL;
    cl_sgx_measure *m = NULL;
    pal_image img;
    int rc, threads = e->threads;

    if (threads < 1 || threads > MAX_THREADS)
        return cl_error_set(err, CL_EINVALID, "max_threads must be from 1 to %d", MAX_THREADS);
    if ((rc = read_pal(e->pal, e->pal_len, &img, err)) < 0)
        return rc;

    /* the areas, top-down */
    uint64_t need = round_up(manifest_len) + (uint64_t)threads * (SSA_FRAME * SSA_FRAMES +
                    2 * PAGE + STACK + SIGNAL_STACK) + img.size + HEAP_MIN;
    if (size < need)
        return cl_error_set(err, CL_EINVALID, "an enclave of %llu bytes is too small for %d "
                            "threads, the manifest and libpal.so (%llu bytes needed)",
                            (unsigned long long)size, threads, (unsigned long long)need);
    manifest = top -= round_up(manifest_len);
    ssa = top -= (uint64_t)threads * SSA_FRAME * SSA_FRAMES;
    tcs = top -= (uint64_t)threads * PAGE;
    tls = top -= (uint64_t)threads * PAGE;
    stack = calloc((size_t)threads, sizeof(*stack));
    sigstack = calloc((size_t)threads, sizeof(*sigstack));
    page = malloc(PAGE);
    if (stack == NULL || sigstack == NULL || page == NULL) {
        rc = cl_error_set(err, CL_ERROR, "out of memory");
        goto done;
    }
    for (t = 0; t < (uint64_t)threads; t++)
        stack[t] = top -= STACK;
    for (t = 0; t < (uint64_t)threads; t++)
        sigstack[t] = top -= SIGNAL_STACK;
    pal = top -= img.size;

    if ((rc = cl_sgx_measure_new(&m, SSA_FRAME / PAGE, size, err)) < 0)
        goto done;
    cl_sgx_measure_tee(m, sgxs);

    /* manifest */
    for (uint64_t at = 0; at < round_up(manifest_len) && rc == 0; at += PAGE) {
        memset(page, 0, PAGE);
        if (at < e->manifest_len)
            memcpy(page, e->manifest + at, e->manifest_len - at < PAGE ? e->manifest_len - at
                                                                         : PAGE);
        rc = cl_sgx_measure_page(m, manifest + at, CL_SGX_PT_REG | CL_SGX_R, page, err);
    }
    /* SSA */
    memset(page, 0, PAGE);
    for (uint64_t at = ssa; at < ssa + (uint64_t)threads * SSA_FRAME * SSA_FRAMES && rc == 0;
         at += PAGE)
        rc = cl_sgx_measure_page(m, at, CL_SGX_PT_REG | CL_SGX_R | CL_SGX_W, page, err);
    /* TCS */
    for (t = 0; t < (uint64_t)threads && rc == 0; t++) {
        memset(page, 0, PAGE);
        cl_le_put(page + 0x10, ssa + t * SSA_FRAME * SSA_FRAMES, 8);
        cl_le_put(page + 0x1C, SSA_FRAMES, 4);
        cl_le_put(page + 0x20, pal + img.entry, 8);
        cl_le_put(page + 0x38, tls + t * PAGE, 8);
        cl_le_put(page + 0x40, 0xFFF, 4);
        cl_le_put(page + 0x44, 0xFFF, 4);
        rc = cl_sgx_measure_page(m, tcs + t * PAGE, CL_SGX_PT_TCS, page, err);
    }
    /* TLS */
    for (t = 0; t < (uint64_t)threads && rc == 0; t++) {
        uint64_t thread_ssa = ssa + t * SSA_FRAME * SSA_FRAMES;

        memset(page, 0, PAGE);
        cl_le_put(page + 0x0, tls + t * PAGE, 8);
        cl_le_put(page + 0x8, 0xbadbadbadbadULL, 8);
        cl_le_put(page + 0x110, size, 8);
        cl_le_put(page + 0x118, tcs + t * PAGE, 8);
        cl_le_put(page + 0x120, stack[t] + STACK, 8);
        cl_le_put(page + 0x130, sigstack[t], 8);
        cl_le_put(page + 0x138, sigstack[t] + SIGNAL_STACK, 8);
        cl_le_put(page + 0x148, thread_ssa, 8);
        cl_le_put(page + 0x150, thread_ssa + SSA_FRAME - 0xB8, 8);
        cl_le_put(page + 0x1A0, manifest_len, 8);
        cl_le_put(page + 0x1A8, HEAP_MIN, 8);
        cl_le_put(page + 0x1B0, pal, 8);
        rc = cl_sgx_measure_page(m, tls + t * PAGE, CL_SGX_PT_REG | CL_SGX_R | CL_SGX_W, page,
                                 err);
    }
    /* stacks, then signal stacks: zero pages, thread 0's first */
    memset(page, 0, PAGE);
    for (t = 0; t < (uint64_t)threads && rc == 0; t++)
        for (uint64_t at = 0; at < STACK && rc == 0; at += PAGE)
            rc = cl_sgx_measure_page(m, stack[t] + at, CL_SGX_PT_REG | CL_SGX_R | CL_SGX_W, page,
                                     err);
    for (t = 0; t < (uint64_t)threads && rc == 0; t++)
        for (uint64_t at = 0; at < SIGNAL_STACK && rc == 0; at += PAGE)
            rc = cl_sgx_measure_page(m, sigstack[t] + at, CL_SGX_PT_REG | CL_SGX_R | CL_SGX_W,
                                     page, err);
    /* libpal.so */
    for (uint64_t at = 0; at < img.size && rc == 0; at += PAGE) {
        uint64_t flags = pal_page(e->pal, &img, at, page);
        rc = cl_sgx_measure_page(m, pal + at, flags, page, err);
    }
    /* the heap, added but not measured */
    if (!e->edmm && rc == 0)
        rc = cl_sgx_measure_unmeasured(m, HEAP_MIN, pal,
                                       CL_SGX_PT_REG | CL_SGX_R | CL_SGX_W | CL_SGX_X, err);
    if (rc == 0) {
        rc = cl_sgx_measure_end(m, mrenclave, err);
        m = NULL;
    }
done:
    cl_sgx_measure_free(m);
    free(stack);
    free(sigstack);
    free(page);
    return rc;
}
