/*
 * measure.c - the MRENCLAVE measurement stream; see measure.h for the
 * record layout.  The stream goes into SHA-256 (OpenSSL EVP) in batches of
 * BATCH bytes: a 64 GiB enclave is some 17 million 64-byte EADD records,
 * and one EVP call each costs a third of the hashing rate.
 */
#include "measure.h"
#include "sgx/le.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define RECORD 64
#define CHUNK 256
#define BATCH (64 * 1024)

struct cl_sgx_measure {
    EVP_MD_CTX *md;
    uint64_t size;
    uint8_t ecreate[RECORD];
    FILE *tee;
    size_t used;
    uint8_t batch[BATCH];
};

/* What is batched goes to the hash, and the copy. */
static void flush(cl_sgx_measure *m)
{
    EVP_DigestUpdate(m->md, m->batch, m->used);
    if (m->tee != NULL)
        fwrite(m->batch, 1, m->used, m->tee);
    m->used = 0;
}

/* Room for len more bytes of the stream (len <= BATCH), written in place. */
static uint8_t *reserve(cl_sgx_measure *m, size_t len)
{
    if (m->used + len > BATCH)
        flush(m);
    m->used += len;
    return m->batch + m->used - len;
}

/* Every byte of the stream goes through here or reserve(). */
static void emit(cl_sgx_measure *m, const void *bytes, size_t len)
{
    memcpy(reserve(m, len), bytes, len);
}

/* A record: its tag, zeros, and the caller fills the fields. */
static uint8_t *record(cl_sgx_measure *m, const char *tag)
{
    uint8_t *r = reserve(m, RECORD);

    memset(r, 0, RECORD);
    memcpy(r, tag, strlen(tag));
    return r;
}

void cl_sgx_measure_tee(cl_sgx_measure *m, FILE *sgxs)
{
    flush(m);
    m->tee = sgxs;
    if (sgxs != NULL)
        fwrite(m->ecreate, 1, RECORD, sgxs);   /* ECREATE was measured already */
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
    cl_le_put(rec + 8, ssa_frame_pages, 4);
    cl_le_put(rec + 12, size, 8);
    memcpy(m->ecreate, rec, RECORD);
    emit(m, rec, sizeof(rec));
    *out = m;
    return 0;
}

static void extend(cl_sgx_measure *m, uint64_t offset, const uint8_t *chunk)
{
    cl_le_put(record(m, "EEXTEND") + 8, offset, 8);
    emit(m, chunk, CHUNK);
}

int cl_sgx_measure_page(cl_sgx_measure *m, uint64_t offset, uint64_t flags,
                        const uint8_t *contents, cl_error *err)
{
    if (offset % CL_SGX_PAGE != 0 || offset >= m->size)
        return cl_error_set(err, CL_EINVALID, "page offset 0x%llx is outside the enclave or "
                            "not page-aligned", (unsigned long long)offset);
    uint8_t *rec = record(m, "EADD");
    cl_le_put(rec + 8, offset, 8);
    cl_le_put(rec + 16, flags, 8);
    for (int c = 0; contents != NULL && c < CL_SGX_PAGE / CHUNK; c++)
        extend(m, offset + (uint64_t)c * CHUNK, contents + c * CHUNK);
    return 0;
}

int cl_sgx_measure_unmeasured(cl_sgx_measure *m, uint64_t from, uint64_t to, uint64_t flags,
                              cl_error *err)
{
    if (from % CL_SGX_PAGE != 0 || to % CL_SGX_PAGE != 0 || from > to || to > m->size)
        return cl_error_set(err, CL_EINVALID, "pages 0x%llx-0x%llx are outside the enclave or "
                            "not page-aligned", (unsigned long long)from, (unsigned long long)to);
    for (uint64_t at = from; at < to; at += CL_SGX_PAGE) {
        uint8_t *rec = record(m, "EADD");
        cl_le_put(rec + 8, at, 8);
        cl_le_put(rec + 16, flags, 8);
    }
    return 0;
}

int cl_sgx_measure_end(cl_sgx_measure *m, uint8_t mrenclave[32], cl_error *err)
{
    unsigned int len = 0;

    flush(m);
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

static int zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/*
 * Each record is parsed into its fields and fed back to the engine, which
 * rebuilds it: a record whose reserved bytes are not zero, or whose fields
 * the engine would not write the same way, is refused rather than hashed
 * as given.
 */
int cl_sgx_measure_sgxs(const uint8_t *s, size_t len, uint8_t mrenclave[32], FILE *reemit,
                        cl_sgxs_info *info, cl_error *err)
{
    cl_sgx_measure *m = NULL;
    size_t at = RECORD;
    uint64_t pages = 0;
    int rc;

    if (len < RECORD || memcmp(s, "ECREATE\0", 8) != 0 || !zero(s + 20, 44))
        return cl_error_set(err, CL_EINVALID, "an SGXS stream starts with an ECREATE record");
    if ((rc = cl_sgx_measure_new(&m, (uint32_t)cl_le_get(s + 8, 4), cl_le_get(s + 12, 8),
                                 err)) < 0)
        return rc;
    cl_sgx_measure_tee(m, reemit);
    while (at < len && rc == 0) {
        if (len - at < RECORD) {
            rc = cl_error_set(err, CL_EINVALID, "the SGXS stream ends inside a record at %zu", at);
        } else if (memcmp(s + at, "EADD\0\0\0\0", 8) == 0 && zero(s + at + 24, 40)) {
            uint64_t offset = cl_le_get(s + at + 8, 8);

            if (offset % CL_SGX_PAGE != 0 || offset >= m->size)
                rc = cl_error_set(err, CL_EINVALID, "an EADD at %zu names offset 0x%llx", at,
                                  (unsigned long long)offset);
            else
                rc = cl_sgx_measure_page(m, offset, cl_le_get(s + at + 16, 8), NULL, err);
            pages++;
            at += RECORD;
        } else if (memcmp(s + at, "EEXTEND\0", 8) == 0 && zero(s + at + 16, 48)) {
            uint64_t offset = cl_le_get(s + at + 8, 8);

            if (len - at < RECORD + CHUNK)
                rc = cl_error_set(err, CL_EINVALID, "an EEXTEND at %zu lacks its 256 bytes", at);
            else if (offset % CHUNK != 0 || offset >= m->size)
                rc = cl_error_set(err, CL_EINVALID, "an EEXTEND at %zu names offset 0x%llx", at,
                                  (unsigned long long)offset);
            else
                extend(m, offset, s + at + RECORD);
            at += RECORD + CHUNK;
        } else {
            rc = cl_error_set(err, CL_EINVALID, "unknown or malformed SGXS record at %zu", at);
        }
    }
    if (rc == 0 && info != NULL)
        *info = (cl_sgxs_info){ cl_le_get(s + 12, 8), pages };
    if (rc == 0)
        return cl_sgx_measure_end(m, mrenclave, err);
    cl_sgx_measure_free(m);
    return rc;
}
