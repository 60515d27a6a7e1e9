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

/* A key given twice is refused at every level, naming the second and the first line. */
static void test_duplicate_keys(void **state)
{
    static const struct {
        const char *yaml, *want, *field;
    } cases[] = {
        {"server:\n  listen: 127.0.0.1:1\nserver:\n  listen: 127.0.0.1:2\n",
         "t.yaml:3: server: duplicate key \"server\" (first at line 1)", "server"},
        {"server:\n  listen: a:1\n  listen: a:2\n",
         "t.yaml:3: server.listen: duplicate key \"listen\" (first at line 2)", "server.listen"},
        {"pool:\n  nodes:\n    - name: a\n      cpu: 1\n      name: b\n      memory_gib: 1\n",
         "t.yaml:5: pool.nodes[0].name: duplicate key \"name\" (first at line 3)",
         "pool.nodes[0].name"},
        {"pool:\n  nodes:\n    - {name: a, cpu: 1, memory_gib: 1}\n    - name: b\n      cpu: 1\n"
         "      memory_gib: 1\n      gpus:\n        - model: NVIDIA H100 80GB HBM3\n"
         "          memory_gib: 80\n          mig:\n            1g.10gb: 1\n"
         "            1g.10gb: 2\n",
         "t.yaml:12: pool.nodes[1].gpus[0].mig.1g.10gb: duplicate key \"1g.10gb\" (first at line "
         "11)",
         "pool.nodes[1].gpus[0].mig.1g.10gb"},
        {"cache:\n  artifacts:\n    - name: m\n      url: https://a/m\n      url: https://b/m\n",
         "t.yaml:5: cache.artifacts[0].url: duplicate key \"url\" (first at line 4)",
         "cache.artifacts[0].url"},
        /* two duplicated keys: the one repeated first in the file is named */
        {"server: {listen: 'a:1'}\nlog_level: info\nlog_level: warn\nserver: {listen: 'a:2'}\n",
         "t.yaml:3: log_level: duplicate key \"log_level\" (first at line 2)", "log_level"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct error err = {0};
        struct config *c = load(cases[i].yaml, &err);
        if (c)
            fail_msg("case %zu: accepted, expected \"%s\"", i, cases[i].want);
        assert_int_equal(err.code, ERR_INVALID);
        if (strcmp(err.message, cases[i].want))
            fail_msg("case %zu: message \"%s\", expected \"%s\"", i, err.message, cases[i].want);
        assert_string_equal(err.field, cases[i].field);
    }
    /* the same key in different mappings is fine */
    struct error err = {0};
    struct config *c = load("server: {listen: 'a:1'}\nsession: {cpu: 2}\n"
                            "reconciler: {interval_seconds: 7}\n",
                            &err);
    if (!c)
        fail_msg("%s", err.message);
    config_free(c);
}

/* Aliases share nodes: 40 levels of doubling aliases are checked in linear time (the
 * walk would never end otherwise) and the file is then refused for its unknown key. */
static void test_alias_doubling_is_linear(void **state)
{
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "l0: &a0 [1, 1]\n");
    for (int i = 1; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "l%d: &a%d [*a%d, *a%d]\n", i, i, i - 1,
                              i - 1);
    struct error err = {0};
    assert_null(load(text, &err));
    assert_string_equal(err.message, "t.yaml:1: l0: unknown key");
}

/* A MIG layout that cannot be is refused at load time naming the file, the line of the
 * offending entry and its key, and the message still says why and what would fit. */
static void test_layout_errors_name_line_and_key(void **state)
{
    static const char head[] = "pool:\n"
                               "  nodes:\n"
                               "    - name: a\n"
                               "      cpu: 1\n"
                               "      memory_gib: 1\n"
                               "      gpus:\n"
                               "        - model: NVIDIA H100 80GB HBM3\n"
                               "          memory_gib: 80\n"
                               "          whole: true\n";
    static const struct {
        const char *gpu;    /* lines 10.. */
        const char *prefix; /* exact start of the message */
        const char *field;
        const char *why, *fit; /* substrings */
    } cases[] = {
        /* too many slices of one profile: the profile's line */
        {"        - model: NVIDIA RTX PRO 6000 Blackwell\n          memory_gib: 96\n"
         "          mig:\n            1g.24gb: 5\n",
         "t.yaml:13: pool.nodes[0].gpus[1].mig.1g.24gb: MIG layout does not fit",
         "pool.nodes[0].gpus[1].mig.1g.24gb", "1g.24gb: 5 exceeds its maximum of 4 per GPU",
         "would fit: 1g.24gb: 4;"},
        /* a profile the model does not offer: that profile's line */
        {"        - model: NVIDIA H100 80GB HBM3\n          memory_gib: 80\n"
         "          mig:\n            1g.10gb: 1\n            1g.24gb: 1\n",
         "t.yaml:14: pool.nodes[0].gpus[1].mig.1g.24gb: MIG profile \"1g.24gb\" does not exist "
         "on NVIDIA H100 80GB",
         "pool.nodes[0].gpus[1].mig.1g.24gb", "it offers: 1g.10gb (max 7)", "7g.80gb (max 1)"},
        /* a model outside the catalog: the model's line */
        {"        - memory_gib: 16\n          model: Tesla T4\n          mig:\n            1g.4gb: "
         "1\n",
         "t.yaml:11: pool.nodes[0].gpus[1].model: model \"Tesla T4\" is not in the MIG catalog",
         "pool.nodes[0].gpus[1].model", "supported for: NVIDIA A100 40GB",
         "or declare the GPU whole: true"},
        /* a mix that does not fit: the mig line */
        {"        - model: NVIDIA RTX PRO 6000 Blackwell\n          memory_gib: 96\n"
         "          mig: {1g.24gb: 3, 2g.48gb: 1}\n",
         "t.yaml:12: pool.nodes[0].gpus[1].mig: MIG layout does not fit on NVIDIA RTX PRO 6000 "
         "Blackwell",
         "pool.nodes[0].gpus[1].mig", "needs 5 compute slices, the GPU has 4",
         "would fit: 1g.24gb: 2, 2g.48gb: 1;"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024];
        struct error err = {0};
        snprintf(text, sizeof(text), "%s%s", head, cases[i].gpu);
        struct config *c = load(text, &err);
        if (c)
            fail_msg("case %zu: accepted", i);
        if (strncmp(err.message, cases[i].prefix, strlen(cases[i].prefix)) ||
            !strstr(err.message, cases[i].why) || !strstr(err.message, cases[i].fit))
            fail_msg("case %zu: message \"%s\" should start \"%s\" and hold \"%s\", \"%s\"", i,
                     err.message, cases[i].prefix, cases[i].why, cases[i].fit);
        assert_string_equal(err.field, cases[i].field);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_alias_doubling_is_linear),
        cmocka_unit_test(test_layout_errors_name_line_and_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
