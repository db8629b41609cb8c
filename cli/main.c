/*
 * main.c - `cloister`, the admin CLI: global options, the command tables,
 * help and shell completion.
 *
 *   cloister [GLOBAL OPTIONS] NOUN VERB [ARGS]     e.g. cloister member add ...
 *   cloister [GLOBAL OPTIONS] login|logout|whoami|completion
 *
 * Settings come from flags, then the environment (CLOISTER_URL,
 * CLOISTER_API_KEY, CLOISTER_PROFILE), then the profile saved by `login`.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CLI_VERSION "0.1.0"

static const cli_command *const tables[] = {
    cli_session_commands, cli_account_commands, cli_member_commands,
    cli_api_key_commands, cli_audit_commands, cli_app_commands, cli_registry_commands,
    cli_image_commands, cli_build_commands, cli_signing_key_commands, cli_job_commands,
    cli_task_commands, cli_enclave_commands, cli_quote_commands, cli_attestation_commands,
    cli_collateral_commands, cli_node_commands, cli_secret_commands, cli_cert_commands,
    cli_cluster_commands, cli_deploy_commands, NULL,
};

static const char global_help[] =
    "global options:\n"
    "  --profile NAME        use this saved profile (env CLOISTER_PROFILE; default \"default\")\n"
    "  --url URL             the daemon, such as https://cloister.example.com (env CLOISTER_URL)\n"
    "  --api-key KEY         act with this API key (env CLOISTER_API_KEY)\n"
    "  --account ACCOUNT     act in this account (name or id) for this command\n"
    "  --ca-file FILE        trust this CA bundle for HTTPS\n"
    "  --insecure            do not verify the server's certificate\n"
    "  -o, --output FORMAT   table (default), json or yaml\n"
    "  -q, --quiet           print only ids\n"
    "  -h, --help            show help; \"cloister NOUN VERB --help\" for a command\n"
    "  --version             show the version\n";

static void command_name(const cli_command *cmd, char *out, size_t size)
{
    snprintf(out, size, "%s%s%s", cmd->noun ? cmd->noun : "", cmd->noun ? " " : "", cmd->verb);
}

static void usage(FILE *out)
{
    char name[64];

    fprintf(out, "usage: cloister [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
                 "The Cloister admin CLI: accounts, members, API keys and the audit trail of a\n"
                 "Cloister control plane, through its REST API.\n\ncommands:\n");
    for (size_t t = 0; tables[t] != NULL; t++)
        for (const cli_command *c = tables[t]; c->verb != NULL; c++) {
            command_name(c, name, sizeof(name));
            fprintf(out, "  %-22s %s\n", name, c->summary);
        }
    fprintf(out, "  %-22s %s\n\n%s\nexit codes: 0 ok, 1 server or network, 2 usage, 3 not found,"
                 " 4 conflict,\n5 authentication or permission, 6 invalid input, 7 unavailable or"
                 " rate limited\n", "completion bash|zsh", "print a shell completion script",
            global_help);
}

static void command_help(FILE *out, const cli_command *cmd)
{
    char name[64];

    command_name(cmd, name, sizeof(name));
    fprintf(out, "usage: cloister %s%s%s\n\n%s\n\nexample:\n  %s\n\n%s", name,
            cmd->args[0] ? " " : "", cmd->args, cmd->summary, cmd->example, global_help);
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
{
    char name[64];
    va_list ap;

    fputs("cloister: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd != NULL) {
        command_name(cmd, name, sizeof(name));
        fprintf(stderr, "\nusage: cloister %s %s\n", name, cmd->args);
    } else {
        fputc('\n', stderr);
    }
    return CLI_EUSAGE;
}

int cli_whole(const cli_command *cmd, const char *what, const char *text, long min, long max,
              long *out)
{
    char *end;

    errno = 0;
    *out = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || *out < min || *out > max)
        return cli_usage_error(cmd, "%s must be a whole number from %ld to %ld", what, min,
                               max);
    return 0;
}

int cli_args(cli_ctx *c, const cli_command *cmd, int argc, char **argv,
             const cli_flag *flags, const char **pos, int min_pos, int max_pos, int *npos)
{
    (void)c;
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];

        if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const cli_flag *f = NULL;

            for (size_t k = 0; flags != NULL && flags[k].name != NULL; k++)
                if (strlen(flags[k].name) == len && strncmp(flags[k].name, a, len) == 0)
                    f = &flags[k];
            if (f == NULL)
                return cli_usage_error(cmd, "unknown option \"%.*s\"", (int)len, a);
            if (f->is_switch)
                *f->value = "";
            else if (eq != NULL)
                *f->value = eq + 1;
            else if (i + 1 < argc)
                *f->value = argv[++i];
            else
                return cli_usage_error(cmd, "option \"%s\" needs a value", f->name);
            if (f->list != NULL && !f->is_switch)
                json_array_append_new(f->list, json_string(*f->value));
        } else if (*npos < max_pos) {
            pos[(*npos)++] = a;
        } else {
            return cli_usage_error(cmd, "unexpected argument \"%s\"", a);
        }
    }
    if (*npos < min_pos)
        return cli_usage_error(cmd, "missing arguments");
    return 0;
}

/* ---- completion ------------------------------------------------------- */

static int completion(const char *shell)
{
    char nouns[512] = "";

    for (size_t t = 0; tables[t] != NULL; t++)
        for (const cli_command *c = tables[t]; c->verb != NULL; c++) {
            const char *word = c->noun ? c->noun : c->verb;
            char quoted[72];

            snprintf(quoted, sizeof(quoted), " %s ", word);
            if (strstr(nouns, quoted) == NULL && strlen(nouns) + strlen(word) + 2 < sizeof(nouns))
                snprintf(nouns + strlen(nouns), sizeof(nouns) - strlen(nouns), " %s ", word);
        }
    if (strcmp(shell, "bash") == 0) {
        printf("# cloister completion for bash: source <(cloister completion bash)\n"
               "_cloister() {\n"
               "  local cur=${COMP_WORDS[COMP_CWORD]} noun=\"\" words=\"\" i\n"
               "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
               "    case ${COMP_WORDS[i]} in -*) ;; *) noun=${COMP_WORDS[i]}; break ;; esac\n"
               "  done\n"
               "  if [ -z \"$noun\" ]; then\n"
               "    COMPREPLY=($(compgen -W \"%s completion --help --version --profile --url "
               "--api-key --account --output --quiet\" -- \"$cur\"))\n"
               "    return\n"
               "  fi\n"
               "  for v in $(cloister __verbs \"$noun\" 2>/dev/null); do words=\"$words $v\"; done\n"
               "  COMPREPLY=($(compgen -W \"$words --help\" -- \"$cur\"))\n"
               "}\n"
               "complete -F _cloister cloister\n", nouns);
        return 0;
    }
    if (strcmp(shell, "zsh") == 0) {
        printf("#compdef cloister\n"
               "# cloister completion for zsh: source <(cloister completion zsh)\n"
               "_cloister() {\n"
               "  if (( CURRENT == 2 )); then\n"
               "    compadd -- %s completion\n"
               "  elif (( CURRENT == 3 )); then\n"
               "    compadd -- $(cloister __verbs \"${words[2]}\" 2>/dev/null)\n"
               "  fi\n"
               "}\n"
               "compdef _cloister cloister\n", nouns);
        return 0;
    }
    return cli_usage_error(NULL, "completion is for bash or zsh, not \"%s\"", shell);
}

/* ---- the account for this command --------------------------------------- */

static int use_account(cli_ctx *c)
{
    cli_reply me;
    json_t *accounts, *a;
    const char *want = c->account, *id = NULL;
    size_t i;
    int rc;

    if ((rc = cli_call(c, "GET", "/v1/me", NULL, &me)) != 0)
        return rc;
    accounts = json_object_get(me.body, "accounts");
    json_array_foreach(accounts, i, a) {
        const char *aid = json_string_value(json_object_get(a, "id"));
        const char *name = json_string_value(json_object_get(a, "name"));

        if ((aid && strcmp(aid, want) == 0) || (name && strcmp(name, want) == 0))
            id = aid;
    }
    if (id == NULL) {
        fprintf(stderr, "cloister: you are not a member of an account \"%s\"\n", want);
        cli_reply_free(&me);
        return CLI_ENOTFOUND;
    }
    if (c->api_key == NULL) {
        json_t *body = json_pack("{s:s}", "account_id", id);
        cli_reply r;

        rc = cli_call(c, "POST", "/v1/session/account", body, &r);
        json_decref(body);
        if (rc == 0)
            cli_reply_free(&r);
    }
    cli_reply_free(&me);
    return rc;
}

/* ---- main ----------------------------------------------------------------- */

static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
        return argv[++*i];
    return NULL;
}

int main(int argc, char **argv)
{
    cli_ctx c = { 0 };
    const char *format = NULL, *noun = NULL, *verb = NULL, *v;
    const cli_command *cmd = NULL;
    int i, rc, help = 0;

    /* global options may stand anywhere; the rest is the command and its
     * arguments, in order */
    char **rest = calloc((size_t)argc + 1, sizeof(*rest));
    int nrest = 0;
    if (rest == NULL)
        return CLI_ESERVER;
    for (i = 1; i < argc; i++) {
        if ((v = flag_value(argc, argv, &i, "--profile")) != NULL) c.profile = v;
        else if ((v = flag_value(argc, argv, &i, "--url")) != NULL) c.url = v;
        else if ((v = flag_value(argc, argv, &i, "--api-key")) != NULL) c.api_key = v;
        else if ((v = flag_value(argc, argv, &i, "--account")) != NULL) c.account = v;
        else if ((v = flag_value(argc, argv, &i, "--ca-file")) != NULL) c.ca_file = v;
        else if ((v = flag_value(argc, argv, &i, "--output")) != NULL) format = v;
        else if ((v = flag_value(argc, argv, &i, "-o")) != NULL) format = v;
        else if (strcmp(argv[i], "--insecure") == 0) c.insecure = 1;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) c.quiet = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) help = 1;
        else if (strcmp(argv[i], "--version") == 0) {
            printf("cloister %s\n", CLI_VERSION);
            free(rest);
            return 0;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    argc = nrest;
    argv = rest;
    i = 0;
    if (format == NULL || strcmp(format, "table") == 0) c.format = CLI_TABLE;
    else if (strcmp(format, "json") == 0) c.format = CLI_JSON;
    else if (strcmp(format, "yaml") == 0) c.format = CLI_YAML;
    else {
        free(rest);
        return cli_usage_error(NULL, "--output must be table, json or yaml, not \"%s\"", format);
    }

    if (i >= argc) {
        usage(help ? stdout : stderr);
        free(rest);
        return help ? 0 : CLI_EUSAGE;
    }
    noun = argv[i++];
    if (strcmp(noun, "completion") == 0) {
        rc = i < argc ? completion(argv[i])
                      : cli_usage_error(NULL, "usage: cloister completion bash|zsh");
        free(rest);
        return rc;
    }
    if (strcmp(noun, "__verbs") == 0) {     /* for the completion scripts */
        for (size_t t = 0; tables[t] != NULL && i < argc; t++)
            for (const cli_command *k = tables[t]; k->verb != NULL; k++)
                if (k->noun != NULL && strcmp(k->noun, argv[i]) == 0)
                    puts(k->verb);
        free(rest);
        return 0;
    }
    for (size_t t = 0; tables[t] != NULL && cmd == NULL; t++)
        for (const cli_command *k = tables[t]; k->verb != NULL && cmd == NULL; k++) {
            if (k->noun == NULL && strcmp(k->verb, noun) == 0)
                cmd = k;
            else if (k->noun != NULL && strcmp(k->noun, noun) == 0 && i < argc &&
                     strcmp(k->verb, argv[i]) == 0)
                cmd = k;
        }
    if (cmd == NULL) {
        verb = i < argc ? argv[i] : "";
        rc = cli_usage_error(NULL, "unknown command \"%s%s%s\"; see cloister --help", noun,
                             verb[0] ? " " : "", verb);
        free(rest);
        return rc;
    }
    if (cmd->noun != NULL)
        i++;
    if (help) {
        command_help(stdout, cmd);
        free(rest);
        return 0;
    }

    /* the profile, then the environment, then flags (already set) win */
    if (c.profile == NULL)
        c.profile = getenv("CLOISTER_PROFILE");
    if (c.profile == NULL || c.profile[0] == '\0')
        c.profile = "default";
    if ((rc = cli_config_load(&c)) != 0)
        goto done;
    json_t *p = cli_profile(&c);
    if (c.url == NULL) c.url = getenv("CLOISTER_URL");
    if (c.url == NULL) c.url = json_string_value(json_object_get(p, "url"));
    if (c.api_key == NULL) c.api_key = getenv("CLOISTER_API_KEY");
    if (c.api_key != NULL && c.api_key[0] == '\0') c.api_key = NULL;
    if (c.api_key == NULL) c.api_key = json_string_value(json_object_get(p, "api_key"));
    c.session = json_string_value(json_object_get(p, "session"));
    c.csrf = json_string_value(json_object_get(p, "csrf_token"));
    if (c.ca_file == NULL) c.ca_file = json_string_value(json_object_get(p, "ca_file"));
    if (json_is_true(json_object_get(p, "insecure"))) c.insecure = 1;

    if (c.account != NULL && strcmp(cmd->verb, "login") != 0 &&
        (rc = use_account(&c)) != 0)
        goto done;
    rc = cmd->fn(&c, argc - i, argv + i);
done:
    json_decref(c.config);
    free(rest);
    return rc;
}
