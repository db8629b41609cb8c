/*
 * convert.h - the parts of the convert job (workers/convert/): reading the
 * images it starts from, writing the one it makes, and the account's
 * signing key.
 */
#ifndef CL_CONVERT_H
#define CL_CONVERT_H

#include "buf.h"
#include "image_fs.h"
#include "oci_blob.h"
#include "worker.h"

#include <openssl/evp.h>

/* ---- images read (pull.c) ----------------------------------------------- */

/* An image the conversion reads: the app's input, or the runtime. */
typedef struct cv_source {
    const char *role;           /* "input image", "runtime image" */
    cl_oci_client client;
    char host[256];
    cl_oci_image image;
    json_t *layers;             /* borrowed from image.manifest */
} cv_source;

/* Resolve reference with the account's credentials for its registry and
 * check that every layer is a tar Cloister can read. */
int cv_source_open(cl_job *j, const char *role, const char *reference, cv_source *s,
                   cl_error *err);
void cv_source_close(cv_source *s);

/* Apply every layer of s to tree, streaming each from the registry with
 * its digest checked; progress moves from `from` to `to` percent. */
int cv_source_apply(cl_job *j, cv_source *s, cl_fs_tree *tree, int from, int to,
                    cl_error *err);

/* The bytes of the regular file at path in s's layer `index` (its digest
 * checked too); out bounds them. */
int cv_source_extract(cv_source *s, size_t index, const char *path, cl_buf *out,
                      cl_error *err);

/* Close a blob that was being read for something that ended with rc; the
 * blob's own verdict (a broken transfer, a digest mismatch) wins, since a
 * tampered layer usually also looks malformed to whoever read it. */
int cv_blob_finish(cl_oci_blob *blob, int rc, cl_error *err);

/* The layer media type an output manifest gives a layer of s. */
const char *cv_layer_media_type(const char *media_type);

/* ---- the image written (push.c) ---------------------------------------- */

typedef struct cv_target {
    cl_oci_client client;
    char host[256];
    char repository[256];
    char tag[130];
} cv_target;

int cv_target_open(cl_job *j, const char *reference, cv_target *t, cl_error *err);
void cv_target_close(cv_target *t);

/* Put s's blob (a layer descriptor) into t: nothing when t has it, a mount
 * when both are repositories of one registry, else a streamed copy. */
int cv_push_from(cl_job *j, cv_target *t, cv_source *s, json_t *descriptor, cl_error *err);

/* Put a blob held in memory into t, unless t has it. */
int cv_push_memory(cv_target *t, const char *digest, const void *data, size_t len,
                   cl_error *err);

/* ---- the account's signing key (keys.c) -------------------------------- */

typedef struct cv_key {
    EVP_PKEY *pkey;             /* private, or public only when offline */
    int offline;                /* its holder signs: builds await the signature */
    char id[37];
    char mrsigner[65];
} cv_key;

/* The account's active key, generated (and audited) on first use.  The
 * private key lives only in this process; EVP_PKEY_free key->pkey. */
int cv_signing_key(cl_job *j, cl_pg *db, cv_key *key, cl_error *err);

#endif
