/* The advertised-capacity check against Node objects served by the Kubernetes API double:
 * the node moves pending -> success -> degraded and the pool follows. */
#include "core/advertised.h"
#include "core/config.h"
#include "core/pool.h"
#include "kubesim/sim.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct adv_report rep;

/* Sends the first Node of a NodeList file with `method` to `path`; expects `status`. */
static void send_node(struct ksim *k, const char *method, const char *path, const char *file,
                      int status)
{
    json_t *list = json_load_file(file, 0, NULL);
    assert_non_null(list);
    json_t *node = json_array_get(json_object_get(list, "items"), 0);
    json_object_del(json_object_get(node, "metadata"), "resourceVersion");
    json_object_del(json_object_get(node, "metadata"), "uid");
    char *body = json_dumps(node, 0);
    json_t *q = json_object();
    struct ksim_response r = {0};
    ksim_handle(k, method, path, q, "application/json", NULL, NULL, body, strlen(body), &r);
    if (r.status != status)
        fail_msg("%s %s: %d %.*s", method, path, r.status, (int)r.len, r.body);
    ksim_response_free(&r);
    json_decref(q);
    free(body);
    json_decref(list);
}

/* GET /api/v1/nodes, then the check; returns the pool's advertised mig-1g.24gb. */
static int observe(struct ksim *k, struct pool *p)
{
    json_t *q = json_object();
    struct ksim_response r = {0};
    ksim_handle(k, "GET", "/api/v1/nodes", q, NULL, NULL, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    json_t *list = json_loadb(r.body, r.len, 0, NULL);
    assert_non_null(list);
    assert_string_equal(json_string_value(json_object_get(list, "kind")), "NodeList");
    struct config *c = NULL;
    struct error err = {0};
    if (config_load_file("config/gpuaas.example.yaml", &c, &err) < 0 ||
        pool_derive(c, p, &err) < 0 || adv_check(c, list, p, &rep, &err) < 0)
        fail_msg("%s", err.message);
    config_free(c);
    json_decref(list);
    ksim_response_free(&r);
    json_decref(q);
    return pool_find(p, "nvidia.com/mig-1g.24gb")->advertised;
}

static void test_lifecycle(void **state)
{
    struct ksim_options o = {0};
    struct ksim *k = ksim_new(&o);
    struct pool p;
    assert_non_null(k);
    /* not created yet: the configured node is missing */
    assert_int_equal(observe(k, &p), 0);
    assert_false(rep.nodes[0].found);

    send_node(k, "POST", "/api/v1/nodes", "tests/data/nodes/pending.json", 201);
    assert_int_equal(observe(k, &p), 0);
    assert_true(rep.nodes[0].found);
    assert_false(rep.nodes[0].trusted);
    assert_string_equal(rep.nodes[0].state, "pending");

    send_node(k, "PUT", "/api/v1/nodes/sno-1", "tests/data/nodes/success.json", 200);
    assert_int_equal(observe(k, &p), 4);
    assert_true(rep.nodes[0].trusted);
    assert_int_equal(pool_find(&p, "nvidia.com/gpu")->advertised, 1);
    assert_int_equal(pool_bookable(pool_find(&p, "nvidia.com/mig-1g.24gb")), 4);

    /* a slice lost: the kubelet reports the smaller allocatable through the status
     * subresource (a plain PUT leaves status alone, as in Kubernetes) */
    send_node(k, "PUT", "/api/v1/nodes/sno-1", "tests/data/nodes/degraded.json", 200);
    assert_int_equal(observe(k, &p), 4);
    send_node(k, "PUT", "/api/v1/nodes/sno-1/status", "tests/data/nodes/degraded.json", 200);
    assert_int_equal(observe(k, &p), 3);
    assert_int_equal(pool_bookable(pool_find(&p, "nvidia.com/mig-1g.24gb")), 3);
    json_t *j = adv_to_json(&rep, &p, 1732521600);
    assert_true(json_is_true(json_object_get(j, "degraded")));
    json_decref(j);
    ksim_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
