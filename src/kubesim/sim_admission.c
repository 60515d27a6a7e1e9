/* Admission and validation: schema checks, type meta, defaulting, LimitRange defaults and
 * ResourceQuota accounting and refusals. */
#include "kubesim/sim_internal.h"

#include "common/strbuf.h"
#include "common/util.h"

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

int ks_quota_tracks(const char *resource)
{
    for (size_t t = 0; t < ARRAY_SIZE(quota_tracked); t++)
        if (!strcmp(resource, quota_tracked[t]))
            return 1;
    return 0;
}

/* Sum of usage over every tracked object in namespace ns. */
static json_t *used_in(struct ksim *k, const char *ns)
{
    json_t *total = json_object();
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", ns);
    for (size_t t = 0; t < ARRAY_SIZE(quota_tracked); t++) {
        const struct rtype *rt = ks_rtype_by_name(quota_tracked[t]);
        const char *key;
        json_t *obj;
        json_object_foreach(ks_bucket(k, rt), key, obj)
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
int ks_quota_admit(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj, char *msg,
                   size_t msglen)
{
    json_t *req = usage_of(rt, obj);
    json_t *used = NULL;
    int rc = 0;
    char qkey[80];
    snprintf(qkey, sizeof(qkey), "%s/", ns);
    const char *key;
    json_t *quota;
    json_object_foreach(ks_bucket(k, ks_rtype_by_name("resourcequotas")), key, quota)
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
                 ks_mstr(quota, "name"), a, b, c);
        rc = -ERR_FORBIDDEN;
        break;
    }
    json_decref(req);
    json_decref(used);
    return rc;
}

/* Quota controller: status.used (and status.hard when sync_hard) for quotas in ns. */
void ks_quota_refresh(struct ksim *k, const char *ns, const char *only, int sync_hard)
{
    const struct rtype *rt = ks_rtype_by_name("resourcequotas");
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", ns);
    const char *key;
    json_t *quota;
    int any = 0;
    json_object_foreach(ks_bucket(k, rt), key, quota)
    {
        if (!strncmp(key, prefix, strlen(prefix)))
            any = 1;
    }
    if (!any)
        return;
    json_t *used = used_in(k, ns);
    json_object_foreach(ks_bucket(k, rt), key, quota)
    {
        if (strncmp(key, prefix, strlen(prefix)))
            continue;
        if (only && strcmp(ks_mstr(quota, "name"), only))
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
        ks_set_rv(k, quota);
        ks_emit(k, rt, ns, "MODIFIED", quota);
    }
    json_decref(used);
}

void ks_limitrange_default(struct ksim *k, const char *ns, json_t *pod)
{
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", ns);
    const char *key;
    json_t *lr;
    const char *lists[] = {"initContainers", "containers"};
    json_object_foreach(ks_bucket(k, ks_rtype_by_name("limitranges")), key, lr)
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

void ks_apply_defaults(const struct rtype *rt, json_t *obj)
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
                struct strbuf b = STRBUF_INIT;
                if (sb_add_base64(&b, str, strlen(str)) == 0)
                    json_object_set_new(data, key, json_string(b.buf));
                sb_release(&b);
            }
            json_object_del(obj, "stringData");
        }
        set_default(obj, "type", json_string("Opaque"));
    }
}

/* Validates obj against the schema of rt. 0 or replies 400. */
int ks_validate(struct ksim *k, const struct rtype *rt, json_t *obj, struct ksim_response *r)
{
    if (!k->opt.schema || !ksim_schema_has(k->opt.schema, rt->def))
        return 0;
    struct error e = {0};
    if (ksim_schema_validate(k->opt.schema, rt->def, obj, &e)) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                        "%s in version \"%s\" cannot be handled as a %s: %s", rt->kind, rt->version,
                        rt->kind, e.message);
        return -1;
    }
    return 0;
}

int ks_check_type_meta(const struct rtype *rt, json_t *obj, struct ksim_response *r)
{
    char av[160];
    const char *want = ks_api_version(rt, av, sizeof(av));
    const char *got_av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *got_kind = json_string_value(json_object_get(obj, "kind"));
    if (got_av && strcmp(got_av, want)) {
        ks_reply_status(
            r, 400, "BadRequest", NULL, NULL,
            "the API version in the data (%s) does not match the expected API version (%s)", got_av,
            want);
        return -1;
    }
    if (got_kind && strcmp(got_kind, rt->kind)) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                        "the kind in the data (%s) does not match the expected kind (%s)", got_kind,
                        rt->kind);
        return -1;
    }
    json_object_set_new(obj, "apiVersion", json_string(want));
    json_object_set_new(obj, "kind", json_string(rt->kind));
    return 0;
}
