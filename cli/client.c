/*
 * client.c - the CLI's calls to the REST API: credentials, JSON, and
 * problem documents turned into messages on stderr and exit codes.
 */
#include "cli.h"
#include "http_client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cli_exit_for_status(long status)
{
    switch (status) {
    case 400: case 422: return CLI_EINVALID;
    case 401: case 403: return CLI_EAUTH;
    case 404: return CLI_ENOTFOUND;
    case 409: case 412: return CLI_ECONFLICT;
    case 429: case 503: return CLI_EUNAVAILABLE;
    default: return status >= 200 && status < 300 ? CLI_OK : CLI_ESERVER;
    }
}

static void print_problem(long status, json_t *doc)
{
    const char *title = json_string_value(json_object_get(doc, "title"));
    const char *detail = json_string_value(json_object_get(doc, "detail"));
    json_t *errors = json_object_get(doc, "errors"), *e;
    size_t i;

    if (title == NULL) {
        fprintf(stderr, "cloister: the server answered %ld\n", status);
        return;
    }
    fprintf(stderr, "cloister: %s: %s\n", title, detail ? detail : "");
    json_array_foreach(errors, i, e)
        fprintf(stderr, "  %s: %s\n", json_string_value(json_object_get(e, "field")),
                json_string_value(json_object_get(e, "message")));
}

size_t cli_auth_headers(cli_ctx *c, const char *method, const char **headers, char *auth,
                        size_t auth_size, char *csrf, size_t csrf_size)
{
    size_t n = 0;

    if (c->api_key != NULL) {
        snprintf(auth, auth_size, "Authorization: Bearer %s", c->api_key);
        headers[n++] = auth;
    } else if (c->session != NULL) {
        snprintf(auth, auth_size, "Cookie: cloister_session=%s", c->session);
        headers[n++] = auth;
        if (strcmp(method, "GET") != 0 && c->csrf != NULL) {
            snprintf(csrf, csrf_size, "X-CSRF-Token: %s", c->csrf);
            headers[n++] = csrf;
        }
    }
    return n;
}

int cli_call(cli_ctx *c, const char *method, const char *path, json_t *body,
             cli_reply *reply)
{
    cl_http_options opt = { .ca_file = c->ca_file, .insecure = c->insecure };
    cl_http_response resp = { .keep = { "Location", "Link", "Set-Cookie", NULL } };
    char url[8192], auth[512], csrf[256];
    const char *headers[6];
    char *text = NULL;
    cl_error err = { 0 };
    size_t n = 0;
    int rc;

    memset(reply, 0, sizeof(*reply));
    if (c->url == NULL) {
        fprintf(stderr, "cloister: no server: run \"cloister login --url URL\", or give --url "
                        "or CLOISTER_URL\n");
        return CLI_EUSAGE;
    }
    snprintf(url, sizeof(url), "%s%s", c->url, path);
    headers[n++] = "Accept: application/json";
    n += cli_auth_headers(c, method, headers + n, auth, sizeof(auth), csrf, sizeof(csrf));
    if (body != NULL) {
        headers[n++] = "Content-Type: application/json";
        text = json_dumps(body, JSON_COMPACT);
    }
    headers[n] = NULL;

    rc = cl_http_request(&resp, &opt, method, url, headers, text, text ? strlen(text) : 0, &err);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "cloister: %s\n", err.message);
        cl_error_clear(&err);
        return CLI_ESERVER;     /* network: refused, timed out, TLS */
    }
    reply->status = resp.status;
    if (resp.body != NULL)
        reply->body = json_loadb(resp.body, resp.body_len, 0, NULL);
    if (cl_http_kept(&resp, "Location"))
        reply->location = strdup(cl_http_kept(&resp, "Location"));
    if (cl_http_kept(&resp, "Link"))
        reply->link = strdup(cl_http_kept(&resp, "Link"));
    const char *set = cl_http_kept(&resp, "Set-Cookie");
    if (set != NULL && strncmp(set, "cloister_session=", 17) == 0)
        reply->session = strndup(set + 17, strcspn(set + 17, ";"));
    cl_http_response_free(&resp);

    if (reply->status >= 200 && reply->status < 300)
        return CLI_OK;
    print_problem(reply->status, reply->body);
    rc = cli_exit_for_status(reply->status);
    cli_reply_free(reply);
    return rc;
}

void cli_reply_free(cli_reply *reply)
{
    json_decref(reply->body);
    free(reply->location);
    free(reply->link);
    free(reply->session);
    memset(reply, 0, sizeof(*reply));
}

void cli_query(char *path, size_t size, const char *const *names,
               const char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *e = values[i] ? cl_http_escape(values[i]) : NULL;
        size_t used = strlen(path);

        if (e == NULL)
            continue;
        snprintf(path + used, size - used, "%s%s=%s", strchr(path, '?') ? "&" : "?", names[i],
                 e);
        free(e);
    }
}

int cli_list(cli_ctx *c, const char *path, size_t max, json_t **items)
{
    char page[8192];
    char *cursor = NULL;
    int rc = 0;

    *items = json_array();
    do {
        cli_reply reply;
        json_t *got, *item;
        size_t i;

        if (cursor != NULL)
            snprintf(page, sizeof(page), "%s%scursor=%s", path, strchr(path, '?') ? "&" : "?",
                     cursor);
        else
            snprintf(page, sizeof(page), "%s", path);
        free(cursor);
        cursor = NULL;
        if ((rc = cli_call(c, "GET", page, NULL, &reply)) != 0)
            break;
        got = json_object_get(reply.body, "items");
        json_array_foreach(got, i, item) {
            if (max != 0 && json_array_size(*items) >= max)
                break;
            json_array_append(*items, item);
        }
        if (json_is_string(json_object_get(reply.body, "next_cursor")) &&
            (max == 0 || json_array_size(*items) < max))
            cursor = cl_http_escape(json_string_value(json_object_get(reply.body,
                                                                      "next_cursor")));
        cli_reply_free(&reply);
    } while (cursor != NULL);
    free(cursor);
    if (rc != 0) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

int cli_send_show(cli_ctx *c, const char *method, const char *path, json_t *body,
                  const cli_column *columns, const char *id_field)
{
    cli_reply reply;
    int rc = cli_call(c, method, path, body, &reply);

    json_decref(body);
    if (rc != 0)
        return rc;
    cli_print_one(c, reply.body, columns, id_field);
    cli_reply_free(&reply);
    return 0;
}

int cli_show(cli_ctx *c, const char *path, const cli_column *columns, const char *id_field)
{
    return cli_send_show(c, "GET", path, NULL, columns, id_field);
}

int cli_read_secret_line(json_t *obj, const char *field, const char *what)
{
    char line[8200];

    if (fgets(line, sizeof(line), stdin) == NULL) {
        fprintf(stderr, "cloister: no %s on standard input\n", what);
        return CLI_EUSAGE;
    }
    line[strcspn(line, "\r\n")] = '\0';
    json_object_set_new(obj, field, json_string(line));
    memset(line, 0, sizeof(line));
    return 0;
}

int cli_post_job(cli_ctx *c, const char *path, int wait)
{
    static const cli_column job_columns[] = {
        { "JOB", "id" }, { "STATE", "state" }, { "RESULT", "result" }, { "ERROR", "error" },
        { NULL, NULL },
    };
    cli_reply reply;
    json_t *job = NULL;
    int rc;

    if ((rc = cli_call(c, "POST", path, NULL, &reply)) != 0)
        return rc;
    if (!wait) {
        cli_print_one(c, reply.body, job_columns, "id");
        cli_reply_free(&reply);
        return 0;
    }
    rc = cli_wait_job(c, json_string_value(json_object_get(reply.body, "id")), &job);
    cli_reply_free(&reply);
    if (job != NULL)
        cli_print_one(c, job, job_columns, "id");
    json_decref(job);
    return rc;
}

int cli_app_id(cli_ctx *c, const char *who, char id[64])
{
    return cli_find(c, "/v1/apps?limit=500", "id", "name", 0, who, "app", id, 64);
}

int cli_find(cli_ctx *c, const char *path, const char *id_field, const char *name_field,
             int fold, const char *who, const char *what, char *id, size_t size)
{
    json_t *items, *item;
    size_t i;
    int rc;

    if ((rc = cli_list(c, path, 0, &items)) != 0)
        return rc;
    rc = CLI_ENOTFOUND;
    json_array_foreach(items, i, item) {
        const char *iid = json_string_value(json_object_get(item, id_field));
        const char *name = json_string_value(json_object_get(item, name_field));

        if ((iid && strcmp(iid, who) == 0) ||
            (name && (fold ? strcasecmp(name, who) : strcmp(name, who)) == 0)) {
            snprintf(id, size, "%s", iid);
            rc = 0;
            break;
        }
    }
    json_decref(items);
    if (rc != 0)
        fprintf(stderr, "cloister: no %s \"%s\" in this account\n", what, who);
    return rc;
}

int cli_current_account(cli_ctx *c, const char **id)
{
    static char current[64];
    cli_reply reply;
    int rc;

    if ((rc = cli_call(c, "GET", "/v1/me", NULL, &reply)) != 0)
        return rc;
    const char *account = json_string_value(json_object_get(json_object_get(reply.body,
                                                                            "account"), "id"));
    if (account == NULL) {
        cli_reply_free(&reply);
        fprintf(stderr, "cloister: no account chosen: run \"cloister account use ACCOUNT\"\n");
        return CLI_EUSAGE;
    }
    snprintf(current, sizeof(current), "%s", account);
    cli_reply_free(&reply);
    *id = current;
    return 0;
}
