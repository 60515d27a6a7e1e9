/* RBAC of the API server double (see rbac.h). */
#include "kubesim/rbac.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "kubesim/selector.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"
#define K_ROLES "roles." RBAC_GROUP
#define K_CLUSTERROLES "clusterroles." RBAC_GROUP
#define K_ROLEBINDINGS "rolebindings." RBAC_GROUP
#define K_CLUSTERROLEBINDINGS "clusterrolebindings." RBAC_GROUP

/* What every cluster has before anyone writes a role (kube-apiserver's bootstrap policy, the
 * part a tenant's requests meet): cluster-admin for system:masters, the self reviews
 * (system:basic-user) and discovery (system:discovery) for every authenticated user. */
static const char bootstrap_text[] =
    "{\"clusterroles\": {"
    "  \"cluster-admin\": [{\"apiGroups\": [\"*\"], \"resources\": [\"*\"], \"verbs\": [\"*\"]},"
    "                      {\"nonResourceURLs\": [\"*\"], \"verbs\": [\"*\"]}],"
    "  \"system:basic-user\": [{\"apiGroups\": [\"authorization.k8s.io\"], \"resources\":"
    "      [\"selfsubjectaccessreviews\", \"selfsubjectrulesreviews\"], \"verbs\": [\"create\"]},"
    "      {\"apiGroups\": [\"authentication.k8s.io\"], \"resources\": [\"selfsubjectreviews\"],"
    "       \"verbs\": [\"create\"]}],"
    "  \"system:discovery\": [{\"nonResourceURLs\": [\"/api\", \"/api/*\", \"/apis\", "
    "      \"/apis/*\", \"/healthz\", \"/livez\", \"/readyz\", \"/version\", \"/version/\", "
    "      \"/openapi\", \"/openapi/*\"], \"verbs\": [\"get\"]}]},"
    " \"clusterrolebindings\": ["
    "  {\"metadata\": {\"name\": \"cluster-admin\"}, \"roleRef\": {\"apiGroup\": "
    "   \"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": \"cluster-admin\"},"
    "   \"subjects\": [{\"kind\": \"Group\", \"name\": \"system:masters\"}]},"
    "  {\"metadata\": {\"name\": \"system:basic-user\"}, \"roleRef\": {\"apiGroup\": "
    "   \"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": \"system:basic-user\"},"
    "   \"subjects\": [{\"kind\": \"Group\", \"name\": \"system:authenticated\"}]},"
    "  {\"metadata\": {\"name\": \"system:discovery\"}, \"roleRef\": {\"apiGroup\": "
    "   \"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": \"system:discovery\"},"
    "   \"subjects\": [{\"kind\": \"Group\", \"name\": \"system:authenticated\"}]}]}";

static json_t *g_bootstrap;
static pthread_once_t g_bootstrap_once = PTHREAD_ONCE_INIT;

static void bootstrap_load(void)
{
    g_bootstrap = json_loads(bootstrap_text, 0, NULL);
}

static json_t *bootstrap(void)
{
    pthread_once(&g_bootstrap_once, bootstrap_load);
    return g_bootstrap;
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* ---------- users ---------- */

static int add_group(struct ksim_rbac_user *u, const char *g)
{
    for (int i = 0; i < u->ngroups; i++)
        if (!strcmp(u->groups[i], g))
            return 0;
    if (u->ngroups >= KSIM_RBAC_MAX_GROUPS || strlen(g) >= KSIM_RBAC_NAME)
        return -ERR_INVALID;
    snprintf(u->groups[u->ngroups++], KSIM_RBAC_NAME, "%s", g);
    return 0;
}

int ksim_rbac_user_init(struct ksim_rbac_user *ret, const char *name, const char *const *groups,
                        int ngroups, char *msg, size_t msglen)
{
    struct ksim_rbac_user u;
    memset(&u, 0, sizeof(u));
    if (!name || !*name || strlen(name) >= KSIM_RBAC_NAME) {
        snprintf(msg, msglen, "Impersonate-User must name a user of at most %d characters",
                 KSIM_RBAC_NAME - 1);
        return -ERR_INVALID;
    }
    snprintf(u.name, sizeof(u.name), "%s", name);
    for (int i = 0; i < ngroups; i++) {
        if (!groups[i] || !*groups[i] || add_group(&u, groups[i])) {
            snprintf(msg, msglen,
                     "Impersonate-Group: at most %d groups of at most %d characters each",
                     KSIM_RBAC_MAX_GROUPS - 3, KSIM_RBAC_NAME - 1);
            return -ERR_INVALID;
        }
    }
    const char *sa = "system:serviceaccount:";
    int rc = 0;
    if (!strncmp(name, sa, strlen(sa))) {
        const char *ns = name + strlen(sa);
        const char *colon = strchr(ns, ':');
        char g[KSIM_RBAC_NAME];
        rc |= add_group(&u, "system:serviceaccounts");
        if (colon) {
            snprintf(g, sizeof(g), "system:serviceaccounts:%.*s", (int)(colon - ns), ns);
            rc |= add_group(&u, g);
        }
    }
    if (strcmp(name, "system:anonymous"))
        rc |= add_group(&u, "system:authenticated");
    if (rc) {
        snprintf(msg, msglen, "Impersonate-Group: at most %d groups", KSIM_RBAC_MAX_GROUPS - 3);
        return -ERR_INVALID;
    }
    *ret = u;
    return 0;
}

static bool user_in_group(const struct ksim_rbac_user *u, const char *g)
{
    for (int i = 0; i < u->ngroups; i++)
        if (!strcmp(u->groups[i], g))
            return true;
    return false;
}

/* ---------- rules ---------- */

static bool has(json_t *arr, const char *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *s = json_string_value(e);
        if (s && !strcmp(s, v))
            return true;
    }
    return false;
}

static bool has_or_star(json_t *arr, const char *v)
{
    return has(arr, "*") || has(arr, v);
}

static bool resource_matches(json_t *resources, const char *res, const char *sub)
{
    char combined[256];
    if (has(resources, "*"))
        return true;
    snprintf(combined, sizeof(combined), "%s%s%s", res, sub && *sub ? "/" : "", or_empty(sub));
    if (has(resources, combined))
        return true;
    if (!sub || !*sub)
        return false;
    char star_sub[256];
    snprintf(star_sub, sizeof(star_sub), "*/%s", sub);
    return has(resources, star_sub);
}

static bool url_matches(json_t *urls, const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(urls, i, e)
    {
        const char *s = json_string_value(e);
        if (!s)
            continue;
        size_t n = strlen(s);
        if (!strcmp(s, "*") || !strcmp(s, path))
            return true;
        if (n && s[n - 1] == '*' && !strncmp(s, path, n - 1))
            return true;
    }
    return false;
}

bool ksim_rbac_rule_allows(json_t *rule, const struct ksim_rbac_attrs *a)
{
    if (!has_or_star(json_object_get(rule, "verbs"), a->verb))
        return false;
    if (!a->resource || !*a->resource)
        return url_matches(json_object_get(rule, "nonResourceURLs"), or_empty(a->path));
    if (!has_or_star(json_object_get(rule, "apiGroups"), or_empty(a->group)))
        return false;
    if (!resource_matches(json_object_get(rule, "resources"), a->resource, a->subresource))
        return false;
    json_t *names = json_object_get(rule, "resourceNames");
    if (json_array_size(names) == 0)
        return true;
    return a->name && *a->name && has(names, a->name);
}

/* ---------- roles and bindings ---------- */

static bool subject_applies(json_t *s, const struct ksim_rbac_user *u, const char *binding_ns)
{
    const char *kind = or_empty(str(s, "kind")), *name = or_empty(str(s, "name"));
    if (!strcmp(kind, "User"))
        return !strcmp(name, u->name);
    if (!strcmp(kind, "Group"))
        return user_in_group(u, name);
    if (!strcmp(kind, "ServiceAccount")) {
        const char *ns = str(s, "namespace");
        char full[2 * KSIM_RBAC_NAME + 32];
        snprintf(full, sizeof(full), "system:serviceaccount:%s:%s",
                 ns && *ns ? ns : or_empty(binding_ns), name);
        return !strcmp(full, u->name);
    }
    return false;
}

static json_t *stored(json_t *store, const char *bucket, const char *ns, const char *name)
{
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", or_empty(ns), or_empty(name));
    return json_object_get(json_object_get(store, bucket), key);
}

/* The rules of a ClusterRole: its own, and with an aggregationRule those of every stored
 * ClusterRole one of its selectors matches. A new reference, NULL when it does not exist. */
static json_t *clusterrole_rules(json_t *store, const char *name)
{
    json_t *cr = stored(store, K_CLUSTERROLES, "", name);
    if (!cr) {
        json_t *b = json_object_get(json_object_get(bootstrap(), "clusterroles"), name);
        return b ? json_deep_copy(b) : NULL;
    }
    json_t *rules = json_array();
    json_array_extend(rules, json_object_get(cr, "rules"));
    json_t *sels = json_object_get(json_object_get(cr, "aggregationRule"), "clusterRoleSelectors");
    if (json_array_size(sels) == 0)
        return rules;
    const char *key;
    json_t *other;
    json_object_foreach(json_object_get(store, K_CLUSTERROLES), key, other)
    {
        if (other == cr)
            continue;
        json_t *labels = json_object_get(json_object_get(other, "metadata"), "labels");
        size_t i;
        json_t *sel;
        json_array_foreach(sels, i, sel)
        {
            if (ksim_label_selector_object_match(sel, labels) == 1) {
                json_array_extend(rules, json_object_get(other, "rules"));
                break;
            }
        }
    }
    return rules;
}

/* The rules a roleRef names (new reference), or NULL with reason "RBAC: ... not found". */
static json_t *ref_rules(json_t *store, json_t *ref, const char *binding_ns, char *reason, size_t n)
{
    const char *kind = or_empty(str(ref, "kind")), *name = or_empty(str(ref, "name"));
    json_t *rules = NULL;
    if (!strcmp(kind, "ClusterRole")) {
        rules = clusterrole_rules(store, name);
        if (!rules && reason)
            snprintf(reason, n, "clusterrole.rbac.authorization.k8s.io \"%s\" not found", name);
    } else if (!strcmp(kind, "Role") && binding_ns && *binding_ns) {
        json_t *role = stored(store, K_ROLES, binding_ns, name);
        rules = role ? json_deep_copy(json_object_get(role, "rules")) : NULL;
        if (!rules && reason)
            snprintf(reason, n, "role.rbac.authorization.k8s.io \"%s\" not found", name);
    } else if (reason) {
        snprintf(reason, n, "unknown roleRef kind \"%s\"", kind);
    }
    if (rules && !json_is_array(rules)) {
        json_decref(rules);
        rules = json_array();
    }
    return rules;
}

/* Called with each rule that applies; returns true to stop. `why` describes the binding. */
typedef bool (*rule_fn)(json_t *rule, const char *why, void *ctx);

static bool visit_binding(json_t *store, json_t *b, const char *kind, const char *ns,
                          const struct ksim_rbac_user *u, rule_fn fn, void *ctx, char *reason,
                          size_t n)
{
    size_t i;
    json_t *s;
    bool applies = false;
    json_array_foreach(json_object_get(b, "subjects"), i, s) if (subject_applies(s, u, ns))
    {
        applies = true;
        break;
    }
    if (!applies)
        return false;
    char err[300] = "";
    json_t *ref = json_object_get(b, "roleRef");
    json_t *rules = ref_rules(store, ref, ns, err, sizeof(err));
    if (!rules) {
        if (reason && !*reason)
            snprintf(reason, n, "RBAC: %s", err);
        return false;
    }
    char why[700];
    snprintf(why, sizeof(why), "%s \"%s\" of %s \"%s\" to %s \"%s\"", kind,
             or_empty(str(json_object_get(b, "metadata"), "name")), or_empty(str(ref, "kind")),
             or_empty(str(ref, "name")), or_empty(str(s, "kind")), or_empty(str(s, "name")));
    bool stop = false;
    json_t *rule;
    json_array_foreach(rules, i, rule) if (fn(rule, why, ctx))
    {
        stop = true;
        break;
    }
    json_decref(rules);
    return stop;
}

/* Visits the rules that apply to u in ns: cluster-wide bindings, then the RoleBindings of ns.
 * Returns true when fn stopped the walk. */
static bool visit_rules(json_t *store, const struct ksim_rbac_user *u, const char *ns, rule_fn fn,
                        void *ctx, char *reason, size_t n)
{
    size_t i;
    json_t *b;
    if (reason && n)
        reason[0] = '\0';
    json_array_foreach(json_object_get(bootstrap(), "clusterrolebindings"), i, b)
    {
        const char *name = str(json_object_get(b, "metadata"), "name");
        if (stored(store, K_CLUSTERROLEBINDINGS, "", name))
            continue; /* a stored one of the same name replaces the bootstrap one */
        if (visit_binding(store, b, "ClusterRoleBinding", "", u, fn, ctx, reason, n))
            return true;
    }
    const char *key;
    json_object_foreach(json_object_get(store, K_CLUSTERROLEBINDINGS), key, b)
    {
        if (visit_binding(store, b, "ClusterRoleBinding", "", u, fn, ctx, reason, n))
            return true;
    }
    if (!ns || !*ns)
        return false;
    size_t plen = strlen(ns);
    json_object_foreach(json_object_get(store, K_ROLEBINDINGS), key, b)
    {
        if (strncmp(key, ns, plen) || key[plen] != '/')
            continue;
        if (visit_binding(store, b, "RoleBinding", ns, u, fn, ctx, reason, n))
            return true;
    }
    return false;
}

struct allow_ctx {
    const struct ksim_rbac_attrs *a;
    char *why;
    size_t why_len;
};

static bool allow_fn(json_t *rule, const char *why, void *ctx)
{
    struct allow_ctx *c = ctx;
    if (!ksim_rbac_rule_allows(rule, c->a))
        return false;
    if (c->why)
        snprintf(c->why, c->why_len, "RBAC: allowed by %s", why);
    return true;
}

static bool authorize_why(json_t *store, const struct ksim_rbac_user *u,
                          const struct ksim_rbac_attrs *a, char *reason, size_t n, char *why,
                          size_t why_len)
{
    struct allow_ctx c = {a, why, why_len};
    const char *ns = a->resource && *a->resource ? a->ns : "";
    return visit_rules(store, u, ns, allow_fn, &c, reason, n);
}

bool ksim_rbac_authorize(json_t *store, const struct ksim_rbac_user *u,
                         const struct ksim_rbac_attrs *a, char *reason, size_t n)
{
    return authorize_why(store, u, a, reason, n, NULL, 0);
}

void ksim_rbac_forbidden_message(const struct ksim_rbac_user *u, const struct ksim_rbac_attrs *a,
                                 const char *reason, char *out, size_t n)
{
    char what[1400];
    if (!a->resource || !*a->resource) {
        snprintf(what, sizeof(what), "User \"%s\" cannot %s path \"%s\"", u->name, a->verb,
                 or_empty(a->path));
        snprintf(out, n, "forbidden: %s%s%s", what, reason && *reason ? ": " : "",
                 or_empty(reason));
        return;
    }
    char res[300], scope[400];
    snprintf(res, sizeof(res), "%s%s%s", a->resource, a->subresource && *a->subresource ? "/" : "",
             or_empty(a->subresource));
    if (a->ns && *a->ns)
        snprintf(scope, sizeof(scope), "in the namespace \"%s\"", a->ns);
    else
        snprintf(scope, sizeof(scope), "at the cluster scope");
    snprintf(what, sizeof(what), "User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s",
             u->name, a->verb, res, or_empty(a->group), scope);
    char qual[300];
    snprintf(qual, sizeof(qual), "%s%s%s", a->resource, a->group && *a->group ? "." : "",
             or_empty(a->group));
    if (a->name && *a->name)
        snprintf(out, n, "%s \"%s\" is forbidden: %s%s%s", qual, a->name, what,
                 reason && *reason ? ": " : "", or_empty(reason));
    else
        snprintf(out, n, "%s is forbidden: %s%s%s", qual, what, reason && *reason ? ": " : "",
                 or_empty(reason));
}

static bool collect_fn(json_t *rule, const char *why, void *ctx)
{
    (void)why;
    json_array_append(ctx, rule);
    return false;
}

json_t *ksim_rbac_rules_for(json_t *store, const struct ksim_rbac_user *u, const char *ns)
{
    json_t *rules = json_array();
    visit_rules(store, u, ns, collect_fn, rules, NULL, 0);
    return rules;
}

/* ---------- escalation ---------- */

static bool covers_resource(json_t *owner, const char *res)
{
    if (has(owner, "*") || has(owner, res))
        return true;
    const char *slash = strchr(res, '/');
    if (!slash)
        return false;
    char alt[300];
    snprintf(alt, sizeof(alt), "*%s", slash);
    if (has(owner, alt))
        return true;
    snprintf(alt, sizeof(alt), "%.*s/*", (int)(slash - res), res);
    return has(owner, alt);
}

/* One atom of a servant rule: one verb on one group/resource/name, or on one URL. */
struct atom {
    const char *verb, *group, *resource, *name, *url;
};

static bool owner_covers(json_t *owner, const struct atom *t)
{
    size_t i;
    json_t *r;
    json_array_foreach(owner, i, r)
    {
        if (!has_or_star(json_object_get(r, "verbs"), t->verb))
            continue;
        if (t->url) {
            if (url_matches(json_object_get(r, "nonResourceURLs"), t->url))
                return true;
            continue;
        }
        if (!has_or_star(json_object_get(r, "apiGroups"), t->group) ||
            !covers_resource(json_object_get(r, "resources"), t->resource))
            continue;
        json_t *names = json_object_get(r, "resourceNames");
        if (json_array_size(names) == 0 || (t->name && has(names, t->name)))
            return true;
    }
    return false;
}

static void append(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t n, const char *fmt, ...)
{
    size_t len = strlen(buf);
    if (len + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, n - len, fmt, ap);
    va_end(ap);
}

static void describe(const struct atom *t, char *buf, size_t n)
{
    if (t->url) {
        append(buf, n, "\n{NonResourceURLs:[\"%s\"], Verbs:[\"%s\"]}", t->url, t->verb);
        return;
    }
    append(buf, n, "\n{APIGroups:[\"%s\"], Resources:[\"%s\"]", t->group, t->resource);
    if (t->name)
        append(buf, n, ", ResourceNames:[\"%s\"]", t->name);
    append(buf, n, ", Verbs:[\"%s\"]}", t->verb);
}

/* Appends to missing a line per atom of rules that owner does not cover; returns how many. */
static int missing_rules(json_t *owner, json_t *rules, char *missing, size_t n)
{
    int count = 0;
    size_t i, iv, ig, ir, in;
    json_t *rule, *v, *g, *res, *nm;
    json_array_foreach(rules, i, rule)
    {
        json_array_foreach(json_object_get(rule, "verbs"), iv, v)
        {
            struct atom t = {.verb = json_string_value(v)};
            if (!t.verb)
                continue;
            json_array_foreach(json_object_get(rule, "nonResourceURLs"), in, nm)
            {
                t.url = json_string_value(nm);
                if (t.url && !owner_covers(owner, &t) && ++count)
                    describe(&t, missing, n);
            }
            t.url = NULL;
            json_array_foreach(json_object_get(rule, "apiGroups"), ig, g)
            {
                t.group = json_string_value(g);
                json_array_foreach(json_object_get(rule, "resources"), ir, res)
                {
                    t.resource = json_string_value(res);
                    if (!t.group || !t.resource)
                        continue;
                    json_t *names = json_object_get(rule, "resourceNames");
                    if (json_array_size(names) == 0) {
                        t.name = NULL;
                        if (!owner_covers(owner, &t) && ++count)
                            describe(&t, missing, n);
                        continue;
                    }
                    json_array_foreach(names, in, nm)
                    {
                        t.name = json_string_value(nm);
                        if (t.name && !owner_covers(owner, &t) && ++count)
                            describe(&t, missing, n);
                    }
                }
            }
        }
    }
    return count;
}

static void groups_quoted(const struct ksim_rbac_user *u, char *buf, size_t n)
{
    buf[0] = '\0';
    append(buf, n, "[");
    for (int i = 0; i < u->ngroups; i++)
        append(buf, n, "%s\"%s\"", i ? " " : "", u->groups[i]);
    append(buf, n, "]");
}

/* 0 when u holds every rule in ns, else -ERR_FORBIDDEN with the message. */
static int confirm_no_escalation(json_t *store, const struct ksim_rbac_user *u, const char *ns,
                                 json_t *rules, char *msg, size_t msglen)
{
    json_t *owner = ksim_rbac_rules_for(store, u, ns);
    char missing[1500] = "";
    int n = missing_rules(owner, rules, missing, sizeof(missing));
    json_decref(owner);
    if (!n)
        return 0;
    char groups[KSIM_RBAC_MAX_GROUPS * (KSIM_RBAC_NAME + 3) + 3];
    groups_quoted(u, groups, sizeof(groups));
    snprintf(msg, msglen,
             "user \"%s\" (groups=%s) is attempting to grant RBAC permissions not currently "
             "held:%s",
             u->name, groups, missing);
    return -ERR_FORBIDDEN;
}

int ksim_rbac_check_escalation(json_t *store, const struct ksim_rbac_user *u, const char *resource,
                               const char *ns, json_t *obj, char *msg, size_t msglen)
{
    const char *name = str(json_object_get(obj, "metadata"), "name");
    bool role = !strcmp(resource, "roles") || !strcmp(resource, "clusterroles");
    bool binding = !strcmp(resource, "rolebindings") || !strcmp(resource, "clusterrolebindings");
    if (!role && !binding)
        return 0;
    const char *scope = strcmp(resource, "roles") && strcmp(resource, "rolebindings") ? "" : ns;
    if (role) {
        struct ksim_rbac_attrs esc = {.verb = "escalate",
                                      .group = RBAC_GROUP,
                                      .resource = resource,
                                      .ns = scope,
                                      .name = name};
        if (ksim_rbac_authorize(store, u, &esc, NULL, 0))
            return 0;
        if (json_object_get(obj, "aggregationRule") && !user_in_group(u, "system:masters")) {
            snprintf(msg, msglen, "must have cluster-admin privileges to use the aggregationRule");
            return -ERR_FORBIDDEN;
        }
        return confirm_no_escalation(store, u, scope, json_object_get(obj, "rules"), msg, msglen);
    }
    json_t *ref = json_object_get(obj, "roleRef");
    const char *rkind = or_empty(str(ref, "kind"));
    struct ksim_rbac_attrs bind = {.verb = "bind",
                                   .group = RBAC_GROUP,
                                   .resource = !strcmp(rkind, "Role") ? "roles" : "clusterroles",
                                   .ns = scope,
                                   .name = str(ref, "name")};
    if (ksim_rbac_authorize(store, u, &bind, NULL, 0))
        return 0;
    char err[300] = "";
    json_t *rules = ref_rules(store, ref, scope, err, sizeof(err));
    if (!rules) {
        snprintf(msg, msglen, "%s", err);
        return -ERR_FORBIDDEN;
    }
    int rc = confirm_no_escalation(store, u, scope, rules, msg, msglen);
    json_decref(rules);
    return rc;
}

/* ---------- reviews ---------- */

json_t *ksim_rbac_review(json_t *store, const struct ksim_rbac_user *u, const char *kind,
                         const char *ns, json_t *review, char *msg, size_t msglen)
{
    json_t *spec = json_object_get(review, "spec");
    json_t *ra = json_object_get(spec, "resourceAttributes");
    json_t *nra = json_object_get(spec, "nonResourceAttributes");
    if (!json_is_object(ra) && !json_is_object(nra)) {
        snprintf(msg, msglen,
                 "spec.resourceAttributes: Invalid value: \"null\": exactly one of "
                 "nonResourceAttributes or resourceAttributes must be specified");
        return NULL;
    }
    struct ksim_rbac_user subject;
    const struct ksim_rbac_user *who = u;
    if (strcmp(kind, "SelfSubjectAccessReview")) {
        memset(&subject, 0, sizeof(subject));
        const char *user = str(spec, "user");
        json_t *groups = json_object_get(spec, "groups");
        if ((!user || !*user) && json_array_size(groups) == 0) {
            snprintf(msg, msglen,
                     "spec.user: Invalid value: \"\": at least one of user or group must be "
                     "specified");
            return NULL;
        }
        snprintf(subject.name, sizeof(subject.name), "%s", or_empty(user));
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g) if (json_string_value(g))
            add_group(&subject, json_string_value(g));
        who = &subject;
    }
    const char *rns = str(ra, "namespace");
    if (!strcmp(kind, "LocalSubjectAccessReview"))
        rns = ns;
    struct ksim_rbac_attrs a = {.verb = or_empty(str(json_is_object(ra) ? ra : nra, "verb")),
                                .group = or_empty(str(ra, "group")),
                                .resource = json_is_object(ra) ? or_empty(str(ra, "resource")) : "",
                                .subresource = str(ra, "subresource"),
                                .ns = rns,
                                .name = str(ra, "name"),
                                .path = str(nra, "path")};
    if (json_is_object(ra) && !*a.resource)
        a.resource = "*"; /* an empty resource asks about all of them, as "*" */
    char reason[400] = "", why[800] = "";
    bool allowed = !who || authorize_why(store, who, &a, reason, sizeof(reason), why, sizeof(why));
    json_t *out = json_deep_copy(review);
    json_t *status = json_pack("{s:b}", "allowed", allowed);
    const char *r = allowed ? why : reason;
    if (*r)
        json_object_set_new(status, "reason", json_string(r));
    json_object_set_new(out, "status", status);
    if (!json_is_object(json_object_get(out, "metadata")))
        json_object_set_new(out, "metadata", json_object());
    return out;
}

json_t *ksim_rbac_rules_review(json_t *store, const struct ksim_rbac_user *u, json_t *review,
                               char *msg, size_t msglen)
{
    const char *ns = str(json_object_get(review, "spec"), "namespace");
    if (!ns || !*ns) {
        snprintf(msg, msglen, "spec.namespace: Required value: no namespace on request");
        return NULL;
    }
    json_t *rules =
        u ? ksim_rbac_rules_for(store, u, ns)
          : json_pack("[{s:[s], s:[s], s:[s]}, {s:[s], s:[s]}]", "apiGroups", "*", "resources", "*",
                      "verbs", "*", "nonResourceURLs", "*", "verbs", "*");
    json_t *res = json_array(), *nonres = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        if (json_object_get(r, "nonResourceURLs"))
            json_array_append_new(nonres, json_pack("{s:O, s:O}", "verbs",
                                                    json_object_get(r, "verbs"), "nonResourceURLs",
                                                    json_object_get(r, "nonResourceURLs")));
        else
            json_array_append(res, r);
    }
    json_decref(rules);
    json_t *out = json_deep_copy(review);
    json_object_set_new(out, "status",
                        json_pack("{s:o, s:o, s:b}", "resourceRules", res, "nonResourceRules",
                                  nonres, "incomplete", 0));
    if (!json_is_object(json_object_get(out, "metadata")))
        json_object_set_new(out, "metadata", json_object());
    return out;
}
