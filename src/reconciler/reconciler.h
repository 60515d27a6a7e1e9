/* The reconciler: the only component that talks to Kubernetes. A level-triggered loop reads
 * the bookings from the database, observes the cluster and makes the smallest change:
 * (1) stop sessions whose window ended or that were canceled, (2) repair failed steps with
 * backoff, (3) start sessions whose window began, (4) maintain the database; a slower sweep
 * garbage-collects leftovers and publishes what the nodes advertise.
 *
 * DESIGN: waiting never blocks the loop. A session that waits on the cluster (quota status,
 * workspace readiness, namespace deletion) keeps its progress in the database (session phase)
 * and the pass moves on; the loop then wakes again soon. Everything in struct rec can be
 * rebuilt from the database and the cluster, so kill -9 at any point is safe.
 *
 * Ownership: rec_new() takes ownership of the stores and the client it is given. */
#ifndef GPUAAS_RECONCILER_RECONCILER_H
#define GPUAAS_RECONCILER_RECONCILER_H

#include "common/error.h"
#include "core/config.h"
#include "core/pool.h"
#include "kube/kube.h"
#include "store/store.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define REC_ACTOR "system:reconciler"
#define REC_KV_ADVERTISED "advertised"
#define REC_KV_DCGM "dcgm" /* DCGM scrape counters: {scrapes, failures, last_*_at, last_error} */
#define REC_LEADER_LOCK "gpuaas-reconciler"

struct rec;

/* Outcome of a provisioning attempt, and why an attempt failed (bounded label values of
 * /metrics: rec_health.c names them). REC_FAIL_* of a workspace that was not ready in time
 * come from its verdict (core/workspace_health.h, ws_verdict.code). */
enum rec_outcome { REC_OUT_READY = 0, REC_OUT_FAILED, REC_OUT__COUNT };
enum rec_fail {
    REC_FAIL_API = 0,       /* the API refused or could not be reached while applying */
    REC_FAIL_NOT_READY,     /* not ready in time, still on its way (no failing reason) */
    REC_FAIL_UNSCHEDULABLE, /* verdict codes, see ws_verdict.code */
    REC_FAIL_IMAGE_PULL,
    REC_FAIL_CRASH_LOOP,
    REC_FAIL_CONTAINER_START,
    REC_FAIL_POD_FAILED,
    REC_FAIL_REPLICA_FAILURE,
    REC_FAIL_PROGRESS_DEADLINE,
    REC_FAIL_NO_DEPLOYMENT,
    REC_FAIL__COUNT
};
/* Why a session was marked FAILED. */
enum rec_sfail {
    REC_SFAIL_ATTEMPTS = 0, /* reconciler.max_attempts failed attempts */
    REC_SFAIL_PLAN,         /* its objects could not be planned (configuration) */
    REC_SFAIL_FOREIGN,      /* its namespace belongs to someone else */
    REC_SFAIL_WINDOW,       /* the window ended before it could start */
    REC_SFAIL__COUNT
};
#define REC_MAX_KINDS 24 /* object kinds of a session plan (a fixed set in session_plan.c) */
#define REC_LAG_BUCKETS 9

struct rec_stats {
    unsigned long passes;
    int waiting;                 /* sessions waiting on the cluster after the last pass */
    int started;                 /* sessions made ACTIVE by the last pass */
    int stopped;                 /* sessions finished by the last pass */
    int64_t next_wake;           /* next window boundary (test clock seconds), 0 = none */
    unsigned long dcgm_scrapes;  /* DCGM scrapes attempted by this process */
    unsigned long dcgm_failures; /* of which failed */
    /* Cumulative counters of this process, for /metrics (rec_health.h). */
    unsigned long attempts[REC_OUT__COUNT]; /* provisioning attempts ended, by outcome */
    unsigned long attempt_failures[REC_FAIL__COUNT];
    unsigned long sessions_failed[REC_SFAIL__COUNT];
    unsigned long gc_actions[8]; /* by rec_gc_action_names index */
    struct {
        char kind[48];
        unsigned long n;
    } repairs[REC_MAX_KINDS]; /* objects re-applied on active sessions, by kind */
    int n_repair_kinds;
    int drifted;                 /* objects found deleted or changed by the last pass */
    int provisioning;            /* sessions due (window begun) and not ACTIVE after the pass */
    int64_t provisioning_oldest; /* seconds the longest of them has been due, 0 = none */
    bool db_up;                  /* the last pass's reads of the database succeeded */
    int64_t kube_cert_not_after; /* the kubeconfig client certificate's notAfter, 0 = none */
    /* seconds from a booking's start to its session ACTIVE, as a histogram over
     * rec_start_lag_buckets (the last count: above them all) */
    unsigned long start_lag[REC_LAG_BUCKETS + 1];
    double start_lag_sum;
    struct {
        char resource[96];     /* a GPU resource of the pool (a bounded set) */
        double measured, busy; /* unit-seconds measured by DCGM and of them busy */
    } gpu_use[REC_MAX_KINDS];  /* by the sessions' GPU resource */
    int n_gpu_use;
};

/* Upper bounds (seconds) of the start-lag histogram's buckets. */
extern const double rec_start_lag_buckets[REC_LAG_BUCKETS];

/* The GC actions counted in rec_stats.gc_actions, as audited without "gc." and with '_' for
 * '.'; the last is "other". */
extern const char *const rec_gc_action_names[8];

/* cfg is borrowed and must outlive the reconciler. st: the main connection; listen: a
 * connection for LISTEN/NOTIFY (may be NULL: interval polling only); leader: a dedicated
 * connection for the leader lock (NULL when leader election is off). time_offset shifts the
 * clock (tests). On failure everything handed over is released. */
int rec_new(const struct config *cfg, struct store *st, struct store *listen, struct store *leader,
            struct kube_client *kube, int64_t time_offset, struct rec **ret, struct error *err);
void rec_free(struct rec *rc);
struct rec_health;
/* Records each pass and the leadership into h (borrowed; rec_health.h), for --health-listen. */
void rec_set_health(struct rec *rc, struct rec_health *h);

/* One pass at test-clock time `now`. Returns 0, or -ERR_STATE when leadership was lost. */
int rec_pass(struct rec *rc, int64_t now);
/* One garbage-collection sweep and drift observation. */
int rec_gc(struct rec *rc, int64_t now);
/* Runs until *stop becomes non-zero (SIGTERM) or, with once, after one pass + sweep.
 * Returns 0 on a clean stop. */
int rec_run(struct rec *rc, bool once, volatile sig_atomic_t *stop);
const struct rec_stats *rec_stats(const struct rec *rc);

#endif
