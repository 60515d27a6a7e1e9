/* The list of Kubernetes API calls the reconciler makes (see kube_calls.h). Server-side
 * apply that creates an object needs both create and patch. Live sessions are verified every
 * interval from one LIST per kind of the plan (labelled ours, across namespaces) and one of the
 * workspace pods, which are also listed per namespace while a session is provisioned.
 * tests/it/kube_calls.sh runs the reconciler against the API server double and fails when it
 * makes a call this list lacks, or when a call listed here is never made. An entry marked
 * failure path is made only after an error (the GET after a 403 "exceeded quota" on apply,
 * session.c apply_object), which that test does not provoke; the test fails if it sees one. */
#include "kube/kube_calls.h"
#include "common/util.h"

const struct kube_api_call kube_api_calls[] = {
    /* session namespaces: create-or-get with the ownership check, delete, GC list */
    {"create", "", "namespaces", NULL},
    {"get", "", "namespaces", NULL},
    {"list", "", "namespaces", NULL},
    {"delete", "", "namespaces", NULL},
    /* stuck Terminating namespaces (reconciler.finalize_stuck) */
    {"update", "", "namespaces/finalize", NULL},
    /* objects applied inside session namespaces (server-side apply: patch, and create when
     * the object is new), listed to verify live sessions; GET only after a 403 exceeded
     * quota, for the objects the quota counts (ConfigMap, PersistentVolumeClaims, Service),
     * and of the quota's status */
    {"list", "", "serviceaccounts", NULL},
    {"create", "", "serviceaccounts", NULL},
    {"patch", "", "serviceaccounts", NULL},
    {"get", "", "configmaps", NULL}, /* failure path */
    {"list", "", "configmaps", NULL},
    {"create", "", "configmaps", NULL},
    {"patch", "", "configmaps", NULL},
    {"get", "", "persistentvolumeclaims", NULL}, /* failure path */
    {"list", "", "persistentvolumeclaims", NULL},
    {"create", "", "persistentvolumeclaims", NULL},
    {"patch", "", "persistentvolumeclaims", NULL},
    {"get", "", "services", NULL}, /* failure path */
    {"list", "", "services", NULL},
    {"create", "", "services", NULL},
    {"patch", "", "services", NULL},
    {"get", "", "resourcequotas", NULL},
    {"list", "", "resourcequotas", NULL},
    {"create", "", "resourcequotas", NULL},
    {"patch", "", "resourcequotas", NULL},
    {"update", "", "resourcequotas", NULL}, /* replaced whole when changed (drift) */
    {"list", "", "limitranges", NULL},
    {"create", "", "limitranges", NULL},
    {"patch", "", "limitranges", NULL},
    /* the workspace's pods: why it is not ready, or degraded; the pods still present in a
     * namespace Terminating longer than reconciler.force_delete_after_seconds, deleted with
     * gracePeriodSeconds 0 */
    {"list", "", "pods", NULL},
    {"delete", "", "pods", NULL},
    /* the node cache's store, one cluster-scoped PersistentVolume per session (cache.enabled):
     * applied before the workspace, deleted at the end, orphans collected by the GC */
    {"create", "", "persistentvolumes", NULL},
    {"patch", "", "persistentvolumes", NULL},
    {"list", "", "persistentvolumes", NULL},
    {"delete", "", "persistentvolumes", NULL},
    /* drift: what the nodes advertise */
    {"list", "", "nodes", NULL},
    {"get", "apps", "deployments", NULL},
    {"list", "apps", "deployments", NULL},
    {"create", "apps", "deployments", NULL},
    {"patch", "apps", "deployments", NULL},
    {"list", "networking.k8s.io", "networkpolicies", NULL},
    {"create", "networking.k8s.io", "networkpolicies", NULL},
    {"patch", "networking.k8s.io", "networkpolicies", NULL},
    {"update", "networking.k8s.io", "networkpolicies", NULL}, /* replaced whole when changed */
    {"list", "networking.k8s.io", "ingresses", "kubernetes"},
    {"create", "networking.k8s.io", "ingresses", "kubernetes"},
    {"patch", "networking.k8s.io", "ingresses", "kubernetes"},
    {"get", "route.openshift.io", "routes", "openshift"},
    {"list", "route.openshift.io", "routes", "openshift"},
    {"create", "route.openshift.io", "routes", "openshift"},
    {"patch", "route.openshift.io", "routes", "openshift"},
    /* reconciler.expose httproute (either platform): the Gateway API's HTTPRoute per session */
    {"get", "gateway.networking.k8s.io", "httproutes", NULL}, /* accepted by the Gateway */
    {"list", "gateway.networking.k8s.io", "httproutes", NULL},
    {"create", "gateway.networking.k8s.io", "httproutes", NULL},
    {"patch", "gateway.networking.k8s.io", "httproutes", NULL},
    /* session RoleBindings (applied), and the GC of stale bindings labelled ours */
    {"create", "rbac.authorization.k8s.io", "rolebindings", NULL},
    {"patch", "rbac.authorization.k8s.io", "rolebindings", NULL},
    {"list", "rbac.authorization.k8s.io", "rolebindings", NULL},
    {"delete", "rbac.authorization.k8s.io", "rolebindings", NULL},
    {"list", "rbac.authorization.k8s.io", "clusterrolebindings", NULL},
    {"delete", "rbac.authorization.k8s.io", "clusterrolebindings", NULL},
};
const size_t kube_api_calls_n = ARRAY_SIZE(kube_api_calls);
