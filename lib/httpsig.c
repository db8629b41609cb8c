/*
 * httpsig.c - HTTP Message Signatures (RFC 9421) of node requests; the
 * form accepted is in httpsig.h.
 *
 * The signature base (RFC 9421, section 2.5) is one line per component,
 * `"<name>": <value>`, then `"@signature-params": <the inner list and its
 * parameters>`, joined by LF with none at the end.  The algorithm
 * ecdsa-p256-sha256 (section 3.3.4) signs it with ECDSA P-256 over
 * SHA-256, the signature being r and s, 32 bytes each, in base64 as a
 * byte sequence (`:...:`).
 */
#include "httpsig.h"
#include "digest.h"
#include "sgx/pck.h"
#include "token.h"

#include <ctype.h>
#include <openssl/bn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENTS "(\"@method\" \"@path\" \"date\" \"content-digest\")"
#define LABEL_MAX 32
#define BASE_MAX 8192

void cl_httpsig_digest(char out[64], const void *body, size_t len)
{
    unsigned char sum[CL_SHA256_LEN];

    cl_sha256(sum, len ? body : "", len);
    memcpy(out, "sha-256=:", 9);
    cl_b64_encode(out + 9, sum, sizeof(sum));       /* 44 characters */
    memcpy(out + 9 + 44, ":", 2);
}

/* ---- the signature base ------------------------------------------------------ */

static int base(char *out, size_t size, const char *method, const char *path, const char *date,
                const char *digest, const char *params)
{
    int n = snprintf(out, size, "\"@method\": %s\n\"@path\": %s\n\"date\": %s\n"
                     "\"content-digest\": %s\n\"@signature-params\": %s", method, path, date,
                     digest, params);

    return n > 0 && (size_t)n < size ? n : -1;
}

static void http_date(char out[40], time_t t)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), or -1. */
static time_t parse_http_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char day[4], mon[4];
    struct tm tm = { 0 };
    int used = 0;
    const char *m;

    if (s == NULL || strlen(s) != 29 ||
        sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", day, &tm.tm_mday, mon,
               &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 7 || used != 29 ||
        (m = strstr(months, mon)) == NULL || (m - months) % 3 != 0)
        return -1;
    tm.tm_mon = (int)(m - months) / 3;
    tm.tm_year -= 1900;
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -1;
    return timegm(&tm);
}

int cl_httpsig_sign(cl_httpsig_headers *h, EVP_PKEY *key, const char *keyid, const char *method,
                    const char *path, const void *body, size_t len, time_t now, cl_error *err)
{
    char text[BASE_MAX], params[192];
    uint8_t sig[64];
    int n;

    if (strlen(keyid) > CL_HTTPSIG_KEYID_MAX || strpbrk(keyid, "\"\\") != NULL)
        return cl_error_set(err, CL_EINVALID, "the key id cannot be signed with");
    http_date(h->date, now);
    cl_httpsig_digest(h->digest, body, len);
    snprintf(params, sizeof(params), COMPONENTS ";created=%lld;keyid=\"%s\";alg=\"%s\"",
             (long long)now, keyid, CL_HTTPSIG_ALG);
    if ((n = base(text, sizeof(text), method, path, h->date, h->digest, params)) < 0 ||
        cl_p256_sign(key, text, (size_t)n, sig) < 0)
        return cl_error_set(err, CL_ERROR, "the request could not be signed");
    snprintf(h->input, sizeof(h->input), "sig1=%s", params);
    memcpy(h->signature, "sig1=:", 6);
    cl_b64_encode(h->signature + 6, sig, sizeof(sig));  /* 88 characters */
    memcpy(h->signature + 6 + 88, ":", 2);
    return 0;
}

/* ---- reading Signature-Input --------------------------------------------------- */

typedef struct parsed {
    char label[LABEL_MAX + 1];
    const char *params;         /* the inner list onwards: the @signature-params value */
    long long created, expires;
    int has_created, has_expires;
    char keyid[CL_HTTPSIG_KEYID_MAX + 1];
    char alg[32];
} parsed;

static int read_label(const char **s, char label[LABEL_MAX + 1])
{
    size_t n = 0;

    if (!islower((unsigned char)**s) && **s != '*')
        return -1;
    while ((*s)[n] != '\0' && (islower((unsigned char)(*s)[n]) ||
                               isdigit((unsigned char)(*s)[n]) || strchr("_-.*", (*s)[n]))) {
        if (n == LABEL_MAX)
            return -1;
        n++;
    }
    memcpy(label, *s, n);
    label[n] = '\0';
    *s += n;
    return 0;
}

static int read_integer(const char **s, long long *out)
{
    char *end;

    if (!isdigit((unsigned char)**s))
        return -1;
    *out = strtoll(*s, &end, 10);
    if (end - *s > 15)
        return -1;
    *s = end;
    return 0;
}

/* An sf-string without escapes, of printable ASCII. */
static int read_string(const char **s, char *out, size_t size)
{
    size_t n = 0;

    if (**s != '"')
        return -1;
    for ((*s)++; **s != '"'; (*s)++) {
        if (**s < 0x20 || **s > 0x7e || **s == '\\' || n + 1 >= size)
            return -1;
        out[n++] = **s;
    }
    out[n] = '\0';
    (*s)++;
    return 0;
}

static int parse_input(const char *input, parsed *p, cl_error *err)
{
    const char *s = input;
    char key[16];

    memset(p, 0, sizeof(*p));
    if (input == NULL)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the request has no Signature-Input");
    if (strlen(input) > 512 || read_label(&s, p->label) < 0 || *s++ != '=')
        return cl_error_set(err, CL_EUNAUTHORIZED, "the Signature-Input is not one labelled "
                            "signature");
    p->params = s;
    if (strncmp(s, COMPONENTS, strlen(COMPONENTS)) != 0)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the signature must cover exactly "
                            COMPONENTS);
    s += strlen(COMPONENTS);
    while (*s == ';') {
        size_t n = 0;

        s++;
        while (islower((unsigned char)s[n]) && n < sizeof(key) - 1)
            n++;
        memcpy(key, s, n);
        key[n] = '\0';
        s += n;
        if (*s++ != '=')
            return cl_error_set(err, CL_EUNAUTHORIZED, "the Signature-Input parameter \"%s\" "
                                "has no value", key);
        int bad;
        if (strcmp(key, "created") == 0)
            bad = p->has_created++ || read_integer(&s, &p->created) < 0;
        else if (strcmp(key, "expires") == 0)
            bad = p->has_expires++ || read_integer(&s, &p->expires) < 0;
        else if (strcmp(key, "keyid") == 0)
            bad = p->keyid[0] || read_string(&s, p->keyid, sizeof(p->keyid)) < 0 ||
                  p->keyid[0] == '\0';
        else if (strcmp(key, "alg") == 0)
            bad = p->alg[0] || read_string(&s, p->alg, sizeof(p->alg)) < 0;
        else
            return cl_error_set(err, CL_EUNAUTHORIZED, "the Signature-Input parameter \"%s\" "
                                "is not one this server takes", key);
        if (bad)
            return cl_error_set(err, CL_EUNAUTHORIZED, "the Signature-Input parameter \"%s\" "
                                "is repeated or malformed", key);
    }
    if (*s != '\0')
        return cl_error_set(err, CL_EUNAUTHORIZED, "the Signature-Input has more than one "
                            "signature, or text after its parameters");
    if (!p->has_created || p->keyid[0] == '\0')
        return cl_error_set(err, CL_EUNAUTHORIZED, "the Signature-Input must give created and "
                            "keyid");
    if (p->alg[0] && strcmp(p->alg, CL_HTTPSIG_ALG) != 0)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the signature algorithm must be "
                            CL_HTTPSIG_ALG ", not \"%s\"", p->alg);
    return 0;
}

int cl_httpsig_keyid(const char *input, char keyid[CL_HTTPSIG_KEYID_MAX + 1], cl_error *err)
{
    parsed p;

    if (parse_input(input, &p, err) < 0)
        return err->code;
    memcpy(keyid, p.keyid, sizeof(p.keyid));
    return 0;
}

/* ---- verifying ------------------------------------------------------------------ */

/* SHA-256 of r || min(s, n - s): a signature and its malleated twin alike. */
static int replay_id(const unsigned char sig[64], unsigned char out[32])
{
    static const unsigned char order[32] = {       /* n, P-256's group order */
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
        0xfc, 0x63, 0x25, 0x51 };
    unsigned char low[64];
    BIGNUM *n = BN_bin2bn(order, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    BIGNUM *half = BN_new();
    int ok = n && s && half && BN_rshift1(half, n) &&
             (BN_cmp(s, half) <= 0 || BN_sub(s, n, s)) && BN_bn2binpad(s, low + 32, 32) == 32;

    memcpy(low, sig, 32);
    ok = ok && cl_sha256(out, low, sizeof(low)) == 0;
    BN_free(n);
    BN_free(s);
    BN_free(half);
    return ok;
}

static long long distance(long long a, long long b)
{
    return a > b ? a - b : b - a;
}

int cl_httpsig_verify(const cl_httpsig_request *rq, EVP_PKEY *key, time_t now, long skew,
                      cl_error *err)
{
    char digest[64], text[BASE_MAX];
    unsigned char sig[64 + 3];
    size_t label_len, sig_len = 0;
    time_t date;
    parsed p;
    int n;

    if (parse_input(rq->input, &p, err) < 0)
        return err->code;
    if (rq->date == NULL || (date = parse_http_date(rq->date)) < 0)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the request needs a Date header in the "
                            "HTTP form (\"Sun, 06 Nov 1994 08:49:37 GMT\")");
    if (distance(date, now) > skew || distance(p.created, now) > skew)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the request's Date or signature time is "
                            "more than %ld seconds from the server's clock", skew);
    if (p.has_expires && p.expires < now)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the signature has expired");
    cl_httpsig_digest(digest, rq->body, rq->len);
    if (rq->digest == NULL || strcmp(rq->digest, digest) != 0)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the Content-Digest header is missing or is "
                            "not the body's sha-256");
    label_len = strlen(p.label);
    if (rq->signature == NULL || strncmp(rq->signature, p.label, label_len) != 0 ||
        strncmp(rq->signature + label_len, "=:", 2) != 0 ||
        strlen(rq->signature) != label_len + 2 + 88 + 1 ||
        rq->signature[label_len + 2 + 88] != ':')
        return cl_error_set(err, CL_EUNAUTHORIZED, "the Signature header must be %s=:<64 bytes "
                            "in base64>:", p.label);
    char b64[89];
    memcpy(b64, rq->signature + label_len + 2, 88);
    b64[88] = '\0';
    if (cl_b64_decode(sig, sizeof(sig), &sig_len, b64) < 0 || sig_len != 64)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the Signature is not 64 bytes in base64");
    if ((n = base(text, sizeof(text), rq->method, rq->path, rq->date, rq->digest,
                  p.params)) < 0)
        return cl_error_set(err, CL_EUNAUTHORIZED, "the request's path is too long to sign");
    if (!cl_p256_verify(key, sig, text, (size_t)n))
        return cl_error_set(err, CL_EUNAUTHORIZED, "the request's signature is not the "
                            "node's");
    if (rq->replay_id != NULL && !replay_id(sig, rq->replay_id))
        return cl_error_set(err, CL_ERROR, "out of memory");
    return 0;
}
