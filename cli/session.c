/*
 * session.c - cloister login, logout, whoami.
 *
 * `login` signs in with an e-mail and password (read from the terminal
 * without echo, or from standard input with --password-stdin) and keeps the
 * session's cookie and CSRF token in the profile; with --api-key-stdin it
 * keeps an API key instead.  Either way the profile remembers the URL.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define SECRET_MAX 1024

/* Read one line into buf, without echo when it comes from a terminal. */
static int read_secret(const char *prompt, char *buf, size_t size, int from_stdin)
{
    FILE *in = stdin;
    struct termios old, quiet;
    int tty = 0;

    if (!from_stdin) {
        in = fopen("/dev/tty", "r+");
        if (in == NULL) {
            fprintf(stderr, "cloister: no terminal to read the password from; use "
                            "--password-stdin\n");
            return -1;
        }
        /* echo off before the prompt shows: TCSAFLUSH drops what was typed
         * earlier, so after the prompt it would drop what answers it */
        if (tcgetattr(fileno(in), &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tty = tcsetattr(fileno(in), TCSAFLUSH, &quiet) == 0;
        }
        fputs(prompt, in);
        fflush(in);
    }
    char *got = fgets(buf, (int)size, in);
    if (tty) {
        tcsetattr(fileno(in), TCSAFLUSH, &old);
        fputc('\n', in);
    }
    if (in != stdin)
        fclose(in);
    if (got == NULL)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int login(cli_ctx *c, int argc, char **argv)
{
    const char *email = NULL, *password_stdin = NULL, *key_stdin = NULL;
    const cli_flag flags[] = {
        { "--email", &email, 0, NULL },
        { "--password-stdin", &password_stdin, 1, NULL },
        { "--api-key-stdin", &key_stdin, 1, NULL },
        { NULL, NULL, 0, NULL },
    };
    char secret[SECRET_MAX], line[256];
    const char *pos[1];
    json_t *profile;
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_session_commands[0], argc, argv, flags, pos, 0, 0, &npos)) != 0)
        return rc;
    if (c->url == NULL)
        return cli_usage_error(&cli_session_commands[0], "give the daemon's address with --url");
    profile = cli_profile(c);
    json_object_set_new(profile, "url", json_string(c->url));
    if (c->ca_file != NULL)
        json_object_set_new(profile, "ca_file", json_string(c->ca_file));
    if (c->insecure)
        json_object_set_new(profile, "insecure", json_true());

    if (key_stdin != NULL) {
        if (read_secret("", secret, sizeof(secret), 1) < 0 || secret[0] == '\0') {
            fprintf(stderr, "cloister: no API key on standard input\n");
            return CLI_EUSAGE;
        }
        c->api_key = secret;
        c->session = NULL;
        if ((rc = cli_call(c, "GET", "/v1/me", NULL, &reply)) != 0)
            return rc;
        json_object_set_new(profile, "api_key", json_string(secret));
        json_object_del(profile, "session");
        json_object_del(profile, "csrf_token");
        json_object_del(profile, "email");
        printf("Signed in to %s with API key %s (%s in %s)\n", c->url,
               json_string_value(json_object_get(json_object_get(reply.body, "api_key"), "prefix")),
               json_string_value(json_object_get(reply.body, "role")),
               json_string_value(json_object_get(json_object_get(reply.body, "account"), "name")));
        cli_reply_free(&reply);
        return cli_config_save(c);
    }

    if (email == NULL) {
        if (password_stdin != NULL)
            return cli_usage_error(&cli_session_commands[0], "--password-stdin needs --email");
        if (read_secret("E-mail: ", line, sizeof(line), 0) < 0)
            return CLI_EUSAGE;
        email = line;
    }
    if (read_secret("Password: ", secret, sizeof(secret), password_stdin != NULL) < 0)
        return CLI_EUSAGE;
    json_t *body = json_pack("{s:s, s:s}", "email", email, "password", secret);
    c->api_key = NULL;
    c->session = NULL;
    rc = cli_call(c, "POST", "/v1/session", body, &reply);
    json_decref(body);
    memset(secret, 0, sizeof(secret));
    if (rc != 0)
        return rc;
    if (reply.session == NULL) {
        fprintf(stderr, "cloister: the server did not set a session cookie\n");
        cli_reply_free(&reply);
        return CLI_ESERVER;
    }
    json_object_set_new(profile, "session", json_string(reply.session));
    json_object_set_new(profile, "csrf_token",
                        json_copy(json_object_get(reply.body, "csrf_token")));
    json_object_set_new(profile, "email", json_string(email));
    json_object_del(profile, "api_key");
    const char *account = json_string_value(json_object_get(json_object_get(reply.body,
                                                                            "account"), "name"));
    printf("Signed in to %s as %s%s%s\n", c->url, email, account ? " in account " : "",
           account ? account : "");
    cli_reply_free(&reply);
    return cli_config_save(c);
}

static int logout(cli_ctx *c, int argc, char **argv)
{
    const char *pos[1];
    json_t *profile = cli_profile(c);
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_session_commands[1], argc, argv, NULL, pos, 0, 0, &npos)) != 0)
        return rc;
    if (c->session != NULL && c->api_key == NULL &&
        cli_call(c, "DELETE", "/v1/session", NULL, &reply) == 0)
        cli_reply_free(&reply);
    json_object_del(profile, "session");
    json_object_del(profile, "csrf_token");
    json_object_del(profile, "api_key");
    if ((rc = cli_config_save(c)) == 0 && !c->quiet)
        printf("Signed out of profile \"%s\"\n", c->profile);
    return rc;
}

static int whoami(cli_ctx *c, int argc, char **argv)
{
    static const cli_column columns[] = {
        { "KIND", "kind" }, { "USER", "user.email" }, { "API KEY", "api_key.name" },
        { "ACCOUNT", "account.name" }, { "ACCOUNT ID", "account.id" }, { "ROLE", "role" },
        { "INSTANCE ADMIN", "user.instance_admin" }, { NULL, NULL },
    };
    const char *pos[1];
    cli_reply reply;
    int npos, rc;

    if ((rc = cli_args(c, &cli_session_commands[2], argc, argv, NULL, pos, 0, 0, &npos)) != 0)
        return rc;
    if (c->api_key == NULL && c->session == NULL) {
        fprintf(stderr, "cloister: not signed in: run \"cloister login --url URL\"\n");
        return CLI_EAUTH;
    }
    if ((rc = cli_call(c, "GET", "/v1/me", NULL, &reply)) != 0)
        return rc;
    json_object_del(reply.body, "csrf_token");    /* a secret of the session */
    cli_print_one(c, reply.body, columns, "user.id");
    cli_reply_free(&reply);
    return 0;
}

const cli_command cli_session_commands[] = {
    { NULL, "login", login, "--url URL [--email E] [--password-stdin | --api-key-stdin]",
      "sign in and save the credentials in the profile",
      "cloister login --url https://cloister.example.com --email ops@example.com" },
    { NULL, "logout", logout, "", "sign out and forget the profile's credentials",
      "cloister logout" },
    { NULL, "whoami", whoami, "", "show who you are signed in as, in which account",
      "cloister whoami -o json" },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};
