/* Advertised-capacity check: what the cluster's nodes really advertise for each declared GPU
 * resource, compared with the configured layout.
 *
 * For each configured GPU node, the Node object (metadata.labels, status.allocatable) gives
 * allocatable[R] for the resource's Kubernetes name R (the pool name; under the `single` MIG
 * strategy MIG slices are advertised as nvidia.com/gpu[.shared]). Physical units advertised
 * = allocatable / replicas (floor). On nodes with a MIG layout, allocatable is trusted only
 * when the label nvidia.com/mig.config.state is `success`; otherwise (pending, rebooting,
 * failed, absent) the node counts 0 for every GPU resource. A node absent from the cluster
 * counts 0. A resource is degraded when the sum advertised is below the sum configured.
 *
 * The JSON published under the store kv key "advertised" (adv_to_json; adv_apply reads it):
 * {
 *   "version": 1,
 *   "observed_at": 1732521600,            unix seconds of the observation
 *   "degraded": false,                    any resource degraded
 *   "resources": [                        one per GPU resource of the pool, pool order
 *     {"name": "nvidia.com/mig-1g.24gb",  pool resource name
 *      "configured": 4, "advertised": 4,  physical units (GPUs or MIG slices)
 *      "configured_slots": 8, "advertised_slots": 8,   × time-slicing replicas
 *      "degraded": false}
 *   ],
 *   "nodes": [
 *     {"node": "sno-1", "found": true,
 *      "mig_config": "gpu0-4x1g.24gb-gpu1-full",            label value, "" when absent
 *      "expected_mig_config": "gpu0-4x1g.24gb-gpu1-full",   what gpu-config assigns
 *      "mig_config_state": "success",                       label value, "" when absent
 *      "trusted": true,                                     allocatable used
 *      "resources": [
 *        {"name": "nvidia.com/mig-1g.24gb", "k8s_name": "nvidia.com/mig-1g.24gb",
 *         "replicas": 2, "configured": 4, "allocatable": 8,  (-1 when the key is absent)
 *         "advertised": 4, "degraded": false}
 *      ]}
 *   ]
 * }
 * Pure: no I/O, no clock (the caller passes `now`). Node JSON is borrowed, never kept.
 * struct adv_report is plain data of about 450 KiB: allocate it, do not put it on a stack. */
#ifndef GPUAAS_CORE_ADVERTISED_H
#define GPUAAS_CORE_ADVERTISED_H

#include "common/error.h"
#include "core/config.h"
#include "core/pool.h"

#include <jansson.h>
#include <stdbool.h>

#define ADV_MAX_NODE_RES 32

struct adv_node_res {
    char name[96];     /* pool resource name */
    char k8s_name[96]; /* allocatable key read */
    int replicas;
    int configured;   /* physical units declared on this node */
    long allocatable; /* -1 when absent */
    int advertised;   /* physical units counted */
    bool degraded;
};

struct adv_node {
    char name[64];
    bool found;
    bool trusted;
    char mig_config[64];
    char expected_mig_config[64];
    char state[32];
    struct adv_node_res res[ADV_MAX_NODE_RES];
    int n_res;
};

struct adv_report {
    struct adv_node nodes[CONFIG_MAX_NODES];
    int n_nodes;
};

/* Compares c's GPU nodes with `nodes` (a JSON array of Node objects, or a NodeList) and
 * sets p->res[i].advertised for every GPU resource of p (derived from c). Returns 0, or
 * -ERR_INVALID when `nodes` is not an array/NodeList or the pool lacks a configured
 * resource. */
int adv_check(const struct config *c, const json_t *nodes, struct pool *p, struct adv_report *ret,
              struct error *err);
/* The kv JSON (see above). New reference, NULL on allocation failure. */
json_t *adv_to_json(const struct adv_report *r, const struct pool *p, long long now);
/* Sets p->res[i].advertised from a kv JSON document (resources[].advertised by name);
 * resources it does not list are left unchanged. Returns 0 or -ERR_INVALID. */
int adv_apply(struct pool *p, const json_t *doc, struct error *err);

#endif
