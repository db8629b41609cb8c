/* static_files.c - see static_files.h. */
#include "static_files.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATIC_PATH_MAX 1024

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
    { ".yaml", "application/yaml" },
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

int cl_static_serve(cl_req *r, const char *dir)
{
    const char *path = cl_req_path(r);
    char *full, real_dir[PATH_MAX], real_file[PATH_MAX];
    struct stat st;
    size_t dlen;
    int fd;

    if (dir == NULL || strncmp(path, "/v1/", 4) == 0)
        return CL_ENOTFOUND;
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    if (!safe_path(path))
        return CL_ENOTFOUND;
    full = cl_arena_printf(cl_req_arena(r), "%s%s", dir, path);
    if (full == NULL || realpath(dir, real_dir) == NULL || realpath(full, real_file) == NULL)
        return CL_ENOTFOUND;
    dlen = strlen(real_dir);
    if (strncmp(real_file, real_dir, dlen) != 0 || real_file[dlen] != '/')
        return CL_ENOTFOUND;
    fd = open(real_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CL_ENOTFOUND;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return CL_ENOTFOUND;
    }
    cl_req_set_header(r, "Cache-Control", "no-cache");
    cl_req_send_file(r, cl_static_type(real_file), fd, (size_t)st.st_size);
    return 0;
}
