/* `gpuaas config check|keys`: validate a configuration file, or list every key. */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/session_plan.h"
#include "core/session_serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_config(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas config check [--config FILE]   validate a file and print the pool\n"
               "       gpuaas config keys                    list every key with type, default, "
               "bounds\n"
               "The file is --config, else $GPUAAS_CONFIG.\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "keys")) {
        config_print_help(stdout);
        return 0;
    }
    if (strcmp(argv[1], "check")) {
        fprintf(stderr, "gpuaas config: unknown action \"%s\"\n", argv[1]);
        return 2;
    }
    const char *flag = NULL;
    const struct cli_opt opts[] = {{"--config", NULL, &flag, NULL}};
    size_t npos;
    if (cli_parse_as("gpuaas config check", argc - 1, argv + 1, opts, ARRAY_SIZE(opts), NULL, 0,
                     &npos))
        return 2;
    const char *path = cli_config_path(flag);
    if (!path) {
        fprintf(stderr, "gpuaas config check: no file (--config FILE or GPUAAS_CONFIG)\n");
        return 2;
    }
    struct config *c;
    struct error err = {0};
    struct pool pool;
    if (config_load_file(path, &c, &err) < 0)
        goto fail;
    if (pool_derive(c, &pool, &err) < 0 || session_plan_check_config(c, &err) < 0 ||
        cli_cache_check_files(c, &err) < 0) {
        config_free(c);
        goto fail;
    }
    if (pool_check_defaults(c, &pool, &err) < 0)
        fprintf(stderr, "gpuaas: warning: %s\n", err.message);
    if (session_check_workspace_image(c, &err) < 0)
        fprintf(stderr, "gpuaas: warning: %s\n", err.message);
    printf("%s: ok\n", path);
    for (int i = 0; i < pool.n; i++)
        printf("  %-28s %-8s physical %-5d slots %d\n", pool.res[i].name,
               pool_kind_name(pool.res[i].kind), pool.res[i].physical, pool.res[i].slots);
    config_free(c);
    return 0;
fail:
    fprintf(stderr, "gpuaas: %s\n", err.message);
    return 1;
}
