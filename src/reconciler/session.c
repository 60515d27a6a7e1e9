/* The steps of one session: provision (apply the plan in order, wait for quota status and
 * workspace readiness, mark ACTIVE), stop at the end of the window, clean up after a cancel
 * or a failure. Every step is idempotent; progress lives in the database. */
#include "common/json_find.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "core/session_plan.h"
#include "reconciler/rec_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_CAP_SECONDS 3600

static const char *label(json_t *obj, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), key));
}

bool rec_namespace_ours(json_t *ns, int64_t id)
{
    const char *mb = label(ns, SESSION_LABEL_MANAGED_BY);
    const char *rid = label(ns, SESSION_LABEL_RESERVATION);
    char want[24];
    snprintf(want, sizeof(want), "%" PRId64, id);
    return mb && rid && !strcmp(mb, SESSION_MANAGED_BY) && !strcmp(rid, want);
}

static bool terminating(json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL;
}

static void target_of(const struct reservation *r, char *buf, size_t n)
{
    snprintf(buf, n, "reservation/%" PRId64, r->id);
}

static int save_session(struct rec *rc, struct reservation *r, int64_t now)
{
    int e = store_reservation_set_session(rc->st, r->id, &r->session, now);
    if (e)
        log_error("cannot save session", "reservation=%" PRId64 " code=%s", r->id,
                  error_code_name(-e));
    return e;
}

/* Session message and phase, saved only when they change. */
static void set_progress(struct rec *rc, struct reservation *r, const char *phase,
                         const char *message, int64_t now)
{
    if (!strcmp(r->session.phase, phase) && !strcmp(r->session.message, message))
        return;
    snprintf(r->session.phase, sizeof(r->session.phase), "%s", phase);
    snprintf(r->session.message, sizeof(r->session.message), "%s", message);
    save_session(rc, r, now);
}

/* ---- provisioning ---- */

/* Namespace: POST; when it exists, GET and insist on our labels (never adopt). */
static int ensure_namespace(struct rec *rc, const struct reservation *r,
                            const struct session_object *o, bool *ret_foreign, struct error *err)
{
    json_t *got = NULL;
    int e = kube_create(rc->kube, o->obj, NULL, err);
    if (e == 0)
        return STEP_DONE;
    if (e != -ERR_EXISTS)
        return e;
    e = kube_get(rc->kube, "v1", "Namespace", NULL, o->name, &got, err);
    if (e)
        return e;
    if (!rec_namespace_ours(got, r->id)) {
        *ret_foreign = true;
        e = error_set(err, ERR_FORBIDDEN, "namespace",
                      "namespace %s already exists and was not created by gpuaas for this "
                      "booking; it is left untouched",
                      o->name);
    } else if (terminating(got)) {
        error_set(err, 0, "namespace", "namespace %s is still being deleted", o->name);
        e = STEP_WAIT;
    } else {
        e = STEP_DONE;
    }
    json_decref(got);
    return e;
}

/* The quota is enforced from status.hard: wait until it equals spec.hard. */
static int quota_ready(json_t *q)
{
    json_t *spec = json_object_get(json_object_get(q, "spec"), "hard");
    json_t *status = json_object_get(json_object_get(q, "status"), "hard");
    return spec && status && json_equal(spec, status);
}

static int apply_object(struct rec *rc, const struct session_object *o, struct error *err)
{
    json_t *got = NULL;
    int e = kube_apply(rc->kube, o->obj, &got, err);
    if (e && kube_error_is_exceeded_quota(err) && o->quota_counted) {
        /* Quota admission runs before the exists check: the object may already be there. */
        struct error gerr = {0};
        const char *av = json_string_value(json_object_get(o->obj, "apiVersion"));
        if (kube_get(rc->kube, av, o->kind, o->namespace_, o->name, &got, &gerr) == 0)
            e = STEP_DONE;
    }
    if (e)
        goto out;
    e = STEP_DONE;
    if (o->wait_quota_status && !quota_ready(got)) {
        json_decref(got);
        got = NULL;
        struct error gerr = {0};
        if (kube_get(rc->kube, "v1", "ResourceQuota", o->namespace_, o->name, &got, &gerr) ||
            !quota_ready(got)) {
            error_set(err, 0, o->step, "waiting for the quota to be enforced");
            e = STEP_WAIT;
        }
    }
out:
    json_decref(got);
    return e;
}

static json_t *condition(json_t *obj, const char *type)
{
    return json_find_by(json_object_get(json_object_get(obj, "status"), "conditions"), "type",
                        type);
}

static bool cond_true(json_t *c)
{
    const char *s = json_string_value(json_object_get(c, "status"));
    return s && !strcmp(s, "True");
}

/* Deployment Available with no ReplicaFailure, and the Route admitted (OpenShift). */
static int workspace_ready(struct rec *rc, const struct session_plan *plan, struct error *err)
{
    json_t *d = NULL, *rt = NULL;
    int e = kube_get(rc->kube, "apps/v1", "Deployment", plan->namespace_, SESSION_WORKSPACE_NAME,
                     &d, err);
    if (e)
        goto out;
    json_t *rf = condition(d, "ReplicaFailure");
    if (rf && cond_true(rf)) {
        const char *m = json_string_value(json_object_get(rf, "message"));
        error_set(err, 0, "deployment", "the workspace cannot start: %s",
                  m ? m : "its pods cannot be created");
        e = STEP_WAIT;
        goto out;
    }
    if (!cond_true(condition(d, "Available"))) {
        error_set(err, 0, "deployment", "waiting for the workspace to become available");
        e = STEP_WAIT;
        goto out;
    }
    if (session_plan_find(plan, "route")) {
        e = kube_get(rc->kube, "route.openshift.io/v1", "Route", plan->namespace_,
                     SESSION_WORKSPACE_NAME, &rt, err);
        if (e)
            goto out;
        bool admitted = false;
        json_t *ing = json_object_get(json_object_get(rt, "status"), "ingress");
        size_t i;
        json_t *x;
        json_array_foreach(ing, i, x)
        {
            json_t *conds = json_object_get(x, "conditions");
            size_t j;
            json_t *c;
            json_array_foreach(conds, j, c)
            {
                const char *t = json_string_value(json_object_get(c, "type"));
                if (t && !strcmp(t, "Admitted") && cond_true(c))
                    admitted = true;
            }
        }
        if (!admitted) {
            error_set(err, 0, "route", "waiting for the route to be admitted");
            e = STEP_WAIT;
            goto out;
        }
    }
    e = STEP_DONE;
out:
    json_decref(d);
    json_decref(rt);
    return e;
}

/* Index of the next plan step to apply for reservation id (0 when unknown). */
static int progress_get(struct rec *rc, int64_t id)
{
    for (size_t i = 0; i < rc->n_progress; i++)
        if (rc->progress[i].id == id)
            return rc->progress[i].next;
    return 0;
}

/* Records the next step; 0 forgets the reservation. */
static void progress_set(struct rec *rc, int64_t id, int next)
{
    for (size_t i = 0; i < rc->n_progress; i++)
        if (rc->progress[i].id == id) {
            if (next)
                rc->progress[i].next = next;
            else
                rc->progress[i] = rc->progress[--rc->n_progress];
            return;
        }
    if (!next)
        return;
    if (rc->n_progress == rc->cap_progress) {
        size_t cap = rc->cap_progress ? rc->cap_progress * 2 : 64;
        struct rec_progress *p = realloc(rc->progress, cap * sizeof(*p));
        if (!p)
            return; /* a cache: without it the objects are applied again */
        rc->progress = p;
        rc->cap_progress = cap;
    }
    rc->progress[rc->n_progress].id = id;
    rc->progress[rc->n_progress++].next = next;
}

/* Deletes namespace ns when it is ours. Returns STEP_DONE when it is gone, STEP_WAIT while it
 * terminates, -ERR_FORBIDDEN when it exists but is not ours. */
static int delete_namespace(struct rec *rc, const struct reservation *r, const char *ns,
                            int64_t now, struct error *err)
{
    json_t *got = NULL;
    int e = kube_get(rc->kube, "v1", "Namespace", NULL, ns, &got, err);
    if (e == -ERR_NOT_FOUND)
        return STEP_DONE;
    if (e)
        return e;
    if (!rec_namespace_ours(got, r->id)) {
        json_decref(got);
        return error_set(err, ERR_FORBIDDEN, "namespace",
                         "namespace %s is not labelled for this booking; left untouched", ns);
    }
    bool term = terminating(got);
    json_decref(got);
    if (!term) {
        e = kube_delete(rc->kube, "v1", "Namespace", NULL, ns, "Background", err);
        if (e == -ERR_NOT_FOUND)
            return STEP_DONE;
        if (e)
            return e;
        char target[64];
        target_of(r, target, sizeof(target));
        rec_audit(rc, now, "session.delete", target, "{\"namespace\":\"%s\"}", ns);
        log_info("deleting session namespace", "reservation=%" PRId64 " namespace=%s", r->id, ns);
        rec_crash_point(rc, "delete-namespace");
    }
    return STEP_WAIT;
}

/* Gives up on provisioning: removes the half-provisioned namespace and marks FAILED. */
static void fail_session(struct rec *rc, struct reservation *r, bool remove, const char *phase,
                         const char *why, int64_t now)
{
    char target[64];
    struct error err = {0};
    target_of(r, target, sizeof(target));
    progress_set(rc, r->id, 0);
    snprintf(r->session.message, sizeof(r->session.message), "%s", why);
    snprintf(r->session.phase, sizeof(r->session.phase), "%s", remove ? "Terminating" : phase);
    r->session.next_attempt_at = 0;
    save_session(rc, r, now);
    if (remove && r->session.namespace_[0])
        delete_namespace(rc, r, r->session.namespace_, now, &err);
    int e = store_reservation_transition(rc->st, r->id, r->state, RS_FAILED, now, &err);
    if (e) {
        log_warn("cannot mark session failed", "reservation=%" PRId64 " error=\"%s\"", r->id,
                 err.message);
        return;
    }
    r->state = RS_FAILED;
    rec_audit(rc, now, "session.failed", target, "{\"reason\":\"%.400s\"}", why);
    log_warn("session failed", "reservation=%" PRId64 " reason=\"%s\"", r->id, why);
}

/* A failed attempt: count it, back off, or give up after reconciler.max_attempts. */
static void attempt_failed(struct rec *rc, struct reservation *r, const struct error *err,
                           int64_t now)
{
    r->session.attempts++;
    if (r->session.attempts >= rc->cfg->reconciler.max_attempts) {
        char why[512];
        snprintf(why, sizeof(why), "provisioning failed after %d attempts: %s", r->session.attempts,
                 err->message);
        fail_session(rc, r, true, NULL, why, now);
        return;
    }
    int64_t delay = rc->cfg->reconciler.retry_base_seconds;
    for (int i = 1; i < r->session.attempts && delay < RETRY_CAP_SECONDS; i++)
        delay *= 2;
    if (delay > RETRY_CAP_SECONDS)
        delay = RETRY_CAP_SECONDS;
    r->session.next_attempt_at = now + delay;
    snprintf(r->session.message, sizeof(r->session.message), "retrying in %" PRId64 " s: %s", delay,
             err->message);
    save_session(rc, r, now);
    log_warn("provisioning step failed",
             "reservation=%" PRId64 " attempt=%d retry_in=%" PRId64 " error=\"%s\"", r->id,
             r->session.attempts, delay, err->message);
}

int rec_session_start(struct rec *rc, struct reservation *r, int64_t now)
{
    struct session_plan plan = {0};
    struct error err = {0};
    char target[64];
    int ret = STEP_WAIT;
    target_of(r, target, sizeof(target));
    bool repairing = r->state == RS_ACTIVE;

    if (r->session.next_attempt_at > now)
        return STEP_WAIT;
    if (!r->session.namespace_[0]) {
        /* Persist the name before anything exists in the cluster: never recomputed. */
        if (session_namespace_name(rc->cfg, r->id, r->session.namespace_,
                                   sizeof(r->session.namespace_), &err)) {
            fail_session(rc, r, false, "Failed", err.message, now);
            return -ERR_INVALID;
        }
        snprintf(r->session.phase, sizeof(r->session.phase), "Provisioning");
        r->session.message[0] = '\0';
        if (save_session(rc, r, now))
            return -ERR_IO;
        rec_audit(rc, now, "session.provision", target, "{\"namespace\":\"%s\"}",
                  r->session.namespace_);
        log_info("provisioning session", "reservation=%" PRId64 " namespace=%s user=%s", r->id,
                 r->session.namespace_, r->user);
        rec_crash_point(rc, "persist-namespace");
    }
    if (session_plan_build(r, rc->cfg, &rc->pool, &plan, &err)) {
        fail_session(rc, r, true, NULL, err.message, now);
        return -ERR_INVALID;
    }
    if (!repairing && strcmp(r->session.phase, "Provisioning"))
        set_progress(rc, r, "Provisioning", r->session.message, now);

    int first = repairing ? 0 : progress_get(rc, r->id);
    if (first < plan.n) {
        for (int i = first; i < plan.n; i++) {
            const struct session_object *o = &plan.objs[i];
            int e;
            if (repairing && o->tenant_owned)
                continue; /* the tenant may have narrowed or removed it */
            if (o->create_or_get) {
                bool foreign = false;
                e = ensure_namespace(rc, r, o, &foreign, &err);
                if (foreign) {
                    fail_session(rc, r, false, "Failed", err.message, now);
                    ret = e;
                    goto out;
                }
            } else {
                e = apply_object(rc, o, &err);
            }
            if (e == STEP_WAIT) {
                if (!repairing) {
                    progress_set(rc, r->id, i);
                    set_progress(rc, r, "Provisioning", err.message, now);
                }
                goto out;
            }
            if (e < 0) {
                progress_set(rc, r->id, 0);
                attempt_failed(rc, r, &err, now);
                ret = e;
                goto out;
            }
            rec_crash_point(rc, o->step);
            if (!repairing)
                progress_set(rc, r->id, i + 1);
        }
    }
    if (repairing) {
        ret = STEP_DONE;
        goto out;
    }

    int e = workspace_ready(rc, &plan, &err);
    if (e == STEP_WAIT) {
        set_progress(rc, r, "Provisioning", err.message, now);
        goto out;
    }
    if (e < 0) {
        progress_set(rc, r->id, 0);
        attempt_failed(rc, r, &err, now);
        ret = e;
        goto out;
    }
    rec_crash_point(rc, "ready");

    snprintf(r->session.url, sizeof(r->session.url), "%s", plan.url);
    snprintf(r->session.phase, sizeof(r->session.phase), "Ready");
    r->session.message[0] = '\0';
    r->session.attempts = 0;
    r->session.next_attempt_at = 0;
    if (save_session(rc, r, now)) {
        ret = -ERR_IO;
        goto out;
    }
    e = store_reservation_transition(rc->st, r->id, RS_APPROVED, RS_ACTIVE, now, &err);
    progress_set(rc, r->id, 0);
    if (e == -ERR_STATE) {
        /* Canceled (or failed) meanwhile: tear down at once. */
        struct reservation fresh;
        if (store_reservation_get(rc->st, r->id, &fresh) == 0) {
            *r = fresh;
            log_info("session canceled while provisioning", "reservation=%" PRId64, r->id);
            ret = rec_session_cleanup(rc, r, now);
        }
        goto out;
    }
    if (e) {
        log_error("cannot mark session active", "reservation=%" PRId64 " error=\"%s\"", r->id,
                  err.message);
        ret = e;
        goto out;
    }
    r->state = RS_ACTIVE;
    rc->stats.started++;
    rec_audit(rc, now, "session.active", target, "{\"namespace\":\"%s\",\"url\":\"%s\"}",
              r->session.namespace_, r->session.url);
    log_info("session active", "reservation=%" PRId64 " namespace=%s url=%s lag_s=%" PRId64, r->id,
             r->session.namespace_, r->session.url, now - r->starts_at);
    ret = STEP_DONE;
out:
    session_plan_free(&plan);
    return ret;
}

/* ---- stopping ---- */

/* Deletes the cluster-scoped PersistentVolumes labelled for reservation r (the node cache's
 * store, reclaimed with Retain: the node's files stay). Returns STEP_DONE or -ERR_*. */
static int delete_session_volumes(struct rec *rc, const struct reservation *r, int64_t now,
                                  struct error *err)
{
    char selector[160];
    json_t *list = NULL;
    size_t i;
    json_t *pv;
    snprintf(selector, sizeof(selector), "%s=%s,%s=%" PRId64, SESSION_LABEL_MANAGED_BY,
             SESSION_MANAGED_BY, SESSION_LABEL_RESERVATION, r->id);
    int e = kube_list(rc->kube, "v1", "PersistentVolume", NULL, selector, &list, err);
    if (e)
        return e;
    json_array_foreach(json_object_get(list, "items"), i, pv)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(pv, "metadata"), "name"));
        const char *claim_ns = json_string_value(
            json_object_get(json_object_get(json_object_get(pv, "spec"), "claimRef"), "namespace"));
        if (!name || terminating(pv) || !claim_ns || strcmp(claim_ns, r->session.namespace_))
            continue;
        e = kube_delete(rc->kube, "v1", "PersistentVolume", NULL, name, NULL, err);
        if (e && e != -ERR_NOT_FOUND)
            goto out;
        e = 0;
        char target[64];
        target_of(r, target, sizeof(target));
        rec_audit(rc, now, "session.volume.delete", target, "{\"persistentvolume\":\"%s\"}", name);
        log_info("deleted session volume", "reservation=%" PRId64 " persistentvolume=%s", r->id,
                 name);
    }
    e = STEP_DONE;
out:
    json_decref(list);
    return e;
}

/* Common tail: delete the namespace, and once it is gone call it Deleted. */
static int remove_namespace(struct rec *rc, struct reservation *r, int64_t now)
{
    struct error err = {0};
    if (!r->session.namespace_[0])
        return STEP_DONE;
    int e = delete_namespace(rc, r, r->session.namespace_, now, &err);
    if (e == STEP_WAIT) {
        set_progress(rc, r, "Terminating", r->session.message, now);
        return STEP_WAIT;
    }
    if (e == -ERR_FORBIDDEN) {
        set_progress(rc, r, "Failed", err.message, now);
        return STEP_DONE;
    }
    if (e < 0) {
        log_warn("cannot delete session namespace", "reservation=%" PRId64 " error=\"%s\"", r->id,
                 err.message);
        return e;
    }
    e = delete_session_volumes(rc, r, now, &err);
    if (e < 0) {
        log_warn("cannot delete session volumes", "reservation=%" PRId64 " error=\"%s\"", r->id,
                 err.message);
        return e;
    }
    snprintf(r->session.phase, sizeof(r->session.phase), "Deleted");
    save_session(rc, r, now);
    return STEP_DONE;
}

int rec_session_stop(struct rec *rc, struct reservation *r, int64_t now)
{
    char target[64];
    struct error err = {0};
    target_of(r, target, sizeof(target));
    progress_set(rc, r->id, 0);
    int e = remove_namespace(rc, r, now);
    if (e != STEP_DONE)
        return e;
    if (r->state == RS_APPROVED) {
        fail_session(rc, r, false, r->session.namespace_[0] ? "Deleted" : "",
                     "the booking window ended before the session could start", now);
        rc->stats.stopped++;
        return STEP_DONE;
    }
    e = store_reservation_transition(rc->st, r->id, RS_ACTIVE, RS_COMPLETED, now, &err);
    if (e == -ERR_STATE)
        return STEP_DONE; /* canceled meanwhile: nothing left to remove */
    if (e) {
        log_error("cannot mark session completed", "reservation=%" PRId64 " error=\"%s\"", r->id,
                  err.message);
        return e;
    }
    r->state = RS_COMPLETED;
    rc->stats.stopped++;
    rec_audit(rc, now, "session.completed", target, "{\"namespace\":\"%s\"}",
              r->session.namespace_);
    log_info("session completed", "reservation=%" PRId64 " namespace=%s", r->id,
             r->session.namespace_);
    return STEP_DONE;
}

int rec_session_cleanup(struct rec *rc, struct reservation *r, int64_t now)
{
    progress_set(rc, r->id, 0);
    int e = remove_namespace(rc, r, now);
    if (e == STEP_DONE && r->session.namespace_[0]) {
        rc->stats.stopped++;
        log_info("session removed", "reservation=%" PRId64 " state=%s namespace=%s", r->id,
                 res_state_name(r->state), r->session.namespace_);
    }
    return e;
}
