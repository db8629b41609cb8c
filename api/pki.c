/*
 * pki.c - each account's certificate authority (lib/pki.c), and its public
 * face: GET /pki/{account_id}/ca.pem and /pki/{account_id}/crl.der.
 *
 * An account's CA is made the first time anything needs it (an EC P-256
 * key, sealed at rest under the KEK with "account-ca:<account>"); two
 * requests racing to make it both try, and the first insert wins.  The
 * certificate and the CRL are public (no credentials): their URLs go inside
 * the certificates the CA issues.  The CRL is signed when asked for, from
 * the account's revoked serials, valid for seven days.
 */
#include "daemon.h"
#include "pki.h"
#include "resource.h"
#include "seal.h"
#include "token.h"

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(cl_req *r, cl_pg *db, const char *account, PGresult **res)
{
    const char *params[1] = { account };

    return cl_req_exec(r, db, res, "SELECT key_sealed, cert_pem FROM account_cas "
                       "WHERE account_id = $1", 1, params);
}

static int make(cl_req *r, cl_pg *db, const char *account)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL, *sealed = NULL, *cert_pem = NULL, aad[64];
    long n = 0;
    int rc;

    if ((rc = cl_pki_ca_new(&key, &cert, account, cl_req_err(r))) < 0)
        goto done;
    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) ||
        (n = BIO_get_mem_data(bio, &pem)) <= 0 || (cert_pem = cl_pki_pem(cert)) == NULL) {
        rc = cl_req_fail(r, CL_ERROR, "could not encode the account's CA");
        goto done;
    }
    snprintf(aad, sizeof(aad), "account-ca:%s", account);
    if ((rc = cl_seal(&sealed, cl_req_daemon(r)->kek, pem, (size_t)n, aad,
                      cl_req_err(r))) < 0)
        goto done;
    const char *params[3] = { account, sealed, cert_pem };
    rc = cl_req_exec(r, db, NULL, "INSERT INTO account_cas (account_id, key_sealed, cert_pem)"
                     " VALUES ($1, $2, $3) ON CONFLICT (account_id) DO NOTHING", 3, params);
done:
    if (pem != NULL && n > 0)
        OPENSSL_cleanse(pem, (size_t)n);       /* the key's PEM, in the BIO's memory */
    BIO_free(bio);
    free(sealed);
    free(cert_pem);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}

int cl_account_ca(cl_req *r, cl_pg *db, const char *account, X509 **cert, EVP_PKEY **key)
{
    PGresult *res;
    char *pem = NULL, aad[64];
    size_t len = 0;
    BIO *bio;
    int rc;

    *cert = NULL;
    if (key != NULL)
        *key = NULL;
    if ((rc = load(r, db, account, &res)) < 0)
        return rc;
    if (PQntuples(res) == 0 && ((rc = make(r, db, account)) < 0 ||
                                (rc = load(r, db, account, &res)) < 0))
        return rc;
    const char *cert_pem = PQgetvalue(res, 0, 1);
    if ((bio = BIO_new_mem_buf(cert_pem, -1)) != NULL)
        *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (*cert == NULL)
        return cl_req_fail(r, CL_ERROR, "the account's CA certificate could not be read");
    if (key == NULL)
        return 0;
    snprintf(aad, sizeof(aad), "account-ca:%s", account);
    if ((rc = cl_unseal(&pem, &len, cl_req_daemon(r)->kek, PQgetvalue(res, 0, 0), aad,
                        cl_req_err(r))) < 0)
        return rc;
    if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL)
        *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    OPENSSL_cleanse(pem, len);
    free(pem);
    return *key ? 0 : cl_req_fail(r, CL_ERROR, "the account's CA key could not be read");
}

/* The account named by the path, which must exist. */
static int account_of(cl_req *r, cl_pg *db, const char **account)
{
    PGresult *res;
    int rc;

    *account = cl_req_param(r, "account_id");
    if (!cl_uuid_valid(*account))
        return cl_req_fail(r, CL_ENOTFOUND, "no account \"%s\"", *account);
    const char *params[1] = { *account };
    if ((rc = cl_req_exec(r, db, &res, "SELECT 1 FROM accounts WHERE id = $1", 1, params)) < 0)
        return rc;
    return PQntuples(res) == 1 ? 0 : cl_req_fail(r, CL_ENOTFOUND, "no account \"%s\"",
                                                  *account);
}

/* GET /pki/{account_id}/ca.pem */
static int ca_pem(cl_req *r, json_t **out)
{
    const char *account;
    X509 *cert;
    cl_pg *db;
    int rc;

    (void)out;
    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = account_of(r, db, &account)) < 0 ||
        (rc = cl_account_ca(r, db, account, &cert, NULL)) < 0 ||
        (rc = cl_req_commit(r, db)) < 0) {
        return rc;
    }
    char *pem = cl_pki_pem(cert);
    X509_free(cert);
    if (pem == NULL)
        return cl_req_fail(r, CL_ERROR, "out of memory");
    cl_arena_defer(cl_req_arena(r), free, pem);
    cl_req_set_header(r, "Cache-Control", "public, max-age=3600");
    cl_req_send(r, "application/x-pem-file", pem, strlen(pem));
    return 0;
}

/* GET /pki/{account_id}/crl.der */
static int crl_der(cl_req *r, json_t **out)
{
    const char *account;
    unsigned char *der = NULL;
    size_t len = 0;
    X509 *cert;
    EVP_PKEY *key;
    PGresult *res;
    cl_pg *db;
    int rc;

    (void)out;
    if ((rc = cl_req_begin(r, &db)) < 0 || (rc = account_of(r, db, &account)) < 0 ||
        (rc = cl_account_ca(r, db, account, &cert, &key)) < 0)
        return rc;
    const char *params[1] = { account };
    if ((rc = cl_req_exec(r, db, &res, "SELECT serial FROM revoked_certificates"
                          " WHERE account_id = $1 ORDER BY serial", 1, params)) == 0) {
        const char **serials = cl_arena_alloc(cl_req_arena(r),
                                              (size_t)(PQntuples(res) + 1) * sizeof(char *));
        for (int i = 0; serials != NULL && i < PQntuples(res); i++)
            serials[i] = PQgetvalue(res, i, 0);
        rc = serials == NULL ? cl_req_fail(r, CL_ERROR, "out of memory")
           : cl_pki_crl(&der, &len, cert, key, serials, (size_t)PQntuples(res), time(NULL),
                        cl_req_err(r));
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    if (rc < 0 || (rc = cl_req_commit(r, db)) < 0) {
        free(der);
        return rc;
    }
    cl_arena_defer(cl_req_arena(r), free, der);
    cl_req_set_header(r, "Cache-Control", "public, max-age=300");
    cl_req_send(r, "application/pkix-crl", der, len);
    return 0;
}

const cl_route cl_pki_routes[] = {
    { "GET", "/pki/{account_id}/ca.pem",  ca_pem,  CL_PUBLIC },
    { "GET", "/pki/{account_id}/crl.der", crl_der, CL_PUBLIC },
    { NULL, NULL, NULL, 0 },
};
