/* Session GPU activity from DCGM samples (see activity.h). */
#include "core/activity.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int64_t act_credit_ms(int64_t last_ms, int64_t now_ms, int64_t interval_ms)
{
    if (interval_ms <= 0)
        return 0;
    if (last_ms <= 0 || now_ms <= last_ms)
        return interval_ms;
    int64_t d = now_ms - last_ms;
    return d < interval_ms ? d : interval_ms;
}

int64_t act_window_ms(int64_t now_s, int64_t credit_ms, int64_t starts_at, int64_t ends_at)
{
    if (credit_ms <= 0 || ends_at <= starts_at)
        return 0;
    /* Seconds since the epoch fit in int64 milliseconds for any plausible date; clamp
     * anyway so that hostile values cannot overflow. */
    const int64_t lim = INT64_MAX / 2000;
    if (now_s > lim || now_s < -lim || starts_at > lim || starts_at < -lim || ends_at > lim ||
        ends_at < -lim)
        return 0;
    int64_t hi = now_s * 1000, lo = hi - credit_ms;
    int64_t s = starts_at * 1000, e = ends_at * 1000;
    if (lo < s)
        lo = s;
    if (hi > e)
        hi = e;
    return hi > lo ? hi - lo : 0;
}

double act_fraction(int64_t busy_ms, int64_t measured_ms)
{
    if (measured_ms <= 0)
        return -1;
    double f = (double)busy_ms / (double)measured_ms;
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

static bool same_device(const struct prom_sample *a, const struct prom_sample *b)
{
    return !strcmp(a->hostname, b->hostname) && !strcmp(a->uuid, b->uuid) &&
           !strcmp(a->gpu, b->gpu) && !strcmp(a->gpu_i_id, b->gpu_i_id);
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Sum over the distinct devices among samples idx[0..k) of each device's highest value,
 * each clamped to [0, cap]; *ret_devices gets their number. */
static double sum_distinct(const struct prom_samples *s, const int *idx, int k, double cap,
                           int *ret_devices)
{
    double sum = 0;
    int devices = 0;
    for (int i = 0; i < k; i++) {
        const struct prom_sample *x = &s->v[idx[i]];
        bool seen = false, best = true;
        for (int j = 0; j < k && (best || !seen); j++) {
            if (j == i || !same_device(x, &s->v[idx[j]]))
                continue;
            if (j < i)
                seen = true; /* counted with an earlier index */
            double y = s->v[idx[j]].value;
            if (y > x->value || (y == x->value && j < i))
                best = false;
        }
        if (!seen)
            devices++;
        if (best)
            sum += clamp(x->value, 0, cap);
    }
    *ret_devices = devices;
    return sum;
}

int act_measure(const struct prom_samples *s, const struct act_session *sess, size_t n,
                int64_t now_s, int64_t credit_ms, struct act_delta *out)
{
    int written = 0;
    int *gr = NULL, *fb = NULL;
    if (s->n > 0) {
        gr = malloc(sizeof(*gr) * (size_t)s->n);
        fb = malloc(sizeof(*fb) * (size_t)s->n);
        if (!gr || !fb) {
            free(gr);
            free(fb);
            return -ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct act_session *x = &sess[i];
        int ngr = 0, nfb = 0;
        if (!x->namespace_[0])
            continue;
        for (int k = 0; k < s->n; k++) {
            if (strcmp(s->v[k].namespace, x->namespace_))
                continue;
            if (s->v[k].metric == PROM_GR_ENGINE_ACTIVE)
                gr[ngr++] = k;
            else
                fb[nfb++] = k;
        }
        if (!ngr)
            continue;
        int devices = 0, fb_devices = 0;
        double busy = sum_distinct(s, gr, ngr, 1.0, &devices);
        double fb_mib = sum_distinct(s, fb, nfb, (double)ACT_MAX_FB_MIB, &fb_devices);
        int denom = devices > x->units ? devices : x->units;
        double frac = denom > 0 ? clamp(busy / denom, 0, 1) : 0;
        struct act_delta *d = &out[written++];
        memset(d, 0, sizeof(*d));
        d->id = x->id;
        memcpy(d->resource, x->resource, sizeof(d->resource));
        d->resource[sizeof(d->resource) - 1] = 0;
        d->devices = devices;
        d->busy_fraction = frac;
        d->measured_ms = act_window_ms(now_s, credit_ms, x->starts_at, x->ends_at);
        d->busy_ms = (int64_t)llround(frac * (double)d->measured_ms);
        d->fb_used_mib = (int64_t)llround(clamp(fb_mib, 0, (double)ACT_MAX_FB_MIB));
    }
    free(gr);
    free(fb);
    return written;
}
