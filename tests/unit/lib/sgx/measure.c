/* Tests for lib/sgx/measure.c and lib/sgx/gramine.c against vectors made by
 * the real tools: fortanix/rust-sgx's test enclave (SGXS stream) and a
 * manifest and PAL measured by Gramine 1.9's own signer (tests/data/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "sgx/gramine.h"
#include "sgx/measure.h"

static uint8_t *slurp(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    uint8_t *buf;

    snprintf(path, sizeof(path), "%s/%s", CL_TEST_DATA, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void hex_equal(const uint8_t got[32], const char *want)
{
    char hex[65];

    cl_hex(hex, got, 32);
    assert_string_equal(hex, want);
}

static void test_sgxs_stream(void **state)
{
    size_t len;
    uint8_t *s = slurp("sgx/test_enclave.sgxs", &len), mr[32];
    cl_error err = { 0 };
    (void)state;

    char *copy = NULL;
    size_t copy_len = 0;
    FILE *out = open_memstream(&copy, &copy_len);

    assert_int_equal(cl_sgx_measure_sgxs(s, len, mr, out, &err), 0);
    fclose(out);
    hex_equal(mr, "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc");
    /* parsed record by record and re-emitted by the engine: the same bytes */
    assert_int_equal(copy_len, len);
    assert_memory_equal(copy, s, len);
    free(copy);
    /* a stream cut inside an EEXTEND, or with a damaged record, is refused */
    assert_int_equal(cl_sgx_measure_sgxs(s, len - 100, mr, NULL, &err), CL_EINVALID);
    s[64 + 30] = 1;         /* reserved bytes of the first EADD */
    assert_int_equal(cl_sgx_measure_sgxs(s, len, mr, NULL, &err), CL_EINVALID);
    free(s);
}

static void test_gramine_layout(void **state)
{
    size_t mlen, plen;
    uint8_t *manifest = slurp("gramine/case-dev.manifest.sgx", &mlen);
    uint8_t *pal = slurp("gramine/libpal-dev.so", &plen), mr[32];
    cl_gramine_enclave e = { 512ULL << 20, 2, 0, manifest, mlen, pal, plen };
    cl_error err = { 0 };
    (void)state;

    if (cl_gramine_measure(&e, mr, &err) < 0)
        fail_msg("%s", err.message);
    hex_equal(mr, "de830177b0ce393e72d337bc388762f1c0db9ac7cbf0c765d26960627cb186fb");

    /* any change to the manifest changes the measurement */
    manifest[0] ^= 1;
    assert_int_equal(cl_gramine_measure(&e, mr, &err), 0);
    assert_memory_not_equal(mr, "\xde\x83\x01\x77", 4);

    /* a PAL that is not position-independent is refused */
    pal[16] = 2;    /* e_type = ET_EXEC */
    assert_int_equal(cl_gramine_measure(&e, mr, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "ET_DYN"));
    pal[16] = 3;
    e.enclave_size = 1 << 18;
    assert_int_equal(cl_gramine_measure(&e, mr, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "too small"));
    free(manifest);
    free(pal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgxs_stream),
        cmocka_unit_test(test_gramine_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
