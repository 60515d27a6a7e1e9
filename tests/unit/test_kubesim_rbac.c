/* RBAC of the API double: rule matching, bindings, aggregation, refusal messages, escalation
 * prevention and the access reviews, each against Kubernetes' documented semantics. */
#include "kubesim/rbac.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kubesim/selector.h"

/* A store as the double keeps it: "resource.group" -> {"ns/name" -> object}. */
static const char store_text[] =
    "{\"clusterroles.rbac.authorization.k8s.io\": {"
    "  \"/tenant\": {\"metadata\": {\"name\": \"tenant\"}, \"rules\": ["
    "    {\"apiGroups\": [\"\"], \"resources\": [\"pods\", \"pods/exec\", \"configmaps\"],"
    "     \"verbs\": [\"get\", \"list\", \"create\", \"delete\"]},"
    "    {\"apiGroups\": [\"\"], \"resources\": [\"serviceaccounts/token\"], \"verbs\":"
    "     [\"create\"], \"resourceNames\": [\"workspace\"]},"
    "    {\"apiGroups\": [\"networking.k8s.io\"], \"resources\": [\"networkpolicies\"],"
    "     \"verbs\": [\"get\", \"list\"]},"
    "    {\"apiGroups\": [\"rbac.authorization.k8s.io\"], \"resources\": [\"roles\","
    "     \"rolebindings\"], \"verbs\": [\"create\", \"get\"]}]},"
    "  \"/reader\": {\"metadata\": {\"name\": \"reader\"}, \"aggregationRule\": "
    "    {\"clusterRoleSelectors\": [{\"matchLabels\": {\"agg\": \"reader\"}}]}, \"rules\": []},"
    "  \"/reader-nodes\": {\"metadata\": {\"name\": \"reader-nodes\", \"labels\": {\"agg\": "
    "    \"reader\"}}, \"rules\": [{\"apiGroups\": [\"\"], \"resources\": [\"nodes\"], "
    "    \"verbs\": [\"get\"]}]},"
    "  \"/binder\": {\"metadata\": {\"name\": \"binder\"}, \"rules\": ["
    "    {\"apiGroups\": [\"rbac.authorization.k8s.io\"], \"resources\": [\"clusterroles\"],"
    "     \"verbs\": [\"bind\"], \"resourceNames\": [\"cluster-admin\"]},"
    "    {\"apiGroups\": [\"rbac.authorization.k8s.io\"], \"resources\": [\"rolebindings\"],"
    "     \"verbs\": [\"create\"]}]}},"
    " \"roles.rbac.authorization.k8s.io\": {"
    "  \"s1/escalator\": {\"metadata\": {\"name\": \"escalator\", \"namespace\": \"s1\"},"
    "    \"rules\": [{\"apiGroups\": [\"rbac.authorization.k8s.io\"], \"resources\": "
    "    [\"roles\"], \"verbs\": [\"escalate\"]}]}},"
    " \"rolebindings.rbac.authorization.k8s.io\": {"
    "  \"s1/user\": {\"metadata\": {\"name\": \"user\", \"namespace\": \"s1\"}, \"roleRef\": "
    "    {\"apiGroup\": \"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": "
    "    \"tenant\"}, \"subjects\": [{\"kind\": \"User\", \"apiGroup\": "
    "    \"rbac.authorization.k8s.io\", \"name\": \"alice\"}]},"
    "  \"s1/sa\": {\"metadata\": {\"name\": \"sa\", \"namespace\": \"s1\"}, \"roleRef\": "
    "    {\"kind\": \"ClusterRole\", \"name\": \"tenant\"}, \"subjects\": [{\"kind\": "
    "    \"ServiceAccount\", \"name\": \"workspace\"}]},"
    "  \"s1/team\": {\"metadata\": {\"name\": \"team\", \"namespace\": \"s1\"}, \"roleRef\": "
    "    {\"kind\": \"ClusterRole\", \"name\": \"tenant\"}, \"subjects\": [{\"kind\": "
    "    \"Group\", \"name\": \"team-a\"}]},"
    "  \"s1/dangling\": {\"metadata\": {\"name\": \"dangling\", \"namespace\": \"s1\"}, "
    "    \"roleRef\": {\"kind\": \"ClusterRole\", \"name\": \"gone\"}, \"subjects\": "
    "    [{\"kind\": \"User\", \"name\": \"dave\"}]},"
    "  \"s1/esc\": {\"metadata\": {\"name\": \"esc\", \"namespace\": \"s1\"}, \"roleRef\": "
    "    {\"kind\": \"Role\", \"name\": \"escalator\"}, \"subjects\": [{\"kind\": \"User\","
    "    \"name\": \"erin\"}]},"
    "  \"s2/binder\": {\"metadata\": {\"name\": \"binder\", \"namespace\": \"s2\"}, \"roleRef\":"
    "    {\"kind\": \"ClusterRole\", \"name\": \"binder\"}, \"subjects\": [{\"kind\": \"User\","
    "    \"name\": \"bob\"}]}},"
    " \"clusterrolebindings.rbac.authorization.k8s.io\": {"
    "  \"/readers\": {\"metadata\": {\"name\": \"readers\"}, \"roleRef\": {\"kind\": "
    "    \"ClusterRole\", \"name\": \"reader\"}, \"subjects\": [{\"kind\": \"Group\", "
    "    \"name\": \"system:serviceaccounts:s1\"}]}}}";

static json_t *g_store;

static int setup(void **state)
{
    (void)state;
    json_error_t e;
    g_store = json_loads(store_text, 0, &e);
    if (!g_store)
        fail_msg("store fixture: %s at %d", e.text, e.line);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(g_store);
    return 0;
}

static struct ksim_rbac_user user(const char *name, const char *group)
{
    struct ksim_rbac_user u;
    char msg[200];
    const char *g[1] = {group};
    assert_int_equal(ksim_rbac_user_init(&u, name, g, group ? 1 : 0, msg, sizeof(msg)), 0);
    return u;
}

static bool can(const char *name, const char *group, const char *verb, const char *api_group,
                const char *res, const char *sub, const char *ns, const char *obj)
{
    struct ksim_rbac_user u = user(name, group);
    struct ksim_rbac_attrs a = {verb, api_group, res, sub, ns, obj, NULL};
    char reason[300];
    return ksim_rbac_authorize(g_store, &u, &a, reason, sizeof(reason));
}

static void test_rule_matching(void **state)
{
    (void)state;
    json_t *r = json_loads("{\"apiGroups\": [\"\"], \"resources\": [\"pods\", \"*/scale\"], "
                           "\"verbs\": [\"get\"], \"resourceNames\": [\"a\"]}",
                           0, NULL);
    struct ksim_rbac_attrs a = {"get", "", "pods", NULL, "ns", "a", NULL};
    assert_true(ksim_rbac_rule_allows(r, &a));
    a.name = "b";
    assert_false(ksim_rbac_rule_allows(r, &a)); /* resourceNames */
    a.name = NULL;
    assert_false(ksim_rbac_rule_allows(r, &a)); /* a list is not a named get */
    a.name = "a";
    a.subresource = "exec";
    assert_false(ksim_rbac_rule_allows(r, &a)); /* pods does not grant pods/exec */
    a.resource = "deployments";
    a.subresource = "scale";
    assert_true(ksim_rbac_rule_allows(r, &a)); /* the rule's star-slash-scale */
    a.group = "apps";
    assert_false(ksim_rbac_rule_allows(r, &a));
    json_decref(r);
    r = json_loads("{\"apiGroups\": [\"*\"], \"resources\": [\"*\"], \"verbs\": [\"*\"]}", 0, NULL);
    struct ksim_rbac_attrs any = {"escalate", "rbac.authorization.k8s.io", "roles", NULL, "", "x",
                                  NULL};
    assert_true(ksim_rbac_rule_allows(r, &any));
    struct ksim_rbac_attrs path = {"get", NULL, NULL, NULL, NULL, NULL, "/metrics"};
    assert_false(ksim_rbac_rule_allows(r, &path)); /* resources never grant paths */
    json_decref(r);
    r = json_loads("{\"nonResourceURLs\": [\"/apis/*\"], \"verbs\": [\"get\"]}", 0, NULL);
    path.path = "/apis/apps/v1";
    assert_true(ksim_rbac_rule_allows(r, &path));
    path.path = "/metrics";
    assert_false(ksim_rbac_rule_allows(r, &path));
    json_decref(r);
}

static void test_bindings(void **state)
{
    (void)state;
    /* a RoleBinding to a ClusterRole grants only in its namespace */
    assert_true(can("alice", NULL, "create", "", "pods", NULL, "s1", NULL));
    assert_false(can("alice", NULL, "create", "", "pods", NULL, "s2", NULL));
    assert_false(can("alice", NULL, "list", "", "pods", NULL, "", NULL));
    assert_true(can("alice", NULL, "create", "", "pods", "exec", "s1", "p"));
    assert_false(can("alice", NULL, "create", "", "pods", "exec", "s2", "p"));
    assert_false(can("alice", NULL, "create", "", "endpoints", NULL, "s1", NULL));
    assert_false(can("alice", NULL, "get", "", "secrets", NULL, "s1", "x"));
    assert_false(
        can("alice", NULL, "delete", "networking.k8s.io", "networkpolicies", NULL, "s1", "deny"));
    /* resourceNames on a subresource: the token of its own SA only */
    assert_true(can("alice", NULL, "create", "", "serviceaccounts", "token", "s1", "workspace"));
    assert_false(can("alice", NULL, "create", "", "serviceaccounts", "token", "s1", "reconciler"));
    /* groups */
    assert_false(can("carol", NULL, "get", "", "pods", NULL, "s1", "p"));
    assert_true(can("carol", "team-a", "get", "", "pods", NULL, "s1", "p"));
    /* a ServiceAccount subject without namespace is of the binding's namespace; its groups */
    assert_true(
        can("system:serviceaccount:s1:workspace", NULL, "get", "", "pods", NULL, "s1", "p"));
    assert_false(
        can("system:serviceaccount:s2:workspace", NULL, "get", "", "pods", NULL, "s1", "p"));
    /* aggregation: reader holds reader-nodes' rules; bound to system:serviceaccounts:s1 */
    assert_true(can("system:serviceaccount:s1:other", NULL, "get", "", "nodes", NULL, "", "n"));
    assert_false(can("system:serviceaccount:s2:other", NULL, "get", "", "nodes", NULL, "", "n"));
    /* bootstrap: every authenticated user may ask about itself and read discovery */
    assert_true(can("nobody", NULL, "create", "authorization.k8s.io", "selfsubjectaccessreviews",
                    NULL, "", NULL));
    struct ksim_rbac_user u = user("nobody", NULL);
    struct ksim_rbac_attrs disc = {"get", NULL, NULL, NULL, NULL, NULL, "/apis/apps/v1"};
    assert_true(ksim_rbac_authorize(g_store, &u, &disc, NULL, 0));
    /* system:masters holds everything */
    assert_true(can("root", "system:masters", "delete", "", "namespaces", NULL, "", "kube-system"));
}

static void test_messages(void **state)
{
    (void)state;
    struct ksim_rbac_user u = user("alice", NULL);
    char msg[600], reason[300];
    struct ksim_rbac_attrs a = {"list", "", "secrets", NULL, "s2", NULL, NULL};
    assert_false(ksim_rbac_authorize(g_store, &u, &a, reason, sizeof(reason)));
    ksim_rbac_forbidden_message(&u, &a, reason, msg, sizeof(msg));
    assert_string_equal(msg, "secrets is forbidden: User \"alice\" cannot list resource "
                             "\"secrets\" in API group \"\" in the namespace \"s2\"");
    struct ksim_rbac_attrs b = {
        "create", "rbac.authorization.k8s.io", "clusterrolebindings", NULL, "", "x", NULL};
    ksim_rbac_forbidden_message(&u, &b, "", msg, sizeof(msg));
    assert_string_equal(msg, "clusterrolebindings.rbac.authorization.k8s.io \"x\" is forbidden: "
                             "User \"alice\" cannot create resource \"clusterrolebindings\" in "
                             "API group \"rbac.authorization.k8s.io\" at the cluster scope");
    struct ksim_rbac_attrs c = {"create", "", "pods", "exec", "s2", "p", NULL};
    ksim_rbac_forbidden_message(&u, &c, "", msg, sizeof(msg));
    assert_non_null(strstr(msg, "cannot create resource \"pods/exec\" in API group \"\" in the "
                                "namespace \"s2\""));
    /* a binding to a missing role is the RBAC reason */
    struct ksim_rbac_user d = user("dave", NULL);
    struct ksim_rbac_attrs g = {"get", "", "pods", NULL, "s1", "p", NULL};
    assert_false(ksim_rbac_authorize(g_store, &d, &g, reason, sizeof(reason)));
    assert_string_equal(reason, "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found");
    /* users */
    struct ksim_rbac_user sa;
    assert_int_equal(ksim_rbac_user_init(&sa, "system:serviceaccount:s1:w", NULL, 0, msg, 600), 0);
    assert_int_equal(sa.ngroups, 3);
    assert_string_equal(sa.groups[1], "system:serviceaccounts:s1");
    assert_int_equal(ksim_rbac_user_init(&sa, "", NULL, 0, msg, sizeof(msg)), -ERR_INVALID);
}

static int escalation(const char *who, const char *resource, const char *ns, const char *obj,
                      char *msg, size_t n)
{
    struct ksim_rbac_user u = user(who, NULL);
    json_t *o = json_loads(obj, 0, NULL);
    assert_non_null(o);
    msg[0] = '\0';
    int rc = ksim_rbac_check_escalation(g_store, &u, resource, ns, o, msg, n);
    json_decref(o);
    return rc;
}

static void test_escalation(void **state)
{
    (void)state;
    char msg[2000];
    /* a Role with "*" is more than alice holds */
    assert_int_equal(escalation("alice", "roles", "s1",
                                "{\"metadata\": {\"name\": \"all\"}, \"rules\": [{\"apiGroups\": "
                                "[\"*\"], \"resources\": [\"*\"], \"verbs\": [\"*\"]}]}",
                                msg, sizeof(msg)),
                     -ERR_FORBIDDEN);
    assert_string_equal(msg, "user \"alice\" (groups=[\"system:authenticated\"]) is attempting "
                             "to grant RBAC permissions not currently held:\n"
                             "{APIGroups:[\"*\"], Resources:[\"*\"], Verbs:[\"*\"]}");
    /* a Role within what she holds in s1 is fine, the same in s2 is not */
    const char *sub = "{\"metadata\": {\"name\": \"pods\"}, \"rules\": [{\"apiGroups\": [\"\"], "
                      "\"resources\": [\"pods\"], \"verbs\": [\"get\", \"list\"]}]}";
    assert_int_equal(escalation("alice", "roles", "s1", sub, msg, sizeof(msg)), 0);
    assert_int_equal(escalation("alice", "roles", "s2", sub, msg, sizeof(msg)), -ERR_FORBIDDEN);
    /* NetworkPolicy write is not held: missing lines name exactly what is missing */
    assert_int_equal(escalation("alice", "roles", "s1",
                                "{\"metadata\": {\"name\": \"np\"}, \"rules\": [{\"apiGroups\": "
                                "[\"networking.k8s.io\"], \"resources\": [\"networkpolicies\"], "
                                "\"verbs\": [\"get\", \"delete\"]}]}",
                                msg, sizeof(msg)),
                     -ERR_FORBIDDEN);
    assert_non_null(strstr(msg, "held:\n{APIGroups:[\"networking.k8s.io\"], "
                                "Resources:[\"networkpolicies\"], Verbs:[\"delete\"]}"));
    assert_null(strstr(msg, "\"get\""));
    /* `escalate` lifts the check */
    assert_int_equal(escalation("erin", "roles", "s1",
                                "{\"metadata\": {\"name\": \"all\"}, \"rules\": [{\"apiGroups\": "
                                "[\"*\"], \"resources\": [\"*\"], \"verbs\": [\"*\"]}]}",
                                msg, sizeof(msg)),
                     0);
    /* a RoleBinding to cluster-admin needs its rules or `bind` on it */
    const char *rb = "{\"metadata\": {\"name\": \"x\"}, \"roleRef\": {\"apiGroup\": "
                     "\"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": "
                     "\"cluster-admin\"}, \"subjects\": [{\"kind\": \"User\", \"name\": \"m\"}]}";
    assert_int_equal(escalation("alice", "rolebindings", "s1", rb, msg, sizeof(msg)),
                     -ERR_FORBIDDEN);
    assert_non_null(strstr(msg, "is attempting to grant RBAC permissions not currently held"));
    assert_int_equal(escalation("bob", "rolebindings", "s2", rb, msg, sizeof(msg)), 0);
    assert_int_equal(escalation("bob", "rolebindings", "s1", rb, msg, sizeof(msg)), -ERR_FORBIDDEN);
    /* a binding to the tenant role itself is within alice's rights in s1 */
    const char *own = "{\"metadata\": {\"name\": \"y\"}, \"roleRef\": {\"kind\": \"ClusterRole\", "
                      "\"name\": \"tenant\"}, \"subjects\": [{\"kind\": \"Group\", \"name\": "
                      "\"system:authenticated\"}]}";
    assert_int_equal(escalation("alice", "rolebindings", "s1", own, msg, sizeof(msg)), 0);
    /* a missing role cannot be bound */
    assert_int_equal(escalation("alice", "rolebindings", "s1",
                                "{\"metadata\": {\"name\": \"z\"}, \"roleRef\": {\"kind\": "
                                "\"Role\", \"name\": \"nope\"}, \"subjects\": []}",
                                msg, sizeof(msg)),
                     -ERR_FORBIDDEN);
    assert_string_equal(msg, "role.rbac.authorization.k8s.io \"nope\" not found");
    /* an aggregationRule needs cluster-admin */
    assert_int_equal(escalation("alice", "clusterroles", "",
                                "{\"metadata\": {\"name\": \"a\"}, \"aggregationRule\": "
                                "{\"clusterRoleSelectors\": [{}]}, \"rules\": []}",
                                msg, sizeof(msg)),
                     -ERR_FORBIDDEN);
}

static void test_reviews(void **state)
{
    (void)state;
    struct ksim_rbac_user u = user("alice", NULL);
    char msg[300];
    json_t *r = json_loads("{\"apiVersion\": \"authorization.k8s.io/v1\", \"kind\": "
                           "\"SelfSubjectAccessReview\", \"spec\": {\"resourceAttributes\": "
                           "{\"namespace\": \"s1\", \"verb\": \"create\", \"resource\": "
                           "\"pods\"}}}",
                           0, NULL);
    json_t *out = ksim_rbac_review(g_store, &u, "SelfSubjectAccessReview", "", r, msg, sizeof(msg));
    assert_non_null(out);
    json_t *st = json_object_get(out, "status");
    assert_true(json_is_true(json_object_get(st, "allowed")));
    assert_string_equal(json_string_value(json_object_get(st, "reason")),
                        "RBAC: allowed by RoleBinding \"user\" of ClusterRole \"tenant\" to User "
                        "\"alice\"");
    json_decref(out);
    json_object_set_new(json_object_get(json_object_get(r, "spec"), "resourceAttributes"),
                        "namespace", json_string("s2"));
    out = ksim_rbac_review(g_store, &u, "SelfSubjectAccessReview", "", r, msg, sizeof(msg));
    assert_true(json_is_false(json_object_get(json_object_get(out, "status"), "allowed")));
    json_decref(out);
    /* the double's own token (u NULL) is allowed everything */
    out = ksim_rbac_review(g_store, NULL, "SelfSubjectAccessReview", "", r, msg, sizeof(msg));
    assert_true(json_is_true(json_object_get(json_object_get(out, "status"), "allowed")));
    json_decref(out);
    json_decref(r);
    /* SubjectAccessReview names the subject; LocalSubjectAccessReview forces the namespace */
    r = json_loads("{\"spec\": {\"user\": \"carol\", \"groups\": [\"team-a\"], "
                   "\"resourceAttributes\": {\"namespace\": \"s2\", \"verb\": \"get\", "
                   "\"resource\": \"pods\"}}}",
                   0, NULL);
    out = ksim_rbac_review(g_store, &u, "LocalSubjectAccessReview", "s1", r, msg, sizeof(msg));
    assert_true(json_is_true(json_object_get(json_object_get(out, "status"), "allowed")));
    json_decref(out);
    out = ksim_rbac_review(g_store, &u, "SubjectAccessReview", "", r, msg, sizeof(msg));
    assert_true(json_is_false(json_object_get(json_object_get(out, "status"), "allowed")));
    json_decref(out);
    json_decref(r);
    r = json_loads("{\"spec\": {}}", 0, NULL);
    assert_null(ksim_rbac_review(g_store, &u, "SelfSubjectAccessReview", "", r, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "exactly one of nonResourceAttributes or resourceAttributes"));
    json_decref(r);
    /* rules review */
    r = json_loads("{\"spec\": {\"namespace\": \"s1\"}}", 0, NULL);
    out = ksim_rbac_rules_review(g_store, &u, r, msg, sizeof(msg));
    assert_non_null(out);
    json_t *rules = json_object_get(json_object_get(out, "status"), "resourceRules");
    assert_true(json_array_size(rules) >= 4);
    json_decref(out);
    json_decref(r);
}

static void test_label_selector_object(void **state)
{
    (void)state;
    json_t *l = json_loads("{\"a\": \"1\", \"b\": \"2\"}", 0, NULL);
    json_t *s = json_loads("{\"matchLabels\": {\"a\": \"1\"}, \"matchExpressions\": [{\"key\": "
                           "\"b\", \"operator\": \"In\", \"values\": [\"2\", \"3\"]}, {\"key\": "
                           "\"c\", \"operator\": \"DoesNotExist\"}]}",
                           0, NULL);
    assert_int_equal(ksim_label_selector_object_match(s, l), 1);
    json_object_set_new(l, "c", json_string("x"));
    assert_int_equal(ksim_label_selector_object_match(s, l), 0);
    json_decref(s);
    s = json_loads("{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Gt\"}]}", 0, NULL);
    assert_int_equal(ksim_label_selector_object_match(s, l), -ERR_INVALID);
    json_decref(s);
    assert_int_equal(ksim_label_selector_object_match(NULL, l), 1);
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_matching), cmocka_unit_test(test_bindings),
        cmocka_unit_test(test_messages),      cmocka_unit_test(test_escalation),
        cmocka_unit_test(test_reviews),       cmocka_unit_test(test_label_selector_object),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
