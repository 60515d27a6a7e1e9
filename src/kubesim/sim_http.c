/* HTTP glue: Status responses, path routing, and ksim_handle(), the entry point per request. */
#include "kubesim/sim_internal.h"

#include "kubesim/protobuf.h"

void ks_reply(struct ksim_response *r, int status, json_t *body)
{
    r->status = status;
    r->body = json_dumps(body, JSON_COMPACT);
    r->len = r->body ? strlen(r->body) : 0;
    r->content_type = "application/json";
    json_decref(body);
}

void ks_reply_status(struct ksim_response *r, int code, const char *reason, const char *name,
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
    ks_reply(r, code, st);
}

/* "deployments.apps" or "pods" as the server names a resource in messages */
const char *ks_qualified(const struct rtype *rt, char *buf, size_t len)
{
    if (*rt->group)
        snprintf(buf, len, "%s.%s", rt->resource, rt->group);
    else
        snprintf(buf, len, "%s", rt->resource);
    return buf;
}

void ks_reply_not_found(struct ksim_response *r, const struct rtype *rt, const char *name)
{
    char q[160];
    ks_reply_status(r, 404, "NotFound", name, rt, "%s \"%s\" not found",
                    ks_qualified(rt, q, sizeof(q)), name);
}

void ks_reply_invalid(struct ksim_response *r, const struct rtype *rt, const char *name,
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
    ks_reply(r, 422, st);
}

void ksim_response_free(struct ksim_response *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
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
    rq->rt = ks_find_rtype(group, version, s[0]);
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

void ksim_handle(struct ksim *k, const char *method, const char *path, json_t *query,
                 const char *content_type, const char *accept, const char *authorization,
                 const char *body, size_t body_len, struct ksim_response *r)
{
    ksim_handle_as(k, method, path, query, content_type, accept, authorization, NULL, NULL, 0, body,
                   body_len, r);
}

void ksim_handle_as(struct ksim *k, const char *method, const char *path, json_t *query,
                    const char *content_type, const char *accept, const char *authorization,
                    const char *as_user, const char *const *as_groups, int n_groups,
                    const char *body, size_t body_len, struct ksim_response *r)
{
    struct ksim_rbac_user user;
    char *pb_json = NULL; /* a protobuf body decoded to JSON */
    memset(r, 0, sizeof(*r));
    pthread_mutex_lock(&k->mu);
    if (!strncmp(path, "/_sim/", 6)) {
        ks_handle_admin(k, method, path, body, body_len, r);
        goto out;
    }
    if (k->opt.token && *k->opt.token) {
        const char *a = authorization ? authorization : "";
        if (strncmp(a, "Bearer ", 7) || strcmp(a + 7, k->opt.token)) {
            ks_reply_status(r, 401, "Unauthorized", NULL, NULL, "Unauthorized");
            goto out;
        }
    }
    if (as_user) {
        char msg[300];
        if (ksim_rbac_user_init(&user, as_user, as_groups, n_groups, msg, sizeof(msg))) {
            ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", msg);
            goto out;
        }
        /* borrowed for this request only: cleared at out: below, before the lock is released */
        k->as = &user; /* cppcheck-suppress autoVariables */
    }
    if (ks_fault_hit(k, path, r))
        goto out;
    if (content_type && strstr(content_type, "protobuf") && body_len) {
        char msg[400];
        json_t *obj = ksim_pb_decode((const unsigned char *)body, body_len, msg, sizeof(msg));
        pb_json = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        json_decref(obj);
        if (!pb_json) {
            ks_reply_status(r, 415, "UnsupportedMediaType", NULL, NULL, "%s", msg);
            goto out;
        }
        body = pb_json;
        body_len = strlen(pb_json);
        content_type = "application/json";
    }
    if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz") || !strcmp(path, "/livez")) {
        r->status = 200;
        r->body = strdup("ok");
        r->len = 2;
        r->content_type = "text/plain";
        goto out;
    }
    if (!strcmp(path, "/version")) {
        ks_reply(r, 200,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
                           "36", "gitVersion", "v1.36.0", "gitCommit", "kubesim", "gitTreeState",
                           "clean", "buildDate", "2026-01-01T00:00:00Z", "goVersion", "go1.24",
                           "compiler", "gc", "platform", "linux/amd64"));
        goto out;
    }
    char copy[1024];
    if (strlen(path) >= sizeof(copy)) {
        ks_reply_status(r, 414, "RequestURITooLong", NULL, NULL, "request URI too long");
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
        ks_reply(r, 200,
                 json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                           "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                           k->opt.server_address ? k->opt.server_address : ""));
    } else if (n == 1 && !strcmp(s[0], "apis") && is_get) {
        ks_reply(r, 200, ks_group_list());
    } else if (n == 2 && !strcmp(s[0], "api") && !strcmp(s[1], "v1") && is_get) {
        ks_reply(r, 200, ks_resource_list("", "v1"));
    } else if (n == 3 && !strcmp(s[0], "apis") && is_get) {
        json_t *rl = ks_resource_list(s[1], s[2]);
        if (json_array_size(json_object_get(rl, "resources")) == 0) {
            json_decref(rl);
            ks_reply_status(r, 404, "NotFound", NULL, NULL,
                            "the server could not find the requested resource");
        } else {
            ks_reply(r, 200, rl);
        }
    } else if (n == 2 && !strcmp(s[0], "apis") && is_get) {
        json_t *gl = ks_group_list();
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
            ks_reply(r, 200, found);
        } else {
            ks_reply_status(r, 404, "NotFound", NULL, NULL,
                            "the server could not find the requested resource");
        }
    } else if (n == 2 && !strcmp(s[0], "openapi") && !strcmp(s[1], "v3") && is_get) {
        ks_reply(r, 200, ks_openapi_v3_root());
    } else if (n >= 4 && !strcmp(s[0], "openapi") && !strcmp(s[1], "v3") && is_get) {
        if (!strcmp(s[2], "api") && n == 4)
            ks_reply(r, 200, ks_openapi_v3_group("", s[3]));
        else if (!strcmp(s[2], "apis") && n == 5)
            ks_reply(r, 200, ks_openapi_v3_group(s[3], s[4]));
        else
            ks_reply_status(r, 404, "NotFound", NULL, NULL,
                            "the server could not find the requested resource");
    } else if (n >= 3 && !strcmp(s[0], "api") && !strcmp(s[1], "v1") &&
               !route_resource(s + 2, n - 2, "", "v1", &rq)) {
        if (!ks_authorize(k, &rq, r))
            ks_handle_resource(k, &rq, r);
    } else if (n >= 4 && !strcmp(s[0], "apis") && !route_resource(s + 3, n - 3, s[1], s[2], &rq)) {
        if (!ks_authorize(k, &rq, r))
            ks_handle_resource(k, &rq, r);
    } else {
        ks_reply_status(r, 404, "NotFound", NULL, NULL,
                        "the server could not find the requested resource");
    }
out:
    free(pb_json);
    k->as = NULL;
    pthread_mutex_unlock(&k->mu);
}
