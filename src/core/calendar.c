/* Exact admission by a sweep over interval end points. Per resource, the bookings become a
 * step function ("profile"): sorted distinct times t[i] and the usage level on
 * [t[i], t[i+1]). Peaks over a window are read off the profile. */
#include "core/calendar.h"

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

static int cmp_event(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t;
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
    memset(pr, 0, sizeof *pr);
}

/* Builds the usage profile of `res` from the bookings overlapping [from, to) (to <= from:
 * unbounded). */
static int profile_build(struct profile *pr, const struct pool_resource *res,
                         const struct reservation *ex, size_t n, int64_t from, int64_t to,
                         int64_t skip_id)
{
    memset(pr, 0, sizeof *pr);
    struct event *ev = malloc((2 * n + 1) * sizeof *ev);
    if (!ev)
        return -ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const struct reservation *e = &ex[i];
        if (!counts(e, skip_id))
            continue;
        if (to > from && (e->ends_at <= from || e->starts_at >= to))
            continue;
        int u = cal_usage(e, res);
        if (u <= 0)
            continue;
        ev[k++] = (struct event){e->starts_at, u};
        ev[k++] = (struct event){e->ends_at, -u};
    }
    qsort(ev, k, sizeof *ev, cmp_event);
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
    return profile_peak_from(pr, profile_at(pr, a), b);
}

int cal_peak(const struct pool_resource *res, const struct reservation *existing, size_t n,
             int64_t from, int64_t to, int64_t skip_id)
{
    if (to <= from)
        return 0;
    struct profile pr;
    if (profile_build(&pr, res, existing, n, from, to, skip_id) < 0)
        return -ERR_NOMEM;
    int peak = profile_peak(&pr, from, to);
    profile_free(&pr);
    return peak;
}

static int check_type(const struct pool *p, const struct reservation *req, struct error *err)
{
    const struct pool_resource *g = pool_find(p, req->gpu_type);
    if (!g || !pool_is_gpu(g))
        return error_set(err, ERR_INVALID, "gpu_type", "unknown GPU type \"%s\"", req->gpu_type);
    return 0;
}

int cal_admit(const struct pool *p, const struct reservation *existing, size_t n,
              const struct reservation *req, struct error *err)
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
        int peak = cal_peak(res, existing, n, req->starts_at, req->ends_at, req->id);
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

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int cal_next_window(const struct pool *p, const struct reservation *existing, size_t n,
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
    int nr = 0, rc = -ERR_NOT_FOUND;
    int64_t *cand = NULL;
    for (int i = 0; i < p->n; i++) {
        int u = cal_usage(req, &p->res[i]);
        if (u <= 0)
            continue;
        if (u > pool_bookable(&p->res[i]))
            goto out; /* never fits */
        need[nr] = u;
        cap[nr] = pool_bookable(&p->res[i]);
        idx[nr] = i;
        if (profile_build(&prs[nr], &p->res[i], existing, n, after, 0, req->id) < 0) {
            rc = -ERR_NOMEM;
            goto out;
        }
        nr++;
    }
    cand = malloc((n + 1) * sizeof *cand);
    if (!cand) {
        rc = -ERR_NOMEM;
        goto out;
    }
    size_t nc = 0;
    cand[nc++] = after;
    for (size_t i = 0; i < n; i++) {
        const struct reservation *e = &existing[i];
        if (!counts(e, req->id) || e->ends_at < after || e->ends_at >= horizon)
            continue;
        bool uses = false;
        for (int r = 0; r < nr && !uses; r++)
            uses = cal_usage(e, &p->res[idx[r]]) > 0;
        if (uses)
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
            fits = profile_peak(&prs[r], s, s + len) + need[r] <= cap[r];
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

int cal_free_series(const struct pool_resource *res, const struct reservation *existing, size_t n,
                    int64_t from, int64_t to, int64_t step, int *out, size_t n_out)
{
    if (step <= 0 || to <= from)
        return -ERR_INVALID;
    uint64_t want = ((uint64_t)(to - from) + (uint64_t)step - 1) / (uint64_t)step;
    if (want > n_out)
        return -ERR_INVALID;
    struct profile pr;
    if (profile_build(&pr, res, existing, n, from, to, 0) < 0)
        return -ERR_NOMEM;
    int cap = pool_bookable(res);
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
