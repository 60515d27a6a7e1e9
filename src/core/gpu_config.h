/* GPU operator configuration as code: from the pool's declared GPU layout to the NVIDIA GPU
 * operator's inputs, and back.
 *
 * Output (gpuc_render_yaml, one multi-document stream ready for `kubectl apply -f -`):
 *   - ConfigMap `custom-mig-config`, key `config.yaml`: mig-parted `version: v1` with
 *     `all-disabled` and one named entry per distinct node layout, e.g.
 *     `gpu0-4x1g.24gb-gpu1-full` (GPUs with the same layout share one `devices: [i, j]` item);
 *   - ConfigMap `device-plugin-config`: one key per node layout (same name) holding the
 *     device-plugin file (`version: v1`, `flags.migStrategy`, `sharing.timeSlicing` with
 *     renameByDefault, failRequestsGreaterThanOne: true and replicas per resource name),
 *     plus a `default` key for GPU nodes that carry no label (strategy mixed when the
 *     cluster is mixed, else none; whole GPUs time-sliced);
 *   - as `# ` comment lines: the `kubectl label node` command per node and the ClusterPolicy
 *     patch (its name is looked up with kubectl, never hard-coded).
 * gpuc_render_json gives the same as one JSON object:
 *   {"configMaps": [ConfigMap, ConfigMap],
 *    "nodeLabels": [{"node": N, "labels": {"nvidia.com/mig.config": X,
 *                                          "nvidia.com/device-plugin.config": X}}],
 *    "clusterPolicyPatch": {"spec": {...}}, "commands": ["kubectl label ...", ...]}
 * gpuc_parse reads either form back into a layout (what the round-trip test checks).
 *
 * Ownership: layouts are plain data (large: allocate them); rendered text is malloc'ed and
 * freed by the caller. Pure: no I/O. */
#ifndef GPUAAS_CORE_GPU_CONFIG_H
#define GPUAAS_CORE_GPU_CONFIG_H

#include "common/error.h"
#include "core/config.h"
#include "core/mig_catalog.h"

#include <stdbool.h>
#include <stddef.h>

#define GPUC_NAME_MAX 64

struct gpuc_gpu {
    bool whole;
    struct config_mig_slice slices[CONFIG_MAX_SLICE_KINDS];
    int n_slices;
};

struct gpuc_node {
    char name[GPUC_NAME_MAX];
    char config_name[GPUC_NAME_MAX]; /* mig-parted and device-plugin config of the layout */
    enum mig_strategy strategy;
    struct gpuc_gpu gpus[CONFIG_MAX_GPUS_PER_NODE];
    int n_gpus;
};

struct gpuc_layout {
    struct gpuc_node nodes[CONFIG_MAX_NODES]; /* nodes with at least one GPU */
    int n_nodes;
    int whole_replicas;
    int mig_replicas; /* 0 when unknown (parsed output without any MIG GPU) */
    bool rename_by_default;
    enum mig_strategy cluster_strategy; /* ClusterPolicy spec.mig.strategy */
};

struct gpuc_options {
    const char *namespace; /* GPU operator namespace; NULL = "nvidia-gpu-operator" */
};

/* Builds the layout of every GPU node of c, validating each MIG layout against the
 * catalog and node names as Kubernetes names. Returns 0 or -ERR_INVALID (err filled). */
int gpuc_from_config(const struct config *c, struct gpuc_layout *ret, struct error *err);
/* The config name for a node layout (label-value safe, at most 63 characters). */
void gpuc_config_name(const struct gpuc_node *nd, char *buf, size_t size);
/* Renders YAML / JSON (see above) into a malloc'ed NUL-terminated string *ret. */
int gpuc_render_yaml(const struct gpuc_layout *l, const struct gpuc_options *o, char **ret);
int gpuc_render_json(const struct gpuc_layout *l, const struct gpuc_options *o, char **ret);
/* Parses rendered YAML or JSON back. Bounded by the CONFIG_MAX_* limits. Returns 0 or
 * -ERR_INVALID with err naming what was wrong. */
int gpuc_parse(const char *text, size_t len, struct gpuc_layout *ret, struct error *err);
/* Same nodes (order, names, config names, strategies, GPUs, slices) and sharing settings.
 * On difference, `why` (may be NULL) gets a short description. */
bool gpuc_layout_equal(const struct gpuc_layout *a, const struct gpuc_layout *b, char *why,
                       size_t whysz);

#endif
