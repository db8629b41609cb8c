/* Tests for lib/image_fs.c: layers written with libarchive's own writer,
 * applied in order, with the OCI changeset rules checked one by one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "digest.h"
#include "image_fs.h"
#include "layer.h"

static void assert_file(cl_fs_tree *t, const char *path, const char *data)
{
    const cl_fs_entry *e = cl_fs_lookup(t, path);
    uint8_t want[32];

    if (e == NULL)
        fail_msg("%s is missing", path);
    assert_int_equal(e->type, CL_FS_FILE);
    assert_int_equal(e->size, strlen(data));
    cl_sha256(want, data, strlen(data));
    assert_memory_equal(e->sha256, want, 32);
}

static void test_files_dirs_and_links(void **state)
{
    (void)state;
    cl_fs_tree *t = cl_fs_new(NULL);
    size_t n;

    APPLY(t, { D, "./usr/", NULL }, { D, "./usr/bin", NULL },
          { F, "./usr/bin/python3", "#!python\n" }, { L, "usr/bin/py", "python3" },
          { F, "etc/hostname", "" });
    assert_file(t, "/usr/bin/python3", "#!python\n");
    assert_file(t, "/etc/hostname", "");
    assert_int_equal(cl_fs_lookup(t, "/usr")->type, CL_FS_DIR);
    assert_string_equal(cl_fs_lookup(t, "/usr/bin/py")->target, "python3");
    assert_null(cl_fs_lookup(t, "/usr/bin/python3/"));

    const cl_fs_entry *const *all = cl_fs_entries(t, &n);
    const char *sorted[] = { "/etc/hostname", "/usr", "/usr/bin", "/usr/bin/py",
                             "/usr/bin/python3" };
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(all[i]->path, sorted[i]);
    cl_fs_free(t);
}

static void test_upper_layers_replace(void **state)
{
    (void)state;
    cl_fs_tree *t = cl_fs_new(NULL);

    APPLY(t, { F, "app/config", "old" }, { D, "app/data", NULL }, { F, "app/data/a", "a" },
          { D, "app/keep", NULL }, { F, "app/keep/k", "k" });
    APPLY(t, { F, "app/config", "new" }, { F, "app/data", "now a file" },
          { D, "app/keep", NULL });
    assert_file(t, "/app/config", "new");
    assert_file(t, "/app/data", "now a file");
    assert_null(cl_fs_lookup(t, "/app/data/a"));   /* a file over a directory */
    assert_file(t, "/app/keep/k", "k");            /* a directory over one merges */
    assert_int_equal(cl_fs_lookup(t, "/app/config")->layer, 1);
    cl_fs_free(t);
}

static void test_whiteouts_delete_lower_layers_only(void **state)
{
    (void)state;
    cl_fs_tree *t = cl_fs_new(NULL);

    APPLY(t, { F, "etc/secret", "s" }, { D, "var/cache", NULL }, { F, "var/cache/x", "x" },
          { F, "var/cached", "not under var/cache" });
    APPLY(t, { F, "etc/secret", "again, same layer" }, { F, "etc/.wh.secret", "" },
          { F, "var/.wh.cache", "" });
    assert_file(t, "/etc/secret", "again, same layer");
    assert_null(cl_fs_lookup(t, "/var/cache"));
    assert_null(cl_fs_lookup(t, "/var/cache/x"));
    assert_file(t, "/var/cached", "not under var/cache");
    assert_null(cl_fs_lookup(t, "/etc/.wh.secret"));
    APPLY(t, { F, "etc/.wh.secret", "" });
    assert_null(cl_fs_lookup(t, "/etc/secret"));
    cl_fs_free(t);
}

static void test_opaque_directories(void **state)
{
    (void)state;
    cl_fs_tree *t = cl_fs_new(NULL);

    APPLY(t, { D, "srv", NULL }, { F, "srv/old", "o" }, { D, "srv/sub", NULL },
          { F, "srv/sub/deep", "d" }, { F, "srvx", "sibling" });
    APPLY(t, { D, "srv", NULL }, { F, "srv/new", "n" }, { F, "srv/.wh..wh..opq", "" });
    assert_non_null(cl_fs_lookup(t, "/srv"));
    assert_file(t, "/srv/new", "n");
    assert_null(cl_fs_lookup(t, "/srv/old"));
    assert_null(cl_fs_lookup(t, "/srv/sub/deep"));
    assert_file(t, "/srvx", "sibling");
    cl_fs_free(t);
}

static void test_hard_links(void **state)
{
    (void)state;
    cl_fs_tree *t = cl_fs_new(NULL);
    cl_error err = { 0 };

    APPLY(t, { F, "bin/busybox", "bb" }, { H, "bin/sh", "bin/busybox" });
    assert_file(t, "/bin/sh", "bb");
    const member dangling[] = { { H, "bin/ls", "bin/nothing" } };
    assert_int_equal(cl_fs_apply_memory(t, buf, layer(buf, dangling, 1), &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "/bin/nothing"));
    cl_fs_free(t);
}

static void test_hostile_layers(void **state)
{
    (void)state;
    cl_error err = { 0 };
    cl_fs_tree *t = cl_fs_new(NULL);
    const member escape[] = { { F, "usr/../../etc/passwd", "root" } };

    assert_int_equal(cl_fs_apply_memory(t, buf, layer(buf, escape, 1), &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "leaves the root"));
    /* A tree that saw a failed layer refuses more: its state is partial. */
    const member fine[] = { { F, "a", "a" } };
    assert_int_equal(cl_fs_apply_memory(t, buf, layer(buf, fine, 1), &err), CL_ERROR);
    cl_fs_free(t);

    t = cl_fs_new(NULL);
    assert_int_equal(cl_fs_apply_memory(t, "not a tar archive at all", 24, &err), CL_EINVALID);
    cl_fs_free(t);

    /* A gzip stream cut short. */
    t = cl_fs_new(NULL);
    const member big[] = { { F, "a", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
                           { F, "b", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" } };
    size_t len = layer(buf, big, 2);
    assert_int_equal(cl_fs_apply_memory(t, buf, len / 2, &err), CL_EINVALID);
    cl_fs_free(t);
}

static void test_limits(void **state)
{
    (void)state;
    cl_error err = { 0 };
    cl_fs_limits few = { .max_entries = 2, .max_bytes = 1 << 20 };
    cl_fs_limits small = { .max_entries = 100, .max_bytes = 5 };
    const member three[] = { { F, "a", "a" }, { F, "b", "b" }, { F, "c", "c" } };
    const member bytes[] = { { F, "a", "abc" }, { F, "b", "def" } };

    cl_fs_tree *t = cl_fs_new(&few);
    assert_int_equal(cl_fs_apply_memory(t, buf, layer(buf, three, 3), &err), CL_ETOOBIG);
    cl_fs_free(t);
    t = cl_fs_new(&small);
    assert_int_equal(cl_fs_apply_memory(t, buf, layer(buf, bytes, 2), &err), CL_ETOOBIG);
    cl_fs_free(t);
}

static ssize_t failing_read(void *ctx, const void **data)
{
    int *calls = ctx;

    *data = buf;
    return (*calls)++ == 0 ? 20 : -1;  /* the gzip header, then a failure */
}

static void test_a_failing_source_is_an_error_not_bad_input(void **state)
{
    (void)state;
    cl_error err = { 0 };
    cl_fs_tree *t = cl_fs_new(NULL);
    int calls = 0;
    const member m[] = { { F, "a", "aaaaaaaa" } };

    layer(buf, m, 1);
    assert_int_equal(cl_fs_apply(t, failing_read, &calls, &err), CL_ERROR);
    cl_fs_free(t);
}

static void resolves(cl_fs_tree *t, const char *path, const char *want)
{
    char out[CL_FS_PATH_MAX];
    cl_error err = { 0 };

    if (cl_fs_resolve(t, path, out, &err) < 0)
        fail_msg("%s: %s", path, err.message);
    if (strcmp(out, want) != 0)
        fail_msg("%s resolved to %s, wanted %s", path, out, want);
}

static void test_symlinks_resolve_within_the_image(void **state)
{
    (void)state;
    cl_fs_tree *t = cl_fs_new(NULL);
    char out[CL_FS_PATH_MAX];
    cl_error err = { 0 };

    APPLY(t, { D, "usr/lib", NULL }, { L, "lib", "usr/lib" },
          { F, "usr/lib/libc-2.36.so", "elf" }, { L, "usr/lib/libc.so.6", "libc-2.36.so" },
          { L, "usr/bin/python", "/usr/local/bin/python3.11" },
          { L, "usr/bin/up", "../../../../etc" }, { L, "loop/a", "b" }, { L, "loop/b", "a" });
    resolves(t, "/lib/libc.so.6", "/usr/lib/libc-2.36.so");
    resolves(t, "lib/./libc.so.6", "/usr/lib/libc-2.36.so");
    resolves(t, "/usr/bin/python", "/usr/local/bin/python3.11");
    resolves(t, "/usr/bin/up/passwd", "/etc/passwd");       /* ".." stops at the root */
    resolves(t, "/lib/../bin", "/usr/bin");                   /* after the link, as Linux */
    resolves(t, "/", "/");
    resolves(t, "/missing/file", "/missing/file");
    assert_int_equal(cl_fs_resolve(t, "/loop/a", out, &err), CL_EINVALID);
    assert_non_null(strstr(err.message, "too many symlinks"));
    cl_fs_free(t);
}

static void test_excluded_paths(void **state)
{
    (void)state;
    const char *const ex[] = { "/var", "/proc", NULL };

    assert_true(cl_fs_excluded("/var", ex));
    assert_true(cl_fs_excluded("/var/log/x", ex));
    assert_false(cl_fs_excluded("/variable", ex));
    assert_false(cl_fs_excluded("/usr/var", ex));
    assert_true(cl_fs_excluded("/proc/1", ex));
}

/* What a layer of the members does to path (cl_fs_layer_file), and the
 * bytes when it adds the file. */
static cl_fs_verdict layer_verdict(const char *path, const member *m, size_t n, cl_buf *out)
{
    uint8_t *bytes = malloc(LAYER_MAX);
    cl_mem_source src = { bytes, layer(bytes, m, n) };
    cl_fs_verdict verdict = CL_FS_ADDS;
    cl_error err = { 0 };

    cl_buf_reset(out);
    assert_int_equal(cl_fs_layer_file(cl_mem_read, &src, path, out, &verdict, &err), 0);
    free(bytes);
    return verdict;
}

#define VERDICT(path, out, ...) \
    layer_verdict(path, (const member[]){ __VA_ARGS__ }, \
                  sizeof((const member[]){ __VA_ARGS__ }) / sizeof(member), out)

static void test_one_file_read_top_down(void **state)
{
    cl_buf out;
    (void)state;

    cl_buf_init(&out, 64);
    assert_int_equal(VERDICT("/app/app.sig", &out, { F, "app/app.sgxs", "s" },
                             { F, "app/app.sig", "sig" }), CL_FS_ADDS);
    assert_string_equal(out.data, "sig");
    /* whited out itself, or a directory above it, or below an opaque one */
    assert_int_equal(VERDICT("/app/app.sig", &out, { F, "app/.wh.app.sig", "" }), CL_FS_HIDES);
    assert_int_equal(VERDICT("/app/app.sig", &out, { F, ".wh.app", "" }), CL_FS_HIDES);
    assert_int_equal(VERDICT("/app/app.sig", &out, { F, "app/.wh..wh..opq", "" }),
                     CL_FS_HIDES);
    assert_int_equal(VERDICT("/app/app.sig", &out, { F, ".wh..wh..opq", "" }), CL_FS_HIDES);
    /* a layer's own file stands over its whiteouts; others' names pass */
    assert_int_equal(VERDICT("/app/app.sig", &out, { F, "app/.wh..wh..opq", "" },
                             { F, "app/app.sig", "new" }), CL_FS_ADDS);
    assert_string_equal(out.data, "new");
    assert_int_equal(VERDICT("/app/app.sig", &out, { F, "app/.wh.app.sigx", "" },
                             { F, ".wh.ap", "" }, { F, "app/app.sig2", "x" },
                             { F, "apps/.wh..wh..opq", "" }), CL_FS_PASSES);
    assert_int_equal(VERDICT("/app", &out, { F, "app/.wh..wh..opq", "" }), CL_FS_PASSES);
    cl_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_file_read_top_down),
        cmocka_unit_test(test_files_dirs_and_links),
        cmocka_unit_test(test_upper_layers_replace),
        cmocka_unit_test(test_whiteouts_delete_lower_layers_only),
        cmocka_unit_test(test_opaque_directories),
        cmocka_unit_test(test_hard_links),
        cmocka_unit_test(test_hostile_layers),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_a_failing_source_is_an_error_not_bad_input),
        cmocka_unit_test(test_symlinks_resolve_within_the_image),
        cmocka_unit_test(test_excluded_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
