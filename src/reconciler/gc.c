/* The garbage-collection sweep (namespaces labelled ours with no live booking, stale
 * RoleBindings and ClusterRoleBindings labelled ours, the node cache's PersistentVolumes of
 * bookings that ended, the pods of namespaces Terminating too long, namespaces stuck
 * Terminating) and the
 * drift observation (what the nodes advertise for each GPU resource of the pool). */
#include "core/advertised.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "core/session_plan.h"
#include "reconciler/rec_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OURS SESSION_LABEL_MANAGED_BY "=" SESSION_MANAGED_BY

static const char *meta_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *label(json_t *obj, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"), key));
}

/* True when the booking whose id is the label text `rid` still holds namespace `ns_name`
 * (APPROVED or ACTIVE with this namespace persisted). */
static bool booking_holds(struct rec *rc, const char *rid, const char *ns_name)
{
    if (!rid || !ns_name)
        return false;
    char *end = NULL;
    errno = 0;
    long long id = strtoll(rid, &end, 10);
    if (errno || end == rid || *end || id <= 0)
        return false;
    struct reservation r;
    if (store_reservation_get(rc->st, (int64_t)id, &r))
        return false;
    return res_state_holds_capacity(r.state) && !strcmp(r.session.namespace_, ns_name);
}

/* True when namespace `ns` belongs to a booking that still holds it. */
static bool namespace_live(struct rec *rc, json_t *ns)
{
    return booking_holds(rc, label(ns, SESSION_LABEL_RESERVATION), meta_str(ns, "name"));
}

/* Deletes an object of ours that nothing holds any more, then audits and logs it under
 * `what` ("namespace", "persistentvolume", a binding kind). False when the API server
 * refused (already gone counts as deleted). */
static bool delete_orphan(struct rec *rc, int64_t now, const char *api, const char *kind,
                          json_t *obj, const char *propagation, const char *what,
                          const char *action)
{
    struct error err = {0};
    const char *name = meta_str(obj, "name"), *ns = meta_str(obj, "namespace");
    const char *rid = label(obj, SESSION_LABEL_RESERVATION);
    if (kube_delete(rc->kube, api, kind, ns, name, propagation, &err) &&
        err.code != ERR_NOT_FOUND) {
        log_warn("gc: cannot delete", "kind=%s namespace=%s name=%s error=\"%s\"", kind,
                 ns ? ns : "", name, err.message);
        return false;
    }
    char target[192];
    snprintf(target, sizeof(target), "%s/%s%s%s", what, ns ? ns : "", ns ? "/" : "", name);
    rec_audit(rc, now, action, target, "{\"reservation\":\"%.32s\"}", rid ? rid : "");
    log_info("gc: deleted", "kind=%s namespace=%s name=%s reservation=%s", kind, ns ? ns : "", name,
             rid ? rid : "");
    return true;
}

static bool in_list(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

/* End of a session (finding 8): a pod that ignores SIGTERM (or asked for a long grace) must not
 * keep its GPU into the next booking of that unit; the wall clock, not the test offset, is
 * compared with the API server's deletionTimestamp. */
void rec_force_delete_pods(struct rec *rc, int64_t now, const char *ns, const char *since)
{
    struct error err = {0};
    json_t *list = NULL;
    size_t i;
    json_t *pod;
    int64_t t0 = 0;
    long after = rc->cfg->reconciler.force_delete_after_seconds;
    if (after <= 0 || !since || time_parse_rfc3339(since, &t0) || time_now() - t0 <= after)
        return;
    if (kube_list(rc->kube, "v1", "Pod", ns, NULL, &list, &err)) {
        log_warn("gc: cannot list pods", "namespace=%s error=\"%s\"", ns, err.message);
        return;
    }
    json_array_foreach(json_object_get(list, "items"), i, pod)
    {
        const char *name = meta_str(pod, "name");
        if (!name)
            continue;
        int e = kube_delete_now(rc->kube, "v1", "Pod", ns, name, &err);
        if (e == -ERR_NOT_FOUND)
            continue; /* gone by itself meanwhile */
        if (e) {
            log_warn("gc: cannot force-delete pod", "namespace=%s pod=%s error=\"%s\"", ns, name,
                     err.message);
            continue;
        }
        char target[192];
        snprintf(target, sizeof(target), "pod/%s/%s", ns, name);
        rec_audit(rc, now, "gc.pod.force_delete", target, "{\"pod\":\"%.63s\"}", name);
        log_info("gc: force-deleted pod", "namespace=%s pod=%s", ns, name);
    }
    json_decref(list);
}

static void gc_namespaces(struct rec *rc, int64_t now, char ***ret_live, size_t *ret_n)
{
    struct error err = {0};
    json_t *list = NULL;
    size_t i;
    json_t *ns;
    *ret_live = NULL;
    *ret_n = 0;
    if (kube_list(rc->kube, "v1", "Namespace", NULL, OURS, &list, &err)) {
        log_warn("gc: cannot list namespaces", "error=\"%s\"", err.message);
        return;
    }
    json_t *items = json_object_get(list, "items");
    char **live = calloc(json_array_size(items) + 1, sizeof(*live));
    size_t n_live = 0;
    json_array_foreach(items, i, ns)
    {
        const char *name = meta_str(ns, "name");
        const char *del = meta_str(ns, "deletionTimestamp");
        if (!name)
            continue;
        if (del) {
            int64_t since = 0;
            rec_force_delete_pods(rc, now, name, del);
            if (time_parse_rfc3339(del, &since) == 0 &&
                time_now() - since > rc->cfg->reconciler.terminating_limit_seconds) {
                log_warn("gc: namespace stuck terminating", "namespace=%s since=%s", name, del);
                char target[96];
                snprintf(target, sizeof(target), "namespace/%s", name);
                rec_audit(rc, now, "gc.namespace.stuck", target, "{\"since\":\"%s\"}", del);
                if (rc->cfg->reconciler.finalize_stuck) {
                    if (kube_finalize_namespace(rc->kube, name, &err))
                        log_warn("gc: cannot finalize namespace", "namespace=%s error=\"%s\"", name,
                                 err.message);
                    else
                        rec_audit(rc, now, "gc.namespace.finalize", target, "{}");
                }
            }
            continue;
        }
        if (namespace_live(rc, ns)) {
            if (live)
                live[n_live++] = strdup(name);
            continue;
        }
        delete_orphan(rc, now, "v1", "Namespace", ns, "Background", "namespace",
                      "gc.namespace.delete");
    }
    json_decref(list);
    *ret_live = live;
    *ret_n = live ? n_live : 0;
}

/* RoleBindings labelled ours outside a live session namespace; every ClusterRoleBinding
 * labelled ours (sessions never get cluster rights). */
static void gc_bindings(struct rec *rc, int64_t now, char **live, size_t n_live)
{
    static const char *kinds[] = {"RoleBinding", "ClusterRoleBinding"};
    struct error err = {0};
    for (size_t k = 0; k < 2; k++) {
        json_t *list = NULL;
        size_t i;
        json_t *b;
        if (kube_list(rc->kube, "rbac.authorization.k8s.io/v1", kinds[k], NULL, OURS, &list,
                      &err)) {
            log_warn("gc: cannot list bindings", "kind=%s error=\"%s\"", kinds[k], err.message);
            continue;
        }
        json_array_foreach(json_object_get(list, "items"), i, b)
        {
            const char *name = meta_str(b, "name");
            const char *ns = meta_str(b, "namespace");
            if (!name || meta_str(b, "deletionTimestamp"))
                continue;
            if (k == 0 && (!ns || in_list(live, n_live, ns)))
                continue;
            if (k == 0 && !live)
                continue; /* namespace view unknown: do nothing */
            delete_orphan(rc, now, "rbac.authorization.k8s.io/v1", kinds[k], b, NULL, kinds[k],
                          "gc.binding.delete");
        }
        json_decref(list);
    }
}

/* PersistentVolumes labelled ours (the node cache's store, one per session) whose booking no
 * longer holds its namespace. Reclaim policy Retain: the node's files are never touched. */
static bool volume_live(struct rec *rc, json_t *pv)
{
    const char *claim_ns = json_string_value(
        json_object_get(json_object_get(json_object_get(pv, "spec"), "claimRef"), "namespace"));
    return booking_holds(rc, label(pv, SESSION_LABEL_RESERVATION), claim_ns);
}

static void gc_volumes(struct rec *rc, int64_t now)
{
    struct error err = {0};
    json_t *list = NULL;
    size_t i;
    json_t *pv;
    if (kube_list(rc->kube, "v1", "PersistentVolume", NULL, OURS, &list, &err)) {
        log_warn("gc: cannot list persistent volumes", "error=\"%s\"", err.message);
        return;
    }
    json_array_foreach(json_object_get(list, "items"), i, pv)
    {
        const char *name = meta_str(pv, "name");
        if (!name || meta_str(pv, "deletionTimestamp") || volume_live(rc, pv))
            continue;
        delete_orphan(rc, now, "v1", "PersistentVolume", pv, NULL, "persistentvolume",
                      "gc.volume.delete");
    }
    json_decref(list);
}

/* Reads the Nodes, compares them with the declared layout (src/core/advertised.c: GPU
 * allocatable is trusted only when nvidia.com/mig.config.state is success) and publishes the
 * result under kv "advertised" when it changed; the server admits no more than it says. */
static void observe_drift(struct rec *rc, int64_t now)
{
    struct error err = {0};
    json_t *list = NULL, *out = NULL;
    char *text = NULL, *full = NULL;
    struct adv_report *rep = calloc(1, sizeof(*rep));
    struct pool pool = rc->pool;
    if (!rep)
        goto out;
    if (kube_list(rc->kube, "v1", "Node", NULL, NULL, &list, &err)) {
        log_warn("cannot list nodes", "error=\"%s\"", err.message);
        goto out;
    }
    if (adv_check(rc->cfg, list, &pool, rep, &err) < 0) {
        log_warn("cannot compare nodes with the pool", "error=\"%s\"", err.message);
        goto out;
    }
    out = adv_to_json(rep, &pool, 0);
    text = out ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!text)
        goto out;
    if (rc->advertised && !strcmp(rc->advertised, text))
        goto out;
    json_object_set_new(out, "observed_at", json_integer(now));
    full = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    if (full && store_kv_set(rc->st, REC_KV_ADVERTISED, full, now) == 0) {
        free(rc->advertised);
        rc->advertised = text;
        text = NULL;
        for (int i = 0; i < pool.n; i++)
            if (pool_is_gpu(&pool.res[i]) && pool.res[i].advertised < pool.res[i].physical)
                log_warn("cluster advertises less than configured",
                         "resource=%s configured=%d advertised=%d", pool.res[i].name,
                         pool.res[i].physical, pool.res[i].advertised);
        log_info("published advertised capacity", "advertised=%s", full);
    }
out:
    free(rep);
    json_decref(out);
    free(text);
    free(full);
    json_decref(list);
}

int rec_gc(struct rec *rc, int64_t now)
{
    char **live = NULL;
    size_t n_live = 0;
    gc_namespaces(rc, now, &live, &n_live);
    gc_bindings(rc, now, live, n_live);
    gc_volumes(rc, now);
    for (size_t i = 0; i < n_live; i++)
        free(live[i]);
    free(live);
    observe_drift(rc, now);
    return 0;
}
