/* MIG profile catalog: which MIG profiles each supported GPU model offers, and whether a
 * per-GPU layout (`profile: count` list) can be placed on that GPU.
 *
 * DESIGN: a GPU is modelled as `mem_slices` memory slices (8 on A100/H100/H200/B200, 4 on
 * RTX PRO 6000 Blackwell) and `compute_slices` compute slices (7 or 4). Each profile uses
 * `compute` compute slices and `size` consecutive memory slices starting at one of its
 * allowed `starts` (the MIG placement rules). A layout fits when every instance gets a
 * placement without overlap, the compute slices add up to at most compute_slices, and no
 * profile exceeds its `max_count` (e.g. `+me` profiles: one per GPU). Pure, static data.
 *
 * Accepted model names (case, spaces, dashes and underscores are ignored):
 *   A100 40 GB  "NVIDIA A100-SXM4-40GB", "A100-PCIE-40GB", "A100 40GB", "A100" (memory < 60 GiB)
 *   A100 80 GB  "NVIDIA A100-SXM4-80GB", "A100 80GB PCIe", "A100" with memory_gib >= 60
 *   H100 80 GB  "NVIDIA H100 80GB HBM3", "H100-80GB", "H100 PCIe", "H100-SXM5-80GB", "H800"
 *   H100 NVL    "NVIDIA H100 NVL", "H100-NVL", "H100 94GB"
 *   H200        "NVIDIA H200", "H200 NVL", "H200-141GB"  (not GH200)
 *   B200        "NVIDIA B200", "B200-180GB"             (not GB200)
 *   RTX PRO 6000 Blackwell  "NVIDIA RTX PRO 6000 Blackwell Server Edition", "...Workstation
 *               Edition", "...Max-Q...", "RTX-PRO-6000", "RTXPRO6000"
 */
#ifndef GPUAAS_CORE_MIG_CATALOG_H
#define GPUAAS_CORE_MIG_CATALOG_H

#include "common/error.h"
#include "core/config.h"

#include <stdbool.h>

#define MIG_MAX_STARTS 8

struct mig_profile {
    const char *name;           /* "1g.24gb", "1g.10gb+me" */
    int compute;                /* compute slices (the "Ng") */
    int size;                   /* memory slices occupied */
    int max_count;              /* most instances of this profile on one GPU */
    int starts[MIG_MAX_STARTS]; /* allowed first memory slice; -1 terminates */
};

struct mig_model {
    const char *id;      /* stable short id: "a100-40gb", "rtx-pro-6000-blackwell" */
    const char *display; /* "NVIDIA RTX PRO 6000 Blackwell" */
    int memory_gib;
    int compute_slices;
    int mem_slices;
    const struct mig_profile *profiles;
    int n_profiles;
};

/* All catalog entries; *n receives the count. */
const struct mig_model *mig_catalog_all(int *n);
/* The model matching a configured or NVML model string (see the accepted names above);
 * memory_gib (0 = unknown) disambiguates a bare "A100". NULL when not in the catalog. */
const struct mig_model *mig_catalog_find(const char *model, int memory_gib);
/* Nominal memory of a profile from its name: "1g.24gb" -> 24, "2g.48gb+gfx" -> 48. */
int mig_profile_memory_gib(const char *name);
/* The profile `name` of model m, or NULL. */
const struct mig_profile *mig_model_profile(const struct mig_model *m, const char *name);

/* Checks one GPU's MIG layout (g->whole false) against the catalog. `where` is the GPU's
 * key path ("pool.nodes[0].gpus[1]"), `file` its configuration file (NULL or "" = none).
 * Refuses an unknown model, an unknown profile for the model, more compute/memory slices
 * than the GPU has, a count above a profile's maximum, and a mix without a valid placement;
 * the message says why and what would fit and starts "FILE:LINE: KEY: " where KEY (also
 * err->field) and LINE are those of the offending entry from g's *line fields:
 * `where.model` for an unknown model, `where.mig.PROFILE` for an unknown profile or one
 * above its maximum, `where.mig` for a mix that does not fit (a line of 0 is left out).
 * Whole GPUs always pass. Returns 0 or -ERR_INVALID. */
int mig_layout_validate(const struct config_gpu *g, const char *file, const char *where,
                        struct error *err);

enum mig_strategy { MIG_STRATEGY_NONE, MIG_STRATEGY_SINGLE, MIG_STRATEGY_MIXED };

/* The MIG strategy a node needs: none when no GPU uses MIG, else mixed. Never single: under
 * single the device plugin advertises MIG slices as nvidia.com/gpu, the name whole GPUs carry
 * on other nodes, so a booked slice type could not be requested by name; mixed advertises
 * nvidia.com/mig-<profile> whether a node has one kind of GPU resource or several. */
enum mig_strategy mig_node_strategy(const struct config_node *nd);
/* "none", "single", "mixed". */
const char *mig_strategy_name(enum mig_strategy s);
/* Parses the above; returns 0 or -ERR_INVALID. */
int mig_strategy_parse(const char *s, enum mig_strategy *ret);

#endif
