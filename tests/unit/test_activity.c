/* Session GPU activity from DCGM samples: mapping by namespace (both label spellings), busy
 * fraction over the booked units, duplicate devices, clamping, credited time and window
 * clipping; and the configuration keys of the scrape. */
#include "core/activity.h"
#include "core/config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define assert_near(a, b, eps)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (fabs(a_ - b_) > (eps))                                                                 \
            fail_msg("%s = %.9g, want %.9g", #a, a_, b_);                                          \
    } while (0)

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static struct prom_samples parse_file(const char *path)
{
    size_t len;
    char *t = slurp(path, &len);
    struct prom_samples s;
    assert_int_equal(prom_parse(t, len, &s), 0);
    free(t);
    return s;
}

static struct prom_samples parse_text(const char *t)
{
    struct prom_samples s;
    assert_int_equal(prom_parse(t, strlen(t), &s), 0);
    return s;
}

static struct act_session session(int64_t id, const char *ns, const char *res, int units,
                                  int64_t starts_at, int64_t ends_at)
{
    struct act_session s = {.id = id, .units = units, .starts_at = starts_at, .ends_at = ends_at};
    snprintf(s.namespace_, sizeof(s.namespace_), "%s", ns);
    snprintf(s.resource, sizeof(s.resource), "%s", res);
    return s;
}

/* Two MIG slices busy 0.42 and 0.18 in one namespace, a whole GPU at 0.9 in another, an idle
 * slice with no pod, a metric we ignore in "default", and a session with no samples. */
static void test_reference_node(void **state)
{
    struct prom_samples s = parse_file("tests/data/dcgm/reference-node.prom");
    struct act_session sess[] = {
        session(12, "gpuaas-r12", "nvidia.com/mig-1g.24gb", 2, 0, 100000),
        session(13, "gpuaas-r13", "nvidia.com/gpu", 1, 0, 100000),
        session(99, "gpuaas-r99", "nvidia.com/gpu", 1, 0, 100000),
        session(7, "default", "nvidia.com/gpu", 1, 0, 100000),
    };
    struct act_delta d[4];
    int n = act_measure(&s, sess, 4, 1000, 30000, d);
    assert_int_equal(n, 2);
    assert_int_equal(d[0].id, 12);
    assert_string_equal(d[0].resource, "nvidia.com/mig-1g.24gb");
    assert_int_equal(d[0].devices, 2);
    assert_near(d[0].busy_fraction, 0.30, 1e-12);
    assert_int_equal(d[0].measured_ms, 30000);
    assert_int_equal(d[0].busy_ms, 9000);
    assert_int_equal(d[0].fb_used_mib, 12288);
    assert_int_equal(d[1].id, 13);
    assert_int_equal(d[1].devices, 1);
    assert_near(d[1].busy_fraction, 0.9, 1e-12);
    assert_int_equal(d[1].busy_ms, 27000);
    assert_int_equal(d[1].fb_used_mib, 40000);

    /* Four slices booked, two report: the two silent ones count as idle. */
    sess[0].units = 4;
    n = act_measure(&s, sess, 1, 1000, 30000, d);
    assert_int_equal(n, 1);
    assert_near(d[0].busy_fraction, 0.15, 1e-12);
    assert_int_equal(d[0].busy_ms, 4500);
    prom_samples_free(&s);
}

/* Through a ServiceMonitor the workload namespace is exported_namespace; the exporter's own
 * namespace label must not claim the samples. */
static void test_exported_namespace(void **state)
{
    struct prom_samples s = parse_file("tests/data/dcgm/servicemonitor.prom");
    struct act_session sess[] = {
        session(1, "nvidia-gpu-operator", "nvidia.com/mig-3g.40gb", 1, 0, 100000),
        session(2, "team-a", "nvidia.com/mig-3g.40gb", 1, 0, 100000),
    };
    struct act_delta d[2];
    int n = act_measure(&s, sess, 2, 1000, 10000, d);
    assert_int_equal(n, 1);
    assert_int_equal(d[0].id, 2);
    assert_near(d[0].busy_fraction, 0.75, 1e-12);
    assert_int_equal(d[0].busy_ms, 7500);
    assert_int_equal(d[0].fb_used_mib, 30000);
    prom_samples_free(&s);
}

/* One time-sliced GPU seen from two pods of the session counts once, with its highest
 * reading; out-of-range readings are clamped; a namespace with only memory samples is not
 * measured. */
static void test_duplicates_and_clamping(void **state)
{
    struct prom_samples s = parse_text(
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu=\"0\",UUID=\"GPU-a\",Hostname=\"n1\",namespace=\"s1\","
        "pod=\"p1\"} 0.2\n"
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu=\"0\",UUID=\"GPU-a\",Hostname=\"n1\",namespace=\"s1\","
        "pod=\"p2\"} 0.6\n"
        "DCGM_FI_DEV_FB_USED{gpu=\"0\",UUID=\"GPU-a\",Hostname=\"n1\",namespace=\"s1\","
        "pod=\"p1\"} 1000\n"
        "DCGM_FI_DEV_FB_USED{gpu=\"0\",UUID=\"GPU-a\",Hostname=\"n1\",namespace=\"s1\","
        "pod=\"p2\"} 1000\n"
        /* The same GPU index on another node is another device. */
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu=\"0\",UUID=\"GPU-b\",Hostname=\"n2\",namespace=\"s1\"} "
        "0.4\n"
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu=\"1\",UUID=\"GPU-c\",Hostname=\"n1\",namespace=\"s2\"} "
        "1.7\n"
        "DCGM_FI_DEV_FB_USED{gpu=\"1\",UUID=\"GPU-c\",Hostname=\"n1\",namespace=\"s2\"} -5\n"
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu=\"2\",UUID=\"GPU-d\",Hostname=\"n1\",namespace=\"s3\"} "
        "-0.5\n"
        "DCGM_FI_DEV_FB_USED{gpu=\"3\",UUID=\"GPU-e\",Hostname=\"n1\",namespace=\"s4\"} 500\n");
    struct act_session sess[] = {
        session(1, "s1", "nvidia.com/gpu", 1, 0, 100000),
        session(2, "s2", "nvidia.com/gpu", 1, 0, 100000),
        session(3, "s3", "nvidia.com/gpu", 1, 0, 100000),
        session(4, "s4", "nvidia.com/gpu", 1, 0, 100000),
    };
    struct act_delta d[4];
    int n = act_measure(&s, sess, 4, 1000, 1000, d);
    assert_int_equal(n, 3);
    assert_int_equal(d[0].devices, 2);
    assert_near(d[0].busy_fraction, (0.6 + 0.4) / 2, 1e-12);
    assert_int_equal(d[0].fb_used_mib, 1000);
    assert_int_equal(d[1].id, 2);
    assert_near(d[1].busy_fraction, 1.0, 1e-12);
    assert_int_equal(d[1].busy_ms, 1000);
    assert_int_equal(d[1].fb_used_mib, 0);
    assert_int_equal(d[2].id, 3);
    assert_near(d[2].busy_fraction, 0.0, 1e-12);
    prom_samples_free(&s);

    struct prom_samples empty = parse_text("");
    assert_int_equal(act_measure(&empty, sess, 4, 1000, 1000, d), 0);
    prom_samples_free(&empty);
}

static void test_credit_and_window(void **state)
{
    assert_int_equal(act_credit_ms(0, 5000, 30000), 30000);     /* first scrape */
    assert_int_equal(act_credit_ms(1000, 21000, 30000), 20000); /* early */
    assert_int_equal(act_credit_ms(1000, 91000, 30000), 30000); /* late: not extrapolated */
    assert_int_equal(act_credit_ms(9000, 5000, 30000), 30000);  /* clock went back */
    assert_int_equal(act_credit_ms(0, 5000, 0), 0);

    assert_int_equal(act_window_ms(1000, 30000, 0, 2000), 30000);
    assert_int_equal(act_window_ms(1000, 30000, 990, 2000), 10000); /* started 10 s ago */
    assert_int_equal(act_window_ms(1000, 30000, 0, 980), 10000);    /* ended 20 s ago */
    assert_int_equal(act_window_ms(1000, 30000, 0, 900), 0);        /* ended before */
    assert_int_equal(act_window_ms(1000, 30000, 1000, 2000), 0);    /* starts now */
    assert_int_equal(act_window_ms(1000, 30000, 2000, 1000), 0);    /* empty window */
    assert_int_equal(act_window_ms(INT64_MAX, 30000, 0, INT64_MAX), 0);
    assert_int_equal(act_window_ms(1000, 30000, INT64_MIN, 2000), 0);

    /* A session whose window ended mid-interval gets only the part inside it. */
    struct prom_samples s = parse_text(
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE{gpu=\"0\",UUID=\"GPU-a\",namespace=\"s1\"} 0.5\n");
    struct act_session sess = session(1, "s1", "nvidia.com/gpu", 1, 0, 990);
    struct act_delta d;
    assert_int_equal(act_measure(&s, &sess, 1, 1000, 30000, &d), 1);
    assert_int_equal(d.measured_ms, 20000);
    assert_int_equal(d.busy_ms, 10000);
    prom_samples_free(&s);

    assert_near(act_fraction(0, 0), -1, 0);
    assert_near(act_fraction(500, 1000), 0.5, 1e-12);
    assert_near(act_fraction(2000, 1000), 1, 0);
}

static struct config *load(const char *yaml, struct error *err)
{
    struct config *c = NULL;
    if (config_load_string(yaml, strlen(yaml), "t.yaml", &c, err) < 0)
        return NULL;
    return c;
}

static void test_config_keys(void **state)
{
    struct error err = {0};
    struct config *c = load("{}", &err);
    assert_non_null(c);
    assert_string_equal(c->reconciler.dcgm_url, "");
    assert_int_equal(c->reconciler.dcgm_interval_seconds, 30);
    assert_int_equal(c->reconciler.dcgm_timeout_seconds, 5);
    config_free(c);
    c = load("reconciler:\n  dcgm_url: http://dcgm-exporter.nvidia-gpu-operator:9400/metrics\n"
             "  dcgm_interval_seconds: 10\n",
             &err);
    assert_non_null(c);
    assert_int_equal(c->reconciler.dcgm_interval_seconds, 10);
    config_free(c);
    static const struct {
        const char *yaml, *want;
    } bad[] = {
        {"reconciler:\n  dcgm_url: ftp://host/metrics\n", "reconciler.dcgm_url"},
        {"reconciler:\n  dcgm_url: http://\n", "reconciler.dcgm_url"},
        {"reconciler:\n  dcgm_url: \"http://a b/metrics\"\n", "reconciler.dcgm_url"},
        {"reconciler:\n  dcgm_interval_seconds: 0\n",
         "t.yaml:2: reconciler.dcgm_interval_seconds: 0 is out of range"},
        {"reconciler:\n  dcgm_timeout_seconds: 61\n", "reconciler.dcgm_timeout_seconds"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct error e = {0};
        c = load(bad[i].yaml, &e);
        assert_null(c);
        if (!strstr(e.message, bad[i].want))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, e.message, bad[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_node),
        cmocka_unit_test(test_exported_namespace),
        cmocka_unit_test(test_duplicates_and_clamping),
        cmocka_unit_test(test_credit_and_window),
        cmocka_unit_test(test_config_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
