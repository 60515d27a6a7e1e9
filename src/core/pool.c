/* Pool derivation from the configured nodes and GPUs. */
#include "core/pool.h"
#include "core/mig_catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pool_kind_name(enum pool_kind k)
{
    static const char *n[] = {"gpu", "mig", "cpu", "memory", "storage"};
    return (unsigned)k < 5 ? n[k] : "unknown";
}

bool pool_is_gpu(const struct pool_resource *r)
{
    return r->kind == POOL_GPU || r->kind == POOL_MIG;
}

const struct pool_resource *pool_find(const struct pool *p, const char *name)
{
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->res[i].name, name))
            return &p->res[i];
    return NULL;
}

int pool_bookable(const struct pool_resource *r)
{
    if (r->advertised >= 0 && r->advertised < r->physical)
        return r->advertised;
    return r->physical;
}

/* The resource `name`, added when new. `loc` ("FILE:LINE: KEY") names the entry that
 * brought it, for the error when the pool is full. */
static struct pool_resource *add(struct pool *p, const char *name, enum pool_kind kind,
                                 int replicas, int memory_gib, const char *loc, struct error *err)
{
    struct pool_resource *r = (struct pool_resource *)pool_find(p, name);
    if (r)
        return r;
    if (p->n >= POOL_MAX_RESOURCES) {
        error_set(err, ERR_INVALID, "pool", "%s: more than %d distinct resources in the pool", loc,
                  POOL_MAX_RESOURCES);
        return NULL;
    }
    r = &p->res[p->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->kind = kind;
    r->slots_per_unit = replicas;
    r->memory_gib = memory_gib;
    r->advertised = -1;
    return r;
}

int pool_derive(const struct config *c, struct pool *ret, struct error *err)
{
    struct pool p = {.n = 0};
    long cpu = 0, mem = 0, sto = 0, max_cpu = 0, max_mem = 0, max_sto = 0;
    const char *suffix = c->sharing.rename_by_default ? ".shared" : "";
    for (int i = 0; i < c->pool.n_nodes; i++) {
        const struct config_node *nd = &c->pool.nodes[i];
        int here[POOL_MAX_RESOURCES] = {0}; /* this node's units, parallel to p.res */
        cpu += nd->cpu;
        mem += nd->memory_gib;
        sto += nd->storage_gib;
        max_cpu = nd->cpu > max_cpu ? nd->cpu : max_cpu;
        max_mem = nd->memory_gib > max_mem ? nd->memory_gib : max_mem;
        max_sto = nd->storage_gib > max_sto ? nd->storage_gib : max_sto;
        for (int j = 0; j < nd->n_gpus; j++) {
            const struct config_gpu *g = &nd->gpus[j];
            char name[96], where[96], loc[400];
            snprintf(where, sizeof(where), "pool.nodes[%d].gpus[%d]", i, j);
            if (mig_layout_validate(g, c->path, where, err) < 0)
                return -ERR_INVALID;
            snprintf(loc, sizeof(loc), "%s:%d: %s", c->path ? c->path : "", g->line, where);
            if (g->whole) {
                snprintf(name, sizeof(name), "nvidia.com/gpu%s", suffix);
                struct pool_resource *r =
                    add(&p, name, POOL_GPU, (int)c->sharing.whole_gpu_replicas, g->memory_gib, loc,
                        err);
                if (!r)
                    return -ERR_INVALID;
                if (g->memory_gib < r->memory_gib)
                    r->memory_gib = g->memory_gib; /* promise only what every unit has */
                r->physical++;
                here[r - p.res]++;
                continue;
            }
            for (int k = 0; k < g->n_slices; k++) {
                snprintf(name, sizeof(name), "nvidia.com/mig-%s%s", g->slices[k].profile, suffix);
                struct pool_resource *r =
                    add(&p, name, POOL_MIG, (int)c->sharing.mig_replicas,
                        mig_profile_memory_gib(g->slices[k].profile), loc, err);
                if (!r)
                    return -ERR_INVALID;
                r->physical += g->slices[k].count;
                here[r - p.res] += g->slices[k].count;
            }
        }
        for (int k = 0; k < p.n; k++)
            if (here[k] > p.res[k].max_per_node)
                p.res[k].max_per_node = here[k];
    }
    struct {
        const char *name;
        enum pool_kind kind;
        long v, max;
    } plain[] = {{"cpu", POOL_CPU, cpu, max_cpu},
                 {"memory", POOL_MEMORY, mem, max_mem},
                 {"storage", POOL_STORAGE, sto, max_sto}};
    for (int i = 0; i < 3; i++) {
        struct pool_resource *r = add(&p, plain[i].name, plain[i].kind, 1, 0, "pool", err);
        if (!r)
            return -ERR_INVALID;
        r->physical = (int)plain[i].v;
        r->max_per_node = (int)plain[i].max;
    }
    for (int i = 0; i < p.n; i++) {
        p.res[i].slots = p.res[i].physical * p.res[i].slots_per_unit;
        if (pool_is_gpu(&p.res[i]))
            p.res[i].turnaround_s = c->session.turnaround_seconds;
    }
    *ret = p;
    return 0;
}

int pool_check_defaults(const struct config *c, const struct pool *p, struct error *err)
{
    static const struct {
        const char *key, *res, *unit;
    } defs[] = {{"session.cpu", "cpu", "cores"},
                {"session.memory_gib", "memory", "GiB of memory"},
                {"session.storage_gib", "storage", "GiB of storage"}};
    const long v[] = {c->session.cpu, c->session.memory_gib, c->session.storage_gib};
    for (int i = 0; i < 3; i++) {
        const struct pool_resource *r = pool_find(p, defs[i].res);
        if (!r || c->pool.n_nodes == 0 || v[i] <= r->max_per_node)
            continue;
        char at[32] = "";
        int line = config_key_line(c, defs[i].key);
        if (line)
            snprintf(at, sizeof(at), ":%d", line);
        return error_set(err, ERR_INVALID, defs[i].key,
                         "%s%s: %s: %s%ld is more than the largest node has (%d %s): a booking "
                         "that takes the default cannot run (a session runs on one node)",
                         c->path ? c->path : "<config>", at, defs[i].key,
                         line ? "" : "the default ", v[i], r->max_per_node, defs[i].unit);
    }
    return 0;
}

const char *pool_isolation(const struct pool_resource *r)
{
    if (!pool_is_gpu(r))
        return NULL;
    if (r->slots_per_unit > 1)
        return "time-sliced";
    return r->kind == POOL_MIG ? "mig" : "exclusive";
}
