/* Prometheus text exposition format, as scraped from the DCGM exporter: extracts the GPU
 * activity (DCGM_FI_PROF_GR_ENGINE_ACTIVE, ratio 0..1, works for MIG slices) and framebuffer
 * use (DCGM_FI_DEV_FB_USED, MiB) samples with their labels, and aggregates them per
 * namespace. The workload labels are read from `exported_namespace` / `exported_pod` /
 * `exported_container` when present (scrape without honorLabels), else `namespace` / `pod`
 * / `container`.
 *
 * Safe on arbitrary input: lines over PROM_MAX_LINE bytes, more than PROM_MAX_LABELS labels
 * or malformed lines are counted in `skipped` and ignored; at most PROM_MAX_SAMPLES samples
 * are kept (the rest counted in `dropped`). Label values longer than their field are
 * truncated. Pure: no I/O. */
#ifndef GPUAAS_CORE_PROM_TEXT_H
#define GPUAAS_CORE_PROM_TEXT_H

#include "common/error.h"

#include <stddef.h>

#define PROM_MAX_LINE 8192
#define PROM_MAX_LABELS 64
#define PROM_MAX_SAMPLES 4096
#define PROM_MAX_NAMESPACES 256

enum prom_metric { PROM_GR_ENGINE_ACTIVE, PROM_FB_USED };

struct prom_sample {
    enum prom_metric metric;
    double value;
    char namespace[64];
    char pod[128];
    char container[64];
    char gpu[16];           /* GPU index label */
    char uuid[64];          /* parent GPU UUID */
    char gpu_i_profile[32]; /* MIG profile, "" for a whole GPU */
    char gpu_i_id[16];
    char hostname[64];
};

/* Ownership: prom_parse allocates samples; prom_samples_free releases them (NULL ok). */
struct prom_samples {
    struct prom_sample *v;
    int n;
    int skipped; /* malformed or oversized lines */
    int dropped; /* wanted samples beyond PROM_MAX_SAMPLES */
};

struct prom_ns_usage {
    char namespace[64];
    int devices;        /* GR_ENGINE_ACTIVE samples: GPUs or MIG slices in use */
    double active_sum;  /* sum of GR_ENGINE_ACTIVE ratios (device-equivalents busy) */
    double fb_used_mib; /* sum of FB_USED */
};

/* Parses text (not NUL-terminated necessarily). Returns 0, or -ERR_NOMEM. Malformed input
 * is never an error: it is skipped and counted. */
int prom_parse(const char *text, size_t len, struct prom_samples *ret);
void prom_samples_free(struct prom_samples *s);
/* Per-namespace totals of samples that carry a namespace, in first-appearance order.
 * Returns the number of namespaces written (at most max). */
int prom_aggregate(const struct prom_samples *s, struct prom_ns_usage *out, int max);

#endif
