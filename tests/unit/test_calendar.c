/* Calendar: table cases, and admission checked against a brute-force per-minute oracle. */
#include "core/calendar.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define assert_near(a, b) assert_true((a) - (b) < 0.5 && (b) - (a) < 0.5)

static void mkpool(struct pool *p)
{
    memset(p, 0, sizeof *p);
    static const struct {
        const char *name;
        enum pool_kind kind;
        int physical;
    } rows[] = {
        {"nvidia.com/gpu", POOL_GPU, 2}, {"nvidia.com/mig-1g.24gb", POOL_MIG, 4},
        {"cpu", POOL_CPU, 16},           {"memory", POOL_MEMORY, 64},
        {"storage", POOL_STORAGE, 100},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct pool_resource *r = &p->res[p->n++];
        snprintf(r->name, sizeof r->name, "%s", rows[i].name);
        r->kind = rows[i].kind;
        r->physical = rows[i].physical;
        r->slots_per_unit = 1;
        r->slots = r->physical;
        r->advertised = -1;
    }
}

static struct reservation bk(int64_t id, const char *type, int count, int cpu, int64_t s, int64_t e)
{
    struct reservation r = {0};
    r.id = id;
    snprintf(r.gpu_type, sizeof r.gpu_type, "%s", type);
    r.gpu_count = count;
    r.cpu = cpu;
    r.starts_at = s;
    r.ends_at = e;
    r.state = RS_APPROVED;
    return r;
}

static void test_table(void **state)
{
    struct pool p;
    mkpool(&p);
    struct error err = {0};
    const char *G = "nvidia.com/gpu";
    struct reservation ex[] = {bk(1, G, 1, 1, 100, 200), bk(2, G, 1, 1, 150, 300),
                               bk(3, G, 2, 1, 300, 400)};
    /* back-to-back with the 2-GPU booking at 300 */
    struct reservation r = bk(0, G, 1, 1, 200, 300);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), 0);
    r = bk(0, G, 1, 1, 400, 500);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), 0);
    /* overlaps both 1 and 2 at 150..200 */
    r = bk(0, G, 1, 1, 120, 180);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), -ERR_CONFLICT);
    assert_string_equal(err.field, G);
    /* sum-of-overlaps would say 1+1+2=4, the sweep says peak 2: still full */
    r = bk(0, G, 1, 1, 250, 350);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), -ERR_CONFLICT);
    /* the sweep admits what "sum of overlapping" would refuse: 1 then 2 do not overlap */
    struct reservation ex2[] = {bk(1, G, 1, 1, 100, 200), bk(2, G, 1, 1, 200, 300)};
    r = bk(0, G, 1, 1, 100, 300);
    assert_int_equal(cal_admit(&p, ex2, 2, &r, &err), 0);
    /* skipping itself (extend) */
    r = bk(1, G, 2, 1, 100, 150);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), 0);
    /* unknown type and cpu limit */
    r = bk(0, "nvidia.com/h100", 1, 1, 0, 10);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), -ERR_INVALID);
    r = bk(0, G, 1, 17, 1000, 1100);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), -ERR_CONFLICT);
    assert_string_equal(err.field, "cpu");
    /* canceled bookings hold nothing */
    ex[1].state = RS_CANCELED;
    r = bk(0, G, 1, 1, 150, 200);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), 0);
    ex[1].state = RS_APPROVED;
    /* degraded pool: advertised below physical */
    p.res[0].advertised = 1;
    r = bk(0, G, 1, 1, 120, 140);
    assert_int_equal(cal_admit(&p, ex, 3, &r, &err), -ERR_CONFLICT);
    p.res[0].advertised = -1;

    assert_int_equal(cal_peak(&p.res[0], ex, 3, 0, 1000, 0), 2);
    assert_int_equal(cal_peak(&p.res[0], ex, 3, 100, 150, 0), 1);
    assert_int_equal(cal_peak(&p.res[0], ex, 3, 200, 300, 0), 1);
    assert_int_equal(cal_peak(&p.res[0], ex, 3, 400, 500, 0), 0);

    struct window w;
    r = bk(0, G, 1, 1, 150, 250);
    assert_int_equal(cal_next_window(&p, ex, 3, &r, 150, 10000, &w), 0);
    assert_int_equal(w.starts_at, 200);
    assert_int_equal(w.ends_at, 300);
    r = bk(0, G, 2, 1, 0, 150);
    assert_int_equal(cal_next_window(&p, ex, 3, &r, 0, 10000, &w), 0);
    assert_int_equal(w.starts_at, 400);
    r = bk(0, G, 3, 1, 0, 150);
    assert_int_equal(cal_next_window(&p, ex, 3, &r, 0, 10000, &w), -ERR_NOT_FOUND);
    r = bk(0, G, 2, 1, 0, 150);
    assert_int_equal(cal_next_window(&p, ex, 3, &r, 0, 400, &w), -ERR_NOT_FOUND);

    int out[5];
    assert_int_equal(cal_free_series(&p.res[0], ex, 3, 100, 500, 100, out, 5), 0);
    assert_int_equal(out[0], 0); /* 150..200 two booked */
    assert_int_equal(out[1], 1);
    assert_int_equal(out[2], 0);
    assert_int_equal(out[3], 2);
    assert_near(cal_booked_unit_seconds(&p.res[0], ex, 3, 0, 1000), 100 + 150 + 200);
    assert_near(cal_booked_unit_seconds(&p.res[0], ex, 3, 150, 350), 50 + 150 + 100);
}

/* ---- property test ---- */
#define MIN 60
#define DAYS 3
#define MINUTES (DAYS * 24 * 60)
#define NTRY 3000

#define MAX_TURNAROUND_MIN 60

/* occ: minutes a unit is held (a GPU unit until its turnaround has passed); booked: minutes
 * inside the bookings themselves (what utilisation counts). */
static int occ[5][MINUTES + MAX_TURNAROUND_MIN];
static int booked[5][MINUTES];

/* Minutes resource k stays held after a booking: the turnaround, GPU kinds only. */
static int64_t oracle_tail(const struct pool *p, int k)
{
    return pool_is_gpu(&p->res[k]) ? p->res[k].turnaround_s / MIN : 0;
}

static bool oracle_fits(const struct pool *p, const struct reservation *r)
{
    int64_t a = r->starts_at / MIN, b = r->ends_at / MIN;
    if (b > MINUTES)
        return false;
    for (int k = 0; k < p->n; k++) {
        int u = cal_usage(r, &p->res[k]);
        if (!u)
            continue;
        for (int64_t m = a; m < b + oracle_tail(p, k); m++)
            if (occ[k][m] + u > pool_bookable(&p->res[k]))
                return false;
    }
    return true;
}

static void oracle_add(const struct pool *p, const struct reservation *r)
{
    for (int k = 0; k < p->n; k++) {
        for (int64_t m = r->starts_at / MIN; m < r->ends_at / MIN + oracle_tail(p, k); m++)
            occ[k][m] += cal_usage(r, &p->res[k]);
        for (int64_t m = r->starts_at / MIN; m < r->ends_at / MIN; m++)
            booked[k][m] += cal_usage(r, &p->res[k]);
    }
}

/* Admission, next window, free series and booked unit-seconds against the per-minute oracle,
 * with a GPU turnaround of turnaround_min minutes (0: back-to-back bookings allowed). */
static void run_property(int64_t turnaround_min)
{
    struct pool p;
    mkpool(&p);
    for (int k = 0; k < p.n; k++)
        if (pool_is_gpu(&p.res[k]))
            p.res[k].turnaround_s = turnaround_min * MIN;
    srand(12345);
    memset(occ, 0, sizeof occ);
    memset(booked, 0, sizeof booked);
    struct reservation *ex = calloc(NTRY, sizeof *ex);
    assert_non_null(ex);
    size_t n = 0;
    int admitted = 0, rejected = 0, nw_checked = 0;
    const char *types[] = {"nvidia.com/gpu", "nvidia.com/mig-1g.24gb"};
    for (int i = 0; i < NTRY; i++) {
        struct reservation r = {0};
        r.id = i + 1;
        snprintf(r.gpu_type, sizeof r.gpu_type, "%s", types[rand() % 2]);
        r.gpu_count = 1 + rand() % 2;
        r.cpu = 1 + rand() % 6;
        r.memory_gib = rand() % 24;
        r.storage_gib = rand() % 30;
        int64_t len = 1 + rand() % 240;
        int64_t start = rand() % (MINUTES - len);
        r.starts_at = start * MIN;
        r.ends_at = (start + len) * MIN;
        struct error err = {0};
        int rc = cal_admit(&p, ex, n, &r, &err);
        bool want = oracle_fits(&p, &r);
        if (want)
            assert_int_equal(rc, 0); /* no false rejection */
        else
            assert_int_equal(rc, -ERR_CONFLICT); /* never over capacity */
        if (rc == 0) {
            ex[n++] = r;
            oracle_add(&p, &r);
            admitted++;
        } else {
            rejected++;
            if (i % 7 == 0) {
                /* the next window is the true earliest fit within the horizon */
                struct window w;
                int64_t horizon = (MINUTES - len) * MIN + 1;
                int nrc = cal_next_window(&p, ex, n, &r, r.starts_at, horizon, &w);
                int64_t found = -1;
                for (int64_t s = start; s * MIN < horizon; s++) {
                    struct reservation t = r;
                    t.starts_at = s * MIN;
                    t.ends_at = (s + len) * MIN;
                    if (oracle_fits(&p, &t)) {
                        found = s * MIN;
                        break;
                    }
                }
                if (found < 0) {
                    assert_int_equal(nrc, -ERR_NOT_FOUND);
                } else {
                    assert_int_equal(nrc, 0);
                    assert_int_equal(w.starts_at, found);
                    assert_int_equal(w.ends_at - w.starts_at, len * MIN);
                }
                nw_checked++;
            }
        }
    }
    assert_true(admitted > 100);
    assert_true(rejected > 100);
    assert_true(nw_checked > 10);
    /* free series at 1 h steps against the oracle */
    for (int k = 0; k < p.n; k++) {
        int out[DAYS * 24];
        assert_int_equal(
            cal_free_series(&p.res[k], ex, n, 0, (int64_t)MINUTES * MIN, 3600, out, DAYS * 24), 0);
        for (int h = 0; h < DAYS * 24; h++) {
            int peak = 0;
            for (int m = h * 60; m < h * 60 + 60; m++)
                if (occ[k][m] > peak)
                    peak = occ[k][m];
            assert_int_equal(out[h], pool_bookable(&p.res[k]) - peak);
        }
        double us = 0;
        for (int m = 0; m < MINUTES; m++)
            us += booked[k][m] * 60.0;
        assert_near(cal_booked_unit_seconds(&p.res[k], ex, n, 0, (int64_t)MINUTES * MIN), us);
    }
    /* The span form the store builds row by row (cal_busy_add) gives the same series. */
    struct cal_busy b = {0};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cal_busy_add(&b, &p, ex[i].id, ex[i].starts_at, ex[i].ends_at,
                                      ex[i].gpu_type, ex[i].gpu_count, ex[i].cpu, ex[i].memory_gib,
                                      ex[i].storage_gib),
                         0);
    for (int k = 0; k < p.n; k++) {
        int out[DAYS * 24];
        assert_int_equal(cal_free_series_spans(&p.res[k], b.spans[k], b.n[k], 0,
                                               (int64_t)MINUTES * MIN, 3600, out, DAYS * 24),
                         0);
        for (int h = 0; h < DAYS * 24; h++) {
            int peak = 0;
            for (int m = h * 60; m < h * 60 + 60; m++)
                if (occ[k][m] > peak)
                    peak = occ[k][m];
            assert_int_equal(out[h], pool_bookable(&p.res[k]) - peak);
        }
    }
    /* Every admitted booking, checked again against the rest (as extend does), still fits. */
    for (size_t i = 0; i < n; i += 17)
        assert_int_equal(cal_admit_busy(&p, &b, &ex[i], NULL), 0);
    cal_busy_free(&b);
    free(ex);
}

static void test_property(void **state)
{
    (void)state;
    run_property(0);
}

/* The same with a 17-minute turnaround: a GPU unit is never handed to a booking that starts
 * before the previous holder's turnaround has passed, and nothing else is refused. */
static void test_property_turnaround(void **state)
{
    (void)state;
    run_property(17);
}

/* Back-to-back on one unit: refused within the turnaround, admitted right after it; cpu is
 * not held (only GPU kinds have a turnaround). */
static void test_turnaround_table(void **state)
{
    (void)state;
    struct pool p;
    mkpool(&p);
    for (int k = 0; k < p.n; k++)
        if (pool_is_gpu(&p.res[k]))
            p.res[k].turnaround_s = 300;
    struct reservation ex[] = {bk(1, "nvidia.com/gpu", 2, 1, 1000, 2000)};
    struct reservation r = bk(0, "nvidia.com/gpu", 1, 1, 2000, 3000);
    struct error err = {0};
    assert_int_equal(cal_admit(&p, ex, 1, &r, &err), -ERR_CONFLICT);
    assert_string_equal(err.field, "nvidia.com/gpu");
    r.starts_at = 2299;
    assert_int_equal(cal_admit(&p, ex, 1, &r, &err), -ERR_CONFLICT);
    r.starts_at = 2300;
    assert_int_equal(cal_admit(&p, ex, 1, &r, &err), 0);
    /* the request's own turnaround: ending 299 s before the next holder starts is too late */
    r = bk(0, "nvidia.com/gpu", 1, 1, 0, 701);
    assert_int_equal(cal_admit(&p, ex, 1, &r, &err), -ERR_CONFLICT);
    r.ends_at = 700;
    assert_int_equal(cal_admit(&p, ex, 1, &r, &err), 0);
    /* the next window starts when the turnaround has passed */
    struct window w;
    r = bk(0, "nvidia.com/gpu", 1, 1, 1500, 1600);
    assert_int_equal(cal_next_window(&p, ex, 1, &r, 1500, 100000, &w), 0);
    assert_int_equal(w.starts_at, 2300);
    /* capacity shows the unit held through the turnaround */
    int out[4];
    assert_int_equal(cal_free_series(&p.res[0], ex, 1, 2000, 2400, 100, out, 4), 0);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[2], 0);
    assert_int_equal(out[3], 2);
}

/* Spans: one per resource a booking uses; an unknown GPU type adds none; a booking is not
 * counted against itself; a full window is refused with the resource named. */
static void test_busy(void **state)
{
    struct pool p;
    struct cal_busy b = {0};
    struct error err = {0};
    mkpool(&p);
    assert_int_equal(cal_busy_add(&b, &p, 1, 100, 200, "nvidia.com/gpu", 2, 3, 0, 5), 0);
    assert_int_equal(cal_busy_add(&b, &p, 2, 150, 250, "nvidia.com/h100", 1, 1, 1, 1), 0);
    assert_int_equal(b.n[0], 1); /* nvidia.com/gpu */
    assert_int_equal(b.spans[0][0].amount, 2);
    assert_int_equal(b.n[1], 0); /* mig: unused */
    assert_int_equal(b.n[2], 2); /* cpu: both */
    assert_int_equal(b.spans[2][0].amount, 3);
    assert_int_equal(b.n[3], 1); /* memory: only the second (the first uses 0) */
    assert_int_equal(b.n[4], 2);
    struct reservation r = bk(0, "nvidia.com/gpu", 1, 1, 150, 160);
    assert_int_equal(cal_admit_busy(&p, &b, &r, &err), -ERR_CONFLICT);
    assert_string_equal(err.field, "nvidia.com/gpu");
    r.id = 1; /* booking 1 itself, e.g. being extended */
    assert_int_equal(cal_admit_busy(&p, &b, &r, &err), 0);
    r = bk(0, "nvidia.com/gpu", 1, 1, 200, 260); /* back to back */
    assert_int_equal(cal_admit_busy(&p, &b, &r, &err), 0);
    r = bk(0, "nvidia.com/gpu", 1, 1, 150, 160);
    struct window w;
    assert_int_equal(cal_next_window_busy(&p, &b, &r, 150, 10000, &w), 0);
    assert_int_equal(w.starts_at, 200);
    assert_int_equal(w.ends_at, 210);
    cal_busy_free(&b);
    assert_int_equal(b.n[2], 0);
}

/* A week at 1 h steps over 10,000 bookings stays cheap (one sort, one sweep). */
static void test_series_large(void **state)
{
    struct pool p;
    mkpool(&p);
    p.res[0].physical = 100000;
    size_t n = 10000;
    struct reservation *ex = calloc(n, sizeof *ex);
    assert_non_null(ex);
    srand(7);
    for (size_t i = 0; i < n; i++)
        ex[i] = bk((int64_t)i + 1, "nvidia.com/gpu", 1, 0, (rand() % (7 * 24 * 60)) * 60LL, 0);
    for (size_t i = 0; i < n; i++)
        ex[i].ends_at = ex[i].starts_at + 3600 * (1 + rand() % 8);
    int out[7 * 24];
    assert_int_equal(cal_free_series(&p.res[0], ex, n, 0, 7 * 86400, 3600, out, 7 * 24), 0);
    for (int h = 0; h < 7 * 24; h++)
        assert_true(out[h] < 100000 && out[h] >= 0);
    assert_int_equal(cal_free_series(&p.res[0], ex, n, 0, 7 * 86400, 3600, out, 10), -ERR_INVALID);
    free(ex);
}

/* cal_over_capacity against a per-minute oracle: a span is flagged exactly when some minute
 * of it at or after `from` is used beyond cap. */
static void test_over_capacity(void **state)
{
    (void)state;
    enum { N = 60, SPAN_MINUTES = 600 };
    static int use[SPAN_MINUTES];
    struct cal_span sp[N];
    srand(99);
    for (int round = 0; round < 200; round++) {
        int n = rand() % N, cap = rand() % 6;
        int64_t from = (rand() % 300) * 60LL;
        memset(use, 0, sizeof use);
        for (int i = 0; i < n; i++) {
            int64_t a = rand() % (SPAN_MINUTES - 1), len = 1 + rand() % 120;
            if (a + len > SPAN_MINUTES)
                len = SPAN_MINUTES - a;
            sp[i] = (struct cal_span){i + 1, a * 60, (a + len) * 60, rand() % 3};
            for (int64_t m = a; m < a + len; m++)
                use[m] += sp[i].amount;
        }
        int64_t *ids = NULL;
        size_t k = 0;
        assert_int_equal(cal_over_capacity(sp, (size_t)n, cap, from, &ids, &k), 0);
        size_t j = 0;
        for (int i = 0; i < n; i++) {
            bool want = false;
            for (int64_t m = sp[i].starts_at / 60; sp[i].amount > 0 && m < sp[i].ends_at / 60; m++)
                want |= m * 60 >= from && use[m] > cap;
            bool got = j < k && ids[j] == sp[i].id;
            if (got)
                j++;
            if (want != got)
                fail_msg("round %d span %d [%" PRId64 ",%" PRId64 ") amount %d cap %d from %" PRId64
                         ": flagged %d, oracle %d",
                         round, i, sp[i].starts_at, sp[i].ends_at, sp[i].amount, cap, from, got,
                         want);
        }
        assert_int_equal(j, k);
        free(ids);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_property),
        cmocka_unit_test(test_property_turnaround),
        cmocka_unit_test(test_turnaround_table),
        cmocka_unit_test(test_series_large),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_over_capacity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
