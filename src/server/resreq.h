/* Booking requests: decoding and validation of the body of POST /api/v1/reservations and
 * POST /api/v1/reservations/{id}/extend against the configuration and the pool. Pure: the
 * caller passes `now`. */
#ifndef GPUAAS_SERVER_RESREQ_H
#define GPUAAS_SERVER_RESREQ_H

#include "common/error.h"
#include "core/config.h"
#include "core/pool.h"
#include "core/reservation.h"

#include <stddef.h>
#include <stdint.h>

/* Decodes and validates a reservation request. On success *ret holds gpu_type, gpu_count,
 * mode, cpu, memory_gib, storage_gib (defaulted from c->session), purpose, starts_at and
 * ends_at; other fields are zero. Rules: known GPU type of the pool (GPU or MIG), count
 * 1..session.max_gpus and at most the units of that type on the largest node, ends_at after
 * starts_at, starts_at not earlier than now - start_grace_seconds, length <= max_hours,
 * ends_at within max_advance_days of now, cpu/memory/storage within 1..what the largest
 * node has (max_per_node: a session is one pod on one node; admission over time is checked
 * against the pool's totals by the calendar).
 * 0 or -ERR_INVALID with err->field naming the field. */
int resreq_decode(const char *body, size_t len, const struct config *c, const struct pool *p,
                  int64_t now, struct reservation *ret, struct error *err);

/* Decodes {"ends_at"} for an extension of r: later than r->starts_at, later than now,
 * length <= max_hours, within max_advance_days. 0 and *ret_end, or -ERR_INVALID. */
int resreq_decode_extend(const char *body, size_t len, const struct config *c,
                         const struct reservation *r, int64_t now, int64_t *ret_end,
                         struct error *err);

/* The window rules every booking obeys: ends after it starts, at most session.max_hours long,
 * ends within session.max_advance_days of now. 0 or -ERR_INVALID (field ends_at). */
int resreq_check_window(const struct config *c, int64_t starts, int64_t ends, int64_t now,
                        struct error *err);

#endif
