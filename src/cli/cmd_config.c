/* `gpuaas config check|keys`: validate a configuration file, or list every key. */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "core/config.h"
#include "core/gate_conf.h"
#include "core/pool.h"
#include "core/session_plan.h"
#include "core/session_serve.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `gpuaas config gate-nginx`: the nginx.conf of a session's sign-in proxy as the session
 * plan writes it (src/core/gate_conf.c), with the address, temporary directory and TLS a
 * local run needs (tests/it/gate.sh runs nginx on it). */
static int gate_nginx(int argc, char **argv)
{
    const char *flag = NULL, *listen = NULL, *tmp = NULL, *cert = NULL, *key = NULL, *id_s = NULL;
    const struct cli_opt opts[] = {
        {"--config", NULL, &flag, NULL},   {"--reservation", NULL, &id_s, NULL},
        {"--listen", NULL, &listen, NULL}, {"--temp-dir", NULL, &tmp, NULL},
        {"--tls-cert", NULL, &cert, NULL}, {"--tls-key", NULL, &key, NULL}};
    long id;
    size_t npos;
    if (cli_parse_as("gpuaas config gate-nginx", argc - 1, argv + 1, opts, ARRAY_SIZE(opts), NULL,
                     0, &npos))
        return 2;
    if (!id_s || cli_parse_long(id_s, 1, LONG_MAX, &id) < 0) {
        fprintf(stderr, "gpuaas config gate-nginx: --reservation ID (a positive number) is "
                        "required\n");
        return 2;
    }
    if (!cert != !key) {
        fprintf(stderr, "gpuaas config gate-nginx: give both --tls-cert and --tls-key\n");
        return 2;
    }
    const char *path = cli_config_path(flag);
    struct config *c = NULL;
    struct error err = {0};
    struct gate_conf g;
    struct gate_conf_buf buf;
    char *text = NULL;
    if (!path) {
        fprintf(stderr, "gpuaas config gate-nginx: no file (--config FILE or GPUAAS_CONFIG)\n");
        return 2;
    }
    if (config_load_file(path, &c, &err) < 0)
        goto fail;
    gate_conf_from_config(c, id, &g, &buf);
    if (listen)
        g.listen = listen;
    if (tmp)
        g.temp_dir = tmp;
    g.tls_cert = cert;
    g.tls_key = key;
    if (gate_nginx_conf(&g, &text, &err) < 0)
        goto fail;
    fputs(text, stdout);
    free(text);
    config_free(c);
    return 0;
fail:
    config_free(c);
    fprintf(stderr, "gpuaas: %s\n", err.message);
    return 1;
}

int cmd_config(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas config check [--config FILE]   validate a file and print the pool\n"
               "       gpuaas config keys                    list every key with type, default, "
               "bounds\n"
               "       gpuaas config gate-nginx --reservation ID [--config FILE] [--listen "
               "ADDR:PORT]\n"
               "            [--temp-dir DIR] [--tls-cert FILE --tls-key FILE]\n"
               "                                             the nginx.conf of a session's "
               "sign-in proxy\n"
               "The file is --config, else $GPUAAS_CONFIG.\n");
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "keys")) {
        config_print_help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "gate-nginx"))
        return gate_nginx(argc, argv);
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
    const char *path = cli_require_config("gpuaas config check", flag);
    if (!path)
        return 2;
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
