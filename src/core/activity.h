/* GPU activity of sessions, measured from DCGM exporter samples (core/prom_text.h): which
 * samples belong to which ACTIVE session, how much wall time one scrape stands for, and the
 * busy time it adds. Pure: no I/O, no clock reads (times are passed in).
 *
 * DESIGN: a scrape is a point sample. It stands for the time since the previous successful
 * scrape, at most one interval (a late or missed scrape is not extrapolated), clipped to the
 * session's booked window. A session's busy fraction at that instant is the sum of
 * DCGM_FI_PROF_GR_ENGINE_ACTIVE over its distinct devices (whole GPUs or MIG slices) divided
 * by max(devices seen, units booked): a booked unit that reports nothing counts as idle. The
 * same device reported twice in one namespace (two pods sharing a time-sliced GPU) counts
 * once, with its highest value. */
#ifndef GPUAAS_CORE_ACTIVITY_H
#define GPUAAS_CORE_ACTIVITY_H

#include "core/prom_text.h"

#include <stddef.h>
#include <stdint.h>

/* Largest framebuffer figure accepted (MiB); larger readings are clamped. */
#define ACT_MAX_FB_MIB (1LL << 30)

/* One ACTIVE session the samples may belong to (borrowed strings are copied by the caller). */
struct act_session {
    int64_t id;          /* reservation id */
    char namespace_[64]; /* session namespace, e.g. gpuaas-12 */
    char resource[96];   /* booked pool resource (gpu_type) */
    int units;           /* booked GPUs or slices */
    int64_t starts_at;   /* booked window [starts_at, ends_at), seconds */
    int64_t ends_at;
};

/* What one scrape adds for one session. */
struct act_delta {
    int64_t id;
    char resource[96];
    int devices;          /* distinct devices reporting GR_ENGINE_ACTIVE */
    double busy_fraction; /* 0..1 */
    int64_t measured_ms;  /* wall time credited */
    int64_t busy_ms;      /* busy_fraction × measured_ms, rounded */
    int64_t fb_used_mib;  /* DCGM_FI_DEV_FB_USED summed over the session's devices */
};

/* Milliseconds one scrape stands for: interval_ms on the first scrape (last_ms <= 0) or when
 * the clock went backwards, else the time since the last scrape, at most interval_ms. */
int64_t act_credit_ms(int64_t last_ms, int64_t now_ms, int64_t interval_ms);

/* Milliseconds of [now_s*1000 - credit_ms, now_s*1000) inside [starts_at, ends_at). */
int64_t act_window_ms(int64_t now_s, int64_t credit_ms, int64_t starts_at, int64_t ends_at);

/* For each session with at least one GR_ENGINE_ACTIVE sample in its namespace (the parser
 * already prefers exported_namespace over namespace), writes one delta to out (room for n)
 * in the order of sess; sessions without samples and samples of other namespaces are
 * ignored. now_s is the test-clock time of the scrape. Returns the number written, or
 * -ERR_NOMEM. */
int act_measure(const struct prom_samples *s, const struct act_session *sess, size_t n,
                int64_t now_s, int64_t credit_ms, struct act_delta *out);

/* busy / measured, or -1 when nothing was measured. */
double act_fraction(int64_t busy_ms, int64_t measured_ms);

#endif
