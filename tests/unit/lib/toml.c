/* Tests for lib/toml.c: a real Gramine manifest, the corners of the subset,
 * and everything outside it refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml.h"

static json_t *parse(const char *text)
{
    json_t *doc;
    cl_error err = { 0 };

    if (cl_toml_parse(&doc, text, strlen(text), &err) < 0)
        fail_msg("refused: %s", err.message);
    return doc;
}

static void refuse(const char *text, const char *fragment)
{
    json_t *doc;
    cl_error err = { 0 };

    assert_int_equal(cl_toml_parse(&doc, text, strlen(text), &err), CL_EINVALID);
    assert_null(doc);
    if (strstr(err.message, fragment) == NULL)
        fail_msg("\"%s\" does not mention \"%s\"", err.message, fragment);
}

static void test_gramine_manifest(void **state)
{
    char path[512], text[4096];
    FILE *f;
    size_t n;
    json_t *doc;
    cl_error err = { 0 };
    (void)state;

    snprintf(path, sizeof(path), "%s/gramine/case-dev.manifest.sgx", CL_TEST_DATA);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(text, 1, sizeof(text), f);
    fclose(f);
    assert_int_equal(cl_toml_parse(&doc, text, n, &err), 0);
    assert_string_equal(json_string_value(cl_toml_get(doc, "sgx.enclave_size")), "512M");
    assert_int_equal(json_integer_value(cl_toml_get(doc, "sgx.max_threads")), 2);
    assert_true(json_is_true(cl_toml_get(doc, "sgx.debug")));
    assert_string_equal(json_string_value(cl_toml_get(doc, "loader.env.PATH")),
                        "/usr/local/bin:/usr/bin:/bin");
    json_t *files = cl_toml_get(doc, "sgx.trusted_files");
    assert_int_equal(json_array_size(files), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(files, 1), "uri")),
                        "file:/gramine/app_files/trusted_argv");
    json_decref(doc);
}

static void test_subset(void **state)
{
    json_t *doc = parse("# a comment\n"
                        "a = 1_000 # trailing\n"
                        "b.c = 'lit\\eral'\n"
                        "\"quoted key\" = \"tab\\tq\\\"\\u00e9\"\n"
                        "[t.u]\n"
                        "x = [ 1,\n  2, # inside\n  3, ]\n"
                        "y = { k = true, \"l\" = { m = -5 } }\n");
    (void)state;

    assert_int_equal(json_integer_value(cl_toml_get(doc, "a")), 1000);
    assert_string_equal(json_string_value(cl_toml_get(doc, "b.c")), "lit\\eral");
    assert_string_equal(json_string_value(json_object_get(doc, "quoted key")), "tab\tq\"\xc3\xa9");
    assert_int_equal(json_array_size(cl_toml_get(doc, "t.u.x")), 3);
    assert_int_equal(json_integer_value(cl_toml_get(doc, "t.u.y.l.m")), -5);
    assert_true(json_is_true(cl_toml_get(doc, "t.u.y.k")));
    json_decref(doc);
}

static void test_refused(void **state)
{
    char deep[200];
    (void)state;

    refuse("a = 1.5\n", "only strings, integers");
    refuse("a = 1979-05-27\n", "only strings, integers");
    refuse("a = 1\na = 2\n", "defined twice");
    refuse("a = \"open\n", "end on its line");
    refuse("a = \"\"\"multi\n\"\"\"\n", "multi-line");
    refuse("[[arr]]\n", "arrays of tables");
    refuse("a = 1 b = 2\n", "one key = value");
    refuse("a = [1 2]\n", "separated by commas");
    refuse("a = \"\\q\"\n", "unknown escape");
    refuse("a = 1\n[a]\n", "already a value");
    refuse("= 1\n", "a key is expected");
    refuse("a = 99999999999999999999\n", "out of range");
    memset(deep, '[', 40);
    memcpy(deep + 40, "1", 2);     /* not reached: refused first */
    char text[256];
    snprintf(text, sizeof(text), "a = %s\n", deep);
    refuse(text, "nested too deeply");
}

static char *emit(json_t *doc);

/* Dotted keys and table headers nest as deep as values may and no deeper,
 * wherever they are: what is read can always be written back (the
 * fuzzer found an inline table in an array nesting past the bound). */
static void test_dotted_keys_nest_within_the_bound(void **state)
{
    char key[200], text[512];
    size_t n = 0;
    (void)state;

    for (int i = 0; i < CL_TOML_MAX_DEPTH; i++)
        n += (size_t)snprintf(key + n, sizeof(key) - n, "%s", i ? ".k" : "k");
    snprintf(text, sizeof(text), "%s = 1\n", key);         /* 32 deep: read, written back */
    json_t *doc = parse(text);
    char *again = emit(doc);
    json_t *back = parse(again);
    assert_true(json_equal(doc, back));
    json_decref(doc);
    json_decref(back);
    free(again);
    snprintf(text, sizeof(text), "%s.k = 1\n", key);       /* 33 */
    refuse(text, "nested too deeply");
    snprintf(text, sizeof(text), "[%s.k]\n", key);
    refuse(text, "nested too deeply");
    snprintf(text, sizeof(text), "[%s]\nk = 1\n", key);   /* a value under a 32-deep table */
    refuse(text, "nested too deeply");
    snprintf(text, sizeof(text), "a = [{ %s = 1 }]\n", key);
    refuse(text, "nested too deeply");
}

static char *emit(json_t *doc)
{
    cl_buf b;
    cl_error err = { 0 };

    cl_buf_init(&b, 1 << 20);
    if (cl_toml_emit(doc, &b, &err) < 0)
        fail_msg("emit: %s", err.message);
    return cl_buf_take(&b, NULL);
}

static void test_emit_exact_bytes(void **state)
{
    (void)state;
    json_t *doc = json_pack(
        "{s:{s:s, s:s}, s:{s:s, s:b, s:I, s:[{s:s, s:s}], s:{s:[]}}, s:{s:s}}",
        "loader", "entrypoint", "file:/gramine/libsysdb.so", "argv_src_file", "file:/args",
        "sgx", "enclave_size", "512M", "debug", 1, "isvprodid", (json_int_t)5,
        "trusted_files", "uri", "file:/app/x", "sha256", "ab", "quoted.keys", "list",
        "loader.env", "PATH", "/usr/bin:/bin");
    char *text = emit(doc);
    assert_string_equal(text,
                        "[loader]\n"
                        "argv_src_file = \"file:/args\"\n"
                        "entrypoint = \"file:/gramine/libsysdb.so\"\n"
                        "\n[\"loader.env\"]\n"
                        "PATH = \"/usr/bin:/bin\"\n"
                        "\n[sgx]\n"
                        "debug = true\n"
                        "enclave_size = \"512M\"\n"
                        "isvprodid = 5\n"
                        "trusted_files = [\n  { sha256 = \"ab\", uri = \"file:/app/x\" },\n]\n"
                        "\n[sgx.\"quoted.keys\"]\n"
                        "list = []\n");
    free(text);
    json_decref(doc);
}

/* Whatever is emitted reads back as the same document, and emitting that
 * gives the same bytes: strings with every kind of escape, keys that need
 * quotes, deep nesting, arrays of arrays. */
static void test_emit_round_trip(void **state)
{
    (void)state;
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:[i, i, [s, b]], s:{s:{s:{s:i}}}}, s:{}, s:[{s:{s:s}}]}",
        "title", "quote \" back\\slash \n\t tab \x01 ctl \x7f del é ☃",
        "a b", "=", "x = 1 # not a comment", "nums", 1, -2, "in", 0,
        "deep", "er", "est", "v", 9223372036854775807LL, "empty", "objs", "k", "l", "m");
    char *text = emit(doc);
    json_t *back = parse(text);
    if (!json_equal(doc, back))
        fail_msg("round trip changed the document:\n%s", text);
    char *again = emit(back);
    assert_string_equal(text, again);
    free(text);
    free(again);
    json_decref(doc);
    json_decref(back);
}

static void test_emit_refuses(void **state)
{
    (void)state;
    cl_buf b;
    cl_error err = { 0 };
    json_t *docs[] = { json_pack("{s:n}", "a"), json_pack("{s:f}", "a", 1.5),
                       json_pack("[i]", 1) };

    cl_buf_init(&b, 1 << 20);
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        assert_int_equal(cl_toml_emit(docs[i], &b, &err), CL_EINVALID);
        cl_error_clear(&err);
        json_decref(docs[i]);
    }
    cl_buf_free(&b);

    json_t *big = json_pack("{s:s}", "k", "a rather longer string than the bound allows");
    cl_buf_init(&b, 16);
    assert_int_equal(cl_toml_emit(big, &b, &err), CL_ETOOBIG);
    cl_buf_free(&b);
    json_decref(big);
    cl_error_clear(&err);

    /* tables whose header would pass CL_TOML_KEY_PATH_MAX: refused, not
     * written past the path's end (the fuzzer's find) */
    char key[1200];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    json_t *deep = json_pack("{s:{s:{s:{s:{s:b}}}}}", key, key, key, key, "v", 1);
    cl_buf_init(&b, 1 << 20);
    assert_int_equal(cl_toml_emit(deep, &b, &err), CL_ETOOBIG);
    cl_error_clear(&err);
    cl_buf_free(&b);
    json_decref(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gramine_manifest),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_dotted_keys_nest_within_the_bound),
        cmocka_unit_test(test_emit_exact_bytes),
        cmocka_unit_test(test_emit_round_trip),
        cmocka_unit_test(test_emit_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
