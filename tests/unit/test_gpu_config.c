/* gpu-config: golden files, field-by-field checks against the GPU operator formats
 * (mig-parted v1, device-plugin config), and the render -> parse round trip. */
#include "core/config.h"
#include "core/gpu_config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static struct gpuc_layout *layout_of(const char *path)
{
    struct config *c = NULL;
    struct error err = {0};
    struct gpuc_layout *l = malloc(sizeof(*l));
    assert_non_null(l);
    if (config_load_file(path, &c, &err) < 0 || gpuc_from_config(c, l, &err) < 0)
        fail_msg("%s: %s", path, err.message);
    config_free(c);
    return l;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Compares with the golden file; GPUAAS_UPDATE_GOLDEN=1 rewrites it. */
static void golden(const char *name, const char *got)
{
    char path[256];
    snprintf(path, sizeof(path), "tests/data/golden/gpu-config/%s", name);
    if (getenv("GPUAAS_UPDATE_GOLDEN")) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        fputs(got, f);
        fclose(f);
    }
    char *want = slurp(path);
    if (!want)
        fail_msg("missing golden file %s (GPUAAS_UPDATE_GOLDEN=1 writes it)", path);
    if (strcmp(want, got))
        fail_msg("%s differs from the output:\n%s", path, got);
    free(want);
}

/* ---- a tiny path lookup over libyaml documents, for field-by-field checks ---- */

static yaml_node_t *child(yaml_document_t *d, yaml_node_t *n, const char *key)
{
    if (!n)
        return NULL;
    if (n->type == YAML_SEQUENCE_NODE) {
        int idx = atoi(key), i = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++, i++)
            if (i == idx)
                return yaml_document_get_node(d, *it);
        return NULL;
    }
    if (n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

/* Value at a '/'-separated path ("data/config.yaml"), or NULL. */
static const char *at(yaml_document_t *d, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    yaml_node_t *n = yaml_document_get_root_node(d);
    for (char *save = NULL, *t = strtok_r(buf, "/", &save); t && n; t = strtok_r(NULL, "/", &save))
        n = child(d, n, t);
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static void expect(yaml_document_t *d, const char *path, const char *want)
{
    const char *got = at(d, path);
    if (!got || strcmp(got, want))
        fail_msg("%s: expected \"%s\", got \"%s\"", path, want, got ? got : "(missing)");
}

static void load_doc(const char *text, int which, yaml_document_t *d)
{
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    for (int i = 0; i <= which; i++) {
        assert_true(yaml_parser_load(&p, d));
        assert_non_null(yaml_document_get_root_node(d));
        if (i < which)
            yaml_document_delete(d);
    }
    yaml_parser_delete(&p);
}

static void test_reference_node_fields(void **state)
{
    struct gpuc_layout *l = layout_of("config/gpuaas.example.yaml");
    char *y = NULL;
    assert_int_equal(gpuc_render_yaml(l, NULL, &y), 0);
    golden("reference-node.yaml", y);
    const char *name = "gpu0-4x1g.24gb-gpu1-full";
    assert_string_equal(l->nodes[0].config_name, name);
    assert_non_null(strstr(y, "# kubectl label node sno-1 nvidia.com/mig.config=gpu0-4x1g.24gb-"
                              "gpu1-full nvidia.com/device-plugin.config=gpu0-4x1g.24gb-gpu1-"
                              "full --overwrite\n"));
    assert_non_null(strstr(y, "\"mig\":{\"strategy\":\"mixed\"}"));
    assert_non_null(strstr(y, "\"migManager\":{\"config\":{\"name\":\"custom-mig-config\""));
    assert_non_null(strstr(y, "\"devicePlugin\":{\"config\":{\"name\":\"device-plugin-config\""));

    yaml_document_t cm, inner;
    load_doc(y, 0, &cm); /* custom-mig-config */
    expect(&cm, "apiVersion", "v1");
    expect(&cm, "kind", "ConfigMap");
    expect(&cm, "metadata/name", "custom-mig-config");
    expect(&cm, "metadata/namespace", "nvidia-gpu-operator");
    const char *cfg = at(&cm, "data/config.yaml");
    assert_non_null(cfg);
    load_doc(cfg, 0, &inner);
    expect(&inner, "version", "v1");
    expect(&inner, "mig-configs/all-disabled/0/devices", "all");
    expect(&inner, "mig-configs/all-disabled/0/mig-enabled", "false");
    expect(&inner, "mig-configs/gpu0-4x1g.24gb-gpu1-full/0/devices/0", "0");
    expect(&inner, "mig-configs/gpu0-4x1g.24gb-gpu1-full/0/mig-enabled", "true");
    expect(&inner, "mig-configs/gpu0-4x1g.24gb-gpu1-full/0/mig-devices/1g.24gb", "4");
    expect(&inner, "mig-configs/gpu0-4x1g.24gb-gpu1-full/1/devices/0", "1");
    expect(&inner, "mig-configs/gpu0-4x1g.24gb-gpu1-full/1/mig-enabled", "false");
    assert_null(at(&inner, "mig-configs/gpu0-4x1g.24gb-gpu1-full/2/devices/0"));
    yaml_document_delete(&inner);
    yaml_document_delete(&cm);

    load_doc(y, 1, &cm); /* device-plugin-config */
    expect(&cm, "kind", "ConfigMap");
    expect(&cm, "metadata/name", "device-plugin-config");
    char path[128];
    snprintf(path, sizeof(path), "data/%s", name);
    const char *dp = at(&cm, path);
    assert_non_null(dp);
    load_doc(dp, 0, &inner);
    expect(&inner, "version", "v1");
    expect(&inner, "flags/migStrategy", "mixed");
    expect(&inner, "sharing/timeSlicing/renameByDefault", "false");
    expect(&inner, "sharing/timeSlicing/failRequestsGreaterThanOne", "true");
    expect(&inner, "sharing/timeSlicing/resources/0/name", "nvidia.com/mig-1g.24gb");
    expect(&inner, "sharing/timeSlicing/resources/0/replicas", "2");
    expect(&inner, "sharing/timeSlicing/resources/1/name", "nvidia.com/gpu");
    expect(&inner, "sharing/timeSlicing/resources/1/replicas", "4");
    assert_null(at(&inner, "sharing/timeSlicing/resources/2/name"));
    assert_null(at(&inner, "sharing/mps"));
    yaml_document_delete(&inner);
    const char *def = at(&cm, "data/default");
    assert_non_null(def);
    load_doc(def, 0, &inner);
    expect(&inner, "flags/migStrategy", "mixed");
    expect(&inner, "sharing/timeSlicing/resources/0/name", "nvidia.com/gpu");
    yaml_document_delete(&inner);
    yaml_document_delete(&cm);
    free(y);
    free(l);
}

static void roundtrip(const char *config_path, const char *golden_yaml, const char *golden_json)
{
    struct gpuc_layout *l = layout_of(config_path);
    struct gpuc_layout *back = malloc(sizeof(*back));
    struct error err = {0};
    char why[200];
    char *y = NULL, *j = NULL;
    struct gpuc_options o = {.namespace = "gpu-operator"};
    assert_int_equal(gpuc_render_yaml(l, &o, &y), 0);
    assert_int_equal(gpuc_render_json(l, &o, &j), 0);
    if (golden_yaml)
        golden(golden_yaml, y);
    if (golden_json)
        golden(golden_json, j);
    if (gpuc_parse(y, strlen(y), back, &err) < 0)
        fail_msg("parse yaml: %s", err.message);
    if (!gpuc_layout_equal(l, back, why, sizeof(why)))
        fail_msg("yaml round trip: %s", why);
    if (gpuc_parse(j, strlen(j), back, &err) < 0)
        fail_msg("parse json: %s", err.message);
    if (!gpuc_layout_equal(l, back, why, sizeof(why)))
        fail_msg("json round trip: %s", why);
    /* a changed count must not compare equal */
    back->nodes[0].gpus[0].whole = !back->nodes[0].gpus[0].whole;
    assert_false(gpuc_layout_equal(l, back, NULL, 0));
    free(y);
    free(j);
    free(back);
    free(l);
}

static void test_roundtrip_reference(void **state)
{
    roundtrip("config/gpuaas.example.yaml", NULL, "reference-node.json");
}

static void test_roundtrip_multi_node(void **state)
{
    struct gpuc_layout *l = layout_of("tests/data/gpu-config/multi-node.yaml");
    assert_int_equal(l->n_nodes, 3); /* the CPU-only node gets no GPU configuration */
    assert_int_equal(l->nodes[0].strategy, MIG_STRATEGY_MIXED);
    /* every node's plugin strategy equals the ClusterPolicy's */
    assert_int_equal(l->nodes[1].strategy, MIG_STRATEGY_MIXED);
    assert_int_equal(l->nodes[2].strategy, MIG_STRATEGY_MIXED);
    assert_int_equal(l->cluster_strategy, MIG_STRATEGY_MIXED);
    for (int i = 0; i < l->n_nodes; i++)
        assert_true(strlen(l->nodes[i].config_name) <= 63);
    free(l);
    roundtrip("tests/data/gpu-config/multi-node.yaml", "multi-node.yaml", NULL);
}

/* A node whose GPUs all use one MIG profile is configured `mixed` too, so its slices are
 * advertised (and time-sliced) under nvidia.com/mig-<profile>, the name sessions request. */
static void test_one_profile_node_resources(void **state)
{
    struct gpuc_layout *l = layout_of("tests/data/gpu-config/multi-node.yaml");
    char *y = NULL;
    assert_int_equal(gpuc_render_yaml(l, NULL, &y), 0);
    yaml_document_t cm, inner;
    load_doc(y, 1, &cm);
    load_doc(at(&cm, "data/gpu0-7x1g.5gb-gpu1-7x1g.5gb"), 0, &inner);
    expect(&inner, "flags/migStrategy", "mixed");
    expect(&inner, "sharing/timeSlicing/renameByDefault", "true");
    expect(&inner, "sharing/timeSlicing/resources/0/name", "nvidia.com/mig-1g.5gb");
    expect(&inner, "sharing/timeSlicing/resources/0/replicas", "2");
    yaml_document_delete(&inner);
    yaml_document_delete(&cm);
    free(y);
    free(l);
}

static void test_parse_refuses(void **state)
{
    struct gpuc_layout *l = malloc(sizeof(*l));
    struct error err = {0};
    static const char *bad[] = {
        "",
        "{",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: custom-mig-config}\ndata: {}\n",
        /* label names a config the ConfigMaps lack */
        "# kubectl label node n nvidia.com/mig.config=x nvidia.com/device-plugin.config=x\n"
        "---\nkind: ConfigMap\nmetadata: {name: custom-mig-config}\ndata:\n  config.yaml: |\n"
        "    version: v1\n    mig-configs: {}\n---\nkind: ConfigMap\nmetadata: {name: "
        "device-plugin-config}\ndata:\n  default: 'version: v1'\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (gpuc_parse(bad[i], strlen(bad[i]), l, &err) != -ERR_INVALID)
            fail_msg("input %zu accepted", i);
    free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_node_fields),
        cmocka_unit_test(test_roundtrip_reference),
        cmocka_unit_test(test_roundtrip_multi_node),
        cmocka_unit_test(test_one_profile_node_resources),
        cmocka_unit_test(test_parse_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
