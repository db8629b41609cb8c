/*
 * oci_image.c - resolving an image reference to its manifest and config.
 *
 *   1. GET /v2/<repo>/manifests/<tag or digest>, accepting the four
 *      manifest types (OCI index and manifest, Docker manifest list and
 *      schema 2); the body is bounded, and its SHA-256 must equal the
 *      digest asked for, and the Docker-Content-Digest the registry sent.
 *   2. An index or list: choose the linux/amd64 entry and fetch that
 *      manifest by its digest, verified the same way.
 *   3. GET the config blob named by the manifest, verified against its
 *      digest, and read what a person needs to know: entrypoint, cmd, env,
 *      working directory, exposed ports, platform; the size is the config's
 *      and the layers' sizes added up.
 */
#include "oci.h"
#include "digest.h"
#include "oci_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX (4 * 1024 * 1024)
#define CONFIG_MAX (8 * 1024 * 1024)

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define ACCEPT OCI_INDEX ", " OCI_MANIFEST ", " DOCKER_LIST ", " DOCKER_MANIFEST

/* The sha256 digest of bytes, "sha256:<hex>". */
static void digest_of(char out[72], const char *bytes, size_t len)
{
    char hex[CL_SHA256_HEX_LEN + 1];

    cl_sha256_hex(hex, bytes, len);
    snprintf(out, 72, "sha256:%s", hex);
}

/* GET a manifest and verify it; *doc and the media type and digest out. */
static int get_manifest(cl_oci_client *c, const char *repo, const char *reference,
                        json_t **doc, char media[256], char digest[72], cl_error *err)
{
    char path[700];
    cl_oci_answer a;
    int rc;

    *doc = NULL;
    snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, reference);
    if ((rc = cl_oci_get(c, path, ACCEPT, MANIFEST_MAX, &a, err)) < 0) {
        if (rc == CL_ETOOBIG)
            cl_error_set(err, CL_EINVALID, "the manifest of %s:%s is larger than %d bytes",
                         repo, reference, MANIFEST_MAX);
        return rc == CL_ETOOBIG ? CL_EINVALID : rc;
    }
    if (a.status == 404) {
        cl_oci_answer_free(&a);
        return cl_error_set(err, CL_ENOTFOUND, "the registry has no image %s:%s", repo,
                            reference);
    }
    if (a.status != 200 || a.body == NULL) {
        long status = a.status;
        cl_oci_answer_free(&a);
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry answered %ld for the manifest "
                            "of %s:%s", status, repo, reference);
    }
    digest_of(digest, a.body, a.body_len);
    if ((strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, digest) != 0) ||
        (a.digest[0] != '\0' && strcmp(a.digest, digest) != 0)) {
        cl_error_set(err, CL_EINVALID, "the manifest of %s:%s does not match its digest: the "
                     "registry said %s, the bytes are %s", repo, reference,
                     a.digest[0] ? a.digest : reference, digest);
        cl_oci_answer_free(&a);
        return CL_EINVALID;
    }
    rc = cl_oci_manifest_parse(doc, media, a.body, a.body_len, a.content_type, err);
    cl_oci_answer_free(&a);
    if (rc < 0)
        cl_error_prefix(err, "the manifest of %s:%s ", repo, reference);
    return rc;
}

int cl_oci_manifest_parse(json_t **doc, char media[256], const char *body, size_t len,
                          const char *content_type, cl_error *err)
{
    json_error_t jerr;

    if (len > MANIFEST_MAX)
        return cl_error_set(err, CL_EINVALID, "is larger than %d bytes", MANIFEST_MAX);
    *doc = json_loadb(body, len, 0, &jerr);
    snprintf(media, 256, "%.*s", (int)strcspn(content_type, ";"), content_type);
    if (!json_is_object(*doc)) {
        json_decref(*doc);
        *doc = NULL;
        return cl_error_set(err, CL_EINVALID, "is not JSON: %s", jerr.text);
    }
    const char *declared = json_string_value(json_object_get(*doc, "mediaType"));
    if (declared != NULL)
        snprintf(media, 256, "%s", declared);
    return 0;
}

int cl_oci_manifest_is_index(const char *media, json_t *doc)
{
    return strcmp(media, OCI_INDEX) == 0 || strcmp(media, DOCKER_LIST) == 0 ||
           (media[0] == '\0' && json_is_array(json_object_get(doc, "manifests")));
}

const char *cl_oci_index_pick(json_t *index)
{
    size_t i;
    json_t *m;

    json_array_foreach(json_object_get(index, "manifests"), i, m) {
        json_t *p = json_object_get(m, "platform");
        const char *os = json_string_value(json_object_get(p, "os"));
        const char *arch = json_string_value(json_object_get(p, "architecture"));

        if (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, "amd64") == 0)
            return json_string_value(json_object_get(m, "digest"));
    }
    return NULL;
}

const char *cl_oci_manifest_config(json_t *manifest)
{
    const char *cfg = json_string_value(json_object_get(json_object_get(manifest, "config"),
                                                        "digest"));

    if (cfg == NULL || strlen(cfg) != 71 || strncmp(cfg, "sha256:", 7) != 0 ||
        !json_is_array(json_object_get(manifest, "layers")))
        return NULL;
    return cfg;
}

int cl_oci_image_fetch(cl_oci_client *c, const char *reference, cl_oci_image *out,
                       cl_error *err)
{
    cl_oci_ref ref;
    char media[256] = "", digest[72], path[700];
    json_t *manifest = NULL;
    cl_oci_answer a = { 0 };
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = cl_oci_ref_parse(&ref, reference, err)) < 0)
        return cl_error_set(err, CL_EINVALID, "image reference \"%s\" %s", reference,
                            err ? err->message : "is malformed");
    const char *want = ref.digest[0] ? ref.digest : ref.tag[0] ? ref.tag : "latest";
    if ((rc = get_manifest(c, ref.repository, want, &manifest, media, digest, err)) < 0)
        return rc;
    if (cl_oci_manifest_is_index(media, manifest)) {
        const char *chosen = cl_oci_index_pick(manifest);

        if (chosen == NULL) {
            json_decref(manifest);
            return cl_error_set(err, CL_EINVALID, "image %s has no linux/amd64 variant, which "
                                "SGX nodes need", reference);
        }
        char pick[72];
        snprintf(pick, sizeof(pick), "%s", chosen);
        json_decref(manifest);
        if ((rc = get_manifest(c, ref.repository, pick, &manifest, media, digest, err)) < 0)
            return rc;
        if (cl_oci_manifest_is_index(media, manifest)) {
            json_decref(manifest);
            return cl_error_set(err, CL_EINVALID, "image %s nests one index in another", reference);
        }
    }

    const char *cfg = cl_oci_manifest_config(manifest);
    if (cfg == NULL) {
        json_decref(manifest);
        return cl_error_set(err, CL_EINVALID, "the manifest of %s names no sha256 config or "
                            "no layers", reference);
    }
    snprintf(out->config_digest, sizeof(out->config_digest), "%s", cfg);
    snprintf(path, sizeof(path), "/v2/%s/blobs/%s", ref.repository, out->config_digest);
    c->http.follow = 1;     /* blobs may be served from elsewhere; no credentials go along */
    rc = cl_oci_get(c, path, NULL, CONFIG_MAX, &a, err);
    c->http.follow = 0;
    if (rc < 0 || a.status != 200 || a.body == NULL) {
        long status = a.status;
        cl_oci_answer_free(&a);
        json_decref(manifest);
        if (rc < 0)
            return rc == CL_ETOOBIG ? cl_error_set(err, CL_EINVALID, "the config of %s is "
                                                   "larger than %d bytes", reference,
                                                   CONFIG_MAX) : rc;
        return cl_error_set(err, status == 404 ? CL_ENOTFOUND : CL_EUNAVAILABLE,
                            "the registry answered %ld for the config of %s", status, reference);
    }
    char got[72];
    digest_of(got, a.body, a.body_len);
    if (strcmp(got, out->config_digest) != 0) {
        cl_oci_answer_free(&a);
        json_decref(manifest);
        return cl_error_set(err, CL_EINVALID, "the config of %s does not match its digest %s",
                            reference, out->config_digest);
    }
    out->config = json_loadb(a.body, a.body_len, 0, NULL);
    cl_oci_answer_free(&a);
    if (!json_is_object(out->config)) {
        json_decref(manifest);
        cl_oci_image_free(out);
        return cl_error_set(err, CL_EINVALID, "the config of %s is not a JSON object",
                            reference);
    }
    out->manifest = manifest;
    snprintf(out->repository, sizeof(out->repository), "%s", ref.repository);
    snprintf(out->registry, sizeof(out->registry), "%s", ref.registry);
    snprintf(out->digest, sizeof(out->digest), "%s", digest);
    snprintf(out->media_type, sizeof(out->media_type), "%s", media);
    return 0;
}

void cl_oci_image_free(cl_oci_image *img)
{
    json_decref(img->manifest);
    json_decref(img->config);
    img->manifest = img->config = NULL;
}

int cl_oci_inspect(cl_oci_client *c, const char *reference, json_t **out, cl_error *err)
{
    cl_oci_image img;
    long long size;
    json_t *l;
    size_t i;
    int rc;

    *out = NULL;
    if ((rc = cl_oci_image_fetch(c, reference, &img, err)) < 0)
        return rc;
    json_t *layers = json_object_get(img.manifest, "layers");
    size = json_integer_value(json_object_get(json_object_get(img.manifest, "config"), "size"));
    json_array_foreach(layers, i, l)
        size += json_integer_value(json_object_get(l, "size"));
    json_t *cc = json_object_get(img.config, "config");
    json_t *ports = json_array();
    const char *port;
    json_t *ignored;
    json_object_foreach(json_object_get(cc, "ExposedPorts"), port, ignored)
        json_array_append_new(ports, json_string(port));
    *out = json_pack("{s:s, s:s, s:s, s:{s:s?, s:s?}, s:I, s:i, s:O?, s:O?, s:O?, s:s?, s:o}",
        "reference", reference, "digest", img.digest, "media_type", img.media_type,
        "platform", "os", json_string_value(json_object_get(img.config, "os")),
        "architecture", json_string_value(json_object_get(img.config, "architecture")),
        "size", (json_int_t)size, "layers", (int)json_array_size(layers),
        "entrypoint", json_object_get(cc, "Entrypoint"), "cmd", json_object_get(cc, "Cmd"),
        "env", json_object_get(cc, "Env"),
        "working_dir", json_string_value(json_object_get(cc, "WorkingDir")),
        "exposed_ports", ports);
    cl_oci_image_free(&img);
    return *out ? 0 : cl_error_set(err, CL_ERROR, "out of memory");
}
