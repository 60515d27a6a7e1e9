/* The GPU pool: bookable resources derived from the configuration.
 * `physical` counts whole GPUs or MIG slices (what users book); `slots` is what Kubernetes
 * advertises after time-slicing (physical × replicas). cpu/memory/storage are totals over
 * the nodes; `max_per_node` is the most one node has, the bound of one session (one pod,
 * one node), while admission over time counts the totals. Pure: no I/O. The struct is
 * plain data, copied freely. */
#ifndef GPUAAS_CORE_POOL_H
#define GPUAAS_CORE_POOL_H

#include "common/error.h"
#include "core/config.h"

#include <stdbool.h>
#include <stdint.h>

#define POOL_MAX_RESOURCES 64

enum pool_kind { POOL_GPU, POOL_MIG, POOL_CPU, POOL_MEMORY, POOL_STORAGE };

struct pool_resource {
    char name[96]; /* "nvidia.com/gpu", "nvidia.com/mig-1g.24gb", "cpu", "memory", "storage" */
    enum pool_kind kind;
    int physical;         /* configured units (GPUs, slices, cores, GiB), all nodes */
    int max_per_node;     /* the most physical units of this resource on any one node */
    int slots_per_unit;   /* time-slicing replicas; 1 for cpu/memory/storage */
    int slots;            /* physical × slots_per_unit */
    int memory_gib;       /* per unit, GPU kinds only */
    int advertised;       /* physical units the cluster advertises; -1 = not observed yet */
    int64_t turnaround_s; /* GPU kinds: held this long after a booking ends; 0 otherwise */
};

struct pool {
    struct pool_resource res[POOL_MAX_RESOURCES];
    int n;
};

/* Derives the pool from c. GPU resources come first, in order of first appearance, then
 * cpu, memory, storage. Fails (err filled with "FILE:LINE: key: why" from c->path and the
 * line fields kept by loading) on an impossible layout. */
int pool_derive(const struct config *c, struct pool *ret, struct error *err);
/* The resource named `name`, or NULL. */
const struct pool_resource *pool_find(const struct pool *p, const char *name);
/* Units admission may hand out: physical, or the advertised count when the cluster
 * advertises less (degraded). */
int pool_bookable(const struct pool_resource *r);
/* "gpu", "mig", "cpu", "memory", "storage". */
const char *pool_kind_name(enum pool_kind k);
/* True for GPU and MIG resources. */
bool pool_is_gpu(const struct pool_resource *r);
/* The isolation a booking of GPU resource r gets, set by the administrator through the
 * time-slicing replicas of its kind (sharing.whole_gpu_replicas, sharing.mig_replicas):
 *   "exclusive"   whole GPUs, 1 replica: the device plugin hands each unit to one pod;
 *   "mig"         MIG slices, 1 replica: one pod per slice, memory and faults isolated by
 *                 the hardware;
 *   "time-sliced" more than 1 replica: the cluster may hand replicas of one physical unit
 *                 to pods of different bookings; no memory or fault isolation between them.
 * NULL for cpu, memory and storage. docs/security.md "GPU sharing". */
const char *pool_isolation(const struct pool_resource *r);

/* -ERR_INVALID naming FILE:LINE and the key when a session default (cpu, memory, storage)
 * is more than the largest node offers: bookings that take it are refused. A warning for
 * `config check` and the server's start, not a load error. */
int pool_check_defaults(const struct config *c, const struct pool *p, struct error *err);

#endif
