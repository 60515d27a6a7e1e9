/* The REST client subcommands: login, logout, pool, capacity, reserve, list, show, cancel,
 * extend, release. Each parses its options, sends one request through client.c and prints a
 * table (or the server's JSON with -o json). Exit: 0 ok, 1 server/network error, 2 usage. */
#include "common/args.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/shared.h"
#include "cli/table.h"

#include "common/password.h"
#include "common/timeutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define OUTPUT_OPTS(o)                                                                             \
    {"--output", "-o", &(o), NULL},                                                                \
    {                                                                                              \
        "--server", NULL, &server, NULL                                                            \
    }

static const char COMMON_HELP[] =
    "Common options:\n"
    "  -o, --output table|json  output format (json prints the server's answer)\n"
    "  --server URL             server (default: saved by login, $GPUAAS_SERVER, "
    "http://127.0.0.1:8080)\n"
    "$GPUAAS_TOKEN overrides the saved token.\n";

static int want_json(const char *cmd, const char *output, int *ret)
{
    if (!output || !strcmp(output, "table")) {
        *ret = 0;
        return 0;
    }
    if (!strcmp(output, "json")) {
        *ret = 1;
        return 0;
    }
    fprintf(stderr, "gpuaas %s: -o must be table or json, not \"%s\"\n", cmd, output);
    return 2;
}

/* Sends the request; on a 2xx answer hands back the JSON, otherwise prints the error. Returns
 * 0 when *ret_json is set (2xx), else 1. */
static int call(const struct client *c, const char *method, const char *path, const json_t *body,
                json_t **ret_json)
{
    long status = 0;
    json_t *j = NULL;
    if (client_request(c, method, path, body, &status, &j) < 0)
        return 1;
    if (status < 200 || status > 299) {
        client_print_error(status, j);
        json_decref(j);
        return 1;
    }
    if (!j)
        j = json_object();
    *ret_json = j;
    return 0;
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
}

/* Formats a JSON scalar as text into buf ("-" for null/missing). */
static const char *scalar(const json_t *v, char *buf, size_t size)
{
    if (json_is_string(v) && json_string_length(v) > 0)
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, size, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
    else
        snprintf(buf, size, "-");
    return buf;
}

/* ---- login / logout ---- */

/* gpuaas login --token-stdin: the token on stdin (typed without echo on a terminal), checked
 * with GET /api/v1/me, saved. */
static int login_with_token(struct client *c, bool password_options)
{
    if (password_options) {
        fprintf(stderr, "gpuaas login: --token-stdin takes no --username or --password-stdin\n");
        return 2;
    }
    char tok[sizeof(c->token) + 2];
    /* from a terminal without echo (a pasted token stays off the screen), else one line */
    int rc = isatty(STDIN_FILENO) ? cli_read_password(0, "API token: ", tok, sizeof(tok))
                                  : cli_read_line(stdin, tok, sizeof(tok));
    if (rc < 0 || !tok[0] || strlen(tok) >= sizeof(c->token)) {
        fprintf(stderr, "gpuaas login: --token-stdin: no token on stdin\n");
        return 2;
    }
    snprintf(c->token, sizeof(c->token), "%s", tok);
    memset(tok, 0, sizeof(tok));
    json_t *me = NULL;
    if (call(c, "GET", "/api/v1/me", NULL, &me))
        return 1;
    const char *user = json_string_value(json_object_get(me, "username"));
    char name[128];
    snprintf(name, sizeof(name), "%s", user ? user : "?");
    json_decref(me);
    if (client_save(c) < 0) {
        fprintf(stderr, "gpuaas login: cannot write the credentials file\n");
        return 1;
    }
    printf("Saved the token for %s as %s\n", c->server, name);
    return 0;
}

int cmd_login(int argc, char **argv)
{
    const char *server = NULL, *username = NULL;
    int pw_stdin = 0, tok_stdin = 0;
    const struct cli_opt opts[] = {{"--server", NULL, &server, NULL},
                                   {"--username", "-u", &username, NULL},
                                   {"--password-stdin", NULL, NULL, &pw_stdin},
                                   {"--token-stdin", NULL, NULL, &tok_stdin}};
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas login [--server URL] [--username U] [--password-stdin]\n"
               "       gpuaas login [--server URL] --token-stdin\n"
               "Logs in and saves the server URL and token in a 0600 file under\n"
               "$XDG_CONFIG_HOME/gpuaas/ (or ~/.config/gpuaas/). Without --password-stdin\n"
               "the password is read from the terminal without echo. --token-stdin saves an\n"
               "API token made in the portal instead (single sign-on: the API host takes\n"
               "tokens only), after checking it with the server.\n");
        return 0;
    }
    size_t npos;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos))
        return 2;
    struct client c;
    client_load(&c, server);
    c.token[0] = '\0';
    if (tok_stdin)
        return login_with_token(&c, username || pw_stdin);
    char user[128] = "", pw[PASSWORD_MAX_LEN + 2];
    if (username) {
        snprintf(user, sizeof(user), "%s", username);
    } else {
        if (pw_stdin || !isatty(STDIN_FILENO)) {
            fprintf(stderr, "gpuaas login: --username is required with --password-stdin\n");
            return 2;
        }
        fprintf(stderr, "Username: ");
        if (cli_read_line(stdin, user, sizeof(user)) < 0 || !user[0])
            return 2;
    }
    if (cli_read_password(pw_stdin, "Password: ", pw, sizeof(pw)) < 0)
        return 2;
    json_t *body = json_pack("{s:s, s:s}", "username", user, "password", pw);
    memset(pw, 0, sizeof(pw));
    json_t *ans = NULL;
    int rc = call(&c, "POST", "/api/v1/auth/login", body, &ans);
    json_decref(body);
    if (rc)
        return rc;
    const char *token = json_string_value(json_object_get(ans, "token"));
    if (!token || strlen(token) >= sizeof(c.token)) {
        fprintf(stderr, "gpuaas login: the server's answer holds no usable token\n");
        json_decref(ans);
        return 1;
    }
    snprintf(c.token, sizeof(c.token), "%s", token);
    char exp[64] = "";
    if (json_string_value(json_object_get(ans, "expires_at")))
        snprintf(exp, sizeof(exp), "%s", json_string_value(json_object_get(ans, "expires_at")));
    json_decref(ans);
    if (client_save(&c) < 0) {
        fprintf(stderr, "gpuaas login: cannot write the credentials file\n");
        return 1;
    }
    printf("Logged in to %s as %s%s%s\n", c.server, user, exp[0] ? "; token expires " : "", exp);
    return 0;
}

int cmd_logout(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas logout\nRevokes the saved token on the server, then forgets the "
               "saved server URL and token.\n");
        return 0;
    }
    size_t npos;
    if (cli_parse(argc, argv, NULL, 0, NULL, 0, &npos))
        return 2;
    struct client c;
    if (client_load(&c, NULL) == 0 && c.token[0]) {
        long status = 0;
        json_t *answer = NULL;
        if (client_request(&c, "POST", "/api/v1/auth/logout", NULL, &status, &answer) < 0)
            fprintf(stderr, "gpuaas logout: the server was not reached; the token stays valid "
                            "until it expires\n");
        else if (status != 204 && status != 401)
            client_print_error(status, answer);
        json_decref(answer);
    }
    if (client_forget() < 0) {
        fprintf(stderr, "gpuaas logout: cannot remove the credentials file\n");
        return 1;
    }
    printf("Logged out\n");
    return 0;
}

/* ---- pool / capacity ---- */

int cmd_pool(int argc, char **argv)
{
    const char *output = NULL, *server = NULL;
    const struct cli_opt opts[] = {OUTPUT_OPTS(output)};
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas pool [-o json]\nShows the GPU pool: what can be booked.\n%s",
               COMMON_HELP);
        return 0;
    }
    size_t npos;
    int js;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos) || want_json(argv[0], output, &js))
        return 2;
    struct client c;
    client_load(&c, server);
    json_t *ans = NULL;
    if (call(&c, "GET", "/api/v1/pool", NULL, &ans))
        return 1;
    if (js) {
        print_json(ans);
        json_decref(ans);
        return 0;
    }
    const char *hdr[] = {"RESOURCE", "KIND", "PHYSICAL", "SLOTS/UNIT", "SLOTS", "MEMORY_GIB"};
    struct table *t = table_new(6, hdr);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(ans, "resources"), i, r)
    {
        char b[4][32];
        const char *row[] = {json_string_value(json_object_get(r, "name")),
                             json_string_value(json_object_get(r, "kind")),
                             scalar(json_object_get(r, "physical"), b[0], 32),
                             scalar(json_object_get(r, "slots_per_unit"), b[1], 32),
                             scalar(json_object_get(r, "slots"), b[2], 32),
                             scalar(json_object_get(r, "memory_gib"), b[3], 32)};
        table_add_row(t, row);
    }
    table_print(t, stdout);
    table_free(t);
    if (json_is_true(json_object_get(json_object_get(ans, "cluster"), "simulated")))
        printf("\nThis cluster is a simulation: bookings are real, but no workspace runs and no "
               "workspace link opens.\n");
    json_decref(ans);
    return 0;
}

int cmd_capacity(int argc, char **argv)
{
    const char *output = NULL, *server = NULL, *from = NULL, *to = NULL, *step = NULL;
    const struct cli_opt opts[] = {OUTPUT_OPTS(output),
                                   {"--from", NULL, &from, NULL},
                                   {"--to", NULL, &to, NULL},
                                   {"--step", NULL, &step, NULL}};
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas capacity [--from T] [--to T] [--step SECONDS] [-o json]\n"
               "Free units per resource in each step (the minimum over the step).\n"
               "T is RFC 3339 or \"now\"; default: now for 24 hours, 1-hour steps.\n%s",
               COMMON_HELP);
        return 0;
    }
    size_t npos;
    int js;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos) || want_json(argv[0], output, &js))
        return 2;
    long long now = time_now(), f, e;
    long st = 3600;
    now -= now % 60;
    if (cli_parse_time(from ? from : "now", now, &f) < 0 ||
        (to && cli_parse_time(to, now, &e) < 0) ||
        (step && cli_parse_long(step, 60, 86400 * 31L, &st) < 0)) {
        fprintf(stderr,
                "gpuaas capacity: --from/--to take RFC 3339 or \"now\", --step 60..%ld "
                "seconds\n",
                86400 * 31L);
        return 2;
    }
    if (!to)
        e = f + 86400;
    if (e <= f) {
        fprintf(stderr, "gpuaas capacity: --to must be after --from\n");
        return 2;
    }
    char path[512] = "/api/v1/capacity", tb[RFC3339_LEN], sb[32];
    snprintf(sb, sizeof(sb), "%ld", st);
    client_query_add(path, sizeof(path), "from", time_format_rfc3339(f, tb));
    client_query_add(path, sizeof(path), "to", time_format_rfc3339(e, tb));
    client_query_add(path, sizeof(path), "step", sb);
    struct client c;
    client_load(&c, server);
    json_t *ans = NULL;
    if (call(&c, "GET", path, NULL, &ans))
        return 1;
    if (js) {
        print_json(ans);
        json_decref(ans);
        return 0;
    }
    json_t *series = json_object_get(ans, "series");
    size_t ncols = json_array_size(series);
    if (ncols > TABLE_MAX_COLS - 1)
        ncols = TABLE_MAX_COLS - 1;
    const char *hdr[TABLE_MAX_COLS] = {"FROM"};
    for (size_t i = 0; i < ncols; i++)
        hdr[i + 1] = json_string_value(json_object_get(json_array_get(series, i), "resource"));
    struct table *t = table_new((int)ncols + 1, hdr);
    const char *ansfrom = json_string_value(json_object_get(ans, "from"));
    long long t0 = f, stp = st;
    int64_t parsed;
    if (ansfrom && time_parse_rfc3339(ansfrom, &parsed) == 0)
        t0 = parsed;
    if (json_is_integer(json_object_get(ans, "step")) &&
        json_integer_value(json_object_get(ans, "step")) > 0)
        stp = json_integer_value(json_object_get(ans, "step"));
    size_t nsteps = ncols ? json_array_size(json_object_get(json_array_get(series, 0), "free")) : 0;
    for (size_t s = 0; s < nsteps; s++) {
        char cells[TABLE_MAX_COLS][32];
        const char *row[TABLE_MAX_COLS];
        row[0] = time_format_rfc3339(t0 + (long long)s * stp, cells[0]);
        for (size_t i = 0; i < ncols; i++) {
            json_t *fr = json_object_get(json_array_get(series, i), "free");
            row[i + 1] = scalar(json_array_get(fr, s), cells[i + 1], 32);
        }
        table_add_row(t, row);
    }
    table_print(t, stdout);
    table_free(t);
    json_decref(ans);
    return 0;
}

/* ---- reservations ---- */

static void reservation_row(const json_t *r, char b[][48], const char **row)
{
    row[0] = scalar(json_object_get(r, "id"), b[0], 48);
    row[1] = json_string_value(json_object_get(r, "state"));
    row[2] = json_string_value(json_object_get(r, "gpu_type"));
    row[3] = scalar(json_object_get(r, "gpu_count"), b[1], 48);
    row[4] = json_string_value(json_object_get(r, "mode"));
    row[5] = json_string_value(json_object_get(r, "starts_at"));
    row[6] = json_string_value(json_object_get(r, "ends_at"));
    row[7] = json_string_value(json_object_get(r, "user"));
    row[8] = json_string_value(json_object_get(r, "purpose"));
}

static const char *const RES_HDR[] = {"ID",    "STATE", "GPU_TYPE", "COUNT",  "MODE",
                                      "START", "END",   "USER",     "PURPOSE"};

static void print_reservations(const json_t *items)
{
    struct table *t = table_new(9, RES_HDR);
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r)
    {
        char b[2][48];
        const char *row[9];
        reservation_row(r, b, row);
        table_add_row(t, row);
    }
    table_print(t, stdout);
    table_free(t);
}

static void print_reservation(const json_t *r)
{
    static const char *const keys[] = {
        "id",      "user", "state",      "gpu_type",    "gpu_count", "mode",       "starts_at",
        "ends_at", "cpu",  "memory_gib", "storage_gib", "purpose",   "created_at", "updated_at"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        char b[48];
        printf("%-12s %s\n", keys[i], scalar(json_object_get(r, keys[i]), b, sizeof(b)));
    }
    const json_t *s = json_object_get(r, "session");
    if (json_is_object(s)) {
        static const char *const sk[] = {"namespace", "url", "phase", "message"};
        for (size_t i = 0; i < ARRAY_SIZE(sk); i++) {
            char b[48];
            printf("session.%-11s %s\n", sk[i], scalar(json_object_get(s, sk[i]), b, sizeof(b)));
        }
        if (json_is_true(json_object_get(s, "simulated")))
            printf("session.note        simulated cluster: no workspace runs, the URL does not "
                   "open\n");
    }
    const char *note = json_string_value(json_object_get(r, "admin_note"));
    if (note && *note)
        printf("%-12s %s\n", "admin_note", note);
}

static int print_one(const json_t *ans, int js)
{
    if (js)
        print_json(ans);
    else
        print_reservation(ans);
    return 0;
}

int cmd_reserve(int argc, char **argv)
{
    const char *output = NULL, *server = NULL, *type = NULL, *count = NULL, *mode = NULL,
               *start = NULL, *end = NULL, *hours = NULL, *cpu = NULL, *mem = NULL, *storage = NULL,
               *purpose = NULL;
    const struct cli_opt opts[] = {OUTPUT_OPTS(output),
                                   {"--gpu-type", NULL, &type, NULL},
                                   {"--count", NULL, &count, NULL},
                                   {"--mode", NULL, &mode, NULL},
                                   {"--start", NULL, &start, NULL},
                                   {"--end", NULL, &end, NULL},
                                   {"--hours", NULL, &hours, NULL},
                                   {"--cpu", NULL, &cpu, NULL},
                                   {"--memory", NULL, &mem, NULL},
                                   {"--storage", NULL, &storage, NULL},
                                   {"--purpose", NULL, &purpose, NULL}};
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas reserve --gpu-type T --count N --mode interactive|inference\n"
               "                      --start RFC3339|now (--end RFC3339 | --hours H)\n"
               "                      [--cpu N] [--memory GIB] [--storage GIB] [--purpose TEXT]\n"
               "Books GPU capacity for a time window. On a conflict the server's earliest\n"
               "window of the same length that fits is shown.\n"
               "  --gpu-type   resource name from 'gpuaas pool', e.g. nvidia.com/mig-1g.24gb\n"
               "  --count      physical GPUs or MIG slices (default 1)\n"
               "  --mode       interactive (workspace gets a GPU slot) or inference\n"
               "               (default interactive)\n"
               "  --hours      window length, instead of --end (e.g. 1.5)\n"
               "  --cpu, --memory, --storage  default from the server's configuration\n%s",
               COMMON_HELP);
        return 0;
    }
    size_t npos;
    int js;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos) || want_json(argv[0], output, &js))
        return 2;
    long n = 1, v;
    double h;
    long long now = time_now(), s, e;
    if (!type || !*type) {
        fprintf(stderr, "gpuaas reserve: --gpu-type is required (see 'gpuaas pool')\n");
        return 2;
    }
    if (count && cli_parse_long(count, 1, 1024, &n) < 0) {
        fprintf(stderr, "gpuaas reserve: --count must be a whole number 1..1024\n");
        return 2;
    }
    if (!mode)
        mode = "interactive";
    if (strcmp(mode, "interactive") && strcmp(mode, "inference")) {
        fprintf(stderr, "gpuaas reserve: --mode must be interactive or inference\n");
        return 2;
    }
    if (!start || cli_parse_time(start, now, &s) < 0) {
        fprintf(stderr, "gpuaas reserve: --start must be RFC 3339 (2026-12-01T09:00:00Z) or now\n");
        return 2;
    }
    if ((end != NULL) == (hours != NULL)) {
        fprintf(stderr, "gpuaas reserve: give exactly one of --end and --hours\n");
        return 2;
    }
    if (end && cli_parse_time(end, now, &e) < 0) {
        fprintf(stderr, "gpuaas reserve: --end must be RFC 3339\n");
        return 2;
    }
    if (hours) {
        if (cli_parse_double(hours, 24.0 * 366, &h) < 0) {
            fprintf(stderr, "gpuaas reserve: --hours must be a positive number\n");
            return 2;
        }
        e = s + (long long)(h * 3600.0 + 0.5);
    }
    char sb[RFC3339_LEN], eb[RFC3339_LEN];
    json_t *body = json_pack("{s:s, s:I, s:s, s:s, s:s}", "gpu_type", type, "gpu_count",
                             (json_int_t)n, "mode", mode, "starts_at", time_format_rfc3339(s, sb),
                             "ends_at", time_format_rfc3339(e, eb));
    const char *const names[] = {"cpu", "memory_gib", "storage_gib"};
    const char *const flags[] = {"--cpu", "--memory", "--storage"};
    const char *const vals[] = {cpu, mem, storage};
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        if (cli_parse_long(vals[i], 1, 1000000, &v) < 0) {
            fprintf(stderr, "gpuaas reserve: %s must be a positive whole number\n", flags[i]);
            json_decref(body);
            return 2;
        }
        json_object_set_new(body, names[i], json_integer(v));
    }
    if (purpose)
        json_object_set_new(body, "purpose", json_string(purpose));
    struct client c;
    client_load(&c, server);
    json_t *ans = NULL;
    int rc = call(&c, "POST", "/api/v1/reservations", body, &ans);
    json_decref(body);
    if (rc)
        return rc;
    print_one(ans, js);
    json_decref(ans);
    return 0;
}

int cmd_list(int argc, char **argv)
{
    const char *output = NULL, *server = NULL, *state = NULL, *from = NULL, *to = NULL,
               *user = NULL;
    const struct cli_opt opts[] = {OUTPUT_OPTS(output),
                                   {"--state", NULL, &state, NULL},
                                   {"--from", NULL, &from, NULL},
                                   {"--to", NULL, &to, NULL},
                                   {"--user", NULL, &user, NULL}};
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas list [--state S] [--from T] [--to T] [--user NAME] [-o json]\n"
               "Lists your reservations (an admin sees everyone's).\n"
               "  --state  APPROVED, ACTIVE, COMPLETED, CANCELED or FAILED\n%s",
               COMMON_HELP);
        return 0;
    }
    size_t npos;
    int js;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos) || want_json(argv[0], output, &js))
        return 2;
    char path[1024] = "/api/v1/reservations";
    if (state) {
        static const char *const states[] = {"APPROVED", "ACTIVE", "COMPLETED", "CANCELED",
                                             "FAILED"};
        int ok = 0;
        for (size_t i = 0; i < ARRAY_SIZE(states); i++)
            ok |= !strcasecmp(state, states[i]);
        if (!ok) {
            fprintf(stderr, "gpuaas list: --state must be APPROVED, ACTIVE, COMPLETED, "
                            "CANCELED or FAILED\n");
            return 2;
        }
        char up[16];
        size_t k = 0;
        for (; k < sizeof(up) - 1 && state[k]; k++)
            up[k] = (char)(state[k] >= 'a' && state[k] <= 'z' ? state[k] - 32 : state[k]);
        up[k] = '\0';
        client_query_add(path, sizeof(path), "state", up);
    }
    long long now = time_now(), t;
    char tb[RFC3339_LEN];
    const char *const tn[] = {"from", "to"};
    const char *const tv[] = {from, to};
    for (int i = 0; i < 2; i++) {
        if (!tv[i])
            continue;
        if (cli_parse_time(tv[i], now, &t) < 0) {
            fprintf(stderr, "gpuaas list: --%s must be RFC 3339 or now\n", tn[i]);
            return 2;
        }
        client_query_add(path, sizeof(path), tn[i], time_format_rfc3339(t, tb));
    }
    if (user && client_query_add(path, sizeof(path), "user", user) < 0) {
        fprintf(stderr, "gpuaas list: --user is too long\n");
        return 2;
    }
    struct client c;
    client_load(&c, server);
    json_t *ans = NULL;
    if (call(&c, "GET", path, NULL, &ans))
        return 1;
    if (js)
        print_json(ans);
    else
        print_reservations(json_object_get(ans, "items"));
    json_decref(ans);
    return 0;
}

/* `gpuaas show` of an ACTIVE session: a single-use sign-in link to its workspace (POST
 * .../workspace-ticket), or why there is none. */
static void print_workspace_link(const struct client *c, const json_t *res)
{
    const char *state = json_string_value(json_object_get(res, "state"));
    if (!state || strcmp(state, "ACTIVE"))
        return;
    char path[128];
    long status = 0;
    json_t *ans = NULL;
    snprintf(path, sizeof(path), "/api/v1/reservations/%" JSON_INTEGER_FORMAT "/workspace-ticket",
             json_integer_value(json_object_get(res, "id")));
    if (client_request(c, "POST", path, NULL, &status, &ans) < 0)
        return;
    const char *url = json_string_value(json_object_get(ans, "url"));
    const char *why = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
    if (status == 201 && url)
        printf("%-20s %s\n%-20s opens once, until %s\n", "workspace", url, "",
               json_string_value(json_object_get(ans, "expires_at")));
    else
        printf("%-20s (no sign-in link: %s)\n", "workspace", why ? why : "the server refused");
    json_decref(ans);
}

/* show / cancel / release: one reservation id, GET or POST to .../{id}[/action]. */
static int one_id(int argc, char **argv, const char *method, const char *action,
                  const char *summary)
{
    const char *output = NULL, *server = NULL, *end = NULL;
    int is_extend = action && !strcmp(action, "extend");
    const struct cli_opt opts[] = {OUTPUT_OPTS(output), {"--end", NULL, &end, NULL}};
    size_t nopts = is_extend ? 3 : 2;
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas %s ID%s [-o json]\n%s\n%s", argv[0],
               is_extend ? " --end RFC3339" : "", summary, COMMON_HELP);
        return 0;
    }
    const char *pos[1];
    size_t npos;
    int js;
    if (cli_parse(argc, argv, opts, nopts, pos, 1, &npos) || want_json(argv[0], output, &js))
        return 2;
    long id;
    if (npos != 1 || cli_parse_long(pos[0], 1, 0x7fffffffL, &id) < 0) {
        fprintf(stderr, "gpuaas %s: give one reservation ID (a positive number)\n", argv[0]);
        return 2;
    }
    json_t *body = NULL;
    if (is_extend) {
        long long e;
        char eb[RFC3339_LEN];
        if (!end || cli_parse_time(end, time_now(), &e) < 0) {
            fprintf(stderr, "gpuaas extend: --end RFC3339 is required\n");
            return 2;
        }
        body = json_pack("{s:s}", "ends_at", time_format_rfc3339(e, eb));
    }
    char path[128];
    if (action)
        snprintf(path, sizeof(path), "/api/v1/reservations/%ld/%s", id, action);
    else
        snprintf(path, sizeof(path), "/api/v1/reservations/%ld", id);
    struct client c;
    client_load(&c, server);
    json_t *ans = NULL;
    int rc = call(&c, method, path, body, &ans);
    json_decref(body);
    if (rc)
        return rc;
    print_one(ans, js);
    if (!action && !js)
        print_workspace_link(&c, ans);
    json_decref(ans);
    return 0;
}

int cmd_show(int argc, char **argv)
{
    return one_id(argc, argv, "GET", NULL, "Shows one reservation and its session.");
}

int cmd_cancel(int argc, char **argv)
{
    return one_id(argc, argv, "POST", "cancel",
                  "Cancels a reservation; an active session is torn down.");
}

int cmd_extend(int argc, char **argv)
{
    return one_id(argc, argv, "POST", "extend",
                  "Moves a reservation's end (a conflict shows the next free window).");
}

int cmd_release(int argc, char **argv)
{
    return one_id(argc, argv, "POST", "release",
                  "Ends an active session early; its capacity frees at once.");
}
