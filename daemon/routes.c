/*
 * routes.c - the daemon's routes: one table per api/<resource>.c, joined
 * here.  A new resource adds its table to this list and nothing else.
 */
#include "router.h"

extern const cl_route cl_health_routes[];
extern const cl_route cl_openapi_routes[];
extern const cl_route cl_session_routes[];
extern const cl_route cl_accounts_routes[];
extern const cl_route cl_api_keys_routes[];
extern const cl_route cl_audit_routes[];
extern const cl_route cl_jobs_routes[];
extern const cl_route cl_apps_routes[];
extern const cl_route cl_registries_routes[];
extern const cl_route cl_images_routes[];
extern const cl_route cl_tasks_routes[];
extern const cl_route cl_builds_routes[];
extern const cl_route cl_signing_keys_routes[];
extern const cl_route cl_collateral_routes[];
extern const cl_route cl_attestation_routes[];
extern const cl_route cl_node_tokens_routes[];
extern const cl_route cl_nodes_routes[];
extern const cl_route cl_secrets_routes[];
extern const cl_route cl_enclaves_routes[];
extern const cl_route cl_certificates_routes[];
extern const cl_route cl_clusters_routes[];
extern const cl_route cl_deployments_routes[];
extern const cl_route cl_pki_routes[];

const cl_route *const cl_route_tables[] = {
    cl_health_routes,
    cl_openapi_routes,
    cl_session_routes,
    cl_accounts_routes,
    cl_api_keys_routes,
    cl_audit_routes,
    cl_jobs_routes,
    cl_apps_routes,
    cl_registries_routes,
    cl_images_routes,
    cl_tasks_routes,
    cl_builds_routes,
    cl_signing_keys_routes,
    cl_collateral_routes,
    cl_attestation_routes,
    cl_node_tokens_routes,
    cl_nodes_routes,
    cl_secrets_routes,
    cl_enclaves_routes,
    cl_certificates_routes,
    cl_clusters_routes,
    cl_deployments_routes,
    cl_pki_routes,
    NULL,
};
