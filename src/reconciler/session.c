/* The steps of one session: provision (apply the plan in order, wait for quota status and
 * workspace readiness within reconciler.provision_timeout_seconds per attempt, mark ACTIVE),
 * watch it while ACTIVE (re-apply what was deleted or changed, report its health), stop at
 * the end of the window, clean up after a cancel or a failure. Every step is idempotent;
 * progress lives in the database. */
#include "common/json_find.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "core/object_drift.h"
#include "core/session_plan.h"
#include "core/workspace_health.h"
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

static bool cond_true(json_t *c)
{
    const char *s = json_string_value(json_object_get(c, "status"));
    return s && !strcmp(s, "True");
}

/* The Route admitted by a router (OpenShift). STEP_DONE, STEP_WAIT or -ERR_*. */
static int route_admitted(struct rec *rc, const struct session_plan *plan, struct error *err)
{
    json_t *rt = NULL;
    int e = kube_get(rc->kube, "route.openshift.io/v1", "Route", plan->namespace_,
                     SESSION_WORKSPACE_NAME, &rt, err);
    if (e)
        return e;
    bool admitted = false;
    size_t i, j;
    json_t *x, *c;
    json_array_foreach(json_object_get(json_object_get(rt, "status"), "ingress"), i, x)
    {
        json_array_foreach(json_object_get(x, "conditions"), j, c)
        {
            const char *t = json_string_value(json_object_get(c, "type"));
            if (t && !strcmp(t, "Admitted") && cond_true(c))
                admitted = true;
        }
    }
    json_decref(rt);
    if (admitted)
        return STEP_DONE;
    error_set(err, 0, "route", "waiting for the route to be admitted");
    return STEP_WAIT;
}

/* The HTTPRoute accepted by the configured Gateway (reconciler.expose httproute): its
 * controller writes status.parents[] per parentRef, condition Accepted. STEP_DONE, STEP_WAIT
 * with err saying why (the controller's reason and message when it refused), or -ERR_*. */
static const char *str_or(const char *s, const char *def)
{
    return s ? s : def;
}

static int httproute_accepted(struct rec *rc, const struct session_plan *plan, struct error *err)
{
    const char *gw = rc->cfg->reconciler.gateway_name;
    const char *gns = rc->cfg->reconciler.gateway_namespace;
    json_t *hr = NULL;
    int e = kube_get(rc->kube, "gateway.networking.k8s.io/v1", "HTTPRoute", plan->namespace_,
                     SESSION_WORKSPACE_NAME, &hr, err);
    if (e)
        return e;
    int ret = STEP_WAIT;
    error_set(err, 0, "httproute", "waiting for Gateway %s/%s to accept the HTTPRoute", gns, gw);
    size_t i, j;
    json_t *p, *c;
    json_array_foreach(json_object_get(json_object_get(hr, "status"), "parents"), i, p)
    {
        json_t *ref = json_object_get(p, "parentRef");
        const char *n = json_string_value(json_object_get(ref, "name"));
        const char *ns = json_string_value(json_object_get(ref, "namespace"));
        if (!n || strcmp(n, gw) || (ns && strcmp(ns, gns)))
            continue;
        json_array_foreach(json_object_get(p, "conditions"), j, c)
        {
            const char *t = json_string_value(json_object_get(c, "type"));
            if (!t || strcmp(t, "Accepted"))
                continue;
            if (cond_true(c)) {
                ret = STEP_DONE;
                error_clear(err);
            } else {
                error_set(err, 0, "httproute",
                          "Gateway %s/%s does not accept the HTTPRoute: %s: %s", gns, gw,
                          str_or(json_string_value(json_object_get(c, "reason")), "?"),
                          str_or(json_string_value(json_object_get(c, "message")), ""));
            }
        }
    }
    json_decref(hr);
    return ret;
}

/* The workspace's health as the cluster reports it (workspace_health.h): its Deployment, and
 * the pods it owns when with_pods (or when the Deployment alone cannot say it is ready). 0 and
 * *ret, or -ERR_* when the cluster cannot be read. */
static int read_health(struct rec *rc, const char *ns, bool with_pods, struct ws_verdict *ret,
                       struct error *err)
{
    json_t *d = NULL, *pods = NULL;
    int e = kube_get(rc->kube, "apps/v1", "Deployment", ns, SESSION_WORKSPACE_NAME, &d, err);
    if (e && e != -ERR_NOT_FOUND)
        goto out;
    e = 0;
    workspace_health(d, NULL, ret);
    if (ret->health != WS_STARTING)
        goto out;
    if (!with_pods) {
        snprintf(ret->reason, sizeof(ret->reason), "waiting for the workspace to become available");
        goto out;
    }
    e = kube_list(rc->kube, "v1", "Pod", ns, "app.kubernetes.io/name=" SESSION_WORKSPACE_NAME,
                  &pods, err);
    if (e)
        goto out;
    workspace_health(d, pods, ret);
out:
    json_decref(d);
    json_decref(pods);
    return e;
}

/* The workspace ready (Deployment Available, no pod failing) and, where the plan has one, the
 * Route admitted or the HTTPRoute accepted: STEP_DONE; STEP_WAIT with err saying why not; -ERR_*
 * when the cluster cannot be read. The pods are read for the reason only once the attempt has
 * waited REASON_AFTER_S (or half its deadline): a workspace that starts at once costs one GET per
 * check. */
#define REASON_AFTER_S 3

static int workspace_ready(struct rec *rc, const struct reservation *r,
                           const struct session_plan *plan, int64_t now, struct error *err)
{
    struct ws_verdict v;
    int64_t waited = now - r->session.next_attempt_at;
    bool with_pods =
        waited >= REASON_AFTER_S || 2 * waited >= rc->cfg->reconciler.provision_timeout_seconds;
    int e = read_health(rc, plan->namespace_, with_pods, &v, err);
    if (e)
        return e;
    if (v.health != WS_READY) {
        /* the field carries the verdict's code: what an attempt that times out is counted as */
        error_set(err, 0, v.code ? v.code : "deployment", "%s", v.reason);
        return STEP_WAIT;
    }
    if (session_plan_find(plan, "route"))
        return route_admitted(rc, plan, err);
    if (session_plan_find(plan, "httproute"))
        return httproute_accepted(rc, plan, err);
    return STEP_DONE;
}

/* Small maps from a reservation id to a number, for what this process remembers between
 * passes (a cache only: after a restart everything is applied again). */
static int64_t idmap_get(const struct rec_idmap *m, int64_t id, int64_t def)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].id == id)
            return m->e[i].v;
    return def;
}

static void idmap_del(struct rec_idmap *m, int64_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].id == id) {
            m->e[i] = m->e[--m->n];
            return;
        }
}

static struct rec_idmap_entry *idmap_find(struct rec_idmap *m, int64_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->e[i].id == id)
            return &m->e[i];
    return NULL;
}

static void idmap_set(struct rec_idmap *m, int64_t id, int64_t v)
{
    struct rec_idmap_entry *x = idmap_find(m, id);
    if (x) {
        x->v = v;
        return;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct rec_idmap_entry *p = realloc(m->e, cap * sizeof(*p));
        if (!p)
            return; /* a cache: without it the work is done again */
        m->e = p;
        m->cap = cap;
    }
    m->e[m->n].id = id;
    m->e[m->n++].v = v;
}

/* Index of the next plan step to apply for reservation id (0 when unknown); 0 forgets. */
static int progress_get(struct rec *rc, int64_t id)
{
    return (int)idmap_get(&rc->progress, id, 0);
}

static void progress_set(struct rec *rc, int64_t id, int next)
{
    if (next)
        idmap_set(&rc->progress, id, next);
    else
        idmap_del(&rc->progress, id);
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
    if (term) /* pods still there after reconciler.force_delete_after_seconds go with grace 0 */
        rec_force_delete_pods(rc, now, ns,
                              json_string_value(json_object_get(json_object_get(got, "metadata"),
                                                                "deletionTimestamp")));
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

/* Audits {"reason": why, "attempts": n} as valid JSON within an audit entry's detail: the
 * reason is shortened (at a character boundary) until the escaped document fits. */
static void audit_reason(struct rec *rc, int64_t now, const char *action, const char *target,
                         const char *why, int attempts)
{
    char cut[sizeof(((struct audit_entry *)0)->detail)];
    size_t n = strlen(why);
    for (;;) {
        if (n >= sizeof(cut))
            n = sizeof(cut) - 1;
        while (n > 0 && ((unsigned char)why[n] & 0xC0) == 0x80)
            n--; /* never split a UTF-8 sequence */
        memcpy(cut, why, n);
        cut[n] = '\0';
        json_t *detail = json_pack("{s:s, s:i}", "reason", cut, "attempts", attempts);
        char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
        json_decref(detail);
        if (d && strlen(d) < sizeof(cut)) {
            rec_audit(rc, now, action, target, "%s", d);
            free(d);
            return;
        }
        free(d);
        if (n < 64) {
            rec_audit(rc, now, action, target, "{}");
            return;
        }
        n -= 64;
    }
}

/* Gives up on provisioning: removes the half-provisioned namespace and marks FAILED, which
 * frees the booking's capacity. */
static void fail_session(struct rec *rc, struct reservation *r, bool remove, const char *phase,
                         enum rec_sfail reason, const char *why, int64_t now)
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
    rc->stats.sessions_failed[reason]++;
    audit_reason(rc, now, "session.failed", target, why, r->session.attempts);
    log_warn("session failed", "reservation=%" PRId64 " reason=\"%s\"", r->id, why);
}

/* The reason counted for an attempt that was not ready in time: the workspace verdict's code
 * (ws_verdict.code, carried in the error's field), else REC_FAIL_NOT_READY. */
static enum rec_fail wait_reason(const char *code)
{
    static const struct {
        const char *code;
        enum rec_fail r;
    } map[] = {{"unschedulable", REC_FAIL_UNSCHEDULABLE},
               {"image_pull", REC_FAIL_IMAGE_PULL},
               {"crash_loop", REC_FAIL_CRASH_LOOP},
               {"container_start", REC_FAIL_CONTAINER_START},
               {"pod_failed", REC_FAIL_POD_FAILED},
               {"replica_failure", REC_FAIL_REPLICA_FAILURE},
               {"progress_deadline", REC_FAIL_PROGRESS_DEADLINE},
               {"no_deployment", REC_FAIL_NO_DEPLOYMENT}};
    for (size_t i = 0; code && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(code, map[i].code))
            return map[i].r;
    return REC_FAIL_NOT_READY;
}

/* A failed attempt: count it, back off, or give up after reconciler.max_attempts. The next
 * attempt begins at session.next_attempt_at, from which its deadline counts. */
static void attempt_failed(struct rec *rc, struct reservation *r, enum rec_fail reason,
                           const char *why, int64_t now)
{
    progress_set(rc, r->id, 0);
    r->session.attempts++;
    rc->stats.attempts[REC_OUT_FAILED]++;
    rc->stats.attempt_failures[reason]++;
    if (r->session.attempts >= rc->cfg->reconciler.max_attempts) {
        char msg[sizeof(r->session.message)];
        snprintf(msg, sizeof(msg), "provisioning failed after %d attempts: %s", r->session.attempts,
                 why);
        fail_session(rc, r, true, NULL, REC_SFAIL_ATTEMPTS, msg, now);
        return;
    }
    int64_t delay = rc->cfg->reconciler.retry_base_seconds;
    for (int i = 1; i < r->session.attempts && delay < RETRY_CAP_SECONDS; i++)
        delay *= 2;
    if (delay > RETRY_CAP_SECONDS)
        delay = RETRY_CAP_SECONDS;
    r->session.next_attempt_at = now + delay;
    snprintf(r->session.message, sizeof(r->session.message),
             "attempt %d of %ld failed, retrying in %" PRId64 " s: %s", r->session.attempts,
             rc->cfg->reconciler.max_attempts, delay, why);
    save_session(rc, r, now);
    log_warn("provisioning attempt failed",
             "reservation=%" PRId64 " attempt=%d retry_in=%" PRId64 " error=\"%s\"", r->id,
             r->session.attempts, delay, why);
}

/* Still waiting on the cluster: show why; past reconciler.provision_timeout_seconds since the
 * attempt began, the attempt has failed with that reason. */
static void attempt_waiting(struct rec *rc, struct reservation *r, const char *code,
                            const char *why, int64_t now)
{
    long limit = rc->cfg->reconciler.provision_timeout_seconds;
    if (now - r->session.next_attempt_at >= limit) {
        char msg[sizeof(r->session.message)];
        snprintf(msg, sizeof(msg), "not ready within %ld s: %s", limit, why);
        attempt_failed(rc, r, wait_reason(code), msg, now);
        return;
    }
    set_progress(rc, r, "Provisioning", why, now);
}

/* First sight of a booking in its window: persist the namespace name before anything exists in
 * the cluster (never recomputed) and the moment the first attempt began. */
static int session_begin(struct rec *rc, struct reservation *r, int64_t now)
{
    struct error err = {0};
    char target[64];
    target_of(r, target, sizeof(target));
    if (session_namespace_name(rc->cfg, r->id, r->session.namespace_, sizeof(r->session.namespace_),
                               &err)) {
        fail_session(rc, r, false, "Failed", REC_SFAIL_PLAN, err.message, now);
        return -ERR_INVALID;
    }
    snprintf(r->session.phase, sizeof(r->session.phase), "Provisioning");
    r->session.message[0] = '\0';
    r->session.next_attempt_at = now;
    if (save_session(rc, r, now))
        return -ERR_IO;
    rec_audit(rc, now, "session.provision", target, "{\"namespace\":\"%s\"}",
              r->session.namespace_);
    log_info("provisioning session", "reservation=%" PRId64 " namespace=%s user=%s", r->id,
             r->session.namespace_, r->user);
    rec_crash_point(rc, "persist-namespace");
    return 0;
}

/* Applies plan steps first..n in order. STEP_DONE when all are applied; STEP_WAIT with err
 * (and, unless repairing, the step to resume from remembered); -ERR_FORBIDDEN with *ret_foreign
 * when the namespace belongs to someone else; other -ERR_* with err. */
static int apply_plan(struct rec *rc, const struct reservation *r, const struct session_plan *plan,
                      int first, bool repairing, bool *ret_foreign, struct error *err)
{
    for (int i = first; i < plan->n; i++) {
        const struct session_object *o = &plan->objs[i];
        if (repairing && o->tenant_owned)
            continue; /* the tenant may have narrowed or removed it */
        int e = o->create_or_get ? ensure_namespace(rc, r, o, ret_foreign, err)
                                 : apply_object(rc, o, err);
        if (e == STEP_WAIT && !repairing)
            progress_set(rc, r->id, i);
        if (e != STEP_DONE)
            return e;
        rec_crash_point(rc, o->step);
        if (!repairing)
            progress_set(rc, r->id, i + 1);
    }
    return STEP_DONE;
}

/* The workspace is ready: record the URL, then APPROVED -> ACTIVE. */
static int mark_active(struct rec *rc, struct reservation *r, const struct session_plan *plan,
                       int64_t now)
{
    struct error err = {0};
    char target[64];
    target_of(r, target, sizeof(target));
    snprintf(r->session.url, sizeof(r->session.url), "%s", plan->url);
    snprintf(r->session.phase, sizeof(r->session.phase), "Ready");
    r->session.message[0] = '\0';
    r->session.attempts = 0;
    r->session.next_attempt_at = 0;
    if (save_session(rc, r, now))
        return -ERR_IO;
    int e = store_reservation_transition(rc->st, r->id, RS_APPROVED, RS_ACTIVE, now, &err);
    progress_set(rc, r->id, 0);
    if (e == -ERR_STATE) {
        /* Canceled (or failed) meanwhile: tear down at once. */
        struct reservation fresh;
        if (store_reservation_get(rc->st, r->id, &fresh))
            return STEP_WAIT;
        *r = fresh;
        log_info("session canceled while provisioning", "reservation=%" PRId64, r->id);
        return rec_session_cleanup(rc, r, now);
    }
    if (e) {
        log_error("cannot mark session active", "reservation=%" PRId64 " error=\"%s\"", r->id,
                  err.message);
        return e;
    }
    r->state = RS_ACTIVE;
    rc->stats.started++;
    rc->stats.attempts[REC_OUT_READY]++;
    rec_audit(rc, now, "session.active", target, "{\"namespace\":\"%s\",\"url\":\"%s\"}",
              r->session.namespace_, r->session.url);
    rec_note_start_lag(rc, now - r->starts_at);
    log_info("session active", "reservation=%" PRId64 " namespace=%s url=%s lag_s=%" PRId64, r->id,
             r->session.namespace_, r->session.url, now - r->starts_at);
    return STEP_DONE;
}

int rec_session_start(struct rec *rc, struct reservation *r, int64_t now)
{
    struct session_plan plan = {0};
    struct error err = {0};
    bool repairing = r->state == RS_ACTIVE, foreign = false;
    int ret;

    if (r->session.next_attempt_at > now)
        return STEP_WAIT;
    if (!r->session.namespace_[0] && (ret = session_begin(rc, r, now)))
        return ret;
    if (session_plan_build(r, rc->cfg, &rc->pool, &plan, &err)) {
        fail_session(rc, r, true, NULL, REC_SFAIL_PLAN, err.message, now);
        return -ERR_INVALID;
    }
    if (!repairing && (strcmp(r->session.phase, "Provisioning") || !r->session.next_attempt_at)) {
        /* a new attempt after a back-off (or one begun before deadlines were kept) */
        if (!r->session.next_attempt_at)
            r->session.next_attempt_at = now;
        snprintf(r->session.phase, sizeof(r->session.phase), "Provisioning");
        save_session(rc, r, now);
    }

    ret = apply_plan(rc, r, &plan, repairing ? 0 : progress_get(rc, r->id), repairing, &foreign,
                     &err);
    if (foreign) {
        fail_session(rc, r, false, "Failed", REC_SFAIL_FOREIGN, err.message, now);
        goto out;
    }
    if (repairing || ret < 0) {
        if (ret < 0 && !repairing)
            attempt_failed(rc, r, REC_FAIL_API, err.message, now);
        goto out;
    }
    if (ret == STEP_DONE)
        ret = workspace_ready(rc, r, &plan, now, &err);
    if (ret == STEP_WAIT) {
        attempt_waiting(rc, r, err.field, err.message, now);
        goto out;
    }
    if (ret < 0) {
        attempt_failed(rc, r, REC_FAIL_API, err.message, now);
        goto out;
    }
    rec_crash_point(rc, "ready");
    ret = mark_active(rc, r, &plan, now);
out:
    session_plan_free(&plan);
    return ret;
}

/* ---- watching a live session ---- */

#define SELECTOR_OURS SESSION_LABEL_MANAGED_BY "=" SESSION_MANAGED_BY

/* "Kind/ns/name", the key of an object in the live index. */
static void live_key(const char *kind, const char *ns, const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s/%s", kind, ns, name);
}

int rec_live_load(struct rec *rc, const struct session_plan *plan, const char *ids, json_t **ret,
                  struct error *err)
{
    json_t *index = json_object(), *list = NULL;
    char ours[512], pods[600];
    int e = 0;
    if (ids)
        snprintf(ours, sizeof(ours), SELECTOR_OURS "," SESSION_LABEL_RESERVATION " in (%s)", ids);
    else
        snprintf(ours, sizeof(ours), SELECTOR_OURS);
    snprintf(pods, sizeof(pods), "%s,app.kubernetes.io/name=" SESSION_WORKSPACE_NAME, ours);
    for (int i = -1; i < plan->n; i++) {
        /* i == -1: the workspace pods; then each namespaced kind of the plan, once */
        const char *av = "v1", *kind = "Pod", *sel = pods;
        if (i >= 0) {
            const struct session_object *o = &plan->objs[i];
            bool seen = !o->namespace_[0];
            for (int j = 0; j < i && !seen; j++)
                seen = !strcmp(plan->objs[j].kind, o->kind);
            if (seen)
                continue;
            av = o->api_version;
            kind = o->kind;
            sel = ours;
        }
        e = kube_list(rc->kube, av, kind, NULL, sel, &list, err);
        if (e)
            goto out;
        size_t k;
        json_t *obj;
        json_array_foreach(json_object_get(list, "items"), k, obj)
        {
            json_t *md = json_object_get(obj, "metadata");
            const char *ns = json_string_value(json_object_get(md, "namespace"));
            const char *name = json_string_value(json_object_get(md, "name"));
            char key[400];
            if (!ns || !name)
                continue;
            if (i < 0) { /* pods: "Pod/ns" -> array */
                snprintf(key, sizeof(key), "Pod/%s", ns);
                json_t *arr = json_object_get(index, key);
                if (!arr)
                    json_object_set_new(index, key, arr = json_array());
                json_array_append(arr, obj);
            } else {
                live_key(kind, ns, name, key, sizeof(key));
                json_object_set(index, key, obj);
            }
        }
        json_decref(list);
        list = NULL;
    }
out:
    json_decref(list);
    if (e) {
        json_decref(index);
        return e;
    }
    *ret = index;
    return 0;
}

/* "Kind/name" of o into buf. */
static const char *object_ref(const struct session_object *o, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", o->kind, o->name);
    return buf;
}

/* A repaired object of kind (a kind of the plan: a fixed set) counted for /metrics. */
static void count_repair(struct rec *rc, const char *kind)
{
    struct rec_stats *st = &rc->stats;
    int i;
    st->drifted++;
    for (i = 0; i < st->n_repair_kinds; i++)
        if (!strcmp(st->repairs[i].kind, kind))
            break;
    if (i == st->n_repair_kinds) {
        if (i == REC_MAX_KINDS)
            return;
        snprintf(st->repairs[i].kind, sizeof(st->repairs[i].kind), "%s", kind);
        st->n_repair_kinds++;
    }
    st->repairs[i].n++;
}

/* Object o as it is in the cluster (live index) against the plan: deleted or changed ->
 * re-applied and audited. Returns 1 when it was repaired, 0 when it was fine, -ERR_* (err)
 * on failure. */
static int verify_object(struct rec *rc, const struct reservation *r,
                         const struct session_object *o, json_t *live_index, int64_t now,
                         struct error *err)
{
    char why[300], ref[160], target[64], key[400], where[200];
    const char *strict = object_drift_strict_path(o->kind);
    live_key(o->kind, o->namespace_, o->name, key, sizeof(key));
    json_t *live = json_object_get(live_index, key);
    int e;
    if (!live) {
        snprintf(why, sizeof(why), "deleted");
        e = apply_object(rc, o, err);
    } else if (object_drifted(o->obj, live, strict, where, sizeof(where))) {
        snprintf(why, sizeof(why), "changed at %s", where);
        if (strict) {
            /* every rule is ours: replace the object whole, rules others added included */
            json_t *obj = json_deep_copy(o->obj);
            json_object_set(json_object_get(obj, "metadata"), "resourceVersion",
                            json_object_get(json_object_get(live, "metadata"), "resourceVersion"));
            e = obj ? kube_replace(rc->kube, obj, NULL, err)
                    : error_set(err, ERR_NOMEM, o->step, "out of memory");
            json_decref(obj);
        } else {
            e = apply_object(rc, o, err);
        }
    } else {
        return 0;
    }
    if (e < 0)
        return e;
    count_repair(rc, o->kind);
    target_of(r, target, sizeof(target));
    object_ref(o, ref, sizeof(ref));
    json_t *detail = json_pack("{s:s, s:s}", "object", ref, "why", why);
    char *d = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    rec_audit(rc, now, "session.repair", target, "%s", d ? d : "{}");
    free(d);
    json_decref(detail);
    log_warn("session object repaired", "reservation=%" PRId64 " namespace=%s object=%s why=\"%s\"",
             r->id, o->namespace_, ref, why);
    rec_crash_point(rc, "repair");
    return 1;
}

int rec_session_verify(struct rec *rc, struct reservation *r, json_t *live_index, int64_t now)
{
    struct session_plan plan = {0};
    struct error err = {0};
    if (session_plan_build(r, rc->cfg, &rc->pool, &plan, &err)) {
        log_error("cannot build the plan of an active session",
                  "reservation=%" PRId64 " error=\"%s\"", r->id, err.message);
        return -ERR_INVALID;
    }
    int ret = STEP_DONE, repaired = 0;
    for (int i = 0; i < plan.n; i++) {
        const struct session_object *o = &plan.objs[i];
        if (o->create_or_get || !o->namespace_[0] || o->tenant_owned)
            continue; /* the namespace is watched by the pass, cluster-scoped volumes by GC;
                       * what the tenant may change is theirs */
        int e = verify_object(rc, r, o, live_index, now, &err);
        if (e < 0) {
            log_warn("cannot repair session object", "reservation=%" PRId64 " step=%s error=\"%s\"",
                     r->id, o->step, err.message);
            ret = e;
            goto out;
        }
        repaired += e;
    }
    char key[400];
    struct ws_verdict v;
    live_key("Deployment", plan.namespace_, SESSION_WORKSPACE_NAME, key, sizeof(key));
    json_t *dep = json_object_get(live_index, key);
    snprintf(key, sizeof(key), "Pod/%s", plan.namespace_);
    workspace_health(dep, json_object_get(live_index, key), &v);
    char phase[sizeof(r->session.phase)];
    if (v.health == WS_READY)
        snprintf(phase, sizeof(phase), "Ready");
    else
        snprintf(phase, sizeof(phase), "Degraded: %s", v.reason);
    if (strcmp(phase, r->session.phase))
        log_info("session health", "reservation=%" PRId64 " phase=\"%s\"", r->id, phase);
    set_progress(rc, r, phase, "", now);
    ret = repaired || v.health == WS_STARTING ? STEP_WAIT : STEP_DONE;
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
        fail_session(rc, r, false, r->session.namespace_[0] ? "Deleted" : "", REC_SFAIL_WINDOW,
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
