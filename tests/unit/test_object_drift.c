/* Drift of an applied object: extra server-side fields are no drift; a changed, removed or
 * shortened field we set is, and the path names it. */
#include "core/object_drift.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

static json_t *parse(const char *s)
{
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        print_error("bad JSON: %s\n", je.text);
    assert_non_null(j);
    return j;
}

static void check_strict(const char *desired, const char *live, const char *strict, bool want,
                         const char *want_where)
{
    json_t *d = parse(desired), *l = parse(live);
    char where[256];
    bool got = object_drifted(d, l, strict, where, sizeof(where));
    if (got != want)
        print_error("drifted %d, want %d (where \"%s\")\n", got, want, where);
    assert_int_equal(got, want);
    assert_string_equal(where, want_where);
    json_decref(d);
    json_decref(l);
}

static void check(const char *desired, const char *live, bool want, const char *want_where)
{
    check_strict(desired, live, NULL, want, want_where);
}

#define NP_DESIRED                                                                                 \
    "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":"  \
    "\"allow-from-ingress\",\"namespace\":\"gpuaas-1\",\"labels\":{\"app.kubernetes.io/"           \
    "managed-by\":\"gpuaas\"}},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"w\"}},"       \
    "\"policyTypes\":[\"Ingress\"],\"ingress\":[{\"ports\":[{\"protocol\":\"TCP\",\"port\":"       \
    "8080}]}]}}"

static void test_same_with_server_fields(void **state)
{
    (void)state;
    check(NP_DESIRED,
          "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{"
          "\"name\":\"allow-from-ingress\",\"namespace\":\"gpuaas-1\",\"uid\":\"u\","
          "\"resourceVersion\":\"9\",\"generation\":1,\"managedFields\":[],\"labels\":{"
          "\"app.kubernetes.io/managed-by\":\"gpuaas\",\"extra\":\"x\"}},\"spec\":{"
          "\"podSelector\":{\"matchLabels\":{\"app\":\"w\"}},\"policyTypes\":[\"Ingress\"],"
          "\"ingress\":[{\"ports\":[{\"protocol\":\"TCP\",\"port\":8080}]}]}}",
          false, "");
}

static void test_changed_port(void **state)
{
    (void)state;
    check(NP_DESIRED,
          "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{"
          "\"name\":\"allow-from-ingress\",\"namespace\":\"gpuaas-1\",\"labels\":{"
          "\"app.kubernetes.io/managed-by\":\"gpuaas\"}},\"spec\":{\"podSelector\":{"
          "\"matchLabels\":{\"app\":\"w\"}},\"policyTypes\":[\"Ingress\"],\"ingress\":[{"
          "\"ports\":[{\"protocol\":\"TCP\",\"port\":1}]}]}}",
          true, ".spec.ingress[0].ports[0].port");
}

static void test_removed_label_and_rule(void **state)
{
    (void)state;
    check(NP_DESIRED,
          "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{"
          "\"name\":\"allow-from-ingress\",\"namespace\":\"gpuaas-1\"},\"spec\":{}}",
          true, ".metadata.labels");
    check("{\"spec\":{\"ingress\":[{\"a\":1},{\"b\":2}]}}", "{\"spec\":{\"ingress\":[{\"a\":1}]}}",
          true, ".spec.ingress");
    check("{\"spec\":{\"replicas\":1}}", "{\"spec\":{\"replicas\":0}}", true, ".spec.replicas");
}

static void test_numbers_and_types(void **state)
{
    (void)state;
    check("{\"a\":1}", "{\"a\":1.0}", false, "");
    check("{\"a\":\"1\"}", "{\"a\":1}", true, ".a");
    check("{\"a\":{}}", "{\"a\":{\"b\":1}}", false, "");
    check("{\"a\":[]}", "{\"a\":null}", true, ".a");
}

/* Below a strict path an added member is drift: a default deny given an allow-all rule. */
static void test_strict(void **state)
{
    (void)state;
    const char *deny = "{\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Ingress\"]}}";
    const char *opened = "{\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Ingress\"],"
                         "\"ingress\":[{}]}}";
    check_strict(deny, opened, NULL, false, "");
    check_strict(deny, opened, ".spec", true, ".spec.ingress");
    check_strict("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"hard\":{\"pods\":\"4\"}}}",
                 "{\"metadata\":{\"name\":\"a\",\"uid\":\"x\"},\"spec\":{\"hard\":{\"pods\":\"4\","
                 "\"cpu\":\"1\"}}}",
                 ".spec", true, ".spec.hard.cpu");
    check_strict(
        "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"a\":[{\"b\":1}]}}",
        "{\"metadata\":{\"name\":\"a\",\"uid\":\"x\"},\"spec\":{\"a\":[{\"b\":1,\"c\":2}]}}",
        ".spec", true, ".spec.a[0].c");
    check_strict("{\"spec\":{\"x\":1}}", "{\"spec\":{\"x\":1},\"status\":{}}", ".spec", false, "");
    assert_string_equal(object_drift_strict_path("NetworkPolicy"), ".spec");
    assert_null(object_drift_strict_path("Deployment"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_with_server_fields),
        cmocka_unit_test(test_changed_port),
        cmocka_unit_test(test_removed_label_and_rule),
        cmocka_unit_test(test_numbers_and_types),
        cmocka_unit_test(test_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
