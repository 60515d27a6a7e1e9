/* Calendar and exact admission, pure. A booking fits when, at every instant of its window
 * [starts_at, ends_at), the bookings that overlap it plus the request stay within the
 * bookable capacity of every resource it uses (its GPU type in physical units, cpu,
 * memory, storage). Computed by a sweep over the interval end points, never by the
 * conservative "sum of everything that overlaps". Back-to-back bookings do not overlap,
 * except that a GPU or MIG unit stays held for its resource's turnaround_s after a booking
 * ends (session.turnaround_seconds: the previous session's pods are gone before the next
 * booking of that unit starts): every span of a GPU resource, the request's included, is
 * [starts_at, ends_at + turnaround_s). The free series (capacity) shows the same.
 *
 * `existing` arrays hold bookings that hold capacity (APPROVED/ACTIVE); entries with the
 * same id as the request are ignored (so extend can re-check a booking against the rest). */
#ifndef GPUAAS_CORE_CALENDAR_H
#define GPUAAS_CORE_CALENDAR_H

#include "common/error.h"
#include "core/pool.h"
#include "core/reservation.h"

#include <stddef.h>
#include <stdint.h>

struct window {
    int64_t starts_at, ends_at;
};

/* One booking's use of one resource: `amount` units over [starts_at, ends_at). */
struct cal_span {
    int64_t id, starts_at, ends_at;
    int amount;
};

/* Capacity-holding bookings as spans per resource of one pool (index as in pool->res),
 * the form admission and the capacity series work on. Zero-initialize, fill with
 * cal_busy_add(), release with cal_busy_free(). */
struct cal_busy {
    struct cal_span *spans[POOL_MAX_RESOURCES];
    size_t n[POOL_MAX_RESOURCES];
    size_t cap[POOL_MAX_RESOURCES];
};

/* Adds booking [starts_at, ends_at) (id) using gpu_count units of GPU type gpu_type and the
 * given cpu, memory and storage to b, as one span per resource of p it uses (a GPU type not
 * in p adds none). 0 or -ERR_NOMEM. */
int cal_busy_add(struct cal_busy *b, const struct pool *p, int64_t id, int64_t starts_at,
                 int64_t ends_at, const char *gpu_type, int gpu_count, int cpu, int memory_gib,
                 int storage_gib);
/* Adds the capacity-holding bookings of existing. 0 or -ERR_NOMEM. */
int cal_busy_add_all(struct cal_busy *b, const struct pool *p, const struct reservation *existing,
                     size_t n);
void cal_busy_free(struct cal_busy *b);

/* cal_admit and cal_next_window over spans (b built for pool p). */
int cal_admit_busy(const struct pool *p, const struct cal_busy *b, const struct reservation *req,
                   struct error *err);
int cal_next_window_busy(const struct pool *p, const struct cal_busy *b,
                         const struct reservation *req, int64_t after, int64_t horizon,
                         struct window *ret);
/* cal_free_series over the spans of one resource: one sweep for all steps. */
int cal_free_series_spans(const struct pool_resource *res, const struct cal_span *spans, size_t n,
                          int64_t from, int64_t to, int64_t step, int *out, size_t n_out);

/* The bookings among spans that take part in using more than `cap` units at some instant at
 * or after `from`: each span overlapping such an instant (what a cluster that advertises
 * less than configured cannot run as booked). *ret_ids (malloc'd, in span order, NULL when
 * none) and *ret_n. 0 or -ERR_NOMEM. */
int cal_over_capacity(const struct cal_span *spans, size_t n, int cap, int64_t from,
                      int64_t **ret_ids, size_t *ret_n);

/* Units of pool resource `res` a booking uses (gpu_count for its GPU type, cpu, memory_gib,
 * storage_gib; 0 for other resources). */
int cal_usage(const struct reservation *r, const struct pool_resource *res);

/* Highest total usage of `res` at any instant of [from, to) by `existing`, skipping id
 * `skip_id` (0 = none). */
int cal_peak(const struct pool_resource *res, const struct reservation *existing, size_t n,
             int64_t from, int64_t to, int64_t skip_id);

/* 0 when req fits; -ERR_CONFLICT with err naming the first resource that does not;
 * -ERR_INVALID when req names an unknown GPU type. */
int cal_admit(const struct pool *p, const struct reservation *existing, size_t n,
              const struct reservation *req, struct error *err);

/* Earliest window of req's length starting at or after `after` (and before `horizon`)
 * where req fits. 0 and *ret, or -ERR_NOT_FOUND. */
int cal_next_window(const struct pool *p, const struct reservation *existing, size_t n,
                    const struct reservation *req, int64_t after, int64_t horizon,
                    struct window *ret);

/* Free units of `res` in each step [from + i*step, from + (i+1)*step): bookable minus the
 * peak within the step (never below 0). out has n_out = ceil((to-from)/step) entries. */
int cal_free_series(const struct pool_resource *res, const struct reservation *existing, size_t n,
                    int64_t from, int64_t to, int64_t step, int *out, size_t n_out);

/* Booked unit-seconds of `res` within [from, to) (each booking clipped to the range). */
double cal_booked_unit_seconds(const struct pool_resource *res, const struct reservation *existing,
                               size_t n, int64_t from, int64_t to);

#endif
