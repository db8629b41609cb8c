/*
 * fuzz_httpsig.c - node request signatures (lib/httpsig.c, RFC 9421): the
 * keyid taken from Signature-Input, then the whole request verified with a
 * fixed P-256 key, as daemon/auth.c does (300 s of clock skew).  The input
 * is the request's fields, one a line: method, path, Date, Content-Digest,
 * Signature-Input, Signature, and the body (the rest).  A missing line is
 * an absent header.  The seed corpus holds requests signed with this key at
 * NOW, so mutations start from ones that verify.
 *
 *   fuzz_httpsig --sign METHOD PATH BODY   prints such a seed (replay.c builds)
 */
#include "error.h"
#include "fuzz.h"
#include "httpsig.h"

#include <openssl/pem.h>
#include <stdint.h>

#define NOW ((time_t)1795000000)
#define SKEW 300                    /* NODE_CLOCK_SKEW in daemon/auth.c */

static const char key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzzDTg/KmOtlyOFpR\n"
    "v0Ug70QcCw0GMMUHE66ickFk+9GhRANCAATyz9KNgcLa14uDQYkd2o8bU63uIF5P\n"
    "k2t36LWeSlMGU5LIZCNAl4905jI5lQEJFNC4o5uVyQhJ9rtp8oGIZOT/\n"
    "-----END PRIVATE KEY-----\n";

static EVP_PKEY *key;

static void init(void)
{
    BIO *bio = BIO_new_mem_buf(key_pem, -1);

    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *f[7], *copy, keyid[CL_HTTPSIG_KEYID_MAX + 1];
    cl_error err = { 0 };

    if (key == NULL)
        init();
    if (size > 64 * 1024)
        return 0;
    fuzz_fields(data, size, f, 7, &copy);
    (void)cl_httpsig_keyid(f[4], keyid, &err);
    cl_error_clear(&err);
    unsigned char replay[32];
    cl_httpsig_request rq = {
        f[0] ? f[0] : "POST", f[1] ? f[1] : "/", f[2], f[3], f[4], f[5],
        f[6], f[6] ? size - (size_t)(f[6] - copy) : 0, replay,
    };
    (void)cl_httpsig_verify(&rq, key, NOW + 30, SKEW, &err);
    cl_error_clear(&err);
    free(copy);
    return 0;
}

/* replay.c's main hands "--sign METHOD PATH BODY" here (libFuzzer's does not). */
int fuzz_tool(int argc, char **argv);
int fuzz_tool(int argc, char **argv)
{
    cl_httpsig_headers h;
    cl_error err = { 0 };

    if (argc != 5 || strcmp(argv[1], "--sign") != 0)
        return 2;
    init();
    if (cl_httpsig_sign(&h, key, "3f1c0b9e-6a2d-4e8f-9b7a-1c2d3e4f5a6b", argv[2], argv[3],
                        argv[4], strlen(argv[4]), NOW, &err) < 0) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("%s\n%s\n%s\n%s\n%s\n%s\n%s", argv[2], argv[3], h.date, h.digest, h.input,
           h.signature, argv[4]);
    return 0;
}
