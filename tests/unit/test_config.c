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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_errors_name_line_and_key),
        cmocka_unit_test(test_cache_errors),
        cmocka_unit_test(test_cache_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
