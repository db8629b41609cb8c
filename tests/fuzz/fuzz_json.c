/*
 * fuzz_json.c - request bodies: every JSON body the daemon accepts goes
 * through cl_json_parse (daemon/http.c) with the configured depth bound
 * (max-json-depth, 32 by default) before a handler sees it; then what
 * handlers do with it that does not need a request: the canonical form
 * (ETags, signatures over documents) and the depth counter on its own.
 */
#include "error.h"
#include "json.h"

#include <stdint.h>
#include <stdlib.h>

#define BODY_MAX (1024 * 1024)     /* max-body-size's default */
#define DEPTH_MAX 32               /* max-json-depth's default */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cl_error err = { 0 };
    json_t *doc = NULL;

    if (size > BODY_MAX)
        return 0;
    (void)cl_json_depth((const char *)data, size, DEPTH_MAX);
    if (cl_json_parse(&doc, (const char *)data, size, DEPTH_MAX, &err) == 0) {
        free(cl_json_canonical(doc));
        json_decref(doc);
    }
    cl_error_clear(&err);
    return 0;
}
