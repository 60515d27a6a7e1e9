/* The images a GPU node needs before sessions start (the workspace image and the engine
 * images gpuaas-serve runs), from the configuration, and the objects that pull them onto
 * every GPU node ahead of time:
 *   - a DaemonSet `gpuaas-prepull` in the platform namespace whose init containers each run
 *     one of the images (so the kubelet pulls it) and whose one container sleeps in the first;
 *   - on OpenShift, a PinnedImageSet for a MachineConfigPool (images by digest only, which
 *     the machine-config daemon requires), which also keeps them from image GC.
 * `gpuaas deploy prepull` prints them; `gpuaas doctor` checks every GPU node's
 * status.images against the same list. Pure: no I/O. */
#ifndef GPUAAS_CORE_PREPULL_H
#define GPUAAS_CORE_PREPULL_H

#include "common/error.h"
#include "core/config.h"

#include <jansson.h>
#include <stddef.h>

#define PREPULL_MAX 8

struct prepull_image {
    const char *key;        /* configuration key that names it, e.g. reconciler.serve_vllm_image */
    const char *short_name; /* container name suffix: workspace, vllm, ollama, tgi, triton */
    const char *image;      /* borrowed from the configuration */
};

/* The configured images, without empty ones and duplicates, workspace image first.
 * Returns how many (at most PREPULL_MAX). */
size_t prepull_images(const struct config *c, struct prepull_image out[PREPULL_MAX]);
/* The DaemonSet in namespace ns. NULL on out of memory. */
json_t *prepull_daemonset(const struct config *c, const char *ns);
/* The PinnedImageSet for the MachineConfigPool `role` (worker, master). -ERR_INVALID (err
 * names the image and its key) when an image is given by tag rather than by digest. */
int prepull_pinned_image_set(const struct config *c, const char *role, json_t **ret,
                             struct error *err);
/* Does a node's status.images (the array) list `image`? Matches a name exactly, or a
 * docker.io image written without registry or library/ as the kubelet reports it. */
int prepull_node_has(json_t *node_images, const char *image);

#endif
