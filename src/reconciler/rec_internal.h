/* State shared by the reconciler's files (loop, session steps, garbage collection).
 * Not part of the public interface. */
#ifndef GPUAAS_RECONCILER_REC_INTERNAL_H
#define GPUAAS_RECONCILER_REC_INTERNAL_H

#include "reconciler/reconciler.h"

#include <jansson.h>

/* Result of one session step: done, waiting on the cluster, or failed. */
enum rec_step { STEP_DONE = 0, STEP_WAIT = 1 };

struct rec {
    const struct config *cfg;
    struct pool pool;
    struct store *st;
    struct store *listen;
    struct store *leader;
    struct kube_client *kube;
    int64_t offset;
    bool is_leader;
    int64_t last_gc_mono;    /* ms, 0 = never */
    int64_t last_maint_mono; /* ms, 0 = never */
    char *advertised;        /* last published drift JSON without observed_at */
    const char *crash_step;  /* GPUAAS_CRASH_AFTER_STEP (test hook) */
    /* Provisioning progress of this process: for each reservation, the index of the next
     * plan step to apply. A cache only: after a restart every object is applied again
     * (idempotent), so it never needs to be persisted. */
    struct rec_progress {
        int64_t id;
        int next;
    } * progress;
    size_t n_progress, cap_progress;
    /* Namespaces labelled ours seen by this pass's list; NULL when the list failed. */
    json_t *ns_list;
    /* GPU telemetry (dcgm.c). */
    struct dcgm_worker *dcgm;     /* the scrape thread, started by the first due scrape */
    bool dcgm_async;              /* scrape in the thread (rec_run) or inline (--once) */
    int64_t dcgm_last_mono;       /* ms of the last attempt, 0 = never */
    int64_t dcgm_last_ok_mono;    /* ms of the last successful scrape, 0 = never */
    int64_t dcgm_last_success_at; /* test-clock seconds, 0 = never */
    int64_t dcgm_last_failure_at;
    struct rec_stats stats;
    struct rec_health *health; /* /healthz and /metrics (rec_health.h), NULL = not served */
};

/* Writes an audit entry by the reconciler; failures are logged, not returned. */
void rec_audit(struct rec *rc, int64_t now, const char *action, const char *target, const char *fmt,
               ...) __attribute__((format(printf, 5, 6)));
/* _exit(137) when the test hook names `step`. */
void rec_crash_point(struct rec *rc, const char *step);

/* Session steps (session.c). Each returns STEP_DONE, STEP_WAIT, or -ERR_* after logging. */
int rec_session_start(struct rec *rc, struct reservation *r, int64_t now);
int rec_session_stop(struct rec *rc, struct reservation *r, int64_t now);
int rec_session_cleanup(struct rec *rc, struct reservation *r, int64_t now);
/* GPU telemetry (dcgm.c). When reconciler.dcgm_url is set: records the activity of ACTIVE
 * sessions from a finished scrape, and when a scrape is due starts one (in the scrape thread
 * when dcgm_async, else inline). Failures are logged and counted, never returned. */
void rec_dcgm_pass(struct rec *rc, int64_t now);
/* Forgets an answer not yet recorded and a scrape not yet begun: called when leadership is
 * lost, so that time another reconciler may record is never counted twice here. */
void rec_dcgm_drop(struct rec *rc);
/* True when the scrape thread holds an answer that rec_dcgm_pass has not recorded yet. */
bool rec_dcgm_ready(struct rec *rc);
/* Milliseconds until the next scrape is due (0 = now), or -1 when telemetry is off. */
int64_t rec_dcgm_due_ms(const struct rec *rc);
/* Stops and joins the scrape thread (an HTTP request in flight is aborted). */
void rec_dcgm_free(struct rec *rc);

/* True when namespace `ns` (object) carries our labels for reservation id. */
bool rec_namespace_ours(json_t *ns, int64_t id);

#endif
