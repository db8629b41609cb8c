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
#include "test_data.h"

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
    cl_sgxs_info info;
    cl_error err = { 0 };
    (void)state;

    char *copy = NULL;
    size_t copy_len = 0;
    FILE *out = open_memstream(&copy, &copy_len);

    assert_int_equal(cl_sgx_measure_sgxs(s, len, mr, out, &info, &err), 0);
    assert_int_equal(info.size, 0x40000);      /* tests/data/sgx/README.md: 9 EADD */
    assert_int_equal(info.pages, 9);
    fclose(out);
    hex_equal(mr, "784acfd7d5096a8f0fbd3265760bff21b120f62407a9a9e5ba31aa3c8ed198fc");
    /* parsed record by record and re-emitted by the engine: the same bytes */
    assert_int_equal(copy_len, len);
    assert_memory_equal(copy, s, len);
    free(copy);
    /* a stream cut inside an EEXTEND, or with a damaged record, is refused */
    assert_int_equal(cl_sgx_measure_sgxs(s, len - 100, mr, NULL, NULL, &err), CL_EINVALID);
    s[64 + 30] = 1;         /* reserved bytes of the first EADD */
    assert_int_equal(cl_sgx_measure_sgxs(s, len, mr, NULL, NULL, &err), CL_EINVALID);
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

/* A range of unmeasured pages is the same stream as those pages one by one,
 * and a range outside the enclave is refused. */
static void test_unmeasured_range(void **state)
{
    (void)state;
    cl_sgx_measure *a, *b;
    cl_error err = { 0 };
    uint8_t ra[32], rb[32];
    const uint64_t flags = CL_SGX_PT_REG | CL_SGX_R | CL_SGX_W;

    assert_int_equal(cl_sgx_measure_new(&a, 1, 1 << 20, &err), 0);
    assert_int_equal(cl_sgx_measure_new(&b, 1, 1 << 20, &err), 0);
    for (uint64_t at = 0x4000; at < 0x40000; at += CL_SGX_PAGE)
        assert_int_equal(cl_sgx_measure_page(a, at, flags, NULL, &err), 0);
    assert_int_equal(cl_sgx_measure_unmeasured(b, 0x4000, 0x40000, flags, &err), 0);
    assert_int_equal(cl_sgx_measure_unmeasured(b, 0x1000, 0x1000, flags, &err), 0);
    assert_int_equal(cl_sgx_measure_unmeasured(b, 0x4000, 2 << 20, flags, &err), CL_EINVALID);
    assert_int_equal(cl_sgx_measure_unmeasured(b, 0x4001, 0x8000, flags, &err), CL_EINVALID);
    assert_int_equal(cl_sgx_measure_end(a, ra, &err), 0);
    assert_int_equal(cl_sgx_measure_end(b, rb, &err), 0);
    assert_memory_equal(ra, rb, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgxs_stream),
        cmocka_unit_test(test_gramine_layout),
        cmocka_unit_test(test_unmeasured_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
