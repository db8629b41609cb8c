/* pck.c - certificates, chains, CRLs and P-256 signatures; see pck.h. */
#include "sgx/pck.h"

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_MAX 8
#define SGX_EXT "1.2.840.113741.1.13.1"

int cl_pem_chain(STACK_OF(X509) **out, const char *pem, size_t len, cl_error *err)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    X509 *cert;

    *out = sk_X509_new_null();
    if (bio == NULL || *out == NULL) {
        BIO_free(bio);
        return cl_error_set(err, CL_ERROR, "out of memory");
    }
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (sk_X509_num(*out) == CHAIN_MAX || !sk_X509_push(*out, cert)) {
            X509_free(cert);
            BIO_free(bio);
            sk_X509_pop_free(*out, X509_free);
            *out = NULL;
            return cl_error_set(err, CL_EINVALID, "a certificate chain has at most %d "
                                "certificates", CHAIN_MAX);
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    if (sk_X509_num(*out) == 0) {
        sk_X509_free(*out);
        *out = NULL;
        return cl_error_set(err, CL_EINVALID, "no PEM certificate was found");
    }
    return 0;
}

/* PEM when it looks like PEM, DER otherwise. */
static int is_pem(const uint8_t *data, size_t len)
{
    return len > 10 && memcmp(data, "-----BEGIN", 10) == 0;
}

int cl_x509_read(X509 **out, const uint8_t *data, size_t len, cl_error *err)
{
    const unsigned char *p = data;
    BIO *bio;

    if (is_pem(data, len)) {
        bio = BIO_new_mem_buf(data, (int)len);
        *out = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    } else {
        *out = d2i_X509(NULL, &p, (long)len);
    }
    ERR_clear_error();
    return *out ? 0 : cl_error_set(err, CL_EINVALID, "not an X.509 certificate (PEM or DER)");
}

int cl_crl_read(X509_CRL **out, const uint8_t *data, size_t len, cl_error *err)
{
    const unsigned char *p = data;
    BIO *bio;

    if (is_pem(data, len)) {
        bio = BIO_new_mem_buf(data, (int)len);
        *out = bio ? PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
    } else {
        *out = d2i_X509_CRL(NULL, &p, (long)len);
    }
    ERR_clear_error();
    return *out ? 0 : cl_error_set(err, CL_EINVALID, "not an X.509 CRL (PEM or DER)");
}

X509 *cl_trust_root_match(X509 *root, STACK_OF(X509) *roots)
{
    EVP_PKEY *key = X509_get0_pubkey(root);

    for (int i = 0; key != NULL && i < sk_X509_num(roots); i++) {
        EVP_PKEY *trusted = X509_get0_pubkey(sk_X509_value(roots, i));

        if (trusted != NULL && EVP_PKEY_eq(key, trusted) == 1)
            return sk_X509_value(roots, i);
    }
    return NULL;
}

static void common_name(X509 *cert, char *out, size_t size)
{
    X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;

    if (name == NULL || X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)size) < 0)
        snprintf(out, size, "(unnamed)");
}

/* ---- the cache of what was verified ---------------------------------------- */

#define CACHE_SLOTS 1024
#define OBJECT_SLOTS 256

typedef struct kept_object {
    uint8_t key[32];
    void *obj;
    void (*free_fn)(void *);
} kept_object;

struct cl_verify_cache {
    pthread_mutex_t lock;
    uint8_t keys[CACHE_SLOTS][32];
    int count;
    kept_object objects[OBJECT_SLOTS];
    int nobjects;
};

cl_verify_cache *cl_verify_cache_new(void)
{
    cl_verify_cache *c = calloc(1, sizeof(*c));

    if (c != NULL)
        pthread_mutex_init(&c->lock, NULL);
    return c;
}

void cl_verify_cache_free(cl_verify_cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < c->nobjects; i++)
        c->objects[i].free_fn(c->objects[i].obj);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int cl_verify_cache_has(cl_verify_cache *c, const uint8_t key[32])
{
    int found = 0;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->count && !found; i++)
        found = memcmp(c->keys[i], key, 32) == 0;
    pthread_mutex_unlock(&c->lock);
    return found;
}

void cl_verify_cache_add(cl_verify_cache *c, const uint8_t key[32])
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    if (c->count == CACHE_SLOTS)
        c->count = 0;               /* start over rather than keep what is stale */
    memcpy(c->keys[c->count++], key, 32);
    pthread_mutex_unlock(&c->lock);
}

void *cl_verify_cache_object(cl_verify_cache *c, const uint8_t key[32])
{
    void *obj = NULL;

    if (c == NULL)
        return NULL;
    pthread_mutex_lock(&c->lock);
    for (int i = 0; i < c->nobjects && obj == NULL; i++)
        if (memcmp(c->objects[i].key, key, 32) == 0)
            obj = c->objects[i].obj;
    pthread_mutex_unlock(&c->lock);
    return obj;
}

int cl_verify_cache_keep(cl_verify_cache *c, const uint8_t key[32], void *obj,
                         void (*free_fn)(void *))
{
    int kept = 0;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    if (c->nobjects < OBJECT_SLOTS) {
        kept_object *k = &c->objects[c->nobjects++];

        memcpy(k->key, key, 32);
        k->obj = obj;
        k->free_fn = free_fn;
        kept = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return kept;
}

/* ---- chains ----------------------------------------------------------------- */

/* SHA-256 of the DER of every certificate and CRL a chain's verdict rests on. */
static int chain_key(uint8_t key[32], X509 *leaf, STACK_OF(X509) *untrusted,
                     STACK_OF(X509) *roots, STACK_OF(X509_CRL) *crls)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    unsigned char *der;
    int n;

#define ADD(i2d, x) \
    do { \
        der = NULL; \
        if (ok && (n = i2d((x), &der)) > 0) \
            ok = EVP_DigestUpdate(md, der, (size_t)n) == 1 && EVP_DigestUpdate(md, "|", 1) == 1; \
        else \
            ok = 0; \
        OPENSSL_free(der); \
    } while (0)
    ADD(i2d_X509, leaf);
    for (int i = 0; i < sk_X509_num(untrusted); i++)
        ADD(i2d_X509, sk_X509_value(untrusted, i));
    for (int i = 0; i < sk_X509_num(roots); i++)
        ADD(i2d_X509, sk_X509_value(roots, i));
    for (int i = 0; i < sk_X509_CRL_num(crls); i++)
        ADD(i2d_X509_CRL, sk_X509_CRL_value(crls, i));
#undef ADD
    ok = ok && EVP_DigestFinal_ex(md, key, NULL) == 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

static int fail_at(cl_error *err, int code, X509 *cert)
{
    char cn[256];

    common_name(cert, cn, sizeof(cn));
    return cl_error_set(err, CL_EINVALID, "%s (at \"%s\")", X509_verify_cert_error_string(code),
                        cn);
}

/* The times OpenSSL checks, in its order: the CRLs of each certificate from
 * the leaf up, then every certificate's validity from the root down. */
static int check_times(STACK_OF(X509) *chain, STACK_OF(X509_CRL) *crls, time_t at,
                       cl_error *err)
{
    int n = sk_X509_num(chain);

    for (int i = 0; i < n - 1; i++) {
        X509 *cert = sk_X509_value(chain, i);

        for (int k = 0; k < sk_X509_CRL_num(crls); k++) {
            X509_CRL *crl = sk_X509_CRL_value(crls, k);

            if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0)
                continue;
            if (X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &at) > 0)
                return fail_at(err, X509_V_ERR_CRL_NOT_YET_VALID, cert);
            if (X509_CRL_get0_nextUpdate(crl) == NULL ||
                X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &at) < 0)
                return fail_at(err, X509_V_ERR_CRL_HAS_EXPIRED, cert);
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        X509 *cert = sk_X509_value(chain, i);

        if (X509_cmp_time(X509_get0_notBefore(cert), &at) > 0)
            return fail_at(err, X509_V_ERR_CERT_NOT_YET_VALID, cert);
        if (X509_cmp_time(X509_get0_notAfter(cert), &at) < 0)
            return fail_at(err, X509_V_ERR_CERT_HAS_EXPIRED, cert);
    }
    return 0;
}

int cl_chain_verify(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *roots,
                    STACK_OF(X509_CRL) *crls, time_t at, cl_verify_cache *cache, cl_error *err)
{
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *chain = NULL;
    uint8_t key[32];
    int keyed = cache != NULL && chain_key(key, leaf, untrusted, roots, crls) == 0;
    int rc = 0;

    if (keyed && cl_verify_cache_has(cache, key)) {
        /* verified before: the chain it built is the leaf, the untrusted
         * certificates and the root that signed the last of them */
        chain = sk_X509_new_null();
        sk_X509_push(chain, leaf);
        for (int i = 0; i < sk_X509_num(untrusted); i++)
            sk_X509_push(chain, sk_X509_value(untrusted, i));
        X509 *top = sk_X509_value(chain, sk_X509_num(chain) - 1);
        for (int i = 0; i < sk_X509_num(roots); i++)
            if (X509_check_issued(sk_X509_value(roots, i), top) == X509_V_OK) {
                sk_X509_push(chain, sk_X509_value(roots, i));
                break;
            }
        rc = check_times(chain, crls, at, err);
        sk_X509_free(chain);
        return rc;
    }
    if ((store = X509_STORE_new()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL) {
        rc = cl_error_set(err, CL_ERROR, "out of memory");
        goto done;
    }
    for (int i = 0; i < sk_X509_num(roots); i++)
        X509_STORE_add_cert(store, sk_X509_value(roots, i));
    for (int i = 0; i < sk_X509_CRL_num(crls); i++)
        X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i));
    if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
        rc = cl_error_set(err, CL_ERROR, "could not start verifying a chain");
        goto done;
    }
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, at);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
                                       X509_V_FLAG_X509_STRICT |
                                       (keyed ? X509_V_FLAG_NO_CHECK_TIME : 0));
    if (X509_verify_cert(ctx) != 1) {
        rc = fail_at(err, X509_STORE_CTX_get_error(ctx), X509_STORE_CTX_get_current_cert(ctx));
        goto done;
    }
    if (keyed) {                    /* the times, now, as they were left out */
        if ((rc = check_times(X509_STORE_CTX_get0_chain(ctx), crls, at, err)) == 0)
            cl_verify_cache_add(cache, key);
    }
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

/* ---- the SGX extension ------------------------------------------------------ */

/* The elements of a DER SEQUENCE; a new stack. */
static STACK_OF(ASN1_TYPE) *sequence(const unsigned char *der, long len)
{
    return d2i_ASN1_SEQUENCE_ANY(NULL, &der, len);
}

/* The OID of a {OID, value} pair as text, and its value. */
static ASN1_TYPE *pair(ASN1_TYPE *item, STACK_OF(ASN1_TYPE) **owner, char oid[64])
{
    *owner = NULL;
    if (item->type != V_ASN1_SEQUENCE)
        return NULL;
    *owner = sequence(item->value.sequence->data, item->value.sequence->length);
    if (*owner == NULL || sk_ASN1_TYPE_num(*owner) != 2 ||
        sk_ASN1_TYPE_value(*owner, 0)->type != V_ASN1_OBJECT ||
        OBJ_obj2txt(oid, 64, sk_ASN1_TYPE_value(*owner, 0)->value.object, 1) <= 0)
        return NULL;
    return sk_ASN1_TYPE_value(*owner, 1);
}

static int octets(ASN1_TYPE *v, uint8_t *out, int n)
{
    if (v->type != V_ASN1_OCTET_STRING || v->value.octet_string->length != n)
        return -1;
    memcpy(out, v->value.octet_string->data, (size_t)n);
    return 0;
}

static int small_int(ASN1_TYPE *v, long max, long *out)
{
    if (v->type == V_ASN1_INTEGER)
        *out = ASN1_INTEGER_get(v->value.integer);
    else if (v->type == V_ASN1_ENUMERATED)
        *out = ASN1_ENUMERATED_get(v->value.enumerated);
    else
        return -1;
    return *out < 0 || *out > max ? -1 : 0;
}

/* The TCB sequence: components 1 to 16, PCESVN (17) and CPUSVN (18). */
static int read_tcb(ASN1_TYPE *value, cl_pck_info *out)
{
    STACK_OF(ASN1_TYPE) *items;
    int found = 0, bad = 0;

    if (value->type != V_ASN1_SEQUENCE ||
        (items = sequence(value->value.sequence->data, value->value.sequence->length)) == NULL)
        return -1;
    for (int i = 0; i < sk_ASN1_TYPE_num(items) && !bad; i++) {
        STACK_OF(ASN1_TYPE) *owner;
        char oid[64];
        ASN1_TYPE *v = pair(sk_ASN1_TYPE_value(items, i), &owner, oid);
        long n = 0, which;
        char *end;

        if (v == NULL || strncmp(oid, SGX_EXT ".2.", strlen(SGX_EXT ".2.")) != 0) {
            bad = v == NULL;
        } else {
            which = strtol(oid + strlen(SGX_EXT ".2."), &end, 10);
            if (*end != '\0')
                bad = 1;
            else if (which >= 1 && which <= 16 && small_int(v, 255, &n) == 0) {
                out->components[which - 1] = (uint8_t)n;
                found |= 1;
            } else if (which == 17 && small_int(v, 65535, &n) == 0) {
                out->pcesvn = (uint16_t)n;
                found |= 2;
            } else if (which == 18 && octets(v, out->cpusvn, 16) == 0) {
                found |= 4;
            } else if (which >= 1 && which <= 18) {
                bad = 1;
            }
        }
        sk_ASN1_TYPE_pop_free(owner, ASN1_TYPE_free);
    }
    sk_ASN1_TYPE_pop_free(items, ASN1_TYPE_free);
    return !bad && found == 7 ? 0 : -1;
}

int cl_pck_info_read(X509 *pck, cl_pck_info *out, cl_error *err)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(SGX_EXT, 1);
    int idx = obj ? X509_get_ext_by_OBJ(pck, obj, -1) : -1;
    STACK_OF(ASN1_TYPE) *items = NULL;
    int found = 0, bad = 0;

    memset(out, 0, sizeof(*out));
    ASN1_OBJECT_free(obj);
    if (idx < 0)
        return cl_error_set(err, CL_EINVALID, "the PCK certificate has no SGX extension");
    ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(X509_get_ext(pck, idx));
    if ((items = sequence(data->data, data->length)) == NULL)
        return cl_error_set(err, CL_EINVALID, "the PCK certificate's SGX extension is not a "
                            "DER sequence");
    for (int i = 0; i < sk_ASN1_TYPE_num(items) && !bad; i++) {
        STACK_OF(ASN1_TYPE) *owner;
        char oid[64];
        ASN1_TYPE *v = pair(sk_ASN1_TYPE_value(items, i), &owner, oid);
        long type = 0;
        int seen = 0, ok = 1;

        if (v == NULL)
            ok = 0;
        else if (strcmp(oid, SGX_EXT ".1") == 0)
            seen = 1, ok = octets(v, out->ppid, 16) == 0;
        else if (strcmp(oid, SGX_EXT ".2") == 0)
            seen = 2, ok = read_tcb(v, out) == 0;
        else if (strcmp(oid, SGX_EXT ".3") == 0)
            seen = 4, ok = octets(v, out->pceid, 2) == 0;
        else if (strcmp(oid, SGX_EXT ".4") == 0)
            seen = 8, ok = octets(v, out->fmspc, 6) == 0;
        else if (strcmp(oid, SGX_EXT ".5") == 0)
            seen = 16, ok = small_int(v, 2, &type) == 0;
        if (seen == 16 && ok)
            out->sgx_type = (int)type;
        found |= seen;
        bad = !ok;
        sk_ASN1_TYPE_pop_free(owner, ASN1_TYPE_free);
    }
    sk_ASN1_TYPE_pop_free(items, ASN1_TYPE_free);
    if (bad || found != 31)
        return cl_error_set(err, CL_EINVALID, "the PCK certificate's SGX extension lacks or "
                            "garbles its PPID, TCB, PCE-ID, FMSPC or SGX type");
    return 0;
}

/* ---- P-256 ---------------------------------------------------------------- */

int cl_p256_key(EVP_PKEY **out, const uint8_t xy[64], cl_error *err)
{
    uint8_t point[65] = { 0x04 };
    OSSL_PARAM params[3];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    EVP_PKEY_CTX *check = NULL;
    int ok;

    *out = NULL;
    memcpy(point + 1, xy, 64);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point,
                                                  sizeof(point));
    params[2] = OSSL_PARAM_construct_end();
    ok = ctx != NULL && EVP_PKEY_fromdata_init(ctx) > 0 &&
         EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) > 0 &&
         (check = EVP_PKEY_CTX_new(*out, NULL)) != NULL &&
         EVP_PKEY_public_check_quick(check) > 0;         /* on the curve */
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    if (!ok) {
        EVP_PKEY_free(*out);
        *out = NULL;
        return cl_error_set(err, CL_EINVALID, "the attestation key is not a P-256 point");
    }
    return 0;
}

static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256;          /* fetched once: fetching for every signature costs */

static void fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

int cl_p256_verify(EVP_PKEY *key, const uint8_t sig[64], const void *data, size_t len)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *der = NULL;
    int derlen, ok = 0;

    if (s == NULL || r == NULL || sv == NULL || md == NULL ||
        EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 256) {
        BN_free(r);
        BN_free(sv);
    } else if (ECDSA_SIG_set0(s, r, sv) != 1) {
        BN_free(r);
        BN_free(sv);
    } else if ((derlen = i2d_ECDSA_SIG(s, &der)) > 0) {
        pthread_once(&sha256_once, fetch_sha256);
        ok = EVP_DigestVerifyInit(md, NULL, sha256 ? sha256 : EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, der, (size_t)derlen, data, len) == 1;
    }
    OPENSSL_free(der);
    ECDSA_SIG_free(s);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}

int cl_p256_sign(EVP_PKEY *key, const void *data, size_t len, uint8_t out[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    const unsigned char *p = der;
    size_t n = sizeof(der);
    ECDSA_SIG *sig = NULL;
    int ok;

    ok = md != NULL && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
         EVP_DigestSign(md, der, &n, data, len) == 1 &&
         (sig = d2i_ECDSA_SIG(NULL, &p, (long)n)) != NULL &&
         BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32 &&
         BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}
