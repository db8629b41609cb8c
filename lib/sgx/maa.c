/* maa.c - Azure Attestation tokens; see maa.h. */
#include "sgx/maa.h"
#include "sgx/dcap.h"
#include "token.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PART_MAX CL_MAA_TOKEN_MAX

/* One base64url part of the token as JSON (a new object), or NULL. */
static json_t *json_part(const char *part, size_t len)
{
    unsigned char *bytes = malloc(len + 4);
    size_t n = 0;
    json_t *doc = NULL;

    if (bytes != NULL && cl_b64url_decode(bytes, len + 4, &n, part, len) == 0)
        doc = json_loadb((const char *)bytes, n, JSON_REJECT_DUPLICATES, NULL);
    free(bytes);
    if (doc != NULL && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

/* The public key the JWKS holds under kid: x5c[0]'s, or n and e's. */
static EVP_PKEY *jwks_key(json_t *jwks, const char *kid, char *why, size_t why_size)
{
    json_t *k;
    size_t i;

    json_array_foreach(json_object_get(jwks, "keys"), i, k) {
        const char *id = json_string_value(json_object_get(k, "kid"));
        const char *x5c = json_string_value(json_array_get(json_object_get(k, "x5c"), 0));
        EVP_PKEY *key = NULL;

        if (id == NULL || strcmp(id, kid) != 0)
            continue;
        if (x5c != NULL) {
            size_t len = strlen(x5c), n = 0;
            unsigned char *der = malloc(len + 3);
            const unsigned char *p = der;
            X509 *cert = NULL;

            if (der != NULL && cl_b64_decode(der, len + 3, &n, x5c) == 0)
                cert = d2i_X509(NULL, &p, (long)n);
            if (cert != NULL && (key = X509_get_pubkey(cert)) == NULL)
                snprintf(why, why_size, "key %s's certificate has no public key", kid);
            X509_free(cert);
            free(der);
        } else {
            const char *n64 = json_string_value(json_object_get(k, "n"));
            const char *e64 = json_string_value(json_object_get(k, "e"));
            unsigned char n[1024], e[16];
            size_t nl = 0, el = 0;
            OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
            BIGNUM *bn = NULL, *be = NULL;
            OSSL_PARAM *params = NULL;
            EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);

            if (n64 && e64 && b && ctx &&
                cl_b64url_decode(n, sizeof(n), &nl, n64, strlen(n64)) == 0 &&
                cl_b64url_decode(e, sizeof(e), &el, e64, strlen(e64)) == 0 &&
                (bn = BN_bin2bn(n, (int)nl, NULL)) && (be = BN_bin2bn(e, (int)el, NULL)) &&
                OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
                OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) &&
                (params = OSSL_PARAM_BLD_to_param(b)) && EVP_PKEY_fromdata_init(ctx) > 0)
                EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
            OSSL_PARAM_free(params);
            OSSL_PARAM_BLD_free(b);
            BN_free(bn);
            BN_free(be);
            EVP_PKEY_CTX_free(ctx);
        }
        ERR_clear_error();
        if (key != NULL && (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
                            EVP_PKEY_get_bits(key) < 2048)) {
            snprintf(why, why_size, "key %s is not an RSA key of 2048 bits or more", kid);
            EVP_PKEY_free(key);
            return NULL;
        }
        if (key == NULL && why[0] == '\0')
            snprintf(why, why_size, "key %s in the JWKS could not be read", kid);
        return key;
    }
    snprintf(why, why_size, "the JWKS has no key \"%.80s\"", kid);
    return NULL;
}

static int rs256_verify(EVP_PKEY *key, const char *signed_part, size_t len, const char *sig64,
                        size_t sig_len)
{
    unsigned char sig[1024];
    size_t n = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && cl_b64url_decode(sig, sizeof(sig), &n, sig64, sig_len) == 0 &&
             EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, sig, n, (const unsigned char *)signed_part, len) == 1;

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok;
}

/* A claim of Unix seconds, as RFC 3339, when the token has it. */
static void claim_time(json_t *o, const char *key, json_t *seconds)
{
    if (json_is_integer(seconds))
        cl_verdict_time(o, key, (time_t)json_integer_value(seconds));
}

/* The x-ms-sgx-* claims as the verdict's "quote". */
static json_t *claims_quote(json_t *c)
{
    json_t *q = json_pack("{s:O?, s:O?, s:O?, s:O?, s:b, s:O?}",
                          "mrenclave", json_object_get(c, "x-ms-sgx-mrenclave"),
                          "mrsigner", json_object_get(c, "x-ms-sgx-mrsigner"),
                          "isvprodid", json_object_get(c, "x-ms-sgx-product-id"),
                          "isvsvn", json_object_get(c, "x-ms-sgx-svn"),
                          "debug", json_is_true(json_object_get(c, "x-ms-sgx-is-debuggable")),
                          "report_data", json_object_get(c, "x-ms-sgx-report-data"));
    const char *ehd = json_string_value(json_object_get(c, "x-ms-sgx-ehd"));
    unsigned char *bytes;
    size_t n = 0;

    if (q != NULL && ehd != NULL && (bytes = malloc(strlen(ehd) + 4)) != NULL) {
        if (cl_b64url_decode(bytes, strlen(ehd) + 4, &n, ehd, strlen(ehd)) == 0) {
            char *std = malloc(((n + 2) / 3) * 4 + 1);
            if (std != NULL) {
                cl_b64_encode(std, bytes, n);
                json_object_set_new(q, "runtime_data", json_string(std));
            }
            free(std);
        }
        free(bytes);
    }
    return q;
}

int cl_maa_verify(const char *token, size_t len, const char *jwks_text, size_t jwks_len,
                  const char *issuer, time_t at, json_t **verdict, cl_error *err)
{
    json_t *header = NULL, *claims = NULL, *jwks = NULL;
    const char *dot1, *dot2;
    EVP_PKEY *key = NULL;
    char why[200] = "";
    cl_verdict j;
    int rc;

    if ((rc = cl_verdict_begin(&j, at, err)) < 0)
        return rc;

    /* token: header.claims.signature, each base64url */
    dot1 = len <= CL_MAA_TOKEN_MAX ? memchr(token, '.', len) : NULL;
    dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1)) : NULL;
    if (dot1 && dot2 && memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)) == NULL) {
        header = json_part(token, (size_t)(dot1 - token));
        claims = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    }
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    if (!cl_verdict_step(&j, "token", header && claims && alg && kid && strcmp(alg, "RS256") == 0, "%s",
              header && claims ? (alg && strcmp(alg, "RS256") == 0
                                  ? (kid ? "a JWT signed with RS256" : "the token has no kid")
                                  : "the token is not signed with RS256")
                               : "not a JWT (three base64url parts of JSON)"))
        goto done;
    json_object_set_new(j.verdict, "quote", claims_quote(claims));
    json_t *maa = json_pack("{s:O?, s:s, s:O?, s:O?}", "issuer", json_object_get(claims, "iss"),
                            "kid", kid, "attestation_type",
                            json_object_get(claims, "x-ms-attestation-type"),
                            "version", json_object_get(claims, "x-ms-ver"));
    claim_time(maa, "issued_at", json_object_get(claims, "iat"));
    claim_time(maa, "expires_at", json_object_get(claims, "exp"));
    json_object_set_new(j.verdict, "maa", maa);

    if ((jwks = json_loadb(jwks_text, jwks_len, 0, NULL)) == NULL)
        snprintf(why, sizeof(why), "the signing keys are not a JWKS");
    else
        key = jwks_key(jwks, kid, why, sizeof(why));
    if (!cl_verdict_step(&j, "signing_key", key != NULL, "%s", key ? "the instance's key named by kid"
                                                          : why) ||
        !cl_verdict_step(&j, "signature", rs256_verify(key, token, (size_t)(dot2 - token), dot2 + 1,
                                            (size_t)(token + len - dot2 - 1)), "%s",
              "the token's RS256 signature, by that key"))
        goto done;
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (!cl_verdict_step(&j, "issuer", iss && (issuer == NULL || strcmp(iss, issuer) == 0),
              "the issuer is \"%.100s\"%s%.100s", iss ? iss : "(none)",
              issuer && (!iss || strcmp(iss, issuer) != 0) ? ", not the expected " : "",
              issuer && (!iss || strcmp(iss, issuer) != 0) ? issuer : ""))
        goto done;
    json_t *nbf = json_object_get(claims, "nbf"), *exp = json_object_get(claims, "exp");
    cl_verdict_step(&j, "validity", json_is_integer(exp) && at < json_integer_value(exp) &&
                         (!json_is_integer(nbf) || json_integer_value(nbf) <= at),
         "%s", !json_is_integer(exp) ? "the token has no expiry"
         : at >= json_integer_value(exp) ? "the token has expired"
         : json_is_integer(nbf) && json_integer_value(nbf) > at ? "the token is not yet valid"
         : "valid at the verification time");
done:
    EVP_PKEY_free(key);
    json_decref(header);
    json_decref(claims);
    json_decref(jwks);
    *verdict = cl_verdict_end(&j);
    return 0;
}
