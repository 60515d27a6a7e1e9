/* The reconciler's own health and metrics, served on `gpuaas reconciler --health-listen`:
 *   GET /healthz  200 while the loop works: a standby (waiting for the leader lock) is healthy;
 *                 the leader is healthy while its last completed pass ended less than
 *                 REC_HEALTH_STALL_INTERVALS × reconciler.interval_seconds ago (counted from
 *                 the start before the first pass), else 503 with how long ago;
 *   GET /readyz   200 once the reconciler runs (it serves nothing but these);
 *   GET /metrics  Prometheus text: gpuaas_reconciler_leader, _passes_total,
 *                 _pass_duration_seconds (histogram), _last_pass_timestamp_seconds,
 *                 _sessions_waiting, _sessions_started_total, _sessions_stopped_total,
 *                 _dcgm_scrapes_total, _dcgm_scrape_failures_total,
 *                 _provision_attempts_total{outcome}, _provision_failures_total{reason},
 *                 _sessions_failed_total{reason}, _gc_actions_total{action},
 *                 _drift_repairs_total{kind}, _drifted_objects, _sessions_provisioning,
 *                 _provisioning_oldest_seconds, _start_lag_seconds (histogram),
 *                 _gpu_measured_unit_seconds_total{resource},
 *                 _gpu_busy_unit_seconds_total{resource}, gpuaas_database_up (once known),
 *                 _kube_client_cert_expiry_timestamp_seconds (with a client certificate) and
 *                 _kube_token_expiry_timestamp_seconds (with a JWT bearer token). With
 *                 server.metrics_token_file set it needs that bearer token (401 without).
 * The loop records into a struct rec_health under its mutex; the HTTP thread reads it. */
#ifndef GPUAAS_RECONCILER_REC_HEALTH_H
#define GPUAAS_RECONCILER_REC_HEALTH_H

#include "common/error.h"

#include <stdbool.h>
#include <stdint.h>

#define REC_HEALTH_STALL_INTERVALS 5

struct rec_health;
struct rec_stats;

/* interval_s: reconciler.interval_seconds; token: the scrape token or NULL (copied). */
struct rec_health *rec_health_new(long interval_s, const char *token);
void rec_health_free(struct rec_health *h);
void rec_health_leader(struct rec_health *h, bool leader);
/* A completed pass of `seconds`, with the loop's counters after it. */
void rec_health_pass(struct rec_health *h, double seconds, const struct rec_stats *st);
/* The result of an access of the database outside a pass (the leader lock while standing by). */
void rec_health_db(struct rec_health *h, bool up);
/* notAfter (unix seconds) of the kubeconfig's client certificate and the exp claim of its
 * bearer token (read at start), 0 = none. */
void rec_health_kube_cert(struct rec_health *h, int64_t not_after, int64_t token_exp);
/* The exp claim of the bearer token the client holds now (it re-reads a rotated token file),
 * 0 = none; after each pass. */
void rec_health_kube_token(struct rec_health *h, int64_t token_exp);
/* Serves on "ADDR:PORT" (IPv4; port 0: the kernel picks one) until rec_health_stop. */
int rec_health_serve(struct rec_health *h, const char *listen, struct error *err);
/* The port rec_health_serve bound (the kernel's pick for port 0); 0 when not serving. */
int rec_health_port(const struct rec_health *h);
void rec_health_stop(struct rec_health *h);

#endif
