/* `gpuaas gpu-discover`: what GPUs and MIG devices this host has, through NVML, and the
 * matching pool configuration snippet. */
#include "cli/commands.h"
#include "common/args.h"
#include "cli/nvml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_gpu_discover(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas gpu-discover\n"
               "Lists this host's GPUs (index, name, UUID, memory), MIG mode (current and\n"
               "pending) and MIG devices (profile, UUID, memory) through NVML, then prints a\n"
               "pool.nodes[] entry for the configuration. NVML is loaded at run time from\n"
               "$GPUAAS_NVML_LIB, else libnvidia-ml.so.1. Exits 1 when NVML is unavailable.\n");
        return 0;
    }
    size_t npos;
    if (cli_parse(argc, argv, NULL, 0, NULL, 0, &npos))
        return 2;
    struct nvml_inventory *inv = malloc(sizeof(*inv));
    struct error err = {0};
    if (!inv) {
        fprintf(stderr, "gpuaas gpu-discover: out of memory\n");
        return 1;
    }
    if (nvml_discover(inv, &err) < 0) {
        fprintf(stderr, "gpuaas gpu-discover: %s\n", err.message);
        if (inv->missing[0])
            fprintf(stderr, "gpuaas gpu-discover: NVML also lacks: %s\n", inv->missing);
        free(inv);
        return 1;
    }
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        snprintf(host, sizeof(host), "this-node");
    long cpu = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    long mem = pages > 0 && psz > 0
                   ? (long)(((unsigned long long)pages * (unsigned long long)psz) >> 30)
                   : 0;
    nvml_print(stdout, inv);
    printf("\n");
    if (inv->n_gpus == 0)
        printf("# no GPU found: this host adds no GPU capacity\n");
    nvml_print_pool_snippet(stdout, inv, host, cpu, mem);
    free(inv);
    return fflush(stdout) ? 1 : 0;
}
