/* oci_ref.c - see oci_ref.h. */
#include "oci_ref.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* [a-z0-9]+ ((\. | _ | __ | -+) [a-z0-9]+)* */
static int repo_component(const char *s, size_t len)
{
    size_t i = 0;

#define ALNUM(c) (islower((unsigned char)(c)) || isdigit((unsigned char)(c)))
    for (;;) {
        size_t run = i;

        while (i < len && ALNUM(s[i]))
            i++;
        if (i == run)
            return 0;           /* a separator must be followed by a run */
        if (i == len)
            return 1;
        if (s[i] == '.')
            i++;
        else if (s[i] == '_')
            i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
        else if (s[i] == '-')
            while (i < len && s[i] == '-')
                i++;
        else
            return 0;
    }
#undef ALNUM
}

static int valid_tag(const char *t)
{
    size_t len = strlen(t);

    if (len == 0 || len > 128 || t[0] == '.' || t[0] == '-')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)t[i]) && strchr("_.-", t[i]) == NULL)
            return 0;
    return 1;
}

static int valid_digest(const char *d)
{
    const char *colon = strchr(d, ':');
    size_t want;

    if (colon == NULL)
        return 0;
    if ((size_t)(colon - d) == 6 && strncmp(d, "sha256", 6) == 0)
        want = 64;
    else if ((size_t)(colon - d) == 6 && strncmp(d, "sha512", 6) == 0)
        want = 128;
    else
        return 0;
    if (strlen(colon + 1) != want)
        return 0;
    for (const char *p = colon + 1; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return 0;
    return 1;
}

static int valid_registry(const char *r, size_t len)
{
    size_t colon = len;

    for (size_t i = 0; i < len; i++)
        if (r[i] == ':')
            colon = i;
    if (colon == 0 || colon >= 254)
        return 0;
    for (size_t i = 0; i < colon; i++)
        if (!isalnum((unsigned char)r[i]) && r[i] != '.' && r[i] != '-')
            return 0;
    if (colon < len) {
        if (colon + 1 == len || len - colon - 1 > 5)
            return 0;
        for (size_t i = colon + 1; i < len; i++)
            if (!isdigit((unsigned char)r[i]))
                return 0;
    }
    return 1;
}

int cl_oci_ref_parse(cl_oci_ref *out, const char *text, cl_error *err)
{
    char buf[CL_OCI_REF_MAX + 1];
    char *at, *name, *slash, *last, *colon;

    memset(out, 0, sizeof(*out));
    if (text == NULL || text[0] == '\0')
        return cl_error_set(err, CL_EINVALID, "is empty");
    if (strlen(text) > CL_OCI_REF_MAX)
        return cl_error_set(err, CL_EINVALID, "is longer than %d characters", CL_OCI_REF_MAX);
    snprintf(buf, sizeof(buf), "%s", text);

    if ((at = strchr(buf, '@')) != NULL) {
        *at = '\0';
        if (!valid_digest(at + 1))
            return cl_error_set(err, CL_EINVALID, "has a malformed digest \"%s\" (want "
                                "sha256: and 64 hex digits)", at + 1);
        snprintf(out->digest, sizeof(out->digest), "%s", at + 1);
    }
    name = buf;
    slash = strchr(name, '/');
    if (slash != NULL && (memchr(name, '.', (size_t)(slash - name)) != NULL ||
                          memchr(name, ':', (size_t)(slash - name)) != NULL ||
                          strncmp(name, "localhost/", 10) == 0)) {
        if (!valid_registry(name, (size_t)(slash - name)))
            return cl_error_set(err, CL_EINVALID, "has a malformed registry \"%.*s\"",
                                (int)(slash - name), name);
        snprintf(out->registry, sizeof(out->registry), "%.*s", (int)(slash - name), name);
        name = slash + 1;
    } else {
        snprintf(out->registry, sizeof(out->registry), "docker.io");
    }
    last = strrchr(name, '/');
    colon = strchr(last ? last : name, ':');
    if (colon != NULL) {
        *colon = '\0';
        if (!valid_tag(colon + 1))
            return cl_error_set(err, CL_EINVALID, "has a malformed tag \"%s\"", colon + 1);
        snprintf(out->tag, sizeof(out->tag), "%s", colon + 1);
    }
    for (char *seg = name;;) {
        char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);

        if (!repo_component(seg, len))
            return cl_error_set(err, CL_EINVALID, "has a malformed repository \"%s\" (lower-case "
                                "letters, digits, and . _ - between them)", name);
        if (end == NULL)
            break;
        seg = end + 1;
    }
    const char *prefix = strcmp(out->registry, "docker.io") == 0 && strchr(name, '/') == NULL
                         ? "library/" : "";
    size_t plen = strlen(prefix), nlen = strlen(name);
    if (plen + nlen >= sizeof(out->repository))
        return cl_error_set(err, CL_EINVALID, "has a repository longer than %zu characters",
                            sizeof(out->repository) - 1);
    memcpy(out->repository, prefix, plen);
    memcpy(out->repository + plen, name, nlen + 1);
    return 0;
}
