/* Prometheus text parser on real-format DCGM exporter samples, and hostile input. */
#include "core/prom_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static void test_reference_node(void **state)
{
    size_t len;
    char *t = slurp("tests/data/dcgm/reference-node.prom", &len);
    struct prom_samples s;
    assert_int_equal(prom_parse(t, len, &s), 0);
    assert_int_equal(s.n, 7); /* 3 FB_USED + 4 GR_ENGINE_ACTIVE; other metrics ignored */
    assert_int_equal(s.skipped, 0);
    const struct prom_sample *x = &s.v[3];
    assert_int_equal(x->metric, PROM_GR_ENGINE_ACTIVE);
    assert_true(fabs(x->value - 0.42) < 1e-9);
    assert_string_equal(x->namespace, "gpuaas-r12");
    assert_string_equal(x->pod, "app-0");
    assert_string_equal(x->container, "app");
    assert_string_equal(x->gpu, "0");
    assert_string_equal(x->gpu_i_profile, "1g.24gb");
    assert_string_equal(x->gpu_i_id, "3");
    assert_string_equal(x->hostname, "sno-1");
    assert_string_equal(x->uuid, "GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52");
    assert_string_equal(s.v[5].namespace, ""); /* idle slice: no pod */
    assert_string_equal(s.v[6].gpu_i_profile, "");

    struct prom_ns_usage ns[4];
    int n = prom_aggregate(&s, ns, 4);
    assert_int_equal(n, 2);
    assert_string_equal(ns[0].namespace, "gpuaas-r12");
    assert_int_equal(ns[0].devices, 2);
    assert_true(fabs(ns[0].active_sum - 0.60) < 1e-9);
    assert_true(fabs(ns[0].fb_used_mib - 12288) < 1e-9);
    assert_string_equal(ns[1].namespace, "gpuaas-r13");
    assert_int_equal(ns[1].devices, 1);
    assert_true(fabs(ns[1].active_sum - 0.9) < 1e-9);
    prom_samples_free(&s);
    free(t);
}

static void test_exported_labels(void **state)
{
    size_t len;
    char *t = slurp("tests/data/dcgm/servicemonitor.prom", &len);
    struct prom_samples s;
    assert_int_equal(prom_parse(t, len, &s), 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.skipped, 0);
    assert_string_equal(s.v[0].namespace, "team-a"); /* exported_namespace wins */
    assert_string_equal(s.v[0].pod, "train-0");
    assert_string_equal(s.v[0].container, "train");
    assert_true(fabs(s.v[0].value - 0.75) < 1e-9);
    assert_string_equal(s.v[1].namespace, "team-a");
    assert_true(s.v[1].value == 30000);
    prom_samples_free(&s);
    free(t);
}

static void test_hostile(void **state)
{
    static const char *bad[] = {
        "DCGM_FI_DEV_FB_USED{namespace=\"a\" 1\n",    /* unterminated label set */
        "DCGM_FI_DEV_FB_USED{namespace=\"a} 1\n",     /* unterminated value */
        "DCGM_FI_DEV_FB_USED{namespace=a} 1\n",       /* unquoted */
        "DCGM_FI_DEV_FB_USED{namespace=\"\\x\"} 1\n", /* bad escape */
        "DCGM_FI_DEV_FB_USED{=\"a\"} 1\n",            /* no name */
        "DCGM_FI_DEV_FB_USED 12abc\n",                /* bad number */
        "DCGM_FI_DEV_FB_USED\n",                      /* no value */
        "DCGM_FI_DEV_FB_USED NaN\n",                  /* not a measurement */
        "DCGM_FI_DEV_FB_USED 1 2 3\n",                /* junk after timestamp */
        "DCGM_FI_DEV_FB_USED{a=\"1\"b=\"2\"} 1\n",    /* missing comma */
        "{namespace=\"a\"} 1\n",                      /* no metric name */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct prom_samples s;
        assert_int_equal(prom_parse(bad[i], strlen(bad[i]), &s), 0);
        if (s.n != 0 || s.skipped != 1)
            fail_msg("input %zu: %d samples, %d skipped", i, s.n, s.skipped);
        prom_samples_free(&s);
    }
    /* escapes, CRLF, trailing comma, no final newline, timestamp */
    const char *ok = "DCGM_FI_DEV_FB_USED{namespace=\"a\\\"b\\\\c\\nd\",} 1e3 -5\r\n"
                     "DCGM_FI_PROF_GR_ENGINE_ACTIVE 0.5";
    struct prom_samples s;
    assert_int_equal(prom_parse(ok, strlen(ok), &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.v[0].namespace, "a\"b\\c\nd");
    assert_true(s.v[0].value == 1000);
    assert_true(s.v[1].value == 0.5);
    prom_samples_free(&s);
}

static void test_bounds(void **state)
{
    /* too many labels, an oversized line, too many samples, a long label value */
    size_t cap = 1 << 20, n = 0;
    char *t = malloc(cap);
    n += (size_t)snprintf(t + n, cap - n, "DCGM_FI_DEV_FB_USED{");
    for (int i = 0; i < PROM_MAX_LABELS + 1; i++)
        n += (size_t)snprintf(t + n, cap - n, "l%d=\"v\",", i);
    n += (size_t)snprintf(t + n, cap - n, "} 1\nDCGM_FI_DEV_FB_USED{namespace=\"");
    memset(t + n, 'x', PROM_MAX_LINE);
    n += PROM_MAX_LINE;
    n += (size_t)snprintf(t + n, cap - n, "\"} 1\nDCGM_FI_DEV_FB_USED{pod=\"");
    memset(t + n, 'p', 500);
    n += 500;
    n += (size_t)snprintf(t + n, cap - n, "\"} 1\n");
    for (int i = 0; i < PROM_MAX_SAMPLES + 5; i++)
        n += (size_t)snprintf(t + n, cap - n, "DCGM_FI_DEV_FB_USED %d\n", i);
    struct prom_samples s;
    assert_int_equal(prom_parse(t, n, &s), 0);
    assert_int_equal(s.skipped, 2);
    assert_int_equal(s.n, PROM_MAX_SAMPLES);
    assert_int_equal(s.dropped, 6);
    assert_int_equal(strlen(s.v[0].pod), sizeof(s.v[0].pod) - 1);
    prom_samples_free(&s);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_node),
        cmocka_unit_test(test_exported_labels),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
