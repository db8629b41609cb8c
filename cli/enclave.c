/*
 * enclave.c - offline tools for people who check figures themselves, as
 * gramine-sgx-sigstruct-view and gsc info-image let them; no daemon needed.
 *
 *   cloister enclave measure --manifest APP.manifest.sgx --libpal libpal.so
 *   cloister enclave sigstruct APP.sig | ENCLAVE.signed.so [--sgxs APP.sgxs]
 *
 * sigstruct reads a SIGSTRUCT on its own (the 1808-byte .sig of Gramine, EDP
 * or sgx_sign -dumpfile), or from an SGX SDK signed enclave (Occlum's
 * libocclum-libos.signed.so and the like); with --sgxs it also measures an
 * SGXS stream (EDP's .sgxs) and requires the SIGSTRUCT to name that
 * MRENCLAVE.
 */
#include "cli.h"
#include "config.h"
#include "digest.h"
#include "sgx/gramine.h"
#include "sgx/measure.h"
#include "sgx/sdk_enclave.h"
#include "sgx/sigstruct.h"
#include "toml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILE_MAX (256u * 1024 * 1024)

static int enclave_measure(cli_ctx *c, int argc, char **argv)
{
    const char *manifest_path = NULL, *pal_path = NULL, *sgxs = NULL, *pos[1];
    const cli_flag flags[] = { { "--manifest", &manifest_path, 0, NULL },
                               { "--libpal", &pal_path, 0, NULL },
                               { "--sgxs", &sgxs, 0, NULL }, { NULL, NULL, 0, NULL } };
    uint8_t *manifest = NULL, *pal = NULL, mr[32];
    size_t mlen = 0, plen = 0;
    json_t *doc = NULL;
    cl_error err = { 0 };
    char hex[65];
    int npos, rc;

    if ((rc = cli_args(c, &cli_enclave_commands[0], argc, argv, flags, pos, 0, 0, &npos)) != 0)
        return rc;
    if (manifest_path == NULL || pal_path == NULL)
        return cli_usage_error(&cli_enclave_commands[0], "give --manifest and --libpal");
    if ((rc = cli_read_file(manifest_path, FILE_MAX, &manifest, &mlen)) != 0 ||
        (rc = cli_read_file(pal_path, FILE_MAX, &pal, &plen)) != 0)
        goto done;
    if (cl_toml_parse(&doc, (const char *)manifest, mlen, &err) < 0) {
        fprintf(stderr, "cloister: \"%s\": %s\n", manifest_path, err.message);
        rc = CLI_EINVALID;
        goto done;
    }
    json_t *size_v = cl_toml_get(doc, "sgx.enclave_size");
    json_t *threads_v = cl_toml_get(doc, "sgx.max_threads");
    long long size = 256LL << 20;
    if (size_v != NULL && (!json_is_string(size_v) ||
                           cl_config_parse_size(json_string_value(size_v), &size) < 0)) {
        fprintf(stderr, "cloister: sgx.enclave_size must be a size such as \"512M\"\n");
        rc = CLI_EINVALID;
        goto done;
    }
    if (threads_v != NULL && (!json_is_integer(threads_v) || json_integer_value(threads_v) < 1 ||
                              json_integer_value(threads_v) > 4096)) {
        fprintf(stderr, "cloister: sgx.max_threads must be an integer from 1 to 4096\n");
        rc = CLI_EINVALID;
        goto done;
    }
    cl_gramine_enclave e = {
        .enclave_size = (uint64_t)size,
        .threads = threads_v ? (int)json_integer_value(threads_v) : 4,
        .edmm = json_is_true(cl_toml_get(doc, "sgx.edmm_enable")),
        .manifest = manifest, .manifest_len = mlen, .pal = pal, .pal_len = plen,
    };
    FILE *out = NULL;
    if (sgxs != NULL && (out = fopen(sgxs, "wb")) == NULL) {
        fprintf(stderr, "cloister: could not write \"%s\"\n", sgxs);
        rc = CLI_EUSAGE;
        goto done;
    }
    rc = cl_gramine_measure_to(&e, mr, out, &err);
    if (out != NULL && (ferror(out) | fclose(out)) != 0 && rc == 0) {
        fprintf(stderr, "cloister: could not write \"%s\"\n", sgxs);
        rc = CLI_EUSAGE;
        goto done;
    }
    if (rc < 0) {
        fprintf(stderr, "cloister: %s\n", err.message);
        rc = CLI_EINVALID;
        goto done;
    }
    cl_hex(hex, mr, 32);
    json_t *result = json_pack("{s:s, s:I, s:i, s:b}", "mrenclave", hex, "enclave_size",
                               (json_int_t)size, "threads", e.threads, "edmm", e.edmm);
    static const cli_column columns[] = {
        { "MRENCLAVE", "mrenclave" }, { "ENCLAVE SIZE", "enclave_size" },
        { "THREADS", "threads" }, { "EDMM", "edmm" }, { NULL, NULL },
    };
    cli_print_one(c, result, columns, "mrenclave");
    json_decref(result);
    rc = 0;
done:
    json_decref(doc);
    free(manifest);
    free(pal);
    cl_error_clear(&err);
    return rc;
}

/* The MRENCLAVE (hex) of the SGXS stream in path, and the EPC it takes:
 * the pages it adds (its ECREATE size is the address range, often more). */
static int measure_sgxs(const char *path, char hex[65], long long *epc)
{
    uint8_t *bytes, mr[32];
    size_t len;
    cl_sgxs_info info;
    cl_error err = { 0 };
    int rc;

    if ((rc = cli_read_file(path, FILE_MAX, &bytes, &len)) != 0)
        return rc;
    if (cl_sgx_measure_sgxs(bytes, len, mr, NULL, &info, &err) < 0) {
        fprintf(stderr, "cloister: \"%s\": %s\n", path, err.message);
        rc = CLI_EINVALID;
    } else {
        cl_hex(hex, mr, 32);
        *epc = (long long)(info.pages * CL_SGX_PAGE);
    }
    cl_error_clear(&err);
    free(bytes);
    return rc;
}

int cli_enclave_sigstruct(const char *path, const char *sgxs, uint8_t sig[CL_SIGSTRUCT_SIZE],
                          const char **source, char detail[64], long long *enclave_size)
{
    uint8_t *bytes;
    size_t len;
    cl_sgx_sdk_metadata md;
    cl_error err = { 0 };
    char signed_hex[65], measured[65];
    int rc;

    *enclave_size = 0;
    if ((rc = cli_read_file(path, FILE_MAX, &bytes, &len)) != 0)
        return rc;
    if (len == CL_SIGSTRUCT_SIZE) {
        memcpy(sig, bytes, CL_SIGSTRUCT_SIZE);
        *source = "sigstruct";
        snprintf(detail, 64, "sigstruct");
    } else if (cl_sgx_sdk_metadata_read(bytes, len, &md, &err) == 0) {
        memcpy(sig, md.sigstruct, CL_SIGSTRUCT_SIZE);
        *source = "sgx-sdk-enclave";
        *enclave_size = (long long)md.enclave_size;
        snprintf(detail, 64, "sgx-sdk enclave, metadata %u.%u", md.version_major,
                 md.version_minor);
    } else {
        fprintf(stderr, "cloister: \"%s\" is %zu bytes, not a %d-byte SIGSTRUCT, and not an SGX "
                "SDK signed enclave: %s\n", path, len, CL_SIGSTRUCT_SIZE, err.message);
        rc = CLI_EINVALID;
    }
    cl_error_clear(&err);
    free(bytes);
    if (rc != 0 || sgxs == NULL)
        return rc;
    if ((rc = measure_sgxs(sgxs, measured, enclave_size)) != 0)
        return rc;
    cl_hex(signed_hex, sig + 960, 32);                  /* ENCLAVEHASH */
    if (strcmp(measured, signed_hex) != 0) {
        fprintf(stderr, "cloister: \"%s\" measures %s, but the SIGSTRUCT signs %s\n", sgxs,
                measured, signed_hex);
        return CLI_EINVALID;
    }
    *source = "sgxs";
    return 0;
}

static int enclave_sigstruct(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "MRENCLAVE", "mrenclave" }, { "MRSIGNER", "mrsigner" }, { "ISVPRODID", "isvprodid" },
        { "ISVSVN", "isvsvn" }, { "DEBUG", "debug" }, { "ATTRIBUTES", "attributes.flags" },
        { "XFRM", "attributes.xfrm" }, { "MISCSELECT", "miscselect" }, { "DATE", "date" },
        { "SIGNATURE", "signature" }, { "SOURCE", "source" }, { "SGXS", "sgxs" }, { NULL, NULL },
    };
    const char *pos[1], *sgxs = NULL;
    const cli_flag flags_given[] = { { "--sgxs", &sgxs, 0, NULL }, { NULL, NULL, 0, NULL } };
    uint8_t sig[CL_SIGSTRUCT_SIZE], mrsigner[32];
    cl_sigstruct_fields f;
    cl_error err = { 0 };
    char mr_hex[65], signer_hex[65], date[16], flags[24], xfrm[24], misc[16], source[64];
    const char *measured_from;
    long long size;
    int npos, rc;

    if ((rc = cli_args(c, &cli_enclave_commands[1], argc, argv, flags_given, pos, 1, 1,
                       &npos)) != 0 ||
        (rc = cli_enclave_sigstruct(pos[0], sgxs, sig, &measured_from, source, &size)) != 0)
        return rc;
    if (cl_sigstruct_verify(sig, &f, mrsigner, &err) < 0) {
        fprintf(stderr, "cloister: %s\n", err.message);
        cl_error_clear(&err);
        return CLI_EINVALID;
    }
    cl_hex(mr_hex, f.enclave_hash, 32);
    cl_hex(signer_hex, mrsigner, 32);
    snprintf(date, sizeof(date), "%04d-%02d-%02d", f.year, f.month, f.day);
    snprintf(flags, sizeof(flags), "0x%llx", (unsigned long long)f.attributes_flags);
    snprintf(xfrm, sizeof(xfrm), "0x%llx", (unsigned long long)f.attributes_xfrm);
    snprintf(misc, sizeof(misc), "0x%x", f.miscselect);
    json_t *out = json_pack("{s:s, s:s, s:i, s:i, s:b, s:{s:s, s:s}, s:s, s:s, s:s, s:s}",
                            "mrenclave", mr_hex, "mrsigner", signer_hex, "isvprodid",
                            f.isvprodid, "isvsvn", f.isvsvn, "debug",
                            (f.attributes_flags & 0x2) != 0, "attributes", "flags", flags,
                            "xfrm", xfrm, "miscselect", misc, "date", date, "signature",
                            "verified", "source", source);
    if (sgxs != NULL)
        json_object_set_new(out, "sgxs", json_string("matches"));
    cli_print_one(c, out, columns, "mrenclave");
    json_decref(out);
    return 0;
}

const cli_command cli_enclave_commands[] = {
    { "enclave", "measure", enclave_measure,
      "--manifest APP.manifest.sgx --libpal libpal.so [--sgxs OUT.sgxs]",
      "compute the MRENCLAVE Gramine's enclave will have (offline; size and threads from "
      "the manifest)",
      "cloister enclave measure --manifest app.manifest.sgx --libpal /usr/lib/x86_64-linux-gnu/"
      "gramine/sgx/libpal.so" },
    { "enclave", "sigstruct", enclave_sigstruct, "FILE.sig|ENCLAVE.signed.so [--sgxs FILE.sgxs]",
      "decode a SIGSTRUCT, on its own or in an SGX SDK signed enclave, and verify its "
      "signature; with --sgxs also that it signs that SGXS stream's MRENCLAVE (offline)",
      "cloister enclave sigstruct app.sig -o json\n"
      "  cloister enclave sigstruct libocclum-libos.signed.so\n"
      "  cloister enclave sigstruct app.sig --sgxs app.sgxs" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
