/* State shared by the reconciler's files (loop, session steps, garbage collection).
 * Not part of the public interface. */
#ifndef GPUAAS_RECONCILER_REC_INTERNAL_H
#define GPUAAS_RECONCILER_REC_INTERNAL_H

#include "core/session_plan.h"
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
     * plan step to apply (v). A cache only: after a restart every object is applied again
     * (idempotent), so it never needs to be persisted. */
    struct rec_idmap {
        struct rec_idmap_entry {
            int64_t id;
            int64_t v;
        } * e;
        size_t n, cap;
    } progress;
    /* Watching ACTIVE sessions (reconciler.c verify_active): when the next round begins
     * (monotonic ms, 0 = at the next pass), the last id verified in the round under way (0 =
     * none under way), and whether a session of the last (this) round was settling after a
     * repair or a restart of its workspace. */
    int64_t verify_next_mono;
    int64_t verify_cursor;
    int64_t verify_batch_mono; /* when the last batch was verified */
    bool verify_settling, verify_round_settling;
    bool once; /* rec_run(once): a round is done within the one pass */
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

/* End of a session (gc.c): when namespace ns, Terminating since `since` (its
 * metadata.deletionTimestamp), has been so longer than reconciler.force_delete_after_seconds
 * (0 = never), its pods are deleted with grace 0, each audited as gc.pod.force_delete. Called
 * by the GC sweep and while a session waits for its namespace to go. */
void rec_force_delete_pods(struct rec *rc, int64_t now, const char *ns, const char *since);

/* Session steps (session.c). Each returns STEP_DONE, STEP_WAIT, or -ERR_* after logging. */
int rec_session_start(struct rec *rc, struct reservation *r, int64_t now);
/* Counts a session made ACTIVE lag_s seconds after its booking began (rec_stats.start_lag). */
void rec_note_start_lag(struct rec *rc, int64_t lag_s);
/* Adds DCGM-measured unit-seconds of a GPU resource (rec_stats.gpu_use). */
void rec_note_gpu_use(struct rec *rc, const char *resource, double measured_s, double busy_s);
int rec_session_stop(struct rec *rc, struct reservation *r, int64_t now);
int rec_session_cleanup(struct rec *rc, struct reservation *r, int64_t now);
/* Watching ACTIVE sessions (session.c). rec_live_load: the live objects of the sessions whose
 * reservation ids are listed in ids ("4,7,9", at most 48 and 330 characters; NULL = every
 * session), one LIST per kind of
 * the plan (labelled ours) and one of their workspace pods, into an index owned by the caller (keys
 * "Kind/ns/name", and "Pod/ns" -> array of pods).
 * rec_session_verify: every object of r's plan inside its namespace that the index shows
 * deleted or changed is re-applied and audited (session.repair), and session.phase is set to
 * "Ready" or "Degraded: <reason>" from the workspace's health. STEP_DONE, STEP_WAIT while it
 * settles (just repaired, or its workspace (re)starting), or -ERR_* after logging. */
int rec_live_load(struct rec *rc, const struct session_plan *plan, const char *ids, json_t **ret,
                  struct error *err);
int rec_session_verify(struct rec *rc, struct reservation *r, json_t *live_index, int64_t now);
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
