/* Advertised-capacity check with Kubernetes Node objects: success, pending, degraded,
 * missing node, `single` strategy naming, and the kv JSON round trip. */
#include "core/advertised.h"
#include "core/config.h"
#include "core/pool.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct adv_report rep;

static void check(const char *config_path, const char *nodes_path, struct pool *p)
{
    struct config *c = NULL;
    struct error err = {0};
    json_error_t je;
    json_t *nodes = json_load_file(nodes_path, 0, &je);
    if (!nodes)
        fail_msg("%s: %s", nodes_path, je.text);
    if (config_load_file(config_path, &c, &err) < 0 || pool_derive(c, p, &err) < 0 ||
        adv_check(c, nodes, p, &rep, &err) < 0)
        fail_msg("%s", err.message);
    json_decref(nodes);
    config_free(c);
}

static const struct adv_node_res *res(const struct adv_node *n, const char *name)
{
    for (int i = 0; i < n->n_res; i++)
        if (!strcmp(n->res[i].name, name))
            return &n->res[i];
    fail_msg("node %s lacks %s", n->name, name);
    return NULL;
}

static void test_success(void **state)
{
    struct pool p;
    check("config/gpuaas.example.yaml", "tests/data/nodes/success.json", &p);
    assert_int_equal(rep.n_nodes, 1);
    const struct adv_node *n = &rep.nodes[0];
    assert_true(n->found);
    assert_true(n->trusted);
    assert_string_equal(n->state, "success");
    assert_string_equal(n->mig_config, n->expected_mig_config);
    const struct adv_node_res *g = res(n, "nvidia.com/gpu"), *m = res(n, "nvidia.com/mig-1g.24gb");
    assert_int_equal(g->configured, 1);
    assert_int_equal(g->allocatable, 4);
    assert_int_equal(g->advertised, 1);
    assert_false(g->degraded);
    assert_int_equal(m->configured, 4);
    assert_int_equal(m->allocatable, 8);
    assert_int_equal(m->advertised, 4);
    assert_false(m->degraded);
    assert_int_equal(pool_find(&p, "nvidia.com/gpu")->advertised, 1);
    assert_int_equal(pool_find(&p, "nvidia.com/mig-1g.24gb")->advertised, 4);
    assert_int_equal(pool_bookable(pool_find(&p, "nvidia.com/mig-1g.24gb")), 4);
    assert_int_equal(pool_find(&p, "cpu")->advertised, -1);

    json_t *j = adv_to_json(&rep, &p, 1732521600);
    assert_non_null(j);
    assert_false(json_is_true(json_object_get(j, "degraded")));
    assert_int_equal(json_integer_value(json_object_get(j, "observed_at")), 1732521600);
    json_t *r1 = json_array_get(json_object_get(j, "resources"), 1);
    assert_string_equal(json_string_value(json_object_get(r1, "name")), "nvidia.com/gpu");
    assert_int_equal(json_integer_value(json_object_get(r1, "configured_slots")), 4);
    assert_int_equal(json_integer_value(json_object_get(r1, "advertised_slots")), 4);
    json_decref(j);
}

static void test_pending(void **state)
{
    struct pool p;
    check("config/gpuaas.example.yaml", "tests/data/nodes/pending.json", &p);
    const struct adv_node *n = &rep.nodes[0];
    assert_true(n->found);
    assert_false(n->trusted); /* allocatable says 8, but mig-manager is still at work */
    assert_string_equal(n->state, "pending");
    assert_int_equal(res(n, "nvidia.com/mig-1g.24gb")->allocatable, 8);
    assert_int_equal(res(n, "nvidia.com/mig-1g.24gb")->advertised, 0);
    assert_true(res(n, "nvidia.com/gpu")->degraded);
    assert_int_equal(pool_bookable(pool_find(&p, "nvidia.com/mig-1g.24gb")), 0);
    json_t *j = adv_to_json(&rep, &p, 1);
    assert_true(json_is_true(json_object_get(j, "degraded")));
    json_decref(j);
}

static void test_degraded(void **state)
{
    struct pool p;
    check("config/gpuaas.example.yaml", "tests/data/nodes/degraded.json", &p);
    const struct adv_node *n = &rep.nodes[0];
    assert_true(n->trusted);
    const struct adv_node_res *m = res(n, "nvidia.com/mig-1g.24gb");
    assert_int_equal(m->advertised, 3);
    assert_true(m->degraded);
    assert_false(res(n, "nvidia.com/gpu")->degraded);
    const struct pool_resource *pm = pool_find(&p, "nvidia.com/mig-1g.24gb");
    assert_int_equal(pm->advertised, 3);
    assert_int_equal(pool_bookable(pm), 3);

    /* the kv document carries it to another process's pool */
    json_t *j = adv_to_json(&rep, &p, 1);
    char *text = json_dumps(j, 0);
    json_decref(j);
    struct config *c = NULL;
    struct error err = {0};
    struct pool q;
    assert_int_equal(config_load_file("config/gpuaas.example.yaml", &c, &err), 0);
    assert_int_equal(pool_derive(c, &q, &err), 0);
    json_t *back = json_loads(text, 0, NULL);
    assert_int_equal(adv_apply(&q, back, &err), 0);
    assert_int_equal(pool_find(&q, "nvidia.com/mig-1g.24gb")->advertised, 3);
    assert_int_equal(pool_find(&q, "nvidia.com/gpu")->advertised, 1);
    json_decref(back);
    back =
        json_loads("{\"version\":1,\"resources\":[{\"name\":\"x\",\"advertised\":-1}]}", 0, NULL);
    assert_int_equal(adv_apply(&q, back, &err), -ERR_INVALID);
    json_decref(back);
    free(text);
    config_free(c);
}

/* A configured node the cluster does not have counts 0. A node switched to the `single`
 * strategy by hand advertises its slices as nvidia.com/gpu.shared, a name no session of a
 * MIG type requests: the MIG resource counts 0 there and is degraded. */
static void test_missing_and_single(void **state)
{
    const char *cfg =
        "sharing:\n  mig_replicas: 2\n  rename_by_default: true\npool:\n  nodes:\n"
        "    - name: a100-b\n      cpu: 1\n      memory_gib: 1\n      storage_gib: 1\n"
        "      gpus:\n        - {model: NVIDIA A100-SXM4-40GB, memory_gib: 40, mig: "
        "{1g.5gb: 7}}\n"
        "    - name: gone\n      cpu: 1\n      memory_gib: 1\n      storage_gib: 1\n"
        "      gpus:\n        - {model: Tesla T4, memory_gib: 16, whole: true}\n";
    const char *nodes =
        "{\"kind\":\"NodeList\",\"items\":[{\"metadata\":{\"name\":\"a100-b\",\"labels\":{"
        "\"nvidia.com/mig.config.state\":\"success\"}},\"status\":{\"allocatable\":{"
        "\"nvidia.com/gpu.shared\":\"14\",\"nvidia.com/gpu\":\"0\"}}}]}";
    struct config *c = NULL;
    struct error err = {0};
    struct pool p;
    assert_int_equal(config_load_string(cfg, strlen(cfg), "t", &c, &err), 0);
    assert_int_equal(pool_derive(c, &p, &err), 0);
    json_t *j = json_loads(nodes, 0, NULL);
    assert_int_equal(adv_check(c, j, &p, &rep, &err), 0);
    const struct adv_node_res *m = res(&rep.nodes[0], "nvidia.com/mig-1g.5gb.shared");
    assert_string_equal(m->k8s_name, "nvidia.com/mig-1g.5gb.shared");
    assert_int_equal(m->advertised, 0);
    assert_true(m->degraded);
    assert_false(rep.nodes[1].found);
    assert_true(res(&rep.nodes[1], "nvidia.com/gpu.shared")->degraded);
    assert_int_equal(pool_find(&p, "nvidia.com/gpu.shared")->advertised, 0);
    json_decref(j);
    j = json_loads("{\"kind\":\"Status\"}", 0, NULL);
    assert_int_equal(adv_check(c, j, &p, &rep, &err), -ERR_INVALID);
    json_decref(j);
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_degraded),
        cmocka_unit_test(test_missing_and_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
