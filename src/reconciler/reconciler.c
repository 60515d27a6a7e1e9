/* The reconciler loop: leader lock, the four phases of a pass, wake-ups (interval, database
 * notifications, the next window boundary), database maintenance. */
#include "reconciler/reconciler.h"

#include "common/log.h"
#include "common/timeutil.h"
#include "core/session_plan.h"
#include "reconciler/rec_health.h"
#include "reconciler/rec_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WAIT_POLL_MS 100        /* wake-up while a session waits on the cluster */
#define STANDBY_POLL_MS 1000    /* retry of the leader lock */
#define MAINT_INTERVAL_MS 60000 /* token expiry and audit trimming */
#define CLEANUP_LOOKBACK_S (7 * 86400)

const char *const rec_gc_action_names[8] = {"namespace_delete",
                                            "namespace_finalize",
                                            "namespace_stuck",
                                            "pod_force_delete",
                                            "binding_delete",
                                            "volume_delete",
                                            "",
                                            "other"};

/* A "gc.*" action counted by kind for /metrics (rec_stats.gc_actions). */
static void count_gc(struct rec *rc, const char *action)
{
    char name[64];
    size_t i;
    snprintf(name, sizeof(name), "%s", action + 3);
    for (char *p = name; *p; p++)
        if (*p == '.')
            *p = '_';
    for (i = 0; i < 7; i++)
        if (rec_gc_action_names[i][0] && !strcmp(name, rec_gc_action_names[i]))
            break;
    rc->stats.gc_actions[i < 7 ? i : 7]++;
}

void rec_audit(struct rec *rc, int64_t now, const char *action, const char *target, const char *fmt,
               ...)
{
    struct audit_entry e = {0};
    if (!strncmp(action, "gc.", 3))
        count_gc(rc, action);
    va_list ap;
    e.at = now;
    snprintf(e.actor, sizeof(e.actor), "%s", REC_ACTOR);
    snprintf(e.action, sizeof(e.action), "%s", action);
    snprintf(e.target, sizeof(e.target), "%s", target);
    va_start(ap, fmt);
    vsnprintf(e.detail, sizeof(e.detail), fmt, ap);
    va_end(ap);
    int rc_ = store_audit_add(rc->st, &e);
    if (rc_)
        log_error("cannot write audit entry", "action=%s target=%s code=%s", action, target,
                  error_code_name(-rc_));
}

void rec_crash_point(struct rec *rc, const char *step)
{
    if (rc->crash_step && !strcmp(rc->crash_step, step)) {
        log_warn("crash point reached (GPUAAS_CRASH_AFTER_STEP)", "step=%s", step);
        _exit(137);
    }
}

int rec_new(const struct config *cfg, struct store *st, struct store *listen, struct store *leader,
            struct kube_client *kube, int64_t time_offset, struct rec **ret, struct error *err)
{
    struct rec *rc = calloc(1, sizeof(*rc));
    int e = 0;
    if (!rc) {
        e = error_set(err, ERR_NOMEM, "", "out of memory");
        goto fail;
    }
    rc->cfg = cfg;
    rc->st = st;
    rc->listen = listen;
    rc->leader = leader;
    rc->kube = kube;
    rc->offset = time_offset;
    rc->is_leader = leader == NULL;
    const char *crash = getenv("GPUAAS_CRASH_AFTER_STEP");
    rc->crash_step = crash && crash[0] ? crash : NULL;
    if ((e = pool_derive(cfg, &rc->pool, err)))
        goto fail;
    *ret = rc;
    return 0;
fail:
    if (rc)
        rec_free(rc);
    else {
        store_close(st);
        store_close(listen);
        store_close(leader);
        kube_client_free(kube);
    }
    return e;
}

void rec_free(struct rec *rc)
{
    if (!rc)
        return;
    store_close(rc->st);
    store_close(rc->listen);
    store_close(rc->leader);
    kube_client_free(rc->kube);
    json_decref(rc->ns_list);
    rec_dcgm_free(rc);
    free(rc->advertised);
    free(rc->progress.e);
    free(rc);
}

const struct rec_stats *rec_stats(const struct rec *rc)
{
    return &rc->stats;
}

static void note_boundary(struct rec *rc, int64_t t, int64_t now)
{
    if (t > now && (!rc->stats.next_wake || t < rc->stats.next_wake))
        rc->stats.next_wake = t;
}

static int list_state(struct rec *rc, enum res_state s, int64_t from, struct reservation **ret,
                      size_t *ret_n)
{
    struct res_filter f = {.from = from, .to = 0, .user_id = 0, .state = (int)s};
    int e = store_reservation_list(rc->st, &f, ret, ret_n);
    if (e && e != -ERR_NOMEM)
        rc->stats.db_up = false; /* /metrics gpuaas_database_up */
    if (e)
        log_error("cannot list reservations", "state=%s code=%s", res_state_name(s),
                  error_code_name(-e));
    return e;
}

/* Is namespace `name` in this pass's list of our namespaces? */
static bool ns_listed(struct rec *rc, const char *name)
{
    size_t i;
    json_t *ns;
    json_array_foreach(json_object_get(rc->ns_list, "items"), i, ns)
    {
        const char *n = json_string_value(json_object_get(json_object_get(ns, "metadata"), "name"));
        if (n && !strcmp(n, name))
            return true;
    }
    return false;
}

static void count(struct rec *rc, int step)
{
    if (step == STEP_WAIT)
        rc->stats.waiting++;
}

/* (1) stop: windows that ended, canceled or failed bookings whose namespace remains. */
static void phase_stop(struct rec *rc, int64_t now)
{
    static const enum res_state live[] = {RS_ACTIVE, RS_APPROVED};
    static const enum res_state dead[] = {RS_CANCELED, RS_FAILED};
    struct reservation *rs = NULL;
    size_t n = 0;
    for (size_t k = 0; k < 2; k++) {
        if (list_state(rc, live[k], 0, &rs, &n))
            continue;
        for (size_t i = 0; i < n; i++)
            if (rs[i].ends_at <= now)
                count(rc, rec_session_stop(rc, &rs[i], now));
        free(rs);
    }
    for (size_t k = 0; k < 2; k++) {
        if (list_state(rc, dead[k], now - CLEANUP_LOOKBACK_S, &rs, &n))
            continue;
        for (size_t i = 0; i < n; i++) {
            struct session_info *s = &rs[i].session;
            if (s->namespace_[0] && strcmp(s->phase, "Deleted") && strcmp(s->phase, "Failed"))
                count(rc, rec_session_cleanup(rc, &rs[i], now));
        }
        free(rs);
    }
}

/* Watching live sessions. A round verifies every ACTIVE session, in order of id, in batches of
 * up to VERIFY_BATCH read from the cluster together (one LIST per kind, selected by the batch's
 * reservation ids, at most VERIFY_IDS_LEN characters of them so the URL stays short). A pass
 * spends about VERIFY_BUDGET_MS on it; while sessions are being provisioned, or a window
 * boundary is less than VERIFY_CLEAR_S away, at most one batch every VERIFY_YIELD_MS, so that a
 * starting session does not wait behind it. The next round begins reconciler.interval_seconds
 * after one ends, or SETTLE_MS when a session was repaired, its workspace is (re)starting, or
 * the cluster could not be read. With --once, the round is one batch of every session, read
 * with one LIST per kind of everything labelled ours. */
#define VERIFY_BATCH 48
#define VERIFY_IDS_LEN 300
#define VERIFY_BUDGET_MS 100
#define VERIFY_YIELD_MS 5000
#define VERIFY_CLEAR_S 2
#define SETTLE_MS 1000

static int cmp_id(const void *a, const void *b)
{
    const struct reservation *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Verifies the n sessions rs against one read of the cluster; false when one is settling or
 * the cluster could not be read. */
static bool verify_batch(struct rec *rc, struct reservation *rs, size_t n, int64_t now)
{
    struct session_plan plan = {0};
    struct error err = {0};
    json_t *live = NULL;
    char ids[VERIFY_IDS_LEN + 32];
    size_t len = 0;
    bool calm = true;
    snprintf(ids, sizeof(ids), "all");
    for (size_t i = 0; i < n && !rc->once && len < sizeof(ids) - 24; i++)
        len += (size_t)snprintf(ids + len, sizeof(ids) - len, "%s%" PRId64, i ? "," : "", rs[i].id);
    if (session_plan_build(&rs[0], rc->cfg, &rc->pool, &plan, &err) ||
        rec_live_load(rc, &plan, rc->once ? NULL : ids, &live, &err)) {
        log_warn("cannot read the live sessions", "reservations=%s error=\"%s\"", ids, err.message);
        calm = false;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        int step = rec_session_verify(rc, &rs[i], live, now);
        calm &= step == STEP_DONE;
        count(rc, step);
    }
out:
    json_decref(live);
    session_plan_free(&plan);
    return calm;
}

/* Continues (or, when due, begins) the round over the n live sessions rs (sorted here). */
static void verify_active(struct rec *rc, struct reservation *rs, size_t n, int64_t now)
{
    int64_t t0 = time_mono_ms();
    if (!rc->verify_cursor && rc->verify_next_mono && t0 < rc->verify_next_mono) {
        if (rc->verify_settling)
            count(rc, STEP_WAIT); /* the next round is in a second: wake for it */
        return;
    }
    bool starting =
        rc->stats.waiting || (rc->stats.next_wake && rc->stats.next_wake - now <= VERIFY_CLEAR_S);
    if (!rc->once && starting && t0 - rc->verify_batch_mono < VERIFY_YIELD_MS) {
        count(rc, STEP_WAIT); /* provisioning (or a start about to come) goes first */
        return;
    }
    qsort(rs, n, sizeof(*rs), cmp_id);
    size_t i = 0;
    while (i < n && rs[i].id <= rc->verify_cursor)
        i++;
    while (i < n) {
        size_t k = 0, len = 0;
        while (i + k < n && ((k < VERIFY_BATCH && len <= VERIFY_IDS_LEN) || rc->once)) {
            char one[24];
            len += (size_t)snprintf(one, sizeof(one), ",%" PRId64, rs[i + k].id);
            k++;
        }
        if (!verify_batch(rc, rs + i, k, now))
            rc->verify_round_settling = true;
        rc->verify_batch_mono = time_mono_ms();
        i += k;
        rc->verify_cursor = rs[i - 1].id;
        if (i < n && !rc->once && (rc->stats.waiting || time_mono_ms() - t0 >= VERIFY_BUDGET_MS)) {
            count(rc, STEP_WAIT); /* the rest of the round in the next pass */
            return;
        }
    }
    rc->verify_settling = rc->verify_round_settling;
    rc->verify_round_settling = false;
    rc->verify_cursor = 0;
    rc->verify_next_mono =
        time_mono_ms() +
        (rc->verify_settling ? SETTLE_MS : rc->cfg->reconciler.interval_seconds * 1000);
}

const double rec_start_lag_buckets[REC_LAG_BUCKETS] = {1, 5, 15, 30, 60, 120, 300, 600, 1800};

void rec_note_start_lag(struct rec *rc, int64_t lag_s)
{
    double v = lag_s > 0 ? (double)lag_s : 0;
    size_t i = 0;
    while (i < REC_LAG_BUCKETS && v > rec_start_lag_buckets[i])
        i++;
    rc->stats.start_lag[i]++;
    rc->stats.start_lag_sum += v;
}

void rec_note_gpu_use(struct rec *rc, const char *resource, double measured_s, double busy_s)
{
    struct rec_stats *st = &rc->stats;
    int i = 0;
    while (i < st->n_gpu_use && strcmp(st->gpu_use[i].resource, resource))
        i++;
    if (i == st->n_gpu_use) {
        if (i == REC_MAX_KINDS)
            return; /* more resources than a pool has: not counted */
        snprintf(st->gpu_use[i].resource, sizeof(st->gpu_use[i].resource), "%s", resource);
        st->n_gpu_use++;
    }
    st->gpu_use[i].measured += measured_s;
    st->gpu_use[i].busy += busy_s;
}

static bool id_in(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* (2) repair and (3) start: bookings inside their window. */
static void phase_start(struct rec *rc, int64_t now)
{
    struct reservation *rs = NULL;
    size_t n = 0;
    /* the sessions this pass made ACTIVE: their namespaces came after rc->ns_list was read */
    int64_t *fresh = NULL;
    size_t nfresh = 0;
    if (list_state(rc, RS_APPROVED, 0, &rs, &n) == 0) {
        fresh = n ? calloc(n, sizeof(*fresh)) : NULL;
        for (size_t i = 0; i < n; i++) {
            struct reservation *r = &rs[i];
            note_boundary(rc, r->starts_at, now);
            note_boundary(rc, r->ends_at, now);
            note_boundary(rc, r->session.next_attempt_at, now);
            if (r->starts_at > now || now >= r->ends_at)
                continue;
            int step = rec_session_start(rc, r, now);
            count(rc, step);
            if (step == STEP_DONE && r->state == RS_ACTIVE && fresh)
                fresh[nfresh++] = r->id;
            if (r->state == RS_APPROVED) { /* still due, not running */
                rc->stats.provisioning++;
                if (now - r->starts_at > rc->stats.provisioning_oldest)
                    rc->stats.provisioning_oldest = now - r->starts_at;
            }
        }
        free(rs);
    }
    if (list_state(rc, RS_ACTIVE, 0, &rs, &n) == 0) {
        size_t n_live = 0;
        for (size_t i = 0; i < n; i++) {
            struct reservation *r = &rs[i];
            note_boundary(rc, r->ends_at, now);
            if (!rc->ns_list || r->ends_at <= now || !r->session.namespace_[0])
                continue;
            /* Repair: an ACTIVE session whose namespace vanished gets its objects back (one
             * made ACTIVE in this pass is missing from the list only because it is new; were
             * fresh not allocated, the repair would re-apply objects that are there: no harm) */
            if (!ns_listed(rc, r->session.namespace_) && !id_in(fresh, nfresh, r->id)) {
                log_warn("session namespace missing, repairing",
                         "reservation=%" PRId64 " namespace=%s", r->id, r->session.namespace_);
                count(rc, rec_session_start(rc, r, now));
            } else {
                rs[n_live++] = *r;
            }
        }
        verify_active(rc, rs, n_live, now);
        free(rs);
    }
    free(fresh);
}

/* (4) maintenance: expired tokens, audit retention. */
static void phase_maintain(struct rec *rc, int64_t now)
{
    int64_t mono = time_mono_ms();
    if (rc->last_maint_mono && mono - rc->last_maint_mono < MAINT_INTERVAL_MS)
        return;
    rc->last_maint_mono = mono;
    int64_t n_tok = 0, n_audit = 0;
    int e = store_token_delete_expired(rc->st, now, &n_tok);
    if (e)
        log_error("cannot delete expired tokens", "code=%s", error_code_name(-e));
    e = store_audit_trim(rc->st, now - rc->cfg->auth.audit_retention_days * 86400, &n_audit);
    if (e)
        log_error("cannot trim the audit log", "code=%s", error_code_name(-e));
    if (n_tok || n_audit)
        log_info("maintenance", "expired_tokens=%" PRId64 " audit_trimmed=%" PRId64, n_tok,
                 n_audit);
}

int rec_pass(struct rec *rc, int64_t now)
{
    struct error err = {0};
    if (rc->leader && !store_still_leader(rc->leader)) {
        rc->is_leader = false;
        rec_dcgm_drop(rc);
        log_error("leadership lost, stopping at once", "lock=%s", REC_LEADER_LOCK);
        return -ERR_STATE;
    }
    rc->stats.passes++;
    rc->stats.waiting = 0;
    rc->stats.started = 0;
    rc->stats.stopped = 0;
    rc->stats.next_wake = 0;
    rc->stats.drifted = 0;
    rc->stats.provisioning = 0;
    rc->stats.provisioning_oldest = 0;
    rc->stats.db_up = true;
    json_decref(rc->ns_list);
    rc->ns_list = NULL;
    int e = kube_list(rc->kube, "v1", "Namespace", NULL,
                      SESSION_LABEL_MANAGED_BY "=" SESSION_MANAGED_BY, &rc->ns_list, &err);
    if (e)
        log_warn("cannot list session namespaces", "error=\"%s\"", err.message);
    phase_stop(rc, now);
    phase_start(rc, now);
    rec_dcgm_pass(rc, now);
    phase_maintain(rc, now);
    return 0;
}

/* Real-clock milliseconds until test-clock second t. */
static int64_t ms_until(struct rec *rc, int64_t t)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now_ms = ((int64_t)ts.tv_sec + rc->offset) * 1000 + ts.tv_nsec / 1000000;
    return t * 1000 - now_ms;
}

/* Records a DCGM answer the scrape thread has finished, between passes. */
static void take_dcgm(struct rec *rc)
{
    if (!rec_dcgm_ready(rc))
        return;
    if (rc->leader && !store_still_leader(rc->leader)) {
        rc->is_leader = false;
        rec_dcgm_drop(rc);
        log_error("leadership lost, stopping at once", "lock=%s", REC_LEADER_LOCK);
        return;
    }
    rec_dcgm_pass(rc, time_now() + rc->offset);
}

static void wait_for(struct rec *rc, int64_t timeout_ms, volatile sig_atomic_t *stop)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (rc->listen) {
        /* Slices so that SIGTERM (and a finished DCGM scrape) is seen quickly whatever the
         * backend does. */
        while (timeout_ms > 0 && !*stop) {
            take_dcgm(rc);
            int64_t slice = timeout_ms > 500 ? 500 : timeout_ms;
            int64_t t0 = time_mono_ms();
            int r = store_wait_notify(rc->listen, (int)slice);
            if (r == 1)
                return;
            if (r < 0) {
                struct timespec ts = {0, 100 * 1000000L};
                nanosleep(&ts, NULL);
            }
            timeout_ms -= time_mono_ms() - t0;
        }
        return;
    }
    while (timeout_ms > 0 && !*stop) {
        take_dcgm(rc);
        int64_t slice = timeout_ms > 200 ? 200 : timeout_ms;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        timeout_ms -= slice;
    }
}

static bool acquire_leader(struct rec *rc, volatile sig_atomic_t *stop)
{
    bool said = false;
    while (!*stop) {
        int r = store_try_leader(rc->leader, REC_LEADER_LOCK);
        rec_health_db(rc->health, r >= 0);
        if (r == 1) {
            log_info("leader lock acquired, acting", "lock=%s", REC_LEADER_LOCK);
            rc->is_leader = true;
            return true;
        }
        if (!said) {
            log_info("another reconciler is the leader, standing by", "lock=%s", REC_LEADER_LOCK);
            said = true;
        }
        struct timespec ts = {STANDBY_POLL_MS / 1000, (STANDBY_POLL_MS % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

void rec_set_health(struct rec *rc, struct rec_health *h)
{
    rc->health = h;
}

int rec_run(struct rec *rc, bool once, volatile sig_atomic_t *stop)
{
    int64_t interval_ms = rc->cfg->reconciler.interval_seconds * 1000;
    int64_t gc_ms = rc->cfg->reconciler.gc_interval_seconds * 1000;
    rc->dcgm_async = !once;
    rc->once = once;
    if (rc->listen && store_listen(rc->listen))
        log_warn("cannot LISTEN for database changes; polling", "interval_s=%ld",
                 rc->cfg->reconciler.interval_seconds);
    while (!*stop) {
        rec_health_leader(rc->health, !rc->leader || rc->is_leader);
        if (rc->leader && !rc->is_leader && !acquire_leader(rc, stop))
            break;
        rec_health_leader(rc->health, true);
        int64_t now = time_now() + rc->offset;
        int64_t t0 = time_mono_ms();
        if (!rc->last_gc_mono || t0 - rc->last_gc_mono >= gc_ms || once) {
            rc->last_gc_mono = t0;
            if (rc->leader && !store_still_leader(rc->leader)) {
                rc->is_leader = false;
                rec_dcgm_drop(rc);
                log_error("leadership lost, stopping at once", "lock=%s", REC_LEADER_LOCK);
                continue;
            }
            rec_gc(rc, now);
        }
        if (rec_pass(rc, now) == -ERR_STATE)
            continue;
        rec_health_pass(rc->health, (double)(time_mono_ms() - t0) / 1000.0, &rc->stats);
        if (rc->health) {
            int64_t exp = 0;
            kube_config_token_expiry(kube_client_config(rc->kube), &exp);
            rec_health_kube_token(rc->health, exp);
        }
        log_debug("pass done", "ms=%" PRId64 " waiting=%d started=%d stopped=%d",
                  time_mono_ms() - t0, rc->stats.waiting, rc->stats.started, rc->stats.stopped);
        if (once)
            break;
        int64_t timeout = interval_ms;
        if (rc->stats.waiting && timeout > WAIT_POLL_MS)
            timeout = WAIT_POLL_MS;
        if (rc->stats.next_wake) {
            int64_t b = ms_until(rc, rc->stats.next_wake);
            if (b < timeout)
                timeout = b;
        }
        int64_t to_dcgm = rec_dcgm_due_ms(rc);
        if (to_dcgm >= 0 && to_dcgm < timeout)
            timeout = to_dcgm;
        int64_t to_gc = gc_ms - (time_mono_ms() - rc->last_gc_mono);
        if (to_gc < timeout)
            timeout = to_gc;
        wait_for(rc, timeout, stop);
    }
    log_info("reconciler stopping", "passes=%lu", rc->stats.passes);
    return 0;
}
