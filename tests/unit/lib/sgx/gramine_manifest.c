/* Tests for lib/sgx/gramine_manifest.c: Docker's command-line rules, the
 * entrypoint found as execvp finds it, and a manifest whose trusted files
 * are exactly the image's regular files outside the excluded paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../layer.h"
#include "digest.h"
#include "sgx/gramine_manifest.h"
#include "toml.h"

#define PKG "/usr/lib/x86_64-linux-gnu/gramine"

static const char *const excluded[] = { "/boot", "/dev", "/proc", "/sys", "/var", "/tmp",
                                        "/run", NULL };
static const cl_gramine_runtime rt = { PKG, "/gramine/app/argv", excluded };

static json_t *argv_of(const char *image, const char *app)
{
    json_t *i = json_loads(image, 0, NULL), *a = json_loads(app, 0, NULL), *argv = NULL;
    cl_error err = { 0 };

    if (cl_gramine_argv(i, a, &argv, &err) < 0)
        argv = json_pack("{s:s}", "error", err.message);
    json_decref(i);
    json_decref(a);
    return argv;
}

static void expect_argv(const char *image, const char *app, const char *want)
{
    json_t *argv = argv_of(image, app), *w = json_loads(want, 0, NULL);

    if (!json_equal(argv, w)) {
        char *got = json_dumps(argv, 0);
        fail_msg("image %s, app %s: got %s, wanted %s", image, app, got, want);
    }
    json_decref(argv);
    json_decref(w);
}

static void test_docker_command_line_rules(void **state)
{
    (void)state;
    const char *image = "{\"entrypoint\": [\"/init\"], \"cmd\": [\"serve\", \"-v\"]}";

    expect_argv(image, "{}", "[\"/init\", \"serve\", \"-v\"]");
    expect_argv(image, "{\"args\": [\"check\"]}", "[\"/init\", \"check\"]");
    expect_argv(image, "{\"entrypoint\": [\"python3\"]}", "[\"python3\"]");
    expect_argv(image, "{\"entrypoint\": [\"python3\"], \"args\": [\"a.py\"]}",
                "[\"python3\", \"a.py\"]");
    expect_argv("{\"cmd\": [\"redis-server\"]}", "{\"entrypoint\": null}", "[\"redis-server\"]");
    expect_argv("{\"entrypoint\": null, \"cmd\": null}", "{}",
                "{\"error\": \"the image has no entrypoint or command, and the app sets none\"}");
    expect_argv("{\"cmd\": [1]}", "{}",
                "{\"error\": \"the entrypoint and command must be lists of strings\"}");
}

static void test_argv_file_is_nul_terminated_arguments(void **state)
{
    (void)state;
    json_t *argv = json_pack("[s, s, s]", "python3", "-c", "print('a b')");
    cl_buf b;

    cl_buf_init(&b, 1024);
    assert_int_equal(cl_gramine_argv_file(argv, &b), 0);
    assert_int_equal(b.len, 8 + 3 + 13);
    assert_memory_equal(b.data, "python3\0-c\0print('a b')\0", b.len);
    cl_buf_free(&b);
    json_decref(argv);
}

static cl_fs_tree *image_tree(void)
{
    cl_fs_tree *t = cl_fs_new(NULL);

    APPLY(t, { D, "usr/bin", NULL }, { L, "bin", "usr/bin" },
          { X, "usr/bin/python3.11", "python" }, { L, "usr/bin/python3", "python3.11" },
          { F, "usr/bin/not-executable", "x" }, { F, "app/main.py", "print(1)\n" },
          { F, "var/log/old.log", "excluded" }, { F, "data/state.db", "encrypted" },
          { F, "etc/passwd", "root:x:0:0\n" }, { F, "proc/cpuinfo", "no" });
    APPLY(t, { F, PKG "/libsysdb.so", "libos" }, { F, PKG "/sgx/libpal.so", "pal" },
          { F, PKG "/runtime/glibc/libc.so.6", "glibc" });
    APPLY(t, { F, "gramine/app/argv", "python3\0" });
    return t;
}

static json_t *manifest(cl_fs_tree *t, const char *image, const char *app, cl_error *err)
{
    json_t *i = json_loads(image, 0, NULL), *a = json_loads(app, 0, NULL), *argv = NULL;
    json_t *m = NULL;

    if (cl_gramine_argv(i, a, &argv, err) == 0)
        cl_gramine_manifest(&m, i, a, argv, t, &rt, err);
    json_decref(argv);
    json_decref(i);
    json_decref(a);
    return m;
}

#define APP \
    "{\"enclave_size\": 536870912, \"max_threads\": 8, \"isvprodid\": 5, \"isvsvn\": 2, " \
    "\"debug\": false, \"env\": {\"MODE\": \"prod\"}, \"encrypted_paths\": [\"/data\"], " \
    "\"writable_paths\": [\"/app/cache\"]"

static void test_manifest(void **state)
{
    (void)state;
    cl_fs_tree *t = image_tree();
    cl_error err = { 0 };
    json_t *m = manifest(t,
        "{\"cmd\": [\"python3\", \"main.py\"], \"working_dir\": \"/app\", "
        "\"env\": [\"PATH=/usr/local/bin:/bin\", \"MODE=dev\", \"LANG=C.UTF-8\"]}",
        APP "}", &err);
    char hex[65];

    if (m == NULL)
        fail_msg("%s", err.message);
    /* python3 found along PATH, through /bin -> usr/bin and python3 -> python3.11 */
    assert_string_equal(json_string_value(cl_toml_get(m, "libos.entrypoint")),
                        "/usr/bin/python3.11");
    assert_string_equal(json_string_value(cl_toml_get(m, "loader.entrypoint.uri")),
                        "file:" PKG "/libsysdb.so");
    cl_sha256_hex(hex, "libos", 5);
    assert_string_equal(json_string_value(cl_toml_get(m, "loader.entrypoint.sha256")), hex);
    assert_string_equal(json_string_value(cl_toml_get(m, "loader.argv_src_file")),
                        "file:/gramine/app/argv");
    assert_string_equal(json_string_value(cl_toml_get(m, "loader.env.MODE")), "prod");
    assert_string_equal(json_string_value(cl_toml_get(m, "loader.env.LANG")), "C.UTF-8");
    assert_string_equal(json_string_value(cl_toml_get(m, "loader.env.LD_LIBRARY_PATH")),
                        "/lib:/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu");
    assert_string_equal(json_string_value(cl_toml_get(m, "fs.start_dir")), "/app");
    assert_string_equal(json_string_value(cl_toml_get(m, "sgx.enclave_size")), "512M");
    assert_int_equal(json_integer_value(cl_toml_get(m, "sgx.max_threads")), 8);
    assert_string_equal(json_string_value(cl_toml_get(m, "sgx.remote_attestation")), "dcap");
    assert_true(json_is_false(cl_toml_get(m, "sgx.debug")));

    json_t *mounts = cl_toml_get(m, "fs.mounts");
    assert_int_equal(json_array_size(mounts), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 0), "uri")),
                        "file:" PKG "/runtime/glibc");
    assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 3), "type")),
                        "tmpfs");
    assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 4), "type")),
                        "encrypted");

    /* Trusted: every regular file, sorted, except the excluded system paths
     * and what the encrypted and writable mounts cover. */
    const char *want[] = { "/app/main.py", "/etc/passwd", "/gramine/app/argv",
                           "/usr/bin/not-executable", "/usr/bin/python3.11",
                           PKG "/libsysdb.so", PKG "/runtime/glibc/libc.so.6",
                           PKG "/sgx/libpal.so" };
    json_t *trusted = cl_toml_get(m, "sgx.trusted_files");
    assert_int_equal(json_array_size(trusted), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < json_array_size(trusted); i++) {
        const char *uri = json_string_value(json_object_get(json_array_get(trusted, i), "uri"));
        assert_string_equal(uri + 5, want[i]);
        assert_non_null(cl_fs_lookup(t, want[i]));
        cl_hex(hex, cl_fs_lookup(t, want[i])->sha256, 32);
        assert_string_equal(json_string_value(json_object_get(json_array_get(trusted, i),
                                                              "sha256")), hex);
    }

    /* And it survives TOML: emitted, read back, the same document. */
    cl_buf b;
    json_t *back = NULL;
    cl_buf_init(&b, 1 << 20);
    assert_int_equal(cl_toml_emit(m, &b, &err), 0);
    assert_int_equal(cl_toml_parse(&back, b.data, b.len, &err), 0);
    assert_true(json_equal(m, back));
    cl_buf_free(&b);
    json_decref(back);
    json_decref(m);
    cl_fs_free(t);
}

static void expect_refused(const char *image, const char *app, const char *fragment)
{
    cl_fs_tree *t = image_tree();
    cl_error err = { 0 };
    json_t *m = manifest(t, image, app, &err);

    assert_null(m);
    assert_int_equal(err.code, CL_EINVALID);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("\"%s\" does not mention \"%s\"", err.message, fragment);
    cl_fs_free(t);
}

static void test_entrypoints_that_cannot_run(void **state)
{
    (void)state;
    expect_refused("{\"cmd\": [\"node\"]}", APP "}", "\"node\" is not an executable");
    expect_refused("{\"cmd\": [\"/usr/bin/not-executable\"]}", APP "}", "not an executable");
    expect_refused("{\"cmd\": [\"/usr/bin\"]}", APP "}", "not an executable");
    expect_refused("{\"cmd\": [\"main.py\"], \"working_dir\": \"/app\"}", APP "}",
                   "not an executable");   /* no slash: PATH only, as execvp */
    expect_refused("{\"cmd\": [\"python3\"]}", "{\"max_threads\": 8}", "enclave settings");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker_command_line_rules),
        cmocka_unit_test(test_argv_file_is_nul_terminated_arguments),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_entrypoints_that_cannot_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
