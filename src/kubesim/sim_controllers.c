/* The simulated controllers: Deployment -> ReplicaSet -> Pod, pod readiness, namespace
 * deletion, Route admission, run from ksim_tick(). */
#include "kubesim/sim_internal.h"

#include "common/json_find.h"

void ks_after_write(struct ksim *k, const struct rtype *rt, const char *ns, json_t *obj,
                    int created)
{
    const char *res = rt->resource;
    const char *name = ks_mstr(obj, "name");
    if (!strcmp(res, "resourcequotas")) {
        ks_add_task(k, T_QUOTA, ns, name, k->opt.quota_delay_ms);
    } else if (!strcmp(res, "deployments")) {
        ks_add_task(k, T_DEPLOY, ns, name, 0);
    } else if (!strcmp(res, "pods") && created) {
        ks_add_task(k, T_POD_READY, ns, name, k->opt.pod_ready_delay_ms);
        json_t *st = json_object_get(obj, "status");
        if (!json_is_object(st) || !json_object_get(st, "phase")) {
            char ts[RFC3339_LEN];
            ks_now_rfc3339(ts);
            json_object_set_new(obj, "status",
                                json_pack("{s:s, s:s}", "phase", "Pending", "startTime", ts));
        }
    } else if (!strcmp(res, "routes") && created) {
        ks_route_admit(k, obj, ns);
    } else if (!strcmp(res, "services") && created) {
        json_t *spec = json_object_get(obj, "spec");
        if (json_is_object(spec) && !json_object_get(spec, "clusterIP")) {
            char ip[32];
            snprintf(ip, sizeof(ip), "10.96.%u.%u", (unsigned)(k->rv / 250) % 250,
                     (unsigned)(k->rv % 250) + 1);
            json_object_set_new(spec, "clusterIP", json_string(ip));
            json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
        }
        if (json_is_object(spec) && !json_object_get(spec, "type"))
            json_object_set_new(spec, "type", json_string("ClusterIP"));
        json_object_set_new(obj, "status", json_pack("{s:{}}", "loadBalancer"));
    } else if (!strcmp(res, "persistentvolumeclaims") && created) {
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Bound"));
    } else if (!strcmp(res, "ingresses") && created) {
        json_object_set_new(
            obj, "status",
            json_pack("{s:{s:[{s:s}]}}", "loadBalancer", "ingress", "ip", "127.0.0.1"));
    } else if (!strcmp(res, "httproutes") && created) {
        ks_httproute_accept(obj);
    } else if (!strcmp(res, "namespaces") && created) {
        json_t *sa = json_pack("{s:{s:s}}", "metadata", "name", "default");
        ks_do_create(k, ks_rtype_by_name("serviceaccounts"), name, sa, NULL, NULL, 0);
        json_decref(sa);
    }
    if (rt->namespaced) {
        if (ks_quota_tracks(res) && strcmp(res, "resourcequotas"))
            ks_quota_refresh(k, ns, NULL, 0);
    }
}

static uint32_t fnv(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static void set_condition(json_t *status, const char *type, const char *st, const char *reason,
                          const char *message)
{
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(status, "conditions", conds);
    }
    char ts[RFC3339_LEN];
    ks_now_rfc3339(ts);
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, type)) {
            const char *old = json_string_value(json_object_get(c, "status"));
            if (!old || strcmp(old, st))
                json_object_set_new(c, "lastTransitionTime", json_string(ts));
            json_object_set_new(c, "status", json_string(st));
            json_object_set_new(c, "reason", json_string(reason));
            json_object_set_new(c, "message", json_string(message));
            json_object_set_new(c, "lastUpdateTime", json_string(ts));
            return;
        }
    }
    json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status",
                                           st, "reason", reason, "message", message,
                                           "lastTransitionTime", ts, "lastUpdateTime", ts));
}

static void remove_condition(json_t *status, const char *type)
{
    json_t *conds = json_object_get(status, "conditions");
    for (size_t i = 0; i < json_array_size(conds); i++) {
        const char *t = json_string_value(json_object_get(json_array_get(conds, i), "type"));
        if (t && !strcmp(t, type)) {
            json_array_remove(conds, i);
            return;
        }
    }
}

static void deploy_sync(struct ksim *k, const char *ns, const char *name)
{
    const struct rtype *drt = ks_rtype_by_name("deployments"), *prt = ks_rtype_by_name("pods");
    json_t *d = ks_lookup(k, drt, ns, name);
    if (!d || json_object_get(ks_meta(d), "deletionTimestamp"))
        return;
    json_t *spec = json_object_get(d, "spec");
    json_t *replicas_v = json_object_get(spec, "replicas");
    int replicas = replicas_v ? (int)json_integer_value(replicas_v) : 1;
    json_t *tmpl = json_object_get(spec, "template");
    char *tdump = json_dumps(tmpl, JSON_COMPACT | JSON_SORT_KEYS);
    char hash[16];
    snprintf(hash, sizeof(hash), "%08x", tdump ? fnv(tdump) : 0);
    free(tdump);
    const char *uid = ks_mstr(d, "uid");
    int current = 0, ready = 0;
    char stale[64][MAX_NAME + 1];
    int nstale = 0;
    const char *key;
    json_t *pod;
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", ns);
    json_object_foreach(ks_bucket(k, prt), key, pod)
    {
        if (strncmp(key, prefix, strlen(prefix)))
            continue;
        json_t *ref = json_array_get(json_object_get(ks_meta(pod), "ownerReferences"), 0);
        const char *ru = json_string_value(json_object_get(ref, "uid"));
        if (!ru || strcmp(ru, uid))
            continue;
        const char *ph = json_string_value(
            json_object_get(json_object_get(ks_meta(pod), "labels"), "pod-template-hash"));
        if (!ph || strcmp(ph, hash) || current >= replicas) {
            if (nstale < 64)
                snprintf(stale[nstale++], MAX_NAME + 1, "%s", ks_mstr(pod, "name"));
            continue;
        }
        current++;
        /* available = the pod's Ready condition (a crash-looping pod runs but is not ready) */
        json_t *rc = json_find_by(json_object_get(json_object_get(pod, "status"), "conditions"),
                                  "type", "Ready");
        const char *rs = json_string_value(json_object_get(rc, "status"));
        if (rs && !strcmp(rs, "True"))
            ready++;
    }
    for (int i = 0; i < nstale; i++)
        ks_remove_object(k, prt, ns, stale[i]);
    char failure[1024] = "";
    for (; current < replicas; current++) {
        json_t *p = json_object();
        json_t *pm = json_deep_copy(json_object_get(tmpl, "metadata"));
        if (!json_is_object(pm)) {
            json_decref(pm);
            pm = json_object();
        }
        char pname[MAX_NAME + 1], suf[8];
        ks_rand_suffix(k, suf, 5);
        snprintf(pname, sizeof(pname), "%.200s-%s-%s", name, hash, suf);
        json_object_set_new(pm, "name", json_string(pname));
        json_t *labels = json_object_get(pm, "labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(pm, "labels", labels);
        }
        json_object_set_new(labels, "pod-template-hash", json_string(hash));
        json_object_set_new(pm, "ownerReferences",
                            json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", "apps/v1",
                                      "kind", "Deployment", "name", name, "uid", uid, "controller",
                                      1, "blockOwnerDeletion", 1));
        json_object_set_new(p, "metadata", pm);
        json_t *pspec = json_deep_copy(json_object_get(tmpl, "spec"));
        json_object_set_new(p, "spec", pspec ? pspec : json_object());
        struct ksim_response scratch = {0};
        int rc = ks_do_create(k, prt, ns, p, &scratch, failure, sizeof(failure));
        if (rc && !failure[0] && scratch.body)
            snprintf(failure, sizeof(failure), "%s", scratch.body);
        ksim_response_free(&scratch);
        json_decref(p);
        if (rc)
            break;
        failure[0] = '\0';
    }
    json_t *nd = json_deep_copy(d);
    json_t *st = json_object_get(nd, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(nd, "status", st);
    }
    json_object_set(st, "observedGeneration", json_object_get(ks_meta(d), "generation"));
    json_object_set_new(st, "replicas", json_integer(current));
    json_object_set_new(st, "updatedReplicas", json_integer(current));
    json_object_set_new(st, "readyReplicas", json_integer(ready));
    json_object_set_new(st, "availableReplicas", json_integer(ready));
    json_object_set_new(st, "unavailableReplicas",
                        json_integer(replicas > ready ? replicas - ready : 0));
    if (ready >= replicas)
        set_condition(st, "Available", "True", "MinimumReplicasAvailable",
                      "Deployment has minimum availability.");
    else
        set_condition(st, "Available", "False", "MinimumReplicasUnavailable",
                      "Deployment does not have minimum availability.");
    set_condition(st, "Progressing", "True",
                  ready >= replicas ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                  ready >= replicas ? "ReplicaSet has successfully progressed."
                                    : "ReplicaSet is progressing.");
    if (failure[0]) {
        set_condition(st, "ReplicaFailure", "True", "FailedCreate", failure);
        ks_add_task(k, T_DEPLOY, ns, name, 500);
    } else {
        remove_condition(st, "ReplicaFailure");
    }
    /* status-only change: keep generation */
    json_t *old_status = json_object_get(d, "status");
    if (json_equal(old_status, st)) {
        json_decref(nd);
        return;
    }
    ks_set_rv(k, nd);
    char okey[400];
    ks_obj_key(ns, name, okey, sizeof(okey));
    json_object_set_new(ks_bucket(k, drt), okey, nd);
    ks_emit(k, drt, ns, "MODIFIED", nd);
}

static void pod_ready(struct ksim *k, const char *ns, const char *name)
{
    const struct rtype *prt = ks_rtype_by_name("pods");
    json_t *p = ks_lookup(k, prt, ns, name);
    if (!p)
        return;
    if (ks_pod_fate_apply(k, ns, name)) {
        /* not ready: the Deployment's status follows */
        json_t *ref = json_array_get(json_object_get(ks_meta(p), "ownerReferences"), 0);
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        if (kind && !strcmp(kind, "Deployment"))
            ks_add_task(k, T_DEPLOY, ns, json_string_value(json_object_get(ref, "name")), 0);
        return;
    }
    json_t *st = json_object_get(p, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(p, "status", st);
    }
    /* a pod recovering from a fate starts from a clean status */
    json_object_del(st, "containerStatuses");
    json_object_del(st, "conditions");
    json_object_set_new(st, "phase", json_string("Running"));
    json_object_set_new(st, "podIP", json_string("10.244.0.10"));
    json_object_set_new(st, "hostIP", json_string("192.168.0.10"));
    set_condition(st, "PodScheduled", "True", "", "");
    set_condition(st, "Initialized", "True", "", "");
    set_condition(st, "ContainersReady", "True", "", "");
    set_condition(st, "Ready", "True", "", "");
    json_t *cs = json_array();
    size_t i;
    json_t *c;
    char ts[RFC3339_LEN];
    ks_now_rfc3339(ts);
    json_array_foreach(json_object_get(json_object_get(p, "spec"), "containers"), i, c)
        json_array_append_new(cs, json_pack("{s:O?, s:O?, s:s, s:b, s:b, s:i, s:{s:{s:s}}}", "name",
                                            json_object_get(c, "name"), "image",
                                            json_object_get(c, "image"), "imageID", "", "ready", 1,
                                            "started", 1, "restartCount", 0, "state", "running",
                                            "startedAt", ts));
    json_object_set_new(st, "containerStatuses", cs);
    if (!json_object_get(json_object_get(p, "spec"), "nodeName") &&
        json_is_object(json_object_get(p, "spec")))
        json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string("kubesim-node"));
    ks_set_rv(k, p);
    ks_emit(k, prt, ns, "MODIFIED", p);
    json_t *ref = json_array_get(json_object_get(ks_meta(p), "ownerReferences"), 0);
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    if (kind && !strcmp(kind, "Deployment"))
        ks_add_task(k, T_DEPLOY, ns, json_string_value(json_object_get(ref, "name")), 0);
}

void ks_ns_finish(struct ksim *k, const char *name)
{
    json_t *nso = ks_lookup(k, &rtypes[0], "", name);
    if (!nso || !ks_ns_terminating(nso))
        return;
    json_t *spec_fin = json_object_get(json_object_get(nso, "spec"), "finalizers");
    if (json_array_size(spec_fin) == 0 && !ks_has_finalizers(nso))
        ks_remove_object(k, &rtypes[0], "", name);
}

static void ns_delete(struct ksim *k, const char *name)
{
    json_t *nso = ks_lookup(k, &rtypes[0], "", name);
    if (!nso || !ks_ns_terminating(nso))
        return;
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "%s/", name);
    const struct rtype *prt = ks_rtype_by_name("pods");
    int pods_left = 0;
    for (size_t t = 0; t < NRTYPES; t++) {
        if (!rtypes[t].namespaced)
            continue;
        /* a pod that ignores SIGTERM stays Terminating (ks_pod_delete): skip the ones seen */
        json_t *seen = json_object();
        for (;;) {
            const char *key;
            json_t *obj;
            char victim[MAX_NAME + 1] = "";
            json_object_foreach(ks_bucket(k, &rtypes[t]), key, obj)
            {
                if (!strncmp(key, prefix, strlen(prefix)) && !json_object_get(seen, key)) {
                    snprintf(victim, sizeof(victim), "%s", ks_mstr(obj, "name"));
                    json_object_set_new(seen, key, json_true());
                    break;
                }
            }
            if (!victim[0])
                break;
            if (&rtypes[t] != prt)
                ks_remove_object(k, &rtypes[t], name, victim);
            else
                ks_pod_delete(k, name, victim, -1);
        }
        json_decref(seen);
    }
    const char *pkey;
    json_t *pod;
    json_object_foreach(ks_bucket(k, prt), pkey, pod) pods_left +=
        !strncmp(pkey, prefix, strlen(prefix));
    if (pods_left)
        return; /* runs again when the last pod is gone */
    /* the namespace controller removes its own finalizer */
    json_t *spec_fin = json_object_get(json_object_get(nso, "spec"), "finalizers");
    for (size_t i = 0; i < json_array_size(spec_fin); i++) {
        if (!strcmp(json_string_value(json_array_get(spec_fin, i)) ?: "", "kubernetes")) {
            json_array_remove(spec_fin, i);
            ks_set_rv(k, nso);
            ks_emit(k, &rtypes[0], "", "MODIFIED", nso);
            break;
        }
    }
    ks_ns_finish(k, name);
}

static void run_task(struct ksim *k, const struct task *t)
{
    switch (t->type) {
    case T_QUOTA:
        ks_quota_refresh(k, t->ns, t->name, 1);
        break;
    case T_NS_DELETE:
        ns_delete(k, t->name);
        break;
    case T_POD_READY:
        pod_ready(k, t->ns, t->name);
        break;
    case T_DEPLOY:
        deploy_sync(k, t->ns, t->name);
        break;
    case T_POD_KILL:
        ks_pod_kill(k, t->ns, t->name);
        break;
    }
}

int ksim_tick(struct ksim *k, int64_t now_ms)
{
    pthread_mutex_lock(&k->mu);
    k->now_ms = now_ms;
    /* Take the due tasks out first: running them may add new ones. Duplicate requests for
     * the same object collapse into one run. */
    struct task *due = NULL;
    size_t ndue = 0;
    if (k->ntasks)
        due = malloc(k->ntasks * sizeof(*due));
    for (size_t i = 0; due && i < k->ntasks;) {
        if (k->tasks[i].due > now_ms) {
            i++;
            continue;
        }
        int dup = 0;
        for (size_t j = ndue; j-- > 0 && j + 64 > ndue;)
            if (due[j].type == k->tasks[i].type && !strcmp(due[j].ns, k->tasks[i].ns) &&
                !strcmp(due[j].name, k->tasks[i].name))
                dup = 1;
        if (!dup)
            due[ndue++] = k->tasks[i];
        k->tasks[i] = k->tasks[--k->ntasks];
    }
    for (size_t i = 0; i < ndue; i++)
        run_task(k, &due[i]);
    free(due);
    int64_t next = now_ms + 1000;
    for (size_t i = 0; i < k->ntasks; i++)
        if (k->tasks[i].due < next)
            next = k->tasks[i].due;
    pthread_mutex_unlock(&k->mu);
    int64_t d = next - now_ms;
    return d < 1 ? 1 : (int)d;
}
