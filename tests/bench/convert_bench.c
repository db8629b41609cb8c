/*
 * convert_bench.c - the hashing at the heart of a conversion, against
 * OpenSSL's EVP SHA-256 on the same bytes in the same run.
 *
 *   convert_bench DATA_DIR [IMAGE_MB] [ENCLAVE_GB] [THREADS]
 *
 * 1. File hashing: an uncompressed layer of IMAGE_MB (default 200) of
 *    256 KiB files, built in memory, applied by cl_fs_apply (libarchive
 *    reads it, every file hashed); against one EVP SHA-256 pass over the
 *    same file bytes.
 * 2. MRENCLAVE of Gramine's layout for ENCLAVE_GB (64) and THREADS (64),
 *    with DATA_DIR's manifest and PAL; against a plain EVP SHA-256 of as
 *    many bytes as the measurement hashes (counted from its SGXS stream in
 *    a separate, untimed run).
 *
 * Prints seconds, GB/s and the ratio to EVP, and the peak RSS.  A benchmark:
 * it asserts nothing.
 */
#include "image_fs.h"
#include "sgx/gramine.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define FILE_BYTES (256 * 1024)

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    FILE *f;
    uint8_t *data;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "rb")) == NULL) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc(*len);
    if (data == NULL || fread(data, 1, *len, f) != *len)
        exit(2);
    fclose(f);
    return data;
}

/* EVP SHA-256 of `total` bytes fed from buf (len) round and round. */
static double evp_seconds(const uint8_t *buf, size_t len, uint64_t total)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t out[32];
    double t0 = now();

    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (uint64_t done = 0; done < total;) {
        size_t n = total - done < len ? (size_t)(total - done) : len;
        EVP_DigestUpdate(md, buf, n);
        done += n;
    }
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
    return now() - t0;
}

static void report(const char *what, uint64_t bytes, double ours, double evp)
{
    printf("  %-18s %.3f s  %.2f GB/s\n", what, ours, bytes / ours / 1e9);
    printf("  %-18s %.3f s  %.2f GB/s\n", "EVP SHA-256", evp, bytes / evp / 1e9);
    printf("  %-18s %.2f of the EVP rate\n", "ratio", evp / ours);
}

static ssize_t count_write(void *cookie, const char *buf, size_t len)
{
    (void)buf;
    *(uint64_t *)cookie += len;
    return (ssize_t)len;
}

static long peak_rss_mb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static void file_hashing(int image_mb)
{
    size_t files = (size_t)image_mb * 1024 * 1024 / FILE_BYTES, cap = files * (FILE_BYTES + 2048);
    uint8_t *layer = malloc(cap), *content = malloc(FILE_BYTES);
    size_t used = 0;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    cl_error err = { 0 };

    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open_memory(a, layer, cap, &used);
    for (size_t i = 0; i < files; i++) {
        char name[64];
        for (size_t j = 0; j < FILE_BYTES; j += 8) {   /* xorshift: incompressible */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            memcpy(content + j, &x, 8);
        }
        snprintf(name, sizeof(name), "app/data/%04zu/file-%zu.bin", i / 100, i);
        archive_entry_clear(e);
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, FILE_BYTES);
        archive_write_header(a, e);
        archive_write_data(a, content, FILE_BYTES);
    }
    archive_write_close(a);
    archive_write_free(a);
    archive_entry_free(e);

    cl_fs_tree *t = cl_fs_new(NULL);
    double t0 = now();
    if (cl_fs_apply_memory(t, layer, used, &err) < 0) {
        fprintf(stderr, "apply: %s\n", err.message);
        exit(1);
    }
    double ours = now() - t0;
    uint64_t bytes = (uint64_t)files * FILE_BYTES;
    double evp = evp_seconds(layer, used, bytes);
    cl_fs_free(t);

    printf("file hashing: %zu files, %.0f MB in a %.0f MB layer\n", files, bytes / 1e6,
           used / 1e6);
    report("cl_fs_apply", bytes, ours, evp);
    free(layer);
    free(content);
}

static void measurement(const char *dir, int gb, int threads)
{
    size_t mlen, plen;
    uint8_t *manifest = slurp(dir, "case-dev.manifest.sgx", &mlen);
    uint8_t *pal = slurp(dir, "libpal-dev.so", &plen), mr[32];
    cl_gramine_enclave enc = { .enclave_size = (uint64_t)gb << 30, .threads = threads,
                               .manifest = manifest, .manifest_len = mlen,
                               .pal = pal, .pal_len = plen };
    cl_error err = { 0 };
    uint64_t bytes = 0;
    cookie_io_functions_t sink = { .write = count_write };
    FILE *counter = fopencookie(&bytes, "w", sink);

    if (cl_gramine_measure_to(&enc, mr, counter, &err) < 0) {
        fprintf(stderr, "measure: %s\n", err.message);
        exit(1);
    }
    fclose(counter);

    double t0 = now();
    cl_gramine_measure(&enc, mr, &err);
    double ours = now() - t0;
    static uint8_t block[1 << 20];
    memset(block, 0x5a, sizeof(block));
    double evp = evp_seconds(block, sizeof(block), bytes);

    printf("MRENCLAVE: %d GiB enclave, %d threads, %.2f GB of records hashed\n", gb, threads,
           bytes / 1e9);
    report("cl_gramine_measure", bytes, ours, evp);
    free(manifest);
    free(pal);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: convert_bench DATA_DIR [IMAGE_MB] [ENCLAVE_GB] [THREADS]\n");
        return 2;
    }
    measurement(argv[1], argc > 3 ? (int)strtol(argv[3], NULL, 10) : 64,
                argc > 4 ? (int)strtol(argv[4], NULL, 10) : 64);
    printf("  peak RSS %ld MB\n", peak_rss_mb());
    file_hashing(argc > 2 ? (int)strtol(argv[2], NULL, 10) : 200);
    printf("  peak RSS %ld MB (the benchmark holds the whole layer in memory)\n",
           peak_rss_mb());
    return 0;
}
