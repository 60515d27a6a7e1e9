/* `gpuaas server`: loads the configuration, bootstraps the first admin, serves the API until
 * SIGTERM/SIGINT, then drains in-flight requests and exits 0. */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "core/config.h"
#include "core/pool.h"
#include "server/auth.h"
#include "server/server.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DRAIN_MS 10000

static void usage(FILE *out)
{
    fprintf(out, "Usage: gpuaas server [--config FILE] [--listen ADDR:PORT] [--database URL]\n"
                 "Serves the REST API (/api/v1), the web UI, /healthz, /readyz and /metrics.\n"
                 "  --config FILE       configuration (else $GPUAAS_CONFIG)\n"
                 "  --listen ADDR:PORT  overrides server.listen\n"
                 "  --database URL      overrides database.url (sqlite:PATH or postgresql://...)\n"
                 "On first start with no users, creates 'admin' with $GPUAAS_ADMIN_PASSWORD, or a\n"
                 "random password written to auth.admin_password_file (default\n"
                 "<database dir>/admin-password, mode 0600) and shown only on a terminal.\n"
                 "SIGTERM/SIGINT stop accepting, drain in-flight requests and exit 0.\n");
}

/* <dir of the SQLite file>/admin-password, or ./admin-password for other databases. */
static void default_password_file(const char *url, char *out, size_t n)
{
    const char *path = NULL;
    if (!strncmp(url, "sqlite://", 9))
        path = url + 9;
    else if (!strncmp(url, "sqlite:", 7))
        path = url + 7;
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (slash && strcmp(path, ":memory:"))
        snprintf(out, n, "%.*s/admin-password", (int)(slash - path), path);
    else
        snprintf(out, n, "admin-password");
}

static int write_secret_file(const char *path, const char *secret)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -ERR_IO;
    size_t len = strlen(secret);
    int rc =
        (fchmod(fd, 0600) == 0 && write(fd, secret, len) == (ssize_t)len && write(fd, "\n", 1) == 1)
            ? 0
            : -ERR_IO;
    if (close(fd) < 0)
        rc = -ERR_IO;
    return rc;
}

/* Creates `admin` when the users table is empty. */
static int bootstrap_admin(const struct config *cfg, struct error *err)
{
    struct store *st = NULL;
    int64_t count = 0;
    char password[1025], file[4096];
    struct user u;
    int rc = store_open(cfg->database.url, &st, err);
    if (rc < 0)
        return rc;
    rc = store_user_count(st, &count);
    if (rc < 0 || count > 0) {
        if (rc < 0)
            error_set(err, -rc, NULL, "cannot count users");
        goto out;
    }
    const char *env = getenv("GPUAAS_ADMIN_PASSWORD");
    bool random = !env || !*env;
    if (random)
        auth_random_password(password, sizeof(password));
    else
        snprintf(password, sizeof(password), "%s", env);
    memset(&u, 0, sizeof(u));
    snprintf(u.username, sizeof(u.username), "admin");
    snprintf(u.role, sizeof(u.role), "admin");
    u.created_at = time_now();
    rc = auth_hash_password(password, u.password_hash, sizeof(u.password_hash));
    if (rc == 0)
        rc = store_user_create(st, &u, &u.id, err);
    if (rc < 0)
        goto out;
    struct audit_entry e = {.at = u.created_at};
    snprintf(e.actor, sizeof(e.actor), "system:server");
    snprintf(e.action, sizeof(e.action), "user.create");
    snprintf(e.target, sizeof(e.target), "user/admin");
    snprintf(e.detail, sizeof(e.detail), "bootstrap admin");
    (void)store_audit_add(st, &e);
    if (random) {
        if (cfg->auth.admin_password_file && *cfg->auth.admin_password_file)
            snprintf(file, sizeof(file), "%s", cfg->auth.admin_password_file);
        else
            default_password_file(cfg->database.url, file, sizeof(file));
        /* The password goes to a terminal, never to a log: a pod's stdout is collected by the
         * cluster's logging and readable far beyond the admins. */
        bool wrote = write_secret_file(file, password) == 0;
        if (isatty(STDOUT_FILENO))
            printf("Created user 'admin' with password: %s\n", password);
        if (wrote)
            printf("Created user 'admin'; its password is in %s (mode 0600).\n", file);
        else
            log_error("cannot write the admin password file; set a password with `gpuaas user "
                      "passwd admin`",
                      "path=%s errno=%d", file, errno);
        fflush(stdout);
    }
    log_info("created the first admin user", "username=admin source=%s",
             random ? "random" : "GPUAAS_ADMIN_PASSWORD");
out:
    sodium_memzero(password, sizeof(password));
    store_close(st);
    return rc;
}

int cmd_server(int argc, char **argv)
{
    const char *config_flag = NULL, *listen = NULL, *database = NULL;
    struct config *cfg = NULL;
    struct pool pool;
    struct error err = {0};
    struct srv *srv = NULL;
    int status = 1;

    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const struct cli_opt opts[] = {{"--config", NULL, &config_flag, NULL},
                                   {"--listen", NULL, &listen, NULL},
                                   {"--database", NULL, &database, NULL}};
    size_t npos;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos)) {
        usage(stderr);
        return 2;
    }
    const char *path = cli_config_path(config_flag);
    if (path ? config_load_file(path, &cfg, &err) < 0 : !(cfg = config_new_default())) {
        fprintf(stderr, "gpuaas server: %s\n", err.message);
        return 1;
    }
    if ((listen && config_set_string(&cfg->server.listen, listen) < 0) ||
        (database && config_set_string(&cfg->database.url, database) < 0))
        goto out;
    if (cfg->log_level && log_set_level(cfg->log_level) < 0)
        log_warn("unknown log level, using info", "level=%s", cfg->log_level);
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialize", "%s", "");
        goto out;
    }
    if (pool_derive(cfg, &pool, &err) < 0) {
        fprintf(stderr, "gpuaas server: %s\n", err.message);
        goto out;
    }
    if (pool_check_defaults(cfg, &pool, &err) < 0)
        log_warn("session default does not fit any node", "error=\"%s\"", err.message);
    if (bootstrap_admin(cfg, &err) < 0) {
        log_error("cannot prepare the database", "error=\"%s\"", err.message);
        goto out;
    }

    /* Signals are taken synchronously by this thread; MHD threads inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (srv_start(cfg, &pool, &srv, &err) < 0) {
        log_error("cannot start the server", "error=\"%s\"", err.message);
        goto out;
    }
    log_info("listening", "listen=%s port=%d database=%s", cfg->server.listen, srv_port(srv),
             !strncmp(cfg->database.url, "sqlite", 6) ? "sqlite" : "postgres");
    if (srv_token_port(srv))
        log_info("listening for bearer tokens only", "token_listen=%s port=%d",
                 cfg->server.token_listen, srv_token_port(srv));
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    log_info("stopping: draining in-flight requests", "signal=%d", sig);
    srv_stop(srv, DRAIN_MS);
    log_info("stopped", "%s", "");
    status = 0;
out:
    config_free(cfg);
    return status;
}
