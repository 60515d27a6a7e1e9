/* gpuaas: one executable, subcommands like git or kubectl. */
#include "cli/commands.h"

#include <stdio.h>
#include <string.h>

static const struct command commands[] = {
    {"config", cmd_config, "check a configuration file or list every key"},
    {"cache", cmd_cache, "node cache daemon: pre-stage model files and images"},
    {"tokenomics", cmd_tokenomics, "cost per million tokens, break-even and sizing (offline)"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "gpuaas - self-service GPU platform\n\nUsage: gpuaas <command> [options]\n\nCommands:\n");
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
        printf("gpuaas 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gpuaas: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
