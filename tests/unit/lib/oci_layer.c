/* Tests for lib/oci_layer.c: the same files give the same bytes, the layer
 * reads back (through image_fs) as those files, and the digests are what a
 * registry and a runtime would compute. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "digest.h"
#include "image_fs.h"
#include "oci_layer.h"

static const char argv_bytes[] = "python3\0main.py\0";

static const cl_layer_file files[] = {
    { "/gramine/app/argv", argv_bytes, sizeof(argv_bytes) - 1, 0644 },
    { "/gramine/app/run", "#!/bin/sh\n", 10, 0755 },
    { "/etc/empty", "", 0, 0600 },
};

static void build(const cl_layer_file *f, size_t n, cl_layer *layer)
{
    cl_error err = { 0 };

    cl_buf_init(&layer->blob, 1 << 20);
    if (cl_oci_layer_build(f, n, layer, &err) < 0)
        fail_msg("build: %s", err.message);
}

static void test_reproducible(void **state)
{
    (void)state;
    const cl_layer_file reversed[] = { files[2], files[1], files[0] };
    cl_layer a, b;

    build(files, 3, &a);
    build(reversed, 3, &b);
    assert_string_equal(a.digest, b.digest);
    assert_string_equal(a.diff_id, b.diff_id);
    assert_int_equal(a.blob.len, b.blob.len);
    assert_memory_equal(a.blob.data, b.blob.data, a.blob.len);
    /* gzip with no mtime: bytes 4-7 of the header are zero. */
    assert_memory_equal(a.blob.data, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
    cl_buf_free(&a.blob);
    cl_buf_free(&b.blob);
}

static void test_digests(void **state)
{
    (void)state;
    cl_layer layer;
    char hex[65];
    static uint8_t tar[1 << 20];
    z_stream z = { 0 };

    build(files, 3, &layer);
    cl_sha256_hex(hex, layer.blob.data, layer.blob.len);
    assert_string_equal(layer.digest + 7, hex);

    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (Bytef *)layer.blob.data;
    z.avail_in = (uInt)layer.blob.len;
    z.next_out = tar;
    z.avail_out = sizeof(tar);
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    cl_sha256_hex(hex, tar, z.total_out);
    assert_string_equal(layer.diff_id + 7, hex);
    assert_int_equal(z.total_out % 512, 0);
    inflateEnd(&z);
    cl_buf_free(&layer.blob);
}

static void test_reads_back_as_the_files(void **state)
{
    (void)state;
    cl_layer layer;
    cl_error err = { 0 };
    cl_fs_tree *t = cl_fs_new(NULL);
    uint8_t sha[32];

    build(files, 3, &layer);
    assert_int_equal(cl_fs_apply_memory(t, layer.blob.data, layer.blob.len, &err), 0);
    for (size_t i = 0; i < 3; i++) {
        const cl_fs_entry *e = cl_fs_lookup(t, files[i].path);
        assert_non_null(e);
        assert_int_equal(e->type, CL_FS_FILE);
        assert_int_equal(e->mode, files[i].mode);
        assert_int_equal(e->size, files[i].len);
        cl_sha256(sha, files[i].data, files[i].len);
        assert_memory_equal(e->sha256, sha, 32);
    }
    const char *dirs[] = { "/gramine", "/gramine/app", "/etc" };
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(cl_fs_lookup(t, dirs[i]));
        assert_int_equal(cl_fs_lookup(t, dirs[i])->type, CL_FS_DIR);
    }
    size_t n;
    cl_fs_entries(t, &n);
    assert_int_equal(n, 6);
    cl_fs_free(t);
    cl_buf_free(&layer.blob);
}

static void refused(const cl_layer_file *f, size_t n, const char *fragment)
{
    cl_layer layer;
    cl_error err = { 0 };

    cl_buf_init(&layer.blob, 1 << 20);
    assert_int_equal(cl_oci_layer_build(f, n, &layer, &err), CL_EINVALID);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("\"%s\" does not mention \"%s\"", err.message, fragment);
    cl_buf_free(&layer.blob);
}

static void test_refusals(void **state)
{
    (void)state;
    const cl_layer_file relative[] = { { "etc/x", "", 0, 0644 } };
    const cl_layer_file dotdot[] = { { "/etc/../x", "", 0, 0644 } };
    const cl_layer_file dot[] = { { "/etc/./x", "", 0, 0644 } };
    const cl_layer_file trailing[] = { { "/etc/", "", 0, 0644 } };
    const cl_layer_file twice[] = { { "/a", "", 0, 0644 }, { "/a", "x", 1, 0644 } };
    const cl_layer_file both[] = { { "/a", "", 0, 0644 }, { "/a/b", "x", 1, 0644 } };

    refused(relative, 1, "not a plain absolute path");
    refused(dotdot, 1, "not a plain absolute path");
    refused(dot, 1, "not a plain absolute path");
    refused(trailing, 1, "not a plain absolute path");
    refused(twice, 2, "given twice");
    refused(both, 2, "a file and a directory");

    cl_layer layer;
    cl_error err = { 0 };
    static uint8_t noise[64 * 1024];
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (uint8_t)(i * 2654435761u >> 13);
    const cl_layer_file big[] = { { "/noise", noise, sizeof(noise), 0644 } };
    cl_buf_init(&layer.blob, 1024);
    assert_int_equal(cl_oci_layer_build(big, 1, &layer, &err), CL_ETOOBIG);
    cl_buf_free(&layer.blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_reads_back_as_the_files),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
