/* The API double's request path for impersonated users, through ksim_handle_as: Forbidden
 * Status objects, escalation prevention, reviews, subresources, host claims, and admission
 * policies with an evaluator that allows, denies, dies, or is missing. */
#include "kubesim/sim.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct answer {
    int status;
    json_t *body;
    char warning[512];
};

/* One request; user NULL = the double's token. The answer's body is parsed (NULL if not
 * JSON); free with done(). */
static struct answer call(struct ksim *k, const char *user, const char *group, const char *method,
                          const char *path, const char *body)
{
    json_t *q = json_object();
    struct ksim_response r = {0};
    const char *groups[1] = {group};
    ksim_handle_as(k, method, path, q, "application/json", NULL, NULL, user, groups, group ? 1 : 0,
                   body, body ? strlen(body) : 0, &r);
    struct answer a = {.status = r.status};
    a.body = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    snprintf(a.warning, sizeof(a.warning), "%s", r.warning);
    ksim_response_free(&r);
    json_decref(q);
    return a;
}

static void done(struct answer *a)
{
    json_decref(a->body);
}

static const char *message(const struct answer *a)
{
    return json_string_value(json_object_get(a->body, "message"));
}

static void must(struct ksim *k, const char *method, const char *path, const char *body, int status)
{
    struct answer a = call(k, NULL, NULL, method, path, body);
    if (a.status != status)
        fail_msg("%s %s: %d %s", method, path, a.status, message(&a) ? message(&a) : "");
    done(&a);
}

/* A double with namespaces s1 and s2, a pod in s2, and alice bound to a small role in s1. */
static struct ksim *setup_sim(const char *cel_eval)
{
    struct ksim_options o = {.cel_eval = cel_eval};
    struct ksim *k = ksim_new(&o);
    assert_non_null(k);
    must(k, "POST", "/api/v1/namespaces",
         "{\"metadata\": {\"name\": \"s1\", \"labels\": {\"t\": \"y\"}}}", 201);
    must(k, "POST", "/api/v1/namespaces", "{\"metadata\": {\"name\": \"s2\"}}", 201);
    must(k, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles",
         "{\"metadata\": {\"name\": \"tenant\"}, \"rules\": [{\"apiGroups\": [\"\"], "
         "\"resources\": [\"pods\", \"pods/exec\", \"configmaps\"], \"verbs\": [\"get\", "
         "\"list\", \"create\"]}, {\"apiGroups\": [\"rbac.authorization.k8s.io\"], "
         "\"resources\": [\"roles\"], \"verbs\": [\"create\"]}, {\"apiGroups\": "
         "[\"route.openshift.io\"], \"resources\": [\"routes\"], \"verbs\": [\"create\"]}]}",
         201);
    must(k, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/s1/rolebindings",
         "{\"metadata\": {\"name\": \"u\"}, \"roleRef\": {\"apiGroup\": "
         "\"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": \"tenant\"}, "
         "\"subjects\": [{\"kind\": \"User\", \"name\": \"alice\"}]}",
         201);
    must(k, "POST", "/api/v1/namespaces/s2/pods",
         "{\"metadata\": {\"name\": \"p\"}, \"spec\": {\"containers\": [{\"name\": \"c\", "
         "\"image\": \"x\"}]}}",
         201);
    return k;
}

static void test_forbidden_status(void **state)
{
    (void)state;
    struct ksim *k = setup_sim(NULL);
    struct answer a = call(k, "alice", NULL, "GET", "/api/v1/namespaces/s2/pods/p", NULL);
    assert_int_equal(a.status, 403);
    assert_string_equal(json_string_value(json_object_get(a.body, "reason")), "Forbidden");
    assert_int_equal(json_integer_value(json_object_get(a.body, "code")), 403);
    assert_string_equal(message(&a), "pods \"p\" is forbidden: User \"alice\" cannot get resource "
                                     "\"pods\" in API group \"\" in the namespace \"s2\"");
    json_t *d = json_object_get(a.body, "details");
    assert_string_equal(json_string_value(json_object_get(d, "name")), "p");
    assert_string_equal(json_string_value(json_object_get(d, "kind")), "pods");
    done(&a);
    /* exec over GET (websocket) is authorized as create on pods/exec */
    a = call(k, "alice", NULL, "GET", "/api/v1/namespaces/s2/pods/p/exec", NULL);
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(message(&a), "cannot create resource \"pods/exec\""));
    done(&a);
    /* the token keeps its rights; alice works in s1 */
    a = call(k, NULL, NULL, "GET", "/api/v1/namespaces/s2/pods/p", NULL);
    assert_int_equal(a.status, 200);
    done(&a);
    a = call(k, "alice", NULL, "POST", "/api/v1/namespaces/s1/configmaps",
             "{\"metadata\": {\"name\": \"c\"}}");
    assert_int_equal(a.status, 201);
    done(&a);
    /* an empty user name is refused before anything */
    a = call(k, "", NULL, "GET", "/api/v1/namespaces/s1/pods", NULL);
    assert_int_equal(a.status, 400);
    done(&a);
    ksim_free(k);
}

static void test_escalation_and_reviews(void **state)
{
    (void)state;
    struct ksim *k = setup_sim(NULL);
    struct answer a =
        call(k, "alice", NULL, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/s1/roles",
             "{\"metadata\": {\"name\": \"all\"}, \"rules\": [{\"apiGroups\": "
             "[\"*\"], \"resources\": [\"*\"], \"verbs\": [\"*\"]}]}");
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(message(&a), "roles.rbac.authorization.k8s.io \"all\" is forbidden: "
                                        "user \"alice\" (groups=[\"system:authenticated\"]) is "
                                        "attempting to grant RBAC permissions not currently held"));
    done(&a);
    a = call(k, "alice", NULL, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/s1/roles",
             "{\"metadata\": {\"name\": \"read\"}, \"rules\": [{\"apiGroups\": [\"\"], "
             "\"resources\": [\"pods\"], \"verbs\": [\"get\"]}]}");
    assert_int_equal(a.status, 201);
    done(&a);
    a = call(k, "alice", "team", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
             "{\"apiVersion\": \"authorization.k8s.io/v1\", \"kind\": \"SelfSubjectAccessReview\", "
             "\"spec\": {\"resourceAttributes\": {\"namespace\": \"s2\", \"verb\": \"get\", "
             "\"resource\": \"pods\"}}}");
    assert_int_equal(a.status, 201);
    assert_true(json_is_false(json_object_get(json_object_get(a.body, "status"), "allowed")));
    done(&a);
    a = call(k, "alice", "team", "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
             "{\"apiVersion\": \"authentication.k8s.io/v1\", \"kind\": \"SelfSubjectReview\"}");
    assert_int_equal(a.status, 201);
    json_t *ui = json_object_get(json_object_get(a.body, "status"), "userInfo");
    assert_string_equal(json_string_value(json_object_get(ui, "username")), "alice");
    assert_string_equal(json_string_value(json_array_get(json_object_get(ui, "groups"), 0)),
                        "team");
    done(&a);
    /* a token for a ServiceAccount that alice's role does not cover */
    a = call(k, "alice", NULL, "POST", "/api/v1/namespaces/s1/serviceaccounts/default/token", "{}");
    assert_int_equal(a.status, 403);
    done(&a);
    a = call(k, NULL, NULL, "POST", "/api/v1/namespaces/s1/serviceaccounts/default/token", "{}");
    assert_int_equal(a.status, 201);
    assert_non_null(json_object_get(json_object_get(a.body, "status"), "token"));
    done(&a);
    ksim_free(k);
}

static const char *route_status(struct ksim *k, const char *ns, const char *name, char *buf,
                                size_t n)
{
    char path[200];
    snprintf(path, sizeof(path), "/apis/route.openshift.io/v1/namespaces/%s/routes/%s", ns, name);
    struct answer a = call(k, NULL, NULL, "GET", path, NULL);
    json_t *c = json_array_get(
        json_object_get(
            json_array_get(json_object_get(json_object_get(a.body, "status"), "ingress"), 0),
            "conditions"),
        0);
    snprintf(buf, n, "%s %s", json_string_value(json_object_get(c, "status")),
             json_string_value(json_object_get(c, "reason")) ?: "-");
    done(&a);
    return buf;
}

static void test_host_claims(void **state)
{
    (void)state;
    struct ksim *k = setup_sim(NULL);
    const char *route = "{\"metadata\": {\"name\": \"r\"}, \"spec\": {\"host\": \"h.example\", "
                        "\"to\": {\"kind\": \"Service\", \"name\": \"s\"}}}";
    char buf[100];
    must(k, "POST", "/apis/route.openshift.io/v1/namespaces/s2/routes", route, 201);
    assert_string_equal(route_status(k, "s2", "r", buf, sizeof(buf)), "True -");
    must(k, "POST", "/apis/route.openshift.io/v1/namespaces/s1/routes", route, 201);
    assert_string_equal(route_status(k, "s1", "r", buf, sizeof(buf)), "False HostAlreadyClaimed");
    /* the same namespace may add routes for its host */
    must(k, "POST", "/apis/route.openshift.io/v1/namespaces/s2/routes",
         "{\"metadata\": {\"name\": \"r2\"}, \"spec\": {\"host\": \"h.example\", \"path\": "
         "\"/x\", \"to\": {\"kind\": \"Service\", \"name\": \"s\"}}}",
         201);
    assert_string_equal(route_status(k, "s2", "r2", buf, sizeof(buf)), "True -");
    /* a tenant without routes/custom-host cannot choose a host; without one it gets one */
    struct answer a =
        call(k, "alice", NULL, "POST", "/apis/route.openshift.io/v1/namespaces/s1/routes",
             "{\"metadata\": {\"name\": \"mine\"}, \"spec\": {\"host\": \"x.example\", "
             "\"to\": {\"kind\": \"Service\", \"name\": \"s\"}}}");
    assert_int_equal(a.status, 422);
    assert_non_null(strstr(message(&a), "spec.host: Forbidden: you do not have permission to set "
                                        "the host field of the route"));
    done(&a);
    a = call(k, "alice", NULL, "POST", "/apis/route.openshift.io/v1/namespaces/s1/routes",
             "{\"metadata\": {\"name\": \"mine\"}, \"spec\": {\"to\": {\"kind\": \"Service\", "
             "\"name\": \"s\"}}}");
    assert_int_equal(a.status, 201);
    done(&a);
    /* an Ingress on a host another namespace's Route holds is refused */
    a = call(k, NULL, NULL, "POST", "/apis/networking.k8s.io/v1/namespaces/s1/ingresses",
             "{\"metadata\": {\"name\": \"i\"}, \"spec\": {\"rules\": [{\"host\": "
             "\"H.example\"}]}}");
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(message(&a), "host \"H.example\" is already claimed by routes s2/r"));
    done(&a);
    ksim_free(k);
}

static const char *policy =
    "{\"metadata\": {\"name\": \"no-foo\"}, \"spec\": {\"failurePolicy\": \"Fail\", "
    "\"matchConstraints\": {\"resourceRules\": [{\"apiGroups\": [\"\"], \"apiVersions\": "
    "[\"v1\"], \"operations\": [\"CREATE\"], \"resources\": [\"configmaps\"]}], "
    "\"namespaceSelector\": {\"matchLabels\": {\"t\": \"y\"}}}, \"validations\": "
    "[{\"expression\": \"!has(object.data)\"}]}}";
static const char *binding =
    "{\"metadata\": {\"name\": \"no-foo\"}, \"spec\": {\"policyName\": \"no-foo\", "
    "\"validationActions\": [\"Deny\"]}}";

static void add_policy(struct ksim *k)
{
    must(k, "POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies", policy,
         201);
    must(k, "POST", "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
         binding, 201);
}

static struct answer create_cm(struct ksim *k, const char *ns, const char *name)
{
    char path[100], body[200];
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    snprintf(body, sizeof(body), "{\"metadata\": {\"name\": \"%s\"}, \"data\": {\"a\": \"b\"}}",
             name);
    return call(k, "alice", NULL, "POST", path, body);
}

static void test_policy_without_evaluator(void **state)
{
    (void)state;
    struct ksim *k = setup_sim(NULL);
    add_policy(k);
    struct answer a = create_cm(k, "s1", "c1");
    assert_int_equal(a.status, 201);
    assert_non_null(strstr(a.warning, "ValidatingAdmissionPolicy 'no-foo' with binding 'no-foo' "
                                      "was NOT evaluated"));
    done(&a);
    ksim_free(k);
}

/* An evaluator written as a shell loop: answers each line with `reply` (or exits). */
static char *evaluator(const char *reply, char *buf, size_t n)
{
    snprintf(buf, n, "while read -r line; do %s; done", reply);
    return buf;
}

static void test_policy_evaluated(void **state)
{
    (void)state;
    char cmd[300];
    /* denies: the message names the policy, the binding and the evaluator's reason */
    struct ksim *k = setup_sim(evaluator(
        "echo '{\"allowed\": false, \"message\": \"no data\", \"reason\": \"Forbidden\"}'", cmd,
        sizeof(cmd)));
    add_policy(k);
    struct answer a = create_cm(k, "s1", "c1");
    assert_int_equal(a.status, 403);
    assert_string_equal(message(&a), "configmaps \"c1\" is forbidden: ValidatingAdmissionPolicy "
                                     "'no-foo' with binding 'no-foo' denied request: no data");
    done(&a);
    /* the namespaceSelector leaves s2 alone: not asked, allowed */
    must(k, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/s2/rolebindings",
         "{\"metadata\": {\"name\": \"u\"}, \"roleRef\": {\"apiGroup\": "
         "\"rbac.authorization.k8s.io\", \"kind\": \"ClusterRole\", \"name\": \"tenant\"}, "
         "\"subjects\": [{\"kind\": \"User\", \"name\": \"alice\"}]}",
         201);
    a = create_cm(k, "s2", "c1");
    assert_int_equal(a.status, 201);
    done(&a);
    ksim_free(k);
    /* allows */
    k = setup_sim(evaluator("echo '{\"allowed\": true}'", cmd, sizeof(cmd)));
    add_policy(k);
    a = create_cm(k, "s1", "c1");
    assert_int_equal(a.status, 201);
    assert_string_equal(a.warning, "");
    done(&a);
    ksim_free(k);
    /* an evaluator that dies: failurePolicy Fail refuses, with the cause */
    k = setup_sim("exit 3");
    add_policy(k);
    a = create_cm(k, "s1", "c1");
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(message(&a), "could not be evaluated: the CEL evaluator is gone"));
    done(&a);
    ksim_free(k);
    /* an evaluator error (e.g. a policy it cannot evaluate) refuses too */
    k = setup_sim(
        evaluator("echo '{\"error\": \"not evaluated: uses params\"}'", cmd, sizeof(cmd)));
    add_policy(k);
    a = create_cm(k, "s1", "c1");
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(message(&a), "not evaluated: uses params"));
    done(&a);
    ksim_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forbidden_status), cmocka_unit_test(test_escalation_and_reviews),
        cmocka_unit_test(test_host_claims),      cmocka_unit_test(test_policy_without_evaluator),
        cmocka_unit_test(test_policy_evaluated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
