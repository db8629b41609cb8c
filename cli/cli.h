/*
 * cli.h - what the commands of `cloister` share.
 *
 * The CLI talks to cloisterd only through its REST API (like curl's src/
 * and libgit2's cli/, it never calls daemon internals).  Each file
 * cli/<noun>.c exports a table of commands; main.c joins the tables, parses
 * the global options, loads the profile, and runs one command.
 *
 * A command returns an exit code (API.md):
 *   0 ok, 1 server or network, 2 usage, 3 not found, 4 conflict or
 *   precondition, 5 authentication or permission, 6 invalid input,
 *   7 unavailable or rate limited.
 */
#ifndef CL_CLI_H
#define CL_CLI_H

#include "sgx/sigstruct.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

enum {
    CLI_OK = 0, CLI_ESERVER = 1, CLI_EUSAGE = 2, CLI_ENOTFOUND = 3, CLI_ECONFLICT = 4,
    CLI_EAUTH = 5, CLI_EINVALID = 6, CLI_EUNAVAILABLE = 7,
};

typedef enum { CLI_TABLE, CLI_JSON, CLI_YAML } cli_format;

typedef struct cli_ctx {
    /* global options, after flags, environment and profile */
    const char *profile;
    const char *url;
    const char *api_key;
    const char *account;      /* --account: act in this account for this command */
    const char *ca_file;
    int insecure;
    cli_format format;
    int quiet;
    /* the profile's stored session, when signed in with a password */
    const char *session;
    const char *csrf;
    json_t *config;           /* the whole config file (owned) */
    char config_path[4096];
} cli_ctx;

typedef int (*cli_fn)(cli_ctx *c, int argc, char **argv);

typedef struct cli_command {
    const char *noun;         /* "account"; NULL for top-level commands */
    const char *verb;         /* "list" */
    cli_fn fn;
    const char *args;         /* "NAME [--role ROLE]" */
    const char *summary;      /* one line */
    const char *example;
} cli_command;

/* ---- calling the API (client.c) --------------------------------------- */

typedef struct cli_reply {
    long status;
    json_t *body;             /* parsed JSON, or NULL */
    char *location;
    char *link;
    char *session;            /* the cloister_session cookie the answer set */
} cli_reply;

/*
 * Call the API: method, path (with query), optional JSON body (borrowed).
 * Returns 0 for 2xx with *reply filled; otherwise prints the problem's
 * title and detail (and field errors) on stderr and returns the exit code.
 */
int cli_call(cli_ctx *c, const char *method, const char *path, json_t *body,
             cli_reply *reply);
void cli_reply_free(cli_reply *reply);

/* Append "?name=value" (then "&...") to path, value percent-encoded, for
 * each of the n pairs whose value is not NULL. */
void cli_query(char *path, size_t size, const char *const *names,
               const char *const *values, size_t n);

/* GET every page of a list (following next_cursor), appending the items to
 * *items (a new array); max 0 means all. */
int cli_list(cli_ctx *c, const char *path, size_t max, json_t **items);

/*
 * Find, in the list at path (all pages), the item whose id_field or
 * name_field equals who (the name compared without case when fold is set);
 * its id goes to id.  CLI_ENOTFOUND, with a message naming `what`, when
 * there is none.
 */
int cli_find(cli_ctx *c, const char *path, const char *id_field, const char *name_field,
             int fold, const char *who, const char *what, char *id, size_t size);

/* One line of standard input (without its newline) as obj's `field`: a
 * secret, never an argument; CLI_EUSAGE saying `what` is missing. */
int cli_read_secret_line(json_t *obj, const char *field, const char *what);

/* POST path, which queues a job: print the job, or with wait follow it to
 * its end and print how it ended. */
int cli_post_job(cli_ctx *c, const char *path, int wait);

/* An app of the account by name or id: its id. */
int cli_app_id(cli_ctx *c, const char *who, char id[64]);

/* The account the caller acts in (from /v1/me), for paths that name it. */
int cli_current_account(cli_ctx *c, const char **id);

/* Follow a job until it ends: a progress bar on a terminal, plain lines
 * otherwise.  0 when it succeeded, CLI_ESERVER when it failed or was
 * canceled.  *job (may be NULL) receives the final job object. */
int cli_wait_job(cli_ctx *c, const char *id, json_t **job);

/* The 202 answer (a queued job) of an operation with --no-wait: print the
 * job's id and state when nowait, else wait for it (*job, may stay NULL,
 * the final job).  Frees reply. */
int cli_accepted(cli_ctx *c, cli_reply *reply, int nowait, json_t **job);

/* Follow a job's events as Server-Sent Events until it ends (job.c). */
int cli_follow_job(cli_ctx *c, const char *id);

/* The authentication headers for a request (client.c); lines are written
 * into the caller's buffers. */
size_t cli_auth_headers(cli_ctx *c, const char *method, const char **headers, char *auth,
                        size_t auth_size, char *csrf, size_t csrf_size);

/* Exit code for an HTTP status. */
int cli_exit_for_status(long status);

/* ---- profiles (config.c) ------------------------------------------------ */

/* A whole file of at most max bytes into *out (malloc'd, NUL-terminated);
 * CLI_EUSAGE, with a message, when it cannot be read. */
int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len);

/* A file holding one JSON object (duplicate keys refused), of at most
 * 1 MiB, into *out; CLI_EUSAGE, with a message naming the fault, when it
 * holds anything else. */
int cli_read_json_object(const char *path, json_t **out);

int cli_config_load(cli_ctx *c);
int cli_config_save(cli_ctx *c);
/* The current profile's object in c->config (created when missing). */
json_t *cli_profile(cli_ctx *c);

/* ---- output (output.c) ------------------------------------------------- */

typedef struct cli_column {
    const char *title;        /* "NAME" */
    const char *field;        /* "name"; a dotted path reaches into objects */
} cli_column;

/* Print items (an array) as the chosen format: a table with these columns,
 * the objects unchanged as JSON or YAML, or with --quiet the `id_field` of
 * each. */
void cli_print_list(cli_ctx *c, json_t *items, const cli_column *columns,
                    const char *id_field);
/* Print one object: "Field: value" lines, JSON or YAML, or its id. */
void cli_print_one(cli_ctx *c, json_t *obj, const cli_column *columns, const char *id_field);

/* GET path and print the object it answers with, as cli_print_one does. */
int cli_show(cli_ctx *c, const char *path, const cli_column *columns, const char *id_field);
/* The same for any method, with body (stolen; may be NULL). */
int cli_send_show(cli_ctx *c, const char *method, const char *path, json_t *body,
                  const cli_column *columns, const char *id_field);

/* ---- arguments (main.c) ---------------------------------------------- */

typedef struct cli_flag {
    const char *name;         /* "--role" */
    const char **value;       /* set to the value, or to "" for a switch */
    int is_switch;
    json_t *list;             /* when set, every use appends its value here */
} cli_flag;

/*
 * Take flags out of argv and leave the positional arguments, in order, in
 * pos[0..*npos).  Unknown flags and a positional count outside
 * [min_pos, max_pos] print usage and return CLI_EUSAGE.
 */
int cli_args(cli_ctx *c, const cli_command *cmd, int argc, char **argv,
             const cli_flag *flags, const char **pos, int min_pos, int max_pos, int *npos);

int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* text as a whole number from min to max into *out; else a usage error
 * naming what (a flag or an argument) and the range. */
int cli_whole(const cli_command *cmd, const char *what, const char *text, long min, long max,
              long *out);

extern const cli_command cli_session_commands[];
extern const cli_command cli_account_commands[];
extern const cli_command cli_member_commands[];
extern const cli_command cli_api_key_commands[];
extern const cli_command cli_audit_commands[];
extern const cli_command cli_app_commands[];
extern const cli_command cli_job_commands[];
extern const cli_command cli_registry_commands[];
extern const cli_command cli_image_commands[];
extern const cli_command cli_task_commands[];
extern const cli_command cli_enclave_commands[];

/* The SIGSTRUCT of an enclave made elsewhere, from path: a .sig on its own
 * or an SGX SDK signed enclave; with sgxs (may be NULL) that SGXS stream
 * must measure to the MRENCLAVE it signs (enclave.c).  *source gets
 * "sigstruct", "sgx-sdk-enclave" or "sgxs" (the API's measured_from),
 * detail a line for people, *enclave_size the size the metadata or the
 * stream names (0: neither).  The signature is not checked here.  0, or
 * a CLI exit code after saying why. */
int cli_enclave_sigstruct(const char *path, const char *sgxs, uint8_t sig[CL_SIGSTRUCT_SIZE],
                          const char **source, char detail[64], long long *enclave_size);
extern const cli_command cli_build_commands[];
extern const cli_command cli_signing_key_commands[];
extern const cli_command cli_quote_commands[];
extern const cli_command cli_attestation_commands[];
extern const cli_command cli_collateral_commands[];
extern const cli_command cli_node_commands[];
extern const cli_command cli_secret_commands[];
extern const cli_command cli_cert_commands[];
extern const cli_command cli_cluster_commands[];
extern const cli_command cli_deploy_commands[];

#endif
