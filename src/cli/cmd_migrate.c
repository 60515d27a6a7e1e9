/* `gpuaas migrate`: the database's schema version against this build's migrations; with
 * --dry-run it lists the pending ones and changes nothing, without it applies them (what
 * every server and reconciler also does at start, under a lock, so this is for upgrades
 * that want the migration as a step of its own). */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "core/config.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

int cmd_migrate(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas migrate [--config FILE] [--dry-run]\n"
               "Brings the database of database.url to this release's schema. --dry-run lists\n"
               "the migrations that would run and changes nothing. Refuses a database that a\n"
               "newer release has migrated.\n");
        return 0;
    }
    const char *flag = NULL;
    int dry = 0;
    const struct cli_opt opts[] = {{"--config", NULL, &flag, NULL},
                                   {"--dry-run", NULL, NULL, &dry}};
    size_t npos;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos))
        return 2;
    const char *path = cli_require_config("gpuaas migrate", flag);
    if (!path)
        return 2;
    struct config *c = NULL;
    struct error err = {0};
    int cur = 0, latest = 0, pending[64];
    size_t n = 0;
    int rc = 1;
    if (config_load_file(path, &c, &err) < 0) {
        fprintf(stderr, "gpuaas: %s\n", err.message);
        return 1;
    }
    if (store_migration_status(c->database.url, &cur, &latest, pending, 64, &n, &err) < 0) {
        fprintf(stderr, "gpuaas migrate: %s\n", err.message);
        goto out;
    }
    printf("schema version %d, this release knows %d\n", cur, latest);
    if (cur > latest) {
        fprintf(stderr, "gpuaas migrate: the database is newer than this release: run the release "
                        "that migrated it or newer\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s migration %d\n", dry ? "pending" : "applying", pending[i]);
    if (!n)
        printf("up to date\n");
    if (!dry && n) {
        struct store *st = NULL;
        if (store_open(c->database.url, &st, &err) < 0) {
            fprintf(stderr, "gpuaas migrate: %s\n", err.message);
            goto out;
        }
        int now = 0;
        store_schema_version(st, &now);
        store_close(st);
        printf("schema version %d\n", now);
    }
    rc = 0;
out:
    config_free(c);
    return rc;
}
