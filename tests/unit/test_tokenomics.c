/* Tokenomics: hand-computed cases for each formula, the utilization property, break-even,
 * inverse sizing verdicts, validation messages and the SVG chart. */
#include "common/strbuf.h"
#include "common/yaml_json.h"
#include "core/tokenomics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define assert_near(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (tol)))                                                             \
            fail_msg("%s = %.6f, expected %.6f (+-%g)", #a, a_, b_, (double)(tol));                \
    } while (0)

/* One C845A-class server (2 GPUs) serving a 70B model: the worked example. */
#define ONE_SERVER                                                                                 \
    "servers: [{name: c845a, count: 1, capex: 45000, gpus: 2, overhead_fraction: 0.15,"            \
    "           power_load_kw: 1.8, power_idle_kw: 0.5}]\n"                                        \
    "finance: {life_years: 4, cost_of_capital: %s, maintenance_fraction: 0.08}\n"                  \
    "facility: {pue: 1.5, electricity_per_kwh: 0.10}\n"                                            \
    "utilization: %s\n"                                                                            \
    "workloads: [{name: 70B, tokens_per_second_per_gpu: 1072.2, share: 1,"                         \
    "  cloud_prices: [{name: Groq, input_per_million: 0.59, output_per_million: 0.79},"            \
    "                 {name: Cheap, input_per_million: 0.0, output_per_million: 0.01}]}]\n"

static json_t *run(const char *yaml, struct error *err)
{
    json_t *doc = NULL, *res = NULL;
    struct tok_input in;
    if (yaml_to_json(yaml, strlen(yaml), "t.yaml", &doc, err) < 0)
        return NULL;
    if (tok_parse(doc, &in, err) == 0)
        tok_compute(&in, &res, err);
    json_decref(doc);
    return res;
}

static json_t *run_fmt(const char *r, const char *u)
{
    char buf[2048];
    struct error err = {0};
    snprintf(buf, sizeof(buf), ONE_SERVER, r, u);
    json_t *res = run(buf, &err);
    if (!res)
        fail_msg("%s", err.message);
    return res;
}

static double get(json_t *o, const char *path)
{
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s", path);
    json_t *v = o;
    for (char *save, *k = strtok_r(tmp, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return json_number_value(v);
}

static void test_straight_line(void **state)
{
    json_t *r = run_fmt("0", "0.4");
    /* capital 45000*1.15/4, maintenance 8% of 51750, energy 0.5 kW idle + 0.4*1.3 kW */
    assert_near(get(r, "annual_cost.capital"), 12937.5, 1e-6);
    assert_near(get(r, "annual_cost.maintenance"), 4140, 1e-6);
    assert_near(get(r, "annual_cost.energy"), (0.5 + 0.4 * 1.3) * 8760 * 1.5 * 0.10, 1e-6);
    assert_near(get(r, "capacity_tokens_per_year"), 2 * 1072.2 * 31536000.0, 1);
    assert_near(get(r, "cost_per_million_tokens"), 0.681, 0.001);
    json_decref(r);
    r = run_fmt("0", "0.8");
    assert_near(get(r, "cost_per_million_tokens"), 0.353, 0.001);
    json_decref(r);
}

static void test_cost_of_capital(void **state)
{
    json_t *r = run_fmt("0.08", "0.8");
    double crf = 0.08 * pow(1.08, 4) / (pow(1.08, 4) - 1);
    assert_near(get(r, "annual_cost.capital"), 51750 * crf, 1e-6);
    assert_near(get(r, "cost_per_million_tokens"), 0.403, 0.001);
    json_decref(r);
}

static void test_idle_vs_load_energy(void **state)
{
    json_t *a = run_fmt("0", "0.2"), *b = run_fmt("0", "1.0");
    double idle = 0.5 * 8760 * 1.5 * 0.10, span = 1.3 * 8760 * 1.5 * 0.10;
    assert_near(get(a, "annual_cost.energy"), idle + 0.2 * span, 1e-6);
    assert_near(get(b, "annual_cost.energy"), idle + span, 1e-6);
    json_decref(a);
    json_decref(b);
}

static void test_standby_counts_cost_not_capacity(void **state)
{
    const char *y =
        "servers: [{name: s, count: 1, standby: 1, capex: 45000, gpus: 2, overhead_fraction: 0.15,"
        "           power_load_kw: 1.8, power_idle_kw: 0.5}]\n"
        "utilization: 0.4\n"
        "workloads: [{name: w, tokens_per_second_per_gpu: 1072.2, share: 1}]\n";
    struct error err = {0};
    json_t *r = run(y, &err), *base = run_fmt("0", "0.4");
    assert_non_null(r);
    assert_near(get(r, "capacity_tokens_per_year"), get(base, "capacity_tokens_per_year"), 1);
    /* one more server's fixed cost and idle energy, no load energy */
    double extra = 12937.5 + 4140 + 0.5 * 8760 * 1.5 * 0.10;
    assert_near(get(r, "annual_cost.total"), get(base, "annual_cost.total") + extra, 1e-6);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "gpus"), "standby")), 2);
    json_decref(r);
    json_decref(base);
}

static void test_break_even(void **state)
{
    json_t *r = run_fmt("0", "0.4");
    json_t *be = json_object_get(r, "break_even");
    assert_int_equal(json_array_size(be), 2);
    json_t *groq = json_array_get(be, 0), *cheap = json_array_get(be, 1);
    /* U* = (F + E_idle) / (P_eq * Cap_M - dE) */
    double F = 12937.5 + 4140 + 657, capM = 2 * 1072.2 * 31536000.0 / 1e6;
    assert_near(get(groq, "utilization"), F / (1.38 * capM - 1708.2), 1e-6);
    assert_string_equal(json_string_value(json_object_get(groq, "status")), "reachable");
    /* $0.01 per 1M can never pay for the hardware */
    assert_true(json_is_null(json_object_get(cheap, "utilization")));
    assert_string_equal(json_string_value(json_object_get(cheap, "status")), "never");
    json_decref(r);
}

static json_t *example(double utilization)
{
    FILE *f = fopen("config/tokenomics.example.yaml", "rb");
    assert_non_null(f);
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    struct error err = {0};
    json_t *doc = NULL, *res = NULL;
    struct tok_input in;
    assert_int_equal(yaml_to_json(buf, n, "example", &doc, &err), 0);
    if (tok_parse(doc, &in, &err) < 0)
        fail_msg("%s", err.message);
    in.utilization = utilization;
    assert_int_equal(tok_compute(&in, &res, &err), 0);
    json_decref(doc);
    return res;
}

static void test_doubling_utilization_nearly_halves_cost(void **state)
{
    json_t *a = example(0.4), *b = example(0.8);
    double ratio = get(b, "cost_per_million_tokens") / get(a, "cost_per_million_tokens");
    if (ratio < 0.5 || ratio > 0.55)
        fail_msg("80%% vs 40%% cost ratio %.4f outside 0.50..0.55", ratio);
    json_decref(a);
    json_decref(b);
}

static void test_sizing_verdicts(void **state)
{
    json_t *r = example(0.4);
    json_t *sz = json_object_get(r, "sizing");
    static const struct {
        int gpus;
        const char *verdict, *reason;
    } want[] = {{4, "right-sized", ""},
                {3, "over-provisioned", "capacity"},
                {10, "under-provisioned", "capacity"},
                {16, "under-provisioned", "redundancy"}};
    assert_int_equal(json_array_size(sz), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *row = json_array_get(sz, i);
        assert_int_equal(json_integer_value(json_object_get(row, "gpus_required")), want[i].gpus);
        assert_string_equal(json_string_value(json_object_get(row, "verdict")), want[i].verdict);
        assert_string_equal(json_string_value(json_object_get(row, "reason")), want[i].reason);
    }
    /* 17 PCIe GPUs -> 9 two-GPU servers, and 2 eight-GPU servers */
    json_t *servers = json_object_get(json_object_get(r, "fleet"), "servers_required");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(servers, 0), "count")), 9);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(servers, 1), "count")), 2);
    json_decref(r);
}

static void test_budget(void **state)
{
    const char *y = "servers: [{name: c845a, count: 1, capex: 45000, gpus: 2, power_load_kw: 1.8, "
                    "power_idle_kw: 0.5}]\n"
                    "planning: {budget_per_year: 100000}\n"
                    "workloads: [{name: 70B, tokens_per_second_per_gpu: 1072.2, "
                    "demand_tokens_per_year: 150e9}]\n";
    struct error err = {0};
    json_t *r = run(y, &err);
    assert_non_null(r);
    json_t *b = json_object_get(json_object_get(r, "fleet"), "budget");
    /* 10 GPUs = 5 servers at ~$18.9k each fit in $100k */
    assert_string_equal(json_string_value(json_object_get(b, "verdict")), "within-budget");
    json_t *one = json_array_get(json_object_get(b, "if_all_for_one_workload"), 0);
    assert_near(get(one, "servers"), 5, 0);
    assert_near(get(one, "tokens_per_year") / 1e9, 236.7, 0.5); /* the worked example */
    json_decref(r);
    char tight[1024];
    snprintf(tight, sizeof(tight), "%s", y);
    memcpy(strstr(tight, "100000"), "060000", 6);
    r = run(tight, &err);
    assert_non_null(r);
    b = json_object_get(json_object_get(r, "fleet"), "budget");
    assert_string_equal(json_string_value(json_object_get(b, "verdict")), "budget-constrained");
    assert_true(get(b, "affordable_fraction_of_demand") < 1);
    json_decref(r);
}

static void test_validation(void **state)
{
    static const struct {
        const char *yaml, *field, *text;
    } cases[] = {
        {"servers: [{name: a, capex: -5, gpus: 2, power_load_kw: 1, power_idle_kw: 0}]\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: 1}]",
         "servers[0].capex", "$ per server"},
        {"servers: [{name: a, capex: 5, power_load_kw: 1, power_idle_kw: 0}]\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: 1}]",
         "servers[0].gpus", "required"},
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: 0}]\nfacility: "
         "{pue: 0.5}\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: 1}]",
         "facility.pue", "out of range"},
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: 2}]\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: 1}]",
         "servers[0].power_idle_kw", "kW"},
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: 0}]\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: 1, server: b}]",
         "workloads[0].server", "no server type named"},
        /* null means "not given": with no share and no demand the workload has neither */
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: 0}]\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: null}]",
         "workloads", "share"},
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: "
         "0}]\nutilization: 1.5\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: 1}]",
         "utilization", "0..1"},
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: 0}]\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: 0.5}]",
         "workloads", "add up to 1"},
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: 0, colour: "
         "red}]\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: 1, share: 1}]",
         "servers[0].colour", "unknown field"},
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: 0}]\n"
         "workloads: [{name: w, tokens_per_second_per_gpu: fast, share: 1}]",
         "workloads[0].tokens_per_second_per_gpu", "tokens per second"},
        {"servers: [{name: a, capex: 5, gpus: 1, power_load_kw: 1, power_idle_kw: 0}]", "workloads",
         "required"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct error err = {0};
        json_t *r = run(cases[i].yaml, &err);
        if (r)
            fail_msg("case %zu accepted", i);
        if (strcmp(err.field, cases[i].field) || !strstr(err.message, cases[i].text))
            fail_msg("case %zu: field \"%s\" message \"%s\"; want field \"%s\" with \"%s\"", i,
                     err.field, err.message, cases[i].field, cases[i].text);
    }
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The fuzz seed corpus (tests/fuzz/tokenomics) says what it is: valid-* inputs parse, the
 * invalid-* ones are refused with a validation error that names a field or the input. */
static void test_fuzz_seeds(void **state)
{
    (void)state;
    const char *dir = "tests/fuzz/tokenomics";
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int valid = 0, invalid = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[512], *text = NULL;
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        assert_int_equal(read_file(path, 1 << 20, &text, &len, NULL), 0);
        json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        struct tok_input *in = calloc(1, sizeof(*in));
        struct error err = {0};
        int r = doc ? tok_parse(doc, in, &err) : -ERR_INVALID;
        if (!strncmp(de->d_name, "valid-", 6)) {
            if (r != 0)
                fail_msg("%s: %s", de->d_name, err.message);
            valid++;
        } else {
            assert_int_equal(r, -ERR_INVALID);
            invalid++;
        }
        json_decref(doc);
        free(in);
        free(text);
    }
    closedir(d);
    assert_true(valid >= 3);
    assert_true(invalid >= 5);
}

static void test_svg(void **state)
{
    json_t *r = example(0.4);
    char *svg = NULL;
    struct error err = {0};
    assert_int_equal(tok_svg(r, &svg, &err), 0);
    assert_true(!strncmp(svg, "<?xml", 5));
    assert_non_null(strstr(svg, "</svg>\n"));
    assert_int_equal(count(svg, "class=\"series cost\""), 4);
    assert_int_equal(count(svg, "class=\"series price\""), 10);
    assert_true(count(svg, "class=\"break-even\"") >= 5);
    assert_int_equal(count(svg, "<svg"), count(svg, "</svg>"));
    assert_int_equal(count(svg, "<text"), count(svg, "</text>"));
    free(svg);
    json_decref(r);
}

static void test_measured_utilization(void **state)
{
    struct pool p = {.n = 2};
    snprintf(p.res[0].name, sizeof(p.res[0].name), "nvidia.com/gpu");
    p.res[0].kind = POOL_GPU;
    p.res[0].physical = 1;
    p.res[0].memory_gib = 96;
    snprintf(p.res[1].name, sizeof(p.res[1].name), "nvidia.com/mig-1g.24gb");
    p.res[1].kind = POOL_MIG;
    p.res[1].physical = 4;
    p.res[1].memory_gib = 24;
    struct reservation r[3] = {0};
    snprintf(r[0].gpu_type, sizeof(r[0].gpu_type), "nvidia.com/gpu");
    r[0].gpu_count = 1, r[0].starts_at = 0, r[0].ends_at = 50, r[0].state = RS_COMPLETED;
    snprintf(r[1].gpu_type, sizeof(r[1].gpu_type), "nvidia.com/mig-1g.24gb");
    r[1].gpu_count = 2, r[1].starts_at = 50, r[1].ends_at = 150, r[1].state = RS_ACTIVE;
    r[2] = r[0];
    r[2].state = RS_CANCELED;
    /* whole GPU half the window (96*50) + two slices half the window (2*24*50), of 192*100 */
    assert_near(tok_measured_utilization(&p, r, 3, 0, 100), (96.0 * 50 + 48.0 * 50) / 19200.0,
                1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_straight_line),
        cmocka_unit_test(test_fuzz_seeds),
        cmocka_unit_test(test_cost_of_capital),
        cmocka_unit_test(test_idle_vs_load_energy),
        cmocka_unit_test(test_standby_counts_cost_not_capacity),
        cmocka_unit_test(test_break_even),
        cmocka_unit_test(test_doubling_utilization_nearly_halves_cost),
        cmocka_unit_test(test_sizing_verdicts),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_measured_utilization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
