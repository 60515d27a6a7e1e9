/* Configuration loading: the example file, defaults, and errors naming file, line and key. */
#include "core/config.h"
#include "core/pool.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

static struct config *load(const char *text, struct error *err)
{
    struct config *c = NULL;
    if (config_load_string(text, strlen(text), "t.yaml", &c, err) < 0)
        return NULL;
    return c;
}

static void test_example_file(void **state)
{
    struct config *c;
    struct error err = {0};
    struct pool p;
    assert_int_equal(config_load_file("config/gpuaas.example.yaml", &c, &err), 0);
    assert_int_equal(pool_derive(c, &p, &err), 0);
    const struct pool_resource *g = pool_find(&p, "nvidia.com/gpu");
    const struct pool_resource *m = pool_find(&p, "nvidia.com/mig-1g.24gb");
    assert_non_null(g);
    assert_non_null(m);
    assert_int_equal(g->physical, 1);
    assert_int_equal(g->slots, 4);
    assert_int_equal(g->memory_gib, 96);
    assert_int_equal(m->physical, 4);
    assert_int_equal(m->slots, 8);
    assert_int_equal(m->memory_gib, 24);
    assert_int_equal(pool_find(&p, "cpu")->physical, 127);
    assert_int_equal(pool_find(&p, "memory")->physical, 754);
    assert_int_equal(pool_find(&p, "storage")->physical, 3100);
    config_free(c);
}

static void test_defaults(void **state)
{
    struct error err = {0};
    struct config *c = load("{}", &err);
    assert_non_null(c);
    assert_string_equal(c->server.listen, "127.0.0.1:8080");
    assert_int_equal(c->sharing.whole_gpu_replicas, 4);
    assert_int_equal(c->sharing.mig_replicas, 2);
    assert_int_equal(c->pool.n_nodes, 0);
    config_free(c);
}

static void test_errors_name_line_and_key(void **state)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"server:\n  listen: a:1\n  bogus: 1\n", "t.yaml:3: server.bogus: unknown key"},
        {"session:\n  max_gpus: zero\n", "t.yaml:2: session.max_gpus: expected an integer"},
        {"session:\n  max_gpus: 0\n", "t.yaml:2: session.max_gpus: 0 is out of range"},
        {"sharing:\n  rename_by_default: maybe\n", "t.yaml:2: sharing.rename_by_default: expected true or false"},
        {"database:\n  url: mysql://x\n", "database.url"},
        {"pool:\n  nodes:\n    - name: a\n      cpu: 1\n      memory_gib: 1\n      gpus:\n        - model: X\n          memory_gib: 80\n          mig: {\"bad\": 1}\n",
         "t.yaml:9: pool.nodes[0].gpus[0].mig.bad: not a MIG profile name"},
        {"pool:\n  nodes:\n    - {name: a, cpu: 1, memory_gib: 1}\n    - {name: a, cpu: 1, memory_gib: 1}\n",
         "appears twice"},
        {"server: [1, 2\n", "YAML syntax error"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct error err = {0};
        struct config *c = load(cases[i].yaml, &err);
        assert_null(c);
        if (!strstr(err.message, cases[i].want))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.message, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors_name_line_and_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
