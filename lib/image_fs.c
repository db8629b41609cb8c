/*
 * image_fs.c - applying image layers into an index of the final tree.
 *
 * The index is a jansson object from path to a slot in an array of
 * entries; a deleted entry leaves a NULL slot.  Whiteouts walk the whole
 * index (they are rare: a handful per layer), everything else is a lookup.
 */
#include "image_fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"

struct cl_fs_tree {
    cl_fs_limits limits;
    json_t *index;          /* path -> slot */
    cl_fs_entry **slots;
    size_t nslots, cap;
    const cl_fs_entry **sorted;
    size_t nsorted;
    bool sorted_valid;
    unsigned layers;
    uint64_t bytes;
    bool broken;
};

cl_fs_tree *cl_fs_new(const cl_fs_limits *limits)
{
    cl_fs_tree *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->index = json_object()) == NULL) {
        free(t);
        return NULL;
    }
    t->limits = limits ? *limits : (cl_fs_limits){ 1000000, 64ULL << 30 };
    return t;
}

static void entry_free(cl_fs_entry *e)
{
    if (e != NULL) {
        free(e->path);
        free(e->target);
        free(e);
    }
}

void cl_fs_free(cl_fs_tree *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nslots; i++)
        entry_free(t->slots[i]);
    free(t->slots);
    free(t->sorted);
    json_decref(t->index);
    free(t);
}

const cl_fs_entry *cl_fs_lookup(const cl_fs_tree *t, const char *path)
{
    json_t *slot = json_object_get(t->index, path);

    return slot ? t->slots[json_integer_value(slot)] : NULL;
}

/* "./usr//bin/" -> "/usr/bin"; ".." anywhere is refused. */
static int normalise(const char *name, char out[CL_FS_PATH_MAX], cl_error *err)
{
    size_t n = 0;
    const char *p = name;

    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len == 2 && p[0] == '.' && p[1] == '.')
            return cl_error_set(err, CL_EINVALID, "layer entry \"%.200s\" leaves the root", name);
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (n + 1 + len >= CL_FS_PATH_MAX)
                return cl_error_set(err, CL_EINVALID, "layer entry name is too long");
            out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
        }
        p += len + (end != NULL);
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return 0;
}

static bool under(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (n == 1)     /* "/" */
        return path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

static void remove_slot(cl_fs_tree *t, const char *key, json_t *slot)
{
    json_int_t i = json_integer_value(slot);

    entry_free(t->slots[i]);
    t->slots[i] = NULL;
    json_object_del(t->index, key);
}

/* Remove path itself (when self) and everything under it that a layer
 * below `below` wrote; below = UINT32_MAX removes regardless of layer. */
static void remove_tree(cl_fs_tree *t, const char *path, bool self, unsigned below)
{
    const char *key;
    json_t *slot;
    void *tmp;

    json_object_foreach_safe(t->index, tmp, key, slot) {
        const cl_fs_entry *e = t->slots[json_integer_value(slot)];

        if (e->layer < below && ((self && strcmp(key, path) == 0) || under(key, path)))
            remove_slot(t, key, slot);
    }
}

static int put(cl_fs_tree *t, cl_fs_entry *e, cl_error *err)
{
    json_t *old = json_object_get(t->index, e->path);

    if (old != NULL) {
        const cl_fs_entry *prev = t->slots[json_integer_value(old)];
        if (prev->type == CL_FS_DIR && e->type != CL_FS_DIR)
            remove_tree(t, e->path, false, UINT32_MAX);
        remove_slot(t, e->path, old);
    }
    if (t->nslots == t->limits.max_entries)
        return cl_error_set(err, CL_ETOOBIG, "the image has more than %zu entries",
                            t->limits.max_entries);
    if (t->nslots == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        cl_fs_entry **s = realloc(t->slots, cap * sizeof(*s));
        if (s == NULL)
            return cl_error_set(err, CL_ERROR, "out of memory");
        t->slots = s;
        t->cap = cap;
    }
    if (json_object_set_new(t->index, e->path, json_integer((json_int_t)t->nslots)) < 0)
        return cl_error_set(err, CL_ERROR, "out of memory");
    t->slots[t->nslots++] = e;
    return 0;
}

/* Count len more bytes of e against the limits, then hash them (NULL data:
 * zeros, for the holes of a sparse file). */
static int feed(cl_fs_tree *t, EVP_MD_CTX *md, cl_fs_entry *e, const void *data, uint64_t len,
                cl_error *err)
{
    static const uint8_t zeros[4096];

    t->bytes += len;
    e->size += len;
    if (t->bytes > t->limits.max_bytes)
        return cl_error_set(err, CL_ETOOBIG, "the image holds more than %llu bytes",
                            (unsigned long long)t->limits.max_bytes);
    if (data != NULL)
        return EVP_DigestUpdate(md, data, len) ? 0 : cl_error_set(err, CL_ERROR, "sha256");
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < sizeof(zeros) ? (size_t)(len - done) : sizeof(zeros);
        if (!EVP_DigestUpdate(md, zeros, n))
            return cl_error_set(err, CL_ERROR, "sha256");
        done += n;
    }
    return 0;
}

static int hash_data(cl_fs_tree *t, struct archive *a, cl_fs_entry *e, uint64_t declared,
                     cl_error *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    const void *buf;
    size_t len;
    la_int64_t offset;
    int r = ARCHIVE_OK, rc = 0;

    if (md == NULL || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    while (rc == 0 && (r = archive_read_data_block(a, &buf, &len, &offset)) == ARCHIVE_OK) {
        if (offset < 0 || (uint64_t)offset < e->size)
            rc = cl_error_set(err, CL_EINVALID, "layer data for \"%.200s\" goes backwards",
                              e->path);
        else if ((rc = feed(t, md, e, NULL, (uint64_t)offset - e->size, err)) == 0)
            rc = feed(t, md, e, buf, len, err);
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = cl_error_set(err, CL_EINVALID, "layer data: %s", archive_error_string(a));
    if (rc == 0 && declared > e->size)     /* a sparse file's trailing hole */
        rc = feed(t, md, e, NULL, declared - e->size, err);
    if (rc == 0 && !EVP_DigestFinal_ex(md, e->sha256, NULL))
        rc = cl_error_set(err, CL_ERROR, "sha256");
    EVP_MD_CTX_free(md);
    return rc;
}

/* One tar member: a whiteout, or an entry to put. */
static int apply_entry(cl_fs_tree *t, struct archive *a, struct archive_entry *ae,
                       cl_error *err)
{
    char path[CL_FS_PATH_MAX];
    int rc;

    if ((rc = normalise(archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "", path,
                        err)) < 0)
        return rc;

    char *slash = strrchr(path, '/'), *base = slash + 1;
    if (strncmp(base, WHITEOUT, strlen(WHITEOUT)) == 0) {
        if (strcmp(base, OPAQUE) == 0) {
            *slash = '\0';
            remove_tree(t, slash == path ? "/" : path, false, t->layers);
            return 0;
        }
        memmove(base, base + strlen(WHITEOUT), strlen(base + strlen(WHITEOUT)) + 1);
        if (*base == '\0')
            return cl_error_set(err, CL_EINVALID, "layer has an empty whiteout");
        remove_tree(t, path, true, t->layers);
        return 0;
    }

    cl_fs_entry *e = calloc(1, sizeof(*e));
    if (e == NULL || (e->path = strdup(path)) == NULL) {
        entry_free(e);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    e->layer = t->layers;
    e->mode = (uint32_t)archive_entry_perm(ae);

    const char *hardlink = archive_entry_hardlink(ae);
    if (hardlink != NULL) {
        char target[CL_FS_PATH_MAX];
        const cl_fs_entry *to;
        if ((rc = normalise(hardlink, target, err)) < 0)
            goto fail;
        if ((to = cl_fs_lookup(t, target)) == NULL || to->type != CL_FS_FILE) {
            rc = cl_error_set(err, CL_EINVALID, "hard link \"%.200s\" to missing \"%.200s\"",
                              path, target);
            goto fail;
        }
        e->type = CL_FS_FILE;
        e->size = to->size;
        memcpy(e->sha256, to->sha256, sizeof(e->sha256));
    } else {
        switch (archive_entry_filetype(ae)) {
        case AE_IFREG:
            e->type = CL_FS_FILE;
            if ((rc = hash_data(t, a, e, (uint64_t)archive_entry_size(ae), err)) < 0)
                goto fail;
            break;
        case AE_IFDIR:
            e->type = CL_FS_DIR;
            break;
        case AE_IFLNK:
            e->type = CL_FS_SYMLINK;
            if (archive_entry_symlink(ae) == NULL ||
                (e->target = strdup(archive_entry_symlink(ae))) == NULL) {
                rc = cl_error_set(err, CL_EINVALID, "symlink \"%.200s\" has no target", path);
                goto fail;
            }
            break;
        default:
            e->type = CL_FS_OTHER;
        }
    }
    if ((rc = put(t, e, err)) < 0)
        goto fail;
    return 0;
fail:
    entry_free(e);
    return rc;
}

typedef struct pull {
    cl_fs_read_fn read;
    void *ctx;
    bool failed;
} pull;

static la_ssize_t pull_read(struct archive *a, void *p, const void **buf)
{
    pull *src = p;
    ssize_t n = src->read(src->ctx, buf);

    if (n < 0) {
        src->failed = true;
        archive_set_error(a, EIO, "reading the layer failed");
        return ARCHIVE_FATAL;
    }
    return n;
}

/* A libarchive reader over src: tar, plain or gzip- or zstd-compressed. */
static struct archive *open_layer(pull *src)
{
    struct archive *a = archive_read_new();

    if (a == NULL)
        return NULL;
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    archive_read_open(a, src, NULL, pull_read, NULL);
    return a;
}

int cl_fs_apply(cl_fs_tree *t, cl_fs_read_fn read, void *ctx, cl_error *err)
{
    struct archive *a;
    struct archive_entry *ae;
    pull src = { read, ctx, false };
    int r, rc = 0;

    if (t->broken)
        return cl_error_set(err, CL_ERROR, "a layer failed to apply; start a new tree");
    if ((a = open_layer(&src)) == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    t->sorted_valid = false;
    while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        if ((rc = apply_entry(t, a, ae, err)) < 0)
            goto done;
    }
    if (r != ARCHIVE_EOF)
        rc = cl_error_set(err, CL_EINVALID, "layer %u: %s", t->layers, archive_error_string(a));
done:
    archive_read_free(a);
    if (rc < 0 && src.failed)   /* whatever libarchive made of it, the source failed */
        rc = cl_error_set(err, CL_ERROR, "reading layer %u failed", t->layers);
    t->broken = rc < 0;
    t->layers++;
    return rc;
}

int cl_fs_apply_memory(cl_fs_tree *t, const void *data, size_t len, cl_error *err)
{
    cl_mem_source m = { data, len };

    return cl_fs_apply(t, cl_mem_read, &m, err);
}

/* The whiteout member name (normalised) hides path from the layers below:
 * it whites out path or a directory above it, or makes a directory above
 * it opaque. */
static bool hides(const char *name, const char *path)
{
    const char *slash = strrchr(name, '/'), *base = slash + 1;
    size_t dir = (size_t)(slash - name), n;

    if (strcmp(base, OPAQUE) == 0)
        return strncmp(path, name, dir) == 0 && path[dir] == '/' && path[dir + 1] != '\0';
    base += strlen(WHITEOUT);
    n = strlen(base);
    return strncmp(path, name, dir) == 0 && path[dir] == '/' &&
           strncmp(path + dir + 1, base, n) == 0 &&
           (path[dir + 1 + n] == '\0' || path[dir + 1 + n] == '/');
}

int cl_fs_layer_file(cl_fs_read_fn read, void *ctx, const char *path, cl_buf *out,
                     cl_fs_verdict *verdict, cl_error *err)
{
    struct archive_entry *ae;
    pull src = { read, ctx, false };
    struct archive *a = open_layer(&src);
    char name[CL_FS_PATH_MAX];
    bool found = false, hidden = false;
    int r = ARCHIVE_OK, rc = 0;

    *verdict = CL_FS_PASSES;
    if (a == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    while (rc == 0 && (r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
        const void *buf;
        size_t len;
        la_int64_t offset;
        int d;

        if (normalise(archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "", name,
                      NULL) < 0)
            continue;
        if (strncmp(strrchr(name, '/') + 1, WHITEOUT, strlen(WHITEOUT)) == 0) {
            hidden = hidden || hides(name, path);
            continue;
        }
        if (strcmp(name, path) != 0)
            continue;
        if (archive_entry_filetype(ae) != AE_IFREG || archive_entry_hardlink(ae) != NULL) {
            rc = cl_error_set(err, CL_EINVALID, "\"%s\" is not a regular file in its layer",
                              path);
            break;
        }
        found = true;           /* the last entry for a path is the one that counts */
        cl_buf_reset(out);
        while ((d = archive_read_data_block(a, &buf, &len, &offset)) == ARCHIVE_OK)
            if (cl_buf_append(out, buf, len) < 0) {
                rc = cl_error_set(err, CL_ETOOBIG, "\"%s\" is larger than %zu bytes", path,
                                  out->max);
                break;
            }
        if (rc == 0 && d != ARCHIVE_EOF)
            rc = cl_error_set(err, CL_EINVALID, "layer data: %s", archive_error_string(a));
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = cl_error_set(err, src.failed ? CL_ERROR : CL_EINVALID, "layer: %s",
                          archive_error_string(a));
    archive_read_free(a);
    if (rc == 0)        /* a layer's own files stand over its whiteouts */
        *verdict = found ? CL_FS_ADDS : hidden ? CL_FS_HIDES : CL_FS_PASSES;
    return rc;
}

int cl_fs_extract(cl_fs_read_fn read, void *ctx, const char *path, cl_buf *out, cl_error *err)
{
    cl_fs_verdict verdict;
    int rc = cl_fs_layer_file(read, ctx, path, out, &verdict, err);

    if (rc == 0 && verdict != CL_FS_ADDS)
        rc = cl_error_set(err, CL_ENOTFOUND, "the layer has no file \"%s\"", path);
    return rc;
}

/* Resolution works on a queue of components still to walk ("rest"), so a
 * link's target is pushed in front of what followed it. */
int cl_fs_resolve(const cl_fs_tree *t, const char *path, char out[CL_FS_PATH_MAX],
                  cl_error *err)
{
    char rest[2 * CL_FS_PATH_MAX], next[2 * CL_FS_PATH_MAX];
    size_t n = 0;
    int hops = 0;

    size_t plen = strlen(path);
    if (plen >= CL_FS_PATH_MAX)
        return cl_error_set(err, CL_EINVALID, "path is too long");
    memcpy(rest, path, plen + 1);
    out[0] = '\0';
    for (char *p = rest; *p != '\0';) {
        char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *after = p + len + (end != NULL);

        if (len == 0 || (len == 1 && p[0] == '.')) {
            p = after;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && out[--n] != '/')
                ;
            out[n] = '\0';
            p = after;
            continue;
        }
        if (n + 1 + len >= CL_FS_PATH_MAX)
            return cl_error_set(err, CL_EINVALID, "path is too long");
        out[n] = '/';
        memcpy(out + n + 1, p, len);
        out[n + 1 + len] = '\0';

        const cl_fs_entry *e = cl_fs_lookup(t, out);
        if (e == NULL || e->type != CL_FS_SYMLINK) {
            n += 1 + len;
            p = after;
            continue;
        }
        if (++hops > CL_FS_SYMLINK_HOPS)
            return cl_error_set(err, CL_EINVALID, "too many symlinks resolving \"%.200s\"",
                                path);
        size_t tlen = strlen(e->target), alen = strlen(after);
        if (tlen + 1 + alen >= sizeof(next))
            return cl_error_set(err, CL_EINVALID, "path is too long");
        memcpy(next, e->target, tlen);
        next[tlen] = '/';
        memcpy(next + tlen + 1, after, alen + 1);
        if (e->target[0] == '/')
            n = 0;
        out[n] = '\0';
        memcpy(rest, next, tlen + 1 + alen + 1);
        p = rest;
    }
    if (n == 0)
        memcpy(out, "/", 2);
    return 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp((*(const cl_fs_entry *const *)a)->path, (*(const cl_fs_entry *const *)b)->path);
}

const cl_fs_entry *const *cl_fs_entries(cl_fs_tree *t, size_t *n)
{
    if (!t->sorted_valid) {
        const cl_fs_entry **s = realloc(t->sorted, (t->nslots + 1) * sizeof(*s));
        if (s == NULL) {
            *n = 0;
            return NULL;
        }
        t->sorted = s;
        t->nsorted = 0;
        for (size_t i = 0; i < t->nslots; i++)
            if (t->slots[i] != NULL)
                t->sorted[t->nsorted++] = t->slots[i];
        qsort(t->sorted, t->nsorted, sizeof(*t->sorted), by_path);
        t->sorted_valid = true;
    }
    *n = t->nsorted;
    return t->sorted;
}

bool cl_fs_excluded(const char *path, const char *const *prefixes)
{
    for (; *prefixes != NULL; prefixes++)
        if (strcmp(path, *prefixes) == 0 || under(path, *prefixes))
            return true;
    return false;
}
