/* In-memory API server: routing, CRUD, apply, admission, controllers and watch. */
#include "kubesim/sim.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "common/timeutil.h"
#include "kubesim/quantity.h"
#include "kubesim/schema.h"
#include "kubesim/selector.h"
#include "common/yaml_json.h"

#define EVENT_RING 8192
#define MAX_NAME 253

struct rtype {
    const char *group, *version, *resource, *kind, *singular, *shortname;
    int namespaced;
    const char *def;
    int has_status;
};

static const struct rtype rtypes[] = {
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
    {"apps", "v1", "daemonsets", "DaemonSet", "daemonset", "ds", 1, "io.k8s.api.apps.v1.DaemonSet",
     1},
    {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", "poddisruptionbudget", "pdb", 1,
     "io.k8s.api.policy.v1.PodDisruptionBudget", 1},
    {"route.openshift.io", "v1", "routes", "Route", "route", NULL, 1,
     "com.github.openshift.api.route.v1.Route", 1},
    {"security.openshift.io", "v1", "securitycontextconstraints", "SecurityContextConstraints",
     "securitycontextconstraints", "scc", 0,
     "com.github.openshift.api.security.v1.SecurityContextConstraints", 0},
    {"build.openshift.io", "v1", "buildconfigs", "BuildConfig", "buildconfig", "bc", 1,
     "com.github.openshift.api.build.v1.BuildConfig", 1},
    {"image.openshift.io", "v1", "imagestreams", "ImageStream", "imagestream", "is", 1,
     "com.github.openshift.api.image.v1.ImageStream", 1},
};
#define NRTYPES (sizeof(rtypes) / sizeof(rtypes[0]))

enum task_type { T_QUOTA, T_NS_DELETE, T_POD_READY, T_DEPLOY };

struct task {
    enum task_type type;
    int64_t due;
    char ns[64];
    char name[MAX_NAME + 1];
};

struct event {
    uint64_t rv;
    char key[160];
    char ns[64];
    char type[12];
    json_t *obj;
};

struct ksim {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct ksim_options opt;
    json_t *store; /* "resource.group" -> { "ns/name" -> object } */
    uint64_t rv;
    uint64_t uid_counter;
    struct task *tasks;
    size_t ntasks, cap_tasks;
    struct event ring[EVENT_RING];
    uint64_t ring_first; /* oldest rv kept is ring[...]; events are stored by sequence */
    uint64_t nevents;
    struct ksim_fault fault;
    long fault_count;
    unsigned rng;
    int shutdown;
    int64_t now_ms; /* last monotonic time seen */
};

/* ---------- small helpers ---------- */

static int64_t mono_ms(void)
{
    return time_mono_ms();
}

static void now_rfc3339(char *buf)
{
    time_format_rfc3339(time_now(), buf);
}

static void rt_key(const struct rtype *rt, char *buf, size_t len)
{
    snprintf(buf, len, "%s.%s", rt->resource, rt->group);
}

static void obj_key(const char *ns, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", ns ? ns : "", name);
}

static const char *api_version(const struct rtype *rt, char *buf, size_t len)
{
    if (!*rt->group)
        return rt->version;
    snprintf(buf, len, "%s/%s", rt->group, rt->version);
    return buf;
}

static const struct rtype *find_rtype(const char *group, const char *version, const char *res)
{
    for (size_t i = 0; i < NRTYPES; i++)
        if (!strcmp(rtypes[i].group, group) && !strcmp(rtypes[i].version, version) &&
            !strcmp(rtypes[i].resource, res))
            return &rtypes[i];
    return NULL;
}

static const struct rtype *rtype_by_name(const char *res)
{
    for (size_t i = 0; i < NRTYPES; i++)
        if (!strcmp(rtypes[i].resource, res))
            return &rtypes[i];
    return NULL;
}

static json_t *bucket(struct ksim *k, const struct rtype *rt)
{
    char key[160];
    rt_key(rt, key, sizeof(key));
    json_t *b = json_object_get(k->store, key);
    if (!b) {
        b = json_object();
        json_object_set_new(k->store, key, b);
    }
    return b;
}

static json_t *meta(json_t *obj)
{
    json_t *m = json_object_get(obj, "metadata");
    if (!json_is_object(m)) {
        m = json_object();
        json_object_set_new(obj, "metadata", m);
    }
    return m;
}

static const char *mstr(json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static json_t *lookup(struct ksim *k, const struct rtype *rt, const char *ns, const char *name)
{
    char key[400];
    obj_key(rt->namespaced ? ns : "", name, key, sizeof(key));
    return json_object_get(bucket(k, rt), key);
}

static void set_rv(struct ksim *k, json_t *obj)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)++k->rv);
    json_object_set_new(meta(obj), "resourceVersion", json_string(buf));
}

static void emit(struct ksim *k, const struct rtype *rt, const char *ns, const char *type,
                 json_t *obj)
{
    struct event *e = &k->ring[k->nevents % EVENT_RING];
    json_decref(e->obj);
    e->rv = k->rv;
    rt_key(rt, e->key, sizeof(e->key));
    snprintf(e->ns, sizeof(e->ns), "%s", ns ? ns : "");
    snprintf(e->type, sizeof(e->type), "%s", type);
    e->obj = json_deep_copy(obj);
    k->nevents++;
    pthread_cond_broadcast(&k->cond);
}

static void add_task(struct ksim *k, enum task_type type, const char *ns, const char *name,
                     int delay_ms)
{
    if (k->ntasks == k->cap_tasks) {
        size_t cap = k->cap_tasks ? k->cap_tasks * 2 : 64;
        struct task *t = realloc(k->tasks, cap * sizeof(*t));
        if (!t)
            return;
        k->tasks = t;
        k->cap_tasks = cap;
    }
    struct task *t = &k->tasks[k->ntasks++];
    t->type = type;
    t->due = mono_ms() + (delay_ms > 0 ? delay_ms : 0);
    snprintf(t->ns, sizeof(t->ns), "%s", ns ? ns : "");
    snprintf(t->name, sizeof(t->name), "%s", name);
}

/* ---------- responses ---------- */

static void reply(struct ksim_response *r, int status, json_t *body)
{
    r->status = status;
    r->body = json_dumps(body, JSON_COMPACT);
    r->len = r->body ? strlen(r->body) : 0;
    r->content_type = "application/json";
    json_decref(body);
}

static void reply_status(struct ksim_response *r, int code, const char *reason, const char *name,
                         const struct rtype *rt, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void reply_status(struct ksim_response *r, int code, const char *reason, const char *name,
                         const struct rtype *rt, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Failure", "message", msg, "reason", reason);
    if (name || rt) {
        json_t *d = json_object();
        if (name)
            json_object_set_new(d, "name", json_string(name));
        if (rt && *rt->group)
            json_object_set_new(d, "group", json_string(rt->group));
        if (rt)
            json_object_set_new(d, "kind", json_string(rt->resource));
        json_object_set_new(st, "details", d);
    }
    json_object_set_new(st, "code", json_integer(code));
    reply(r, code, st);
}

/* "deployments.apps" or "pods" as the server names a resource in messages */
static const char *qualified(const struct rtype *rt, char *buf, size_t len)
{
    if (*rt->group)
        snprintf(buf, len, "%s.%s", rt->resource, rt->group);
    else
        snprintf(buf, len, "%s", rt->resource);
    return buf;
}

static void reply_not_found(struct ksim_response *r, const struct rtype *rt, const char *name)
{
    char q[160];
    reply_status(r, 404, "NotFound", name, rt, "%s \"%s\" not found", qualified(rt, q, sizeof(q)),
                 name);
}

static void reply_invalid(struct ksim_response *r, const struct rtype *rt, const char *name,
                          const char *field, const char *type, const char *detail)
{
    char msg[1024];
    snprintf(msg, sizeof(msg), "%s \"%s\" is invalid: %s: %s%s%s", rt->kind, name ? name : "",
             field, type, detail && *detail ? ": " : "", detail ? detail : "");
    json_t *cause =
        json_pack("{s:s, s:s, s:s}", "reason", "FieldValue", "message", msg, "field", field);
    char cmsg[600];
    snprintf(cmsg, sizeof(cmsg), "%s%s%s", type, detail && *detail ? ": " : "",
             detail ? detail : "");
    json_object_set_new(cause, "message", json_string(cmsg));
    json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:{s:s, s:s, s:[o]}, s:i}", "kind",
                           "Status", "apiVersion", "v1", "metadata", "status", "Failure", "message",
                           msg, "reason", "Invalid", "details", "name", name ? name : "", "kind",
                           rt->kind, "causes", cause, "code", 422);
    if (*rt->group)
        json_object_set_new(json_object_get(st, "details"), "group", json_string(rt->group));
    reply(r, 422, st);
}

void ksim_response_free(struct ksim_response *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
}

/* ---------- object plumbing ---------- */

static int valid_dns_name(const char *s, int label_only)
{
    size_t n = strlen(s);
    if (!n || n > (label_only ? 63u : 253u))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 (!label_only && c == '.');
        if (!ok)
            return 0;
    }
    return s[0] != '-' && s[n - 1] != '-' && s[0] != '.' && s[n - 1] != '.';
}

static void gen_uid(struct ksim *k, char *buf)
{
    uint64_t c = ++k->uid_counter;
    unsigned r1 = (unsigned)rand_r(&k->rng), r2 = (unsigned)rand_r(&k->rng);
    snprintf(buf, 37, "%08x-%04x-4%03x-8%03x-%012llx", r1, r2 & 0xffff, (r2 >> 16) & 0xfff,
             r1 & 0xfff, (unsigned long long)c);
}

static void rand_suffix(struct ksim *k, char *buf, int n)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    for (int i = 0; i < n; i++)
        buf[i] = alphabet[rand_r(&k->rng) % (sizeof(alphabet) - 1)];
    buf[n] = '\0';
}

/* Non-metadata, non-status content changed? (generation bump) */
static int spec_changed(json_t *a, json_t *b)
{
    json_t *ca = json_copy(a), *cb = json_copy(b);
    const char *drop[] = {"metadata", "status", "apiVersion", "kind"};
    for (size_t i = 0; i < 4; i++) {
        json_object_del(ca, drop[i]);
        json_object_del(cb, drop[i]);
    }
    int eq = json_equal(ca, cb);
    json_decref(ca);
    json_decref(cb);
    return !eq;
}

/* RFC 7386 merge patch; strategic-merge directives ($patch, $setElementOrder...) dropped. */
static void merge_patch(json_t *target, json_t *patch, int null_deletes)
{
    const char *key;
    json_t *pv;
    json_object_foreach(patch, key, pv)
    {
        if (key[0] == '$')
            continue;
        if (json_is_null(pv) && null_deletes) {
            json_object_del(target, key);
            continue;
        }
        json_t *tv = json_object_get(target, key);
        if (json_is_object(pv) && json_is_object(tv)) {
            merge_patch(tv, pv, null_deletes);
        } else if (json_is_object(pv)) {
            json_t *n = json_object();
            merge_patch(n, pv, null_deletes);
            json_object_set_new(target, key, n);
        } else {
            json_object_set(target, key, pv);
        }
    }
}

static int parse_body(const char *ct, const char *body, size_t len, json_t **ret, struct error *err)
{
    if (!body || !len)
        return error_set(err, ERR_INVALID, "", "request body is empty");
    json_error_t jerr;
    json_t *v = json_loadb(body, len, 0, &jerr);
    if (!v) {
        if (ct && strstr(ct, "json") && !strstr(ct, "yaml"))
            return error_set(err, ERR_INVALID, "",
                             "couldn't get version/kind; json parse error: %s", jerr.text);
        int rc = yaml_to_json(body, len, "request body", &v, err);
        if (rc)
            return rc;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return error_set(err, ERR_INVALID, "", "Object 'Kind' is missing in request body");
    }
    *ret = v;
    return 0;
}

/* ---------- quota and limit ranges ---------- */

static void usage_add(json_t *u, const char *res, int64_t milli)
{
    json_t *v = json_object_get(u, res);
    json_object_set_new(u, res, json_integer((v ? json_integer_value(v) : 0) + milli));
}

static int64_t qty_of(json_t *v)
{
    int64_t m = 0;
    if (json_is_string(v))
        ksim_qty_parse(json_string_value(v), &m);
    else if (json_is_integer(v))
        m = json_integer_value(v) * 1000;
    else if (json_is_real(v))
        m = (int64_t)(json_real_value(v) * 1000);
    return m;
}

/* Quota usage of one object (milli-units per quota resource name). */
static json_t *usage_of(const struct rtype *rt, json_t *obj)
{
    json_t *u = json_object();
    char key[300];
    usage_add(u, "count/", 0);
    json_object_del(u, "count/");
    if (*rt->group)
        snprintf(key, sizeof(key), "count/%s.%s", rt->resource, rt->group);
    else
        snprintf(key, sizeof(key), "count/%s", rt->resource);
    usage_add(u, key, 1000);
    if (!strcmp(rt->resource, "pods")) {
        const char *phase =
            json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
        if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
            return u;
        usage_add(u, "pods", 1000);
        json_t *ctrs = json_object_get(json_object_get(obj, "spec"), "containers");
        size_t i;
        json_t *c;
        json_array_foreach(ctrs, i, c)
        {
            json_t *res = json_object_get(c, "resources");
            json_t *req = json_object_get(res, "requests"), *lim = json_object_get(res, "limits");
            const char *rn;
            json_t *q;
            json_object_foreach(req, rn, q)
            {
                snprintf(key, sizeof(key), "requests.%s", rn);
                usage_add(u, key, qty_of(q));
                if (!strcmp(rn, "cpu") || !strcmp(rn, "memory") || !strcmp(rn, "ephemeral-storage"))
                    usage_add(u, rn, qty_of(q));
            }
            json_object_foreach(lim, rn, q)
            {
                snprintf(key, sizeof(key), "limits.%s", rn);
                usage_add(u, key, qty_of(q));
            }
        }
    } else if (!strcmp(rt->resource, "persistentvolumeclaims")) {
        usage_add(u, "persistentvolumeclaims", 1000);
        json_t *spec = json_object_get(obj, "spec");
        int64_t st = qty_of(json_object_get(
            json_object_get(json_object_get(spec, "resources"), "requests"), "storage"));
        usage_add(u, "requests.storage", st);
        const char *sc = json_string_value(json_object_get(spec, "storageClassName"));
        if (sc) {
            snprintf(key, sizeof(key), "%s.storageclass.storage.k8s.io/requests.storage", sc);
            usage_add(u, key, st);
            snprintf(key, sizeof(key), "%s.storageclass.storage.k8s.io/persistentvolumeclaims", sc);
            usage_add(u, key, 1000);
        }
    } else if (!strcmp(rt->resource, "services")) {
        usage_add(u, "services", 1000);
        const char *type = json_string_value(json_object_get(json_object_get(obj, "spec"), "type"));
        if (type && !strcmp(type, "LoadBalancer"))
            usage_add(u, "services.loadbalancers", 1000);
        if (type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer")))
            usage_add(u, "services.nodeports",
                      1000 * (int64_t)json_array_size(
                                 json_object_get(json_object_get(obj, "spec"), "ports")));
    } else if (!strcmp(rt->resource, "configmaps") || !strcmp(rt->resource, "secrets")) {
        usage_add(u, rt->resource, 1000);
    } else if (!strcmp(rt->resource, "resourcequotas")) {
        usage_add(u, "resourcequotas", 1000);
    }
    return u;
}

static const char *quota_tracked[] = {"pods",    "persistentvolumeclaims", "services", "configmaps",
                                      "secrets", "resourcequotas"};

/* Sum of usage over every tracked object in namespace ns. */
static json_t *used_in(struct ksim *k, const char *ns)
{
    json_t *total = json_object();
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", ns);
    for (size_t t = 0; t < sizeof(quota_tracked) / sizeof(quota_tracked[0]); t++) {
        const struct rtype *rt = rtype_by_name(quota_tracked[t]);
        const char *key;
        json_t *obj;
        json_object_foreach(bucket(k, rt), key, obj)
        {
            if (strncmp(key, prefix, strlen(prefix)))
                continue;
            json_t *u = usage_of(rt, obj);
            const char *rn;
            json_t *v;
            json_object_foreach(u, rn, v)
            {
                usage_add(total, rn, json_integer_value(v));
            }
            json_decref(u);
        }
    }
    return total;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Quota admission of obj (kind rt) in ns. 0, or -ERR_FORBIDDEN with msg filled. */
static int quota_admit(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                       char *msg, size_t msglen)
{
    json_t *req = usage_of(rt, obj);
    json_t *used = NULL;
    int rc = 0;
    char qkey[80];
    snprintf(qkey, sizeof(qkey), "%s/", ns);
    const char *key;
    json_t *quota;
    json_object_foreach(bucket(k, rtype_by_name("resourcequotas")), key, quota)
    {
        if (strncmp(key, qkey, strlen(qkey)))
            continue;
        json_t *hard = json_object_get(json_object_get(quota, "status"), "hard");
        if (!json_is_object(hard))
            continue; /* not yet enforced */
        if (!used)
            used = used_in(k, ns);
        const char *names[64];
        size_t n = 0;
        const char *rn;
        json_t *hv;
        json_object_foreach(hard, rn, hv)
        {
            json_t *rq = json_object_get(req, rn);
            if (!rq || n >= 64)
                continue;
            int64_t want = json_integer_value(rq);
            int64_t have = json_integer_value(json_object_get(used, rn));
            if (have + want > qty_of(hv))
                names[n++] = rn;
        }
        if (!n)
            continue;
        qsort(names, n, sizeof(names[0]), key_cmp);
        char a[300] = "", b[300] = "", c[300] = "", q[48];
        for (size_t i = 0; i < n; i++) {
            size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
            snprintf(
                a + la, sizeof(a) - la, "%s%s=%s", i ? "," : "", names[i],
                ksim_qty_format(json_integer_value(json_object_get(req, names[i])), q, sizeof(q)));
            snprintf(
                b + lb, sizeof(b) - lb, "%s%s=%s", i ? "," : "", names[i],
                ksim_qty_format(json_integer_value(json_object_get(used, names[i])), q, sizeof(q)));
            json_t *hvv = json_object_get(hard, names[i]);
            snprintf(c + lc, sizeof(c) - lc, "%s%s=%s", i ? "," : "", names[i],
                     json_is_string(hvv) ? json_string_value(hvv)
                                         : ksim_qty_format(qty_of(hvv), q, sizeof(q)));
        }
        snprintf(msg, msglen, "exceeded quota: %s, requested: %s, used: %s, limited: %s",
                 mstr(quota, "name"), a, b, c);
        rc = -ERR_FORBIDDEN;
        break;
    }
    json_decref(req);
    json_decref(used);
    return rc;
}

/* Quota controller: status.used (and status.hard when sync_hard) for quotas in ns. */
static void quota_refresh(struct ksim *k, const char *ns, const char *only, int sync_hard)
{
    const struct rtype *rt = rtype_by_name("resourcequotas");
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", ns);
    const char *key;
    json_t *quota;
    int any = 0;
    json_object_foreach(bucket(k, rt), key, quota)
    {
        if (!strncmp(key, prefix, strlen(prefix)))
            any = 1;
    }
    if (!any)
        return;
    json_t *used = used_in(k, ns);
    json_object_foreach(bucket(k, rt), key, quota)
    {
        if (strncmp(key, prefix, strlen(prefix)))
            continue;
        if (only && strcmp(mstr(quota, "name"), only))
            continue;
        json_t *st = json_object_get(quota, "status");
        if (!sync_hard && !json_object_get(st, "hard"))
            continue;
        json_t *hard = json_object_get(json_object_get(quota, "spec"), "hard");
        json_t *nst = json_object();
        json_object_set(nst, "hard", hard ? hard : json_object());
        json_t *u = json_object();
        const char *rn;
        json_t *hv;
        char q[48];
        json_object_foreach(hard, rn, hv)
            json_object_set_new(u, rn,
                                json_string(ksim_qty_format(
                                    json_integer_value(json_object_get(used, rn)), q, sizeof(q))));
        json_object_set_new(nst, "used", u);
        if (json_equal(nst, st)) {
            json_decref(nst);
            continue;
        }
        json_object_set_new(quota, "status", nst);
        set_rv(k, quota);
        emit(k, rt, ns, "MODIFIED", quota);
    }
    json_decref(used);
}

static void limitrange_default(struct ksim *k, const char *ns, json_t *pod)
{
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", ns);
    const char *key;
    json_t *lr;
    const char *lists[] = {"initContainers", "containers"};
    json_object_foreach(bucket(k, rtype_by_name("limitranges")), key, lr)
    {
        if (strncmp(key, prefix, strlen(prefix)))
            continue;
        size_t i;
        json_t *lim;
        json_array_foreach(json_object_get(json_object_get(lr, "spec"), "limits"), i, lim)
        {
            const char *type = json_string_value(json_object_get(lim, "type"));
            if (!type || strcmp(type, "Container"))
                continue;
            json_t *def = json_object_get(lim, "default");
            json_t *defreq = json_object_get(lim, "defaultRequest");
            for (int l = 0; l < 2; l++) {
                size_t j;
                json_t *c;
                json_array_foreach(json_object_get(json_object_get(pod, "spec"), lists[l]), j, c)
                {
                    json_t *res = json_object_get(c, "resources");
                    if (!json_is_object(res)) {
                        res = json_object();
                        json_object_set_new(c, "resources", res);
                    }
                    const char *pairs[2] = {"limits", "requests"};
                    json_t *srcs[2] = {def, defreq};
                    for (int p = 0; p < 2; p++) {
                        if (!json_is_object(srcs[p]))
                            continue;
                        json_t *dst = json_object_get(res, pairs[p]);
                        if (!json_is_object(dst)) {
                            dst = json_object();
                            json_object_set_new(res, pairs[p], dst);
                        }
                        const char *rn;
                        json_t *v;
                        json_object_foreach(srcs[p], rn, v)
                        {
                            if (!json_object_get(dst, rn))
                                json_object_set(dst, rn, v);
                        }
                    }
                }
            }
        }
    }
    /* requests default to limits (API defaulting) */
    for (int l = 0; l < 2; l++) {
        size_t j;
        json_t *c;
        json_array_foreach(json_object_get(json_object_get(pod, "spec"), lists[l]), j, c)
        {
            json_t *res = json_object_get(c, "resources");
            json_t *lims = json_object_get(res, "limits");
            if (!json_is_object(lims) || !json_object_size(lims))
                continue;
            json_t *reqs = json_object_get(res, "requests");
            if (!json_is_object(reqs)) {
                reqs = json_object();
                json_object_set_new(res, "requests", reqs);
            }
            const char *rn;
            json_t *v;
            json_object_foreach(lims, rn, v)
            {
                if (!json_object_get(reqs, rn))
                    json_object_set(reqs, rn, v);
            }
        }
    }
}

static char *b64(const char *in)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(in);
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)(unsigned char)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)(unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)in[i + 2];
        out[o++] = t[(v >> 18) & 63];
        out[o++] = t[(v >> 12) & 63];
        out[o++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? t[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* A small part of the API server's defaulting, the fields clients and kubectl show. */
static void set_default(json_t *o, const char *key, json_t *v)
{
    if (json_is_object(o) && !json_object_get(o, key))
        json_object_set(o, key, v);
    json_decref(v);
}

static void default_pod_spec(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    set_default(spec, "restartPolicy", json_string("Always"));
    set_default(spec, "dnsPolicy", json_string("ClusterFirst"));
    set_default(spec, "schedulerName", json_string("default-scheduler"));
    set_default(spec, "terminationGracePeriodSeconds", json_integer(30));
    set_default(spec, "securityContext", json_object());
    const char *lists[] = {"initContainers", "containers"};
    for (int l = 0; l < 2; l++) {
        size_t i, j;
        json_t *c, *port;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            const char *image = json_string_value(json_object_get(c, "image"));
            int latest = image && (!strchr(image, ':') || strstr(image, ":latest"));
            set_default(c, "imagePullPolicy", json_string(latest ? "Always" : "IfNotPresent"));
            set_default(c, "terminationMessagePath", json_string("/dev/termination-log"));
            set_default(c, "terminationMessagePolicy", json_string("File"));
            json_array_foreach(json_object_get(c, "ports"), j, port)
                set_default(port, "protocol", json_string("TCP"));
        }
    }
}

static void apply_defaults(const struct rtype *rt, json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec");
    const char *res = rt->resource;
    if (!strcmp(res, "pods")) {
        default_pod_spec(spec);
    } else if (!strcmp(res, "deployments") && json_is_object(spec)) {
        set_default(spec, "replicas", json_integer(1));
        set_default(spec, "revisionHistoryLimit", json_integer(10));
        set_default(spec, "progressDeadlineSeconds", json_integer(600));
        set_default(spec, "strategy",
                    json_pack("{s:s, s:{s:s, s:s}}", "type", "RollingUpdate", "rollingUpdate",
                              "maxUnavailable", "25%", "maxSurge", "25%"));
        default_pod_spec(json_object_get(json_object_get(spec, "template"), "spec"));
    } else if (!strcmp(res, "services") && json_is_object(spec)) {
        set_default(spec, "sessionAffinity", json_string("None"));
        size_t i;
        json_t *port;
        json_array_foreach(json_object_get(spec, "ports"), i, port)
        {
            set_default(port, "protocol", json_string("TCP"));
            json_t *p = json_object_get(port, "port");
            if (p)
                set_default(port, "targetPort", json_incref(p));
        }
    } else if (!strcmp(res, "persistentvolumeclaims") && json_is_object(spec)) {
        set_default(spec, "volumeMode", json_string("Filesystem"));
    } else if (!strcmp(res, "secrets")) {
        json_t *sd = json_object_get(obj, "stringData");
        if (json_is_object(sd)) {
            json_t *data = json_object_get(obj, "data");
            if (!json_is_object(data)) {
                data = json_object();
                json_object_set_new(obj, "data", data);
            }
            const char *key;
            json_t *v;
            json_object_foreach(sd, key, v)
            {
                const char *str = json_string_value(v);
                if (!str)
                    continue;
                char *b = b64(str);
                if (b)
                    json_object_set_new(data, key, json_string(b));
                free(b);
            }
            json_object_del(obj, "stringData");
        }
        set_default(obj, "type", json_string("Opaque"));
    }
}

/* ---------- create / update / delete core ---------- */

static int ns_terminating(json_t *ns)
{
    const char *phase = json_string_value(json_object_get(json_object_get(ns, "status"), "phase"));
    return phase && !strcmp(phase, "Terminating");
}

static void after_write(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                        int created);

/* Validates obj against the schema of rt. 0 or replies 400. */
static int validate(struct ksim *k, const struct rtype *rt, json_t *obj, struct ksim_response *r)
{
    if (!k->opt.schema || !ksim_schema_has(k->opt.schema, rt->def))
        return 0;
    struct error e = {0};
    if (ksim_schema_validate(k->opt.schema, rt->def, obj, &e)) {
        reply_status(r, 400, "BadRequest", NULL, NULL,
                     "%s in version \"%s\" cannot be handled as a %s: %s", rt->kind, rt->version,
                     rt->kind, e.message);
        return -1;
    }
    return 0;
}

static int check_type_meta(const struct rtype *rt, json_t *obj, struct ksim_response *r)
{
    char av[160];
    const char *want = api_version(rt, av, sizeof(av));
    const char *got_av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *got_kind = json_string_value(json_object_get(obj, "kind"));
    if (got_av && strcmp(got_av, want)) {
        reply_status(
            r, 400, "BadRequest", NULL, NULL,
            "the API version in the data (%s) does not match the expected API version (%s)", got_av,
            want);
        return -1;
    }
    if (got_kind && strcmp(got_kind, rt->kind)) {
        reply_status(r, 400, "BadRequest", NULL, NULL,
                     "the kind in the data (%s) does not match the expected kind (%s)", got_kind,
                     rt->kind);
        return -1;
    }
    json_object_set_new(obj, "apiVersion", json_string(want));
    json_object_set_new(obj, "kind", json_string(rt->kind));
    return 0;
}

/* Creates obj (owned by the caller, copied on success). On success replies 201 when r. */
static int do_create(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                     struct ksim_response *r, char *errmsg, size_t errlen)
{
    if (check_type_meta(rt, obj, r) || validate(k, rt, obj, r))
        return -1;
    json_t *m = meta(obj);
    const char *ons = json_string_value(json_object_get(m, "namespace"));
    if (rt->namespaced) {
        if (ons && *ons && strcmp(ons, ns)) {
            reply_status(r, 400, "BadRequest", NULL, NULL,
                         "the namespace of the provided object does not match the namespace sent "
                         "on the request");
            return -1;
        }
        json_object_set_new(m, "namespace", json_string(ns));
    } else {
        json_object_del(m, "namespace");
    }
    const char *name = json_string_value(json_object_get(m, "name"));
    const char *gen = json_string_value(json_object_get(m, "generateName"));
    char namebuf[MAX_NAME + 1];
    if ((!name || !*name) && gen && *gen) {
        char suf[8];
        rand_suffix(k, suf, 5);
        snprintf(namebuf, sizeof(namebuf), "%.*s%s", 58, gen, suf);
        json_object_set_new(m, "name", json_string(namebuf));
        name = json_string_value(json_object_get(m, "name"));
    }
    if (!name || !*name) {
        reply_invalid(r, rt, "", "metadata.name", "Required value",
                      "name or generateName is required");
        return -1;
    }
    if (!valid_dns_name(name,
                        !strcmp(rt->resource, "namespaces") || !strcmp(rt->resource, "services"))) {
        if (strcmp(rt->resource, "rolebindings") && strcmp(rt->resource, "clusterrolebindings") &&
            strcmp(rt->resource, "clusterroles") && strcmp(rt->resource, "roles")) {
            char d[400];
            snprintf(d, sizeof(d),
                     "a lowercase RFC 1123 %s must consist of lower case alphanumeric characters, "
                     "'-' or '.', and must start and end with an alphanumeric character",
                     strcmp(rt->resource, "namespaces") ? "subdomain" : "label");
            char val[300];
            snprintf(val, sizeof(val), "Invalid value: \"%s\"", name);
            reply_invalid(r, rt, name, "metadata.name", val, d);
            return -1;
        }
    }
    char nsname[64] = "";
    if (!rt->namespaced)
        apply_defaults(rt, obj);
    if (rt->namespaced) {
        snprintf(nsname, sizeof(nsname), "%s", ns);
        json_t *nso = lookup(k, &rtypes[0], "", ns);
        if (!nso) {
            reply_not_found(r, &rtypes[0], ns);
            return -1;
        }
        if (ns_terminating(nso)) {
            char q[160];
            reply_status(r, 403, "Forbidden", name, rt,
                         "%s \"%s\" is forbidden: unable to create new content in namespace %s "
                         "because it is being terminated",
                         qualified(rt, q, sizeof(q)), name, ns);
            return -1;
        }
        if (!strcmp(rt->resource, "pods"))
            limitrange_default(k, ns, obj);
        apply_defaults(rt, obj);
        char msg[900];
        if (quota_admit(k, rt, ns, obj, msg, sizeof(msg))) {
            char q[160];
            if (errmsg)
                snprintf(errmsg, errlen, "%s \"%s\" is forbidden: %s", qualified(rt, q, sizeof(q)),
                         name, msg);
            reply_status(r, 403, "Forbidden", name, rt, "%s \"%s\" is forbidden: %s",
                         qualified(rt, q, sizeof(q)), name, msg);
            return -1;
        }
    }
    if (lookup(k, rt, ns, name)) {
        char q[160];
        reply_status(r, 409, "AlreadyExists", name, rt, "%s \"%s\" already exists",
                     qualified(rt, q, sizeof(q)), name);
        return -1;
    }
    json_t *stored = json_deep_copy(obj);
    m = meta(stored);
    char uid[40], ts[RFC3339_LEN];
    gen_uid(k, uid);
    now_rfc3339(ts);
    json_object_set_new(m, "uid", json_string(uid));
    json_object_set_new(m, "creationTimestamp", json_string(ts));
    json_object_del(m, "deletionTimestamp");
    json_object_del(m, "managedFields");
    if (rt->has_status || !strcmp(rt->resource, "deployments") || json_object_get(stored, "spec"))
        json_object_set_new(m, "generation", json_integer(1));
    if (!strcmp(rt->resource, "namespaces")) {
        json_object_set_new(stored, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
        json_object_set_new(stored, "status", json_pack("{s:s}", "phase", "Active"));
        json_t *labels = json_object_get(m, "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(m, "labels", labels);
        }
        json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
    }
    if (rt->has_status && strcmp(rt->resource, "namespaces") && strcmp(rt->resource, "nodes") &&
        strcmp(rt->resource, "pods"))
        json_object_del(stored, "status");
    set_rv(k, stored);
    char key[400];
    obj_key(nsname, name, key, sizeof(key));
    json_object_set_new(bucket(k, rt), key, stored);
    emit(k, rt, nsname, "ADDED", stored);
    after_write(k, rt, nsname, stored, 1);
    if (r)
        reply(r, 201, json_incref(stored));
    return 0;
}

static void remove_object(struct ksim *k, const struct rtype *rt, const char *ns, const char *name);

/* Cascading delete of objects owned by uid in ns. */
static void delete_dependents(struct ksim *k, const char *ns, const char *uid)
{
    for (size_t t = 0; t < NRTYPES; t++) {
        if (!rtypes[t].namespaced)
            continue;
        const char *key;
        json_t *obj;
        void *tmp;
        char names[64][MAX_NAME + 1];
        int n = 0;
        json_object_foreach_safe(bucket(k, &rtypes[t]), tmp, key, obj)
        {
            const char *ons = mstr(obj, "namespace");
            if (!ons || strcmp(ons, ns))
                continue;
            size_t i;
            json_t *ref;
            json_array_foreach(json_object_get(meta(obj), "ownerReferences"), i, ref)
            {
                const char *ru = json_string_value(json_object_get(ref, "uid"));
                if (ru && !strcmp(ru, uid) && n < 64) {
                    snprintf(names[n++], MAX_NAME + 1, "%s", mstr(obj, "name"));
                    break;
                }
            }
        }
        for (int i = 0; i < n; i++)
            remove_object(k, &rtypes[t], ns, names[i]);
    }
}

static void remove_object(struct ksim *k, const struct rtype *rt, const char *ns, const char *name)
{
    char key[400];
    obj_key(rt->namespaced ? ns : "", name, key, sizeof(key));
    json_t *obj = json_object_get(bucket(k, rt), key);
    if (!obj)
        return;
    json_incref(obj);
    json_object_del(bucket(k, rt), key);
    set_rv(k, obj);
    emit(k, rt, ns, "DELETED", obj);
    char uid[64];
    snprintf(uid, sizeof(uid), "%s", mstr(obj, "uid") ? mstr(obj, "uid") : "");
    if (rt->namespaced && *uid)
        delete_dependents(k, ns, uid);
    if (rt->namespaced) {
        for (size_t t = 0; t < sizeof(quota_tracked) / sizeof(quota_tracked[0]); t++)
            if (!strcmp(rt->resource, quota_tracked[t]))
                quota_refresh(k, ns, NULL, 0);
        json_t *owners = json_object_get(meta(obj), "ownerReferences");
        size_t i;
        json_t *ref;
        json_array_foreach(owners, i, ref)
        {
            const char *kind = json_string_value(json_object_get(ref, "kind"));
            const char *oname = json_string_value(json_object_get(ref, "name"));
            if (kind && oname && !strcmp(kind, "Deployment"))
                add_task(k, T_DEPLOY, ns, oname, 0);
        }
    }
    json_decref(obj);
}

static int has_finalizers(json_t *obj)
{
    return json_array_size(json_object_get(meta(obj), "finalizers")) > 0;
}

/* Stores new version nw (a new reference the function takes) over old. */
static void store_update(struct ksim *k, const struct rtype *rt, const char *ns, json_t *old,
                         json_t *nw)
{
    apply_defaults(rt, nw);
    json_t *m = meta(nw), *om = meta(old);
    const char *keep[] = {"uid", "creationTimestamp", "deletionTimestamp", "generation"};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get(om, keep[i]);
        if (v)
            json_object_set(m, keep[i], v);
        else
            json_object_del(m, keep[i]);
    }
    json_object_del(m, "managedFields");
    if (rt->namespaced)
        json_object_set_new(m, "namespace", json_string(ns));
    if (spec_changed(old, nw) && json_object_get(om, "generation"))
        json_object_set_new(
            m, "generation",
            json_integer(json_integer_value(json_object_get(om, "generation")) + 1));
    if (json_equal(old, nw) ||
        (json_object_set(m, "resourceVersion", json_object_get(om, "resourceVersion")),
         json_equal(old, nw))) {
        json_decref(nw);
        return; /* no-op write keeps the resourceVersion */
    }
    set_rv(k, nw);
    char key[400];
    const char *name = mstr(nw, "name");
    obj_key(rt->namespaced ? ns : "", name, key, sizeof(key));
    json_object_set_new(bucket(k, rt), key, nw);
    if (json_object_get(m, "deletionTimestamp") && !has_finalizers(nw) &&
        strcmp(rt->resource, "namespaces")) {
        remove_object(k, rt, ns, name);
        return;
    }
    emit(k, rt, ns, "MODIFIED", nw);
    after_write(k, rt, ns, nw, 0);
}

/* ---------- controllers ---------- */

static void route_admit(json_t *obj, const char *ns)
{
    json_t *spec = json_object_get(obj, "spec");
    const char *host = json_string_value(json_object_get(spec, "host"));
    char hbuf[400];
    if (!host || !*host) {
        snprintf(hbuf, sizeof(hbuf), "%s-%s.apps.kubesim.local", mstr(obj, "name"), ns);
        if (json_is_object(spec))
            json_object_set_new(spec, "host", json_string(hbuf));
        host = hbuf;
    }
    char ts[RFC3339_LEN];
    now_rfc3339(ts);
    json_object_set_new(obj, "status",
                        json_pack("{s:[{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}]}", "ingress", "host",
                                  host, "routerName", "default", "wildcardPolicy", "None",
                                  "conditions", "type", "Admitted", "status", "True",
                                  "lastTransitionTime", ts));
}

static void after_write(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                        int created)
{
    const char *res = rt->resource;
    const char *name = mstr(obj, "name");
    if (!strcmp(res, "resourcequotas")) {
        add_task(k, T_QUOTA, ns, name, k->opt.quota_delay_ms);
    } else if (!strcmp(res, "deployments")) {
        add_task(k, T_DEPLOY, ns, name, 0);
    } else if (!strcmp(res, "pods") && created) {
        add_task(k, T_POD_READY, ns, name, k->opt.pod_ready_delay_ms);
        json_t *st = json_object_get(obj, "status");
        if (!json_is_object(st) || !json_object_get(st, "phase")) {
            char ts[RFC3339_LEN];
            now_rfc3339(ts);
            json_object_set_new(obj, "status",
                                json_pack("{s:s, s:s}", "phase", "Pending", "startTime", ts));
        }
    } else if (!strcmp(res, "routes") && created) {
        route_admit(obj, ns);
    } else if (!strcmp(res, "services") && created) {
        json_t *spec = json_object_get(obj, "spec");
        if (json_is_object(spec) && !json_object_get(spec, "clusterIP")) {
            char ip[32];
            snprintf(ip, sizeof(ip), "10.96.%u.%u", (unsigned)(k->rv / 250) % 250,
                     (unsigned)(k->rv % 250) + 1);
            json_object_set_new(spec, "clusterIP", json_string(ip));
            json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
        }
        if (json_is_object(spec) && !json_object_get(spec, "type"))
            json_object_set_new(spec, "type", json_string("ClusterIP"));
        json_object_set_new(obj, "status", json_pack("{s:{}}", "loadBalancer"));
    } else if (!strcmp(res, "persistentvolumeclaims") && created) {
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Bound"));
    } else if (!strcmp(res, "ingresses") && created) {
        json_object_set_new(
            obj, "status",
            json_pack("{s:{s:[{s:s}]}}", "loadBalancer", "ingress", "ip", "127.0.0.1"));
    } else if (!strcmp(res, "namespaces") && created) {
        json_t *sa = json_pack("{s:{s:s}}", "metadata", "name", "default");
        do_create(k, rtype_by_name("serviceaccounts"), name, sa, NULL, NULL, 0);
        json_decref(sa);
    }
    if (rt->namespaced) {
        for (size_t t = 0; t < sizeof(quota_tracked) / sizeof(quota_tracked[0]); t++)
            if (!strcmp(res, quota_tracked[t]) && strcmp(res, "resourcequotas"))
                quota_refresh(k, ns, NULL, 0);
    }
}

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void set_condition(json_t *status, const char *type, const char *st, const char *reason,
                          const char *message)
{
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    char ts[RFC3339_LEN];
    now_rfc3339(ts);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, type)) {
            const char *old = json_string_value(json_object_get(c, "status"));
            if (!old || strcmp(old, st))
                json_object_set_new(c, "lastTransitionTime", json_string(ts));
            json_object_set_new(c, "status", json_string(st));
            json_object_set_new(c, "reason", json_string(reason));
            json_object_set_new(c, "message", json_string(message));
            json_object_set_new(c, "lastUpdateTime", json_string(ts));
            return;
        }
    }
    json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status",
                                           st, "reason", reason, "message", message,
                                           "lastTransitionTime", ts, "lastUpdateTime", ts));
}

static void remove_condition(json_t *status, const char *type)
{
    json_t *conds = json_object_get(status, "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(conds, i), "type"));
        if (t && !strcmp(t, type)) {
            json_array_remove(conds, i);
            return;
        }
    }
}

static void deploy_sync(struct ksim *k, const char *ns, const char *name)
{
    const struct rtype *drt = rtype_by_name("deployments"), *prt = rtype_by_name("pods");
    json_t *d = lookup(k, drt, ns, name);
    if (!d || json_object_get(meta(d), "deletionTimestamp"))
        return;
    json_t *spec = json_object_get(d, "spec");
    json_t *replicas_v = json_object_get(spec, "replicas");
    int replicas = replicas_v ? (int)json_integer_value(replicas_v) : 1;
    json_t *tmpl = json_object_get(spec, "template");
    char *tdump = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
    char hash[16];
    snprintf(hash, sizeof(hash), "%08x", tdump ? fnv(tdump) : 0);
    free(tdump);
    const char *uid = mstr(d, "uid");
    int current = 0, ready = 0;
    char stale[64][MAX_NAME + 1];
    int nstale = 0;
    const char *key;
    json_t *pod;
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", ns);
    json_object_foreach(bucket(k, prt), key, pod)
    {
        if (strncmp(key, prefix, strlen(prefix)))
            continue;
        json_t *ref = json_array_get(json_object_get(meta(pod), "ownerReferences"), 0);
        const char *ru = json_string_value(json_object_get(ref, "uid"));
        if (!ru || strcmp(ru, uid))
            continue;
        const char *ph = json_string_value(
            json_object_get(json_object_get(meta(pod), "labels"), "pod-template-hash"));
        if (!ph || strcmp(ph, hash) || current >= replicas) {
            if (nstale < 64)
                snprintf(stale[nstale++], MAX_NAME + 1, "%s", mstr(pod, "name"));
            continue;
        }
        current++;
        const char *phase =
            json_string_value(json_object_get(json_object_get(pod, "status"), "phase"));
        if (phase && !strcmp(phase, "Running"))
            ready++;
    }
    for (int i = 0; i < nstale; i++)
        remove_object(k, prt, ns, stale[i]);
    char failure[1024] = "";
    for (; current < replicas; current++) {
        json_t *p = json_object();
        json_t *pm = json_deep_copy(json_object_get(tmpl, "metadata"));
        if (!json_is_object(pm)) {
            json_decref(pm);
            pm = json_object();
        }
        char pname[MAX_NAME + 1], suf[8];
        rand_suffix(k, suf, 5);
        snprintf(pname, sizeof(pname), "%.200s-%s-%s", name, hash, suf);
        json_object_set_new(pm, "name", json_string(pname));
        json_t *labels = json_object_get(pm, "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(pm, "labels", labels);
        }
        json_object_set_new(labels, "pod-template-hash", json_string(hash));
        json_object_set_new(pm, "ownerReferences",
                            json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", "apps/v1",
                                      "kind", "Deployment", "name", name, "uid", uid, "controller",
                                      1, "blockOwnerDeletion", 1));
        json_object_set_new(p, "metadata", pm);
        json_t *pspec = json_deep_copy(json_object_get(tmpl, "spec"));
        json_object_set_new(p, "spec", pspec ? pspec : json_object());
        struct ksim_response scratch = {0};
        int rc = do_create(k, prt, ns, p, &scratch, failure, sizeof(failure));
        if (rc && !failure[0] && scratch.body)
            snprintf(failure, sizeof(failure), "%s", scratch.body);
        ksim_response_free(&scratch);
        json_decref(p);
        if (rc)
            break;
        failure[0] = '\0';
    }
    json_t *nd = json_deep_copy(d);
    json_t *st = json_object_get(nd, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(nd, "status", st);
    }
    json_object_set(st, "observedGeneration", json_object_get(meta(d), "generation"));
    json_object_set_new(st, "replicas", json_integer(current));
    json_object_set_new(st, "updatedReplicas", json_integer(current));
    json_object_set_new(st, "readyReplicas", json_integer(ready));
    json_object_set_new(st, "availableReplicas", json_integer(ready));
    json_object_set_new(st, "unavailableReplicas",
                        json_integer(replicas > ready ? replicas - ready : 0));
    if (ready >= replicas)
        set_condition(st, "Available", "True", "MinimumReplicasAvailable",
                      "Deployment has minimum availability.");
    else
        set_condition(st, "Available", "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.");
    set_condition(st, "Progressing", "True",
                  ready >= replicas ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                  ready >= replicas ? "ReplicaSet has successfully progressed."
                                    : "ReplicaSet is progressing.");
    if (failure[0]) {
        set_condition(st, "ReplicaFailure", "True", "FailedCreate", failure);
        add_task(k, T_DEPLOY, ns, name, 500);
    } else {
        remove_condition(st, "ReplicaFailure");
    }
    /* status-only change: keep generation */
    json_t *old_status = json_object_get(d, "status");
    if (json_equal(old_status, st)) {
        json_decref(nd);
        return;
    }
    set_rv(k, nd);
    char okey[400];
    obj_key(ns, name, okey, sizeof(okey));
    json_object_set_new(bucket(k, drt), okey, nd);
    emit(k, drt, ns, "MODIFIED", nd);
}

static void pod_ready(struct ksim *k, const char *ns, const char *name)
{
    const struct rtype *prt = rtype_by_name("pods");
    json_t *p = lookup(k, prt, ns, name);
    if (!p)
        return;
    json_t *st = json_object_get(p, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(p, "status", st);
    }
    json_object_set_new(st, "phase", json_string("Running"));
    json_object_set_new(st, "podIP", json_string("10.244.0.10"));
    json_object_set_new(st, "hostIP", json_string("192.168.0.10"));
    set_condition(st, "PodScheduled", "True", "", "");
    set_condition(st, "Initialized", "True", "", "");
    set_condition(st, "ContainersReady", "True", "", "");
    set_condition(st, "Ready", "True", "", "");
    json_t *cs = json_array();
    size_t i;
    json_t *c;
    char ts[RFC3339_LEN];
    now_rfc3339(ts);
    json_array_foreach(json_object_get(json_object_get(p, "spec"), "containers"), i, c)
        json_array_append_new(cs, json_pack("{s:O?, s:O?, s:s, s:b, s:b, s:i, s:{s:{s:s}}}", "name",
                                            json_object_get(c, "name"), "image",
                                            json_object_get(c, "image"), "imageID", "", "ready", 1,
                                            "started", 1, "restartCount", 0, "state", "running",
                                            "startedAt", ts));
    json_object_set_new(st, "containerStatuses", cs);
    if (!json_object_get(json_object_get(p, "spec"), "nodeName") &&
        json_is_object(json_object_get(p, "spec")))
        json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string("kubesim-node"));
    set_rv(k, p);
    emit(k, prt, ns, "MODIFIED", p);
    json_t *ref = json_array_get(json_object_get(meta(p), "ownerReferences"), 0);
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    if (kind && !strcmp(kind, "Deployment"))
        add_task(k, T_DEPLOY, ns, json_string_value(json_object_get(ref, "name")), 0);
}

static void ns_finish(struct ksim *k, const char *name)
{
    json_t *nso = lookup(k, &rtypes[0], "", name);
    if (!nso || !ns_terminating(nso))
        return;
    json_t *spec_fin = json_object_get(json_object_get(nso, "spec"), "finalizers");
    if (json_array_size(spec_fin) == 0 && !has_finalizers(nso))
        remove_object(k, &rtypes[0], "", name);
}

static void ns_delete(struct ksim *k, const char *name)
{
    json_t *nso = lookup(k, &rtypes[0], "", name);
    if (!nso || !ns_terminating(nso))
        return;
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", name);
    for (size_t t = 0; t < NRTYPES; t++) {
        if (!rtypes[t].namespaced)
            continue;
        for (;;) {
            const char *key;
            json_t *obj;
            char victim[MAX_NAME + 1] = "";
            json_object_foreach(bucket(k, &rtypes[t]), key, obj)
            {
                if (!strncmp(key, prefix, strlen(prefix))) {
                    snprintf(victim, sizeof(victim), "%s", mstr(obj, "name"));
                    break;
                }
            }
            if (!victim[0])
                break;
            remove_object(k, &rtypes[t], name, victim);
        }
    }
    /* the namespace controller removes its own finalizer */
    json_t *spec_fin = json_object_get(json_object_get(nso, "spec"), "finalizers");
    for (size_t i = 0; i < json_array_size(spec_fin); i++) {
        if (!strcmp(json_string_value(json_array_get(spec_fin, i)) ?: "", "kubernetes")) {
            json_array_remove(spec_fin, i);
            set_rv(k, nso);
            emit(k, &rtypes[0], "", "MODIFIED", nso);
            break;
        }
    }
    ns_finish(k, name);
}

static void run_task(struct ksim *k, const struct task *t)
{
    switch (t->type) {
    case T_QUOTA:
        quota_refresh(k, t->ns, t->name, 1);
        break;
    case T_NS_DELETE:
        ns_delete(k, t->name);
        break;
    case T_POD_READY:
        pod_ready(k, t->ns, t->name);
        break;
    case T_DEPLOY:
        deploy_sync(k, t->ns, t->name);
        break;
    }
}

int ksim_tick(struct ksim *k, int64_t now_ms)
{
    pthread_mutex_lock(&k->mu);
    k->now_ms = now_ms;
    /* Take the due tasks out first: running them may add new ones. Duplicate requests for
     * the same object collapse into one run. */
    struct task *due = NULL;
    size_t ndue = 0;
    if (k->ntasks)
        due = malloc(k->ntasks * sizeof(*due));
    for (size_t i = 0; due && i < k->ntasks;) {
        if (k->tasks[i].due > now_ms) {
            i++;
            continue;
        }
        int dup = 0;
        for (size_t j = ndue; j-- > 0 && j + 64 > ndue;)
            if (due[j].type == k->tasks[i].type && !strcmp(due[j].ns, k->tasks[i].ns) &&
                !strcmp(due[j].name, k->tasks[i].name))
                dup = 1;
        if (!dup)
            due[ndue++] = k->tasks[i];
        k->tasks[i] = k->tasks[--k->ntasks];
    }
    for (size_t i = 0; i < ndue; i++)
        run_task(k, &due[i]);
    free(due);
    int64_t next = now_ms + 1000;
    for (size_t i = 0; i < k->ntasks; i++)
        if (k->tasks[i].due < next)
            next = k->tasks[i].due;
    pthread_mutex_unlock(&k->mu);
    int64_t d = next - now_ms;
    return d < 1 ? 1 : (int)d;
}

/* ---------- discovery ---------- */

static json_t *resource_list(const char *group, const char *version)
{
    char gv[160];
    if (*group)
        snprintf(gv, sizeof(gv), "%s/%s", group, version);
    else
        snprintf(gv, sizeof(gv), "%s", version);
    json_t *res = json_array();
    for (size_t i = 0; i < NRTYPES; i++) {
        const struct rtype *rt = &rtypes[i];
        if (strcmp(rt->group, group) || strcmp(rt->version, version))
            continue;
        json_t *e = json_pack("{s:s, s:s, s:b, s:s, s:[s,s,s,s,s,s,s,s]}", "name", rt->resource,
                              "singularName", rt->singular, "namespaced", rt->namespaced, "kind",
                              rt->kind, "verbs", "create", "delete", "deletecollection", "get",
                              "list", "patch", "update", "watch");
        if (!strcmp(rt->resource, "namespaces")) {
            json_array_remove(json_object_get(e, "verbs"), 2);
        }
        if (rt->shortname)
            json_object_set_new(e, "shortNames", json_pack("[s]", rt->shortname));
        if (!strcmp(rt->resource, "pods") || !strcmp(rt->resource, "services") ||
            !strcmp(rt->resource, "deployments") || !strcmp(rt->resource, "replicasets"))
            json_object_set_new(e, "categories", json_pack("[s]", "all"));
        json_array_append_new(res, e);
        if (rt->has_status) {
            char sub[160];
            snprintf(sub, sizeof(sub), "%s/status", rt->resource);
            json_array_append_new(res,
                                  json_pack("{s:s, s:s, s:b, s:s, s:[s,s,s]}", "name", sub,
                                            "singularName", "", "namespaced", rt->namespaced,
                                            "kind", rt->kind, "verbs", "get", "patch", "update"));
        }
        if (!strcmp(rt->resource, "namespaces"))
            json_array_append_new(res,
                                  json_pack("{s:s, s:s, s:b, s:s, s:[s]}", "name",
                                            "namespaces/finalize", "singularName", "", "namespaced",
                                            0, "kind", "Namespace", "verbs", "update"));
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", res);
}

static json_t *group_list(void)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < NRTYPES; i++) {
        const struct rtype *rt = &rtypes[i];
        if (!*rt->group)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(rtypes[j].group, rt->group))
                seen = 1;
        if (seen)
            continue;
        char gv[160];
        snprintf(gv, sizeof(gv), "%s/%s", rt->group, rt->version);
        json_array_append_new(groups, json_pack("{s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "name",
                                                rt->group, "versions", "groupVersion", gv,
                                                "version", rt->version, "preferredVersion",
                                                "groupVersion", gv, "version", rt->version));
    }
    return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                     groups);
}

/* Minimal OpenAPI v3: per group-version, the PATCH operations with their GVK and the
 * fieldValidation parameter, which is what clients probe to choose server-side validation. */
static json_t *openapi_v3_root(void)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < NRTYPES; i++) {
        char p[160], url[200];
        if (*rtypes[i].group)
            snprintf(p, sizeof(p), "apis/%s/%s", rtypes[i].group, rtypes[i].version);
        else
            snprintf(p, sizeof(p), "api/%s", rtypes[i].version);
        snprintf(url, sizeof(url), "/openapi/v3/%s?hash=0", p);
        json_object_set_new(paths, p, json_pack("{s:s}", "serverRelativeURL", url));
    }
    return json_pack("{s:o}", "paths", paths);
}

static json_t *openapi_v3_group(const char *group, const char *version)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < NRTYPES; i++) {
        const struct rtype *rt = &rtypes[i];
        if (strcmp(rt->group, group) || strcmp(rt->version, version))
            continue;
        char p[300];
        snprintf(p, sizeof(p), "/%s%s%s/%s%s%s/{name}", *group ? "apis/" : "api", group,
                 *group ? "" : "", version, rt->namespaced ? "/namespaces/{namespace}/" : "/",
                 rt->resource);
        if (*group)
            snprintf(p, sizeof(p), "/apis/%s/%s%s%s/{name}", group, version,
                     rt->namespaced ? "/namespaces/{namespace}/" : "/", rt->resource);
        else
            snprintf(p, sizeof(p), "/api/%s%s%s/{name}", version,
                     rt->namespaced ? "/namespaces/{namespace}/" : "/", rt->resource);
        json_t *params =
            json_pack("[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}]", "name",
                      "fieldValidation", "in", "query", "schema", "type", "string", "name",
                      "fieldManager", "in", "query", "schema", "type", "string", "name", "dryRun",
                      "in", "query", "schema", "type", "string");
        json_t *gvk =
            json_pack("{s:s, s:s, s:s}", "group", group, "version", version, "kind", rt->kind);
        json_t *op = json_pack("{s:o, s:o, s:{}}", "x-kubernetes-group-version-kind", gvk,
                               "parameters", params, "responses");
        json_t *post = json_deep_copy(op);
        json_t *put = json_deep_copy(op);
        json_object_set_new(paths, p, json_pack("{s:o, s:o}", "patch", op, "put", put));
        char lp[300];
        snprintf(lp, sizeof(lp), "%.*s", (int)(strlen(p) - 7), p);
        json_object_set_new(paths, lp, json_pack("{s:o}", "post", post));
    }
    return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{}}}", "openapi", "3.0.0", "info", "title",
                     "Kubernetes", "version", "v1.36.0", "paths", paths, "components", "schemas");
}

/* ---------- request handling ---------- */

struct req {
    const char *accept;
    const char *method;
    const struct rtype *rt;
    char ns[64];
    char name[MAX_NAME + 1];
    char sub[32];
    json_t *query;
    const char *ct;
    const char *body;
    size_t body_len;
};

static const char *qparam(json_t *q, const char *name)
{
    return json_string_value(json_object_get(q, name));
}

/* ---------- server-side printing (Accept: ...;as=Table) ---------- */

static void age_of(json_t *obj, char *buf, size_t len)
{
    int64_t t = 0;
    const char *ts = mstr(obj, "creationTimestamp");
    if (!ts || time_parse_rfc3339(ts, &t)) {
        snprintf(buf, len, "<unknown>");
        return;
    }
    int64_t d = time_now() - t;
    if (d < 0)
        d = 0;
    if (d < 120)
        snprintf(buf, len, "%llds", (long long)d);
    else if (d < 7200)
        snprintf(buf, len, "%lldm", (long long)(d / 60));
    else if (d < 172800)
        snprintf(buf, len, "%lldh", (long long)(d / 3600));
    else
        snprintf(buf, len, "%lldd", (long long)(d / 86400));
}

static json_t *jget(json_t *o, const char *a, const char *b)
{
    return json_object_get(json_object_get(o, a), b);
}

static json_t *table_row(const struct rtype *rt, json_t *obj)
{
    char age[32], buf[256];
    age_of(obj, age, sizeof(age));
    json_t *cells = json_pack("[s]", mstr(obj, "name") ? mstr(obj, "name") : "");
    const char *res = rt->resource;
    if (!strcmp(res, "pods")) {
        size_t total = json_array_size(jget(obj, "spec", "containers")), ready = 0, i;
        json_t *cs;
        json_array_foreach(jget(obj, "status", "containerStatuses"), i,
                           cs) if (json_is_true(json_object_get(cs, "ready"))) ready++;
        snprintf(buf, sizeof(buf), "%zu/%zu", ready, total);
        const char *phase = json_string_value(jget(obj, "status", "phase"));
        if (json_object_get(meta(obj), "deletionTimestamp"))
            phase = "Terminating";
        json_array_append_new(cells, json_string(buf));
        json_array_append_new(cells, json_string(phase ? phase : "Pending"));
        json_array_append_new(cells, json_integer(0));
    } else if (!strcmp(res, "namespaces")) {
        const char *phase = json_string_value(jget(obj, "status", "phase"));
        json_array_append_new(cells, json_string(phase ? phase : "Active"));
    } else if (!strcmp(res, "deployments")) {
        json_t *st = json_object_get(obj, "status");
        json_t *rep = jget(obj, "spec", "replicas");
        snprintf(buf, sizeof(buf), "%lld/%lld",
                 (long long)json_integer_value(json_object_get(st, "readyReplicas")),
                 rep ? (long long)json_integer_value(rep) : 1LL);
        json_array_append_new(cells, json_string(buf));
        json_array_append_new(
            cells, json_integer(json_integer_value(json_object_get(st, "updatedReplicas"))));
        json_array_append_new(
            cells, json_integer(json_integer_value(json_object_get(st, "availableReplicas"))));
    } else if (!strcmp(res, "services")) {
        const char *type = json_string_value(jget(obj, "spec", "type"));
        const char *ip = json_string_value(jget(obj, "spec", "clusterIP"));
        char ports[200] = "";
        size_t i;
        json_t *p;
        json_array_foreach(jget(obj, "spec", "ports"), i, p)
        {
            size_t l = strlen(ports);
            const char *proto = json_string_value(json_object_get(p, "protocol"));
            snprintf(ports + l, sizeof(ports) - l, "%s%lld/%s", i ? "," : "",
                     (long long)json_integer_value(json_object_get(p, "port")),
                     proto ? proto : "TCP");
        }
        json_array_append_new(cells, json_string(type ? type : "ClusterIP"));
        json_array_append_new(cells, json_string(ip ? ip : "<none>"));
        json_array_append_new(cells, json_string("<none>"));
        json_array_append_new(cells, json_string(*ports ? ports : "<none>"));
    } else if (!strcmp(res, "persistentvolumeclaims")) {
        const char *phase = json_string_value(jget(obj, "status", "phase"));
        const char *sc = json_string_value(jget(obj, "spec", "storageClassName"));
        json_t *stq = jget(jget(obj, "spec", "resources"), "requests", "storage");
        json_array_append_new(cells, json_string(phase ? phase : "Pending"));
        json_array_append_new(cells,
                              json_string(json_is_string(stq) ? json_string_value(stq) : ""));
        json_array_append_new(cells, json_string(sc ? sc : ""));
    } else if (!strcmp(res, "nodes")) {
        json_array_append_new(cells, json_string("Ready"));
        json_array_append_new(cells, json_string("<none>"));
    } else if (!strcmp(res, "routes")) {
        const char *host = json_string_value(jget(obj, "spec", "host"));
        const char *svc = json_string_value(json_object_get(jget(obj, "spec", "to"), "name"));
        json_array_append_new(cells, json_string(host ? host : ""));
        json_array_append_new(cells, json_string(svc ? svc : ""));
    }
    json_array_append_new(cells, json_string(age));
    json_t *partial = json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                                "meta.k8s.io/v1", "metadata", meta(obj));
    return json_pack("{s:o, s:o}", "cells", cells, "object", partial);
}

static json_t *table_columns(const struct rtype *rt)
{
    const char *res = rt->resource;
    const char *cols[8];
    int n = 0;
    cols[n++] = "Name";
    if (!strcmp(res, "pods")) {
        cols[n++] = "Ready";
        cols[n++] = "Status";
        cols[n++] = "Restarts";
    } else if (!strcmp(res, "namespaces")) {
        cols[n++] = "Status";
    } else if (!strcmp(res, "deployments")) {
        cols[n++] = "Ready";
        cols[n++] = "Up-to-date";
        cols[n++] = "Available";
    } else if (!strcmp(res, "services")) {
        cols[n++] = "Type";
        cols[n++] = "Cluster-IP";
        cols[n++] = "External-IP";
        cols[n++] = "Port(s)";
    } else if (!strcmp(res, "persistentvolumeclaims")) {
        cols[n++] = "Status";
        cols[n++] = "Capacity";
        cols[n++] = "StorageClass";
    } else if (!strcmp(res, "nodes")) {
        cols[n++] = "Status";
        cols[n++] = "Roles";
    } else if (!strcmp(res, "routes")) {
        cols[n++] = "Host";
        cols[n++] = "Services";
    }
    cols[n++] = "Age";
    json_t *defs = json_array();
    for (int i = 0; i < n; i++) {
        int isint = !strcmp(cols[i], "Restarts") || !strcmp(cols[i], "Up-to-date") ||
                    !strcmp(cols[i], "Available");
        json_array_append_new(defs,
                              json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", cols[i], "type",
                                        isint ? "integer" : "string", "format",
                                        i == 0 ? "name" : "", "description", "", "priority", 0));
    }
    return defs;
}

static json_t *to_table(struct ksim *k, const struct rtype *rt, json_t *objs)
{
    json_t *rows = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
    {
        json_array_append_new(rows, table_row(rt, o));
    }
    char rv[32];
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)k->rv);
    return json_pack("{s:s, s:s, s:{s:s}, s:o, s:o}", "kind", "Table", "apiVersion",
                     "meta.k8s.io/v1", "metadata", "resourceVersion", rv, "columnDefinitions",
                     table_columns(rt), "rows", rows);
}

static int wants_table(const char *accept)
{
    return accept && strstr(accept, "as=Table");
}

static void handle_list(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    struct ksim_selector ls, fs;
    struct error e = {0};
    if (ksim_selector_parse(qparam(rq->query, "labelSelector"), &ls, &e) ||
        ksim_selector_parse(qparam(rq->query, "fieldSelector"), &fs, &e)) {
        reply_status(r, 400, "BadRequest", NULL, NULL, "unable to parse requirement: %s",
                     e.message);
        return;
    }
    const char *w = qparam(rq->query, "watch");
    if (w && (!strcmp(w, "1") || !strcmp(w, "true"))) {
        r->watch = 1;
        rt_key(rq->rt, r->watch_key, sizeof(r->watch_key));
        snprintf(r->watch_ns, sizeof(r->watch_ns), "%s", rq->ns);
        snprintf(r->watch_labels, sizeof(r->watch_labels), "%s",
                 qparam(rq->query, "labelSelector") ?: "");
        snprintf(r->watch_fields, sizeof(r->watch_fields), "%s",
                 qparam(rq->query, "fieldSelector") ?: "");
        const char *rv = qparam(rq->query, "resourceVersion");
        r->watch_rv = rv ? strtoull(rv, NULL, 10) : 0;
        const char *to = qparam(rq->query, "timeoutSeconds");
        r->watch_timeout_s = to ? atoi(to) : 1800;
        if (r->watch_timeout_s <= 0 || r->watch_timeout_s > 3600)
            r->watch_timeout_s = 1800;
        r->status = 200;
        r->content_type = "application/json";
        return;
    }
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", rq->ns);
    json_t *items = json_array();
    const char *key;
    json_t *obj;
    json_object_foreach(bucket(k, rq->rt), key, obj)
    {
        if (rq->rt->namespaced && *rq->ns && strncmp(key, prefix, strlen(prefix)))
            continue;
        if (!ksim_selector_match(&ls, json_object_get(meta(obj), "labels")) ||
            !ksim_selector_match_fields(&fs, obj))
            continue;
        json_array_append(items, obj);
    }
    if (wants_table(rq->accept)) {
        reply(r, 200, to_table(k, rq->rt, items));
        json_decref(items);
        return;
    }
    char av[160], kind[96], rv[32];
    snprintf(kind, sizeof(kind), "%sList", rq->rt->kind);
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)k->rv);
    reply(r, 200,
          json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", kind, "apiVersion",
                    api_version(rq->rt, av, sizeof(av)), "metadata", "resourceVersion", rv, "items",
                    items));
}

static void handle_delete(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    json_t *obj = lookup(k, rq->rt, rq->ns, rq->name);
    if (!obj) {
        reply_not_found(r, rq->rt, rq->name);
        return;
    }
    char ts[RFC3339_LEN];
    now_rfc3339(ts);
    if (!strcmp(rq->rt->resource, "namespaces")) {
        if (!ns_terminating(obj)) {
            json_object_set_new(meta(obj), "deletionTimestamp", json_string(ts));
            json_object_set_new(json_object_get(obj, "status"), "phase",
                                json_string("Terminating"));
            set_rv(k, obj);
            emit(k, rq->rt, "", "MODIFIED", obj);
            add_task(k, T_NS_DELETE, "", rq->name, k->opt.ns_delete_delay_ms);
        }
        reply(r, 200, json_incref(obj));
        return;
    }
    if (has_finalizers(obj)) {
        if (!json_object_get(meta(obj), "deletionTimestamp")) {
            json_object_set_new(meta(obj), "deletionTimestamp", json_string(ts));
            set_rv(k, obj);
            emit(k, rq->rt, rq->ns, "MODIFIED", obj);
        }
        reply(r, 200, json_incref(obj));
        return;
    }
    json_t *copy = json_incref(obj);
    remove_object(k, rq->rt, rq->ns, rq->name);
    if (!strcmp(rq->rt->resource, "pods") || !strcmp(rq->rt->resource, "deployments"))
        reply(r, 200, copy);
    else {
        json_decref(copy);
        json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:{s:s, s:s}}", "kind", "Status",
                               "apiVersion", "v1", "metadata", "status", "Success", "details",
                               "name", rq->name, "kind", rq->rt->resource);
        if (*rq->rt->group)
            json_object_set_new(json_object_get(st, "details"), "group",
                                json_string(rq->rt->group));
        reply(r, 200, st);
    }
}

/* PUT: full replacement, optimistic concurrency on metadata.resourceVersion. */
static void handle_update(struct ksim *k, struct req *rq, json_t *obj, struct ksim_response *r)
{
    if (check_type_meta(rq->rt, obj, r) || validate(k, rq->rt, obj, r))
        return;
    const char *name = mstr(obj, "name");
    if (!name || strcmp(name, rq->name)) {
        reply_status(r, 400, "BadRequest", NULL, NULL,
                     "the name of the object (%s) does not match the name on the URL (%s)",
                     name ? name : "", rq->name);
        return;
    }
    json_t *old = lookup(k, rq->rt, rq->ns, rq->name);
    if (!old) {
        reply_not_found(r, rq->rt, rq->name);
        return;
    }
    const char *rv = mstr(obj, "resourceVersion");
    if (rv && *rv && strcmp(rv, mstr(old, "resourceVersion"))) {
        char q[160];
        reply_status(r, 409, "Conflict", rq->name, rq->rt,
                     "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                     "please apply your changes to the latest version and try again",
                     qualified(rq->rt, q, sizeof(q)), rq->name);
        return;
    }
    json_t *nw = json_deep_copy(obj);
    if (!strcmp(rq->sub, "status")) {
        json_t *base = json_deep_copy(old);
        json_object_set(base, "status", json_object_get(nw, "status"));
        json_decref(nw);
        nw = base;
    } else if (!strcmp(rq->sub, "finalize")) {
        json_t *base = json_deep_copy(old);
        json_t *fin = json_object_get(json_object_get(nw, "spec"), "finalizers");
        json_object_set_new(base, "spec",
                            json_pack("{s:O}", "finalizers", fin ? fin : json_array()));
        json_decref(nw);
        nw = base;
    } else if (rq->rt->has_status) {
        json_t *os = json_object_get(old, "status");
        if (os)
            json_object_set(nw, "status", os);
        else
            json_object_del(nw, "status");
        if (!strcmp(rq->rt->resource, "namespaces"))
            json_object_set(nw, "spec", json_object_get(old, "spec"));
    }
    store_update(k, rq->rt, rq->ns, old, nw);
    if (!strcmp(rq->rt->resource, "namespaces"))
        ns_finish(k, rq->name);
    json_t *cur = lookup(k, rq->rt, rq->ns, rq->name);
    reply(r, 200, cur ? json_incref(cur) : json_deep_copy(obj));
}

/* RFC 6901 pointer: resolves all but the last token; *ret_last gets the unescaped last token. */
static json_t *pointer_parent(json_t *doc, const char *ptr, char *last, size_t lastlen)
{
    if (*ptr != '/')
        return NULL;
    json_t *cur = doc;
    const char *p = ptr + 1;
    for (;;) {
        char tok[256];
        size_t n = 0;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '~' && (*p == '0' || *p == '1'))
                c = *p++ == '0' ? '~' : '/';
            if (n + 1 >= sizeof(tok))
                return NULL;
            tok[n++] = c;
        }
        tok[n] = '\0';
        if (!*p) {
            snprintf(last, lastlen, "%s", tok);
            return cur;
        }
        p++;
        if (json_is_object(cur))
            cur = json_object_get(cur, tok);
        else if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)strtoul(tok, NULL, 10));
        else
            return NULL;
        if (!cur)
            return NULL;
    }
}

/* RFC 6902 add/remove/replace/test on doc in place. 0 or -1 with msg. */
static int json_patch_apply(json_t *doc, json_t *ops, char *msg, size_t msglen)
{
    if (!json_is_array(ops)) {
        snprintf(msg, msglen, "json patch must be an array of operations");
        return -1;
    }
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *o = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        json_t *value = json_object_get(op, "value");
        char last[256];
        json_t *parent = path ? pointer_parent(doc, path, last, sizeof(last)) : NULL;
        if (!o || !parent) {
            snprintf(msg, msglen, "doc is missing path: \"%s\"", path ? path : "");
            return -1;
        }
        int is_arr = json_is_array(parent);
        size_t idx = !strcmp(last, "-") ? json_array_size(parent) : (size_t)strtoul(last, NULL, 10);
        json_t *cur = is_arr ? json_array_get(parent, idx) : json_object_get(parent, last);
        if (!strcmp(o, "test")) {
            if (!cur || !json_equal(cur, value)) {
                snprintf(msg, msglen, "testing value %s failed", path);
                return -1;
            }
        } else if (!strcmp(o, "remove") || !strcmp(o, "replace")) {
            if (!cur) {
                snprintf(msg, msglen,
                         "jsonpatch %s operation does not apply: doc is missing key: %s", o, path);
                return -1;
            }
            if (!strcmp(o, "remove"))
                is_arr ? json_array_remove(parent, idx) : json_object_del(parent, last);
            else if (!value) {
                snprintf(msg, msglen, "replace operation needs a value");
                return -1;
            } else
                is_arr ? json_array_set(parent, idx, value) : json_object_set(parent, last, value);
        } else if (!strcmp(o, "add")) {
            if (!value) {
                snprintf(msg, msglen, "add operation needs a value");
                return -1;
            }
            if (is_arr) {
                if (idx > json_array_size(parent)) {
                    snprintf(msg, msglen, "add operation index out of bounds: %s", path);
                    return -1;
                }
                json_array_insert(parent, idx, value);
            } else if (json_is_object(parent)) {
                json_object_set(parent, last, value);
            } else {
                snprintf(msg, msglen, "doc is missing path: \"%s\"", path);
                return -1;
            }
        } else {
            snprintf(msg, msglen, "Unexpected kind: %s", o);
            return -1;
        }
    }
    return 0;
}

static void handle_patch(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    const char *ct = rq->ct ? rq->ct : "";
    int apply = strstr(ct, "apply-patch") != NULL;
    if (strstr(ct, "json-patch")) {
        json_error_t jerr;
        json_t *ops = json_loadb(rq->body ? rq->body : "", rq->body_len, 0, &jerr);
        json_t *old = lookup(k, rq->rt, rq->ns, rq->name);
        char msg[600];
        if (!ops) {
            reply_status(r, 400, "BadRequest", NULL, NULL, "%s", jerr.text);
            return;
        }
        if (!old) {
            json_decref(ops);
            reply_not_found(r, rq->rt, rq->name);
            return;
        }
        json_t *nw = json_deep_copy(old);
        if (json_patch_apply(nw, ops, msg, sizeof(msg))) {
            json_decref(ops);
            json_decref(nw);
            reply_status(r, 422, "Invalid", NULL, NULL, "%s", msg);
            return;
        }
        json_decref(ops);
        if (check_type_meta(rq->rt, nw, r) || validate(k, rq->rt, nw, r)) {
            json_decref(nw);
            return;
        }
        if (strcmp(rq->sub, "status") && rq->rt->has_status)
            json_object_set(nw, "status",
                            json_object_get(old, "status") ? json_object_get(old, "status")
                                                           : json_null());
        if (json_is_null(json_object_get(nw, "status")))
            json_object_del(nw, "status");
        store_update(k, rq->rt, rq->ns, old, nw);
        if (!strcmp(rq->rt->resource, "namespaces"))
            ns_finish(k, rq->name);
        json_t *cur = lookup(k, rq->rt, rq->ns, rq->name);
        if (cur)
            reply(r, 200, json_incref(cur));
        else
            reply(r, 200,
                  json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status", "apiVersion", "v1",
                            "metadata", "status", "Success"));
        return;
    }
    if (!apply && !strstr(ct, "merge-patch") && !strstr(ct, "strategic-merge-patch")) {
        reply_status(r, 415, "UnsupportedMediaType", NULL, NULL,
                     "the body of the request was in an unknown format - accepted media types "
                     "include: application/json-patch+json, application/merge-patch+json, "
                     "application/strategic-merge-patch+json, "
                     "application/apply-patch+yaml");
        return;
    }
    json_t *patch = NULL;
    struct error e = {0};
    if (parse_body(apply ? "yaml" : "json", rq->body, rq->body_len, &patch, &e)) {
        reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
        return;
    }
    if (apply && !qparam(rq->query, "fieldManager")) {
        reply_status(r, 400, "BadRequest", NULL, NULL,
                     "PATCH %s: fieldManager is required for apply requests", rq->rt->resource);
        goto out;
    }
    json_t *old = lookup(k, rq->rt, rq->ns, rq->name);
    if (!old) {
        if (!apply) {
            reply_not_found(r, rq->rt, rq->name);
            goto out;
        }
        const char *pname = mstr(patch, "name");
        if (pname && strcmp(pname, rq->name)) {
            reply_status(r, 400, "BadRequest", NULL, NULL,
                         "the name of the object (%s) does not match the name on the URL (%s)",
                         pname, rq->name);
            goto out;
        }
        json_object_set_new(meta(patch), "name", json_string(rq->name));
        json_object_del(meta(patch), "resourceVersion");
        do_create(k, rq->rt, rq->ns, patch, r, NULL, 0);
        goto out;
    }
    if (apply && (check_type_meta(rq->rt, patch, r) || validate(k, rq->rt, patch, r)))
        goto out;
    const char *prv = mstr(patch, "resourceVersion");
    if (prv && *prv && strcmp(prv, mstr(old, "resourceVersion"))) {
        char q[160];
        reply_status(r, 409, "Conflict", rq->name, rq->rt,
                     "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                     "please apply your changes to the latest version and try again",
                     qualified(rq->rt, q, sizeof(q)), rq->name);
        goto out;
    }
    json_t *nw = json_deep_copy(old);
    if (!strcmp(rq->sub, "status")) {
        json_t *ps = json_object_get(patch, "status");
        if (json_is_object(ps)) {
            json_t *st = json_object_get(nw, "status");
            if (!json_is_object(st)) {
                st = json_object();
                json_object_set_new(nw, "status", st);
            }
            merge_patch(st, ps, !apply);
        }
    } else {
        json_t *ps = rq->rt->has_status ? json_incref(json_object_get(patch, "status")) : NULL;
        if (ps)
            json_object_del(patch, "status");
        merge_patch(nw, patch, !apply);
        json_decref(ps);
    }
    if (validate(k, rq->rt, nw, r)) {
        json_decref(nw);
        goto out;
    }
    store_update(k, rq->rt, rq->ns, old, nw);
    json_t *cur = lookup(k, rq->rt, rq->ns, rq->name);
    if (!strcmp(rq->rt->resource, "namespaces"))
        ns_finish(k, rq->name);
    reply(r, 200, cur ? json_incref(cur) : json_incref(patch));
out:
    json_decref(patch);
}

static void handle_resource(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    const char *m = rq->method;
    if (*rq->sub && strcmp(rq->sub, "status") &&
        !(strcmp(rq->sub, "finalize") == 0 && !strcmp(rq->rt->resource, "namespaces"))) {
        reply_status(r, 404, "NotFound", NULL, NULL,
                     "the server could not find the requested resource");
        return;
    }
    if (!*rq->name) {
        if (!strcmp(m, "GET")) {
            handle_list(k, rq, r);
        } else if (!strcmp(m, "POST")) {
            json_t *obj;
            struct error e = {0};
            if (parse_body(rq->ct, rq->body, rq->body_len, &obj, &e)) {
                reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
                return;
            }
            do_create(k, rq->rt, rq->ns, obj, r, NULL, 0);
            json_decref(obj);
        } else if (!strcmp(m, "DELETE") && rq->rt->namespaced &&
                   strcmp(rq->rt->resource, "namespaces")) {
            /* deletecollection */
            struct ksim_selector ls;
            struct error e = {0};
            if (ksim_selector_parse(qparam(rq->query, "labelSelector"), &ls, &e)) {
                reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
                return;
            }
            for (;;) {
                const char *key;
                json_t *obj;
                char victim[MAX_NAME + 1] = "";
                char prefix[80];
                snprintf(prefix, sizeof(prefix), "%s/", rq->ns);
                json_object_foreach(bucket(k, rq->rt), key, obj)
                {
                    if (*rq->ns && strncmp(key, prefix, strlen(prefix)))
                        continue;
                    if (ksim_selector_match(&ls, json_object_get(meta(obj), "labels")) &&
                        !json_object_get(meta(obj), "deletionTimestamp")) {
                        snprintf(victim, sizeof(victim), "%s", mstr(obj, "name"));
                        break;
                    }
                }
                if (!victim[0])
                    break;
                struct req one = *rq;
                snprintf(one.name, sizeof(one.name), "%s", victim);
                struct ksim_response scratch = {0};
                handle_delete(k, &one, &scratch);
                ksim_response_free(&scratch);
            }
            reply(r, 200,
                  json_pack("{s:s, s:s, s:{}, s:s}", "kind", "Status", "apiVersion", "v1",
                            "metadata", "status", "Success"));
        } else {
            reply_status(r, 405, "MethodNotAllowed", NULL, NULL,
                         "the server does not allow this method on the requested resource");
        }
        return;
    }
    if (!strcmp(m, "GET")) {
        json_t *obj = lookup(k, rq->rt, rq->ns, rq->name);
        if (!obj) {
            reply_not_found(r, rq->rt, rq->name);
        } else if (wants_table(rq->accept) && !*rq->sub) {
            json_t *one = json_pack("[O]", obj);
            reply(r, 200, to_table(k, rq->rt, one));
            json_decref(one);
        } else {
            reply(r, 200, json_incref(obj));
        }
    } else if (!strcmp(m, "PUT")) {
        json_t *obj;
        struct error e = {0};
        if (parse_body(rq->ct, rq->body, rq->body_len, &obj, &e)) {
            reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
            return;
        }
        handle_update(k, rq, obj, r);
        json_decref(obj);
    } else if (!strcmp(m, "PATCH")) {
        handle_patch(k, rq, r);
    } else if (!strcmp(m, "DELETE")) {
        handle_delete(k, rq, r);
    } else {
        reply_status(r, 405, "MethodNotAllowed", NULL, NULL,
                     "the server does not allow this method on the requested resource");
    }
}

/* Splits path into at most 10 segments (in place on a copy). */
static int split(char *p, char **seg, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(p, "/", &save); t && n < max; t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    return n;
}

static int route_resource(char **s, int n, const char *group, const char *version, struct req *rq)
{
    /* s[0..n) after the group version */
    if (n == 0)
        return -1;
    if (!strcmp(s[0], "namespaces") && n >= 3 && !*group &&
        !(n == 3 && (!strcmp(s[2], "status") || !strcmp(s[2], "finalize")))) {
        snprintf(rq->ns, sizeof(rq->ns), "%s", s[1]);
        s += 2;
        n -= 2;
    } else if (!strcmp(s[0], "namespaces") && n >= 3 && *group) {
        snprintf(rq->ns, sizeof(rq->ns), "%s", s[1]);
        s += 2;
        n -= 2;
    }
    if (n > 3)
        return -1;
    rq->rt = find_rtype(group, version, s[0]);
    if (!rq->rt)
        return -1;
    if (n >= 2)
        snprintf(rq->name, sizeof(rq->name), "%s", s[1]);
    if (n == 3)
        snprintf(rq->sub, sizeof(rq->sub), "%s", s[2]);
    if (!rq->rt->namespaced && *rq->ns)
        return -1;
    return 0;
}

static int fault_hit(struct ksim *k, const char *path, struct ksim_response *r)
{
    struct ksim_fault *f = &k->fault;
    if (!f->kind || (f->path[0] && !strstr(path, f->path)))
        return 0;
    long n = ++k->fault_count;
    int hit;
    if (f->fail_nth > 0)
        hit = n == f->fail_nth;
    else
        hit = f->rate >= 1.0 || (double)rand_r(&k->rng) / RAND_MAX < f->rate;
    if (!hit)
        return 0;
    switch (f->kind) {
    case 500:
        reply_status(r, 500, "InternalError", NULL, NULL,
                     "Internal error occurred: injected fault");
        return 1;
    case 429:
        reply_status(r, 429, "TooManyRequests", NULL, NULL,
                     "Too many requests, please try again later.");
        r->retry_after = 1;
        return 1;
    case 1:
        r->drop = 1;
        return 1;
    case 2:
        r->latency_ms = f->latency_ms;
        return 0;
    }
    return 0;
}

static void handle_admin(struct ksim *k, const char *method, const char *path, const char *body,
                         size_t len, struct ksim_response *r)
{
    if (!strcmp(path, "/_sim/faults")) {
        if (!strcmp(method, "DELETE")) {
            memset(&k->fault, 0, sizeof(k->fault));
            k->fault_count = 0;
        } else if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
            json_error_t jerr;
            json_t *v = json_loadb(body ? body : "", len, 0, &jerr);
            struct ksim_fault f = {0};
            const char *kind = json_string_value(json_object_get(v, "fault"));
            if (!json_is_object(v) || !kind || ksim_parse_fault(kind, &f)) {
                json_decref(v);
                reply_status(r, 400, "BadRequest", NULL, NULL,
                             "expected {\"fault\":\"500|429|drop|latency:MS\", \"nth\":N, "
                             "\"rate\":P, \"path\":S}");
                return;
            }
            f.fail_nth = (long)json_integer_value(json_object_get(v, "nth"));
            f.rate = json_number_value(json_object_get(v, "rate"));
            if (!f.fail_nth && !json_object_get(v, "rate"))
                f.rate = 1.0;
            snprintf(f.path, sizeof(f.path), "%s",
                     json_string_value(json_object_get(v, "path")) ?: "");
            k->fault = f;
            k->fault_count = 0;
            json_decref(v);
        }
        reply(r, 200,
              json_pack("{s:i, s:i, s:I, s:f, s:s, s:I}", "kind", k->fault.kind, "latency_ms",
                        k->fault.latency_ms, "nth", (json_int_t)k->fault.fail_nth, "rate",
                        k->fault.rate, "path", k->fault.path, "count", (json_int_t)k->fault_count));
        return;
    }
    if (!strcmp(path, "/_sim/stats")) {
        json_t *counts = json_object();
        const char *key;
        json_t *b;
        json_object_foreach(k->store, key, b)
            json_object_set_new(counts, key, json_integer((json_int_t)json_object_size(b)));
        reply(r, 200,
              json_pack("{s:I, s:o, s:I}", "resourceVersion", (json_int_t)k->rv, "objects", counts,
                        "pendingTasks", (json_int_t)k->ntasks));
        return;
    }
    reply_status(r, 404, "NotFound", NULL, NULL,
                 "the server could not find the requested resource");
}

int ksim_parse_fault(const char *s, struct ksim_fault *f)
{
    if (!strcmp(s, "500"))
        f->kind = 500;
    else if (!strcmp(s, "429"))
        f->kind = 429;
    else if (!strcmp(s, "drop"))
        f->kind = 1;
    else if (!strncmp(s, "latency:", 8) && atoi(s + 8) > 0) {
        f->kind = 2;
        f->latency_ms = atoi(s + 8);
    } else if (!strcmp(s, "none"))
        f->kind = 0;
    else
        return -ERR_INVALID;
    return 0;
}

void ksim_handle(struct ksim *k, const char *method, const char *path, json_t *query,
                 const char *content_type, const char *accept, const char *authorization,
                 const char *body, size_t body_len, struct ksim_response *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_lock(&k->mu);
    if (!strncmp(path, "/_sim/", 6)) {
        handle_admin(k, method, path, body, body_len, r);
        goto out;
    }
    if (k->opt.token && *k->opt.token) {
        const char *a = authorization ? authorization : "";
        if (strncmp(a, "Bearer ", 7) || strcmp(a + 7, k->opt.token)) {
            reply_status(r, 401, "Unauthorized", NULL, NULL, "Unauthorized");
            goto out;
        }
    }
    if (fault_hit(k, path, r))
        goto out;
    if (content_type && strstr(content_type, "protobuf") && body_len) {
        reply_status(r, 415, "UnsupportedMediaType", NULL, NULL,
                     "the body of the request was in an unknown format - accepted media types "
                     "include: application/json, application/yaml");
        goto out;
    }
    if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz") || !strcmp(path, "/livez")) {
        r->status = 200;
        r->body = strdup("ok");
        r->len = 2;
        r->content_type = "text/plain";
        goto out;
    }
    if (!strcmp(path, "/version")) {
        reply(r, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
                        "36", "gitVersion", "v1.36.0", "gitCommit", "kubesim", "gitTreeState",
                        "clean", "buildDate", "2026-01-01T00:00:00Z", "goVersion", "go1.24",
                        "compiler", "gc", "platform", "linux/amd64"));
        goto out;
    }
    char copy[1024];
    if (strlen(path) >= sizeof(copy)) {
        reply_status(r, 414, "RequestURITooLong", NULL, NULL, "request URI too long");
        goto out;
    }
    snprintf(copy, sizeof(copy), "%s", path);
    char *s[12];
    int n = split(copy, s, 12);
    int is_get = !strcmp(method, "GET");
    struct req rq = {.accept = accept,
                     .method = method,
                     .query = query,
                     .ct = content_type,
                     .body = body,
                     .body_len = body_len};
    if (n == 1 && !strcmp(s[0], "api") && is_get) {
        reply(r, 200,
              json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                        "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                        k->opt.server_address ? k->opt.server_address : ""));
    } else if (n == 1 && !strcmp(s[0], "apis") && is_get) {
        reply(r, 200, group_list());
    } else if (n == 2 && !strcmp(s[0], "api") && !strcmp(s[1], "v1") && is_get) {
        reply(r, 200, resource_list("", "v1"));
    } else if (n == 3 && !strcmp(s[0], "apis") && is_get) {
        json_t *rl = resource_list(s[1], s[2]);
        if (json_array_size(json_object_get(rl, "resources")) == 0) {
            json_decref(rl);
            reply_status(r, 404, "NotFound", NULL, NULL,
                         "the server could not find the requested resource");
        } else {
            reply(r, 200, rl);
        }
    } else if (n == 2 && !strcmp(s[0], "apis") && is_get) {
        json_t *gl = group_list();
        json_t *found = NULL;
        size_t i;
        json_t *g;
        json_array_foreach(json_object_get(gl, "groups"), i,
                           g) if (!strcmp(json_string_value(json_object_get(g, "name")), s[1]))
            found = json_incref(g);
        json_decref(gl);
        if (found) {
            json_object_set_new(found, "kind", json_string("APIGroup"));
            json_object_set_new(found, "apiVersion", json_string("v1"));
            reply(r, 200, found);
        } else {
            reply_status(r, 404, "NotFound", NULL, NULL,
                         "the server could not find the requested resource");
        }
    } else if (n == 2 && !strcmp(s[0], "openapi") && !strcmp(s[1], "v3") && is_get) {
        reply(r, 200, openapi_v3_root());
    } else if (n >= 4 && !strcmp(s[0], "openapi") && !strcmp(s[1], "v3") && is_get) {
        if (!strcmp(s[2], "api") && n == 4)
            reply(r, 200, openapi_v3_group("", s[3]));
        else if (!strcmp(s[2], "apis") && n == 5)
            reply(r, 200, openapi_v3_group(s[3], s[4]));
        else
            reply_status(r, 404, "NotFound", NULL, NULL,
                         "the server could not find the requested resource");
    } else if (n >= 3 && !strcmp(s[0], "api") && !strcmp(s[1], "v1") &&
               !route_resource(s + 2, n - 2, "", "v1", &rq)) {
        handle_resource(k, &rq, r);
    } else if (n >= 4 && !strcmp(s[0], "apis") && !route_resource(s + 3, n - 3, s[1], s[2], &rq)) {
        handle_resource(k, &rq, r);
    } else {
        reply_status(r, 404, "NotFound", NULL, NULL,
                     "the server could not find the requested resource");
    }
out:
    pthread_mutex_unlock(&k->mu);
}

/* ---------- watch ---------- */

int ksim_watch_next(struct ksim *k, const struct ksim_response *r, uint64_t *rv, int wait_ms,
                    char **ret)
{
    struct ksim_selector ls, fs;
    struct error e = {0};
    *ret = NULL;
    if (ksim_selector_parse(r->watch_labels, &ls, &e) ||
        ksim_selector_parse(r->watch_fields, &fs, &e))
        return 1;
    size_t cap = 0, len = 0;
    char *out = NULL;
    pthread_mutex_lock(&k->mu);
    int rc = 0;
    if (*rv == 0) {
        /* initial state as ADDED events, then everything after the current version */
        const char *key;
        json_t *obj;
        char prefix[80];
        snprintf(prefix, sizeof(prefix), "%s/", r->watch_ns);
        json_t *b = json_object_get(k->store, r->watch_key);
        json_t *lines = json_array();
        json_object_foreach(b, key, obj)
        {
            if (r->watch_ns[0] && strncmp(key, prefix, strlen(prefix)))
                continue;
            if (ksim_selector_match(&ls, json_object_get(meta(obj), "labels")) &&
                ksim_selector_match_fields(&fs, obj))
                json_array_append_new(lines,
                                      json_pack("{s:s, s:O}", "type", "ADDED", "object", obj));
        }
        *rv = k->rv ? k->rv : 1;
        size_t i;
        json_t *l;
        json_array_foreach(lines, i, l)
        {
            char *d = json_dumps(l, JSON_COMPACT);
            if (!d)
                break;
            size_t dl = strlen(d);
            if (len + dl + 2 > cap) {
                size_t ncap = (len + dl + 2) * 2;
                char *n = realloc(out, ncap);
                if (!n) { /* out of memory: send the events so far, the client resumes */
                    free(d);
                    break;
                }
                out = n;
                cap = ncap;
            }
            memcpy(out + len, d, dl);
            len += dl;
            out[len++] = '\n';
            out[len] = '\0';
            free(d);
        }
        json_decref(lines);
        if (len) {
            pthread_mutex_unlock(&k->mu);
            *ret = out;
            return 0;
        }
    }
    uint64_t oldest = k->nevents > EVENT_RING ? k->ring[k->nevents % EVENT_RING].rv : 0;
    if (*rv < oldest) {
        pthread_mutex_unlock(&k->mu);
        *ret = strdup("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                      "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource "
                      "version\",\"reason\":\"Expired\",\"code\":410}}\n");
        return 1;
    }
    if (!k->shutdown && (k->nevents == 0 || k->ring[(k->nevents - 1) % EVENT_RING].rv <= *rv)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&k->cond, &k->mu, &ts);
    }
    if (k->shutdown) {
        rc = 1;
    } else {
        uint64_t start = k->nevents > EVENT_RING ? k->nevents - EVENT_RING : 0;
        for (uint64_t i = start; i < k->nevents; i++) {
            struct event *ev = &k->ring[i % EVENT_RING];
            if (ev->rv <= *rv || strcmp(ev->key, r->watch_key))
                continue;
            if (r->watch_ns[0] && strcmp(ev->ns, r->watch_ns))
                continue;
            if (!ksim_selector_match(&ls, json_object_get(meta(ev->obj), "labels")) ||
                !ksim_selector_match_fields(&fs, ev->obj))
                continue;
            json_t *l = json_pack("{s:s, s:O}", "type", ev->type, "object", ev->obj);
            char *d = json_dumps(l, JSON_COMPACT);
            json_decref(l);
            size_t dl = strlen(d);
            if (len + dl + 2 > cap) {
                cap = (len + dl + 2) * 2;
                out = realloc(out, cap);
            }
            memcpy(out + len, d, dl);
            len += dl;
            out[len++] = '\n';
            out[len] = '\0';
            free(d);
        }
        if (k->nevents)
            *rv = k->ring[(k->nevents - 1) % EVENT_RING].rv > *rv
                      ? k->ring[(k->nevents - 1) % EVENT_RING].rv
                      : *rv;
    }
    pthread_mutex_unlock(&k->mu);
    *ret = out;
    return rc;
}

void ksim_shutdown(struct ksim *k)
{
    pthread_mutex_lock(&k->mu);
    k->shutdown = 1;
    pthread_cond_broadcast(&k->cond);
    pthread_mutex_unlock(&k->mu);
}

void ksim_set_fault(struct ksim *k, const struct ksim_fault *f)
{
    pthread_mutex_lock(&k->mu);
    k->fault = *f;
    k->fault_count = 0;
    pthread_mutex_unlock(&k->mu);
}

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
        do_create(k, &rtypes[0], "", ns, NULL, NULL, 0);
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
    do_create(k, rtype_by_name("nodes"), "", node, NULL, NULL, 0);
    json_decref(node);
    return k;
}

void ksim_free(struct ksim *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < EVENT_RING; i++)
        json_decref(k->ring[i].obj);
    json_decref(k->store);
    free(k->tasks);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cond);
    free(k);
}
