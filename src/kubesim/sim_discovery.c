/* API discovery: /api, /apis, resource lists and the OpenAPI v3 index kubectl asks for. */
#include "kubesim/sim_internal.h"

json_t *ks_resource_list(const char *group, const char *version)
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

json_t *ks_group_list(void)
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
json_t *ks_openapi_v3_root(void)
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

json_t *ks_openapi_v3_group(const char *group, const char *version)
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
