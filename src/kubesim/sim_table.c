/* Server-side printing (Accept: ...;as=Table) for kubectl get. */
#include "kubesim/sim_internal.h"

static void age_of(json_t *obj, char *buf, size_t len)
{
    int64_t t = 0;
    const char *ts = ks_mstr(obj, "creationTimestamp");
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
    json_t *cells = json_pack("[s]", ks_mstr(obj, "name") ? ks_mstr(obj, "name") : "");
    const char *res = rt->resource;
    if (!strcmp(res, "pods")) {
        size_t total = json_array_size(jget(obj, "spec", "containers")), ready = 0, i;
        json_t *cs;
        json_array_foreach(jget(obj, "status", "containerStatuses"), i,
                           cs) if (json_is_true(json_object_get(cs, "ready"))) ready++;
        snprintf(buf, sizeof(buf), "%zu/%zu", ready, total);
        const char *phase = json_string_value(jget(obj, "status", "phase"));
        if (json_object_get(ks_meta(obj), "deletionTimestamp"))
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
                                "meta.k8s.io/v1", "metadata", ks_meta(obj));
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

json_t *ks_to_table(struct ksim *k, const struct rtype *rt, json_t *objs)
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

int ks_wants_table(const char *accept)
{
    return accept && strstr(accept, "as=Table");
}
