/* The API double's parsers: OpenAPI strict validation, YAML to JSON, quantities. */
#include "kubesim/quantity.h"
#include "kubesim/schema.h"
#include "common/yaml_json.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *defs_json =
    "{\"t.Obj\": {\"type\": \"object\", \"properties\": {"
    "  \"apiVersion\": {\"type\": \"string\"}, \"kind\": {\"type\": \"string\"},"
    "  \"spec\": {\"$ref\": \"#/definitions/t.Spec\"}}},"
    " \"t.Spec\": {\"type\": \"object\", \"properties\": {"
    "  \"replicas\": {\"type\": \"integer\", \"format\": \"int32\"},"
    "  \"port\": {\"$ref\": \"#/definitions/t.IntOrString\"},"
    "  \"hard\": {\"type\": \"object\", \"additionalProperties\": "
    "     {\"$ref\": \"#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity\"}},"
    "  \"items\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/definitions/t.Item\"}},"
    "  \"raw\": {\"type\": \"object\"}}},"
    " \"t.Item\": {\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"},"
    "  \"on\": {\"type\": \"boolean\"}}},"
    " \"t.IntOrString\": {\"type\": \"string\", \"format\": \"int-or-string\"},"
    " \"io.k8s.apimachinery.pkg.api.resource.Quantity\": {\"type\": \"string\"}}";

static struct ksim_schema *schema(void)
{
    json_t *defs = json_loads(defs_json, 0, NULL);
    assert_non_null(defs);
    struct ksim_schema *s = ksim_schema_from_definitions(defs);
    json_decref(defs);
    return s;
}

static int check(struct ksim_schema *s, const char *obj_json, struct error *err)
{
    json_t *obj = json_loads(obj_json, 0, NULL);
    assert_non_null(obj);
    int rc = ksim_schema_validate(s, "t.Obj", obj, err);
    json_decref(obj);
    return rc;
}

static void test_valid_objects(void **state)
{
    struct ksim_schema *s = schema();
    struct error err = {0};
    assert_int_equal(check(s, "{\"spec\": {\"replicas\": 2, \"port\": 80}}", &err), 0);
    assert_int_equal(check(s,
                           "{\"spec\": {\"port\": \"http\", \"hard\": {\"cpu\": \"500m\", "
                           "\"pods\": 4}, \"items\": [{\"name\": \"a\", \"on\": true}]}}",
                           &err),
                     0);
    assert_int_equal(check(s, "{\"spec\": {\"raw\": {\"anything\": [1, {\"x\": null}]}}}", &err),
                     0);
    assert_int_equal(check(s, "{\"spec\": {\"replicas\": null}}", &err), 0);
    ksim_schema_free(s);
}

static void test_unknown_fields(void **state)
{
    struct ksim_schema *s = schema();
    struct error err = {0};
    assert_int_equal(
        check(s, "{\"spec\": {\"foo\": 1, \"items\": [{\"name\": \"a\"}, {\"bar\": 1}]}}", &err),
        -ERR_INVALID);
    assert_string_equal(err.message, "strict decoding error: unknown field \"spec.foo\", unknown "
                                     "field \"spec.items[1].bar\"");
    assert_string_equal(err.field, "spec.foo");
    assert_int_equal(check(s, "{\"top\": 1}", &err), -ERR_INVALID);
    assert_string_equal(err.message, "strict decoding error: unknown field \"top\"");
    ksim_schema_free(s);
}

static void test_type_errors(void **state)
{
    struct ksim_schema *s = schema();
    struct error err = {0};
    assert_int_equal(check(s, "{\"spec\": {\"replicas\": \"2\"}}", &err), -ERR_INVALID);
    assert_string_equal(err.message, "json: cannot unmarshal string into Go struct field "
                                     "Spec.spec.replicas of type int32");
    assert_int_equal(check(s, "{\"spec\": {\"items\": {\"name\": \"a\"}}}", &err), -ERR_INVALID);
    assert_string_equal(err.message, "json: cannot unmarshal object into Go struct field "
                                     "Spec.spec.items of type []t.Item");
    assert_int_equal(check(s, "{\"spec\": {\"port\": true}}", &err), -ERR_INVALID);
    assert_int_equal(check(s, "{\"spec\": {\"items\": [{\"on\": \"yes\"}]}}", &err), -ERR_INVALID);
    assert_string_equal(err.message, "json: cannot unmarshal string into Go struct field "
                                     "Item.spec.items.on of type bool");
    assert_int_equal(check(s, "{\"spec\": {\"hard\": {\"cpu\": \"lots\"}}}", &err), -ERR_INVALID);
    assert_non_null(strstr(err.message, "quantities must match the regular expression"));
    assert_int_equal(check(s, "{\"spec\": {\"replicas\": 1.5}}", &err), -ERR_INVALID);
    ksim_schema_free(s);
}

/* The real Kubernetes and OpenShift definitions shipped in third_party/openapi. */
static void test_real_definitions(void **state)
{
    const char *dir = GPUAAS_OPENAPI_SRC_DIR;
    struct ksim_schema *s = NULL;
    struct error err = {0};
    if (ksim_schema_load(dir, &s, &err))
        fail_msg("cannot load %s: %s", dir, err.message);
    json_t *pod = json_loads(
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":"
        "\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":[{"
        "\"containerPort\":80}],\"resources\":{\"limits\":{\"nvidia.com/gpu\":1,\"memory\":"
        "\"1Gi\"}}}]}}",
        0, NULL);
    assert_int_equal(ksim_schema_validate(s, "io.k8s.api.core.v1.Pod", pod, &err), 0);
    json_object_set_new(json_object_get(pod, "spec"), "containerz", json_array());
    assert_int_equal(ksim_schema_validate(s, "io.k8s.api.core.v1.Pod", pod, &err), -ERR_INVALID);
    assert_string_equal(err.message, "strict decoding error: unknown field \"spec.containerz\"");
    json_decref(pod);
    json_t *route = json_loads("{\"spec\":{\"host\":\"h\",\"to\":{\"kind\":\"Service\",\"name\":"
                               "\"s\"},\"port\":{\"targetPort\":\"http\"}}}",
                               0, NULL);
    assert_int_equal(
        ksim_schema_validate(s, "com.github.openshift.api.route.v1.Route", route, &err), 0);
    json_decref(route);
    /* the Gateway API's HTTPRoute (sessions with reconciler.expose httproute) and Gateway */
    const char *hr_def = "io.k8s.networking.gateway.v1.HTTPRoute";
    json_t *hr = json_loads("{\"spec\":{\"parentRefs\":[{\"name\":\"gw\",\"namespace\":\"g\"}],"
                            "\"hostnames\":[\"a.example.com\"],\"rules\":[{\"backendRefs\":[{"
                            "\"name\":\"workspace\",\"port\":8090}]}]}}",
                            0, NULL);
    assert_int_equal(ksim_schema_validate(s, hr_def, hr, &err), 0);
    json_t *be = json_array_get(
        json_object_get(json_array_get(json_object_get(json_object_get(hr, "spec"), "rules"), 0),
                        "backendRefs"),
        0);
    json_object_set_new(be, "prot", json_integer(8090));
    assert_int_equal(ksim_schema_validate(s, hr_def, hr, &err), -ERR_INVALID);
    assert_non_null(strstr(err.message, "prot"));
    json_object_del(be, "prot");
    json_object_set_new(be, "port", json_string("gate"));
    assert_int_equal(ksim_schema_validate(s, hr_def, hr, &err), -ERR_INVALID);
    json_decref(hr);
    json_t *gw = json_loads("{\"spec\":{\"gatewayClassName\":\"c\",\"listeners\":[{\"name\":"
                            "\"sessions\",\"protocol\":\"HTTPS\",\"port\":443,\"allowedRoutes\":{"
                            "\"namespaces\":{\"from\":\"Selector\"}}}]}}",
                            0, NULL);
    assert_int_equal(ksim_schema_validate(s, "io.k8s.networking.gateway.v1.Gateway", gw, &err), 0);
    json_decref(gw);
    ksim_schema_free(s);
}

static void test_yaml(void **state)
{
    const char *y = "a: 1\nb: \"2\"\nc: true\nd: ~\ne: [x, 1.5]\nf: {g: h}\nk: 0x1F\n";
    json_t *v = NULL;
    struct error err = {0};
    assert_int_equal(yaml_to_json(y, strlen(y), "t", &v, &err), 0);
    char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(d, "{\"a\":1,\"b\":\"2\",\"c\":true,\"d\":null,\"e\":[\"x\",1.5],\"f\":{"
                           "\"g\":\"h\"},\"k\":\"0x1F\"}");
    free(d);
    json_decref(v);
    const char *j = "{\"x\": [1, \"y\"]}";
    assert_int_equal(yaml_to_json(j, strlen(j), "t", &v, &err), 0);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(v, "x"), 0)), 1);
    json_decref(v);
    const char *bad = "a: [1, 2\n";
    assert_int_equal(yaml_to_json(bad, strlen(bad), "t", &v, &err), -ERR_INVALID);
    const char *alias = "a: &x 1\nb: *x\n";
    assert_int_equal(yaml_to_json(alias, strlen(alias), "t", &v, &err), -ERR_INVALID);
    const char *dup = "a: 1\na: 2\n";
    assert_int_equal(yaml_to_json(dup, strlen(dup), "t", &v, &err), -ERR_INVALID);
    const char *typed = "s: '5'\nn: NULL\ni: .inf\nm: -3\nr: +2.5e1\n";
    assert_int_equal(yaml_to_json(typed, strlen(typed), "t", &v, &err), 0);
    d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(d, "{\"i\":\".inf\",\"m\":-3,\"n\":null,\"r\":25.0,\"s\":\"5\"}");
    free(d);
    json_decref(v);
}

static void test_quantity(void **state)
{
    int64_t m;
    char buf[48];
    assert_int_equal(ksim_qty_parse("500m", &m), 0);
    assert_int_equal(m, 500);
    assert_int_equal(ksim_qty_parse("2", &m), 0);
    assert_int_equal(m, 2000);
    assert_int_equal(ksim_qty_parse("1.5", &m), 0);
    assert_int_equal(m, 1500);
    assert_int_equal(ksim_qty_parse("20Gi", &m), 0);
    assert_int_equal(m, 20LL * 1024 * 1024 * 1024 * 1000);
    assert_int_equal(ksim_qty_parse("1k", &m), 0);
    assert_int_equal(m, 1000000);
    assert_int_equal(ksim_qty_parse("1e3", &m), 0);
    assert_int_equal(m, 1000000);
    assert_int_equal(ksim_qty_parse("300Gi", &m), 0);
    assert_string_equal(ksim_qty_format(m, buf, sizeof(buf)), "300Gi");
    assert_string_equal(ksim_qty_format(1000, buf, sizeof(buf)), "1");
    assert_string_equal(ksim_qty_format(250, buf, sizeof(buf)), "250m");
    assert_string_equal(ksim_qty_format(0, buf, sizeof(buf)), "0");
    assert_int_equal(ksim_qty_parse("lots", &m), -ERR_INVALID);
    assert_int_equal(ksim_qty_parse("", &m), -ERR_INVALID);
    assert_int_equal(ksim_qty_parse("1Qi", &m), -ERR_INVALID);
    assert_int_equal(ksim_qty_parse("99999999999999999999", &m), -ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_objects), cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_type_errors),   cmocka_unit_test(test_real_definitions),
        cmocka_unit_test(test_yaml),          cmocka_unit_test(test_quantity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
