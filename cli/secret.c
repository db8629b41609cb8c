/* secret.c - cloister secret set | list | rm | generate | export: the
 * values an app's attested enclaves receive (never shown back); and
 * cloister cert list | get | revoke: the certificates they were issued. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VALUE_MAX (63 * 1024)

static const cli_column secret_columns[] = {
    { "NAME", "name" }, { "VERSION", "version" }, { "KIND", "kind" }, { "SOURCE", "source" },
    { "BY", "created_by" }, { "CREATED", "created_at" }, { NULL, NULL },
};

static int secret_path(cli_ctx *c, const char *app, const char *name, const char *verb,
                       char *path, size_t size)
{
    char id[64];
    int rc;

    if ((rc = cli_app_id(c, app, id)) != 0)
        return rc;
    snprintf(path, size, "/v1/apps/%s/secrets%s%s%s%s", id, name ? "/" : "", name ? name : "",
             verb ? "/" : "", verb ? verb : "");
    return 0;
}

/* The value from --from-file FILE, from standard input ("-"), or the
 * terminal is refused: a value is never an argument, where ps and shell
 * histories would keep it. */
static int read_value(const char *from, char **value)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc;

    if (strcmp(from, "-") != 0)
        rc = cli_read_file(from, VALUE_MAX, &bytes, &len);
    else if (isatty(STDIN_FILENO)) {
        fprintf(stderr, "cloister: give the value on standard input or with --from-file\n");
        return CLI_EUSAGE;
    } else if ((bytes = malloc(VALUE_MAX + 2)) == NULL) {
        return CLI_ESERVER;
    } else {
        len = fread(bytes, 1, VALUE_MAX + 1, stdin);
        bytes[len] = '\0';
        rc = len > VALUE_MAX ? CLI_EUSAGE : 0;
        if (rc != 0) {
            fprintf(stderr, "cloister: a secret is at most %d bytes\n", VALUE_MAX);
            free(bytes);
        }
    }
    if (rc != 0)
        return rc;
    while (len > 0 && bytes[len - 1] == '\n')   /* a file's last newline is not the value's */
        bytes[--len] = '\0';
    *value = (char *)bytes;
    return 0;
}

static int secret_set(cli_ctx *c, int argc, char **argv)
{
    const char *from = "-", *pos[2];
    const cli_flag flags[] = { { "--from-file", &from, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256], *value = NULL;
    int npos, rc;

    if ((rc = cli_args(c, &cli_secret_commands[0], argc, argv, flags, pos, 2, 2, &npos)) != 0 ||
        (rc = secret_path(c, pos[0], pos[1], NULL, path, sizeof(path))) != 0 ||
        (rc = read_value(from, &value)) != 0)
        return rc;
    json_t *body = json_pack("{s:s}", "value", value);
    memset(value, 0, strlen(value));
    free(value);
    return body ? cli_send_show(c, "PUT", path, body, secret_columns, "name") : CLI_EUSAGE;
}

static int secret_list(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_secret_commands[1], argc, argv, NULL, pos, 1, 1, &npos)) != 0 ||
        (rc = secret_path(c, pos[0], NULL, NULL, path, sizeof(path))) != 0 ||
        (rc = cli_call(c, "GET", path, NULL, &reply)) != 0)
        return rc;
    cli_print_list(c, json_object_get(reply.body, "items"), secret_columns, "name");
    cli_reply_free(&reply);
    return 0;
}

static int secret_rm(cli_ctx *c, int argc, char **argv)
{
    const char *pos[2];
    char path[256];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_secret_commands[2], argc, argv, NULL, pos, 2, 2, &npos)) != 0 ||
        (rc = secret_path(c, pos[0], pos[1], NULL, path, sizeof(path))) != 0 ||
        (rc = cli_call(c, "DELETE", path, NULL, &reply)) != 0)
        return rc;
    if (!c->quiet)
        printf("removed %s\n", pos[1]);
    cli_reply_free(&reply);
    return 0;
}

static int secret_generate(cli_ctx *c, int argc, char **argv)
{
    const char *bytes = NULL, *lifetime = NULL, *name = NULL, *pos[2];
    json_t *names = json_array();
    const cli_flag flags[] = { { "--bytes", &bytes, 0, NULL },
                               { "--certificate-for", &name, 0, names },
                               { "--lifetime", &lifetime, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256];
    cli_reply reply;
    json_t *body = NULL;
    int npos, rc;

    if ((rc = cli_args(c, &cli_secret_commands[3], argc, argv, flags, pos, 2, 2, &npos)) != 0 ||
        (rc = secret_path(c, pos[0], pos[1], "generate", path, sizeof(path))) != 0) {
        json_decref(names);
        return rc;
    }
    if (json_array_size(names) > 0)
        body = json_pack("{s:s, s:O}", "kind", "certificate", "names", names);
    else
        body = json_pack("{s:s}", "kind", "random");
    json_decref(names);
    const char *n = json_array_size(json_object_get(body, "names")) ? lifetime : bytes;
    if (n != NULL) {
        char *end;
        long long v = strtoll(n, &end, 10);
        if (*end != '\0' || end == n) {
            json_decref(body);
            return cli_usage_error(&cli_secret_commands[3], "--bytes and --lifetime take "
                                   "numbers");
        }
        json_object_set_new(body, json_object_get(body, "names") ? "lifetime" : "bytes",
                            json_integer(v));
    }
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, secret_columns, "name");
    cli_reply_free(&reply);
    return 0;
}

static int secret_export(cli_ctx *c, int argc, char **argv)
{
    const char *as = NULL, *pos[3];
    const cli_flag flags[] = { { "--as", &as, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256], to[64];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_secret_commands[4], argc, argv, flags, pos, 3, 3, &npos)) != 0 ||
        (rc = secret_path(c, pos[0], pos[1], "export", path, sizeof(path))) != 0 ||
        (rc = cli_app_id(c, pos[2], to)) != 0)
        return rc;
    json_t *body = json_pack("{s:s, s:s?}", "to_app", to, "as", as);
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, secret_columns, "name");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_secret_commands[] = {
    { "secret", "set", secret_set, "APP NAME [--from-file FILE]",
      "set a secret of the app from standard input or a file (a new version; never shown "
      "back, released only to the app's attested enclaves)",
      "printf %s \"$DB_PASSWORD\" | cloister secret set web DB_PASSWORD" },
    { "secret", "list", secret_list, "APP", "list the app's secrets: names, versions, kinds",
      "cloister secret list web" },
    { "secret", "rm", secret_rm, "APP NAME", "stop giving a secret to the app's enclaves",
      "cloister secret rm web DB_PASSWORD" },
    { "secret", "generate", secret_generate,
      "APP NAME [--bytes N | --certificate-for DNS ... [--lifetime SECONDS]]",
      "have the daemon generate a secret nobody sees: random bytes (32 by default), or a key "
      "and a certificate from the account CA",
      "cloister secret generate web SESSION_KEY --bytes 64" },
    { "secret", "export", secret_export, "APP NAME TO_APP [--as NAME]",
      "give another app's enclaves the secret too",
      "cloister secret export db PASSWORD web --as DB_PASSWORD" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

/* ---- certificates ---------------------------------------------------------------------- */

static const cli_column cert_columns[] = {
    { "ID", "id" }, { "STATE", "state" }, { "NAMES", "names" }, { "APP", "app_id" },
    { "NODE", "node_id" }, { "BUILD", "build_id" }, { "EXPIRES", "expires_at" },
    { NULL, NULL },
};

static int cert_list(cli_ctx *c, int argc, char **argv)
{
    const char *app = NULL, *pos[1];
    const cli_flag flags[] = { { "--app", &app, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[256] = "/v1/certificates", id[64];
    json_t *items;
    int npos, rc;

    if ((rc = cli_args(c, &cli_cert_commands[0], argc, argv, flags, pos, 0, 0, &npos)) != 0 ||
        (app != NULL && (rc = cli_app_id(c, app, id)) != 0))
        return rc;
    if (app != NULL)
        snprintf(path, sizeof(path), "/v1/certificates?app_id=%s", id);
    if ((rc = cli_list(c, path, 0, &items)) != 0)
        return rc;
    cli_print_list(c, items, cert_columns, "id");
    json_decref(items);
    return 0;
}

static int cert_get(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "ID", "id" }, { "STATE", "state" }, { "NAMES", "names" }, { "SERIAL", "serial" },
        { "APP", "app_id" }, { "BUILD", "build_id" }, { "NODE", "node_id" },
        { "REPORT", "report_id" }, { "EXPIRES", "expires_at" }, { "REVOKED", "revoked_at" },
        { "REASON", "revoke_reason" }, { "CERTIFICATE", "certificate" }, { NULL, NULL },
    };
    const char *pos[1];
    char path[128];
    int npos, rc;

    if ((rc = cli_args(c, &cli_cert_commands[1], argc, argv, NULL, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/certificates/%s", pos[0]);
    return cli_show(c, path, columns, "id");
}

static int cert_revoke(cli_ctx *c, int argc, char **argv)
{
    const char *reason = NULL, *pos[1];
    const cli_flag flags[] = { { "--reason", &reason, 0, NULL }, { NULL, NULL, 0, NULL } };
    char path[128];
    cli_reply reply;
    json_t *body = NULL;
    int npos, rc;

    if ((rc = cli_args(c, &cli_cert_commands[2], argc, argv, flags, pos, 1, 1, &npos)) != 0)
        return rc;
    snprintf(path, sizeof(path), "/v1/certificates/%s/revoke", pos[0]);
    if (reason != NULL)
        body = json_pack("{s:s}", "reason", reason);
    rc = cli_call(c, "POST", path, body, &reply);
    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, cert_columns, "id");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_cert_commands[] = {
    { "cert", "list", cert_list, "[--app APP]",
      "list the certificates attested enclaves received", "cloister cert list --app web" },
    { "cert", "get", cert_get, "CERTIFICATE",
      "show a certificate, with the build, node and report it was issued on",
      "cloister cert get 5d1e0c2a-3b4f-4e6a-8c9d-0e1f2a3b4c5d" },
    { "cert", "revoke", cert_revoke, "CERTIFICATE [--reason TEXT]",
      "revoke a certificate: its serial goes on the account's CRL",
      "cloister cert revoke 5d1e0c2a-3b4f-4e6a-8c9d-0e1f2a3b4c5d --reason \"key compromise\"" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
