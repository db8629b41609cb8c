/* static_files.c - the web portal; see static_files.h. */
#include "static_files.h"
#include "buf.h"
#include "digest.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_PATH_MAX 1024
#define INDEX_MAX (256 * 1024)
#define ASSETS "/assets/"

struct cl_portal {
    char dir[PATH_MAX];
    char id[17];
    char *index;
    size_t index_len;
};

static const struct { const char *ext; const char *type; } types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".css",  "text/css; charset=utf-8" },
    { ".js",   "text/javascript; charset=utf-8" },
    { ".mjs",  "text/javascript; charset=utf-8" },
    { ".json", "application/json" },
    { ".svg",  "image/svg+xml" },
    { ".png",  "image/png" },
    { ".ico",  "image/x-icon" },
    { ".woff2", "font/woff2" },
    { ".txt",  "text/plain; charset=utf-8" },
    { ".webmanifest", "application/manifest+json" },
};

const char *cl_static_type(const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].ext);

        if (len > n && strcmp(name + len - n, types[i].ext) == 0)
            return types[i].type;
    }
    return "application/octet-stream";
}

/* ---- the release id: a digest of every file's path and bytes ---------- */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feed dir/rel (recursively, in name order) into the digest. */
static int digest_tree(EVP_MD_CTX *md, const char *root, const char *rel, int depth)
{
    char path[PATH_MAX], **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    DIR *d;
    int rc = 0;

    if (depth > 16)
        return CL_ETOOBIG;
    snprintf(path, sizeof(path), "%s%s", root, rel);
    if ((d = opendir(path)) == NULL)
        return CL_ERROR;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 32) * sizeof(*names));
            if (grown == NULL) {
                rc = CL_ERROR;
                break;
            }
            names = grown;
        }
        if ((names[n] = strdup(e->d_name)) == NULL) {
            rc = CL_ERROR;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 1)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char child[PATH_MAX], full[PATH_MAX];
        struct stat st;

        snprintf(child, sizeof(child), "%s/%s", rel, names[i]);
        snprintf(full, sizeof(full), "%s%s", root, child);
        if (stat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = digest_tree(md, root, child, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            FILE *f = fopen(full, "rb");
            char buf[8192];
            size_t got;

            EVP_DigestUpdate(md, child, strlen(child) + 1);
            if (f == NULL)
                continue;
            while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
                EVP_DigestUpdate(md, buf, got);
            fclose(f);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int load_index(cl_portal *p, const char *base, cl_error *err)
{
    static const char token[] = "%ASSET_BASE%";
    char path[PATH_MAX + 16], chunk[4096];
    const char *at, *from;
    cl_buf in, out;
    size_t got;
    FILE *f;

    snprintf(path, sizeof(path), "%s/index.html", p->dir);
    if ((f = fopen(path, "rb")) == NULL)
        return CL_ENOTFOUND;
    cl_buf_init(&in, INDEX_MAX);
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (cl_buf_append(&in, chunk, got) < 0) {
            fclose(f);
            return cl_error_set(err, CL_ETOOBIG, "\"%s\" is larger than %d bytes", path,
                                INDEX_MAX);
        }
    fclose(f);
    cl_buf_init(&out, 2 * INDEX_MAX);
    for (from = in.data ? in.data : ""; (at = strstr(from, token)) != NULL;
         from = at + sizeof(token) - 1) {
        cl_buf_append(&out, from, (size_t)(at - from));
        cl_buf_append(&out, base, strlen(base));
    }
    cl_buf_append(&out, from, strlen(from));
    cl_buf_free(&in);
    p->index = cl_buf_take(&out, &p->index_len);
    return p->index ? 0 : cl_error_set(err, CL_ERROR, "out of memory");
}

int cl_portal_open(cl_portal **out, const char *dir, cl_error *err)
{
    cl_portal *p;
    EVP_MD_CTX *md;
    unsigned char sum[EVP_MAX_MD_SIZE];
    unsigned int sum_len = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1], base[64];
    int rc;

    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return 0;
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    if (realpath(dir, p->dir) == NULL) {
        cl_log_warn("no web portal: could not open \"%s\": %s", dir, strerror(errno));
        free(p);
        return 0;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        digest_tree(md, p->dir, "", 0) < 0 || EVP_DigestFinal_ex(md, sum, &sum_len) != 1) {
        EVP_MD_CTX_free(md);
        free(p);
        return cl_error_set(err, CL_ERROR, "could not read the portal's files in \"%s\"", dir);
    }
    EVP_MD_CTX_free(md);
    cl_hex(hex, sum, sum_len);
    snprintf(p->id, sizeof(p->id), "%.16s", hex);
    snprintf(base, sizeof(base), ASSETS "%s/", p->id);
    rc = load_index(p, base, err);
    if (rc == CL_ENOTFOUND) {
        cl_log_warn("no web portal: \"%s\" has no index.html", dir);
        free(p);
        return 0;
    }
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void cl_portal_free(cl_portal *p)
{
    if (p == NULL)
        return;
    free(p->index);
    free(p);
}

const char *cl_portal_id(const cl_portal *p)
{
    return p ? p->id : "";
}

/* ---- serving ------------------------------------------------------- */

/* Every segment non-empty, not "." or "..", not hidden. */
static int safe_path(const char *path)
{
    if (path[0] != '/' || strlen(path) > STATIC_PATH_MAX)
        return 0;
    for (const char *seg = path + 1; *seg != '\0';) {
        size_t len = strcspn(seg, "/");

        if (len == 0 || seg[0] == '.' || memchr(seg, '\\', len) != NULL)
            return 0;
        seg += len;
        if (*seg == '/')
            seg++;
    }
    return 1;
}

static int send_file(cl_req *r, const cl_portal *p, const char *rel, int immutable)
{
    char *full, real_file[PATH_MAX];
    size_t dlen = strlen(p->dir);
    struct stat st;
    int fd;

    if (!safe_path(rel) || (full = cl_arena_printf(cl_req_arena(r), "%s%s", p->dir, rel)) == NULL ||
        realpath(full, real_file) == NULL ||
        strncmp(real_file, p->dir, dlen) != 0 || real_file[dlen] != '/')
        return CL_ENOTFOUND;
    fd = open(real_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CL_ENOTFOUND;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CL_ENOTFOUND;
    }
    cl_req_set_header(r, "Cache-Control", immutable ? "public, max-age=31536000, immutable"
                                                    : "no-cache");
    cl_req_send_file(r, cl_static_type(real_file), fd, (size_t)st.st_size);
    return 0;
}

static int spa_path(const char *path)
{
    const char *last = strrchr(path, '/');

    return strncmp(path, "/v1/", 4) != 0 && strcmp(path, "/v1") != 0 &&
           strncmp(path, ASSETS, sizeof(ASSETS) - 1) != 0 &&
           last != NULL && strchr(last, '.') == NULL && strlen(path) <= STATIC_PATH_MAX;
}

int cl_portal_serve(cl_req *r, const cl_portal *p)
{
    const char *path = cl_req_path(r);
    int rc = CL_ENOTFOUND;

    if (p == NULL)
        return CL_ENOTFOUND;
    if (strncmp(path, ASSETS, sizeof(ASSETS) - 1) == 0) {
        const char *id = path + sizeof(ASSETS) - 1, *rest = strchr(id, '/');

        if (rest != NULL)
            rc = send_file(r, p, rest, (size_t)(rest - id) == strlen(p->id) &&
                                       strncmp(id, p->id, strlen(p->id)) == 0);
    } else if (spa_path(path)) {
        cl_req_set_header(r, "Cache-Control", "no-cache");
        cl_req_send(r, "text/html; charset=utf-8", p->index, p->index_len);
        rc = 0;
    } else if (strncmp(path, "/v1/", 4) != 0) {
        rc = send_file(r, p, path, 0);   /* /favicon.ico and the like */
    }
    if (rc == 0) {
        cl_req_set_header(r, "Content-Security-Policy", CL_PORTAL_CSP);
        cl_req_set_header(r, "X-Frame-Options", "DENY");
        cl_req_set_header(r, "Referrer-Policy", "no-referrer");
    }
    return rc;
}
