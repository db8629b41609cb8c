/*
 * jwe.c - JWE with ECDH-ES and A256GCM (RFC 7516, RFC 7518).
 *
 * Encrypting: an ephemeral P-256 key agrees a secret Z with the
 * recipient's key; the Concat KDF (RFC 7518 section 4.6.2, NIST SP 800-56A)
 * derives the 256-bit content key as SHA-256(00000001 || Z || OtherInfo),
 * OtherInfo being the algorithm ID "A256GCM", empty PartyUInfo and
 * PartyVInfo (apu and apv absent), each with its 32-bit big-endian length,
 * and the key length in bits (256) as 32 bits.  The protected header
 * carries the ephemeral public key (epk); its base64url text is the AES-GCM
 * additional data.  The compact form has an empty encrypted key:
 *
 *   BASE64URL(header) . . BASE64URL(iv) . BASE64URL(ciphertext) . BASE64URL(tag)
 */
#include "jwe.h"
#include "token.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IV_LEN 12
#define TAG_LEN 16
#define HEADER_MAX 1024
#define JWE_MAX (16u * 1024 * 1024)

/* ---- the pieces ------------------------------------------------------------------- */

static int is_p256(EVP_PKEY *key)
{
    char group[32] = "";

    return key != NULL && EVP_PKEY_is_a(key, "EC") &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                          sizeof(group), NULL) &&
           strcmp(group, "prime256v1") == 0;
}

/* The shared secret of mine (private) and theirs (public): 32 bytes. */
static int agree(EVP_PKEY *mine, EVP_PKEY *theirs, unsigned char z[32])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(mine, NULL);
    size_t len = 32;
    int ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
             EVP_PKEY_derive_set_peer(ctx, theirs) == 1 &&
             EVP_PKEY_derive(ctx, z, &len) == 1 && len == 32;

    EVP_PKEY_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* The Concat KDF for "A256GCM" with no apu or apv: one SHA-256 round. */
static int concat_kdf(const unsigned char z[32], unsigned char key[32])
{
    static const unsigned char other[] = {
        0, 0, 0, 7, 'A', '2', '5', '6', 'G', 'C', 'M',  /* AlgorithmID */
        0, 0, 0, 0,                                      /* PartyUInfo */
        0, 0, 0, 0,                                      /* PartyVInfo */
        0, 0, 1, 0,                                      /* SuppPubInfo: 256 bits */
    };
    static const unsigned char counter[] = { 0, 0, 0, 1 };
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(md, counter, sizeof(counter)) == 1 &&
             EVP_DigestUpdate(md, z, 32) == 1 &&
             EVP_DigestUpdate(md, other, sizeof(other)) == 1 &&
             EVP_DigestFinal_ex(md, key, &n) == 1 && n == 32;

    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

/* AES-256-GCM, one way or the other; 0, or -1 (for decryption: not authentic). */
static int gcm(int encrypt, const unsigned char key[32], const unsigned char iv[IV_LEN],
               const char *aad, const unsigned char *in, size_t len, unsigned char *out,
               unsigned char tag[TAG_LEN])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok;

    ok = c != NULL && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) == 1 &&
         EVP_CipherInit_ex(c, NULL, NULL, key, iv, encrypt) == 1 &&
         EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         (len == 0 || EVP_CipherUpdate(c, out, &n, in, (int)len) == 1) &&
         (encrypt || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) == 1) &&
         EVP_CipherFinal_ex(c, out + (len ? n : 0), &n) == 1 &&
         (!encrypt || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1);
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

static char *b64url(const unsigned char *in, size_t len)
{
    char *out = malloc(CL_B64URL_SIZE(len));

    if (out != NULL)
        cl_b64url_encode(out, in, len);
    return out;
}

/* ---- encrypting ------------------------------------------------------------------- */

static json_t *epk_jwk(EVP_PKEY *key)
{
    BIGNUM *x = NULL, *y = NULL;
    unsigned char xb[32], yb[32];
    char xs[CL_B64URL_SIZE(32)], ys[CL_B64URL_SIZE(32)];
    json_t *jwk = NULL;

    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
        EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
        BN_bn2binpad(x, xb, 32) == 32 && BN_bn2binpad(y, yb, 32) == 32) {
        cl_b64url_encode(xs, xb, 32);
        cl_b64url_encode(ys, yb, 32);
        jwk = json_pack("{s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", xs, "y", ys);
    }
    BN_free(x);
    BN_free(y);
    return jwk;
}

int cl_jwe_encrypt(char **out, EVP_PKEY *to, const void *plaintext, size_t len, cl_error *err)
{
    EVP_PKEY *eph = NULL;
    unsigned char z[32], cek[32], iv[IV_LEN], tag[TAG_LEN], *ct = NULL;
    char *header = NULL, *h64 = NULL, *iv64 = NULL, *ct64 = NULL, *tag64 = NULL;
    json_t *jwk = NULL, *hdr = NULL;
    int rc = 0;

    *out = NULL;
    if (!is_p256(to))
        return cl_error_set(err, CL_EINVALID, "secrets are encrypted only to EC P-256 keys");
    if (len > JWE_MAX)
        return cl_error_set(err, CL_EINVALID, "the secret is too large to encrypt");
    if ((eph = EVP_EC_gen("P-256")) == NULL || (jwk = epk_jwk(eph)) == NULL ||
        agree(eph, to, z) < 0 || concat_kdf(z, cek) < 0 || RAND_bytes(iv, IV_LEN) != 1 ||
        (hdr = json_pack("{s:s, s:s, s:O}", "alg", "ECDH-ES", "enc", "A256GCM", "epk",
                         jwk)) == NULL ||
        (header = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL ||
        (h64 = b64url((const unsigned char *)header, strlen(header))) == NULL ||
        (ct = malloc(len ? len : 1)) == NULL ||
        gcm(1, cek, iv, h64, plaintext, len, ct, tag) < 0 ||
        (iv64 = b64url(iv, IV_LEN)) == NULL || (ct64 = b64url(ct, len)) == NULL ||
        (tag64 = b64url(tag, TAG_LEN)) == NULL) {
        rc = cl_error_set(err, CL_ERROR, "could not encrypt the secret");
        goto done;
    }
    size_t total = strlen(h64) + strlen(iv64) + strlen(ct64) + strlen(tag64) + 5;
    if ((*out = malloc(total)) == NULL) {
        rc = cl_error_set(err, CL_ERROR, "out of memory");
        goto done;
    }
    snprintf(*out, total, "%s..%s.%s.%s", h64, iv64, ct64, tag64);
done:
    OPENSSL_cleanse(z, sizeof(z));
    OPENSSL_cleanse(cek, sizeof(cek));
    if (ct != NULL)
        OPENSSL_cleanse(ct, len);
    free(ct);
    free(header);
    free(h64);
    free(iv64);
    free(ct64);
    free(tag64);
    json_decref(jwk);
    json_decref(hdr);
    EVP_PKEY_free(eph);
    ERR_clear_error();
    return rc;
}

/* ---- decrypting ------------------------------------------------------------------- */

/* A string member, or "" when it is absent or not a string. */
static const char *member(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));

    return s ? s : "";
}

/* The sender's ephemeral public key from the header's epk. */
static EVP_PKEY *epk_key(json_t *epk)
{
    const char *x = json_string_value(json_object_get(epk, "x"));
    const char *y = json_string_value(json_object_get(epk, "y"));
    unsigned char point[65];
    size_t xn = 0, yn = 0;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *key = NULL;

    if (!json_is_object(epk) || x == NULL || y == NULL ||
        strcmp(member(epk, "kty"), "EC") != 0 || strcmp(member(epk, "crv"), "P-256") != 0 ||
        cl_b64url_decode(point + 1, 33, &xn, x, strlen(x)) < 0 || xn != 32 ||
        cl_b64url_decode(point + 33, 33, &yn, y, strlen(y)) < 0 || yn != 32)
        return NULL;
    point[0] = 0x04;
    if ((bld = OSSL_PARAM_BLD_new()) != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) != NULL &&
        EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return key;
}

int cl_jwe_decrypt(uint8_t **out, size_t *len, EVP_PKEY *key, const char *jwe, cl_error *err)
{
    const char *part[5], *p = jwe;
    size_t plen[5], n;
    unsigned char header[HEADER_MAX], iv[IV_LEN + 3], tag[TAG_LEN + 3], z[32], cek[32];
    unsigned char *ct = NULL;
    char aad[CL_B64URL_SIZE(HEADER_MAX)];
    json_t *hdr = NULL;
    EVP_PKEY *epk = NULL;
    int rc = CL_EINVALID;

    *out = NULL;
    if (jwe == NULL || strlen(jwe) > JWE_MAX * 2)
        return cl_error_set(err, CL_EINVALID, "not a JWE");
    for (int i = 0; i < 5; i++) {
        const char *dot = strchr(p, '.');

        if ((dot == NULL) != (i == 4))
            return cl_error_set(err, CL_EINVALID, "a JWE has five parts");
        part[i] = p;
        plen[i] = dot ? (size_t)(dot - p) : strlen(p);
        p = dot ? dot + 1 : p;
    }
    if (plen[0] >= sizeof(aad) || plen[1] != 0 ||
        cl_b64url_decode(header, sizeof(header) - 1, &n, part[0], plen[0]) < 0)
        return cl_error_set(err, CL_EINVALID, "the JWE header is malformed");
    header[n] = '\0';
    memcpy(aad, part[0], plen[0]);
    aad[plen[0]] = '\0';
    hdr = json_loadb((const char *)header, n, 0, NULL);
    if (hdr == NULL ||
        strcmp(member(hdr, "alg"), "ECDH-ES") != 0 || strcmp(member(hdr, "enc"), "A256GCM") != 0 ||
        (epk = epk_key(json_object_get(hdr, "epk"))) == NULL) {
        cl_error_set(err, CL_EINVALID, "the JWE is not ECDH-ES with A256GCM to a P-256 key");
        goto done;
    }
    size_t ivn = 0, tagn = 0, ctn = 0;
    if (cl_b64url_decode(iv, sizeof(iv), &ivn, part[2], plen[2]) < 0 || ivn != IV_LEN ||
        cl_b64url_decode(tag, sizeof(tag), &tagn, part[4], plen[4]) < 0 || tagn != TAG_LEN ||
        (ct = malloc(plen[3] + 4)) == NULL ||
        (plen[3] > 0 && cl_b64url_decode(ct, plen[3] + 4, &ctn, part[3], plen[3]) < 0) ||
        (*out = malloc(ctn + 1)) == NULL) {
        cl_error_set(err, CL_EINVALID, "the JWE's parts are malformed");
        goto done;
    }
    if (agree(key, epk, z) < 0 || concat_kdf(z, cek) < 0 ||
        gcm(0, cek, iv, aad, ct, ctn, *out, tag) < 0) {
        cl_error_set(err, CL_EINVALID, "the JWE does not open with this key");
        goto done;
    }
    (*out)[ctn] = '\0';
    *len = ctn;
    rc = 0;
done:
    if (rc < 0) {
        free(*out);
        *out = NULL;
    }
    OPENSSL_cleanse(z, sizeof(z));
    OPENSSL_cleanse(cek, sizeof(cek));
    free(ct);
    json_decref(hdr);
    EVP_PKEY_free(epk);
    ERR_clear_error();
    return rc;
}
