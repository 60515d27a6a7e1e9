/* Every Kubernetes API call the reconciler makes, as (verb, group, resource): the deploy
 * test checks that the reconciler's ClusterRole grants exactly these. Keep this list in step
 * with src/reconciler/ when a call is added or removed. */
#ifndef GPUAAS_KUBE_KUBE_CALLS_H
#define GPUAAS_KUBE_KUBE_CALLS_H

#include <stddef.h>

struct kube_api_call {
    const char *verb;     /* RBAC verb: get, list, watch, create, patch, update, delete */
    const char *group;    /* API group, "" for core */
    const char *resource; /* plural, with subresource when any ("namespaces/finalize") */
    const char *platform; /* NULL = every platform, else "openshift" or "kubernetes" */
};

extern const struct kube_api_call kube_api_calls[];
extern const size_t kube_api_calls_n;

#endif
