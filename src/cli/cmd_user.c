/* `gpuaas user add|passwd|disable|list`: offline administration of user accounts, working
 * directly on the database named by --database, or by the configuration file (--config,
 * $GPUAAS_CONFIG). Every change is written to the audit log as actor "cli:<unix user>". */
#include "common/args.h"
#include "cli/commands.h"
#include "cli/shared.h"
#include "cli/table.h"

#include "common/password.h"
#include "common/timeutil.h"
#include "core/config.h"
#include "store/store.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "Usage: gpuaas user add NAME [--role admin|user] [--sso] [--password-stdin]\n"
                 "       gpuaas user passwd NAME [--password-stdin]\n"
                 "       gpuaas user disable NAME\n"
                 "       gpuaas user list\n"
                 "Manages accounts directly on the database (no server needed).\n"
                 "  --config FILE     configuration naming the database (default $GPUAAS_CONFIG)\n"
                 "  --database URL    sqlite://PATH or postgresql://... (overrides the file)\n"
                 "  --password-stdin  read the password from stdin instead of the terminal\n"
                 "  --sso             link the account to the single sign-on proxy's identity of\n"
                 "                    the same name (only linked accounts enter through it)\n"
                 "Changes are audited as cli:<unix user>.\n");
}

static void actor_name(char *buf, size_t size)
{
    const struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name)
        snprintf(buf, size, "cli:%s", pw->pw_name);
    else
        snprintf(buf, size, "cli:uid-%ld", (long)geteuid());
}

static int valid_username(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(((struct user *)0)->username))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || (ch == '@' && i > 0)))
            return 0;
    }
    return 1;
}

static int open_store(const char *config_flag, const char *db_flag, struct store **ret)
{
    struct error err = {0};
    struct config *cfg = NULL;
    const char *url = db_flag;
    int rc = 1;
    if (!url) {
        const char *path = cli_config_path(config_flag);
        if (!path) {
            fprintf(stderr, "gpuaas user: give --database URL or --config FILE "
                            "(or set GPUAAS_CONFIG)\n");
            return 2;
        }
        if (config_load_file(path, &cfg, &err) < 0) {
            fprintf(stderr, "gpuaas user: %s\n", err.message);
            return 1;
        }
        url = cfg->database.url;
    }
    if (store_open(url, ret, &err) < 0) {
        fprintf(stderr, "gpuaas user: cannot open the database: %s\n", err.message);
        goto out;
    }
    rc = 0;
out:
    config_free(cfg);
    return rc;
}

static void audit_action(struct store *st, const char *action, const char *target,
                         const char *detail)
{
    struct audit_entry e = {0};
    e.at = time_now();
    actor_name(e.actor, sizeof(e.actor));
    snprintf(e.action, sizeof(e.action), "%s", action);
    snprintf(e.target, sizeof(e.target), "%s", target);
    snprintf(e.detail, sizeof(e.detail), "%s", detail);
    if (store_audit_add(st, &e) < 0)
        fprintf(stderr, "gpuaas user: warning: the audit entry could not be written\n");
}

static void audit(struct store *st, const char *action, const struct user *u, const char *detail)
{
    char target[64];
    snprintf(target, sizeof(target), "user/%lld", (long long)u->id);
    audit_action(st, action, target, detail);
}

static int new_password(int from_stdin, char *hash, size_t size)
{
    char pw[PASSWORD_MAX_LEN + 2], again[PASSWORD_MAX_LEN + 2];
    int rc = 2;
    if (cli_read_password(from_stdin, "New password: ", pw, sizeof(pw)) < 0)
        goto out;
    if (!from_stdin) {
        if (cli_read_password(0, "Repeat password: ", again, sizeof(again)) < 0)
            goto out;
        if (strcmp(pw, again)) {
            fprintf(stderr, "gpuaas user: the passwords differ\n");
            goto out;
        }
    }
    if (strlen(pw) < 8 || strlen(pw) > PASSWORD_MAX_LEN) {
        fprintf(stderr, "gpuaas user: a password has 8 to %d characters\n", PASSWORD_MAX_LEN);
        goto out;
    }
    if (password_hash(pw, hash, size) < 0) {
        fprintf(stderr, "gpuaas user: cannot hash the password\n");
        rc = 1;
        goto out;
    }
    rc = 0;
out:
    memset(pw, 0, sizeof(pw));
    memset(again, 0, sizeof(again));
    return rc;
}

static int do_add(struct store *st, const char *name, const char *role, int sso, int pw_stdin)
{
    struct user u = {0};
    struct error err = {0};
    snprintf(u.username, sizeof(u.username), "%s", name);
    snprintf(u.role, sizeof(u.role), "%s", role);
    u.sso = sso != 0;
    u.created_at = time_now();
    int rc = new_password(pw_stdin, u.password_hash, sizeof(u.password_hash));
    if (rc)
        return rc;
    rc = store_user_create(st, &u, &u.id, &err);
    if (rc == -ERR_EXISTS) {
        fprintf(stderr, "gpuaas user add: user \"%s\" already exists\n", name);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "gpuaas user add: %s\n", err.message[0] ? err.message : "database error");
        return 1;
    }
    char detail[64];
    snprintf(detail, sizeof(detail), "{\"role\":\"%s\",\"sso\":%s}", role, sso ? "true" : "false");
    audit(st, "user.create", &u, detail);
    printf("Created %s \"%s\" (id %lld)\n", role, name, (long long)u.id);
    return 0;
}

static int find_user(struct store *st, const char *cmd, const char *name, struct user *u)
{
    int rc = store_user_get_by_name(st, name, u);
    if (rc == -ERR_NOT_FOUND) {
        fprintf(stderr, "gpuaas user %s: no user \"%s\"\n", cmd, name);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "gpuaas user %s: database error\n", cmd);
        return 1;
    }
    return 0;
}

static int do_passwd(struct store *st, const char *name, int pw_stdin)
{
    struct user u;
    struct error err = {0};
    if (find_user(st, "passwd", name, &u))
        return 1;
    char hash[sizeof(u.password_hash)];
    int rc = new_password(pw_stdin, hash, sizeof(hash));
    if (rc)
        return rc;
    if (store_user_update(st, u.id, NULL, NULL, hash, &err) < 0) {
        fprintf(stderr, "gpuaas user passwd: %s\n",
                err.message[0] ? err.message : "database error");
        return 1;
    }
    audit(st, "user.password", &u, "");
    int64_t revoked = 0; /* a new password ends every session and API token of the account */
    if (store_token_delete_user(st, u.id, 0, &revoked) < 0)
        fprintf(stderr, "gpuaas user passwd: warning: the old tokens could not be revoked; run "
                        "the command again\n");
    printf("Password of \"%s\" changed (%" PRId64 " tokens revoked)\n", name, revoked);
    return 0;
}

static int do_disable(struct store *st, const char *name)
{
    struct user u;
    struct error err = {0};
    bool yes = true;
    if (find_user(st, "disable", name, &u))
        return 1;
    if (store_user_update(st, u.id, &yes, NULL, NULL, &err) < 0) {
        fprintf(stderr, "gpuaas user disable: %s\n",
                err.message[0] ? err.message : "database error");
        return 1;
    }
    audit(st, "user.disable", &u, "");
    /* as through the API: the account's tokens stop working and its bookings end */
    int64_t revoked = 0, *ids = NULL;
    size_t n = 0;
    if (store_token_delete_user(st, u.id, 0, &revoked) < 0 ||
        store_user_end_bookings(st, u.id, time_now(), &ids, &n) < 0) {
        fprintf(stderr, "gpuaas user disable: database error while ending the user's tokens and "
                        "bookings; run the command again\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char target[64];
        snprintf(target, sizeof(target), "reservation/%" PRId64, ids[i]);
        audit_action(st, "reservation.cancel", target, "owner disabled");
    }
    free(ids);
    printf("Disabled \"%s\" (%" PRId64 " tokens revoked, %zu bookings canceled)\n", name, revoked,
           n);
    return 0;
}

static int do_list(struct store *st)
{
    struct user *users = NULL;
    size_t n = 0;
    if (store_user_list(st, &users, &n) < 0) {
        fprintf(stderr, "gpuaas user list: database error\n");
        return 1;
    }
    const char *hdr[] = {"ID", "USERNAME", "ROLE", "DISABLED", "CREATED"};
    struct table *t = table_new(5, hdr);
    for (size_t i = 0; i < n; i++) {
        char id[24], created[RFC3339_LEN];
        snprintf(id, sizeof(id), "%lld", (long long)users[i].id);
        const char *row[] = {id, users[i].username, users[i].role, users[i].disabled ? "yes" : "no",
                             time_format_rfc3339(users[i].created_at, created)};
        table_add_row(t, row);
    }
    table_print(t, stdout);
    table_free(t);
    free(users);
    return 0;
}

int cmd_user(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1], *config = NULL, *database = NULL, *role = NULL;
    int pw_stdin = 0, sso = 0;
    const struct cli_opt opts[] = {{"--config", NULL, &config, NULL},
                                   {"--database", NULL, &database, NULL},
                                   {"--role", NULL, &role, NULL},
                                   {"--sso", NULL, NULL, &sso},
                                   {"--password-stdin", NULL, NULL, &pw_stdin}};
    const char *pos[1];
    size_t npos = 0;
    argv[1] = argv[0];
    if (CLI_PARSE(argc - 1, argv + 1, opts, pos, 1, &npos))
        return 2;
    int needs_name = strcmp(action, "list") != 0;
    if (strcmp(action, "add") && strcmp(action, "passwd") && strcmp(action, "disable") &&
        strcmp(action, "list")) {
        fprintf(stderr, "gpuaas user: unknown action \"%s\" (add, passwd, disable, list)\n",
                action);
        return 2;
    }
    if (needs_name != (npos == 1)) {
        fprintf(stderr,
                needs_name ? "gpuaas user %s: give one user NAME\n"
                           : "gpuaas user %s: takes no NAME\n",
                action);
        return 2;
    }
    if (needs_name && !valid_username(pos[0])) {
        fprintf(stderr,
                "gpuaas user %s: a NAME has 1 to 63 letters, digits, '.', '_', '-', "
                "'@'\n",
                action);
        return 2;
    }
    if ((role || sso) && strcmp(action, "add")) {
        fprintf(stderr, "gpuaas user %s: --role and --sso apply to add only\n", action);
        return 2;
    }
    if (!role)
        role = "user";
    if (strcmp(role, "user") && strcmp(role, "admin")) {
        fprintf(stderr, "gpuaas user add: --role must be admin or user\n");
        return 2;
    }
    struct store *st = NULL;
    int rc = open_store(config, database, &st);
    if (rc)
        return rc;
    if (!strcmp(action, "add"))
        rc = do_add(st, pos[0], role, sso, pw_stdin);
    else if (!strcmp(action, "passwd"))
        rc = do_passwd(st, pos[0], pw_stdin);
    else if (!strcmp(action, "disable"))
        rc = do_disable(st, pos[0]);
    else
        rc = do_list(st);
    store_close(st);
    return rc;
}
