/* gpuaas: one executable, subcommands like git or kubectl. */
#include "cli/commands.h"
#include "common/util.h"
#include "gpuaas_version.h"

#include <stdio.h>
#include <string.h>

static const struct command commands[] = {
    {"config", cmd_config, "check a configuration file or list every key"},
    {"cache", cmd_cache, "node cache daemon: pre-stage model files and images"},
    {"tokenomics", cmd_tokenomics, "cost per million tokens, break-even and sizing (offline)"},
    {"server", cmd_server, "serve the REST API and the web UI"},
    {"login", cmd_login, "log in to a server and save the token"},
    {"logout", cmd_logout, "forget the saved token"},
    {"pool", cmd_pool, "show the GPU pool"},
    {"capacity", cmd_capacity, "free capacity per resource over time"},
    {"reserve", cmd_reserve, "book GPU capacity for a time window"},
    {"list", cmd_list, "list reservations"},
    {"show", cmd_show, "show one reservation"},
    {"cancel", cmd_cancel, "cancel a reservation"},
    {"extend", cmd_extend, "move a reservation's end"},
    {"release", cmd_release, "end an active session early"},
    {"user", cmd_user, "add, change, disable or list users (offline, on the database)"},
    {"deploy", cmd_deploy, "print install objects generated from the code (tenant role)"},
    {"reconciler", cmd_reconciler, "run the control-plane loop (provision, tear down, repair, GC)"},
    {"gpu-config", cmd_gpu_config, "GPU operator ConfigMaps, node labels, ClusterPolicy patch"},
    {"migrate", cmd_migrate, "schema migrations: list pending (--dry-run) or apply"},
    {"doctor", cmd_doctor, "preflight and health checks of the cluster for the configuration"},
    {"gpu-discover", cmd_gpu_discover, "list this host's GPUs and MIG devices through NVML"},
};
#define N_COMMANDS (ARRAY_SIZE(commands))

static void usage(FILE *out)
{
    fprintf(
        out,
        "gpuaas - self-service GPU platform\n\nUsage: gpuaas <command> [options]\n\nCommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'gpuaas <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("gpuaas %s (commit %s)\n", GPUAAS_VERSION, GPUAAS_COMMIT);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gpuaas: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
