/* The session plan: golden files for both platforms, schema validity of every object, the
 * order rules, the GPU quota, RBAC scope and the tenant role.
 * GPUAAS_UPDATE_GOLDEN=1 rewrites tests/data/golden/session/ (one .json per case) from the current
 * output. */
#include "common/json_find.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/reservation.h"
#include "core/session_plan.h"
#include "openapi_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_DIR "tests/data/golden/session"
#define OPENAPI_DIR GPUAAS_OPENAPI_SRC_DIR

static struct oapi *schemas;

static int load_schemas(void **state)
{
    char msg[1024];
    if (oapi_load_dir(OPENAPI_DIR, &schemas, msg, sizeof(msg))) {
        fprintf(stderr, "cannot load the OpenAPI definitions: %s\n", msg);
        return -1;
    }
    return 0;
}

static int free_schemas(void **state)
{
    oapi_free(schemas);
    schemas = NULL;
    return 0;
}

struct fixture {
    struct config *c;
    struct pool p;
    struct reservation r;
};

static void setup_fixture(struct fixture *f, const char *platform)
{
    struct error err = {0};
    memset(f, 0, sizeof(*f));
    assert_int_equal(config_load_file("config/gpuaas.example.yaml", &f->c, &err), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.platform, platform), 0);
    assert_int_equal(pool_derive(f->c, &f->p, &err), 0);
    f->r.id = 42;
    f->r.user_id = 7;
    snprintf(f->r.user, sizeof(f->r.user), "alice@example.com");
    f->r.cpu = 8;
    f->r.memory_gib = 64;
    f->r.storage_gib = 320;
    f->r.state = RS_APPROVED;
}

/* Interactive session on OpenShift with two MIG slices and an SCC. */
static void fixture_openshift_mig(struct fixture *f)
{
    setup_fixture(f, "openshift");
    assert_int_equal(config_set_string(&f->c->reconciler.scc, "gpuaas-workspace"), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.http_proxy, "http://proxy.corp:3128"), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.https_proxy, "http://proxy.corp:3128"), 0);
    assert_int_equal(
        config_set_string(&f->c->reconciler.no_proxy, ".svc,.cluster.local,10.0.0.0/8"), 0);
    /* egress only through the proxy */
    assert_int_equal(config_set_string(&f->c->reconciler.egress_cidrs, ""), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.egress_proxy, "10.20.0.5/32:3128"), 0);
    snprintf(f->r.gpu_type, sizeof(f->r.gpu_type), "nvidia.com/mig-1g.24gb");
    f->r.gpu_count = 2;
    f->r.mode = MODE_INTERACTIVE;
}

/* Inference session on plain Kubernetes with one whole GPU, an IngressClass and the node
 * cache mounted. */
static void fixture_kubernetes_gpu(struct fixture *f)
{
    setup_fixture(f, "kubernetes");
    f->c->cache.enabled = true;
    assert_int_equal(config_set_string(&f->c->cache.store_dir, "/var/lib/gpuaas/cache"), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.ingress_class, "nginx"), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.ingress_namespace, "ingress-nginx"), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.ingress_domain, "gpu.example.org"), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.storage_class, "fast-nvme"), 0);
    assert_int_equal(config_set_string(&f->c->reconciler.workspace_command,
                                       "jupyter lab --ip=0.0.0.0 --port 8080"),
                     0);
    snprintf(f->r.gpu_type, sizeof(f->r.gpu_type), "nvidia.com/gpu");
    snprintf(f->r.user, sizeof(f->r.user), "bob");
    f->r.id = 1234;
    f->r.gpu_count = 1;
    f->r.mode = MODE_INFERENCE;
    f->r.cpu = 16;
    f->r.memory_gib = 128;
    f->r.storage_gib = 500;
}

static json_t *plan_to_json(const struct session_plan *plan)
{
    json_t *steps = json_array();
    for (int i = 0; i < plan->n; i++) {
        const struct session_object *o = &plan->objs[i];
        json_array_append_new(steps,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:O}",
                                        "step", o->step, "stage", session_stage_name(o->stage),
                                        "resource", o->resource, "group", o->group, "namespace",
                                        o->namespace_, "name", o->name, "create_or_get",
                                        o->create_or_get, "wait_quota_status", o->wait_quota_status,
                                        "quota_counted", o->quota_counted, "object", o->obj));
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "namespace", plan->namespace_, "url", plan->url,
                     "user_label", plan->user_label, "steps", steps);
}

static void compare_golden(json_t *got, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), GOLDEN_DIR "/%s.json", name);
    const char *update = getenv("GPUAAS_UPDATE_GOLDEN");
    size_t flags = JSON_SORT_KEYS | JSON_INDENT(2);
    if (update && !strcmp(update, "1")) {
        assert_int_equal(json_dump_file(got, path, flags), 0);
        FILE *fp = fopen(path, "a");
        assert_non_null(fp);
        fputc('\n', fp);
        fclose(fp);
        return;
    }
    json_error_t je;
    json_t *want = json_load_file(path, 0, &je);
    if (!want)
        fail_msg("%s: %s (run with GPUAAS_UPDATE_GOLDEN=1 to create it)", path, je.text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, flags);
        fprintf(stderr, "golden mismatch for %s; got:\n%s\n", path, g);
        free(g);
        json_decref(want);
        fail_msg("%s differs from the plan (GPUAAS_UPDATE_GOLDEN=1 rewrites it after review)",
                 path);
    }
    json_decref(want);
}

static void validate_all(const struct session_plan *plan)
{
    char msg[2048];
    for (int i = 0; i < plan->n; i++) {
        if (oapi_validate(schemas, plan->objs[i].obj, msg, sizeof(msg)))
            fail_msg("step %s: %s", plan->objs[i].step, msg);
    }
}

static int stage_of(const struct session_plan *plan, const char *step)
{
    const struct session_object *o = session_plan_find(plan, step);
    if (!o)
        fail_msg("step %s missing", step);
    return (int)(o - plan->objs);
}

/* The order rules: namespace first, quota and LimitRange next (waiting on the quota), network
 * policies before any workload, the user's RoleBinding last, stages never go backwards. */
static void check_order(const struct session_plan *plan)
{
    assert_true(plan->n > 5);
    assert_string_equal(plan->objs[0].kind, "Namespace");
    assert_true(plan->objs[0].create_or_get);
    assert_string_equal(plan->objs[1].kind, "ResourceQuota");
    assert_true(plan->objs[1].wait_quota_status);
    assert_string_equal(plan->objs[2].kind, "LimitRange");
    for (int i = 1; i < plan->n; i++)
        assert_true(plan->objs[i - 1].stage <= plan->objs[i].stage);
    int last_netpol = -1, first_workload = plan->n;
    for (int i = 0; i < plan->n; i++) {
        const char *k = plan->objs[i].kind;
        if (!strcmp(k, "NetworkPolicy"))
            last_netpol = i;
        if ((!strcmp(k, "Deployment") || !strcmp(k, "Service") ||
             !strcmp(k, "PersistentVolumeClaim")) &&
            i < first_workload)
            first_workload = i;
        assert_string_not_equal(k, "ClusterRoleBinding");
        assert_string_not_equal(k, "ClusterRole");
    }
    assert_true(last_netpol > 0);
    assert_true(last_netpol < first_workload);
    const struct session_object *last = &plan->objs[plan->n - 1];
    assert_string_equal(last->step, "rolebinding-user");
    assert_int_equal(last->stage, STAGE_ACCESS);
    assert_int_equal(stage_of(plan, "rolebinding-user"), plan->n - 1);
    /* steps are unique */
    for (int i = 0; i < plan->n; i++)
        for (int j = i + 1; j < plan->n; j++)
            assert_string_not_equal(plan->objs[i].step, plan->objs[j].step);
}

/* Every object carries the three labels and sits in the session namespace. */
static void check_labels(const struct session_plan *plan, const char *id)
{
    for (int i = 0; i < plan->n; i++) {
        json_t *md = json_object_get(plan->objs[i].obj, "metadata");
        json_t *l = json_object_get(md, "labels");
        assert_string_equal(json_string_value(json_object_get(l, SESSION_LABEL_MANAGED_BY)),
                            "gpuaas");
        assert_string_equal(json_string_value(json_object_get(l, SESSION_LABEL_RESERVATION)), id);
        assert_string_equal(json_string_value(json_object_get(l, SESSION_LABEL_USER)),
                            plan->user_label);
        bool cluster_scoped = !strcmp(plan->objs[i].kind, "Namespace") ||
                              !strcmp(plan->objs[i].kind, "PersistentVolume");
        assert_int_equal(i == 0, !strcmp(plan->objs[i].kind, "Namespace"));
        if (!cluster_scoped)
            assert_string_equal(json_string_value(json_object_get(md, "namespace")),
                                plan->namespace_);
        else
            assert_null(json_object_get(md, "namespace"));
    }
}

static const char *hard(const struct session_plan *plan, const char *key)
{
    json_t *o = session_plan_find(plan, "resourcequota")->obj;
    return json_string_value(
        json_object_get(json_object_get(json_object_get(o, "spec"), "hard"), key));
}

static json_t *workspace_container(const struct session_plan *plan)
{
    json_t *d = session_plan_find(plan, "deployment")->obj;
    json_t *spec = json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec");
    return json_array_get(json_object_get(spec, "containers"), 0);
}

static void test_openshift_interactive_mig(void **state)
{
    struct fixture f;
    struct session_plan plan;
    struct error err = {0};
    fixture_openshift_mig(&f);
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), 0);
    assert_string_equal(plan.namespace_, "gpuaas-42");
    assert_string_equal(plan.url, "https://gpuaas-42.apps.sno.example.com/");
    check_order(&plan);
    check_labels(&plan, "42");
    validate_all(&plan);

    /* quota: 2 slices x 2 replicas for the booked type, 0 for the whole GPU */
    assert_string_equal(hard(&plan, "requests.nvidia.com/mig-1g.24gb"), "4");
    assert_string_equal(hard(&plan, "requests.nvidia.com/gpu"), "0");
    assert_string_equal(hard(&plan, "services.loadbalancers"), "0");
    assert_string_equal(hard(&plan, "services.nodeports"), "0");
    assert_string_equal(hard(&plan, "requests.storage"), "320Gi");
    /* the node cache is off in this configuration: no store volume */
    assert_null(session_plan_find(&plan, "pv-models"));
    assert_null(session_plan_find(&plan, "pvc-models"));
    assert_null(hard(&plan, "limits.nvidia.com/gpu"));

    /* interactive: one slot of the booked type, request == limit */
    json_t *res = json_object_get(workspace_container(&plan), "resources");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "requests"),
                                                          "nvidia.com/mig-1g.24gb")),
                        "1");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "limits"),
                                                          "nvidia.com/mig-1g.24gb")),
                        "1");
    /* half of the booked cpu and memory, leaving room for pods on the other slots */
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "requests"), "cpu")),
                        "4");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res, "limits"), "memory")), "32Gi");

    /* OpenShift: Route with edge TLS, SCC binding, no Ingress */
    const struct session_object *route = session_plan_find(&plan, "route");
    assert_non_null(route);
    assert_null(session_plan_find(&plan, "ingress"));
    json_t *rs = json_object_get(route->obj, "spec");
    assert_string_equal(json_string_value(json_object_get(rs, "host")),
                        "gpuaas-42.apps.sno.example.com");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rs, "tls"), "termination")), "edge");
    const struct session_object *scc = session_plan_find(&plan, "rolebinding-scc");
    assert_non_null(scc);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(scc->obj, "roleRef"), "name")),
        "system:openshift:scc:gpuaas-workspace");
    assert_true(stage_of(&plan, "rolebinding-scc") < stage_of(&plan, "deployment"));

    /* proxy ConfigMap from the configuration */
    json_t *data = json_object_get(session_plan_find(&plan, "configmap-proxy")->obj, "data");
    assert_string_equal(json_string_value(json_object_get(data, "HTTPS_PROXY")),
                        "http://proxy.corp:3128");

    /* user RoleBinding: namespace scope, the real user name, the tenant role */
    json_t *ub = session_plan_find(&plan, "rolebinding-user")->obj;
    assert_string_equal(json_string_value(json_object_get(ub, "kind")), "RoleBinding");
    json_t *subj = json_array_get(json_object_get(ub, "subjects"), 0);
    assert_string_equal(json_string_value(json_object_get(subj, "name")), "alice@example.com");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ub, "roleRef"), "name")),
                        "gpuaas-tenant");

    json_t *all = plan_to_json(&plan);
    compare_golden(all, "interactive-openshift-mig");
    json_decref(all);
    session_plan_free(&plan);
    config_free(f.c);
}

static void test_kubernetes_inference_gpu(void **state)
{
    struct fixture f;
    struct session_plan plan;
    struct error err = {0};
    fixture_kubernetes_gpu(&f);
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), 0);
    assert_string_equal(plan.namespace_, "gpuaas-1234");
    assert_string_equal(plan.url, "https://gpuaas-1234.gpu.example.org/");
    check_order(&plan);
    check_labels(&plan, "1234");
    validate_all(&plan);

    assert_string_equal(hard(&plan, "requests.nvidia.com/gpu"), "4");
    assert_string_equal(hard(&plan, "requests.nvidia.com/mig-1g.24gb"), "0");

    /* inference: the workspace asks for no GPU */
    json_t *ct = workspace_container(&plan);
    json_t *res = json_object_get(ct, "resources");
    assert_null(json_object_get(json_object_get(res, "requests"), "nvidia.com/gpu"));
    assert_null(json_object_get(json_object_get(res, "limits"), "nvidia.com/gpu"));
    json_t *cmd = json_object_get(ct, "command");
    assert_int_equal(json_array_size(cmd), 5);
    assert_string_equal(json_string_value(json_array_get(cmd, 2)), "--ip=0.0.0.0");

    /* Kubernetes: Pod Security Admission restricted (no root, no added capabilities, no
     * hostPath), which the workspace meets */
    json_t *nsl = json_object_get(json_object_get(plan.objs[0].obj, "metadata"), "labels");
    assert_string_equal(
        json_string_value(json_object_get(nsl, "pod-security.kubernetes.io/enforce")),
        "restricted");
    /* node-local disk is bounded by the quota (50 GiB for the tenant, 128 MiB on top for the
     * sign-in proxy), and the LimitRange gives every container a share */
    assert_string_equal(hard(&plan, "limits.ephemeral-storage"), "51328Mi");
    assert_string_equal(hard(&plan, "requests.ephemeral-storage"), "51328Mi");
    json_t *lr = json_array_get(
        json_object_get(json_object_get(session_plan_find(&plan, "limitrange")->obj, "spec"),
                        "limits"),
        0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(lr, "default"), "ephemeral-storage")),
        "10Gi");
    /* direct egress: anywhere but the private, shared and link-local (metadata) blocks */
    json_t *eg = json_object_get(
        json_object_get(session_plan_find(&plan, "netpol-allow-egress")->obj, "spec"), "egress");
    json_t *v4 =
        json_object_get(json_array_get(json_object_get(json_array_get(eg, 0), "to"), 0), "ipBlock");
    assert_string_equal(json_string_value(json_object_get(v4, "cidr")), "0.0.0.0/0");
    assert_int_equal(json_array_size(json_object_get(v4, "except")), 5);
    assert_true(session_plan_find(&plan, "netpol-allow-same-namespace")->tenant_owned);
    assert_false(session_plan_find(&plan, "netpol-default-deny")->tenant_owned);

    /* Kubernetes: Ingress with the class, no Route, no SCC binding */
    assert_null(session_plan_find(&plan, "route"));
    assert_null(session_plan_find(&plan, "rolebinding-scc"));
    json_t *ing = session_plan_find(&plan, "ingress")->obj;
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(ing, "spec"), "ingressClassName")),
        "nginx");
    json_t *pvc = json_object_get(session_plan_find(&plan, "pvc-model-cache")->obj, "spec");
    assert_string_equal(json_string_value(json_object_get(pvc, "storageClassName")), "fast-nvme");

    /* the node cache: the PersistentVolume comes before its claim, both before the workspace;
     * the quota adds the nominal request of the models claim to the booked storage */
    assert_true(stage_of(&plan, "pv-models") < stage_of(&plan, "pvc-models"));
    assert_true(stage_of(&plan, "pvc-models") < stage_of(&plan, "deployment"));
    assert_string_equal(session_plan_find(&plan, "pv-models")->name, "gpuaas-1234-models");
    assert_string_equal(session_plan_find(&plan, "pv-models")->namespace_, "");
    assert_string_equal(hard(&plan, "requests.storage"), "501Gi");
    assert_string_equal(hard(&plan, "persistentvolumeclaims"), "9");

    json_t *all = plan_to_json(&plan);
    compare_golden(all, "inference-kubernetes-gpu");
    json_decref(all);
    session_plan_free(&plan);
    config_free(f.c);
}

/* The fixture on platform with a booking of one whole GPU. */
static void one_gpu_fixture(struct fixture *f, const char *platform)
{
    setup_fixture(f, platform);
    snprintf(f->r.gpu_type, sizeof(f->r.gpu_type), "nvidia.com/gpu");
    f->r.gpu_count = 1;
}

/* No container may run as root, escalate privileges, or lack requests. */
static void test_workspace_security(void **state)
{
    const char *platforms[] = {"openshift", "kubernetes"};
    for (size_t i = 0; i < 2; i++) {
        struct fixture f;
        struct session_plan plan;
        struct error err = {0};
        one_gpu_fixture(&f, platforms[i]);
        assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), 0);
        json_t *ct = workspace_container(&plan);
        json_t *sc = json_object_get(ct, "securityContext");
        assert_true(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
        assert_true(json_is_true(json_object_get(sc, "runAsNonRoot")));
        json_t *req = json_object_get(json_object_get(ct, "resources"), "requests");
        assert_non_null(json_object_get(req, "cpu"));
        assert_non_null(json_object_get(req, "memory"));
        session_plan_free(&plan);
        config_free(f.c);
    }
}

static json_t *find_named(json_t *arr, const char *name)
{
    return json_find_by(arr, "name", name);
}

/* With the node cache enabled, nothing in the plan lets the workspace write to the store: the
 * volume is ReadOnlyMany, the pod's claim and every mount of it are readOnly, the hostPath is
 * reclaimed with Retain (deleting the volume never touches the node's files), the claim is
 * pre-bound both ways (claimRef and volumeName), and the objects validate. */
/* The container of the Deployment that declares the named port, its number in *ret_port. */
static const char *container_with_port(json_t *deploy, const char *port, long *ret_port)
{
    json_t *spec =
        json_object_get(json_object_get(json_object_get(deploy, "spec"), "template"), "spec");
    size_t i, k;
    json_t *ct, *pt;
    json_array_foreach(json_object_get(spec, "containers"), i, ct)
    {
        json_array_foreach(json_object_get(ct, "ports"), k, pt)
        {
            if (!strcmp(json_string_value(json_object_get(pt, "name")), port)) {
                *ret_port = (long)json_integer_value(json_object_get(pt, "containerPort"));
                return json_string_value(json_object_get(ct, "name"));
            }
        }
    }
    return NULL;
}

/* Route/Ingress -> Service -> a container port: the sign-in proxy's, never the workspace's,
 * and the router's NetworkPolicy opens only that port. */
static void test_exposure_reaches_only_the_gate(void **state)
{
    const char *platforms[] = {"openshift", "kubernetes"};
    for (size_t i = 0; i < 2; i++) {
        struct fixture f;
        struct session_plan plan;
        struct error err = {0};
        one_gpu_fixture(&f, platforms[i]);
        assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), 0);
        /* the Service port the exposure names */
        const char *svc_port_name;
        if (!strcmp(platforms[i], "openshift")) {
            json_t *route = session_plan_find(&plan, "route")->obj;
            json_t *to = json_object_get(json_object_get(route, "spec"), "to");
            assert_string_equal(json_string_value(json_object_get(to, "name")),
                                SESSION_WORKSPACE_NAME);
            svc_port_name = json_string_value(json_object_get(
                json_object_get(json_object_get(route, "spec"), "port"), "targetPort"));
        } else {
            json_t *ing = session_plan_find(&plan, "ingress")->obj;
            json_t *backend = json_object_get(
                json_array_get(
                    json_object_get(
                        json_object_get(
                            json_array_get(json_object_get(json_object_get(ing, "spec"), "rules"),
                                           0),
                            "http"),
                        "paths"),
                    0),
                "backend");
            json_t *svc = json_object_get(backend, "service");
            assert_string_equal(json_string_value(json_object_get(svc, "name")),
                                SESSION_WORKSPACE_NAME);
            svc_port_name =
                json_string_value(json_object_get(json_object_get(svc, "port"), "name"));
        }
        assert_non_null(svc_port_name);
        /* the Service: its only port, and where it points */
        json_t *svc = session_plan_find(&plan, "service")->obj;
        json_t *ports = json_object_get(json_object_get(svc, "spec"), "ports");
        assert_int_equal(json_array_size(ports), 1);
        json_t *sp = json_array_get(ports, 0);
        assert_string_equal(json_string_value(json_object_get(sp, "name")), svc_port_name);
        const char *target = json_string_value(json_object_get(sp, "targetPort"));
        assert_non_null(target);
        long port = 0;
        const char *ct =
            container_with_port(session_plan_find(&plan, "deployment")->obj, target, &port);
        assert_non_null(ct);
        assert_string_equal(ct, SESSION_GATE_NAME);
        assert_int_equal(port, f.c->reconciler.gate_port);
        assert_int_not_equal(port, f.c->reconciler.workspace_port);
        /* the router reaches that port only */
        json_t *np = session_plan_find(&plan, "netpol-allow-from-ingress")->obj;
        json_t *np_ports = json_object_get(
            json_array_get(json_object_get(json_object_get(np, "spec"), "ingress"), 0), "ports");
        assert_int_equal(json_array_size(np_ports), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(np_ports, 0), "port")),
                         f.c->reconciler.gate_port);
        /* the gate's configuration is there, for this reservation, checking every request */
        json_t *cm = session_plan_find(&plan, "configmap-gate")->obj;
        const char *conf =
            json_string_value(json_object_get(json_object_get(cm, "data"), "nginx.conf"));
        assert_non_null(conf);
        char check[256];
        snprintf(check, sizeof(check), "http://gpuaas-server.%s.svc:%ld/api/v1/gate/42/check",
                 f.c->reconciler.platform_namespace, f.c->reconciler.server_port);
        assert_non_null(strstr(conf, check));
        /* the server the gate asks is the one allow-workspace-auth lets it reach */
        json_t *wa = session_plan_find(&plan, "netpol-allow-workspace-auth")->obj;
        json_t *wa_port = json_array_get(
            json_object_get(
                json_array_get(json_object_get(json_object_get(wa, "spec"), "egress"), 0), "ports"),
            0);
        assert_int_equal(json_integer_value(json_object_get(wa_port, "port")),
                         f.c->reconciler.server_port);
        assert_non_null(strstr(conf, "auth_request /_gpuaas/auth;"));
        session_plan_free(&plan);
        config_free(f.c);
    }
}

static void test_gate_config_errors(void **state)
{
    struct fixture f;
    struct session_plan plan;
    struct error err = {0};
    one_gpu_fixture(&f, "kubernetes");
    assert_int_equal(config_set_string(&f.c->reconciler.gate_auth_url, "http://x;evil"), 0);
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), -ERR_INVALID);
    assert_string_equal(err.field, "reconciler.gate_auth_url");
    assert_int_equal(config_set_string(&f.c->reconciler.gate_auth_url, "http://srv:8080"), 0);
    f.c->reconciler.gate_port = f.c->reconciler.workspace_port;
    memset(&err, 0, sizeof(err));
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), -ERR_INVALID);
    assert_string_equal(err.field, "reconciler.gate_port");
    config_free(f.c);
}

static void test_models_read_only(void **state)
{
    const char *platforms[] = {"openshift", "kubernetes"};
    for (size_t p = 0; p < 2; p++) {
        struct fixture f;
        struct session_plan plan;
        struct error err = {0};
        setup_fixture(&f, platforms[p]);
        f.c->cache.enabled = true;
        assert_int_equal(config_set_string(&f.c->cache.store_dir, "/var/lib/gpuaas/cache"), 0);
        assert_int_equal(config_set_string(&f.c->cache.env, " GPUAAS_MODELS=/models/names , "
                                                            "HF_HOME=/cache/hf,HF_HUB_OFFLINE=1"),
                         0);
        snprintf(f.r.gpu_type, sizeof(f.r.gpu_type), "nvidia.com/gpu");
        f.r.gpu_count = 1;
        assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), 0);
        check_order(&plan);
        check_labels(&plan, "42");
        validate_all(&plan);

        const struct session_object *pv = session_plan_find(&plan, "pv-models");
        assert_non_null(pv);
        assert_string_equal(pv->kind, "PersistentVolume");
        assert_string_equal(pv->resource, "persistentvolumes");
        assert_string_equal(pv->name, "gpuaas-42-models");
        json_t *ps = json_object_get(pv->obj, "spec");
        assert_int_equal(json_array_size(json_object_get(ps, "accessModes")), 1);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(ps, "accessModes"), 0)),
            "ReadOnlyMany");
        assert_string_equal(json_string_value(json_object_get(ps, "persistentVolumeReclaimPolicy")),
                            "Retain");
        assert_string_equal(json_string_value(json_object_get(ps, "storageClassName")), "");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(ps, "hostPath"), "path")),
            "/var/lib/gpuaas/cache");
        json_t *cref = json_object_get(ps, "claimRef");
        assert_string_equal(json_string_value(json_object_get(cref, "namespace")), "gpuaas-42");
        assert_string_equal(json_string_value(json_object_get(cref, "name")), SESSION_PVC_MODELS);

        const struct session_object *pvc = session_plan_find(&plan, "pvc-models");
        assert_non_null(pvc);
        assert_string_equal(pvc->name, SESSION_PVC_MODELS);
        assert_string_equal(pvc->namespace_, "gpuaas-42");
        json_t *cs = json_object_get(pvc->obj, "spec");
        assert_string_equal(json_string_value(json_object_get(cs, "volumeName")), pv->name);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(cs, "accessModes"), 0)),
            "ReadOnlyMany");
        assert_string_equal(json_string_value(json_object_get(cs, "storageClassName")), "");

        json_t *d = session_plan_find(&plan, "deployment")->obj;
        json_t *pod =
            json_object_get(json_object_get(json_object_get(d, "spec"), "template"), "spec");
        /* no hostPath in the pod itself (Pod Security baseline and restricted SCCs refuse it) */
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(pod, "volumes"), i, v)
            assert_null(json_object_get(v, "hostPath"));
        json_t *vol = find_named(json_object_get(pod, "volumes"), SESSION_PVC_MODELS);
        assert_non_null(vol);
        json_t *claim = json_object_get(vol, "persistentVolumeClaim");
        assert_string_equal(json_string_value(json_object_get(claim, "claimName")),
                            SESSION_PVC_MODELS);
        assert_true(json_is_true(json_object_get(claim, "readOnly")));
        /* every mount of the store in every container is readOnly */
        int mounts = 0;
        json_t *ct;
        size_t ci;
        json_array_foreach(json_object_get(pod, "containers"), ci, ct)
        {
            json_t *m;
            json_array_foreach(json_object_get(ct, "volumeMounts"), i, m)
            {
                if (strcmp(json_string_value(json_object_get(m, "name")), SESSION_PVC_MODELS))
                    continue;
                assert_true(json_is_true(json_object_get(m, "readOnly")));
                mounts++;
            }
        }
        assert_null(json_object_get(pod, "initContainers"));
        assert_int_equal(mounts, 2);
        json_t *vm = json_object_get(workspace_container(&plan), "volumeMounts");
        json_t *names = NULL, *blobs = NULL;
        json_array_foreach(vm, i, v)
        {
            const char *mp = json_string_value(json_object_get(v, "mountPath"));
            if (!strcmp(mp, "/models/names"))
                names = v;
            if (!strcmp(mp, "/models/blobs"))
                blobs = v;
        }
        assert_non_null(names);
        assert_non_null(blobs);
        assert_string_equal(json_string_value(json_object_get(names, "subPath")), "names");
        assert_string_equal(json_string_value(json_object_get(blobs, "subPath")), "blobs");

        /* cache.env: added, and a same-named variable of the plan replaced (not duplicated) */
        json_t *env = json_object_get(workspace_container(&plan), "env");
        assert_string_equal(
            json_string_value(json_object_get(find_named(env, "GPUAAS_MODELS"), "value")),
            "/models/names");
        assert_string_equal(
            json_string_value(json_object_get(find_named(env, "HF_HUB_OFFLINE"), "value")), "1");
        assert_string_equal(json_string_value(json_object_get(find_named(env, "HF_HOME"), "value")),
                            "/cache/hf");
        int hf = 0;
        json_array_foreach(env, i, v) hf +=
            !strcmp(json_string_value(json_object_get(v, "name")), "HF_HOME");
        assert_int_equal(hf, 1);
        assert_string_equal(json_string_value(json_object_get(find_named(env, "HOME"), "value")),
                            "/home/workspace");
        session_plan_free(&plan);
        config_free(f.c);
    }
}

/* The default cache.env leaves HF_HOME on the writable model-cache volume. */
static void test_models_default_env(void **state)
{
    struct fixture f;
    struct session_plan plan;
    struct error err = {0};
    setup_fixture(&f, "kubernetes");
    f.c->cache.enabled = true;
    assert_int_equal(config_set_string(&f.c->cache.store_dir, "/var/lib/gpuaas/cache"), 0);
    snprintf(f.r.gpu_type, sizeof(f.r.gpu_type), "nvidia.com/gpu");
    f.r.gpu_count = 1;
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), 0);
    json_t *env = json_object_get(workspace_container(&plan), "env");
    assert_string_equal(
        json_string_value(json_object_get(find_named(env, "GPUAAS_MODELS"), "value")),
        "/models/names");
    assert_string_equal(json_string_value(json_object_get(find_named(env, "HF_HOME"), "value")),
                        "/cache/huggingface");
    session_plan_free(&plan);
    config_free(f.c);
}

/* Bad cache settings are refused naming the key; disabled, they are not looked at. */
static void test_models_config_errors(void **state)
{
    static const struct {
        const char *store_dir, *host_path, *mount_path, *env, *field;
    } cases[] = {
        {"var/cache", "", "/models", "A=b", "cache.store_dir"},
        {"/var/lib/c", "relative/x", "/models", "A=b", "cache.host_path"},
        {"/var/lib/c", "/srv/../etc", "/models", "A=b", "cache.host_path"},
        {"/var/lib/c", "", "/", "A=b", "cache.mount_path"},
        {"/var/lib/c", "", "models", "A=b", "cache.mount_path"},
        {"/var/lib/c", "", "/home", "A=b", "cache.mount_path"},
        {"/var/lib/c", "", "/cache/models", "A=b", "cache.mount_path"},
        {"/var/lib/c", "", "/models", "NOEQUALS", "cache.env"},
        {"/var/lib/c", "", "/models", "1BAD=x", "cache.env"},
        {"/var/lib/c", "", "/models", "A-B=x", "cache.env"},
        {"/var/lib/c", "", "/models", "=x", "cache.env"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        struct session_plan plan;
        struct error err = {0};
        one_gpu_fixture(&f, "kubernetes");
        assert_int_equal(config_set_string(&f.c->cache.store_dir, cases[i].store_dir), 0);
        assert_int_equal(config_set_string(&f.c->cache.host_path, cases[i].host_path), 0);
        assert_int_equal(config_set_string(&f.c->cache.mount_path, cases[i].mount_path), 0);
        assert_int_equal(config_set_string(&f.c->cache.env, cases[i].env), 0);
        /* disabled: the plan ignores the cache settings */
        assert_int_equal(session_plan_check_config(f.c, &err), 0);
        assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), 0);
        assert_null(session_plan_find(&plan, "pv-models"));
        session_plan_free(&plan);
        f.c->cache.enabled = true;
        /* `gpuaas config check` and the reconciler's start refuse it too, naming the key */
        struct error cerr = {0};
        assert_int_equal(session_plan_check_config(f.c, &cerr), -ERR_INVALID);
        assert_string_equal(cerr.field, cases[i].field);
        assert_non_null(strstr(cerr.message, cases[i].field));
        assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), -ERR_INVALID);
        assert_int_equal(plan.n, 0);
        if (strcmp(err.field, cases[i].field))
            fail_msg("case %zu: field \"%s\", want \"%s\" (%s)", i, err.field, cases[i].field,
                     err.message);
        config_free(f.c);
    }
}

/* The persisted namespace is used as is; errors name the field. */
static void test_names_and_errors(void **state)
{
    struct fixture f;
    struct session_plan plan;
    struct error err = {0};
    fixture_openshift_mig(&f);
    snprintf(f.r.session.namespace_, sizeof(f.r.session.namespace_), "gpuaas-old-42");
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), 0);
    assert_string_equal(plan.namespace_, "gpuaas-old-42");
    assert_string_equal(plan.url, "https://gpuaas-old-42.apps.sno.example.com/");
    session_plan_free(&plan);
    session_plan_free(&plan); /* idempotent */

    f.r.session.namespace_[0] = '\0';
    snprintf(f.r.gpu_type, sizeof(f.r.gpu_type), "cpu");
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), -ERR_INVALID);
    assert_string_equal(err.field, "gpu_type");
    assert_int_equal(plan.n, 0);

    snprintf(f.r.gpu_type, sizeof(f.r.gpu_type), "nvidia.com/gpu");
    f.r.storage_gib = 100;
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), -ERR_INVALID);
    assert_string_equal(err.field, "storage_gib");
    f.r.storage_gib = 320;

    assert_int_equal(config_set_string(&f.c->reconciler.namespace_prefix, "GPU_"), 0);
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), -ERR_INVALID);
    assert_string_equal(err.field, "reconciler.namespace_prefix");

    assert_int_equal(config_set_string(&f.c->reconciler.namespace_prefix, "gpuaas-"), 0);
    assert_int_equal(config_set_string(&f.c->reconciler.workspace_command, "sh -c 'unterminated"),
                     0);
    assert_int_equal(session_plan_build(&f.r, f.c, &f.p, &plan, &err), -ERR_INVALID);
    assert_string_equal(err.field, "reconciler.workspace_command");
    assert_int_equal(plan.n, 0);
    config_free(f.c);
}

/* Each refusal of the plan that depends only on the booking and the configuration is also made
 * by session_plan_check_booking() for the same booking not yet numbered, naming the same field:
 * the API calls it before admitting, so no admitted booking fails at its start for a reason
 * known when it was booked. */
enum mut {
    M_GPU_TYPE,
    M_GPU_COUNT,
    M_USER,
    M_STORAGE,
    M_IMAGE,
    M_ROLE,
    M_DOMAIN,
    M_LONG_DOMAIN,
    M_PREFIX,
    M_COMMAND,
    M_CACHE_MOUNT,
    M_CACHE_ENV,
};

static void mutate(struct fixture *f, enum mut m)
{
    char longdom[300];
    switch (m) {
    case M_GPU_TYPE:
        snprintf(f->r.gpu_type, sizeof(f->r.gpu_type), "cpu");
        break;
    case M_GPU_COUNT:
        f->r.gpu_count = 0;
        break;
    case M_USER:
        f->r.user[0] = '\0';
        break;
    case M_STORAGE:
        f->r.storage_gib = 1;
        break;
    case M_IMAGE:
        assert_int_equal(config_set_string(&f->c->reconciler.workspace_image, ""), 0);
        break;
    case M_ROLE:
        assert_int_equal(config_set_string(&f->c->reconciler.tenant_cluster_role, ""), 0);
        break;
    case M_DOMAIN:
        assert_int_equal(config_set_string(&f->c->reconciler.ingress_domain, ""), 0);
        break;
    case M_LONG_DOMAIN:
        memset(longdom, 'a', sizeof(longdom) - 1);
        longdom[sizeof(longdom) - 1] = '\0';
        assert_int_equal(config_set_string(&f->c->reconciler.ingress_domain, longdom), 0);
        break;
    case M_PREFIX:
        assert_int_equal(config_set_string(&f->c->reconciler.namespace_prefix, "GPU_"), 0);
        break;
    case M_COMMAND:
        assert_int_equal(config_set_string(&f->c->reconciler.workspace_command, "sh -c 'x"), 0);
        break;
    case M_CACHE_MOUNT:
        f->c->cache.enabled = true;
        assert_int_equal(config_set_string(&f->c->cache.store_dir, "/var/lib/c"), 0);
        assert_int_equal(config_set_string(&f->c->cache.mount_path, "/home"), 0);
        break;
    case M_CACHE_ENV:
        f->c->cache.enabled = true;
        assert_int_equal(config_set_string(&f->c->cache.store_dir, "/var/lib/c"), 0);
        assert_int_equal(config_set_string(&f->c->cache.env, "1BAD=x"), 0);
        break;
    }
}

static void test_refused_at_booking(void **state)
{
    static const struct {
        enum mut m;
        const char *field;
        const char *says; /* in the message */
    } cases[] = {
        {M_GPU_TYPE, "gpu_type", "cpu"},
        {M_GPU_COUNT, "gpu_count", "positive"},
        {M_USER, "user", "user name"},
        {M_STORAGE, "storage_gib", "storage_gib must be at least 320"},
        {M_IMAGE, "reconciler.workspace_image", "must be set"},
        {M_ROLE, "reconciler.tenant_cluster_role", "must be set"},
        {M_DOMAIN, "reconciler.ingress_domain", "must be set"},
        {M_LONG_DOMAIN, "reconciler.ingress_domain", "too long"},
        {M_PREFIX, "reconciler.namespace_prefix", "DNS-1123"},
        {M_COMMAND, "reconciler.workspace_command", "quote"},
        {M_CACHE_MOUNT, "cache.mount_path", "overlaps"},
        {M_CACHE_ENV, "cache.env", "cache.env"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        struct session_plan plan;
        struct error perr = {0}, berr = {0};
        fixture_openshift_mig(&f);
        /* the booking as admitted is fine, at both times */
        struct reservation booking = f.r;
        booking.id = 0;
        assert_int_equal(session_plan_check_booking(&booking, f.c, &f.p, &berr), 0);
        mutate(&f, cases[i].m);
        booking = f.r;
        booking.id = 0;
        int pr = session_plan_build(&f.r, f.c, &f.p, &plan, &perr);
        int br = session_plan_check_booking(&booking, f.c, &f.p, &berr);
        if (pr != -ERR_INVALID || br != -ERR_INVALID || strcmp(perr.field, cases[i].field) ||
            strcmp(berr.field, cases[i].field) || !strstr(berr.message, cases[i].says))
            fail_msg("case %zu: the plan says %d %s \"%s\"; at booking %d %s \"%s\"; want %s "
                     "\"...%s...\"",
                     i, pr, perr.field, perr.message, br, berr.field, berr.message, cases[i].field,
                     cases[i].says);
        assert_int_equal(plan.n, 0);
        config_free(f.c);
    }
}

static void test_user_label(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"alice", "alice"},
        {"Bob_1.x", "Bob_1.x"},
        {"", "unknown"},
        {"---", NULL},
        {"alice@example.com", NULL},
        {"ünïcode", NULL},
        {"a-very-long-user-name-that-goes-on-and-on-and-on-beyond-sixty-three-chars", NULL},
    };
    char buf[64], other[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        session_user_label(cases[i].in, buf, sizeof(buf));
        if (cases[i].want)
            assert_string_equal(buf, cases[i].want);
        size_t n = strlen(buf);
        assert_true(n > 0 && n <= 63);
        for (size_t k = 0; k < n; k++)
            assert_true(strchr("-_.", buf[k]) || (buf[k] >= 'a' && buf[k] <= 'z') ||
                        (buf[k] >= 'A' && buf[k] <= 'Z') || (buf[k] >= '0' && buf[k] <= '9'));
        assert_true(buf[0] != '-' && buf[0] != '.' && buf[0] != '_');
        assert_true(buf[n - 1] != '-' && buf[n - 1] != '.' && buf[n - 1] != '_');
    }
    /* distinct names that sanitize alike stay distinct */
    session_user_label("alice@example.com", buf, sizeof(buf));
    session_user_label("alice-example.com", other, sizeof(other));
    assert_string_not_equal(buf, other);
}

static bool has_verb(json_t *rule, const char *verb)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(rule, "verbs"), i,
                       v) if (!strcmp(json_string_value(v), verb) ||
                              !strcmp(json_string_value(v), "*")) return true;
    return false;
}

/* May the role do `verb` on group/resource? */
static bool allows(json_t *role, const char *group, const char *resource, const char *verb)
{
    size_t i, j, k;
    json_t *rule, *g, *r;
    json_array_foreach(json_object_get(role, "rules"), i, rule)
    {
        bool gm = false, rm = false;
        json_array_foreach(json_object_get(rule, "apiGroups"), j, g) gm |=
            !strcmp(json_string_value(g), group) || !strcmp(json_string_value(g), "*");
        json_array_foreach(json_object_get(rule, "resources"), k, r) rm |=
            !strcmp(json_string_value(r), resource) || !strcmp(json_string_value(r), "*");
        if (gm && rm && has_verb(rule, verb))
            return true;
    }
    return false;
}

static void test_tenant_role(void **state)
{
    const char *platforms[] = {"openshift", "kubernetes"};
    static const struct {
        const char *group, *resource;
    } isolation[] = {{"", "endpoints"}, /* CVE-2021-25740: forwards to other tenants */
                     {"", "resourcequotas"},
                     {"", "limitranges"},
                     {"rbac.authorization.k8s.io", "rolebindings"},
                     {"rbac.authorization.k8s.io", "roles"}};
    static const char *writes[] = {"create",           "update", "patch",   "delete",
                                   "deletecollection", "bind",   "escalate"};
    for (size_t p = 0; p < 2; p++) {
        struct fixture f;
        char msg[1024];
        setup_fixture(&f, platforms[p]);
        json_t *role = session_tenant_cluster_role(f.c);
        assert_non_null(role);
        if (oapi_validate(schemas, role, msg, sizeof(msg)))
            fail_msg("%s", msg);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(role, "metadata"), "name")),
            "gpuaas-tenant");
        for (size_t i = 0; i < sizeof(isolation) / sizeof(isolation[0]); i++) {
            assert_true(allows(role, isolation[i].group, isolation[i].resource, "get"));
            assert_true(allows(role, isolation[i].group, isolation[i].resource, "list"));
            for (size_t w = 0; w < sizeof(writes) / sizeof(writes[0]); w++)
                if (allows(role, isolation[i].group, isolation[i].resource, writes[w]))
                    fail_msg("tenant role may %s %s", writes[w], isolation[i].resource);
        }
        /* what a tenant needs: run and debug workloads */
        assert_true(allows(role, "", "pods", "create"));
        assert_true(allows(role, "", "pods/exec", "create"));
        assert_true(allows(role, "", "secrets", "create"));
        assert_true(allows(role, "apps", "deployments", "patch"));
        assert_true(allows(role, "networking.k8s.io", "ingresses", "create"));
        assert_false(allows(role, "", "namespaces", "delete"));
        /* cluster-scoped storage stays the platform's: a tenant may neither create nor change
         * a PersistentVolume (nor read one: its hostPath names the node's store) */
        static const char *pv_verbs[] = {"get",    "list",  "watch",  "create",
                                         "update", "patch", "delete", "deletecollection"};
        for (size_t w = 0; w < sizeof(pv_verbs) / sizeof(pv_verbs[0]); w++)
            if (allows(role, "", "persistentvolumes", pv_verbs[w]))
                fail_msg("tenant role may %s persistentvolumes", pv_verbs[w]);
        assert_false(allows(role, "storage.k8s.io", "storageclasses", "create"));
        /* Routes: read-only (a Route could claim another session's host); Ingress is the
         * tenant's way to expose a service on both platforms, its hosts bounded by admission */
        assert_int_equal(allows(role, "route.openshift.io", "routes", "get"), p == 0);
        assert_false(allows(role, "route.openshift.io", "routes", "create"));
        assert_false(allows(role, "route.openshift.io", "routes", "patch"));
        /* hosts are the router's to generate; no privileged (Docker/Source) build pods */
        assert_false(allows(role, "route.openshift.io", "routes/custom-host", "create"));
        assert_false(allows(role, "build.openshift.io", "builds", "create"));
        assert_false(allows(role, "build.openshift.io", "builds/docker", "create"));
        assert_false(allows(role, "build.openshift.io", "builds/source", "create"));
        assert_false(allows(role, "build.openshift.io", "buildconfigs", "create"));
        for (size_t w = 0; w < sizeof(writes) / sizeof(writes[0]); w++)
            if (allows(role, "discovery.k8s.io", "endpointslices", writes[w]))
                fail_msg("tenant role may %s endpointslices", writes[w]);
        /* NetworkPolicy write is granted: admission bounds it to narrowing (docs/security.md) */
        assert_true(allows(role, "networking.k8s.io", "networkpolicies", "create"));
        json_decref(role);
        config_free(f.c);
    }
}

/* Case i of a configuration table: session_plan_check_config accepts f (want NULL) or
 * refuses it naming the field want; frees f's configuration. */
static void expect_verdict(struct fixture *f, size_t i, const char *want)
{
    struct error err = {0};
    int rc = session_plan_check_config(f->c, &err);
    if (!want && rc)
        fail_msg("case %zu refused: %s", i, err.message);
    if (want && (rc != -ERR_INVALID || strcmp(err.field, want)))
        fail_msg("case %zu: want %s refused, got rc %d (%s)", i, want, rc, err.message);
    config_free(f->c);
}

/* The egress settings are checked before any object is built: a value the API server would
 * refuse in an ipBlock fails `gpuaas config check` with the key named. */
static void test_egress_config(void **state)
{
    static const struct {
        const char *cidrs, *except, *proxy, *want; /* want NULL: accepted */
    } cases[] = {
        {"0.0.0.0/0,::/0", "10.0.0.0/8,fe80::/10", "", NULL},
        {"", "", "10.1.2.3/32:3128, fd00::1/128:8080", NULL},
        {"0.0.0.0", "", "", "reconciler.egress_cidrs"},
        {"10.0.0.1/8", "", "", "reconciler.egress_cidrs"}, /* host bits set */
        {"0.0.0.0/33", "", "", "reconciler.egress_cidrs"},
        {"", "169.254.169.254", "", "reconciler.egress_except"},
        {"", "", "10.1.2.3/32", "reconciler.egress_proxy"},
        {"", "", "10.1.2.3/32:0", "reconciler.egress_proxy"},
        {"", "", "10.1.2.3/32:65536", "reconciler.egress_proxy"},
        {"", "", "proxy.corp:3128", "reconciler.egress_proxy"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        setup_fixture(&f, "kubernetes");
        assert_int_equal(config_set_string(&f.c->reconciler.egress_cidrs, cases[i].cidrs), 0);
        assert_int_equal(config_set_string(&f.c->reconciler.egress_except, cases[i].except), 0);
        assert_int_equal(config_set_string(&f.c->reconciler.egress_proxy, cases[i].proxy), 0);
        expect_verdict(&f, i, cases[i].want);
    }
}

/* reconciler.expose httproute: an HTTPRoute valid against the Gateway API schema, on the
 * configured Gateway's listener, the session's host, the gate's port; no Route, no Ingress. */
static void test_httproute_exposure(void **state)
{
    const char *platforms[] = {"kubernetes", "openshift"};
    (void)state;
    for (size_t i = 0; i < 2; i++) {
        struct fixture f;
        struct session_plan plan;
        struct error err = {0};
        one_gpu_fixture(&f, platforms[i]);
        assert_int_equal(config_set_string(&f.c->reconciler.expose, "httproute"), 0);
        assert_int_equal(config_set_string(&f.c->reconciler.gateway_name, "gateway"), 0);
        assert_int_equal(config_set_string(&f.c->reconciler.gateway_namespace, "gateway-system"),
                         0);
        assert_int_equal(config_set_string(&f.c->reconciler.gateway_section, "sessions"), 0);
        if (session_plan_build(&f.r, f.c, &f.p, &plan, &err))
            fail_msg("%s: %s", platforms[i], err.message);
        validate_all(&plan);
        assert_null(session_plan_find(&plan, "route"));
        assert_null(session_plan_find(&plan, "ingress"));
        const struct session_object *o = session_plan_find(&plan, "httproute");
        assert_non_null(o);
        assert_string_equal(o->kind, "HTTPRoute");
        json_t *spec = json_object_get(o->obj, "spec");
        json_t *parent = json_array_get(json_object_get(spec, "parentRefs"), 0);
        assert_string_equal(json_string_value(json_object_get(parent, "name")), "gateway");
        assert_string_equal(json_string_value(json_object_get(parent, "namespace")),
                            "gateway-system");
        assert_string_equal(json_string_value(json_object_get(parent, "sectionName")), "sessions");
        char host[128];
        snprintf(host, sizeof(host), "%s.%s", plan.namespace_, f.c->reconciler.ingress_domain);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(spec, "hostnames"), 0)), host);
        json_t *be = json_array_get(
            json_object_get(json_array_get(json_object_get(spec, "rules"), 0), "backendRefs"), 0);
        assert_string_equal(json_string_value(json_object_get(be, "name")), SESSION_WORKSPACE_NAME);
        assert_int_equal(json_integer_value(json_object_get(be, "port")),
                         f.c->reconciler.gate_port);
        /* a field the Gateway API does not have is refused: the schema is in force */
        char msg[512];
        json_object_set_new(be, "prot", json_integer(1));
        assert_int_equal(oapi_validate(schemas, o->obj, msg, sizeof(msg)), -1);
        session_plan_free(&plan);
        config_free(f.c);
    }
}

static void test_expose_config_errors(void **state)
{
    static const struct {
        const char *platform, *expose, *name, *ns, *section, *want;
    } cases[] = {
        {"kubernetes", "", "", "", "", NULL},
        {"openshift", "ingress", "", "", "", NULL},
        {"kubernetes", "httproute", "gw", "gateway-system", "", NULL},
        {"kubernetes", "gateway", "", "", "", "reconciler.expose"},
        {"kubernetes", "route", "", "", "", "reconciler.expose"},
        {"kubernetes", "httproute", "", "gateway-system", "", "reconciler.gateway_name"},
        {"kubernetes", "httproute", "Gateway", "gateway-system", "", "reconciler.gateway_name"},
        {"kubernetes", "httproute", "gw", "", "", "reconciler.gateway_namespace"},
        {"kubernetes", "httproute", "gw", "gw.system", "", "reconciler.gateway_namespace"},
        {"kubernetes", "httproute", "gw", "gateway-system", "HTTPS", "reconciler.gateway_section"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        setup_fixture(&f, cases[i].platform);
        assert_int_equal(config_set_string(&f.c->reconciler.expose, cases[i].expose), 0);
        assert_int_equal(config_set_string(&f.c->reconciler.gateway_name, cases[i].name), 0);
        assert_int_equal(config_set_string(&f.c->reconciler.gateway_namespace, cases[i].ns), 0);
        assert_int_equal(config_set_string(&f.c->reconciler.gateway_section, cases[i].section), 0);
        expect_verdict(&f, i, cases[i].want);
    }
}

/* The validator itself refuses what a strict API server refuses. */
static void test_validator_rejects(void **state)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"},"
         "\"dta\":{}}",
         "unknown field \"dta\""},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"a\"},"
         "\"spec\":{\"ports\":[{\"port\":\"80\"}]}}",
         "expected an integer"},
        {"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"a\"},"
         "\"spec\":{\"selector\":{},\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\","
         "\"securityContext\":{\"runAsNonRoot\":\"yes\"}}]}}}}",
         "expected a boolean"},
        {"{\"apiVersion\":\"route.openshift.io/v1\",\"kind\":\"Route\",\"metadata\":{\"name\":"
         "\"a\"},\"spec\":{\"to\":{\"kind\":\"Service\",\"name\":\"s\"},\"tls\":{\"terminaton\":"
         "\"edge\"}}}",
         "unknown field \"terminaton\""},
        {"{\"apiVersion\":\"v1\",\"kind\":\"Gadget\",\"metadata\":{\"name\":\"a\"}}",
         "no OpenAPI definition"},
        {"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
         "\"metadata\":{\"name\":\"a\"},\"subjects\":[]}",
         "missing required field \"roleRef\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[1024] = "";
        json_error_t je;
        json_t *v = json_loads(cases[i].json, 0, &je);
        assert_non_null(v);
        assert_int_equal(oapi_validate(schemas, v, msg, sizeof(msg)), -1);
        if (!strstr(msg, cases[i].want))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, msg, cases[i].want);
        json_decref(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openshift_interactive_mig),
        cmocka_unit_test(test_kubernetes_inference_gpu),
        cmocka_unit_test(test_workspace_security),
        cmocka_unit_test(test_exposure_reaches_only_the_gate),
        cmocka_unit_test(test_gate_config_errors),
        cmocka_unit_test(test_models_read_only),
        cmocka_unit_test(test_models_default_env),
        cmocka_unit_test(test_models_config_errors),
        cmocka_unit_test(test_names_and_errors),
        cmocka_unit_test(test_refused_at_booking),
        cmocka_unit_test(test_user_label),
        cmocka_unit_test(test_tenant_role),
        cmocka_unit_test(test_validator_rejects),
        cmocka_unit_test(test_egress_config),
        cmocka_unit_test(test_httproute_exposure),
        cmocka_unit_test(test_expose_config_errors),
    };
    return cmocka_run_group_tests(tests, load_schemas, free_schemas);
}
