/*
 * fuzz_toml.c - the TOML reader (lib/toml.c): runtime manifests and
 * configuration files written by people; what it accepts is emitted again
 * and read back, which must give the same document (toml.h promises it).
 */
#include "buf.h"
#include "error.h"
#include "toml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_error err = { 0 };
    json_t *doc = NULL, *again = NULL;
    cl_buf out;

    if (size > CL_TOML_MAX)
        return 0;
    if (cl_toml_parse(&doc, (const char *)data, size, &err) == 0) {
        cl_buf_init(&out, CL_TOML_MAX);
        if (cl_toml_emit(doc, &out, &err) == 0) {
            cl_error_clear(&err);
            if (cl_toml_parse(&again, out.data, out.len, &err) != 0) {
                fprintf(stderr, "emitted TOML does not read back: %s\n%.*s\n", err.message,
                        (int)out.len, out.data);
                abort();
            }
            if (!json_equal(doc, again)) {
                fprintf(stderr, "emitted TOML reads back different:\n%.*s\n", (int)out.len,
                        out.data);
                abort();
            }
            json_decref(again);
        }
        cl_buf_free(&out);
        json_decref(doc);
    }
    cl_error_clear(&err);
    return 0;
}
