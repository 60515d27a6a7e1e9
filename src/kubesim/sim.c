/* The double's lifecycle (ksim_new/ksim_free) and the table of resource types it serves. */
#include "kubesim/sim_internal.h"

#include "common/util.h"

const struct rtype rtypes[] = {
    {"", "v1", "namespaces", "Namespace", "namespace", "ns", 0, "io.k8s.api.core.v1.Namespace", 1},
    {"", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", "sa", 1,
     "io.k8s.api.core.v1.ServiceAccount", 0},
    {"", "v1", "configmaps", "ConfigMap", "configmap", "cm", 1, "io.k8s.api.core.v1.ConfigMap", 0},
    {"", "v1", "secrets", "Secret", "secret", NULL, 1, "io.k8s.api.core.v1.Secret", 0},
    {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", "persistentvolumeclaim", "pvc", 1,
     "io.k8s.api.core.v1.PersistentVolumeClaim", 1},
    {"", "v1", "services", "Service", "service", "svc", 1, "io.k8s.api.core.v1.Service", 1},
    {"", "v1", "pods", "Pod", "pod", "po", 1, "io.k8s.api.core.v1.Pod", 1},
    {"", "v1", "resourcequotas", "ResourceQuota", "resourcequota", "quota", 1,
     "io.k8s.api.core.v1.ResourceQuota", 1},
    {"", "v1", "limitranges", "LimitRange", "limitrange", "limits", 1,
     "io.k8s.api.core.v1.LimitRange", 0},
    {"", "v1", "nodes", "Node", "node", "no", 0, "io.k8s.api.core.v1.Node", 1},
    {"", "v1", "events", "Event", "event", "ev", 1, "io.k8s.api.core.v1.Event", 0},
    {"apps", "v1", "deployments", "Deployment", "deployment", "deploy", 1,
     "io.k8s.api.apps.v1.Deployment", 1},
    {"apps", "v1", "replicasets", "ReplicaSet", "replicaset", "rs", 1,
     "io.k8s.api.apps.v1.ReplicaSet", 1},
    {"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "rolebinding", NULL, 1,
     "io.k8s.api.rbac.v1.RoleBinding", 0},
    {"rbac.authorization.k8s.io", "v1", "roles", "Role", "role", NULL, 1, "io.k8s.api.rbac.v1.Role",
     0},
    {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
     "clusterrolebinding", NULL, 0, "io.k8s.api.rbac.v1.ClusterRoleBinding", 0},
    {"rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", "clusterrole", NULL, 0,
     "io.k8s.api.rbac.v1.ClusterRole", 0},
    {"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", "networkpolicy", "netpol", 1,
     "io.k8s.api.networking.v1.NetworkPolicy", 0},
    {"networking.k8s.io", "v1", "ingresses", "Ingress", "ingress", "ing", 1,
     "io.k8s.api.networking.v1.Ingress", 1},
    {"coordination.k8s.io", "v1", "leases", "Lease", "lease", NULL, 1,
     "io.k8s.api.coordination.v1.Lease", 0},
    {"", "v1", "persistentvolumes", "PersistentVolume", "persistentvolume", "pv", 0,
     "io.k8s.api.core.v1.PersistentVolume", 1},
    {"admissionregistration.k8s.io", "v1", "validatingadmissionpolicies",
     "ValidatingAdmissionPolicy", "validatingadmissionpolicy", NULL, 0,
     "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy", 1},
    {"admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings",
     "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybinding", NULL, 0,
     "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicyBinding", 0},
    {"apps", "v1", "daemonsets", "DaemonSet", "daemonset", "ds", 1, "io.k8s.api.apps.v1.DaemonSet",
     1},
    {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", "poddisruptionbudget", "pdb", 1,
     "io.k8s.api.policy.v1.PodDisruptionBudget", 1},
    {"route.openshift.io", "v1", "routes", "Route", "route", NULL, 1,
     "com.github.openshift.api.route.v1.Route", 1},
    {"gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", "httproute", NULL, 1,
     "io.k8s.networking.gateway.v1.HTTPRoute", 1},
    {"gateway.networking.k8s.io", "v1", "gateways", "Gateway", "gateway", "gtw", 1,
     "io.k8s.networking.gateway.v1.Gateway", 1},
    {"security.openshift.io", "v1", "securitycontextconstraints", "SecurityContextConstraints",
     "securitycontextconstraints", "scc", 0,
     "com.github.openshift.api.security.v1.SecurityContextConstraints", 0},
    {"build.openshift.io", "v1", "buildconfigs", "BuildConfig", "buildconfig", "bc", 1,
     "com.github.openshift.api.build.v1.BuildConfig", 1},
    {"image.openshift.io", "v1", "imagestreams", "ImageStream", "imagestream", "is", 1,
     "com.github.openshift.api.image.v1.ImageStream", 1},
    /* kinds a tenant's attack names (tests/it/tenant_attacks.sh): served so that RBAC or a
     * policy refuses it, never a missing kind */
    {"", "v1", "endpoints", "Endpoints", "endpoints", "ep", 1, "io.k8s.api.core.v1.Endpoints", 0},
    {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", "endpointslice", NULL, 1,
     "io.k8s.api.discovery.v1.EndpointSlice", 0},
    {"apps", "v1", "statefulsets", "StatefulSet", "statefulset", "sts", 1,
     "io.k8s.api.apps.v1.StatefulSet", 1},
    {"batch", "v1", "jobs", "Job", "job", NULL, 1, "io.k8s.api.batch.v1.Job", 1},
    {"batch", "v1", "cronjobs", "CronJob", "cronjob", "cj", 1, "io.k8s.api.batch.v1.CronJob", 1},
    {"build.openshift.io", "v1", "builds", "Build", "build", NULL, 1,
     "com.github.openshift.api.build.v1.Build", 1},
    /* what `gpuaas doctor` reads (tests/it/doctor.sh): the storage class, the CRDs, the GPU
     * operator's ClusterPolicy and the CloudNativePG Cluster (no schema for the last two, and
     * no status subresource: a test writes their status as the operators would) */
    {"storage.k8s.io", "v1", "storageclasses", "StorageClass", "storageclass", "sc", 0,
     "io.k8s.api.storage.v1.StorageClass", 0},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
     "customresourcedefinition", "crd", 0,
     "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition", 1},
    {"nvidia.com", "v1", "clusterpolicies", "ClusterPolicy", "clusterpolicy", NULL, 0,
     "com.nvidia.v1.ClusterPolicy", 0},
    {"imageregistry.operator.openshift.io", "v1", "configs", "Config", "config", NULL, 0,
     "com.github.openshift.api.imageregistry.v1.Config", 0},
    {"postgresql.cnpg.io", "v1", "clusters", "Cluster", "cluster", NULL, 1,
     "io.cnpg.postgresql.v1.Cluster", 0},
    /* access reviews (sim_authz.c): answered, never stored */
    {"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
     "selfsubjectaccessreview", NULL, 0, "io.k8s.api.authorization.v1.SelfSubjectAccessReview", 1},
    {"authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview",
     "selfsubjectrulesreview", NULL, 0, "io.k8s.api.authorization.v1.SelfSubjectRulesReview", 1},
    {"authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
     "subjectaccessreview", NULL, 0, "io.k8s.api.authorization.v1.SubjectAccessReview", 1},
    {"authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview",
     "localsubjectaccessreview", NULL, 1, "io.k8s.api.authorization.v1.LocalSubjectAccessReview",
     1},
    {"authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", "selfsubjectreview",
     NULL, 0, "io.k8s.api.authentication.v1.SelfSubjectReview", 1},
};
const size_t nrtypes = ARRAY_SIZE(rtypes);

struct ksim *ksim_new(const struct ksim_options *opt)
{
    struct ksim *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cond, NULL);
    k->opt = *opt;
    k->store = json_object();
    k->rng = (unsigned)time_mono_ms() ^ 0x9e3779b9u;
    const char *initial[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
    for (size_t i = 0; i < 4; i++) {
        json_t *ns = json_pack("{s:{s:s}}", "metadata", "name", initial[i]);
        ks_do_create(k, &rtypes[0], "", ns, NULL, NULL, 0);
        json_decref(ns);
    }
    json_t *node =
        json_pack("{s:{s:s, s:{s:s}}, s:{s:{s:s, s:s, s:s}, s:{s:s, s:s, s:s}}}", "metadata",
                  "name", "kubesim-node", "labels", "kubernetes.io/hostname", "kubesim-node",
                  "status", "capacity", "cpu", "64", "memory", "512Gi", "pods", "250",
                  "allocatable", "cpu", "64", "memory", "512Gi", "pods", "250");
    if (opt->node_resources) {
        char buf[1024];
        snprintf(buf, sizeof(buf), "%s", opt->node_resources);
        char *save = NULL;
        for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            json_t *st = json_object_get(node, "status");
            json_object_set_new(json_object_get(st, "capacity"), kv, json_string(eq + 1));
            json_object_set_new(json_object_get(st, "allocatable"), kv, json_string(eq + 1));
        }
    }
    ks_do_create(k, ks_rtype_by_name("nodes"), "", node, NULL, NULL, 0);
    json_decref(node);
    return k;
}

void ksim_free(struct ksim *k)
{
    if (!k)
        return;
    ks_policy_close(k);
    for (size_t i = 0; i < EVENT_RING; i++)
        json_decref(k->ring[i].obj);
    json_decref(k->store);
    json_decref(k->pod_fates);
    free(k->tasks);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cond);
    free(k);
}
