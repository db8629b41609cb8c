/*
 * measure.c - the MRENCLAVE measurement stream; see measure.h for the
 * record layout.  The stream is fed straight into SHA-256 (OpenSSL EVP):
 * nothing is buffered but the one record being written.
 */
#include "measure.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define RECORD 64
#define CHUNK 256

struct cl_sgx_measure {
    EVP_MD_CTX *md;
    uint64_t size;
};

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int cl_sgx_measure_new(cl_sgx_measure **out, uint32_t ssa_frame_pages, uint64_t size,
                       cl_error *err)
{
    uint8_t rec[RECORD] = "ECREATE";
    cl_sgx_measure *m = calloc(1, sizeof(*m));

    *out = NULL;
    if (m == NULL || (m->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(m->md, EVP_sha256(), NULL) != 1) {
        cl_sgx_measure_free(m);
        return cl_error_set(err, CL_ERROR, "could not start a SHA-256");
    }
    if (size == 0 || (size & (size - 1)) != 0) {
        cl_sgx_measure_free(m);
        return cl_error_set(err, CL_EINVALID, "an enclave's size must be a power of two");
    }
    m->size = size;
    put_u32(rec + 8, ssa_frame_pages);
    put_u64(rec + 12, size);
    EVP_DigestUpdate(m->md, rec, sizeof(rec));
    *out = m;
    return 0;
}

int cl_sgx_measure_page(cl_sgx_measure *m, uint64_t offset, uint64_t flags,
                        const uint8_t *contents, cl_error *err)
{
    uint8_t rec[RECORD] = "EADD";

    if (offset % CL_SGX_PAGE != 0 || offset >= m->size)
        return cl_error_set(err, CL_EINVALID, "page offset 0x%llx is outside the enclave or "
                            "not page-aligned", (unsigned long long)offset);
    put_u64(rec + 8, offset);
    put_u64(rec + 16, flags);
    EVP_DigestUpdate(m->md, rec, sizeof(rec));
    for (int c = 0; contents != NULL && c < CL_SGX_PAGE / CHUNK; c++) {
        uint8_t ext[RECORD] = "EEXTEND";

        put_u64(ext + 8, offset + (uint64_t)c * CHUNK);
        EVP_DigestUpdate(m->md, ext, sizeof(ext));
        EVP_DigestUpdate(m->md, contents + c * CHUNK, CHUNK);
    }
    return 0;
}

int cl_sgx_measure_end(cl_sgx_measure *m, uint8_t mrenclave[32], cl_error *err)
{
    unsigned int len = 0;
    int ok = EVP_DigestFinal_ex(m->md, mrenclave, &len) == 1 && len == 32;

    cl_sgx_measure_free(m);
    return ok ? 0 : cl_error_set(err, CL_ERROR, "could not finish the SHA-256");
}

void cl_sgx_measure_free(cl_sgx_measure *m)
{
    if (m == NULL)
        return;
    EVP_MD_CTX_free(m->md);
    free(m);
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

int cl_sgx_measure_sgxs(const uint8_t *s, size_t len, uint8_t mrenclave[32], cl_error *err)
{
    EVP_MD_CTX *md;
    size_t at = 0;
    unsigned int n = 0;
    int rc = 0;

    if (len < RECORD || memcmp(s, "ECREATE\0", 8) != 0)
        return cl_error_set(err, CL_EINVALID, "an SGXS stream starts with ECREATE");
    if ((md = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        return cl_error_set(err, CL_ERROR, "could not start a SHA-256");
    }
    while (at < len && rc == 0) {
        size_t take = RECORD;

        if (len - at < RECORD)
            rc = cl_error_set(err, CL_EINVALID, "the SGXS stream ends inside a record at %zu", at);
        else if (memcmp(s + at, "EEXTEND\0", 8) == 0)
            take += CHUNK;
        else if (memcmp(s + at, "EADD\0\0\0\0", 8) != 0 &&
                 (at != 0 || memcmp(s + at, "ECREATE\0", 8) != 0))
            rc = cl_error_set(err, CL_EINVALID, "unknown SGXS record at %zu", at);
        if (rc == 0 && len - at < take)
            rc = cl_error_set(err, CL_EINVALID, "an EEXTEND at %zu lacks its 256 bytes", at);
        if (rc == 0 && memcmp(s + at, "EEXTEND\0", 8) == 0 && get_u64(s + at + 8) % CHUNK != 0)
            rc = cl_error_set(err, CL_EINVALID, "an EEXTEND at %zu is not 256-byte aligned", at);
        if (rc == 0)
            EVP_DigestUpdate(md, s + at, take);
        at += take;
    }
    if (rc == 0 && (EVP_DigestFinal_ex(md, mrenclave, &n) != 1 || n != 32))
        rc = cl_error_set(err, CL_ERROR, "could not finish the SHA-256");
    EVP_MD_CTX_free(md);
    return rc;
}
