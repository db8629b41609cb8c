/*
 * oci_layer.c - a reproducible layer: libarchive writes the tar, which
 * streams through SHA-256 (the diff_id) and zlib's gzip (the blob) at once;
 * the uncompressed tar is never held whole.
 */
#include "oci_layer.h"

#include "digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct entry {
    const char *name;           /* without the leading '/' */
    const cl_layer_file *file;  /* NULL: a directory */
} entry;

typedef struct sink {
    EVP_MD_CTX *md;
    z_stream z;
    cl_buf *out;
    int rc;
} sink;

static int deflate_into(sink *s, const void *data, size_t len, int flush)
{
    uint8_t chunk[16384];
    int zrc;

    s->z.next_in = (Bytef *)data;
    s->z.avail_in = (uInt)len;
    do {
        s->z.next_out = chunk;
        s->z.avail_out = sizeof(chunk);
        zrc = deflate(&s->z, flush);
        if (zrc == Z_STREAM_ERROR)
            return CL_ERROR;
        int rc = cl_buf_append(s->out, chunk, sizeof(chunk) - s->z.avail_out);
        if (rc < 0)
            return rc;
    } while (s->z.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
    return 0;
}

static la_ssize_t sink_write(struct archive *a, void *ctx, const void *data, size_t len)
{
    sink *s = ctx;

    if (s->rc == 0 && !EVP_DigestUpdate(s->md, data, len))
        s->rc = CL_ERROR;
    if (s->rc == 0)
        s->rc = deflate_into(s, data, len, Z_NO_FLUSH);
    if (s->rc < 0) {
        archive_set_error(a, ENOSPC, "the layer is too large");
        return -1;
    }
    return (la_ssize_t)len;
}

/* "/a/b": absolute, and no empty, "." or ".." component. */
static bool plain_path(const char *p)
{
    if (p == NULL || p[0] != '/' || strlen(p) >= 4096)
        return false;
    for (p++;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return false;
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* The files and every directory above them, sorted; NULL after an error. */
static entry *entries(const cl_layer_file *files, size_t n, size_t *count, cl_error *err)
{
    json_t *seen = json_object();
    entry *list = NULL;
    size_t used = 0;
    const char *key;
    json_t *v;

    for (size_t i = 0; seen != NULL && i < n; i++) {
        const char *p = files[i].path;
        if (!plain_path(p)) {
            cl_error_set(err, CL_EINVALID, "layer path \"%.200s\" is not a plain absolute path",
                         p ? p : "");
            goto fail;
        }
        if (json_object_get(seen, p + 1) != NULL) {
            cl_error_set(err, CL_EINVALID, "layer path \"%.200s\" is given twice, or is also "
                                           "a directory", p);
            goto fail;
        }
        json_object_set_new(seen, p + 1, json_integer((json_int_t)i));
    }
    /* The directories above each file; a file that is also a directory is refused. */
    for (size_t i = 0; seen != NULL && i < n; i++) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", files[i].path + 1);
        for (char *slash = strchr(dir, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            json_t *was = json_object_get(seen, dir);
            if (was != NULL && json_is_integer(was)) {
                cl_error_set(err, CL_EINVALID, "layer path \"/%.200s\" is a file and a "
                                               "directory", dir);
                goto fail;
            }
            json_object_set_new(seen, dir, json_null());
            *slash = '/';
        }
    }
    if (seen == NULL || (list = calloc(json_object_size(seen) + 1, sizeof(*list))) == NULL) {
        cl_error_set(err, CL_ERROR, "out of memory");
        goto fail;
    }
    json_object_foreach(seen, key, v) {
        list[used].name = json_is_integer(v) ? files[json_integer_value(v)].path + 1 : NULL;
        list[used].file = json_is_integer(v) ? &files[json_integer_value(v)] : NULL;
        if (list[used].name == NULL)
            list[used].name = strdup(key);
        if (list[used++].name == NULL) {
            cl_error_set(err, CL_ERROR, "out of memory");
            goto fail;
        }
    }
    qsort(list, used, sizeof(*list), by_name);
    json_decref(seen);
    *count = used;
    return list;
fail:
    for (size_t i = 0; list != NULL && i < used; i++)
        if (list[i].file == NULL)
            free((char *)list[i].name);
    free(list);
    json_decref(seen);
    return NULL;
}

static int write_tar(struct archive *a, const entry *list, size_t count, cl_error *err)
{
    struct archive_entry *ae = archive_entry_new();
    int rc = 0;

    if (ae == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    for (size_t i = 0; rc == 0 && i < count; i++) {
        const cl_layer_file *f = list[i].file;
        archive_entry_clear(ae);
        archive_entry_set_pathname(ae, list[i].name);
        archive_entry_set_filetype(ae, f ? AE_IFREG : AE_IFDIR);
        archive_entry_set_perm(ae, f ? (f->mode & 07777) : 0755);
        archive_entry_set_size(ae, f ? (la_int64_t)f->len : 0);
        archive_entry_set_mtime(ae, 0, 0);
        archive_entry_set_uid(ae, 0);
        archive_entry_set_gid(ae, 0);
        if (archive_write_header(a, ae) != ARCHIVE_OK ||
            (f != NULL && f->len > 0 &&
             archive_write_data(a, f->data, f->len) != (la_ssize_t)f->len))
            rc = cl_error_set(err, CL_ERROR, "writing the layer: %s", archive_error_string(a));
    }
    archive_entry_free(ae);
    return rc;
}

static void hex_digest(char out[72], const uint8_t sha[32])
{
    memcpy(out, "sha256:", 7);
    cl_hex(out + 7, sha, 32);
}

int cl_oci_layer_build(const cl_layer_file *files, size_t n, cl_layer *layer, cl_error *err)
{
    sink s = { .out = &layer->blob };
    struct archive *a = NULL;
    size_t count = 0;
    entry *list;
    uint8_t sha[32];
    int rc = CL_ERROR;

    if ((list = entries(files, n, &count, err)) == NULL)
        return err->code;
    if ((s.md = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) ||
        deflateInit2(&s.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        EVP_MD_CTX_free(s.md);
        rc = cl_error_set(err, CL_ERROR, "out of memory");
        goto free_list;
    }
    a = archive_write_new();
    if (a == NULL || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_open(a, &s, NULL, sink_write, NULL) != ARCHIVE_OK) {
        rc = cl_error_set(err, CL_ERROR, "could not start the layer");
        goto done;
    }
    if ((rc = write_tar(a, list, count, err)) == 0 && archive_write_close(a) != ARCHIVE_OK)
        rc = cl_error_set(err, CL_ERROR, "writing the layer: %s", archive_error_string(a));
    if (rc == 0 && s.rc == 0)
        s.rc = deflate_into(&s, NULL, 0, Z_FINISH);
    if (s.rc < 0)
        rc = cl_error_set(err, s.rc, s.rc == CL_ETOOBIG ? "the layer is too large"
                                                       : "could not compress the layer");
    if (rc == 0 && !EVP_DigestFinal_ex(s.md, sha, NULL))
        rc = cl_error_set(err, CL_ERROR, "sha256");
    if (rc == 0) {
        hex_digest(layer->diff_id, sha);
        cl_sha256(sha, layer->blob.data, layer->blob.len);
        hex_digest(layer->digest, sha);
    }
done:
    archive_write_free(a);
    deflateEnd(&s.z);
    EVP_MD_CTX_free(s.md);
free_list:
    for (size_t i = 0; i < count; i++)
        if (list[i].file == NULL)
            free((char *)list[i].name);
    free(list);
    return rc;
}
