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

static void check(const char *desired, const char *live, bool want, const char *want_where)
{
    json_t *d = parse(desired), *l = parse(live);
    char where[256];
    bool got = object_drifted(d, l, where, sizeof(where));
    if (got != want)
        print_error("drifted %d, want %d (where \"%s\")\n", got, want, where);
    assert_int_equal(got, want);
    assert_string_equal(where, want_where);
    json_decref(d);
    json_decref(l);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_with_server_fields),
        cmocka_unit_test(test_changed_port),
        cmocka_unit_test(test_removed_label_and_rule),
        cmocka_unit_test(test_numbers_and_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
