/* MIG catalog: model matching, layout validation tables, strategy, capacity derivation. */
#include "core/config.h"
#include "core/mig_catalog.h"
#include "core/pool.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_model_names(void **state)
{
    static const struct {
        const char *model;
        int mem;
        const char *id;
    } t[] = {
        {"NVIDIA H100 80GB HBM3", 80, "h100-80gb"},
        {"H100-80GB", 0, "h100-80gb"},
        {"NVIDIA H100 PCIe", 80, "h100-80gb"},
        {"NVIDIA H100 NVL", 94, "h100-nvl"},
        {"NVIDIA A100-SXM4-40GB", 40, "a100-40gb"},
        {"NVIDIA A100-SXM4-80GB", 80, "a100-80gb"},
        {"A100", 80, "a100-80gb"},
        {"A100", 40, "a100-40gb"},
        {"NVIDIA H200", 141, "h200"},
        {"NVIDIA B200", 180, "b200"},
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "rtx-pro-6000-blackwell"},
        {"NVIDIA-RTX-PRO-6000-Blackwell-Max-Q-Workstation-Edition", 96, "rtx-pro-6000-blackwell"},
        {"rtxpro6000", 0, "rtx-pro-6000-blackwell"},
        {"NVIDIA GH200 480GB", 96, NULL},
        {"Tesla T4", 16, NULL},
        {"", 0, NULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        const struct mig_model *m = mig_catalog_find(t[i].model, t[i].mem);
        if (!t[i].id) {
            if (m)
                fail_msg("%s: expected no match, got %s", t[i].model, m->id);
            continue;
        }
        if (!m)
            fail_msg("%s: expected %s, got no match", t[i].model, t[i].id);
        assert_string_equal(m->id, t[i].id);
    }
}

/* Every catalog maximum fits alone, and one more does not. */
static void test_homogeneous_maxima(void **state)
{
    int n;
    const struct mig_model *all = mig_catalog_all(&n);
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < all[i].n_profiles; k++) {
            struct config_gpu g = {.memory_gib = all[i].memory_gib, .n_slices = 1};
            struct error err = {0};
            snprintf(g.model, sizeof(g.model), "%s", all[i].display);
            snprintf(g.slices[0].profile, sizeof(g.slices[0].profile), "%s",
                     all[i].profiles[k].name);
            g.slices[0].count = all[i].profiles[k].max_count;
            if (mig_layout_validate(&g, NULL, "g", &err) < 0)
                fail_msg("%s %s x%d: %s", all[i].id, g.slices[0].profile, g.slices[0].count,
                         err.message);
            g.slices[0].count++;
            assert_int_equal(mig_layout_validate(&g, NULL, "g", &err), -ERR_INVALID);
        }
}

struct row {
    const char *model;
    int mem;
    const char *layout; /* "p:n,p:n" */
    int ok;
    const char *msg; /* substring of the refusal */
};

static void parse_layout(const char *s, struct config_gpu *g)
{
    char buf[200];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(tok, ':');
        *colon = 0;
        snprintf(g->slices[g->n_slices].profile, sizeof(g->slices[0].profile), "%s", tok);
        g->slices[g->n_slices++].count = atoi(colon + 1);
    }
}

static void test_layout_table(void **state)
{
    static const struct row t[] = {
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "1g.24gb:4", 1, NULL},
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "1g.24gb:2,2g.48gb:1", 1, NULL},
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "2g.48gb:2", 1, NULL},
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "1g.24gb:4,2g.48gb:1", 0,
         "would fit: 1g.24gb: 4"},
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "1g.24gb:1,4g.96gb:1", 0,
         "compute slices"},
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "1g.10gb:1", 0,
         "\"1g.10gb\" does not exist"},
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "1g.24gb+me:2", 0, "maximum of 1"},
        {"NVIDIA RTX PRO 6000 Blackwell Server Edition", 96, "1g.24gb+me:1,1g.24gb+me.all:1", 0,
         "media-extension"},
        {"NVIDIA H100 80GB HBM3", 80, "1g.10gb:2,2g.20gb:1,3g.40gb:1", 1, NULL},
        {"NVIDIA H100 80GB HBM3", 80, "1g.10gb:7", 1, NULL},
        {"NVIDIA H100 80GB HBM3", 80, "3g.40gb:2", 1, NULL},
        {"NVIDIA H100 80GB HBM3", 80, "4g.40gb:1,2g.20gb:1,1g.10gb:1", 1, NULL},
        {"NVIDIA H100 80GB HBM3", 80, "1g.20gb:4,1g.10gb:1", 0, "memory slices"},
        {"NVIDIA H100 80GB HBM3", 80, "2g.20gb:3,3g.40gb:1", 0, "compute slices"},
        /* 3 + 3 + 1 compute slices fit in compute, but two 3g take all 8 memory slices */
        {"NVIDIA H100 80GB HBM3", 80, "3g.40gb:2,1g.10gb:1", 0, "memory slices"},
        {"NVIDIA A100-SXM4-80GB", 80, "1g.20gb:3,2g.20gb:1", 1, NULL},
        {"NVIDIA A100-SXM4-80GB", 80, "1g.20gb:4,2g.20gb:1", 0, "memory slices"},
        /* placement: 3g at 4..7 leaves 0..3 for the 2g (start 0 or 2) and two 1g */
        {"NVIDIA A100-SXM4-40GB", 40, "3g.20gb:1,2g.10gb:1,1g.5gb:2", 1, NULL},
        {"NVIDIA A100-SXM4-40GB", 40, "1g.5gb:1,1g.10gb:1,2g.10gb:1,3g.20gb:1", 0, "memory"},
        {"NVIDIA A100-SXM4-40GB", 40, "3g.20gb:1,2g.10gb:1,1g.5gb:2", 1, NULL},
        {"NVIDIA A100-SXM4-40GB", 40, "2g.10gb:3,1g.5gb:1", 1, NULL},
        /* 1g.10gb needs an even start: 1g.5gb x3 + 1g.10gb x2 = 7 mem slices, placeable */
        {"NVIDIA A100-SXM4-40GB", 40, "1g.5gb:3,1g.10gb:2", 1, NULL},
        {"NVIDIA H200", 141, "3g.71gb:1,1g.35gb:2", 1, NULL},
        {"NVIDIA H200", 141, "7g.141gb:1,1g.18gb:1", 0, "would fit: 7g.141gb: 1"},
        {"NVIDIA B200", 180, "1g.23gb:7", 1, NULL},
        {"NVIDIA B200", 180, "1g.23gb+me:1", 0, "does not exist"},
        {"NVIDIA H100 NVL", 94, "1g.24gb:4", 1, NULL},
        {"Tesla T4", 16, "1g.4gb:1", 0, "not in the MIG catalog"},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct config_gpu g = {.memory_gib = t[i].mem};
        struct error err = {0};
        snprintf(g.model, sizeof(g.model), "%s", t[i].model);
        parse_layout(t[i].layout, &g);
        int r = mig_layout_validate(&g, NULL, "pool.nodes[0].gpus[0]", &err);
        if (t[i].ok && r < 0)
            fail_msg("row %zu %s: refused: %s", i, t[i].layout, err.message);
        if (!t[i].ok) {
            if (r == 0)
                fail_msg("row %zu %s: accepted, expected refusal", i, t[i].layout);
            if (!strstr(err.message, t[i].msg))
                fail_msg("row %zu: message \"%s\" lacks \"%s\"", i, err.message, t[i].msg);
            if (strncmp(err.field, "pool.nodes[0].gpus[0].", 22) ||
                strncmp(err.message, err.field, strlen(err.field)))
                fail_msg("row %zu: field \"%s\", message \"%s\"", i, err.field, err.message);
        }
    }
}

static void test_whole_unknown_model_ok(void **state)
{
    struct config_gpu g = {.model = "Tesla T4", .memory_gib = 16, .whole = true};
    assert_int_equal(mig_layout_validate(&g, NULL, "g", NULL), 0);
}

static struct config *load(const char *text)
{
    struct config *c = NULL;
    struct error err = {0};
    if (config_load_string(text, strlen(text), "t.yaml", &c, &err) < 0)
        fail_msg("load: %s", err.message);
    return c;
}

/* Session defaults larger than the largest node: every default booking would be refused
 * (a warning of config check and the server's start). */
static void test_session_defaults_fit_one_node(void **state)
{
    (void)state;
    const char *nodes = "pool:\n  nodes:\n"
                        "    - {name: a, cpu: 16, memory_gib: 128, storage_gib: 500}\n"
                        "    - {name: b, cpu: 32, memory_gib: 64, storage_gib: 900}\n";
    char text[512];
    struct pool p;
    struct error err = {0};
    snprintf(text, sizeof(text), "session:\n  cpu: 33\n%s", nodes);
    struct config *c = load(text);
    assert_int_equal(pool_derive(c, &p, &err), 0);
    assert_int_equal(pool_check_defaults(c, &p, &err), -ERR_INVALID);
    assert_string_equal(err.field, "session.cpu");
    assert_non_null(strstr(err.message, "t.yaml:2: session.cpu: 33 is more than the largest node "
                                        "has (32 cores)"));
    config_free(c);
    snprintf(text, sizeof(text), "session:\n  cpu: 32\n  memory_gib: 128\n%s", nodes);
    c = load(text);
    assert_int_equal(pool_derive(c, &p, &err), 0);
    assert_int_equal(pool_check_defaults(c, &p, &err), 0);
    config_free(c);
    /* a default (64 GiB memory, 320 GiB storage) that no node offers */
    c = load("pool:\n  nodes:\n    - {name: a, cpu: 16, memory_gib: 32, storage_gib: 500}\n");
    assert_int_equal(pool_derive(c, &p, &err), 0);
    assert_int_equal(pool_check_defaults(c, &p, &err), -ERR_INVALID);
    assert_non_null(strstr(err.message, "t.yaml: session.memory_gib: the default 64 is more"));
    config_free(c);
}

static void test_reference_node_capacity(void **state)
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
    assert_int_equal(m->physical, 4);
    assert_int_equal(m->slots, 8);
    assert_int_equal(m->memory_gib, 24);
    assert_int_equal(m->kind, POOL_MIG);
    assert_int_equal(mig_node_strategy(&c->pool.nodes[0]), MIG_STRATEGY_MIXED);
    config_free(c);
}

static const char two_nodes[] =
    "sharing:\n  whole_gpu_replicas: 3\n  mig_replicas: 2\n  rename_by_default: %s\n"
    "pool:\n  nodes:\n"
    "    - name: a\n      cpu: 64\n      memory_gib: 512\n      storage_gib: 1000\n      gpus:\n"
    "        - {model: NVIDIA H100 80GB HBM3, memory_gib: 80, mig: {1g.10gb: 2, 2g.20gb: 1, "
    "3g.40gb: 1}}\n"
    "        - {model: NVIDIA H100 80GB HBM3, memory_gib: 80, whole: true}\n"
    "    - name: b\n      cpu: 32\n      memory_gib: 256\n      storage_gib: 500\n      gpus:\n"
    "        - {model: NVIDIA A100-SXM4-40GB, memory_gib: 40, mig: {1g.5gb: 7}}\n"
    "        - {model: NVIDIA A100-SXM4-40GB, memory_gib: 40, mig: {1g.5gb: 7}}\n"
    "    - name: c\n      cpu: 8\n      memory_gib: 64\n      storage_gib: 100\n      gpus:\n"
    "        - {model: Tesla T4, memory_gib: 16, whole: true}\n";

static void test_two_node_pool(void **state)
{
    char text[2048];
    snprintf(text, sizeof(text), two_nodes, "false");
    struct config *c = load(text);
    struct pool p;
    struct error err = {0};
    assert_int_equal(pool_derive(c, &p, &err), 0);
    static const struct {
        const char *name;
        int physical, slots, mem;
    } want[] = {
        {"nvidia.com/mig-1g.10gb", 2, 4, 10}, {"nvidia.com/mig-2g.20gb", 1, 2, 20},
        {"nvidia.com/mig-3g.40gb", 1, 2, 40}, {"nvidia.com/gpu", 2, 6, 16},
        {"nvidia.com/mig-1g.5gb", 14, 28, 5}, {"cpu", 104, 104, 0},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct pool_resource *r = pool_find(&p, want[i].name);
        if (!r)
            fail_msg("missing %s", want[i].name);
        assert_int_equal(r->physical, want[i].physical);
        assert_int_equal(r->slots, want[i].slots);
        assert_int_equal(r->memory_gib, want[i].mem);
    }
    assert_int_equal(mig_node_strategy(&c->pool.nodes[0]), MIG_STRATEGY_MIXED);
    /* one MIG profile on every GPU is still mixed: MIG slices keep their own resource name */
    assert_int_equal(mig_node_strategy(&c->pool.nodes[1]), MIG_STRATEGY_MIXED);
    assert_int_equal(mig_node_strategy(&c->pool.nodes[2]), MIG_STRATEGY_NONE);
    config_free(c);

    snprintf(text, sizeof(text), two_nodes, "true");
    c = load(text);
    assert_int_equal(pool_derive(c, &p, &err), 0);
    assert_non_null(pool_find(&p, "nvidia.com/gpu.shared"));
    assert_non_null(pool_find(&p, "nvidia.com/mig-1g.5gb.shared"));
    assert_null(pool_find(&p, "nvidia.com/gpu"));
    config_free(c);
}

/* A layout that does not fit is refused at load time, and pool_derive (which may see a
 * config built in memory) refuses it too, with the file, line and key kept from loading. */
static void test_pool_refuses_bad_layout(void **state)
{
    const char *bad = "pool:\n  nodes:\n    - name: a\n      cpu: 1\n      memory_gib: 1\n"
                      "      storage_gib: 1\n      gpus:\n"
                      "        - {model: NVIDIA RTX PRO 6000 Blackwell, memory_gib: 96, mig: "
                      "{1g.24gb: 3, 2g.48gb: 1}}\n";
    struct config *c = NULL;
    struct pool p;
    struct error err = {0};
    assert_int_equal(config_load_string(bad, strlen(bad), "t.yaml", &c, &err), -ERR_INVALID);
    assert_non_null(strstr(err.message, "t.yaml:8: pool.nodes[0].gpus[0].mig: MIG layout"));
    assert_non_null(strstr(err.message, "would fit: 1g.24gb: 2, 2g.48gb: 1"));

    const char *good = "pool:\n  nodes:\n    - name: a\n      cpu: 1\n      memory_gib: 1\n"
                       "      gpus:\n"
                       "        - model: NVIDIA RTX PRO 6000 Blackwell\n"
                       "          memory_gib: 96\n"
                       "          mig:\n"
                       "            2g.48gb: 1\n"
                       "            1g.24gb: 2\n";
    c = load(good);
    assert_int_equal(pool_derive(c, &p, &err), 0);
    c->pool.nodes[0].gpus[0].slices[1].count = 5;
    assert_int_equal(pool_derive(c, &p, &err), -ERR_INVALID);
    assert_string_equal(err.field, "pool.nodes[0].gpus[0].mig.1g.24gb");
    static const char want[] = "t.yaml:11: pool.nodes[0].gpus[0].mig.1g.24gb: MIG layout";
    if (strncmp(err.message, want, sizeof(want) - 1) ||
        !strstr(err.message, "exceeds its maximum of 4"))
        fail_msg("%s", err.message);
    config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_names),
        cmocka_unit_test(test_homogeneous_maxima),
        cmocka_unit_test(test_layout_table),
        cmocka_unit_test(test_whole_unknown_model_ok),
        cmocka_unit_test(test_reference_node_capacity),
        cmocka_unit_test(test_two_node_pool),
        cmocka_unit_test(test_pool_refuses_bad_layout),
        cmocka_unit_test(test_session_defaults_fit_one_node),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
