/* GPU inventory through NVML, loaded at run time with dlopen (no build-time NVIDIA
 * dependency). The library path is $GPUAAS_NVML_LIB, else libnvidia-ml.so.1. Symbols are
 * the versioned ones (nvmlInit_v2, nvmlDeviceGetCount_v2, nvmlDeviceGetHandleByIndex_v2).
 * Missing optional symbols (MIG calls) are reported, not fatal.
 *
 * Ownership: the caller owns the inventory (plain data, large: allocate it). */
#ifndef GPUAAS_CLI_NVML_H
#define GPUAAS_CLI_NVML_H

#include "common/error.h"

#include <stdbool.h>
#include <stdio.h>

#define NVML_MAX_GPUS 64
#define NVML_MAX_MIG 16

struct nvml_mig {
    unsigned index; /* MIG device index on the parent (may be sparse) */
    char uuid[96];
    char profile[48];          /* "1g.24gb"; "" when it could not be named */
    unsigned long long memory; /* bytes */
};

struct nvml_gpu {
    unsigned index;
    char name[96];
    char uuid[96];
    unsigned long long memory; /* bytes */
    bool mig_capable;
    unsigned mig_current, mig_pending; /* 1 = enabled */
    struct nvml_mig migs[NVML_MAX_MIG];
    int n_migs;
    char note[160]; /* per-GPU problems, "" when none */
};

struct nvml_inventory {
    char lib[256];
    char missing[512]; /* optional symbols absent from the library, space-separated */
    struct nvml_gpu gpus[NVML_MAX_GPUS];
    int n_gpus;
};

/* Loads NVML, lists GPUs and MIG devices, shuts NVML down and unloads it.
 * -ERR_UNAVAILABLE: library or a required symbol missing, or nvmlInit failed (err says
 * which); -ERR_IO: a per-device call failed. */
int nvml_discover(struct nvml_inventory *ret, struct error *err);
/* Human-readable listing. */
void nvml_print(FILE *out, const struct nvml_inventory *inv);
/* A pool.nodes[] entry for this host: name, cpu, memory_gib from the arguments, GPUs with
 * model, memory_gib and whole or mig. */
void nvml_print_pool_snippet(FILE *out, const struct nvml_inventory *inv, const char *host,
                             long cpu, long memory_gib);

#endif
