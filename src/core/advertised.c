/* Advertised-capacity check against Kubernetes Node objects (see advertised.h). */
#include "core/advertised.h"
#include "core/gpu_config.h"
#include "core/mig_catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const json_t *find_node(const json_t *items, const char *name)
{
    size_t i;
    const json_t *n;
    json_array_foreach(items, i, n)
    {
        const char *nm = json_string_value(json_object_get(json_object_get(n, "metadata"), "name"));
        if (nm && !strcmp(nm, name))
            return n;
    }
    return NULL;
}

static const char *label(const json_t *node, const char *key)
{
    const json_t *l = json_object_get(json_object_get(node, "metadata"), "labels");
    const char *v = json_string_value(json_object_get(l, key));
    return v ? v : "";
}

/* allocatable[key] as a non-negative integer, -1 when absent or not a plain integer. */
static long allocatable(const json_t *node, const char *key)
{
    const json_t *a = json_object_get(json_object_get(node, "status"), "allocatable");
    const json_t *v = json_object_get(a, key);
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? (long)json_integer_value(v) : -1;
    const char *s = json_string_value(v);
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    return (*end || errno || x < 0) ? -1 : x;
}

static struct adv_node_res *node_res(struct adv_node *an, const char *name, const char *k8s,
                                     int replicas)
{
    for (int i = 0; i < an->n_res; i++)
        if (!strcmp(an->res[i].name, name))
            return &an->res[i];
    if (an->n_res >= ADV_MAX_NODE_RES)
        return NULL;
    struct adv_node_res *r = &an->res[an->n_res++];
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->k8s_name, sizeof(r->k8s_name), "%s", k8s);
    r->replicas = replicas > 0 ? replicas : 1;
    r->allocatable = -1;
    return r;
}

int adv_check(const struct config *c, const json_t *nodes, struct pool *p, struct adv_report *ret,
              struct error *err)
{
    const json_t *items = json_is_object(nodes) ? json_object_get(nodes, "items") : nodes;
    const char *suffix = c->sharing.rename_by_default ? ".shared" : "";
    if (!json_is_array(items))
        return error_set(err, ERR_INVALID, "nodes", "expected a NodeList or an array of Nodes");
    memset(ret, 0, sizeof(*ret));
    for (int i = 0; i < c->pool.n_nodes; i++) {
        const struct config_node *cn = &c->pool.nodes[i];
        if (cn->n_gpus == 0)
            continue;
        struct adv_node *an = &ret->nodes[ret->n_nodes++];
        enum mig_strategy strat = mig_node_strategy(cn);
        struct gpuc_node gn = {.n_gpus = cn->n_gpus};
        snprintf(an->name, sizeof(an->name), "%s", cn->name);
        for (int j = 0; j < cn->n_gpus; j++) {
            gn.gpus[j].whole = cn->gpus[j].whole;
            gn.gpus[j].n_slices = cn->gpus[j].whole ? 0 : cn->gpus[j].n_slices;
            memcpy(gn.gpus[j].slices, cn->gpus[j].slices, sizeof(gn.gpus[j].slices));
        }
        gpuc_config_name(&gn, an->expected_mig_config, sizeof(an->expected_mig_config));
        /* configured units per resource on this node */
        for (int j = 0; j < cn->n_gpus; j++) {
            const struct config_gpu *g = &cn->gpus[j];
            char name[96], k8s[96];
            int kinds = g->whole ? 1 : g->n_slices;
            for (int k = 0; k < kinds; k++) {
                int replicas, units;
                if (g->whole) {
                    snprintf(name, sizeof(name), "nvidia.com/gpu%s", suffix);
                    replicas = (int)c->sharing.whole_gpu_replicas;
                    units = 1;
                } else {
                    snprintf(name, sizeof(name), "nvidia.com/mig-%s%s", g->slices[k].profile,
                             suffix);
                    replicas = (int)c->sharing.mig_replicas;
                    units = g->slices[k].count;
                }
                snprintf(k8s, sizeof(k8s), "%s", name);
                struct adv_node_res *r = node_res(an, name, k8s, replicas);
                if (!r)
                    return error_set(err, ERR_INVALID, "pool.nodes",
                                     "node %s: more than %d GPU resources", cn->name,
                                     ADV_MAX_NODE_RES);
                r->configured += units;
            }
        }
        const json_t *node = find_node(items, cn->name);
        an->found = node != NULL;
        if (node) {
            snprintf(an->mig_config, sizeof(an->mig_config), "%s",
                     label(node, "nvidia.com/mig.config"));
            snprintf(an->state, sizeof(an->state), "%s",
                     label(node, "nvidia.com/mig.config.state"));
        }
        an->trusted = node && (strat == MIG_STRATEGY_NONE || !strcmp(an->state, "success"));
        for (int k = 0; k < an->n_res; k++) {
            struct adv_node_res *r = &an->res[k];
            if (node)
                r->allocatable = allocatable(node, r->k8s_name);
            r->advertised =
                (an->trusted && r->allocatable > 0)
                    ? (int)(r->allocatable / r->replicas > 1000000 ? 1000000
                                                                   : r->allocatable / r->replicas)
                    : 0;
            r->degraded = r->advertised < r->configured;
        }
    }
    for (int n = 0; n < ret->n_nodes; n++)
        for (int k = 0; k < ret->nodes[n].n_res; k++)
            if (!pool_find(p, ret->nodes[n].res[k].name))
                return error_set(err, ERR_INVALID, "pool", "pool lacks resource %s",
                                 ret->nodes[n].res[k].name);
    /* pool totals */
    for (int i = 0; i < p->n; i++) {
        struct pool_resource *pr = &p->res[i];
        if (!pool_is_gpu(pr))
            continue;
        int sum = 0;
        for (int n = 0; n < ret->n_nodes; n++)
            for (int k = 0; k < ret->nodes[n].n_res; k++)
                if (!strcmp(ret->nodes[n].res[k].name, pr->name))
                    sum += ret->nodes[n].res[k].advertised;
        pr->advertised = sum;
    }
    return 0;
}

json_t *adv_to_json(const struct adv_report *r, const struct pool *p, long long now)
{
    json_t *root = json_object(), *res = json_array(), *nodes = json_array();
    bool degraded = false;
    if (!root || !res || !nodes) {
        json_decref(root);
        json_decref(res);
        json_decref(nodes);
        return NULL;
    }
    for (int i = 0; i < p->n; i++) {
        const struct pool_resource *pr = &p->res[i];
        if (!pool_is_gpu(pr))
            continue;
        int adv = pr->advertised < 0 ? 0 : pr->advertised;
        bool d = adv < pr->physical;
        degraded |= d;
        json_array_append_new(res, json_pack("{s:s, s:i, s:i, s:i, s:i, s:b}", "name", pr->name,
                                             "configured", pr->physical, "advertised", adv,
                                             "configured_slots", pr->slots, "advertised_slots",
                                             adv * pr->slots_per_unit, "degraded", d));
    }
    for (int n = 0; n < r->n_nodes; n++) {
        const struct adv_node *an = &r->nodes[n];
        json_t *nr = json_array();
        for (int k = 0; k < an->n_res; k++) {
            const struct adv_node_res *x = &an->res[k];
            json_array_append_new(
                nr, json_pack("{s:s, s:s, s:i, s:i, s:I, s:i, s:b}", "name", x->name, "k8s_name",
                              x->k8s_name, "replicas", x->replicas, "configured", x->configured,
                              "allocatable", (json_int_t)x->allocatable, "advertised",
                              x->advertised, "degraded", x->degraded));
        }
        json_array_append_new(
            nodes, json_pack("{s:s, s:b, s:s, s:s, s:s, s:b, s:o}", "node", an->name, "found",
                             an->found, "mig_config", an->mig_config, "expected_mig_config",
                             an->expected_mig_config, "mig_config_state", an->state, "trusted",
                             an->trusted, "resources", nr ? nr : json_array()));
    }
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "observed_at", json_integer(now));
    json_object_set_new(root, "degraded", json_boolean(degraded));
    json_object_set_new(root, "resources", res);
    json_object_set_new(root, "nodes", nodes);
    return root;
}

int adv_apply(struct pool *p, const json_t *doc, struct error *err)
{
    const json_t *res = json_object_get(doc, "resources");
    size_t i;
    const json_t *e;
    if (json_integer_value(json_object_get(doc, "version")) != 1 || !json_is_array(res))
        return error_set(err, ERR_INVALID, "advertised", "expected version 1 with resources[]");
    json_array_foreach(res, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const json_t *adv = json_object_get(e, "advertised");
        if (!name || !json_is_integer(adv) || json_integer_value(adv) < 0 ||
            json_integer_value(adv) > 1000000)
            return error_set(err, ERR_INVALID, "advertised",
                             "resources[%zu]: needs name and advertised (0..1000000)", i);
        struct pool_resource *pr = (struct pool_resource *)pool_find(p, name);
        if (pr)
            pr->advertised = (int)json_integer_value(adv);
    }
    return 0;
}
