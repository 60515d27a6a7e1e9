/* Pod fates: what the simulated kubelet and scheduler make of a pod. By default a pod becomes
 * Running and Ready; a rule (POST /_sim/pods, or --pod-fate with the same JSON) matching the
 * pod's namespace or one of its containers' images makes it instead
 *   "pull"          Pending, its container waiting in ImagePullBackOff with the image named;
 *   "crash"         Running, its container restarting in CrashLoopBackOff, lastState.terminated
 *                   with the rule's exit_code (default 1), restartCount counting up;
 *   "unschedulable" Pending, PodScheduled=False reason Unschedulable with the scheduler's
 *                   message (the rule's message, or a 0/1 nodes are available sentence);
 *   "ignore-sigterm" Running and Ready, but its containers ignore SIGTERM: deleted (by a DELETE
 *                   or by the namespace controller), the pod stays with
 *                   metadata.deletionTimestamp and deletionGracePeriodSeconds (the DELETE's
 *                   gracePeriodSeconds, else its spec.terminationGracePeriodSeconds, default
 *                   30) until that grace has passed (the kubelet's SIGKILL); a DELETE with
 *                   gracePeriodSeconds 0 removes it at once. Its namespace stays Terminating
 *                   until it is gone.
 * The status fields are the ones a real kubelet and scheduler write (core/v1 PodStatus). A rule
 * also applies to the pods that exist when it is added, so a running workspace can start to
 * crash. DELETE /_sim/pods removes every rule (existing pods become ready again). --pod-fate
 * takes one rule or an array of them. */
#include "kubesim/sim_internal.h"

#include <limits.h>

#define CRASH_RESTART_MS 1000 /* the simulated back-off between two crashes */
#define DEFAULT_GRACE_S 30    /* core/v1 PodSpec terminationGracePeriodSeconds */

static int valid_fate(const char *f)
{
    return f && (!strcmp(f, "pull") || !strcmp(f, "crash") || !strcmp(f, "unschedulable") ||
                 !strcmp(f, "ready") || !strcmp(f, "ignore-sigterm"));
}

/* The rule for pod p, or NULL (ready). A namespace rule wins over an image rule; the last
 * rule added wins among equals. */
static json_t *fate_of(struct ksim *k, json_t *p, const char *ns)
{
    json_t *by_image = NULL, *by_ns = NULL;
    size_t i, j;
    json_t *rule, *c;
    json_array_foreach(k->pod_fates, i, rule)
    {
        const char *rns = json_string_value(json_object_get(rule, "namespace"));
        const char *img = json_string_value(json_object_get(rule, "image"));
        if (rns && !strcmp(rns, ns))
            by_ns = rule;
        if (!img)
            continue;
        json_array_foreach(json_object_get(json_object_get(p, "spec"), "containers"), j, c)
        {
            const char *ci = json_string_value(json_object_get(c, "image"));
            if (ci && !strcmp(ci, img))
                by_image = rule;
        }
    }
    json_t *r = by_ns ? by_ns : by_image;
    const char *f = json_string_value(json_object_get(r, "fate"));
    return f && strcmp(f, "ready") ? r : NULL;
}

static void condition(json_t *conds, const char *type, const char *status, const char *reason,
                      const char *message, const char *ts)
{
    json_t *c = json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", status, "lastProbeTime",
                          "lastTransitionTime", ts);
    if (reason)
        json_object_set_new(c, "reason", json_string(reason));
    if (message)
        json_object_set_new(c, "message", json_string(message));
    json_array_append_new(conds, c);
}

/* Conditions of a scheduled pod whose containers are not ready. */
static json_t *not_ready_conditions(const char *ts, const char *cname)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "containers with unready status: [%s]", cname);
    json_t *conds = json_array();
    condition(conds, "PodReadyToStartContainers", "True", NULL, NULL, ts);
    condition(conds, "Initialized", "True", NULL, NULL, ts);
    condition(conds, "Ready", "False", "ContainersNotReady", msg, ts);
    condition(conds, "ContainersReady", "False", "ContainersNotReady", msg, ts);
    condition(conds, "PodScheduled", "True", NULL, NULL, ts);
    return conds;
}

int ks_pod_fate_apply(struct ksim *k, const char *ns, const char *name)
{
    json_t *p = ks_lookup(k, ks_rtype_by_name("pods"), ns, name);
    json_t *rule = p ? fate_of(k, p, ns) : NULL;
    if (!rule)
        return 0;
    const char *fate = json_string_value(json_object_get(rule, "fate"));
    if (!strcmp(fate, "ignore-sigterm"))
        return 0; /* runs and is ready; only its deletion differs */
    json_t *spec = json_object_get(p, "spec");
    json_t *c0 = json_array_get(json_object_get(spec, "containers"), 0);
    const char *cname = json_string_value(json_object_get(c0, "name"));
    const char *image = json_string_value(json_object_get(c0, "image"));
    cname = cname ? cname : "";
    image = image ? image : "";
    json_t *old = json_object_get(p, "status");
    char ts[RFC3339_LEN];
    ks_now_rfc3339(ts);
    const char *start = json_string_value(json_object_get(old, "startTime"));
    json_t *st = json_pack("{s:s, s:s}", "qosClass", "Guaranteed", "startTime", start ? start : ts);
    int again_ms = 0;
    if (!strcmp(fate, "unschedulable")) {
        const char *m = json_string_value(json_object_get(rule, "message"));
        json_t *conds = json_array();
        condition(conds, "PodScheduled", "False", "Unschedulable",
                  m ? m
                    : "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. preemption: 0/1 "
                      "nodes are available: 1 No preemption victims found for incoming pod.",
                  ts);
        json_object_set_new(st, "phase", json_string("Pending"));
        json_object_set_new(st, "conditions", conds);
        json_object_del(spec, "nodeName");
    } else {
        if (json_is_object(spec))
            json_object_set_new(spec, "nodeName", json_string("kubesim-node"));
        json_object_set_new(st, "hostIP", json_string("192.168.0.10"));
        json_object_set_new(st, "podIP", json_string("10.244.0.10"));
        json_object_set_new(st, "conditions", not_ready_conditions(ts, cname));
        json_t *cs = json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", cname, "image", image,
                               "imageID", "", "ready", 0, "started", 0);
        if (!strcmp(fate, "pull")) {
            char msg[600];
            snprintf(msg, sizeof(msg), "Back-off pulling image \"%s\"", image);
            json_object_set_new(st, "phase", json_string("Pending"));
            json_object_set_new(cs, "restartCount", json_integer(0));
            json_object_set_new(cs, "state",
                                json_pack("{s:{s:s, s:s}}", "waiting", "reason", "ImagePullBackOff",
                                          "message", msg));
            json_object_set_new(cs, "lastState", json_object());
        } else { /* crash */
            json_t *ocs = json_array_get(json_object_get(old, "containerStatuses"), 0);
            json_int_t restarts = json_integer_value(json_object_get(ocs, "restartCount")) + 1;
            json_t *code = json_object_get(rule, "exit_code");
            char msg[600], cid[80];
            snprintf(msg, sizeof(msg), "back-off 10s restarting failed container=%s pod=%s_%s(%s)",
                     cname, name, ns, ks_mstr(p, "uid") ? ks_mstr(p, "uid") : "");
            snprintf(cid, sizeof(cid), "containerd://%016llx", (unsigned long long)restarts);
            json_object_set_new(st, "phase", json_string("Running"));
            json_object_set_new(cs, "imageID", json_string(image));
            json_object_set_new(cs, "containerID", json_string(cid));
            json_object_set_new(cs, "restartCount", json_integer(restarts));
            json_object_set_new(cs, "state",
                                json_pack("{s:{s:s, s:s}}", "waiting", "reason", "CrashLoopBackOff",
                                          "message", msg));
            json_object_set_new(cs, "lastState",
                                json_pack("{s:{s:I, s:s, s:s, s:s, s:s}}", "terminated", "exitCode",
                                          (json_int_t)(code ? json_integer_value(code) : 1),
                                          "reason", "Error", "startedAt", ts, "finishedAt", ts,
                                          "containerID", cid));
            again_ms = CRASH_RESTART_MS;
        }
        json_object_set_new(st, "containerStatuses", json_pack("[o]", cs));
    }
    json_object_set_new(p, "status", st);
    ks_set_rv(k, p);
    ks_emit(k, ks_rtype_by_name("pods"), ns, "MODIFIED", p);
    if (again_ms)
        ks_add_task(k, T_POD_READY, ns, name, again_ms);
    return 1;
}

static bool ignores_sigterm(struct ksim *k, json_t *p, const char *ns)
{
    const char *f = json_string_value(json_object_get(fate_of(k, p, ns), "fate"));
    return f && !strcmp(f, "ignore-sigterm");
}

/* Deletes pod ns/name as the API server and kubelet do; grace_s < 0 = the pod's own
 * spec.terminationGracePeriodSeconds. A pod stops at once on SIGTERM unless its fate is
 * "ignore-sigterm": that one stays, marked with deletionTimestamp and
 * deletionGracePeriodSeconds, until the grace has passed (T_POD_KILL), or until a delete with
 * grace 0. When a pod of a Terminating namespace goes, the namespace controller runs again.
 * Returns 1 while the pod is still present, 0 when it is gone. */
int ks_pod_delete(struct ksim *k, const char *ns, const char *name, long grace_s)
{
    const struct rtype *prt = ks_rtype_by_name("pods");
    json_t *p = ks_lookup(k, prt, ns, name);
    if (!p)
        return 0;
    json_t *m = ks_meta(p);
    if (grace_s != 0 && ignores_sigterm(k, p, ns)) {
        const char *del = json_string_value(json_object_get(m, "deletionTimestamp"));
        if (del) {
            int64_t since = 0;
            json_int_t g = json_integer_value(json_object_get(m, "deletionGracePeriodSeconds"));
            if (time_parse_rfc3339(del, &since) == 0 && since + g > time_now())
                return 1;
        } else {
            if (grace_s < 0) {
                json_t *g =
                    json_object_get(json_object_get(p, "spec"), "terminationGracePeriodSeconds");
                grace_s = json_is_integer(g) && json_integer_value(g) >= 0
                              ? (long)json_integer_value(g)
                              : DEFAULT_GRACE_S;
            }
            if (grace_s > 0) {
                char ts[RFC3339_LEN];
                ks_now_rfc3339(ts);
                json_object_set_new(m, "deletionTimestamp", json_string(ts));
                json_object_set_new(m, "deletionGracePeriodSeconds", json_integer(grace_s));
                ks_set_rv(k, p);
                ks_emit(k, prt, ns, "MODIFIED", p);
                ks_add_task(k, T_POD_KILL, ns, name,
                            grace_s < INT_MAX / 1000 ? (int)grace_s * 1000 : INT_MAX);
                return 1;
            }
        }
    }
    ks_remove_object(k, prt, ns, name);
    json_t *nso = ks_lookup(k, &rtypes[0], "", ns);
    if (nso && ks_ns_terminating(nso))
        ks_add_task(k, T_NS_DELETE, "", ns, 0);
    return 0;
}

/* The kubelet's SIGKILL once a Terminating pod's grace has passed. */
void ks_pod_kill(struct ksim *k, const char *ns, const char *name)
{
    json_t *p = ks_lookup(k, ks_rtype_by_name("pods"), ns, name);
    if (!p || !json_object_get(ks_meta(p), "deletionTimestamp"))
        return;
    if (ks_pod_delete(k, ns, name, -1))
        ks_add_task(k, T_POD_KILL, ns, name, 1000); /* the timestamp's second not yet over */
}

/* Re-runs the kubelet for every pod of namespace ns ("" = all). */
static void recheck_pods(struct ksim *k, const char *ns)
{
    const char *key;
    json_t *pod;
    json_object_foreach(ks_bucket(k, ks_rtype_by_name("pods")), key, pod)
    {
        const char *pns = ks_mstr(pod, "namespace");
        if (pns && (!*ns || !strcmp(pns, ns)))
            ks_add_task(k, T_POD_READY, pns, ks_mstr(pod, "name"), 0);
    }
}

int ks_pod_fate_add(struct ksim *k, json_t *rule, char *msg, size_t n)
{
    const char *fate = json_string_value(json_object_get(rule, "fate"));
    const char *ns = json_string_value(json_object_get(rule, "namespace"));
    const char *img = json_string_value(json_object_get(rule, "image"));
    json_t *code = json_object_get(rule, "exit_code");
    json_t *m = json_object_get(rule, "message");
    if (!json_is_object(rule) || !valid_fate(fate) || (!ns) == (!img) ||
        (code && !json_is_integer(code)) || (m && !json_is_string(m))) {
        snprintf(msg, n,
                 "expected {\"fate\":\"pull|crash|unschedulable|ignore-sigterm|ready\", and "
                 "\"namespace\":NS or "
                 "\"image\":IMAGE, optional \"exit_code\":N, \"message\":S}");
        return -1;
    }
    if (!k->pod_fates)
        k->pod_fates = json_array();
    json_array_append(k->pod_fates, rule);
    recheck_pods(k, ns ? ns : "");
    return 0;
}

void ks_pod_fates_clear(struct ksim *k)
{
    json_array_clear(k->pod_fates);
    recheck_pods(k, "");
}

int ksim_pod_fate_add(struct ksim *k, const char *json, char *msg, size_t n)
{
    json_error_t je;
    json_t *rules = json_loads(json, 0, &je);
    int rc = 0;
    pthread_mutex_lock(&k->mu);
    if (json_is_array(rules)) {
        size_t i;
        json_t *rule;
        json_array_foreach(rules, i, rule) if ((rc = ks_pod_fate_add(k, rule, msg, n))) break;
    } else {
        rc = ks_pod_fate_add(k, rules, msg, n);
    }
    pthread_mutex_unlock(&k->mu);
    json_decref(rules);
    return rc;
}
