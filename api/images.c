/*
 * images.c - POST /v1/images/inspect: what is in an image, before an app
 * is made from it.  Queues an image.inspect job (202); its result has the
 * digest the reference resolves to, the platform, size, entrypoint, cmd,
 * env, working directory and exposed ports.
 */
#include "daemon.h"
#include "jobs.h"
#include "oci_ref.h"
#include "resource.h"

#include <string.h>

static int images_inspect(cl_req *r, json_t **out)
{
    static const char *const fields[] = { "reference", "registry_id", NULL };
    const char *reference, *registry;
    cl_oci_ref ref;
    cl_error why = { 0 };
    json_t *job;
    PGresult *res;
    cl_pg *db;
    int rc;

    cl_body_only(r, fields);
    reference = cl_body_string(r, "reference", 1, CL_OCI_REF_MAX);
    registry = cl_body_string(r, "registry_id", 0, 36);
    if (reference != NULL && cl_oci_ref_parse(&ref, reference, &why) < 0)
        cl_error_field(cl_req_err(r), "reference", "%s", why.message);
    cl_error_clear(&why);
    if (registry != NULL && !cl_uuid_valid(registry))
        cl_error_field(cl_req_err(r), "registry_id", "must be the id of one of the account's "
                       "registries");
    if ((rc = cl_body_done(r)) < 0 || (rc = cl_req_begin(r, &db)) < 0)
        return rc;
    if (registry != NULL) {
        const char *params[2] = { registry, cl_req_principal(r)->account_id };

        if ((rc = cl_req_exec(r, db, &res, "SELECT host FROM registries WHERE id = $1 AND "
                              "account_id = $2", 2, params)) < 0)
            return rc;
        if (PQntuples(res) != 1)
            return cl_error_field(cl_req_err(r), "registry_id", "must be the id of one of the "
                                  "account's registries");
        if (strcmp(PQgetvalue(res, 0, 0), ref.registry) != 0)
            return cl_error_field(cl_req_err(r), "reference", "names registry \"%s\", but the "
                                  "registry given is \"%s\"", ref.registry,
                                  PQgetvalue(res, 0, 0));
    }
    if ((rc = cl_job_enqueue(r, db, "image.inspect",
                             cl_arena_printf(cl_req_arena(r), "image:%s", reference),
                             json_pack("{s:s, s:s?}", "reference", reference,
                                       "registry_id", registry), 3, &job)) < 0)
        return rc;
    if ((rc = cl_req_commit(r, db)) < 0) {
        json_decref(job);
        return rc;
    }
    return cl_job_accepted(r, job, out);
}

const cl_route cl_images_routes[] = {
    { "POST", "/v1/images/inspect", images_inspect, CL_ROLE_WRITE | CL_JSON_BODY },
    { NULL, NULL, NULL, 0 },
};
