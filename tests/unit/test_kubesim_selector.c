/* Label and field selectors of the API double: grammar, matching, and malformed input. */
#include "kubesim/selector.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

static int matches(const char *sel_text, const char *labels_json)
{
    struct ksim_selector sel;
    struct error err = {0};
    assert_int_equal(ksim_selector_parse(sel_text, &sel, &err), 0);
    json_t *labels = json_loads(labels_json, 0, NULL);
    int m = ksim_selector_match(&sel, labels);
    json_decref(labels);
    return m;
}

static void test_operators(void **state)
{
    const char *l = "{\"app.kubernetes.io/managed-by\": \"gpuaas\", \"tier\": \"gpu\"}";
    assert_true(matches("", l));
    assert_true(matches(NULL, l));
    assert_true(matches("app.kubernetes.io/managed-by=gpuaas", l));
    assert_true(matches("tier==gpu", l));
    assert_false(matches("tier=cpu", l));
    assert_true(matches("tier!=cpu", l));
    assert_false(matches("tier!=gpu", l));
    assert_true(matches("missing!=x", l));
    assert_true(matches("tier in (cpu, gpu)", l));
    assert_false(matches("tier in (cpu)", l));
    assert_false(matches("missing in (x)", l));
    assert_true(matches("tier notin (cpu)", l));
    assert_false(matches("tier notin (cpu,gpu)", l));
    assert_true(matches("missing notin (x)", l));
    assert_true(matches("tier", l));
    assert_false(matches("missing", l));
    assert_true(matches("!missing", l));
    assert_false(matches("!tier", l));
    assert_true(matches("tier=gpu, app.kubernetes.io/managed-by in (gpuaas),!x", l));
    assert_false(matches("tier=gpu,x", l));
    assert_false(matches("tier", "{}"));
}

static void test_malformed(void **state)
{
    struct ksim_selector sel;
    struct error err = {0};
    assert_int_equal(ksim_selector_parse("tier in cpu", &sel, &err), -ERR_INVALID);
    assert_int_equal(ksim_selector_parse("tier in (cpu", &sel, &err), -ERR_INVALID);
    assert_int_equal(ksim_selector_parse("a=b,", &sel, &err), -ERR_INVALID);
    assert_int_equal(ksim_selector_parse("=b", &sel, &err), -ERR_INVALID);
    assert_int_equal(ksim_selector_parse("a=b c", &sel, &err), -ERR_INVALID);
    char big[4000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(ksim_selector_parse(big, &sel, &err), -ERR_INVALID);
    char many[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(many, i ? ",k" : "k");
    assert_int_equal(ksim_selector_parse(many, &sel, &err), -ERR_INVALID);
}

static void test_fields(void **state)
{
    struct ksim_selector sel;
    struct error err = {0};
    json_t *obj = json_loads("{\"metadata\": {\"name\": \"p\", \"namespace\": \"n\"}, "
                             "\"status\": {\"phase\": \"Running\"}}",
                             0, NULL);
    assert_int_equal(ksim_selector_parse("metadata.name=p,status.phase!=Failed", &sel, &err), 0);
    assert_true(ksim_selector_match_fields(&sel, obj));
    assert_int_equal(ksim_selector_parse("metadata.namespace=other", &sel, &err), 0);
    assert_false(ksim_selector_match_fields(&sel, obj));
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operators),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
