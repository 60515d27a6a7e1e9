/* Exact admission by a sweep over interval end points. Per resource, the bookings become a
 * step function ("profile"): sorted distinct times t[i] and the usage level on
 * [t[i], t[i+1]). Peaks over a window are read off the profile. */
#include "core/calendar.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

struct event {
    int64_t t;
    int delta;
};

struct profile {
    int64_t *t; /* distinct times, ascending */
    int *level; /* usage on [t[i], t[i+1]); 0 before t[0] and from the last time on */
    size_t m;
    int *sparse; /* optional range-maximum table: row j holds max of level[i .. i + 2^j) */
    int rows;
};

int cal_usage(const struct reservation *r, const struct pool_resource *res)
{
    switch (res->kind) {
    case POOL_GPU:
    case POOL_MIG:
        return strcmp(r->gpu_type, res->name) == 0 ? r->gpu_count : 0;
    case POOL_CPU:
        return r->cpu;
    case POOL_MEMORY:
        return r->memory_gib;
    case POOL_STORAGE:
        return r->storage_gib;
    }
    return 0;
}

/* LSD radix sort of k events by time on (t - min), in as few passes of at most 11 bits as
 * the range needs (a week in seconds: two passes). tmp holds k events. */
static void sort_events(struct event *ev, struct event *tmp, size_t k)
{
    if (k < 2)
        return;
    int64_t lo = ev[0].t;
    int64_t hi = lo;
    for (size_t i = 1; i < k; i++) {
        lo = ev[i].t < lo ? ev[i].t : lo;
        hi = ev[i].t > hi ? ev[i].t : hi;
    }
    uint64_t range = (uint64_t)hi - (uint64_t)lo;
    int bits = 0;
    while (bits < 64 && (range >> bits))
        bits++;
    if (bits == 0)
        return;
    int passes = (bits + 10) / 11, width = (bits + passes - 1) / passes;
    uint64_t mask = ((uint64_t)1 << width) - 1;
    struct event *src = ev, *dst = tmp;
    for (int pass = 0, shift = 0; pass < passes; pass++, shift += width) {
        size_t count[2049] = {0};
        for (size_t i = 0; i < k; i++)
            count[(((uint64_t)src[i].t - (uint64_t)lo) >> shift & mask) + 1]++;
        for (uint64_t b = 0; b < mask; b++)
            count[b + 1] += count[b];
        for (size_t i = 0; i < k; i++)
            dst[count[((uint64_t)src[i].t - (uint64_t)lo) >> shift & mask]++] = src[i];
        struct event *t = src;
        src = dst;
        dst = t;
    }
    if (src != ev)
        memcpy(ev, src, k * sizeof *ev);
}

static bool counts(const struct reservation *e, int64_t skip_id)
{
    return !(skip_id && e->id == skip_id) && res_state_holds_capacity(e->state) &&
           e->ends_at > e->starts_at;
}

static void profile_free(struct profile *pr)
{
    free(pr->t);
    free(pr->level);
    free(pr->sparse);
    memset(pr, 0, sizeof *pr);
}

/* Builds the usage profile of spans overlapping [from, to) (to <= from: unbounded),
 * skipping id skip_id (0 = none). */
static int profile_build(struct profile *pr, const struct cal_span *sp, size_t n, int64_t from,
                         int64_t to, int64_t skip_id)
{
    memset(pr, 0, sizeof *pr);
    struct event *ev = malloc((4 * n + 2) * sizeof *ev);
    if (!ev)
        return -ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cal_span *e = &sp[i];
        if ((skip_id && e->id == skip_id) || e->amount <= 0 || e->ends_at <= e->starts_at)
            continue;
        if (to > from && (e->ends_at <= from || e->starts_at >= to))
            continue;
        ev[k++] = (struct event){e->starts_at, e->amount};
        ev[k++] = (struct event){e->ends_at, -e->amount};
    }
    sort_events(ev, ev + 2 * n + 1, k);
    pr->t = malloc((k + 1) * sizeof *pr->t);
    pr->level = malloc((k + 1) * sizeof *pr->level);
    if (!pr->t || !pr->level) {
        free(ev);
        profile_free(pr);
        return -ERR_NOMEM;
    }
    int level = 0;
    for (size_t i = 0; i < k;) {
        int64_t t = ev[i].t;
        while (i < k && ev[i].t == t)
            level += ev[i++].delta;
        pr->t[pr->m] = t;
        pr->level[pr->m] = level;
        pr->m++;
    }
    free(ev);
    return 0;
}

/* ---- spans ---- */

static int busy_push(struct cal_busy *b, int i, struct cal_span sp)
{
    if (ARRAY_GROW(b->spans[i], b->cap[i], b->n[i] + 1, 64) < 0)
        return -ERR_NOMEM;
    b->spans[i][b->n[i]++] = sp;
    return 0;
}

int cal_busy_add(struct cal_busy *b, const struct pool *p, int64_t id, int64_t starts_at,
                 int64_t ends_at, const char *gpu_type, int gpu_count, int cpu, int memory_gib,
                 int storage_gib)
{
    for (int i = 0; i < p->n; i++) {
        const struct pool_resource *res = &p->res[i];
        int u = 0;
        switch (res->kind) {
        case POOL_GPU:
        case POOL_MIG:
            u = strcmp(gpu_type, res->name) == 0 ? gpu_count : 0;
            break;
        case POOL_CPU:
            u = cpu;
            break;
        case POOL_MEMORY:
            u = memory_gib;
            break;
        case POOL_STORAGE:
            u = storage_gib;
            break;
        }
        if (u > 0 &&
            busy_push(b, i, (struct cal_span){id, starts_at, ends_at + res->turnaround_s, u}) < 0)
            return -ERR_NOMEM;
    }
    return 0;
}

int cal_busy_add_all(struct cal_busy *b, const struct pool *p, const struct reservation *existing,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct reservation *e = &existing[i];
        if (!counts(e, 0))
            continue;
        if (cal_busy_add(b, p, e->id, e->starts_at, e->ends_at, e->gpu_type, e->gpu_count, e->cpu,
                         e->memory_gib, e->storage_gib) < 0)
            return -ERR_NOMEM;
    }
    return 0;
}

void cal_busy_free(struct cal_busy *b)
{
    for (int i = 0; i < POOL_MAX_RESOURCES; i++)
        free(b->spans[i]);
    memset(b, 0, sizeof *b);
}

/* The spans of one resource from capacity-holding bookings (*ret malloc'ed). */
static int spans_of(const struct pool_resource *res, const struct reservation *ex, size_t n,
                    struct cal_span **ret, size_t *ret_n)
{
    struct cal_span *v = malloc((n ? n : 1) * sizeof *v);
    size_t m = 0;
    if (!v)
        return -ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int u = counts(&ex[i], 0) ? cal_usage(&ex[i], res) : 0;
        if (u > 0)
            v[m++] =
                (struct cal_span){ex[i].id, ex[i].starts_at, ex[i].ends_at + res->turnaround_s, u};
    }
    *ret = v;
    *ret_n = m;
    return 0;
}

/* Index of the last time <= x, or -1. */
static long profile_at(const struct profile *pr, int64_t x)
{
    size_t lo = 0, hi = pr->m; /* first index with t > x */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pr->t[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* Builds the range-maximum table for many peak queries (O(1) each). */
static int profile_index(struct profile *pr)
{
    int rows = 1;
    while (((size_t)1 << rows) <= pr->m)
        rows++;
    pr->sparse = malloc((size_t)rows * (pr->m ? pr->m : 1) * sizeof *pr->sparse);
    if (!pr->sparse)
        return -ERR_NOMEM;
    pr->rows = rows;
    memcpy(pr->sparse, pr->level, pr->m * sizeof *pr->level);
    for (int j = 1; j < rows; j++) {
        const int *prev = pr->sparse + (size_t)(j - 1) * pr->m;
        int *row = pr->sparse + (size_t)j * pr->m;
        size_t half = (size_t)1 << (j - 1);
        for (size_t i = 0; i + 2 * half <= pr->m; i++)
            row[i] = prev[i] > prev[i + half] ? prev[i] : prev[i + half];
    }
    return 0;
}

/* Max of level[i..j], i <= j, from the sparse table. */
static int range_max(const struct profile *pr, size_t i, size_t j)
{
    int r = 0;
    while (((size_t)2 << r) <= j - i + 1)
        r++;
    const int *row = pr->sparse + (size_t)r * pr->m;
    int x = row[i], y = row[j + 1 - ((size_t)1 << r)];
    return x > y ? x : y;
}

/* Index of the last time < x, or -1. */
static long profile_before(const struct profile *pr, int64_t x)
{
    size_t lo = 0, hi = pr->m;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pr->t[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (long)lo - 1;
}

/* Peak over [a, b), scanning from index hint i = profile_at(a). */
static int profile_peak_from(const struct profile *pr, long i, int64_t b)
{
    int peak = i >= 0 ? pr->level[i] : 0;
    for (size_t j = (size_t)(i + 1); j < pr->m && pr->t[j] < b; j++)
        if (pr->level[j] > peak)
            peak = pr->level[j];
    return peak;
}

static int profile_peak(const struct profile *pr, int64_t a, int64_t b)
{
    if (b <= a)
        return 0;
    long i = profile_at(pr, a);
    if (!pr->sparse)
        return profile_peak_from(pr, i, b);
    long j = profile_before(pr, b);
    if (j < 0)
        return 0;
    return range_max(pr, i < 0 ? 0 : (size_t)i, (size_t)j);
}

static int span_peak(const struct cal_span *sp, size_t n, int64_t from, int64_t to, int64_t skip_id)
{
    if (to <= from)
        return 0;
    struct profile pr;
    if (profile_build(&pr, sp, n, from, to, skip_id) < 0)
        return -ERR_NOMEM;
    int peak = profile_peak(&pr, from, to);
    profile_free(&pr);
    return peak;
}

int cal_peak(const struct pool_resource *res, const struct reservation *existing, size_t n,
             int64_t from, int64_t to, int64_t skip_id)
{
    struct cal_span *sp;
    size_t m;
    if (spans_of(res, existing, n, &sp, &m) < 0)
        return -ERR_NOMEM;
    int peak = span_peak(sp, m, from, to, skip_id);
    free(sp);
    return peak;
}

static int check_type(const struct pool *p, const struct reservation *req, struct error *err)
{
    const struct pool_resource *g = pool_find(p, req->gpu_type);
    if (!g || !pool_is_gpu(g))
        return error_set(err, ERR_INVALID, "gpu_type", "unknown GPU type \"%s\"", req->gpu_type);
    return 0;
}

int cal_admit_busy(const struct pool *p, const struct cal_busy *b, const struct reservation *req,
                   struct error *err)
{
    int rc = check_type(p, req, err);
    if (rc < 0)
        return rc;
    if (req->ends_at <= req->starts_at)
        return error_set(err, ERR_INVALID, "ends_at", "ends_at must be after starts_at");
    for (int i = 0; i < p->n; i++) {
        const struct pool_resource *res = &p->res[i];
        int u = cal_usage(req, res);
        if (u <= 0)
            continue;
        /* the request holds a GPU unit until its turnaround has passed, as every span does */
        int peak = span_peak(b->spans[i], b->n[i], req->starts_at, req->ends_at + res->turnaround_s,
                             req->id);
        if (peak < 0)
            return error_set(err, ERR_NOMEM, NULL, "out of memory");
        int cap = pool_bookable(res);
        if (peak + u > cap)
            return error_set(err, ERR_CONFLICT, res->name,
                             "%s: %d of %d units already booked in the window, %d requested",
                             res->name, peak, cap, u);
    }
    return 0;
}

int cal_admit(const struct pool *p, const struct reservation *existing, size_t n,
              const struct reservation *req, struct error *err)
{
    struct cal_busy b = {0};
    int rc = cal_busy_add_all(&b, p, existing, n);
    if (rc < 0)
        rc = error_set(err, ERR_NOMEM, NULL, "out of memory");
    else
        rc = cal_admit_busy(p, &b, req, err);
    cal_busy_free(&b);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int cal_next_window_busy(const struct pool *p, const struct cal_busy *b,
                         const struct reservation *req, int64_t after, int64_t horizon,
                         struct window *ret)
{
    if (check_type(p, req, NULL) < 0)
        return -ERR_INVALID;
    int64_t len = req->ends_at - req->starts_at;
    if (len <= 0)
        return -ERR_INVALID;
    struct profile prs[POOL_MAX_RESOURCES];
    int need[POOL_MAX_RESOURCES], cap[POOL_MAX_RESOURCES], idx[POOL_MAX_RESOURCES];
    int64_t extra[POOL_MAX_RESOURCES]; /* turnaround after the window */
    int nr = 0, rc = -ERR_NOT_FOUND;
    int64_t *cand = NULL;
    size_t total = 0;
    for (int i = 0; i < p->n; i++) {
        int u = cal_usage(req, &p->res[i]);
        if (u <= 0)
            continue;
        if (u > pool_bookable(&p->res[i]))
            goto out; /* never fits */
        need[nr] = u;
        cap[nr] = pool_bookable(&p->res[i]);
        extra[nr] = p->res[i].turnaround_s;
        idx[nr] = i;
        if (profile_build(&prs[nr], b->spans[i], b->n[i], after, 0, req->id) < 0) {
            rc = -ERR_NOMEM;
            goto out;
        }
        nr++;
        if (profile_index(&prs[nr - 1]) < 0) {
            rc = -ERR_NOMEM;
            goto out;
        }
        total += b->n[i];
    }
    cand = malloc((total + 1) * sizeof *cand);
    if (!cand) {
        rc = -ERR_NOMEM;
        goto out;
    }
    /* Candidate starts: `after` and every end of a booking on a resource req needs. */
    size_t nc = 0;
    cand[nc++] = after;
    for (int r = 0; r < nr; r++)
        for (size_t i = 0; i < b->n[idx[r]]; i++) {
            const struct cal_span *e = &b->spans[idx[r]][i];
            if ((req->id && e->id == req->id) || e->ends_at < after || e->ends_at >= horizon)
                continue;
            cand[nc++] = e->ends_at;
        }
    qsort(cand, nc, sizeof *cand, cmp_i64);
    for (size_t c = 0; c < nc; c++) {
        if (c > 0 && cand[c] == cand[c - 1])
            continue;
        int64_t s = cand[c];
        if (s >= horizon)
            break;
        bool fits = true;
        for (int r = 0; r < nr && fits; r++)
            fits = profile_peak(&prs[r], s, s + len + extra[r]) + need[r] <= cap[r];
        if (fits) {
            ret->starts_at = s;
            ret->ends_at = s + len;
            rc = 0;
            goto out;
        }
    }
out:
    free(cand);
    for (int r = 0; r < nr; r++)
        profile_free(&prs[r]);
    return rc;
}

int cal_next_window(const struct pool *p, const struct reservation *existing, size_t n,
                    const struct reservation *req, int64_t after, int64_t horizon,
                    struct window *ret)
{
    struct cal_busy b = {0};
    int rc = cal_busy_add_all(&b, p, existing, n);
    if (rc == 0)
        rc = cal_next_window_busy(p, &b, req, after, horizon, ret);
    cal_busy_free(&b);
    return rc;
}

int cal_free_series_spans(const struct pool_resource *res, const struct cal_span *spans, size_t n,
                          int64_t from, int64_t to, int64_t step, int *out, size_t n_out)
{
    if (step <= 0 || to <= from)
        return -ERR_INVALID;
    uint64_t want = ((uint64_t)(to - from) + (uint64_t)step - 1) / (uint64_t)step;
    if (want > n_out)
        return -ERR_INVALID;
    struct profile pr;
    if (profile_build(&pr, spans, n, from, to, 0) < 0)
        return -ERR_NOMEM;
    int cap = pool_bookable(res);
    /* One pass: i walks the profile forward with the steps. */
    long i = profile_at(&pr, from);
    for (size_t k = 0; k < (size_t)want; k++) {
        int64_t a = from + (int64_t)k * step, b = a + step < to ? a + step : to;
        while ((size_t)(i + 1) < pr.m && pr.t[i + 1] <= a)
            i++;
        int free_ = cap - profile_peak_from(&pr, i, b);
        out[k] = free_ > 0 ? free_ : 0;
    }
    profile_free(&pr);
    return 0;
}

int cal_free_series(const struct pool_resource *res, const struct reservation *existing, size_t n,
                    int64_t from, int64_t to, int64_t step, int *out, size_t n_out)
{
    struct cal_span *sp;
    size_t m;
    if (spans_of(res, existing, n, &sp, &m) < 0)
        return -ERR_NOMEM;
    int rc = cal_free_series_spans(res, sp, m, from, to, step, out, n_out);
    free(sp);
    return rc;
}

int cal_over_capacity(const struct cal_span *spans, size_t n, int cap, int64_t from,
                      int64_t **ret_ids, size_t *ret_n)
{
    *ret_ids = NULL;
    *ret_n = 0;
    struct profile pr;
    if (profile_build(&pr, spans, n, from, INT64_MAX, 0) < 0)
        return -ERR_NOMEM;
    /* Over-capacity intervals [t[i], t[i+1]) in time order, merged where they touch. */
    struct window *over = malloc((pr.m + 1) * sizeof *over);
    int64_t *ids = NULL;
    size_t n_over = 0, k = 0;
    int rc = -ERR_NOMEM;
    if (!over)
        goto out;
    for (size_t i = 0; i + 1 < pr.m; i++) {
        if (pr.level[i] <= cap || pr.t[i + 1] <= from)
            continue;
        int64_t a = pr.t[i] > from ? pr.t[i] : from;
        if (n_over && over[n_over - 1].ends_at == a)
            over[n_over - 1].ends_at = pr.t[i + 1];
        else
            over[n_over++] = (struct window){a, pr.t[i + 1]};
    }
    rc = 0;
    if (!n_over)
        goto out;
    if (!(ids = malloc(n * sizeof *ids))) {
        rc = -ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cal_span *e = &spans[i];
        if (e->amount <= 0 || e->ends_at <= e->starts_at || e->ends_at <= from)
            continue;
        /* first interval ending after the span starts */
        size_t lo = 0, hi = n_over;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (over[mid].ends_at <= e->starts_at)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < n_over && over[lo].starts_at < e->ends_at)
            ids[k++] = e->id;
    }
    if (!k) {
        free(ids);
        ids = NULL;
    }
out:
    free(over);
    profile_free(&pr);
    *ret_ids = ids;
    *ret_n = k;
    return rc;
}

double cal_booked_unit_seconds(const struct pool_resource *res, const struct reservation *existing,
                               size_t n, int64_t from, int64_t to)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        const struct reservation *e = &existing[i];
        if (!counts(e, 0))
            continue;
        int u = cal_usage(e, res);
        int64_t a = e->starts_at > from ? e->starts_at : from;
        int64_t b = e->ends_at < to ? e->ends_at : to;
        if (u > 0 && b > a)
            sum += (double)u * (double)(b - a);
    }
    return sum;
}
