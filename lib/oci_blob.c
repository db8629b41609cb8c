/* oci_blob.c - see oci_blob.h. */
#include "oci_blob.h"
#include "buf.h"
#include "digest.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl_oci_blob {
    CURLM *multi;
    CURL *easy;
    struct curl_slist *headers;
    unsigned char *data;          /* what the last perform delivered */
    size_t len, cap;
    int done, failed;
    CURLcode result;
    long status;
    EVP_MD_CTX *sha;
    uint64_t total, max;
    char digest[72];
    char url[4200];
    char curl_err[CURL_ERROR_SIZE];
};

static size_t on_data(char *data, size_t size, size_t n, void *userdata)
{
    cl_oci_blob *b = userdata;
    size_t len = size * n;

    curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &b->status);
    if (b->status != 200 || b->total + len > b->max)
        return 0;                               /* ends the transfer */
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256 * 1024;
        unsigned char *grown;

        while (cap < b->len + len)
            cap *= 2;
        if ((grown = realloc(b->data, cap)) == NULL)
            return 0;
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->total += len;
    EVP_DigestUpdate(b->sha, data, len);
    return len;
}

int cl_oci_blob_open(cl_oci_client *c, const char *repo, const char *digest, uint64_t max,
                     cl_oci_blob **out, cl_error *err)
{
    char path[700], auth[8300];
    cl_oci_call head = { .method = "HEAD", .path = path };
    cl_oci_answer a;
    cl_oci_blob *b;
    int rc;

    *out = NULL;
    if (strncmp(digest, "sha256:", 7) != 0 || strlen(digest) != 71)
        return cl_error_set(err, CL_EINVALID, "blob digest \"%.80s\" is not a sha256 digest",
                            digest);
    /* a HEAD first answers any authentication challenge and says whether
     * the blob is there; the GET then goes with the credentials it won */
    snprintf(path, sizeof(path), "/v2/%s/blobs/%s", repo, digest);
    if ((rc = cl_oci_send(c, &head, &a, err)) < 0)
        return rc;
    cl_oci_answer_free(&a);
    if (a.status == 404)
        return cl_error_set(err, CL_ENOTFOUND, "the registry has no blob %s in %s", digest, repo);
    if (a.status != 200 && a.status != 307 && a.status != 302)
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry answered %ld for blob %s",
                            a.status, digest);

    if ((b = calloc(1, sizeof(*b))) == NULL)
        return cl_error_set(err, CL_ERROR, "out of memory");
    snprintf(b->digest, sizeof(b->digest), "%s", digest);
    b->max = max;
    if ((rc = cl_oci_url(c, path, b->url, sizeof(b->url), err)) < 0) {
        free(b);
        return rc;
    }
    b->sha = EVP_MD_CTX_new();
    b->multi = curl_multi_init();
    b->easy = curl_easy_init();
    if (b->sha == NULL || b->multi == NULL || b->easy == NULL ||
        EVP_DigestInit_ex(b->sha, EVP_sha256(), NULL) != 1) {
        cl_oci_blob_close(b, NULL);
        return cl_error_set(err, CL_ERROR, "could not start the download");
    }
    if (cl_oci_auth_header(c, auth, sizeof(auth)))
        b->headers = curl_slist_append(b->headers, auth);
    memset(auth, 0, sizeof(auth));
    curl_easy_setopt(b->easy, CURLOPT_URL, b->url);
    curl_easy_setopt(b->easy, CURLOPT_HTTPHEADER, b->headers);
    curl_easy_setopt(b->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(b->easy, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(b->easy, CURLOPT_ERRORBUFFER, b->curl_err);
    curl_easy_setopt(b->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(b->easy, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(b->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    /* blobs are often served from storage elsewhere: follow, and send no
     * credentials to another host (curl drops Authorization there) */
    curl_easy_setopt(b->easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(b->easy, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(b->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(b->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(b->easy, CURLOPT_LOW_SPEED_TIME, 60L);
    if (c->http.ca_file != NULL)
        curl_easy_setopt(b->easy, CURLOPT_CAINFO, c->http.ca_file);
    if (c->http.insecure) {
        curl_easy_setopt(b->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(b->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_multi_add_handle(b->multi, b->easy);
    *out = b;
    return 0;
}

ssize_t cl_oci_blob_read(void *blob, const void **buf)
{
    cl_oci_blob *b = blob;

    b->len = 0;
    while (b->len == 0 && !b->done) {
        int running = 0, queued;
        CURLMsg *msg;

        if (curl_multi_perform(b->multi, &running) != CURLM_OK) {
            b->done = b->failed = 1;
            break;
        }
        while ((msg = curl_multi_info_read(b->multi, &queued)) != NULL)
            if (msg->msg == CURLMSG_DONE) {
                b->done = 1;
                b->result = msg->data.result;
            }
        if (running == 0)
            b->done = 1;
        if (b->len == 0 && !b->done)
            curl_multi_poll(b->multi, NULL, 0, 1000, NULL);
    }
    if (b->len > 0) {
        *buf = b->data;
        return (ssize_t)b->len;
    }
    curl_easy_getinfo(b->easy, CURLINFO_RESPONSE_CODE, &b->status);
    if (b->failed || b->result != CURLE_OK || b->status != 200) {
        b->failed = 1;
        return -1;
    }
    return 0;
}

uint64_t cl_oci_blob_size(const cl_oci_blob *b)
{
    return b->total;
}

int cl_oci_blob_close(cl_oci_blob *b, cl_error *err)
{
    const void *ignored;
    int rc = 0;

    if (b == NULL)
        return 0;
    if (b->multi != NULL && b->easy != NULL) {
        while (!b->done && cl_oci_blob_read(b, &ignored) > 0)
            ;
        if (b->status != 200 && b->status != 0)
            rc = cl_error_set(err, b->status == 404 ? CL_ENOTFOUND : CL_EUNAVAILABLE,
                              "the registry answered %ld for blob %s", b->status, b->digest);
        else if (b->total >= b->max && b->result != CURLE_OK)
            rc = cl_error_set(err, CL_EINVALID, "blob %s is larger than %llu bytes", b->digest,
                              (unsigned long long)b->max);
        else if (b->failed || b->result != CURLE_OK)
            rc = cl_error_set(err, CL_EUNAVAILABLE, "the download of blob %s broke: %s",
                              b->digest, b->curl_err[0] ? b->curl_err
                                                        : curl_easy_strerror(b->result));
        else {
            unsigned char md[32];
            char hex[CL_SHA256_HEX_LEN + 1];

            EVP_DigestFinal_ex(b->sha, md, NULL);
            cl_hex(hex, md, sizeof(md));
            if (strcmp(hex, b->digest + 7) != 0)
                rc = cl_error_set(err, CL_EINVALID, "blob %s does not match its digest: its "
                                  "%llu bytes are sha256:%s", b->digest,
                                  (unsigned long long)b->total, hex);
        }
        curl_multi_remove_handle(b->multi, b->easy);
    }
    curl_easy_cleanup(b->easy);
    curl_multi_cleanup(b->multi);
    curl_slist_free_all(b->headers);
    EVP_MD_CTX_free(b->sha);
    free(b->data);
    free(b);
    return rc;
}

int cl_oci_blob_exists(cl_oci_client *c, const char *repo, const char *digest, int *exists,
                       cl_error *err)
{
    char path[700];
    cl_oci_call head = { .method = "HEAD", .path = path };
    cl_oci_answer a;
    int rc;

    *exists = 0;
    snprintf(path, sizeof(path), "/v2/%s/blobs/%s", repo, digest);
    if ((rc = cl_oci_send(c, &head, &a, err)) < 0)
        return rc;
    cl_oci_answer_free(&a);
    if (a.status == 200)
        *exists = 1;
    else if (a.status != 404)
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry answered %ld when asked for "
                            "blob %s in %s", a.status, digest, repo);
    return 0;
}

/* An upload's next URL: the Location the registry just gave. */
static int next_location(char *dst, size_t size, const cl_oci_answer *a, const char *step,
                         cl_error *err)
{
    if (a->location[0] == '\0' || strlen(a->location) >= size)
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry gave no usable Location after "
                            "%s", step);
    memcpy(dst, a->location, strlen(a->location) + 1);
    return 0;
}

/* Start an upload session: POST .../blobs/uploads/ → 202 and its Location. */
static int upload_start(cl_oci_client *c, const char *repo, char location[4096], cl_error *err)
{
    char path[700];
    cl_oci_call post = { .method = "POST", .path = path };
    cl_oci_answer a;
    int rc;

    snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/", repo);
    if ((rc = cl_oci_send(c, &post, &a, err)) < 0)
        return rc;
    cl_oci_answer_free(&a);
    if (a.status != 202)
        return cl_error_set(err, a.status == 404 ? CL_ENOTFOUND : CL_EUNAVAILABLE,
                            "the registry answered %ld when asked to start an upload to %s",
                            a.status, repo);
    return next_location(location, 4096, &a, "starting the upload", err);
}

int cl_oci_blob_mount(cl_oci_client *c, const char *repo, const char *digest,
                      const char *from, int *mounted, cl_error *err)
{
    char path[1400];
    cl_oci_call post = { .method = "POST", .path = path };
    cl_oci_answer a;
    int rc;

    *mounted = 0;
    snprintf(path, sizeof(path), "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest, from);
    if ((rc = cl_oci_send(c, &post, &a, err)) < 0)
        return rc;
    cl_oci_answer_free(&a);
    if (a.status == 201) {
        *mounted = 1;
    } else if (a.status == 202 && a.location[0] != '\0') {
        /* declined, with an upload session we do not need: end it */
        cl_oci_call del = { .method = "DELETE", .path = a.location };
        cl_oci_answer ignored;
        cl_error quiet;

        if (cl_oci_send(c, &del, &ignored, &quiet) == 0)
            cl_oci_answer_free(&ignored);
    } else if (a.status != 202) {
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry answered %ld when asked to "
                            "mount %s into %s", a.status, digest, repo);
    }
    return 0;
}

/* PUT location?digest=... with body (the last bytes, or none). */
static int upload_finish(cl_oci_client *c, const char *location, const char *digest,
                         const void *body, size_t len, cl_error *err)
{
    char url[4200];
    cl_oci_call put = { .method = "PUT", .path = url, .content_type = "application/octet-stream",
                        .body = body, .body_len = len };
    cl_oci_answer a;
    int rc;

    if (snprintf(url, sizeof(url), "%s%cdigest=%s", location,
                 strchr(location, '?') ? '&' : '?', digest) >= (int)sizeof(url))
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry's upload location is too long");
    if ((rc = cl_oci_send(c, &put, &a, err)) < 0)
        return rc;
    cl_oci_answer_free(&a);
    if (a.status == 400)
        return cl_error_set(err, CL_EINVALID, "the registry refused blob %s: its bytes do not "
                            "match the digest", digest);
    if (a.status != 201)
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry answered %ld when completing "
                            "the upload of %s", a.status, digest);
    return 0;
}

int cl_oci_blob_push(cl_oci_client *c, const char *repo, const char *digest, uint64_t size,
                     ssize_t (*read)(void *ctx, const void **buf), void *ctx, cl_error *err)
{
    size_t chunk = c->chunk_size ? c->chunk_size : 16u * 1024 * 1024;
    char location[4096], range[64];
    uint64_t sent = 0;
    cl_buf pending;
    int rc;

    if ((rc = upload_start(c, repo, location, err)) < 0)
        return rc;
    cl_buf_init(&pending, chunk);
    for (;;) {
        const void *data;
        ssize_t n = read(ctx, &data);

        if (n < 0) {
            rc = cl_error_set(err, CL_EUNAVAILABLE, "reading blob %s failed", digest);
            goto done;
        }
        if (n == 0)
            break;
        while (n > 0) {
            if (pending.len == chunk) {
                /* a full chunk, and more bytes coming: PATCH it */
                cl_oci_call patch = { .method = "PATCH", .path = location,
                                      .content_type = "application/octet-stream",
                                      .content_range = range, .body = pending.data,
                                      .body_len = pending.len };
                cl_oci_answer a;

                if (sent + pending.len >= size) {
                    rc = cl_error_set(err, CL_EINVALID, "blob %s has more than the %llu bytes "
                                      "expected", digest, (unsigned long long)size);
                    goto done;
                }
                snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)sent,
                         (unsigned long long)(sent + pending.len - 1));
                if ((rc = cl_oci_send(c, &patch, &a, err)) < 0)
                    goto done;
                cl_oci_answer_free(&a);
                if (a.status != 202) {
                    rc = cl_error_set(err, CL_EUNAVAILABLE, "the registry answered %ld to a "
                                      "chunk of %s at %s", a.status, digest, range);
                    goto done;
                }
                if ((rc = next_location(location, sizeof(location), &a, "a chunk", err)) < 0)
                    goto done;
                sent += pending.len;
                cl_buf_reset(&pending);
            }
            size_t take = (size_t)n < chunk - pending.len ? (size_t)n : chunk - pending.len;

            if (cl_buf_append(&pending, data, take) < 0) {
                rc = cl_error_set(err, CL_ERROR, "out of memory");
                goto done;
            }
            data = (const char *)data + take;
            n -= (ssize_t)take;
        }
    }
    if (rc == 0 && sent + pending.len != size)
        rc = cl_error_set(err, CL_EINVALID, "blob %s has %llu bytes, not the %llu expected",
                          digest, (unsigned long long)(sent + pending.len),
                          (unsigned long long)size);
    if (rc == 0)
        rc = upload_finish(c, location, digest, pending.data, pending.len, err);
done:
    cl_buf_free(&pending);
    return rc;
}

int cl_oci_blob_push_memory(cl_oci_client *c, const char *repo, const char *digest,
                            const void *data, size_t len, cl_error *err)
{
    cl_mem_source m = { data, len };

    return cl_oci_blob_push(c, repo, digest, len, cl_mem_read, &m, err);
}

int cl_oci_manifest_put(cl_oci_client *c, const char *repo, const char *reference,
                        const char *media_type, const char *body, size_t len,
                        char digest_out[72], cl_error *err)
{
    char path[700], hex[CL_SHA256_HEX_LEN + 1];
    cl_oci_call put = { .method = "PUT", .path = path, .content_type = media_type,
                        .body = body, .body_len = len };
    cl_oci_answer a;
    int rc;

    snprintf(path, sizeof(path), "/v2/%s/manifests/%s", repo, reference);
    cl_sha256_hex(hex, body, len);
    snprintf(digest_out, 72, "sha256:%s", hex);
    if ((rc = cl_oci_send(c, &put, &a, err)) < 0)
        return rc;
    cl_oci_answer_free(&a);
    if (a.status != 201)
        return cl_error_set(err, a.status == 400 ? CL_EINVALID : CL_EUNAVAILABLE,
                            "the registry answered %ld to the manifest for %s:%s", a.status,
                            repo, reference);
    if (a.digest[0] != '\0' && strcmp(a.digest, digest_out) != 0)
        return cl_error_set(err, CL_EUNAVAILABLE, "the registry stored the manifest as %s, "
                            "not %s", a.digest, digest_out);
    return 0;
}
