/*
 * attest_bench.c - SGX DCAP quote verifications per second on one core,
 * against ECDSA P-256 verifications per second by OpenSSL in the same run.
 *
 *   attest_bench DATA_DIR [SECONDS]
 *
 * DATA_DIR is tests/data/dcap; the dcap-qvl-2025 case (a real quote and its
 * collateral) is judged over and over at its documented time, the way a
 * daemon judges quotes: the collateral's bytes in memory, and the
 * signatures of certificates, CRLs and collateral it has verified before
 * remembered (cl_verify_cache); the quote is parsed, its chain and
 * collateral parsed and checked against the time, its QE report and quote
 * signatures verified, each time.  The comparison is
 * EVP_DigestVerify of one P-256 signature over a 432-byte message (a quote's
 * signed part).  A quote costs at least three such verifications (quote, QE
 * report, PCK leaf), so a third of that rate is the ceiling the report
 * measures against.  A benchmark: it asserts nothing.
 */
#include "sgx/dcap.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    uint8_t *buf;

    snprintf(path, sizeof(path), "%s/dcap-qvl-2025/%s", dir, name);
    if ((f = fopen(path, "rb")) == NULL) {
        fprintf(stderr, "attest_bench: cannot read %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    buf = malloc(*len + 1);
    if (buf == NULL || fread(buf, 1, *len, f) != *len)
        exit(2);
    fclose(f);
    return buf;
}

static double ecdsa_rate(double seconds)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char msg[432] = { 1 }, sig[80];
    size_t siglen = sizeof(sig);
    long n = 0;
    double start;

    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key);
    EVP_DigestSign(md, sig, &siglen, msg, sizeof(msg));
    start = now();
    while (now() - start < seconds) {
        for (int i = 0; i < 100; i++) {
            EVP_MD_CTX_reset(md);
            if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
                EVP_DigestVerify(md, sig, siglen, msg, sizeof(msg)) != 1)
                exit(3);
        }
        n += 100;
    }
    double rate = (double)n / (now() - start);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return rate;
}

int main(int argc, char **argv)
{
    static const char *const names[6] = {
        "tcb_info.json", "tcb_info_issuer_chain.pem", "qe_identity.json",
        "qe_identity_issuer_chain.pem", "pck_crl.der", "root_ca_crl.der",
    };
    uint8_t *files[6], *quote;
    size_t lens[6], qlen;
    double seconds = argc > 2 ? atof(argv[2]) : 5.0;

    if (argc < 2) {
        fprintf(stderr, "usage: attest_bench DATA_DIR [SECONDS]\n");
        return 2;
    }
    quote = slurp(argv[1], "quote.bin", &qlen);
    for (int i = 0; i < 6; i++)
        files[i] = slurp(argv[1], names[i], &lens[i]);
    cl_dcap_collateral c = {
        (const char *)files[0], lens[0], (const char *)files[1], lens[1],
        (const char *)files[2], lens[2], (const char *)files[3], lens[3],
        files[4], lens[4], files[5], lens[5],
    };
    STACK_OF(X509) *roots = cl_intel_sgx_roots();
    cl_verify_cache *cache = cl_verify_cache_new();     /* as the daemon keeps one */
    time_t at = 1752919277;
    long n = 0;
    double start = now();

    while (now() - start < seconds) {
        json_t *verdict;
        cl_error err = { 0 };

        if (cl_dcap_verify(quote, qlen, &c, roots, at, cache, &verdict, &err) < 0 ||
            !json_is_true(json_object_get(verdict, "authentic"))) {
            fprintf(stderr, "attest_bench: the quote did not verify\n");
            return 3;
        }
        json_decref(verdict);
        n++;
    }
    double quotes = (double)n / (now() - start);
    double ecdsa = ecdsa_rate(seconds);

    printf("quote verification (dcap-qvl-2025, everything but reading the files each time)\n");
    printf("  cl_dcap_verify         %8.0f quotes/s on one core\n", quotes);
    printf("  EVP ECDSA P-256 verify %8.0f verifications/s (432-byte messages)\n", ecdsa);
    printf("  ceiling (a third)      %8.0f quotes/s\n", ecdsa / 3);
    printf("  ratio                  %8.2f of the ceiling\n", quotes / (ecdsa / 3));
    sk_X509_pop_free(roots, X509_free);
    cl_verify_cache_free(cache);
    for (int i = 0; i < 6; i++)
        free(files[i]);
    free(quote);
    return 0;
}
