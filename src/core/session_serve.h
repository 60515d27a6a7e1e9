/* What a session's workspace needs beside the plan's own objects: the settings of the
 * model-server helper gpuaas-serve (deploy/workspace/gpuaas-serve), the cluster-internal names
 * that never go through the proxy, and the check that the workspace image is a real one.
 * Pure functions of the configuration; used by session_plan.c and `gpuaas config check`. */
#ifndef GPUAAS_CORE_SESSION_SERVE_H
#define GPUAAS_CORE_SESSION_SERVE_H

#include "common/error.h"
#include "core/config.h"
#include "core/reservation.h"

#include <jansson.h>
#include <stddef.h>

/* The ConfigMap gpuaas-serve reads in the session namespace. */
#define SESSION_SERVE_CONFIGMAP "gpuaas-serve"

/* The data of ConfigMap gpuaas-serve: the engine images (reconciler.serve_*_image), the booked
 * GPU resource, the claims and mount points of the home volume and the node cache, the proxy
 * ConfigMap, and the UID the plan runs pods as on plain Kubernetes ("" on OpenShift, whose SCC
 * assigns one). home_mount and models_mount are the workspace's; models_mount is "" without
 * the node cache. Returns a new object, NULL when out of memory. */
json_t *session_serve_data(const struct config *c, const struct reservation *r,
                           const char *home_claim, const char *home_mount, const char *models_claim,
                           const char *proxy_configmap, long run_as);

/* NO_PROXY inside session namespace ns: reconciler.no_proxy, then the cluster-internal names
 * it lacks (localhost, 127.0.0.1, ::1, .svc, .cluster.local and ns's service domain
 * .<ns>.svc), comma-separated. 0, or -ERR_INVALID when it does not fit in n bytes. */
int session_no_proxy(const struct config *c, const char *ns, char *buf, size_t n);

/* 0 when reconciler.workspace_image names an image an install builds or a site publishes;
 * -ERR_INVALID with a sentence for a placeholder (example.com registries, the quay.io/gpuaas
 * workspace nobody publishes, OpenShift's in-cluster registry on plain Kubernetes).
 * `gpuaas config check` prints it as a warning. */
int session_check_workspace_image(const struct config *c, struct error *err);

#endif
