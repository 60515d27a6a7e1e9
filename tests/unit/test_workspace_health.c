/* The workspace's health read from cluster status: one case per file in
 * tests/data/workspace-health/ ({deployment, pods, want: {health, code, reason: [substrings]}}),
 * the objects shaped as the deployment controller, the scheduler and the kubelet write them and
 * validated against the Kubernetes OpenAPI definitions, so that the cases stay real. */
#include "core/workspace_health.h"
#include "openapi_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CASES_DIR "tests/data/workspace-health"

static void validate(const struct oapi *o, json_t *obj, const char *file)
{
    char msg[1024];
    if (!obj || json_is_null(obj))
        return;
    if (oapi_validate(o, obj, msg, sizeof(msg))) {
        print_error("%s: not a valid object: %s\n", file, msg);
        fail();
    }
}

static void run_case(const struct oapi *o, const char *file)
{
    char path[512];
    json_error_t je;
    snprintf(path, sizeof(path), "%s/%s", CASES_DIR, file);
    json_t *c = json_load_file(path, 0, &je);
    if (!c) {
        print_error("%s: %s\n", path, je.text);
        fail();
    }
    json_t *dep = json_object_get(c, "deployment");
    json_t *pods = json_object_get(c, "pods");
    validate(o, dep, file);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(pods, "items"), i, p) validate(o, p, file);

    struct ws_verdict v;
    workspace_health(json_is_null(dep) ? NULL : dep, pods, &v);
    json_t *want = json_object_get(c, "want");
    const char *health = json_string_value(json_object_get(want, "health"));
    if (strcmp(ws_health_name(v.health), health)) {
        print_error("%s: health %s, want %s (reason \"%s\")\n", file, ws_health_name(v.health),
                    health, v.reason);
        fail();
    }
    json_t *sub;
    json_array_foreach(json_object_get(want, "reason"), i, sub)
    {
        if (!strstr(v.reason, json_string_value(sub))) {
            print_error("%s: reason \"%s\" lacks \"%s\"\n", file, v.reason, json_string_value(sub));
            fail();
        }
    }
    /* the token counted by the reconciler's metrics (null when ready) */
    json_t *code = json_object_get(want, "code");
    if (!code || (json_is_null(code) ? v.code != NULL
                                     : !v.code || strcmp(v.code, json_string_value(code)))) {
        print_error("%s: code %s, want %s\n", file, v.code ? v.code : "null",
                    code ? (json_is_null(code) ? "null" : json_string_value(code)) : "(missing)");
        fail();
    }
    if (v.health == WS_READY)
        assert_string_equal(v.reason, "");
    json_decref(c);
}

static void test_cases(void **state)
{
    (void)state;
    char msg[1024];
    struct oapi *o = NULL;
    if (oapi_load_dir(GPUAAS_OPENAPI_SRC_DIR, &o, msg, sizeof(msg))) {
        print_error("cannot load the OpenAPI definitions: %s\n", msg);
        fail();
    }
    DIR *d = opendir(CASES_DIR);
    assert_non_null(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
            continue;
        run_case(o, de->d_name);
        n++;
    }
    closedir(d);
    oapi_free(o);
    assert_true(n >= 10);
}

/* Inputs missing or malformed never crash and never read as ready. */
static void test_garbage(void **state)
{
    (void)state;
    struct ws_verdict v;
    json_t *dep = json_pack("{s:{s:[{s:s}]}}", "status", "conditions", "type", "Available");
    workspace_health(dep, NULL, &v);
    assert_int_equal(v.health, WS_STARTING);
    json_t *odd = json_pack("{s:[i, s, {s:i}]}", "items", 1, "x", "status", 3);
    workspace_health(dep, odd, &v);
    assert_int_equal(v.health, WS_STARTING);
    workspace_health(NULL, NULL, &v);
    assert_int_equal(v.health, WS_FAILING);
    json_decref(dep);
    json_decref(odd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
