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
    /* 600 GiB per session: the 20 GiB home and 300 GiB model cache leave 280 for the user */
    assert_int_equal(c->session.storage_gib, 600);
    assert_int_equal(c->reconciler.provision_timeout_seconds, 600);
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
        {"sharing:\n  rename_by_default: maybe\n",
         "t.yaml:2: sharing.rename_by_default: expected true or false"},
        {"database:\n  url: mysql://x\n", "database.url"},
        {"pool:\n  nodes:\n    - name: a\n      cpu: 1\n      memory_gib: 1\n      gpus:\n        "
         "- model: X\n          memory_gib: 80\n          mig: {\"bad\": 1}\n",
         "t.yaml:9: pool.nodes[0].gpus[0].mig.bad: not a MIG profile name"},
        {"pool:\n  nodes:\n    - {name: a, cpu: 1, memory_gib: 1}\n    - {name: a, cpu: 1, "
         "memory_gib: 1}\n",
         "appears twice"},
        {"server: [1, 2\n", "YAML syntax error"},
        /* the default storage must hold the volumes every session mounts */
        {"session:\n  storage_gib: 319\n",
         "session.storage_gib: 319 GiB cannot hold the home (20 GiB"},
        {"reconciler:\n  model_cache_gib: 700\n", "session.storage_gib: 600 GiB cannot hold"},
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

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Cache settings that used to pass `config check` and failed only when the daemon started,
 * or not at all; each error names the line of the bad key. */
static void test_cache_errors(void **state)
{
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"cache:\n  enabled: true\n  listen: nonsense\n",
         "t.yaml:3: cache.listen: expected IPV4:PORT"},
        {"cache:\n  listen: 127.0.0.1:99999\n", "t.yaml:2: cache.listen"},
        {"cache:\n  listen: 1.2.3:80\n", "t.yaml:2: cache.listen"},
        {"cache:\n  budget_gib: 1\n  artifacts:\n"
         "    - {name: a, url: \"http://x/a\", sha256: " HEX ", size: 600000000, pinned: true}\n"
         "    - {name: b, url: \"http://x/b\", sha256: " HEX ", size: 600000000, pinned: true}\n",
         "t.yaml:5: cache.artifacts[1]: the pinned artifacts need 1200000000 bytes"},
        {"cache:\n  images: ['--help']\n", "t.yaml:2: cache.images[0]: not an image reference"},
        {"cache:\n  images:\n    - -q\n", "t.yaml:3: cache.images[0]: not an image reference"},
        {"cache:\n  images:\n    - \"busybox; rm -rf /\"\n", "not an image reference"},
        {"cache:\n  images:\n    - \"Busybox\"\n", "not an image reference"},
        {"cache:\n  images:\n    - \"busybox:\"\n", "not an image reference"},
        /* block style: the bad key's own line, not the line where the item starts */
        {"cache:\n  artifacts:\n    - name: a\n      url: ftp://x/y\n      sha256: " HEX "\n",
         "t.yaml:4: cache.artifacts[0]: url must start"},
        {"cache:\n  artifacts:\n    - name: a\n      url: http://x/y\n      sha256: ABC\n",
         "t.yaml:5: cache.artifacts[0]: sha256 must be 64"},
        {"cache:\n  artifacts:\n    - url: http://x/y\n      name: a/../b\n      sha256: " HEX "\n",
         "t.yaml:4: cache.artifacts[0]: name is required"},
        {"cache:\n  artifacts:\n    - {name: /abs, url: \"http://x/y\", sha256: " HEX "}\n",
         "t.yaml:3: cache.artifacts[0]: name"},
        {"cache:\n  artifacts:\n    - {name: a//b, url: \"http://x/y\", sha256: " HEX "}\n",
         "cache.artifacts[0]: name"},
        {"cache:\n  artifacts:\n    - {name: a/, url: \"http://x/y\", sha256: " HEX "}\n",
         "cache.artifacts[0]: name"},
        {"cache:\n  artifacts:\n    - {name: m, url: \"http://x/y\", sha256: " HEX "}\n"
         "    - {name: m/config.json, url: \"http://x/z\", sha256: " HEX "}\n",
         "t.yaml:4: cache.artifacts[1]: artifact name \"m/config.json\" and \"m\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct error err = {0};
        struct config *c = load(cases[i].yaml, &err);
        if (c)
            fail_msg("case %zu: accepted", i);
        if (!strstr(err.message, cases[i].want))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, err.message, cases[i].want);
    }
}

static void test_cache_accepted(void **state)
{
    const char *yaml =
        "cache:\n  listen: 0.0.0.0:8090\n  budget_gib: 2\n  images:\n"
        "    - busybox\n    - docker.io/library/busybox:1.36\n"
        "    - registry.example.com:5000/team/vllm-openai_x:v0.6.3\n"
        "    - quay.io/org/img@sha256:" HEX "\n    - localhost/img:latest\n"
        "  artifacts:\n"
        "    - {name: llama/config.json, url: \"http://x/c\", sha256: " HEX "}\n"
        "    - {name: llama/model-00001-of-00002.safetensors, url: \"http://x/m\", sha256: " HEX
        ", size: 1000000000, pinned: true}\n"
        "    - {name: org/llama/tokenizer.json, url: \"http://x/t\", sha256: " HEX "}\n";
    struct error err = {0};
    struct config *c = load(yaml, &err);
    if (!c)
        fail_msg("%s", err.message);
    assert_int_equal(c->cache.n_images, 5);
    assert_int_equal(c->cache.n_artifacts, 3);
    assert_string_equal(c->cache.artifacts[0].name, "llama/config.json");
    assert_true(c->cache.budget_bytes == 2LL << 30);
    config_free(c);
    assert_true(config_artifact_name_valid("a/b/c.safetensors"));
    assert_false(config_artifact_name_valid("a/./b"));
    assert_false(config_artifact_name_valid(".."));
    assert_false(config_artifact_name_valid("a\nb"));
    assert_false(config_artifact_name_valid("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q"));
    assert_true(config_artifact_names_clash("m", "m/x"));
    assert_false(config_artifact_names_clash("m", "mx/y"));
    assert_false(config_artifact_names_clash("m/a", "m/b"));
}

/* server.token_listen: off by default, ADDRESS:PORT, never the address server.listen binds
 * (port 0 excepted: the kernel picks two ports). */
static void test_token_listen(void **state)
{
    struct error err = {0};
    struct config *c = load("{}", &err);
    assert_non_null(c);
    assert_string_equal(c->server.token_listen, "");
    config_free(c);
    static const char *ok[] = {
        "server:\n  listen: 127.0.0.1:8081\n  token_listen: 0.0.0.0:8080\n",
        "server:\n  listen: 127.0.0.1:0\n  token_listen: 127.0.0.1:0\n",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        c = load(ok[i], &err);
        if (!c)
            fail_msg("case %zu: %s", i, err.message);
        config_free(c);
    }
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"server:\n  token_listen: nonsense\n", "server.token_listen: expected ADDRESS:PORT"},
        {"server:\n  listen: 0.0.0.0:8080\n  token_listen: 0.0.0.0:8080\n",
         "server.token_listen: must differ from server.listen"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct error e = {0};
        c = load(bad[i].yaml, &e);
        if (c)
            fail_msg("case %zu: accepted", i);
        if (!strstr(e.message, bad[i].want) || strcmp(e.field, "server.token_listen") != 0)
            fail_msg("case %zu: \"%s\" (field %s) lacks \"%s\"", i, e.message, e.field,
                     bad[i].want);
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
        cmocka_unit_test(test_cache_errors),
        cmocka_unit_test(test_cache_accepted),
        cmocka_unit_test(test_token_listen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
