/* `gpuaas doctor`: preflight and health checks of a cluster for the configuration, read
 * through the Kubernetes API with the caller's (admin's) kubeconfig. One line per check, ✓ or
 * ✗, and for each ✗ what to do. Exit status 1 when any check failed. The calls here are the
 * admin's, not the reconciler's: they are not in src/kube/kube_calls.c (the reconciler's
 * least-privilege list); the reconciler's own rights are checked with SubjectAccessReviews
 * for exactly the calls of that list. */
#include "cli/commands.h"
#include "cli/shared.h"
#include "common/args.h"
#include "common/json_find.h"
#include "core/advertised.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/prepull.h"
#include "kube/kube.h"
#include "kube/kube_calls.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct doctor {
    struct kube_client *kc;
    const struct config *c;
    const char *ns;
    int failed;
};

static void ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("\u2713 ", stdout);
    vprintf(fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
}

/* A failed check: the finding, then "    fix: " and what to do. */
static void bad(struct doctor *d, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bad(struct doctor *d, const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("\u2717 ", stdout);
    vprintf(fmt, ap);
    printf("\n    fix: %s\n", fix);
    va_end(ap);
    d->failed++;
}

static const char *str_at(json_t *o, const char *a, const char *b, const char *c2)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (c2)
        v = json_object_get(v, c2);
    return json_string_value(v);
}

/* Kubernetes 1.30 (OpenShift 4.17): ValidatingAdmissionPolicy v1 for the shipped policies. */
static void check_version(struct doctor *d)
{
    json_t *v = NULL;
    struct error err = {0};
    if (kube_get_path(d->kc, "/version", &v, &err)) {
        bad(d,
            "check the kubeconfig (--kubeconfig or $KUBECONFIG) and that the API server is "
            "reachable",
            "Kubernetes API: %s", err.message);
        return;
    }
    const char *maj = str_at(v, "major", NULL, NULL), *min = str_at(v, "minor", NULL, NULL);
    int major = maj ? atoi(maj) : 0, minor = min ? atoi(min) : 0; /* "30+" reads as 30 */
    const char *git = str_at(v, "gitVersion", NULL, NULL);
    if (major > 1 || (major == 1 && minor >= 30))
        ok("Kubernetes %s (1.30 or newer: ValidatingAdmissionPolicy v1)", git ? git : "?");
    else
        bad(d,
            "upgrade to Kubernetes 1.30+ / OpenShift 4.17+; the session boundary and node "
            "cache policies (deploy/base) need admissionregistration.k8s.io/v1 "
            "ValidatingAdmissionPolicy",
            "Kubernetes %s is older than 1.30", git ? git : "?");
    json_decref(v);
}

static int pool_has_mig(const struct config *c)
{
    for (int i = 0; i < c->pool.n_nodes; i++)
        for (int g = 0; g < c->pool.nodes[i].n_gpus; g++)
            if (!c->pool.nodes[i].gpus[g].whole)
                return 1;
    return 0;
}

static void check_cluster_policy(struct doctor *d)
{
    json_t *list = NULL;
    struct error err = {0};
    const char *fix_install = "install the NVIDIA GPU operator (docs/install.md §1)";
    if (kube_list(d->kc, "nvidia.com/v1", "ClusterPolicy", NULL, NULL, &list, &err)) {
        bad(d, fix_install, "GPU operator: no ClusterPolicy can be read (%s)", err.message);
        return;
    }
    json_t *cp = json_array_get(json_object_get(list, "items"), 0);
    if (!cp) {
        bad(d, fix_install, "GPU operator: no ClusterPolicy");
        goto out;
    }
    const char *name = str_at(cp, "metadata", "name", NULL);
    const char *state = str_at(cp, "status", "state", NULL);
    if (state && !strcmp(state, "ready"))
        ok("GPU operator: ClusterPolicy %s is ready", name);
    else
        bad(d,
            "kubectl describe clusterpolicies.nvidia.com; the operator's pods in its namespace "
            "say what is missing",
            "GPU operator: ClusterPolicy %s is %s, not ready", name,
            state ? state : "without state");
    const char *fix_cfg = "gpuaas gpu-config --config FILE > gpu-operator.yaml; kubectl apply -f "
                          "gpu-operator.yaml and run the kubectl patch it prints (docs/install.md "
                          "§2, \"GPU layout\")";
    const char *strategy = str_at(cp, "spec", "mig", "strategy");
    if (pool_has_mig(d->c) && (!strategy || strcmp(strategy, "mixed")))
        bad(d, fix_cfg, "GPU operator: MIG strategy is %s, the pool's MIG slices need mixed",
            strategy ? strategy : "unset");
    else if (pool_has_mig(d->c))
        ok("GPU operator: MIG strategy mixed");
    const char *dp = str_at(json_object_get(cp, "spec"), "devicePlugin", "config", "name");
    if (!dp || strcmp(dp, "device-plugin-config"))
        bad(d, fix_cfg,
            "GPU operator: the device plugin does not use gpuaas's time-slicing configuration "
            "(devicePlugin.config.name is %s)",
            dp ? dp : "unset");
    else
        ok("GPU operator: time-slicing from ConfigMap device-plugin-config");
out:
    json_decref(list);
}

/* The GPU nodes against the pool (MIG state, what they advertise) and the pre-pulled images. */
static void check_nodes(struct doctor *d)
{
    json_t *nodes = NULL;
    struct error err = {0};
    struct pool pool;
    struct adv_report *r = calloc(1, sizeof(*r));
    if (!r) {
        bad(d, "retry", "out of memory");
        return;
    }
    if (kube_list(d->kc, "v1", "Node", NULL, NULL, &nodes, &err)) {
        bad(d, "check the kubeconfig's rights (list nodes)", "nodes: %s", err.message);
        goto out;
    }
    if (pool_derive(d->c, &pool, &err) || adv_check(d->c, nodes, &pool, r, &err)) {
        bad(d, "gpuaas config check --config FILE", "pool: %s", err.message);
        goto out;
    }
    for (int i = 0; i < r->n_nodes; i++) {
        const struct adv_node *n = &r->nodes[i];
        if (!n->found) {
            bad(d, "name the cluster's nodes under pool.nodes (kubectl get nodes)",
                "node %s: in the pool, not in the cluster", n->name);
            continue;
        }
        if (n->expected_mig_config[0] && strcmp(n->state, "success"))
            bad(d,
                "label the node as gpuaas gpu-config prints (nvidia.com/mig.config) and wait "
                "for the MIG manager; kubectl logs -n <operator namespace> -l "
                "app=nvidia-mig-manager",
                "node %s: nvidia.com/mig.config.state is %s (mig.config %s, want %s)", n->name,
                n->state[0] ? n->state : "absent", n->mig_config[0] ? n->mig_config : "unset",
                n->expected_mig_config);
        for (int k = 0; k < n->n_res; k++) {
            const struct adv_node_res *x = &n->res[k];
            if (x->degraded)
                bad(d,
                    "make the GPU operator's layout match the pool (gpuaas gpu-config) or "
                    "describe what the node has under pool.nodes",
                    "node %s: advertises %d of %d %s (allocatable %ld with %d replicas)", n->name,
                    x->advertised, x->configured, x->name, x->allocatable, x->replicas);
            else
                ok("node %s: %d %s as the pool declares (allocatable %ld)", n->name, x->advertised,
                   x->name, x->allocatable);
        }
    }
    /* images: what each configured GPU node holds */
    struct prepull_image im[PREPULL_MAX] = {0};
    size_t nim = prepull_images(d->c, im);
    size_t j;
    json_t *node;
    json_array_foreach(json_object_get(nodes, "items"), j, node)
    {
        const char *name = str_at(node, "metadata", "name", NULL);
        int in_pool = 0;
        for (int i = 0; i < r->n_nodes; i++)
            in_pool |= name && !strcmp(r->nodes[i].name, name);
        if (!in_pool)
            continue;
        json_t *have = json_object_get(json_object_get(node, "status"), "images");
        for (size_t i = 0; i < nim; i++) {
            if (prepull_node_has(have, im[i].image))
                ok("node %s: has %s (%s)", name, im[i].image, im[i].key);
            else
                bad(d,
                    "apply the pre-pull DaemonSet: gpuaas deploy prepull --config FILE > "
                    "prepull.yaml in your overlay (docs/install.md §2); the first session "
                    "otherwise waits for the download",
                    "node %s: does not have %s (%s)", name, im[i].image, im[i].key);
        }
    }
out:
    json_decref(nodes);
    free(r);
}

static void check_storage_class(struct doctor *d)
{
    const char *sc = d->c->reconciler.storage_class;
    json_t *o = NULL;
    struct error err = {0};
    if (!sc || !sc[0]) {
        ok("storage class: the cluster's default (reconciler.storage_class is empty)");
        return;
    }
    if (kube_get(d->kc, "storage.k8s.io/v1", "StorageClass", NULL, sc, &o, &err))
        bad(d,
            "create it (LVMS on Single Node OpenShift: an LVMCluster makes lvms-vg1) or set "
            "reconciler.storage_class to one of kubectl get storageclass",
            "storage class %s: %s", sc, err.message);
    else
        ok("storage class %s exists (provisioner %s)", sc,
           str_at(o, "provisioner", NULL, NULL) ? str_at(o, "provisioner", NULL, NULL) : "?");
    json_decref(o);
}

/* OpenShift's internal registry, when the configuration's images come from it: the registry
 * operator starts Removed on clusters without shared storage, and then nothing can be pushed
 * or pulled there. */
static void check_registry(struct doctor *d)
{
    static const char internal[] = "image-registry.openshift-image-registry.svc";
    const char *ws = d->c->reconciler.workspace_image;
    if (!ws || strncmp(ws, internal, sizeof(internal) - 1))
        return;
    json_t *o = NULL;
    struct error err = {0};
    const char *fix = "give the registry storage and enable it: kubectl apply -k "
                      "deploy/openshift-registry and the oc patch of docs/install.md §1 "
                      "(\"Image registry\"), or use an external registry";
    if (kube_get(d->kc, "imageregistry.operator.openshift.io/v1", "Config", NULL, "cluster", &o,
                 &err)) {
        bad(d, fix,
            "image registry: the workspace image is in the internal registry, whose "
            "configuration cannot be read (%s)",
            err.message);
        return;
    }
    const char *state = str_at(o, "spec", "managementState", NULL);
    if (state && !strcmp(state, "Managed"))
        ok("image registry: the internal registry is Managed");
    else
        bad(d, fix,
            "image registry: the internal registry is %s; the builds cannot push the "
            "images the configuration names",
            state ? state : "without managementState");
    json_decref(o);
}

/* CloudNativePG: when database.url names a <cluster>-rw Service, the operator's CRD and that
 * Cluster's health. */
static void check_database(struct doctor *d)
{
    const char *url = d->c->database.url;
    const char *host = url ? strstr(url, "://") : NULL;
    char cluster[64] = "";
    if (host) {
        host += 3;
        const char *at = strchr(host, '@');
        const char *slash = strchr(host, '/');
        if (at && (!slash || at < slash))
            host = at + 1;
        const char *rw = strstr(host, "-rw.");
        if (rw && (size_t)(rw - host) < sizeof(cluster) && (!slash || rw < slash))
            snprintf(cluster, sizeof(cluster), "%.*s", (int)(rw - host), host);
    }
    if (!cluster[0]) {
        ok("database: %s is not a CloudNativePG Service (external PostgreSQL or SQLite): not "
           "checked here",
           url && !strncmp(url, "sqlite", 6) ? "sqlite" : "the database.url host");
        return;
    }
    json_t *o = NULL;
    struct error err = {0};
    if (kube_get(d->kc, "apiextensions.k8s.io/v1", "CustomResourceDefinition", NULL,
                 "clusters.postgresql.cnpg.io", &o, &err)) {
        bad(d,
            "install the CloudNativePG operator (OperatorHub or its release manifest); EDB's "
            "operator serves postgresql.k8s.enterprisedb.io instead",
            "CloudNativePG: CRD clusters.postgresql.cnpg.io: %s", err.message);
        return;
    }
    json_decref(o);
    o = NULL;
    ok("CloudNativePG: CRD clusters.postgresql.cnpg.io");
    if (kube_get(d->kc, "postgresql.cnpg.io/v1", "Cluster", d->ns, cluster, &o, &err)) {
        bad(d, "kubectl apply -k deploy/postgres/cloudnative-pg (docs/install.md §3)",
            "CloudNativePG: Cluster %s/%s: %s", d->ns, cluster, err.message);
        return;
    }
    json_t *st = json_object_get(o, "status");
    long want = (long)json_integer_value(json_object_get(json_object_get(o, "spec"), "instances"));
    long ready = (long)json_integer_value(json_object_get(st, "readyInstances"));
    const char *phase = str_at(st, "phase", NULL, NULL);
    if (want > 0 && ready >= want)
        ok("CloudNativePG: Cluster %s has %ld of %ld instances ready (%s)", cluster, ready, want,
           phase ? phase : "?");
    else
        bad(d, "kubectl -n gpuaas-system describe cluster NAME and the operator's log",
            "CloudNativePG: Cluster %s has %ld of %ld instances ready (%s)", cluster, ready, want,
            phase ? phase : "no status");
    json_decref(o);
}

/* --database: connect with database.url (and PGUSER/PGPASSWORD from the environment) and
 * compare the schema version with this build's, changing nothing. */
static void check_schema(struct doctor *d)
{
    int cur = 0, latest = 0, pending[64];
    size_t n = 0;
    struct error err = {0};
    if (store_migration_status(d->c->database.url, &cur, &latest, pending, 64, &n, &err) < 0) {
        bad(d,
            "check database.url, PGUSER/PGPASSWORD and the CA (sslrootcert); from a workstation "
            "port-forward the database Service first",
            "database: %s", err.message);
        return;
    }
    if (cur > latest)
        bad(d,
            "run the release that migrated the database, or newer (docs/operations.md, "
            "\"Upgrades\")",
            "database: schema version %d is newer than this release knows (%d)", cur, latest);
    else if (n)
        ok("database: reachable, schema version %d, %zu migrations pending for this release (the "
           "first server applies them; gpuaas migrate --dry-run lists them)",
           cur, n);
    else
        ok("database: reachable, schema version %d (this release's)", cur);
}

/* Every call in the reconciler's list, asked as its service account. */
static void check_reconciler_rbac(struct doctor *d)
{
    char user[160];
    snprintf(user, sizeof(user), "system:serviceaccount:%s:gpuaas-reconciler", d->ns);
    int denied = 0, asked = 0;
    for (size_t i = 0; i < kube_api_calls_n; i++) {
        const struct kube_api_call *k = &kube_api_calls[i];
        if (k->platform && strcmp(k->platform, d->c->reconciler.platform))
            continue;
        char res[96], *sub;
        snprintf(res, sizeof(res), "%s", k->resource);
        sub = strchr(res, '/');
        if (sub)
            *sub++ = '\0';
        json_t *attrs =
            json_pack("{s:s, s:s, s:s}", "verb", k->verb, "group", k->group, "resource", res);
        if (attrs && sub)
            json_object_set_new(attrs, "subresource", json_string(sub));
        /* the API server ignores the name; the client's create wants one */
        json_t *sar =
            json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:o}}", "apiVersion", "authorization.k8s.io/v1",
                      "kind", "SubjectAccessReview", "metadata", "name", "gpuaas-doctor", "spec",
                      "user", user, "resourceAttributes", attrs);
        json_t *got = NULL;
        struct error err = {0};
        asked++;
        if (!sar || kube_create(d->kc, sar, &got, &err)) {
            bad(d, "the doctor needs rights to create subjectaccessreviews (cluster-admin)",
                "reconciler rights: cannot ask the API server (%s)", err.message);
            json_decref(sar);
            return;
        }
        if (!json_is_true(json_object_get(json_object_get(got, "status"), "allowed"))) {
            if (denied++ < 8)
                printf("    %s may not %s %s%s%s\n", user, k->verb, k->group[0] ? k->group : "",
                       k->group[0] ? "/" : "", k->resource);
        }
        json_decref(got);
        json_decref(sar);
    }
    if (denied)
        bad(d,
            "kubectl apply -k deploy/overlays/<yours>: ClusterRole gpuaas-reconciler and its "
            "binding come from the base (gpuaas deploy kube-calls lists the calls)",
            "reconciler rights: %d of %d calls denied to %s", denied, asked, user);
    else
        ok("reconciler rights: all %d calls allowed to %s", asked, user);
}

/* Why a listener's allowedRoutes.namespaces do not admit the session namespaces (which carry
 * app.kubernetes.io/managed-by=gpuaas and gpuaas.io/reservation=<id>), or NULL when they do.
 * matchLabels must ask only for what every session namespace carries; matchExpressions are
 * checked for their keys (Exists or In on the labels above), others are left to the cluster. */
static const char *routes_refused(json_t *listener, char *why, size_t n)
{
    json_t *ns = json_object_get(json_object_get(listener, "allowedRoutes"), "namespaces");
    const char *from = json_string_value(json_object_get(ns, "from"));
    if (!from || !strcmp(from, "Same")) {
        snprintf(why, n,
                 "allowedRoutes.namespaces.from is Same (the default): only the Gateway's "
                 "own namespace may attach routes");
        return why;
    }
    if (!strcmp(from, "All"))
        return NULL;
    if (strcmp(from, "Selector")) {
        snprintf(why, n, "allowedRoutes.namespaces.from is %s", from);
        return why;
    }
    json_t *sel = json_object_get(ns, "selector");
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(sel, "matchLabels"), key, v)
    {
        const char *val = json_string_value(v);
        if (strcmp(key, "app.kubernetes.io/managed-by") || !val || strcmp(val, "gpuaas")) {
            snprintf(why, n, "its selector asks for %s=%s, which session namespaces do not carry",
                     key, val ? val : "?");
            return why;
        }
    }
    size_t i;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, v)
    {
        const char *k = json_string_value(json_object_get(v, "key"));
        const char *op = json_string_value(json_object_get(v, "operator"));
        bool ours = k && (!strcmp(k, "app.kubernetes.io/managed-by") ||
                          !strcmp(k, "gpuaas.io/reservation") || !strcmp(k, "gpuaas.io/user"));
        if (op && (!strcmp(op, "NotIn") || !strcmp(op, "DoesNotExist")) && ours) {
            snprintf(why, n, "its selector excludes %s (%s)", k, op);
            return why;
        }
        if (op && !strcmp(op, "Exists") && !ours) {
            snprintf(why, n, "its selector asks for a label %s that session namespaces lack", k);
            return why;
        }
    }
    return NULL; /* an empty selector selects every namespace */
}

/* reconciler.expose httproute: the Gateway the sessions' HTTPRoutes attach to exists, has the
 * listener named by reconciler.gateway_section (or some listener), whose hostname covers
 * <namespace>.<reconciler.ingress_domain> and whose allowedRoutes admit the session
 * namespaces; and, where its controller reports it, the Gateway is Programmed. */
static void check_gateway(struct doctor *d)
{
    const struct config *c = d->c;
    if (!c->reconciler.expose || strcmp(c->reconciler.expose, "httproute"))
        return;
    const char *name = c->reconciler.gateway_name, *gns = c->reconciler.gateway_namespace;
    const char *sec = c->reconciler.gateway_section, *dom = c->reconciler.ingress_domain;
    json_t *g = NULL;
    struct error err = {0};
    if (kube_get(d->kc, "gateway.networking.k8s.io/v1", "Gateway", gns, name, &g, &err)) {
        bad(d,
            "install the Gateway API CRDs and an implementation, then create the Gateway "
            "(deploy/gateway/gateway-example.yaml; docs/install.md, \"Gateway API\")",
            "gateway %s/%s: %s", gns, name, err.message);
        return;
    }
    char why[300] = "", wildcard[300];
    snprintf(wildcard, sizeof(wildcard), "*.%s", dom ? dom : "");
    const char *fix = "edit the Gateway's listener as deploy/gateway/gateway-example.yaml does "
                      "(listener sessions)";
    int listeners = 0, admitting = 0;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(json_object_get(g, "spec"), "listeners"), i, l)
    {
        const char *ln = json_string_value(json_object_get(l, "name"));
        if (sec && *sec && (!ln || strcmp(ln, sec)))
            continue;
        listeners++;
        const char *host = json_string_value(json_object_get(l, "hostname"));
        char hwhy[300];
        if (host && strcmp(host, wildcard)) {
            snprintf(hwhy, sizeof(hwhy), "its hostname %s does not cover %s", host, wildcard);
            snprintf(why, sizeof(why), "listener %s: %s", ln ? ln : "?", hwhy);
        } else if (routes_refused(l, hwhy, sizeof(hwhy))) {
            snprintf(why, sizeof(why), "listener %s: %s", ln ? ln : "?", hwhy);
        } else {
            admitting++;
        }
    }
    if (!listeners) {
        bad(d, fix, "gateway %s/%s has no listener %s (reconciler.gateway_section)", gns, name,
            sec && *sec ? sec : "at all");
    } else if (!admitting) {
        bad(d, fix, "gateway %s/%s takes no session routes: %s", gns, name, why);
    } else {
        json_t *pc = json_find_by(json_object_get(json_object_get(g, "status"), "conditions"),
                                  "type", "Programmed");
        const char *st = json_string_value(json_object_get(pc, "status"));
        if (st && strcmp(st, "True"))
            bad(d, "kubectl describe gateway: its controller says why",
                "gateway %s/%s is not programmed: %s", gns, name,
                json_string_value(json_object_get(pc, "message"))
                    ? json_string_value(json_object_get(pc, "message"))
                    : "?");
        else
            ok("gateway %s/%s takes the session routes for %s%s", gns, name, wildcard,
               st ? "" : " (no Programmed status from a controller yet)");
    }
    json_decref(g);
}

int cmd_doctor(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("Usage: gpuaas doctor [--config FILE] [--kubeconfig FILE] [--namespace NS] "
               "[--database]\n"
               "Preflight and health checks for the configuration, through the Kubernetes API\n"
               "with your (cluster-admin) kubeconfig: Kubernetes version, GPU operator\n"
               "ClusterPolicy (MIG strategy, time-slicing), each pool node's MIG state and\n"
               "what it advertises against the pool, the configured images on each GPU node,\n"
               "the storage class, the Gateway (reconciler.expose httproute), CloudNativePG\n"
               "and its Cluster, and the reconciler's rights\n"
               "(as its service account in NS, default gpuaas-system). Prints one line per\n"
               "check, \u2713 or \u2717 with the fix; exit status 1 when any check failed.\n"
               "--database also connects to database.url and compares its schema version.\n");
        return 0;
    }
    const char *flag = NULL, *kubeconfig = NULL, *ns = "gpuaas-system";
    int database = 0;
    const struct cli_opt opts[] = {{"--config", NULL, &flag, NULL},
                                   {"--kubeconfig", NULL, &kubeconfig, NULL},
                                   {"--namespace", "-n", &ns, NULL},
                                   {"--database", NULL, NULL, &database}};
    size_t npos;
    if (CLI_PARSE(argc, argv, opts, NULL, 0, &npos))
        return 2;
    const char *path = cli_require_config("gpuaas doctor", flag);
    if (!path)
        return 2;
    struct config *c = NULL;
    struct kube_config *kcfg = NULL;
    struct error err = {0};
    struct doctor d = {.ns = ns};
    if (config_load_file(path, &c, &err) < 0) {
        fprintf(stderr, "gpuaas: %s\n", err.message);
        return 1;
    }
    d.c = c;
    if (kube_config_resolve(kubeconfig ? kubeconfig : "", &kcfg, &err) ||
        kube_client_new(kcfg, NULL, &d.kc, &err)) {
        fprintf(stderr, "gpuaas doctor: %s\n", err.message);
        config_free(c);
        return 1;
    }
    check_version(&d);
    check_cluster_policy(&d);
    check_nodes(&d);
    check_storage_class(&d);
    check_gateway(&d);
    check_registry(&d);
    check_database(&d);
    check_reconciler_rbac(&d);
    if (database)
        check_schema(&d);
    printf("%s\n", d.failed ? "some checks failed" : "all checks passed");
    kube_client_free(d.kc);
    config_free(c);
    return d.failed ? 1 : 0;
}
