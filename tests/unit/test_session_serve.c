/* What the workspace gets beside the plan's objects: NO_PROXY always names the cluster-internal
 * names (and keeps the configured ones, without duplicates), the ConfigMap gpuaas-serve reads
 * (engine images from the configuration, the booked GPU, the mounts), and `config check`'s
 * warning for a workspace image nobody publishes. */
#include "core/config.h"
#include "core/pool.h"
#include "core/reservation.h"
#include "core/session_plan.h"
#include "core/session_serve.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

static struct config *load(const char *platform)
{
    struct config *c = NULL;
    struct error err = {0};
    assert_int_equal(config_load_file("config/gpuaas.example.yaml", &c, &err), 0);
    assert_int_equal(config_set_string(&c->reconciler.platform, platform), 0);
    return c;
}

static void test_no_proxy_defaults(void **state)
{
    (void)state;
    struct config *c = load("kubernetes");
    char buf[512];
    assert_int_equal(config_set_string(&c->reconciler.no_proxy, ""), 0);
    assert_int_equal(session_no_proxy(c, "gpuaas-7", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "localhost,127.0.0.1,::1,.svc,.cluster.local,.gpuaas-7.svc");
    /* configured entries first, the defaults it already has not repeated */
    assert_int_equal(config_set_string(&c->reconciler.no_proxy, "10.0.0.0/8, .svc ,.corp.example"),
                     0);
    assert_int_equal(session_no_proxy(c, "gpuaas-7", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "10.0.0.0/8, .svc ,.corp.example,localhost,127.0.0.1,::1,"
                             ".cluster.local,.gpuaas-7.svc");
    /* ".svcx" is not ".svc" */
    assert_int_equal(config_set_string(&c->reconciler.no_proxy, ".svcx"), 0);
    assert_int_equal(session_no_proxy(c, "ns", buf, sizeof(buf)), 0);
    assert_non_null(strstr(buf, ",.svc,"));
    assert_int_equal(session_no_proxy(c, "ns", buf, 20), -ERR_INVALID);
    config_free(c);
}

static struct session_object const *plan_object(struct session_plan *plan, struct config *c,
                                                struct pool *p, struct reservation *r,
                                                const char *step)
{
    struct error err = {0};
    assert_int_equal(pool_derive(c, p, &err), 0);
    assert_int_equal(session_plan_build(r, c, p, plan, &err), 0);
    const struct session_object *o = session_plan_find(plan, step);
    assert_non_null(o);
    return o;
}

static void reservation(struct reservation *r, const char *gpu)
{
    memset(r, 0, sizeof(*r));
    r->id = 7;
    snprintf(r->user, sizeof(r->user), "alice");
    snprintf(r->gpu_type, sizeof(r->gpu_type), "%s", gpu);
    r->gpu_count = 1;
    r->mode = MODE_INFERENCE;
    r->state = RS_APPROVED;
}

static void test_plan_proxy_configmap(void **state)
{
    (void)state;
    struct config *c = load("openshift");
    struct pool p;
    struct reservation r;
    struct session_plan plan;
    reservation(&r, "nvidia.com/gpu");
    const struct session_object *o = plan_object(&plan, c, &p, &r, "configmap-proxy");
    json_t *data = json_object_get(o->obj, "data");
    /* no proxy configured: NO_PROXY is there all the same (a user's own proxy variables) */
    assert_null(json_object_get(data, "HTTP_PROXY"));
    assert_string_equal(json_string_value(json_object_get(data, "no_proxy")),
                        "localhost,127.0.0.1,::1,.svc,.cluster.local,.gpuaas-7.svc");
    assert_string_equal(json_string_value(json_object_get(data, "NO_PROXY")),
                        "localhost,127.0.0.1,::1,.svc,.cluster.local,.gpuaas-7.svc");
    session_plan_free(&plan);
    config_free(c);
}

static void test_plan_serve_configmap(void **state)
{
    (void)state;
    struct config *c = load("kubernetes");
    struct pool p;
    struct reservation r;
    struct session_plan plan;
    c->cache.enabled = true;
    assert_int_equal(config_set_string(&c->cache.store_dir, "/var/lib/gpuaas/cache"), 0);
    assert_int_equal(
        config_set_string(&c->reconciler.serve_vllm_image, "mirror.corp:5000/vllm/vllm-openai:v1"),
        0);
    reservation(&r, "nvidia.com/mig-1g.24gb");
    const struct session_object *o = plan_object(&plan, c, &p, &r, "configmap-serve");
    assert_string_equal(o->name, SESSION_SERVE_CONFIGMAP);
    assert_true(o->quota_counted);
    json_t *d = json_object_get(o->obj, "data");
    struct {
        const char *k, *v;
    } want[] = {{"vllm_image", "mirror.corp:5000/vllm/vllm-openai:v1"},
                {"ollama_image", "docker.io/ollama/ollama:0.6.8"},
                {"gpu_resource", "nvidia.com/mig-1g.24gb"},
                {"home_claim", SESSION_PVC_HOME},
                {"home_mount", "/home/workspace"},
                {"models_claim", SESSION_PVC_MODELS},
                {"models_mount", "/models"},
                {"proxy_configmap", SESSION_PROXY_CONFIGMAP},
                {"run_as_user", "1000"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *got = json_string_value(json_object_get(d, want[i].k));
        assert_non_null(got);
        assert_string_equal(got, want[i].v);
    }
    /* the ConfigMap comes before the workspace Deployment that runs gpuaas-serve */
    int cm = -1, dep = -1;
    for (int i = 0; i < plan.n; i++) {
        if (!strcmp(plan.objs[i].step, "configmap-serve"))
            cm = i;
        if (!strcmp(plan.objs[i].step, "deployment"))
            dep = i;
    }
    assert_true(cm >= 0 && dep > cm);
    session_plan_free(&plan);
    /* OpenShift assigns the UID; without the node cache there is no models mount */
    assert_int_equal(config_set_string(&c->reconciler.platform, "openshift"), 0);
    c->cache.enabled = false;
    o = plan_object(&plan, c, &p, &r, "configmap-serve");
    d = json_object_get(o->obj, "data");
    assert_string_equal(json_string_value(json_object_get(d, "run_as_user")), "");
    assert_string_equal(json_string_value(json_object_get(d, "models_mount")), "");
    session_plan_free(&plan);
    config_free(c);
}

/* the image listens where the plan points the Service, probe and NetworkPolicy */
static void test_plan_workspace_port(void **state)
{
    (void)state;
    struct config *c = load("kubernetes");
    struct pool p;
    struct reservation r;
    struct session_plan plan;
    c->reconciler.workspace_port = 9999;
    reservation(&r, "nvidia.com/gpu");
    const struct session_object *o = plan_object(&plan, c, &p, &r, "deployment");
    json_t *ctr = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(o->obj, "spec"), "template"), "spec"),
            "containers"),
        0);
    const char *got = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(ctr, "env"), i, e)
    {
        if (!strcmp(json_string_value(json_object_get(e, "name")), "GPUAAS_WORKSPACE_PORT"))
            got = json_string_value(json_object_get(e, "value"));
    }
    assert_non_null(got);
    assert_string_equal(got, "9999");
    session_plan_free(&plan);
    config_free(c);
}

static void test_workspace_image_placeholders(void **state)
{
    (void)state;
    struct config *c = load("openshift");
    struct error err = {0};
    /* the default: the image the OpenShift install builds */
    assert_int_equal(session_check_workspace_image(c, &err), 0);
    assert_int_equal(config_set_string(&c->reconciler.platform, "kubernetes"), 0);
    assert_int_equal(session_check_workspace_image(c, &err), -ERR_INVALID);
    assert_string_equal(err.field, "reconciler.workspace_image");
    assert_non_null(strstr(err.message, "deploy/workspace/Containerfile"));
    const char *bad[] = {"registry.example.com/gpuaas/workspace:0.1.0",
                         "quay.io/gpuaas/workspace:latest", "quay.io/gpuaas/workspace:2025.1",
                         "harbor.example.org/ml/workspace:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(config_set_string(&c->reconciler.workspace_image, bad[i]), 0);
        assert_int_equal(session_check_workspace_image(c, &err), -ERR_INVALID);
        assert_non_null(strstr(err.message, bad[i]));
    }
    const char *good[] = {"registry.corp.local:5000/gpuaas/workspace:0.1.0",
                          "quay.io/acme/workspace:1", "notexample.com/workspace:1"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(config_set_string(&c->reconciler.workspace_image, good[i]), 0);
        assert_int_equal(session_check_workspace_image(c, &err), 0);
    }
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_proxy_defaults),
        cmocka_unit_test(test_plan_proxy_configmap),
        cmocka_unit_test(test_plan_serve_configmap),
        cmocka_unit_test(test_plan_workspace_port),
        cmocka_unit_test(test_workspace_image_placeholders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
