/*
 * oci.h - a client for the OCI Distribution API (registries), over libcurl.
 *
 * Authentication follows the registry's lead, as docker and skopeo do: a
 * request goes out anonymously (or with a token already held); a 401 names
 * the scheme in WWW-Authenticate:
 *
 *   Basic realm="..."                       the credentials go with the retry;
 *   Bearer realm="URL",service="S",scope="" a token is fetched from URL
 *                                           (with the credentials, if any),
 *                                           kept until it expires, and sent.
 *
 * Every answer is bounded in size; 429 and 5xx are retried with backoff.
 */
#ifndef CL_OCI_H
#define CL_OCI_H

#include "error.h"
#include "http_client.h"

#include <jansson.h>
#include <time.h>

typedef struct cl_oci_client {
    char base[300];           /* "https://registry.example.com:5000" */
    char *username;
    char *password;
    char *token;              /* a Bearer token, once fetched */
    time_t token_expires;
    int basic;                /* the registry asked for Basic */
    cl_http_options http;
    int max_retries;
    size_t chunk_size;        /* uploads above it go in PATCH chunks of it */
} cl_oci_client;

int cl_oci_client_init(cl_oci_client *c, const char *host, int tls, const char *username,
                       const char *password, cl_error *err);
void cl_oci_client_free(cl_oci_client *c);

/* One answer from the registry (any status but 401/403, which are errors). */
typedef struct cl_oci_answer {
    long status;
    char *body;               /* malloc'd; NULL when empty */
    size_t body_len;
    char content_type[256];
    char digest[136];         /* Docker-Content-Digest, when sent */
    char api_version[64];
    char location[4096];      /* Location, for uploads */
    char range[64];           /* Range: what an upload holds so far */
} cl_oci_answer;

/* One request to the registry.  path is "/v2/..." or an absolute URL the
 * registry gave (an upload's Location); body may be NULL. */
typedef struct cl_oci_call {
    const char *method;
    const char *path;
    const char *accept;
    const char *content_type;
    const char *content_range;
    const char *body;
    size_t body_len;
    size_t max;               /* bound on the answer's body; 0: the client's */
} cl_oci_call;

/* Send call with the authentication dance and retries on 429/5xx (and on
 * transport failures); *out gets any status but 401/403, which are
 * CL_EUNAUTHORIZED. */
int cl_oci_send(cl_oci_client *c, const cl_oci_call *call, cl_oci_answer *out, cl_error *err);

/* cl_oci_send of a GET. */
int cl_oci_get(cl_oci_client *c, const char *path, const char *accept, size_t max,
               cl_oci_answer *out, cl_error *err);
void cl_oci_answer_free(cl_oci_answer *a);

/* The Authorization header line the client holds now into out (empty when
 * none); 1 when there is one.  out holds a secret: clear it after use. */
int cl_oci_auth_header(cl_oci_client *c, char *out, size_t size);

/* base + path, or path when it is an absolute URL. */
int cl_oci_url(const cl_oci_client *c, const char *path, char *out, size_t size,
               cl_error *err);

/*
 * GET /v2/: the registry answers and accepts our credentials.  *info
 * (new reference) says how: {"auth": "none"|"basic"|"bearer",
 * "api_version": "registry/2.0"}.  CL_EUNAUTHORIZED when the credentials
 * are refused (or needed and missing), CL_EUNAVAILABLE when the registry
 * cannot be reached or keeps failing.
 */
int cl_oci_ping(cl_oci_client *c, json_t **info, cl_error *err);

/*
 * Resolve reference (tag or digest) to its linux/amd64 image and read it
 * (lib/oci_image.c): *out (new reference) has reference, digest,
 * media_type, platform, size, layers, entrypoint, cmd, env, working_dir and
 * exposed_ports.  CL_ENOTFOUND for an unknown image, CL_EINVALID for bytes
 * that do not match their digest or documents over their bounds.
 */
int cl_oci_inspect(cl_oci_client *c, const char *reference, json_t **out, cl_error *err);

/*
 * The image a reference resolves to (its linux/amd64 variant), read and
 * verified as for cl_oci_inspect: the manifest and config documents (owned;
 * cl_oci_image_free releases them) and where they came from.
 */
typedef struct cl_oci_image {
    char registry[256];
    char repository[256];
    char digest[72];          /* of the manifest */
    char media_type[256];
    char config_digest[72];
    json_t *manifest;
    json_t *config;
} cl_oci_image;

int cl_oci_image_fetch(cl_oci_client *c, const char *reference, cl_oci_image *out,
                       cl_error *err);
void cl_oci_image_free(cl_oci_image *img);

/* The pieces of cl_oci_image_fetch that read what the registry sent (for
 * the fuzz tests too).  A manifest body (at most 4 MiB) as a JSON object,
 * its media type from its "mediaType" or else the Content-Type; the
 * linux/amd64 digest of an index (NULL: none; borrowed); the config digest
 * of a manifest with a layers array (NULL: not a sha256 one; borrowed). */
int cl_oci_manifest_parse(json_t **doc, char media[256], const char *body, size_t len,
                          const char *content_type, cl_error *err);
int cl_oci_manifest_is_index(const char *media, json_t *doc);
const char *cl_oci_index_pick(json_t *index);
const char *cl_oci_manifest_config(json_t *manifest);

/* Parse a WWW-Authenticate value: the scheme ("Basic", "Bearer") into
 * scheme and its parameters into a new object; CL_EINVALID if malformed. */
int cl_oci_parse_challenge(const char *header, char scheme[16], json_t **params);

#endif
