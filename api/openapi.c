/*
 * openapi.c - GET /v1/openapi.yaml: the API contract, compiled into the
 * binary from api/openapi.yaml so that the document served always belongs to
 * the code serving it.
 */
#include "daemon.h"

static int openapi_get(cl_req *r, json_t **out)
{
    (void)out;
    cl_req_set_header(r, "Cache-Control", "no-cache");
    cl_req_send(r, "application/yaml", cl_openapi_yaml, cl_openapi_yaml_len);
    return 0;
}

const cl_route cl_openapi_routes[] = {
    { "GET", "/v1/openapi.yaml", openapi_get, CL_PUBLIC },
    { NULL, NULL, NULL, 0 },
};
