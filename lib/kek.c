/* kek.c - see kek.h. */
#include "kek.h"
#include "digest.h"
#include "pg.h"
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cl_kek_load(unsigned char key[CL_KEK_SIZE], const char *path, cl_error *err)
{
    unsigned char buf[2 * CL_KEK_SIZE + 2];
    struct stat st;
    ssize_t n;
    int fd, rc = 0;

    if (path == NULL || path[0] == '\0')
        return cl_error_set(err, CL_EINVALID,
            "no key-encryption key: give --kek-file; make one with "
            "\"openssl rand -hex 32 > kek && chmod 600 kek\"");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return cl_error_set(err, CL_EINVALID, "could not open key-encryption key \"%s\": %s",
                            path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cl_error_set(err, CL_EINVALID, "key-encryption key \"%s\" is not a regular file",
                            path);
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        close(fd);
        return cl_error_set(err, CL_EINVALID,
            "key-encryption key \"%s\" may be read by others (mode %04o); "
            "run \"chmod 600 %s\"", path, (unsigned)(st.st_mode & 07777), path);
    }
    n = read(fd, buf, sizeof(buf));
    close(fd);

    if (n >= 2 * CL_KEK_SIZE && n <= 2 * CL_KEK_SIZE + 1 &&
        (n == 2 * CL_KEK_SIZE || buf[2 * CL_KEK_SIZE] == '\n')) {
        buf[2 * CL_KEK_SIZE] = '\0';
        if ((rc = cl_unhex(key, CL_KEK_SIZE, (const char *)buf)) == 0)
            goto done;
    }
    if (n == CL_KEK_SIZE) {
        memcpy(key, buf, CL_KEK_SIZE);
        rc = 0;
        goto done;
    }
    rc = cl_error_set(err, CL_EINVALID,
        "key-encryption key \"%s\" must hold 32 bytes or 64 hex digits", path);
done:
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* The text sealed in kek_check; what matters is only that it opens. */
#define CHECK_TEXT "cloister key-encryption key check"

int cl_kek_check(cl_pg *db, const unsigned char key[CL_KEK_SIZE], cl_error *err)
{
    char *sealed = NULL, *plain = NULL;
    PGresult *res = NULL;
    size_t len;
    int rc;

    if ((rc = cl_seal(&sealed, key, CHECK_TEXT, strlen(CHECK_TEXT), CL_KEK_CHECK_AAD, err)) < 0)
        return rc;
    const char *params[1] = { sealed };     /* the first key to come is the database's */
    rc = cl_pg_exec(NULL, db, NULL, "INSERT INTO kek_check (sealed) VALUES ($1) "
                    "ON CONFLICT (one) DO NOTHING", 1, params, err);
    free(sealed);
    if (rc < 0 || (rc = cl_pg_exec(&res, db, NULL, "SELECT sealed FROM kek_check", 0, NULL,
                                   err)) < 0)
        return cl_error_prefix(err, "could not check the key-encryption key: ");
    rc = PQntuples(res) == 1 ? cl_unseal(&plain, &len, key, PQgetvalue(res, 0, 0),
                                         CL_KEK_CHECK_AAD, err) : -1;
    PQclear(res);
    free(plain);
    if (rc < 0) {
        cl_error_clear(err);
        return cl_error_set(err, CL_EINVALID, "the key-encryption key is not the one this "
                            "database's secrets are sealed under (after `cloisterd rekey`, "
                            "give the new key to every daemon and worker)");
    }
    return 0;
}
