/* Authorization of impersonated requests (rbac.h on the double's store), the access reviews,
 * pods/exec|attach|portforward, ServiceAccount tokens, and the admission chain of a write. */
#include "kubesim/sim_internal.h"

static const char *qparam(json_t *q, const char *name)
{
    return json_string_value(json_object_get(q, name));
}

static const char *verb_of(const struct req *rq)
{
    const char *m = rq->method;
    int named = rq->name[0] != '\0';
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
        const char *w = qparam(rq->query, "watch");
        if (w && (!strcmp(w, "true") || !strcmp(w, "1")))
            return "watch";
        return named ? "get" : "list";
    }
    if (!strcmp(m, "POST"))
        return "create";
    if (!strcmp(m, "PUT"))
        return "update";
    if (!strcmp(m, "PATCH"))
        return "patch";
    if (!strcmp(m, "DELETE"))
        return named ? "delete" : "deletecollection";
    return "unknown";
}

/* pods/exec and pods/attach are requested with GET (websocket) or POST (SPDY); RBAC checks
 * both as create since Kubernetes 1.30 (AuthorizePodWebsocketUpgradeCreatePermission). */
static const char *effective_verb(const struct req *rq)
{
    if ((!strcmp(rq->sub, "exec") || !strcmp(rq->sub, "attach") ||
         !strcmp(rq->sub, "portforward")) &&
        !strcmp(rq->rt->resource, "pods"))
        return "create";
    return verb_of(rq);
}

static void forbid(struct ksim_response *r, const struct rtype *rt, const char *name,
                   const char *msg)
{
    ks_reply_status(r, 403, "Forbidden", name && *name ? name : "", rt, "%s", msg);
}

int ks_authorize(struct ksim *k, const struct req *rq, struct ksim_response *r)
{
    if (!k->as)
        return 0;
    struct ksim_rbac_attrs a = {.verb = effective_verb(rq),
                                .group = rq->rt->group,
                                .resource = rq->rt->resource,
                                .subresource = rq->sub,
                                .ns = rq->ns,
                                .name = rq->name};
    char reason[400] = "", msg[1024];
    if (ksim_rbac_authorize(k->store, k->as, &a, reason, sizeof(reason)))
        return 0;
    ksim_rbac_forbidden_message(k->as, &a, reason, msg, sizeof(msg));
    forbid(r, rq->rt, rq->name, msg);
    return -1;
}

/* ---------- access reviews ---------- */

static int is_review(const struct rtype *rt)
{
    return !strcmp(rt->group, "authorization.k8s.io") ||
           !strcmp(rt->group, "authentication.k8s.io");
}

static void handle_review(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    if (strcmp(rq->method, "POST") || *rq->name) {
        ks_reply_status(r, 405, "MethodNotAllowed", NULL, NULL,
                        "the server does not allow this method on the requested resource");
        return;
    }
    json_t *obj = NULL, *out = NULL;
    struct error e = {0};
    if (ks_parse_body(rq->ct, rq->body, rq->body_len, &obj, &e)) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
        return;
    }
    if (ks_check_type_meta(rq->rt, obj, r) || ks_validate(k, rq->rt, obj, r))
        goto out;
    char msg[400] = "";
    const char *kind = rq->rt->kind;
    if (!strcmp(kind, "SelfSubjectReview")) {
        json_t *groups = json_array();
        for (int i = 0; k->as && i < k->as->ngroups; i++)
            json_array_append_new(groups, json_string(k->as->groups[i]));
        if (!k->as)
            json_array_append_new(groups, json_string("system:masters"));
        out = json_deep_copy(obj);
        json_object_set_new(out, "status",
                            json_pack("{s:{s:s, s:o}}", "userInfo", "username",
                                      k->as ? k->as->name : "kubesim-admin", "groups", groups));
    } else if (!strcmp(kind, "SelfSubjectRulesReview")) {
        out = ksim_rbac_rules_review(k->store, k->as, obj, msg, sizeof(msg));
    } else {
        if (!strcmp(kind, "LocalSubjectAccessReview")) {
            const char *rns = json_string_value(json_object_get(
                json_object_get(json_object_get(obj, "spec"), "resourceAttributes"), "namespace"));
            if (!rns || strcmp(rns, rq->ns)) {
                ks_reply_invalid(r, rq->rt, "", "spec.resourceAttributes.namespace",
                                 "Invalid value", "must match metadata.namespace");
                goto out;
            }
        }
        out = ksim_rbac_review(k->store, k->as, kind, rq->ns, obj, msg, sizeof(msg));
    }
    if (!out) {
        ks_reply_status(r, 422, "Invalid", NULL, rq->rt, "%s.%s \"\" is invalid: %s", kind,
                        rq->rt->group, msg);
        goto out;
    }
    ks_reply(r, 201, out);
out:
    json_decref(obj);
}

/* ---------- subresources ---------- */

static void handle_token_request(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    if (strcmp(rq->method, "POST")) {
        ks_reply_status(r, 405, "MethodNotAllowed", NULL, NULL,
                        "the server does not allow this method on the requested resource");
        return;
    }
    if (!ks_lookup(k, rq->rt, rq->ns, rq->name)) {
        ks_reply_not_found(r, rq->rt, rq->name);
        return;
    }
    json_t *obj = NULL;
    struct error e = {0};
    if (ks_parse_body(rq->ct, rq->body && rq->body_len ? rq->body : "{}",
                      rq->body && rq->body_len ? rq->body_len : 2, &obj, &e)) {
        ks_reply_status(r, 400, "BadRequest", NULL, NULL, "%s", e.message);
        return;
    }
    struct error ve = {0};
    const char *def = "io.k8s.api.authentication.v1.TokenRequest";
    if (k->opt.schema && ksim_schema_has(k->opt.schema, def) &&
        ksim_schema_validate(k->opt.schema, def, obj, &ve)) {
        json_decref(obj);
        ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                        "TokenRequest in version \"v1\" cannot be handled as a TokenRequest: %s",
                        ve.message);
        return;
    }
    json_int_t secs =
        json_integer_value(json_object_get(json_object_get(obj, "spec"), "expirationSeconds"));
    if (secs == 0)
        secs = 3600;
    if (secs < 600 || secs > (json_int_t)1 << 32) {
        json_decref(obj);
        ks_reply_status(r, 422, "Invalid", rq->name, rq->rt,
                        "TokenRequest.authentication.k8s.io \"%s\" is invalid: "
                        "spec.expirationSeconds: Invalid value: %lld: may not specify a duration "
                        "less than 10 minutes",
                        rq->name, (long long)secs);
        return;
    }
    char token[200], ts[RFC3339_LEN], suf[12];
    ks_rand_suffix(k, suf, 10);
    /* not a credential the double accepts: it only shows that the request was granted */
    snprintf(token, sizeof(token), "kubesim-sa-token.%s.%s.%s", rq->ns, rq->name, suf);
    time_format_rfc3339(time_now() + (int64_t)secs, ts);
    json_t *out = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:I, s:[s]}, s:{s:s, s:s}}", "kind",
                            "TokenRequest", "apiVersion", "authentication.k8s.io/v1", "metadata",
                            "name", rq->name, "namespace", rq->ns, "spec", "expirationSeconds",
                            secs, "audiences", "https://kubernetes.default.svc", "status", "token",
                            token, "expirationTimestamp", ts);
    json_decref(obj);
    ks_reply(r, 201, out);
}

static void handle_pod_sub(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    json_t *pod = ks_lookup(k, rq->rt, rq->ns, rq->name);
    if (!pod) {
        ks_reply_not_found(r, rq->rt, rq->name);
        return;
    }
    /* exec, attach, portforward: streams the double has no container for */
    ks_reply_status(r, 400, "BadRequest", NULL, NULL,
                    "Upgrade request required (the API server double runs no containers)");
}

int ks_handle_special(struct ksim *k, struct req *rq, struct ksim_response *r)
{
    if (is_review(rq->rt)) {
        handle_review(k, rq, r);
        return 1;
    }
    if (!strcmp(rq->rt->resource, "serviceaccounts") && !strcmp(rq->sub, "token") && *rq->name) {
        handle_token_request(k, rq, r);
        return 1;
    }
    if (!strcmp(rq->rt->resource, "pods") && *rq->name &&
        (!strcmp(rq->sub, "exec") || !strcmp(rq->sub, "attach") ||
         !strcmp(rq->sub, "portforward"))) {
        handle_pod_sub(k, rq, r);
        return 1;
    }
    return 0;
}

/* ---------- admission ---------- */

/* OpenShift's route admission: setting (or changing) spec.host needs `create` on
 * routes/custom-host in the namespace; without it the router picks the host. */
static int route_host_denied(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                             json_t *old)
{
    if (strcmp(rt->resource, "routes") || strcmp(rt->group, "route.openshift.io"))
        return 0;
    const char *host = json_string_value(json_object_get(json_object_get(obj, "spec"), "host"));
    const char *was = json_string_value(json_object_get(json_object_get(old, "spec"), "host"));
    if (!host || !*host || (was && !strcmp(was, host)))
        return 0;
    struct ksim_rbac_attrs a = {.verb = "create",
                                .group = rt->group,
                                .resource = "routes",
                                .subresource = "custom-host",
                                .ns = ns,
                                .name = ks_mstr(obj, "name")};
    return !ksim_rbac_authorize(k->store, k->as, &a, NULL, 0);
}

int ks_admit(struct ksim *k, const struct rtype *rt, const char *ns, const char *op, json_t *obj,
             json_t *old, struct ksim_response *r)
{
    char msg[1800], q[160];
    const char *name = ks_mstr(obj ? obj : old, "name");
    if (k->as && obj &&
        ksim_rbac_check_escalation(k->store, k->as, rt->resource, rt->namespaced ? ns : "", obj,
                                   msg, sizeof(msg))) {
        char full[2048];
        snprintf(full, sizeof(full), "%s \"%s\" is forbidden: %s", ks_qualified(rt, q, sizeof(q)),
                 name ? name : "", msg);
        forbid(r, rt, name, full);
        return -1;
    }
    if (k->as && obj && route_host_denied(k, rt, ns, obj, old)) {
        ks_reply_invalid(r, rt, name, "spec.host", "Forbidden",
                         "you do not have permission to set the host field of the route");
        return -1;
    }
    if (ks_policy_admit(k, rt, ns, op, obj, old, r))
        return -1;
    /* after the policies: what the API server admits, the router then sees */
    if (obj && !strcmp(rt->resource, "ingresses") &&
        ks_ingress_host_check(k, ns, obj, msg, sizeof(msg))) {
        char full[2048];
        snprintf(full, sizeof(full), "%s \"%s\" is forbidden: %s", ks_qualified(rt, q, sizeof(q)),
                 name ? name : "", msg);
        forbid(r, rt, name, full);
        return -1;
    }
    return 0;
}
