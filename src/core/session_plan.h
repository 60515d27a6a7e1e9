/* The session plan: what one booking becomes in Kubernetes. A pure function turns a
 * reservation, the configuration and the pool into the ordered list of desired objects
 * (jansson values ready for server-side apply), plus the tenant ClusterRole that gpuaas
 * installs once per cluster and the session URL.
 *
 * DESIGN: the list is in apply order and each object carries the rules the reconciler must
 * follow for it, so the order lives here, next to the objects, and is unit-tested:
 *   1. STAGE_NAMESPACE   the Namespace, create-or-get with an ownership check (never adopt
 *                        a namespace without our labels);
 *   2. STAGE_QUOTA       ResourceQuota and LimitRange; afterwards wait until the quota's
 *                        status.hard equals its spec.hard (quota is enforced from status);
 *   3. STAGE_ISOLATION   NetworkPolicies, before any workload;
 *   4. STAGE_IDENTITY    ServiceAccount, SCC RoleBinding (OpenShift), workspace RoleBinding;
 *   5. STAGE_WORKLOAD    ConfigMaps (proxy settings, the sign-in proxy's nginx.conf), PVCs,
 *                        Deployment (workspace + `gate` sign-in proxy), Service and Route,
 *                        Ingress or HTTPRoute (reconciler.expose; each to the gate's port
 *                        only); with the
 *                        node cache enabled, first the cluster-scoped PersistentVolume of the
 *                        store (hostPath, pre-bound to the session's `models` claim) and that
 *                        claim, which the workspace mounts read-only at cache.mount_path;
 *   6. STAGE_ACCESS      the user's RoleBinding, always the last object.
 * Objects counted by the quota carry `quota_counted`: a create refused with 403
 * `exceeded quota` may mean the object exists, so GET before failing.
 *
 * Ownership: session_plan_build() fills a caller-owned struct session_plan whose json_t
 * objects it owns; release with session_plan_free() (NULL-safe, idempotent). Functions
 * returning json_t * hand over one reference. */
#ifndef GPUAAS_CORE_SESSION_PLAN_H
#define GPUAAS_CORE_SESSION_PLAN_H

#include "common/error.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/reservation.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define SESSION_PLAN_MAX 32

/* Label keys and values set on every object of a session. */
#define SESSION_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define SESSION_MANAGED_BY "gpuaas"
#define SESSION_LABEL_RESERVATION "gpuaas.io/reservation"
#define SESSION_LABEL_USER "gpuaas.io/user"
/* On the one NetworkPolicy a tenant may change or delete (allow-same-namespace); the
 * admission policy gpuaas-tenant-networkpolicy refuses tenant writes to every other object
 * labelled managed-by gpuaas. */
#define SESSION_LABEL_TENANT_EDITABLE "gpuaas.io/tenant-editable"
/* Field manager for server-side apply. */
#define SESSION_FIELD_MANAGER "gpuaas"

/* Fixed object names inside a session namespace. */
#define SESSION_SA_NAME "workspace"
#define SESSION_WORKSPACE_NAME "workspace" /* Deployment, Service, Route/Ingress */
#define SESSION_QUOTA_NAME "session-quota"
#define SESSION_LIMITRANGE_NAME "session-defaults"
#define SESSION_PROXY_CONFIGMAP "proxy"
/* The sign-in proxy (src/core/gate_conf.h): a sidecar container of the workspace Deployment,
 * its nginx.conf in a ConfigMap, and the port name the Service, Route/Ingress and the
 * router's NetworkPolicy use; the workspace's own port is reached only from inside the pod
 * and from the session namespace. */
#define SESSION_GATE_NAME "gate" /* container, ConfigMap, port name */
#define SESSION_PVC_HOME "home"
#define SESSION_PVC_MODEL_CACHE "model-cache"
#define SESSION_PVC_MODELS "models" /* the node cache's store, read-only */
/* Suffix of the store's PersistentVolume: "<namespace>-models" (cluster-scoped). */
#define SESSION_PV_MODELS_SUFFIX "-models"

enum session_stage {
    STAGE_NAMESPACE = 0,
    STAGE_QUOTA,
    STAGE_ISOLATION,
    STAGE_IDENTITY,
    STAGE_WORKLOAD,
    STAGE_ACCESS,
    STAGE__COUNT
};

struct session_object {
    char step[48]; /* unique step name, e.g. "namespace", "netpol-allow-dns" */
    enum session_stage stage;
    char api_version[48]; /* "v1", "apps/v1", "route.openshift.io/v1", ... */
    char kind[48];        /* "Namespace", "ResourceQuota", ... */
    char group[48];       /* API group, "" for core */
    char version[16];     /* "v1" */
    char resource[48];    /* plural: "resourcequotas" */
    char namespace_[64];  /* "" for cluster-scoped objects (Namespace, PersistentVolume) */
    char name[80];
    bool create_or_get;     /* Namespace: POST, on 409 GET and check our labels; no SSA adopt */
    bool wait_quota_status; /* after applying, wait until status.hard == spec.hard */
    bool quota_counted;     /* 403 "exceeded quota" on create: GET before failing */
    bool tenant_owned;      /* applied when provisioning, never by drift repair */
    json_t *obj;            /* full object: apiVersion, kind, metadata, spec...; owned */
};

struct session_plan {
    char namespace_[64];
    char url[256];
    char user_label[64]; /* sanitized user name used in the gpuaas.io/user label */
    struct session_object objs[SESSION_PLAN_MAX];
    int n;
};

/* Builds the plan for reservation r. The namespace is r->session.namespace_ when set (names
 * are persisted once provisioned and never recomputed), otherwise <prefix><id>.
 * r->gpu_type must be a GPU resource of pool p. Returns 0 and fills *ret, or -ERR_INVALID /
 * -ERR_NOMEM with err naming the field. On failure *ret is left empty (n == 0). */
int session_plan_build(const struct reservation *r, const struct config *c, const struct pool *p,
                       struct session_plan *ret, struct error *err);
/* The settings the plan reads beyond what the configuration table bounds: with
 * cache.enabled, the store's node path (cache.host_path or cache.store_dir, absolute),
 * cache.mount_path (absolute, clear of the home and model-cache mounts) and cache.env
 * (NAME=VALUE pairs). 0, or -ERR_INVALID with err naming the key. session_plan_build() runs
 * it too; `gpuaas config check` and the reconciler's start call it to fail early. */
int session_plan_check_config(const struct config *c, struct error *err);
/* How the workspace is published: reconciler.expose, or when empty the platform's way ("route"
 * on openshift, "ingress" on kubernetes). The plan's step is "route", "ingress" or
 * "httproute" (a Gateway API HTTPRoute on reconciler.gateway_name/_namespace/_section). */
const char *session_expose(const struct config *c);
/* Every refusal of session_plan_build() that depends only on the booking and the
 * configuration, made at booking time: the plan is built for r as a booking not yet numbered
 * (id 1 when r->id is 0, no persisted namespace) and thrown away. The refusals: the GPU type
 * is a GPU resource of pool p, gpu_count is positive, the user is named, the workspace settings
 * are set and parse, the namespace prefix and domain make valid names, storage_gib (or
 * session.storage_gib when 0) holds the home and model-cache volumes, and
 * session_plan_check_config(). The API runs it before admitting a booking so that nothing
 * admitted fails at its start for a reason known when it was booked. 0, or -ERR_INVALID /
 * -ERR_NOMEM with err naming the field (and the minimum, for an amount). */
int session_plan_check_booking(const struct reservation *r, const struct config *c,
                               const struct pool *p, struct error *err);
/* Releases the objects of a plan built by session_plan_build(); NULL-safe. */
void session_plan_free(struct session_plan *plan);
/* The object of step `step`, or NULL. */
const struct session_object *session_plan_find(const struct session_plan *plan, const char *step);
const char *session_stage_name(enum session_stage s);

/* "<prefix><id>" into buf. -ERR_INVALID when it is not a valid DNS-1123 label (63 chars). */
int session_namespace_name(const struct config *c, int64_t id, char *buf, size_t n,
                           struct error *err);
/* "https://<namespace>.<ingress_domain>/" into buf. */
int session_url(const struct config *c, const char *ns, char *buf, size_t n);
/* A valid label value (<= 63 chars, [A-Za-z0-9._-], alphanumeric at both ends) derived
 * from a user name: other characters become '-', over-long names are cut and get a short
 * hash suffix so that distinct names stay distinct. Empty input gives "unknown". */
void session_user_label(const char *user, char *buf, size_t n);

/* The tenant ClusterRole named c->reconciler.tenant_cluster_role: everything the built-in
 * `admin` role grants inside a namespace, except write verbs on resourcequotas, limitranges,
 * roles, rolebindings and endpoints (read is allowed), and on OpenShift routes/custom-host and
 * builds. NetworkPolicy write is granted and bounded by admission (docs/security.md). NULL
 * on ENOMEM. */
json_t *session_tenant_cluster_role(const struct config *c);

#endif
